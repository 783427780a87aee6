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
import sys
import time

import numpy as np

__all__ = ["Callback", "EarlyStopping", "PrintProgress", "ReduceLROnPlateau", "TimeLimit"]


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


def _improved(value, best, tol):
    return not np.isfinite(best) or value < best - tol * abs(best)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after every epoch whose validation loss did
    not improve on the best so far by more than the relative tolerance ``tol``.

    Does nothing in epochs without a validation loss.
    """

    def __init__(self, factor=0.1, tol=1e-4, monitor="valid_loss"):
        self.factor, self.tol, self.monitor = factor, tol, monitor

    def on_train_begin(self, trainer):
        self.best_ = np.inf

    def on_epoch_end(self, trainer):
        value = trainer.record.get(self.monitor)
        if value is None:
            return
        if _improved(value, self.best_, self.tol):
            self.best_ = value
        else:
            trainer.scale_learning_rate(self.factor)


class EarlyStopping(Callback):
    """Stop a stage when the validation loss has not improved for ``patience`` epochs.

    An improvement is a decrease by more than the relative tolerance ``tol``. The weights of
    the best epoch are kept and restored at the end of the stage (``restore_best``); the
    trainer's ``best_epoch`` is that epoch. Each epoch record gets ``improved`` (bool).
    """

    def __init__(self, patience=2, tol=1e-4, restore_best=True, monitor="valid_loss"):
        self.patience, self.tol = patience, tol
        self.restore_best, self.monitor = restore_best, monitor

    def on_train_begin(self, trainer):
        self.best_, self.stale_, self.best_state_ = np.inf, 0, None

    def on_epoch_end(self, trainer):
        value = trainer.record.get(self.monitor)
        if value is None:
            return
        improved = _improved(value, self.best_, self.tol)
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
    """One line per epoch (``verbose >= 1``), and a batch counter (``verbose >= 2``)."""

    def __init__(self, verbose=1, stream=None):
        self.verbose, self.stream = verbose, stream

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def on_batch_end(self, trainer, batch, n_batches):
        if self.verbose >= 2:
            out = self._out()
            out.write(f"\repoch {trainer.epoch} batch {batch}/{n_batches}")
            out.flush()

    def on_epoch_end(self, trainer):
        if self.verbose < 1:
            return
        out, r = self._out(), trainer.record
        if self.verbose >= 2:
            out.write("\n")
        stage = "" if len(trainer.stages) == 1 else f"{r['stage']}  "
        msg = f"{stage}epoch {r['epoch']:3d}  train_loss {r['train_loss']:.5f}"
        if r["valid_loss"] is not None:
            msg += f"  valid_loss {r['valid_loss']:.5f}"
            if r["valid_metric"] is not None:
                label = "auc" if trainer.config.task == "binary" else "accuracy"
                msg += f"  valid_{label} {r['valid_metric']:.5f}"
        msg += f"  {r['seconds']:.1f}s"
        if r.get("improved") is False:
            msg += "  (no improvement)"
        out.write(msg + "\n")
        out.flush()


class TimeLimit(Callback):
    """End each training stage after the first epoch that finishes past ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, trainer):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, trainer):
        if time.perf_counter() - self.start_ >= self.seconds:
            trainer.stop_training = True
