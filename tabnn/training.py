"""The one training engine shared by every neural estimator.

Batches are drawn by index from tensors that already live on the device: no DataLoader, no
per-row Python. The engine owns the loss, the optimizer (AdamW), gradient clipping, learning-rate
decay on plateaus, early stopping with best-weights restore, bfloat16 mixed precision (on CUDA
and on CPUs with native bfloat16), seeding,
progress output and the per-epoch history.
"""

from __future__ import annotations

import copy
import functools
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "TASKS",
    "TrainingConfig",
    "predict_network",
    "resolve_device",
    "resolve_mixed_precision",
    "train_network",
]

TASKS = ("binary", "multiclass", "regression")


def resolve_device(device):
    """Turn ``"auto"`` / ``"cpu"`` / ``"cuda[:i]"`` / a ``torch.device`` into a torch.device."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available.")
    return device


@dataclass
class TrainingConfig:
    """Settings of one training run (built by the estimators from their parameters)."""

    task: str
    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    embedding_l2: float = 0.0
    n_iter_no_change: int = 2
    tol: float = 1e-4
    lr_decay: float = 0.1
    grad_clip: float = 10.0
    device: torch.device = torch.device("cpu")
    mixed_precision: bool = False
    verbose: int = 0


def _loss(task, logits, y, w, total_weight=None):
    """Weighted mean loss; ``total_weight`` (default ``w.sum()``) lets shards of one batch
    each return their part of the batch mean."""
    if task == "binary":
        per_row = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y, reduction="none")
    elif task == "multiclass":
        per_row = F.cross_entropy(logits, y, reduction="none")
    else:
        per_row = (logits.squeeze(-1) - y) ** 2
    total = w.sum() if total_weight is None else total_weight
    return (per_row * w).sum() / total.clamp_min(torch.finfo(w.dtype).tiny)


def _embedding_penalty(network):
    tables = network.embedding_tables() if hasattr(network, "embedding_tables") else []
    return sum((t.float() ** 2).sum() for t in tables) * 0.5


def _batches(n, batch_size, generator=None, device=None):
    order = (
        torch.randperm(n, generator=generator, device="cpu").to(device)
        if generator is not None
        else torch.arange(n, device=device)
    )
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


#: fewest rows a CPU worker thread gets: below this, splitting a batch costs more than it saves
MIN_SHARD_ROWS = 256


class _Workers:
    """Threads that each run PyTorch with one intra-op thread, for data parallelism on CPU.

    A batch of a few thousand rows through small per-row matrices (attention over a few dozen
    fields) keeps two or more cores far busier split by rows, one shard per thread, than with
    each small operation split across threads (measured: intra-op threads bring ~1.1x on two
    cores). Results come back in submission order, so reductions over shards are
    deterministic. ``n == 1`` runs inline.
    """

    def __init__(self, n):
        self.n = int(n)
        self._pool = None
        if self.n > 1:
            main_threads = torch.get_num_threads()
            ready = threading.Barrier(self.n)

            def single_threaded(_):
                torch.set_num_threads(1)
                ready.wait()  # every task on its own thread

            self._pool = ThreadPoolExecutor(self.n, thread_name_prefix="tabnn-worker")
            list(self._pool.map(single_threaded, range(self.n)))
            # set_num_threads also sets the default of threads started later: restore it
            torch.set_num_threads(main_threads)

    def map(self, fn, items):
        if self._pool is None:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _has_dropout(network):
    return any(isinstance(m, nn.Dropout) and m.p > 0 for m in network.modules())


def cpu_workers(device, n_rows, network=None):
    """Number of worker threads for ``n_rows`` rows of one step on ``device``.

    One per torch thread on CPU, each with at least :data:`MIN_SHARD_ROWS` rows; 1 on CUDA,
    and 1 for a training network with dropout (concurrent draws from the global random
    generator would make the masks depend on thread timing).
    """
    if device.type != "cpu":
        return 1
    if network is not None and _has_dropout(network):
        return 1
    return max(1, min(torch.get_num_threads(), n_rows // MIN_SHARD_ROWS))


@functools.lru_cache(maxsize=1)
def _cpu_has_bf16():
    """Whether this CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_mixed_precision(setting, device, dtype):
    """Decide whether to run matmuls in bfloat16 (autocast) for ``setting`` on ``device``.

    ``"auto"``: on CUDA, and on CPUs with native bfloat16 instructions, where it is 2-3x faster
    than float32; never for a float64 network.
    """
    if dtype == torch.float64 or setting is False:
        return False
    if setting is True:
        return True
    return device.type == "cuda" or (device.type == "cpu" and _cpu_has_bf16())


def _autocast(device, enabled):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(enabled))


def predict_network(network, inputs, batch_size, device=None, mixed_precision=False):
    """Run ``network`` in evaluation mode over ``inputs`` in batches; returns float64 logits.

    On CPU, batches are spread over worker threads (see :func:`cpu_workers`).
    """
    network.eval()
    device = device or next(network.parameters()).device
    n = inputs[0].shape[0]
    starts = range(0, n, batch_size)

    @torch.no_grad()
    def run(start):
        batch = [t[start : start + batch_size].to(device, non_blocking=True) for t in inputs]
        with _autocast(device, mixed_precision):
            return network(*batch).double().cpu()

    n_workers = min(cpu_workers(device, n), len(starts))
    with _Workers(n_workers) as workers:
        outs = workers.map(run, starts)
    return torch.cat(outs).numpy()


def _evaluate(network, inputs, y, w, config):
    logits = torch.as_tensor(predict_network(network, inputs, 4096,
                                             config.device, config.mixed_precision))
    logits = logits.to(y.device, dtype=torch.float64)
    y64 = y if config.task == "multiclass" else y.to(torch.float64)
    loss = _loss(config.task, logits, y64, w.to(torch.float64)).item()
    metric = None
    if config.task == "binary":
        from sklearn.metrics import roc_auc_score

        yt = y.cpu().numpy()
        if len(np.unique(yt)) == 2:
            metric = float(roc_auc_score(yt, logits.squeeze(-1).cpu().numpy(),
                                         sample_weight=w.cpu().numpy()))
    elif config.task == "multiclass":
        pred = logits.argmax(-1)
        metric = float(((pred == y).double() * w).sum() / w.sum())
    return loss, metric


def _train_step(network, params, optimizer, inputs, y, w, idx, config, workers):
    """One optimizer step on the rows ``idx``; returns the batch loss (without penalty).

    On CPU the batch is split by rows over the worker threads; each shard returns its part
    of the batch-mean loss and its gradients, summed in shard order (deterministic).
    """
    total_weight = w[idx].sum()
    n_shards = max(1, min(workers.n, len(idx) // MIN_SHARD_ROWS))
    shards = idx.tensor_split(n_shards) if n_shards > 1 else (idx,)

    def shard_gradients(item):
        i, rows = item
        with _autocast(config.device, config.mixed_precision):
            logits = network(*[t[rows] for t in inputs])
        wb = w[rows]
        loss = _loss(config.task, logits.to(wb.dtype), y[rows], wb, total_weight)
        objective = loss
        if i == 0 and config.embedding_l2 > 0:
            objective = loss + config.embedding_l2 * _embedding_penalty(network)
        return loss.detach(), torch.autograd.grad(objective, params, allow_unused=True)

    if n_shards == 1:
        results = [shard_gradients((0, idx))]
    else:
        results = workers.map(shard_gradients, enumerate(shards))
    for j, p in enumerate(params):
        parts = [r[1][j] for r in results if r[1][j] is not None]
        p.grad = functools.reduce(torch.add, parts) if parts else None
    if config.grad_clip:
        nn.utils.clip_grad_norm_(params, config.grad_clip)
    optimizer.step()
    return float(functools.reduce(torch.add, [r[0] for r in results]))


def train_network(network, inputs, y, w, config, seed, valid=None):
    """Train ``network`` in place.

    Parameters
    ----------
    network : nn.Module
        Called as ``network(*batch_inputs)``; returns logits ``[B, k]``.
    inputs : sequence of Tensor
        Input tensors with the rows on axis 0, already on ``config.device``.
    y, w : Tensor
        Targets (float for binary / regression, int64 for multiclass) and sample weights.
    config : TrainingConfig
        Settings.
    seed : int
        Seeds the batch order and every random operation inside the network (dropout); the
        global torch random state is left untouched.
    valid : tuple (inputs, y, w) or None
        Validation data for early stopping; the best epoch's weights are restored at the end.

    Returns
    -------
    history : list of dict
        One entry per epoch: ``epoch``, ``train_loss``, ``valid_loss``, ``valid_metric``
        (AUC for binary, accuracy for multiclass), ``learning_rate``, ``seconds``.
    best_epoch : int
        The epoch whose weights the network holds (1-based).
    """
    device = config.device
    generator = torch.Generator().manual_seed(int(seed))
    decay, no_decay = [], []
    for name, p in network.named_parameters():
        (no_decay if p.ndim < 2 or "norm" in name else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    params = [p for p in network.parameters() if p.requires_grad]
    n = inputs[0].shape[0]
    history, best_loss, best_state, best_epoch, stale = [], np.inf, None, 0, 0
    fork_devices = [device] if device.type == "cuda" else []
    n_workers = cpu_workers(device, min(config.batch_size, n), network)
    with torch.random.fork_rng(devices=fork_devices), _Workers(n_workers) as workers:
        torch.manual_seed(int(seed))
        for epoch in range(1, config.max_epochs + 1):
            start_time = time.perf_counter()
            network.train()
            total, total_w, n_batches = 0.0, 0.0, -(-n // config.batch_size)
            for b, idx in enumerate(_batches(n, config.batch_size, generator, device)):
                loss = _train_step(network, params, optimizer, inputs, y, w, idx, config, workers)
                bw = float(w[idx].sum())
                total += loss * bw
                total_w += bw
                if config.verbose >= 2:
                    sys.stdout.write(f"\repoch {epoch} batch {b + 1}/{n_batches}")
                    sys.stdout.flush()
            record = {
                "epoch": epoch,
                "train_loss": total / max(total_w, 1e-300),
                "valid_loss": None,
                "valid_metric": None,
                "learning_rate": optimizer.param_groups[0]["lr"],
                "seconds": None,
            }
            improved = True
            if valid is not None:
                vloss, vmetric = _evaluate(network, *valid, config)
                record["valid_loss"], record["valid_metric"] = vloss, vmetric
                improved = vloss < best_loss - config.tol * abs(best_loss) if np.isfinite(
                    best_loss) else True
                if improved:
                    best_loss, best_epoch, stale = vloss, epoch, 0
                    best_state = copy.deepcopy(network.state_dict())
                else:
                    stale += 1
                    for group in optimizer.param_groups:
                        group["lr"] *= config.lr_decay
            else:
                best_epoch = epoch
            record["seconds"] = time.perf_counter() - start_time
            history.append(record)
            if config.verbose >= 1:
                if config.verbose >= 2:
                    sys.stdout.write("\n")
                msg = f"epoch {epoch:3d}  train_loss {record['train_loss']:.5f}"
                if valid is not None:
                    msg += f"  valid_loss {record['valid_loss']:.5f}"
                    if record["valid_metric"] is not None:
                        label = "auc" if config.task == "binary" else "accuracy"
                        msg += f"  valid_{label} {record['valid_metric']:.5f}"
                msg += f"  {record['seconds']:.1f}s" + ("" if improved else "  (no improvement)")
                print(msg, flush=True)
            if valid is not None and stale >= config.n_iter_no_change:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return history, best_epoch
