"""Data-parallel training: 2 CPU processes (gloo) against one process with the same batches."""

import datetime
import os
import socket

import numpy as np
import polars as pl
import pytest
import torch

from tabnn import FCNClassifier
from tabnn.callbacks import Callback
from tabnn.distributed import DistributedDataParallel
from tabnn.datasets import make_ctr

WORLD = 2
# float64 networks: the two runs differ only in the order of additions (the all-reduced
# mean of two half-batch gradients against the mean of the whole batch)
TOLERANCE = 1e-6


def _data():
    data = make_ctr(n_samples=1200, n_categorical=4, n_numeric=2, cardinality=8,
                    interactions=[("C1", "C2")], interaction_strength=4.0, noise=0.02,
                    random_state=0)
    return data.data, data.target


def _model(device, callbacks=None):
    # no dropout: its masks would differ between one batch of 64 rows and two of 32
    return FCNClassifier(ecn_layers=1, lcn_layers=1, ecn_dropout=0.0, lcn_dropout=0.0,
                         tri_bce=False, embedding_dim=4, batch_size=64, max_epochs=4, n_iter_no_change=1,
                         learning_rate=1e-2, dtype="float64", mixed_precision=False,
                         random_state=0, device=device, callbacks=callbacks)


class _Epochs(Callback):
    def __init__(self):
        self.epochs = []

    def on_epoch_end(self, trainer):
        self.epochs.append(trainer.epoch)


class _StopAfter(Callback):
    """Ends training after ``epoch``: given to one rank only, the others must follow."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer):
        trainer.stop_training = trainer.stop_training or trainer.epoch >= self.epoch


STOP = 3


def _worker(rank, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # a rank left waiting on the others fails after a minute instead of hanging the suite
    torch.distributed.init_process_group("gloo", rank=rank, world_size=WORLD,
                                         timeout=datetime.timedelta(seconds=60))
    torch.set_num_threads(1)
    X, y = _data()
    epochs = _Epochs()
    callbacks = [epochs, _StopAfter(STOP)] if rank == 1 else [epochs]
    model = _model(DistributedDataParallel(backend="gloo"), callbacks).fit(X, y)
    result = {"epochs": epochs.epochs, "fitted": hasattr(model, "module_")}
    if result["fitted"]:
        result["state"] = model.module_.state_dict()
        result["history"] = model.history_
    # out of core and data-parallel: every rank reads every chunk, trains on its share
    epochs = _Epochs()
    callbacks = [epochs, _StopAfter(STOP)] if rank == 1 else [epochs]
    streamed = _model(DistributedDataParallel(), callbacks).fit(_parquet(out), "label")
    result["streamed_epochs"] = epochs.epochs
    if hasattr(streamed, "module_"):
        result["streamed_state"] = streamed.module_.state_dict()
    torch.save(result, os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.barrier()  # no rank tears the group down while another still works
    torch.distributed.destroy_process_group()


def _parquet(folder):
    return os.path.join(folder, "train.parquet")


def _write_parquet(path):
    X, y = _data()
    frame = pl.from_pandas(X).with_columns(pl.col("^C.*$").cast(pl.String), label=pl.Series(y))
    frame.write_parquet(path, row_group_size=300)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ddp"))
    _write_parquet(_parquet(out))
    torch.multiprocessing.spawn(_worker, args=(_free_port(), out), nprocs=WORLD, join=True)
    return [torch.load(os.path.join(out, f"rank{r}.pt"), weights_only=False)
            for r in range(WORLD)]


def test_ranks_stop_at_the_same_epoch_and_only_rank_0_is_fitted(ranks):
    assert ranks[0]["epochs"] == ranks[1]["epochs"] == list(range(1, STOP + 1))
    assert ranks[0]["fitted"] and not ranks[1]["fitted"]


def test_two_processes_equal_one_process_with_the_same_global_batch(ranks):
    X, y = _data()
    single = _model("cpu", [_StopAfter(STOP)]).fit(X, y)
    assert [h["epoch"] for h in single.history_] == ranks[0]["epochs"]
    np.testing.assert_allclose([h["valid_loss"] for h in ranks[0]["history"]],
                               [h["valid_loss"] for h in single.history_], rtol=TOLERANCE)
    state = single.module_.state_dict()
    assert state.keys() == ranks[0]["state"].keys()
    for name, value in state.items():
        torch.testing.assert_close(ranks[0]["state"][name], value, rtol=TOLERANCE,
                                   atol=TOLERANCE, msg=name)


def test_streamed_from_parquet_on_two_processes_equals_one_process(ranks, tmp_path):
    path = str(tmp_path / "train.parquet")
    _write_parquet(path)
    single = _model("cpu", [_StopAfter(STOP)]).fit(path, "label")
    assert not ranks[1]["fitted"] and "streamed_state" not in ranks[1]
    assert ranks[0]["streamed_epochs"] == ranks[1]["streamed_epochs"] == list(range(1, STOP + 1))
    assert len(single.history_) == STOP
    for name, value in single.module_.state_dict().items():
        torch.testing.assert_close(ranks[0]["streamed_state"][name], value, rtol=TOLERANCE,
                                   atol=TOLERANCE, msg=name)


def test_without_torchrun_environment_the_error_says_how_to_launch(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    X, y = _data()
    with pytest.raises(RuntimeError, match="torchrun"):
        _model(DistributedDataParallel()).fit(X, y)
