"""Callbacks of the training engine: hooks called around training stages, epochs and batches.

Early stopping with best-weight restore, learning-rate decay on plateaus and progress output
are callbacks; the neural estimators add them from their parameters and put the user's own
(the ``callbacks`` parameter) after them. A callback receives the running
:class:`~tabnn.training.Trainer`, whose attributes it may read (``network``, ``optimizer``,
``stage``, ``epoch``, ``record``, ``history``) and on which it may act:
``trainer.stop_training = True`` ends the current stage after this epoch, and
``trainer.scale_learning_rate(factor)`` changes the learning rate.

Examples
--------
>>> from tabnn.callbacks import Callback
>>> class PrintAUC(Callback):
...     def on_epoch_end(self, trainer):
...         print(trainer.epoch, trainer.record["valid_metric"])
"""

from __future__ import annotations

import copy
import logging
import sys
import time

import numpy as np

__all__ = [
    "Callback",
    "CosineSchedule",
    "EarlyStopping",
    "PrintProgress",
    "ReduceLROnPlateau",
    "TimeLimit",
    "ValidationScore",
]

logger = logging.getLogger("tabnn")


class Callback:
    """Base class: every hook does nothing; override those you need.

    Within a stage (a fit has one or more, see :class:`~tabnn.training.Stage`) the engine
    calls ``on_train_begin``, then per epoch ``on_epoch_begin``, ``on_batch_end`` after every
    step and ``on_epoch_end`` once the epoch's ``trainer.record`` (train loss, validation loss
    and metric, learning rate, seconds) is complete, and finally ``on_train_end``.
    """

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, batch, n_batches):
        pass

    def on_epoch_end(self, trainer):
        pass

    def on_train_end(self, trainer):
        pass


def _improved(value, best, tol, mode="min"):
    if not np.isfinite(best):
        return True
    if mode == "max":
        return value > best + tol * abs(best)
    return value < best - tol * abs(best)


class ValidationScore(Callback):
    """Score each epoch's validation predictions: ``record["valid_score"]``.

    Parameters
    ----------
    score : callable
        ``score(logits, y, w) -> float`` (greater is better) on numpy float64 validation
        logits, targets and weights; the estimators build it from their ``scoring``.
    """

    def __init__(self, score):
        self.score = score

    def on_epoch_end(self, trainer):
        if trainer.valid_predictions is None:
            return
        logits, y, w = trainer.valid_predictions  # the epoch's validation pass, reused
        trainer.record["valid_score"] = float(
            self.score(logits, y.cpu().numpy(), w.cpu().numpy()))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` consecutive epochs whose
    monitored value did not improve on the best so far by more than the relative tolerance
    ``tol`` (the count restarts after each cut and at each improvement).

    ``monitor`` is a key of the epoch record (``"valid_loss"``, or ``"valid_score"`` with
    ``mode="max"``). Does nothing in epochs without that value.
    """

    def __init__(self, factor=0.1, tol=1e-4, monitor="valid_loss", mode="min", patience=1):
        self.factor, self.tol, self.monitor, self.mode = factor, tol, monitor, mode
        self.patience = patience

    def on_train_begin(self, trainer):
        self.best_, self.stale_ = np.inf, 0

    def on_epoch_end(self, trainer):
        value = trainer.record.get(self.monitor)
        if value is None:
            return
        if _improved(value, self.best_, self.tol, self.mode):
            self.best_, self.stale_ = value, 0
            return
        self.stale_ += 1
        if self.stale_ >= self.patience:
            trainer.scale_learning_rate(self.factor)
            self.stale_ = 0


class CosineSchedule(Callback):
    """Half-cosine decay of the learning rate over the stage's epochs, to ``min_fraction`` of
    its initial value at the last epoch."""

    def __init__(self, min_fraction=0.01):
        self.min_fraction = min_fraction

    def _level(self, epoch):
        cosine = 0.5 * (1.0 + np.cos(np.pi * min(epoch / self.epochs_, 1.0)))
        return self.min_fraction + (1.0 - self.min_fraction) * cosine

    def on_train_begin(self, trainer):
        stage_epochs = trainer.stage.max_epochs
        self.epochs_ = max(stage_epochs or trainer.config.max_epochs, 1)
        self.level_ = 1.0

    def on_epoch_end(self, trainer):
        level = self._level(trainer.epoch)
        trainer.scale_learning_rate(level / self.level_)
        self.level_ = level


class EarlyStopping(Callback):
    """Stop a stage when the monitored value has not improved for ``patience`` epochs.

    ``monitor`` is a key of the epoch record: ``"valid_loss"`` (``mode="min"``) or
    ``"valid_score"`` (``mode="max"``, see :class:`ValidationScore`). An improvement beats
    the best value by more than the relative tolerance ``tol``. The weights of the best epoch
    are kept and restored at the end of the stage (``restore_best``); the trainer's
    ``best_epoch`` is that epoch. Each epoch record gets ``improved`` (bool).
    """

    def __init__(self, patience=2, tol=1e-4, restore_best=True, monitor="valid_loss",
                 mode="min"):
        self.patience, self.tol = patience, tol
        self.restore_best, self.monitor, self.mode = restore_best, monitor, mode

    def on_train_begin(self, trainer):
        self.best_, self.stale_, self.best_state_ = np.inf, 0, None

    def on_epoch_end(self, trainer):
        value = trainer.record.get(self.monitor)
        if value is None:
            return
        improved = _improved(value, self.best_, self.tol, self.mode)
        trainer.record["improved"] = improved
        if improved:
            self.best_, self.stale_ = value, 0
            trainer.best_epoch = trainer.epoch
            if self.restore_best:
                self.best_state_ = copy.deepcopy(trainer.network.state_dict())
        else:
            self.stale_ += 1
            if self.stale_ >= self.patience:
                trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.best_state_ is not None:
            trainer.network.load_state_dict(self.best_state_)
        self.best_state_ = None  # the weights are in the network; don't keep a second copy


class PrintProgress(Callback):
    """Progress output: one line per epoch (``verbose >= 1``) and a tqdm progress bar over
    each epoch's batches with rate and time left (``verbose >= 2``).

    The epoch lines are also logged to ``logging.getLogger("tabnn")`` at DEBUG level,
    whatever ``verbose``.
    """

    def __init__(self, verbose=1, stream=None):
        self.verbose, self.stream = verbose, stream

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def on_epoch_begin(self, trainer):
        self.bar_ = None

    def on_batch_end(self, trainer, batch, n_batches):
        if self.verbose < 2:
            return
        if getattr(self, "bar_", None) is None:
            from tqdm.auto import tqdm

            self.bar_ = tqdm(total=n_batches, desc=f"epoch {trainer.epoch}", unit="batch",
                             file=self._out(), leave=False, dynamic_ncols=True)
        self.bar_.update(1)

    def on_epoch_end(self, trainer):
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
            self.bar_ = None
        msg = self._message(trainer)
        logger.debug(msg)
        if self.verbose >= 1:
            out = self._out()
            out.write(msg + "\n")
            out.flush()

    @staticmethod
    def _message(trainer):
        r = trainer.record
        stage = "" if len(trainer.stages) == 1 else f"{r['stage']}  "
        msg = f"{stage}epoch {r['epoch']:3d}  train_loss {r['train_loss']:.5f}"
        if r["valid_loss"] is not None:
            msg += f"  valid_loss {r['valid_loss']:.5f}"
            if r["valid_metric"] is not None:
                label = "auc" if trainer.config.task == "binary" else "accuracy"
                msg += f"  valid_{label} {r['valid_metric']:.5f}"
            if r.get("valid_score") is not None:
                msg += f"  valid_score {r['valid_score']:.5f}"
        msg += f"  lr {r['learning_rate']:.2g}  {r['seconds']:.1f}s"
        if r.get("improved") is False:
            msg += "  (no improvement)"
        return msg


class TimeLimit(Callback):
    """End each training stage after the first epoch that finishes past ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, trainer):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, trainer):
        if time.perf_counter() - self.start_ >= self.seconds:
            trainer.stop_training = True
