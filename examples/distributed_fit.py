"""
Training on several processes or GPUs, and from parquet files
=============================================================

The same estimator ``fit`` runs data-parallel when its ``device`` is a
:class:`tabnn.distributed.DistributedDataParallel` strategy and the script is launched by
``torchrun``::

    torchrun --nproc_per_node 4 examples/distributed_fit.py      # one process per GPU (nccl)
    torchrun --nproc_per_node 2 examples/distributed_fit.py      # CPU processes (gloo)

Run with plain ``python`` it starts two CPU processes itself (``torch.multiprocessing``), which
is what this page shows. Every rank encodes the same table, trains on its share of every
global batch and sees the same validation metric, so all ranks stop at the same epoch; rank
0 ends with the fitted model.

Tables larger than memory are read from parquet (or a polars ``LazyFrame``) chunk by chunk:
``fit(path, "label")`` -- the last cell.
"""

# %%
# Data: a CTR-like table with planted feature interactions, written to parquet.
import os
import socket
import tempfile

import polars as pl
import torch
from sklearn.metrics import roc_auc_score

from tabnn import FCNClassifier
from tabnn.datasets import make_ctr
from tabnn.distributed import DistributedDataParallel

QUICK = bool(os.environ.get("TABNN_EXAMPLES_QUICK"))
N_ROWS = 4_000 if QUICK else 200_000
WORLD_SIZE = 2


def make_data(folder):
    data = make_ctr(n_samples=N_ROWS + 20_000, n_categorical=8, n_numeric=4, random_state=0,
                    as_frame="polars")
    frame = data.data.with_columns(label=pl.Series(data.target))
    frame[:N_ROWS].write_parquet(os.path.join(folder, "train.parquet"),
                                 row_group_size=max(N_ROWS // 8, 1))
    frame[N_ROWS:].write_parquet(os.path.join(folder, "test.parquet"))


def model(device="auto"):
    return FCNClassifier(max_epochs=2 if QUICK else 10, random_state=0, device=device)


# %%
# What every rank runs. Under torchrun the process group comes from the environment; here
# the launcher below sets the same variables.
def train(rank, folder):
    train_set = pl.read_parquet(os.path.join(folder, "train.parquet"))
    X, y = train_set.drop("label"), train_set["label"]
    clf = model(DistributedDataParallel()).fit(X, y)
    if rank == 0:  # only rank 0 holds the fitted estimator
        test = pl.read_parquet(os.path.join(folder, "test.parquet"))
        auc = roc_auc_score(test["label"], clf.predict_proba(test.drop("label"))[:, 1])
        print(f"{WORLD_SIZE} processes: {clf.n_iter_} epochs, test AUC {auc:.4f}")


def _spawned(rank, port, folder):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    train(rank, folder)
    torch.distributed.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# %%
# Launch: torchrun's processes call ``train`` directly; plain ``python`` spawns two.
if __name__ == "__main__":
    folder = os.environ.get("TABNN_EXAMPLE_DIR") or tempfile.mkdtemp()
    if "RANK" in os.environ:  # under torchrun: rank 0 writes the data, the others wait
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.distributed.get_rank() == 0:
            make_data(folder)
        torch.distributed.barrier()
        train(torch.distributed.get_rank(), folder)
        torch.distributed.destroy_process_group()
    else:
        make_data(folder)
        torch.multiprocessing.spawn(_spawned, args=(_free_port(), folder), nprocs=WORLD_SIZE)

        # %%
        # Out of core: the same model trained from the parquet file, read chunk by chunk.
        clf = model("cpu").fit(os.path.join(folder, "train.parquet"), "label")
        test_path = os.path.join(folder, "test.parquet")
        y_test = pl.read_parquet(test_path, columns=["label"])["label"]
        auc = roc_auc_score(y_test, clf.predict_proba(test_path)[:, 1])
        print(f"streamed from parquet: {clf.n_iter_} epochs, test AUC {auc:.4f}")
