"""The one training engine shared by every neural estimator.

Batches are drawn by index from tensors that already live on the device: no DataLoader, no
per-row Python. The engine is a :class:`Trainer` that runs a list of :class:`Stage` s (one for
most models; a search then a retraining for feature-gating), each with a fresh AdamW optimizer
over the parameter groups the modules declare; per epoch it trains, evaluates the validation
data and calls the callbacks (:mod:`tabnn.callbacks`: early stopping with best-weights
restore, learning-rate decay on plateaus, progress output and the user's own). What differs
per device -- the random-state scope, batch order, and the step itself, replayed from a CUDA
graph on GPUs -- belongs to a device strategy (:class:`SingleDevice`). The loss is the
model's: the task loss of its logits plus its penalty terms unless it defines its own
(:mod:`tabnn.nn.output`). bfloat16 mixed precision runs on CUDA and on CPUs with native
bfloat16; the embedding L2 penalty is added to the gradient in place.
"""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._heap import heap_reuse
from .callbacks import (
    Callback,
    CosineSchedule,
    EarlyStopping,
    PrintProgress,
    ReduceLROnPlateau,
    ValidationScore,
)
from .nn.network import weight_decay_groups
from .nn.output import as_output, default_loss

__all__ = [
    "TASKS",
    "SingleDevice",
    "Stage",
    "Trainer",
    "TrainingConfig",
    "default_callbacks",
    "forward_batches",
    "predict_network",
    "resolve_device",
    "resolve_mixed_precision",
    "resolve_strategy",
    "task_loss",
    "train_network",
    "validation_scores",
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
    """Settings of one training run (built by the estimators from their parameters).

    ``n_iter_no_change``, ``tol``, ``lr_decay``, ``lr_schedule`` ("plateau", "cosine" or
    "constant") and ``scoring`` (None: watch the validation loss; else a callable
    ``score(logits, y, w) -> float``, greater is better, on numpy validation logits, targets
    and weights) configure the callbacks of :func:`default_callbacks`.
    """

    task: str
    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    embedding_l2: float = 0.0
    n_iter_no_change: int = 2
    tol: float = 1e-4
    lr_decay: float = 0.1
    lr_schedule: str = "plateau"
    scoring: object = None
    grad_clip: float = 10.0
    mixed_precision: bool = False
    verbose: int = 0


@dataclass
class Stage:
    """One phase of a fit: its own epochs, a fresh optimizer, and extra callbacks.

    Parameters
    ----------
    name : str, default="train"
        Shown in the history (``stage``) and in progress output.
    max_epochs : int or None, default=None
        Epoch limit of this stage (None: the config's ``max_epochs``).
    callbacks : sequence of Callback, default=()
        Called in this stage only, after the trainer's own callbacks.
    learning_rate : float or None, default=None
        Initial learning rate of this stage (None: the config's).
    validate : bool, default=True
        Whether the validation data is evaluated after each epoch of this stage (early
        stopping and plateau decay act only on epochs with a validation loss).
    """

    name: str = "train"
    max_epochs: int | None = None
    callbacks: tuple = ()
    learning_rate: float | None = None
    validate: bool = True


def task_loss(task, logits, y, w):
    """Weighted mean loss of ``task``: binary cross-entropy on one logit, cross-entropy,
    or squared error; the logits are cast to the weights' dtype first."""
    logits = logits.to(w.dtype)
    if task == "binary":
        per_row = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y, reduction="none")
    elif task == "multiclass":
        per_row = F.cross_entropy(logits, y, reduction="none")
    else:
        per_row = (logits.squeeze(-1) - y) ** 2
    return (per_row * w).sum() / w.sum().clamp_min(torch.finfo(w.dtype).tiny)


def _embedding_tables(network):
    return network.embedding_tables() if hasattr(network, "embedding_tables") else []


def _network_loss(network, output, y, w, loss_fn):
    own = getattr(network, "loss", None)
    if own is not None:
        return own(output, y, w, loss_fn)
    return default_loss(as_output(output), y, w, loss_fn)


def _add_embedding_l2_gradient(tables, l2):
    """Add the gradient of ``l2 / 2 * ||E||^2`` to each table's gradient, in place.

    The same as putting the penalty into the loss, without a forward reduction and a
    backward temporary the size of the table (large tables make that temporary costly).
    """
    for table in tables:
        if table.grad is None:
            table.grad = table.detach() * l2
        else:
            table.grad.add_(table.detach(), alpha=l2)


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

    ``"auto"``: on CUDA, and on CPUs with native bfloat16 instructions, where matrix products
    run much faster than in float32; never for a float64 network.
    """
    if dtype == torch.float64 or setting is False:
        return False
    if setting is True:
        return True
    return device.type == "cuda" or (device.type == "cpu" and _cpu_has_bf16())


def _autocast(device, enabled, cache=True):
    # cache=False while capturing a CUDA graph: cached casts must not outlive the capture
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(enabled),
                          cache_enabled=cache)


def predict_batch_size(device):
    """Rows per forward pass at prediction: 4096 on CPU (cache-sized), 65536 on a GPU."""
    return 65536 if torch.device(device).type == "cuda" else 4096


def _logits(network, batch):
    return as_output(network(*batch)).logits.double()


_PAD_ROWS = 16


@torch.no_grad()
def forward_batches(network, inputs, fn=_logits, batch_size=None, device=None,
                    mixed_precision=False, pad=False):
    """``fn(network, batch)`` over ``inputs`` in batches, in evaluation mode, concatenated.

    The one batched forward pass behind prediction, validation and per-row explanations
    (attention maps). ``fn`` returns a tensor or a list / tuple of tensors (rows on axis 0);
    the result is the same structure of numpy arrays. ``batch_size=None`` takes
    :func:`predict_batch_size` of the device. Outputs stay on the device until the last
    batch, so a GPU is not synchronised once per batch. With ``pad`` (predictions: ``fn``
    returns one output per row) a batch is padded to a multiple of
    16 rows (copies of its last row, whose outputs are dropped): the CPU's matrix kernels
    choose their code path, and so their rounding, from the number of rows, and with a few
    rows a row's float32 result would depend on how many rows were predicted with it; padded,
    ``predict(X[i:i+1])`` equals ``predict(X)[i]`` bit for bit.
    """
    network.eval()
    device = device or next(network.parameters()).device
    batch_size = batch_size or predict_batch_size(device)
    n = inputs[0].shape[0]
    outs = []
    with _autocast(device, mixed_precision):
        for start in range(0, n, batch_size):
            batch = [t[start : start + batch_size].to(device, non_blocking=True) for t in inputs]
            rows = batch[0].shape[0]
            extra = -rows % _PAD_ROWS if pad else 0
            if extra:
                batch = [torch.cat([t, t[-1:].expand(extra, *t.shape[1:])]) for t in batch]
            out = fn(network, batch)
            outs.append(type(out)(o[:rows] for o in out) if isinstance(out, (list, tuple))
                        else out[:rows])
    if isinstance(outs[0], (list, tuple)):
        return [torch.cat(parts).cpu().numpy() for parts in zip(*outs)]
    return torch.cat(outs).cpu().numpy()


def predict_network(network, inputs, batch_size=None, device=None, mixed_precision=False):
    """Float64 logits of ``network`` over ``inputs`` (see :func:`forward_batches`)."""
    return forward_batches(network, inputs, _logits, batch_size, device, mixed_precision,
                           pad=True)


def validation_scores(logits, y, w, config):
    """``(loss, metric)`` of float64 ``logits`` (numpy) against targets ``y`` and weights ``w``
    (tensors): the task loss and AUC (binary) or accuracy (multi-class, None for regression)."""
    logits = torch.as_tensor(logits).to(y.device, dtype=torch.float64)
    y64 = y if config.task == "multiclass" else y.to(torch.float64)
    loss = task_loss(config.task, logits, y64, w.to(torch.float64)).item()
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


class SingleDevice:
    """Device strategy: train on one device (the CPU or one GPU).

    Owns what differs per device: the scope of the random state (the device's generators are
    forked, so the global state is untouched), the heap tuning of CPU training, the order of
    the batches, and the step, which on CUDA is captured once as a CUDA graph and replayed
    (``cuda_graphs``). Pass one as the ``device`` parameter of a neural estimator to choose
    these settings, e.g. ``device=SingleDevice("cuda:1", cuda_graphs=False)``; a data-parallel
    strategy over several GPUs takes the same place.

    Parameters
    ----------
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    cuda_graphs : bool, default=True
        On CUDA, replay the full-size training step from a captured CUDA graph.
    """

    def __init__(self, device="auto", cuda_graphs=True):
        self.device = device
        self.cuda_graphs = cuda_graphs

    def __repr__(self):
        return f"SingleDevice({str(self.device)!r}, cuda_graphs={self.cuda_graphs})"

    def resolve(self):
        """A copy with ``device`` resolved to a ``torch.device`` (``"auto"`` decided)."""
        return type(self)(resolve_device(self.device), self.cuda_graphs)

    @property
    def torch_device(self):
        return resolve_device(self.device)

    @property
    def uses_graphs(self):
        return self.torch_device.type == "cuda" and bool(self.cuda_graphs)

    @contextlib.contextmanager
    def session(self, seed):
        """Scope of one training run: forked random state seeded with ``seed``, the device
        made current (streams and graph capture act on the current GPU), heap tuning."""
        device = self.torch_device
        fork = [device] if device.type == "cuda" else []
        current = torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
        with torch.random.fork_rng(devices=fork), heap_reuse(device), current:
            torch.manual_seed(int(seed))
            yield

    def batches(self, n, batch_size, generator):
        """Row indices of each batch of one epoch, on the device."""
        order = torch.randperm(n, generator=generator, device="cpu").to(self.torch_device)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]

    def optimizer(self, groups, learning_rate):
        """AdamW over ``groups`` (list of (params, weight_decay)) for this device."""
        device, graphs = self.torch_device, self.uses_graphs

        def rate():
            # for CUDA graphs the learning rate lives in a device tensor the replayed step
            # reads; one per group (a tensor passed as lr= would be shared by all groups)
            return torch.tensor(learning_rate, device=device) if graphs else learning_rate

        # the fused kernel: one pass per parameter (8x faster than foreach on a 1M-row table)
        return torch.optim.AdamW(
            [{"params": params, "weight_decay": decay, "lr": rate()} for params, decay in groups],
            lr=learning_rate, fused=device.type in ("cpu", "cuda"), capturable=graphs,
        )

    def stepper(self, trainer, train):
        return _Stepper(trainer, *train, use_graph=self.uses_graphs)

    def evaluate(self, network, valid, config):
        """``(logits, y, w)``: float64 logits of ``network`` on the validation tuple
        ``(inputs, y, w)`` with the targets and weights in the same row order. The trainer
        scores them once per epoch and hands them to callbacks (``trainer.valid_predictions``),
        so a ``scoring=`` scorer predicts nothing again."""
        inputs, y, w = valid
        return predict_network(network, inputs, None, self.torch_device,
                               config.mixed_precision), y, w


def resolve_strategy(device):
    """The device strategy for an estimator's ``device`` parameter (a device or a strategy)."""
    if hasattr(device, "session") and hasattr(device, "stepper"):
        return device.resolve()
    return SingleDevice(resolve_device(device))


def default_callbacks(config):
    """From ``config``: the validation score (with ``scoring``), the learning-rate schedule,
    early stopping with restore, and progress output."""
    if config.scoring is None:
        monitor, mode, callbacks = "valid_loss", "min", []
    else:
        monitor, mode, callbacks = "valid_score", "max", [ValidationScore(config.scoring)]
    if config.lr_schedule == "plateau":
        # cut the rate when two epochs of patience are left, so early stopping always tries
        # the lower rate (patience 2: at the first epoch without improvement)
        callbacks.append(ReduceLROnPlateau(config.lr_decay, config.tol, monitor, mode,
                                           patience=max(config.n_iter_no_change - 2, 1)))
    elif config.lr_schedule == "cosine":
        callbacks.append(CosineSchedule())
    return [*callbacks, EarlyStopping(config.n_iter_no_change, config.tol, True, monitor, mode),
            PrintProgress(config.verbose)]


class Trainer:
    """Runs the stages of one fit over tensors already on the device.

    Attributes a callback may read: ``network``, ``config``, ``strategy``, ``stages``,
    ``train`` and ``valid`` (the data tuples given to :meth:`fit`),
    ``stage`` (the current :class:`Stage`), ``epoch`` (1-based within the stage),
    ``optimizer``, ``record`` (the epoch's history entry), ``history`` (all entries so far),
    ``best_epoch``; and set: ``stop_training``.

    Parameters
    ----------
    network : nn.Module
        Called as ``network(*batch_inputs)``; returns logits ``[B, k]`` or a
        :class:`~tabnn.nn.output.ModelOutput`. Its optional ``loss(output, y, w, task_loss)``
        gives the training loss.
    config : TrainingConfig
    strategy : SingleDevice or None
        Device strategy; None: a single device, the one ``network`` is on.
    callbacks : sequence of Callback
        Called in every stage, in order.
    seed : int
        Seeds the batch order and every random operation inside the network (dropout).
    """

    def __init__(self, network, config, strategy=None, callbacks=(), seed=0):
        self.network, self.config = network, config
        self.strategy = strategy or SingleDevice(next(network.parameters()).device)
        self.callbacks = list(callbacks)
        self.seed = int(seed)
        self.history = []
        self.valid_predictions = None  # (logits, y, w) of the last epoch's validation pass
        self.stages = [Stage()]
        self.task_loss = functools.partial(task_loss, config.task)

    def scale_learning_rate(self, factor):
        """Multiply the learning rate of every parameter group by ``factor``."""
        _scale_learning_rate(self.optimizer, factor)

    def fit(self, train, valid=None, stages=None):
        """Train ``network`` in place through ``stages`` (default: one stage).

        Parameters
        ----------
        train : tuple (inputs, y, w)
            Input tensors (rows on axis 0), targets (float for binary / regression, int64 for
            multiclass) and sample weights, on the strategy's device.
        valid : tuple (inputs, y, w) or None
            Validation data, evaluated after each epoch.
        stages : sequence of Stage or None

        Returns
        -------
        history : list of dict
            One entry per epoch: ``stage``, ``epoch``, ``train_loss``, ``valid_loss``,
            ``valid_metric`` (AUC for binary, accuracy for multiclass), ``learning_rate``,
            ``seconds`` (and ``improved`` under early stopping).
        """
        self.stages = list(stages) if stages else [Stage()]
        self.train, self.valid = train, valid
        self.generator = torch.Generator().manual_seed(self.seed)
        with self.strategy.session(self.seed):
            for stage in self.stages:
                self._run_stage(stage, train, valid)
        self.network.eval()
        return self.history

    def _run_stage(self, stage, train, valid):
        config = self.config
        self.stage, self.best_epoch, self.stop_training, self.epoch = stage, None, False, 0
        decay, no_decay = weight_decay_groups(self.network)
        lr = config.learning_rate if stage.learning_rate is None else stage.learning_rate
        self.optimizer = self.strategy.optimizer(
            [(decay, config.weight_decay), (no_decay, 0.0)], lr)
        stepper = self.strategy.stepper(self, train)
        # a strategy's own callbacks (several processes agreeing on a decision) run last
        callbacks = [*self.callbacks, *stage.callbacks, *getattr(self.strategy, "callbacks", ())]
        # only the callbacks that use the per-batch hook are called for every step
        on_batch = [c.on_batch_end for c in callbacks
                    if getattr(type(c), "on_batch_end", Callback.on_batch_end)
                    is not Callback.on_batch_end]
        validate = valid is not None and stage.validate
        n = train[0][0].shape[0]
        n_batches = -(-n // config.batch_size)
        _call(callbacks, "on_train_begin", self)
        max_epochs = config.max_epochs if stage.max_epochs is None else stage.max_epochs
        for epoch in range(1, max_epochs + 1):
            self.epoch = epoch
            _call(callbacks, "on_epoch_begin", self)
            start_time = time.perf_counter()
            self.network.train()
            stepper.reset_totals()
            for b, idx in enumerate(self.strategy.batches(n, config.batch_size,
                                                          self.generator)):
                stepper(idx)
                for hook in on_batch:
                    hook(self, b + 1, n_batches)
            record = {
                "stage": stage.name,
                "epoch": epoch,
                "train_loss": stepper.mean_loss(),
                "valid_loss": None,
                "valid_metric": None,
                "learning_rate": float(self.optimizer.param_groups[0]["lr"]),
                "seconds": None,
            }
            self.valid_predictions = None
            if validate:
                self.valid_predictions = self.strategy.evaluate(self.network, valid, config)
                record["valid_loss"], record["valid_metric"] = validation_scores(
                    *self.valid_predictions, config)
            record["seconds"] = time.perf_counter() - start_time
            self.record = record
            self.history.append(record)
            _call(callbacks, "on_epoch_end", self)
            if self.stop_training:
                break
        _call(callbacks, "on_train_end", self)
        if self.best_epoch is None:
            self.best_epoch = self.epoch


def _call(callbacks, hook, trainer):
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(trainer)


def train_network(network, inputs, y, w, config, seed, valid=None, *, strategy=None,
                  callbacks=None, stages=None):
    """Train ``network`` in place (a :class:`Trainer` with :func:`default_callbacks`).

    Parameters
    ----------
    network : nn.Module
        See :class:`Trainer`.
    inputs : sequence of Tensor
        Input tensors with the rows on axis 0, already on the strategy's device.
    y, w : Tensor
        Targets (float for binary / regression, int64 for multiclass) and sample weights.
    config : TrainingConfig
        Settings.
    seed : int
        Seeds the batch order and every random operation inside the network (dropout); the
        global torch random state is left untouched.
    valid : tuple (inputs, y, w) or None
        Validation data for early stopping; the best epoch's weights are restored at the end.
    strategy : SingleDevice or None
        Device strategy (None: the device of ``network``).
    callbacks : sequence of Callback or None
        None: :func:`default_callbacks` of ``config``.
    stages : sequence of Stage or None
        None: one stage of ``config.max_epochs``.

    Returns
    -------
    history : list of dict
        See :meth:`Trainer.fit`.
    best_epoch : int
        The epoch (of the last stage) whose weights the network holds (1-based).
    """
    callbacks = default_callbacks(config) if callbacks is None else callbacks
    trainer = Trainer(network, config, strategy, callbacks, seed)
    history = trainer.fit((tuple(inputs), y, w), valid, stages)
    return history, trainer.best_epoch


def _scale_learning_rate(optimizer, factor):
    scaled = set()
    for group in optimizer.param_groups:
        lr = group["lr"]
        if not torch.is_tensor(lr):
            group["lr"] = lr * factor
        elif id(lr) not in scaled:  # groups can share one tensor: scale it once
            lr.mul_(factor)  # in place: a captured step reads this tensor
            scaled.add(id(lr))


class _Stepper:
    """One optimisation step on the rows ``idx``: forward, loss, backward, embedding L2
    gradient, clipping, AdamW, running loss.

    On CUDA a step of a few thousand rows is bound by the host launching its few hundred
    kernels, not by the GPU. With ``use_graph`` the full-size step is captured once as a CUDA
    graph (after warm-up steps on a side stream, which capture requires) and replayed from
    then on; the last, smaller batch of an epoch runs eagerly. Should capture fail (a network
    with host-side control flow, say), training goes on eagerly with a warning.
    """

    warmup_steps = 3

    def __init__(self, trainer, inputs, y, w, use_graph):
        network = trainer.network
        self.network, self.inputs, self.y, self.w = network, inputs, y, w
        self.forward_module = network  # a data-parallel wrapper of it under DDP
        self.config, self.optimizer = trainer.config, trainer.optimizer
        self.loss_fn = trainer.task_loss
        self.tables = _embedding_tables(network)
        self.params = [p for p in network.parameters() if p.requires_grad]
        self.device = device = trainer.strategy.torch_device
        # running sums stay on the device: reading them every batch would make the host
        # wait for the GPU at each step
        self.total = torch.zeros((), dtype=torch.float64, device=device)
        self.total_w = torch.zeros((), dtype=torch.float64, device=device)
        self.use_graph = use_graph
        self.graph, self.static_idx, self.warmup_left = None, None, self.warmup_steps
        self.side_stream = torch.cuda.Stream(device) if use_graph else None

    def reset_totals(self):
        self.total.zero_()  # in place: a captured step adds to these tensors
        self.total_w.zero_()

    def mean_loss(self):
        return float(self.total) / max(float(self.total_w), 1e-300)

    def _step(self, idx, autocast_cache=True):
        config = self.config
        batch = [t[idx] for t in self.inputs]
        yb, wb = self.y[idx], self.w[idx]
        with _autocast(self.device, config.mixed_precision, cache=autocast_cache):
            output = self.forward_module(*batch)
        loss = _network_loss(self.network, output, yb, wb, self.loss_fn)
        loss.backward()
        if config.embedding_l2 > 0:
            _add_embedding_l2_gradient(self.tables, config.embedding_l2)
        if config.grad_clip:
            nn.utils.clip_grad_norm_(self.params, config.grad_clip)
        self.optimizer.step()
        bw = wb.sum().detach().double()
        self.total += loss.detach().double() * bw
        self.total_w += bw

    def __call__(self, idx):
        full = idx.shape[0] == self.config.batch_size
        if self.use_graph and full:
            if self.graph is not None:
                self.static_idx.copy_(idx)
                self.graph.replay()
                return
            if self.warmup_left > 0:
                self.warmup_left -= 1
                side = self.side_stream
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    self.optimizer.zero_grad(set_to_none=True)
                    self._step(idx)
                torch.cuda.current_stream().wait_stream(side)
                return
            if self._capture(idx):
                self.graph.replay()  # capturing records the step; the replay runs it
                return
        self.optimizer.zero_grad(set_to_none=True)
        self._step(idx)

    def _capture(self, idx):
        self.static_idx = idx.clone()
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        try:
            with torch.cuda.graph(graph):
                self._step(self.static_idx, autocast_cache=False)
        except RuntimeError as exc:
            warnings.warn(f"CUDA graph capture of the training step failed; training goes "
                          f"on without it ({exc})", RuntimeWarning, stacklevel=3)
            self.use_graph = False
            torch.cuda.synchronize(self.device)
            return False
        self.graph = graph
        return True
