"""Data-parallel training over several processes (torch DDP), one per GPU or CPU worker.

Run the same script under ``torchrun --nproc_per_node N script.py`` and pass
``device=DistributedDataParallel()`` to a neural estimator: every process (rank) validates and
encodes the same data identically (so the encoder needs no broadcast), trains on its share of
each global batch of every epoch's permutation, and torch's ``DistributedDataParallel``
averages the gradients. The validation metric is computed once over the predictions of all
ranks' validation shards, so every rank sees the same epoch record and takes the same
early-stopping and learning-rate decisions; a callback then makes any stop agreed by all
ranks (a rank's own time limit, say) and copies rank 0's learning rates to the others. Rank 0
ends with the fitted estimator; on the other ranks ``fit`` returns an unfitted estimator.

Examples
--------
>>> from tabnn.distributed import DistributedDataParallel
>>> strategy = DistributedDataParallel(backend="gloo")  # torchrun sets RANK, WORLD_SIZE, ...
>>> strategy
DistributedDataParallel(backend='gloo', device='auto')
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as _TorchDDP

from .callbacks import Callback
from .training import SingleDevice, predict_network, resolve_device

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(SingleDevice):
    """Device strategy: data-parallel training in several processes (PyTorch DDP).

    The process group is the one already initialised, or one initialised here from the
    environment variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``). Each rank trains on ``batch_size // world_size`` rows of every global
    batch of ``batch_size`` rows (the estimator's ``batch_size`` is the global one; up to
    ``world_size - 1`` rows of a batch are skipped so that every rank's share has the same
    size), so with unit sample weights a step equals a single-process step on the whole
    batch. With unequal weights each rank's loss is its share's weighted mean and the
    gradient their average (plain DDP).

    Parameters
    ----------
    backend : {"auto", "gloo", "nccl"}, default="auto"
        ``"auto"``: ``"nccl"`` when CUDA is available, else ``"gloo"`` (CPU processes).
        Only used when this strategy initialises the process group.
    device : str or torch.device, default="auto"
        ``"auto"``: ``cuda:LOCAL_RANK`` under nccl, the CPU under gloo.

    Notes
    -----
    Every rank holds the whole (encoded) training table; only the steps are shared out. CUDA
    graphs are not used.
    """

    def __init__(self, backend="auto", device="auto"):
        self.backend = backend
        self.device = device
        self.cuda_graphs = False

    def __repr__(self):
        return f"DistributedDataParallel(backend={self.backend!r}, device={str(self.device)!r})"

    # -- process group -----------------------------------------------------------------------
    def _backend(self):
        if self.backend != "auto":
            return self.backend
        return "nccl" if torch.cuda.is_available() else "gloo"

    def resolve(self):
        """A copy bound to the process group (initialised from the environment if needed)
        with ``device`` resolved."""
        if not dist.is_available():
            raise RuntimeError("torch.distributed is not available in this torch build.")
        if not dist.is_initialized():
            missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
                       if v not in os.environ]
            if missing:
                raise RuntimeError(
                    "DistributedDataParallel needs an initialised process group or the "
                    f"environment torchrun sets; {', '.join(missing)} not set. Launch with "
                    "`torchrun --nproc_per_node N script.py` or call "
                    "torch.distributed.init_process_group first.")
            dist.init_process_group(self._backend())
        backend = dist.get_backend()
        device = self.device
        if isinstance(device, str) and device == "auto":
            local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
            device = f"cuda:{local}" if backend == "nccl" else "cpu"
        resolved = type(self)(backend, resolve_device(device))
        resolved.rank, resolved.world_size = dist.get_rank(), dist.get_world_size()
        resolved.callbacks = (_AgreeAcrossRanks(),)
        return resolved

    @property
    def is_main(self):
        """Whether this process is rank 0 (the one that keeps the fitted estimator)."""
        return getattr(self, "rank", 0) == 0

    # -- training ----------------------------------------------------------------------------
    def batches(self, n, batch_size, generator):
        """This rank's share of every global batch of one epoch's permutation (the same
        generator state, hence the same permutation, on every rank)."""
        order = torch.randperm(n, generator=generator, device="cpu")
        for start in range(0, n, batch_size):
            mine = self.share(order[start : start + batch_size])
            if len(mine):
                yield mine.to(self.torch_device)

    def share(self, batch):
        """This rank's equal part of the global ``batch`` (row indices)."""
        size = len(batch) // self.world_size
        return batch[self.rank * size : (self.rank + 1) * size]

    def stepper(self, trainer, train):
        stepper = super().stepper(trainer, train)
        device = self.torch_device
        # find_unused_parameters: a model may leave a parameter out of a step's loss (an
        # empty table, a head used only in some stages); DDP then waits for it forever
        stepper.forward_module = _TorchDDP(
            trainer.network, device_ids=[device] if device.type == "cuda" else None,
            find_unused_parameters=True)
        return stepper

    def evaluate(self, network, valid, config):
        """The predictions of every rank's validation shard (rows ``rank::world_size``),
        gathered on every rank with the targets and weights in their order: every rank scores
        the same numbers, and each predicts only its shard."""
        inputs, y, w = valid
        n, world = y.shape[0], self.world_size
        mine = [t[self.rank :: world] for t in inputs]
        logits = predict_network(network, mine, None, self.torch_device,
                                 config.mixed_precision)
        shards = [None] * world
        dist.all_gather_object(shards, logits)
        order = torch.cat([torch.arange(r, n, world) for r in range(world)]).to(y.device)
        return np.concatenate(shards), y[order], w[order]

    def finish(self, estimator):
        """After ``fit``: the ranks other than 0 drop what they learned (rank 0 keeps it)."""
        if self.is_main:
            return
        for name in [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]:
            delattr(estimator, name)


class _AgreeAcrossRanks(Callback):
    """Run after every other callback: any rank stopping stops all of them, and every rank
    takes rank 0's learning rates (their decisions already agree when the records do)."""

    def on_epoch_end(self, trainer):
        device = trainer.strategy.torch_device
        stop = torch.tensor([float(trainer.stop_training)], device=device)
        dist.all_reduce(stop, op=dist.ReduceOp.MAX)
        trainer.stop_training = bool(stop.item())
        groups = trainer.optimizer.param_groups
        rates = torch.tensor([float(g["lr"]) for g in groups], dtype=torch.float64,
                             device=device)
        dist.broadcast(rates, src=0)
        for group, rate in zip(groups, rates.tolist()):
            if torch.is_tensor(group["lr"]):
                group["lr"].fill_(rate)
            else:
                group["lr"] = rate
