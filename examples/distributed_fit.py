"""
Training on several processes or GPUs, and from parquet files
=============================================================

The same estimator ``fit`` runs data-parallel when its ``device`` is a
:class:`tabnn.distributed.DistributedDataParallel` strategy and the script is launched by
``torchrun``::

    torchrun --nproc_per_node 4 examples/distributed_fit.py      # one process per GPU (nccl)
    torchrun --nproc_per_node 2 examples/distributed_fit.py      # CPU processes (gloo)

Run with plain ``python`` it launches itself under ``torchrun`` with two CPU processes, which is
what this page shows. Every rank encodes the same table, trains on its share of every
global batch and sees the same validation metric, so all ranks stop at the same epoch; rank
0 ends with the fitted model.

Tables larger than memory are read from parquet (or a polars ``LazyFrame``) chunk by chunk:
``fit(path, "label")`` -- the last cell.
"""

# %%
# Data: a CTR-like table with planted feature interactions, written to parquet.
import os
import subprocess
import sys
import tempfile

import polars as pl
import torch
from sklearn.metrics import roc_auc_score

import tabnn
from tabnn import FCNClassifier
from tabnn.datasets import make_ctr
from tabnn.distributed import DistributedDataParallel

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"  # the test suite runs a tiny version
N_ROWS = 4_000 if SMALL else 200_000
WORLD_SIZE = 2


def make_data(folder):
    data = make_ctr(n_samples=N_ROWS + 20_000, n_categorical=8, n_numeric=4, random_state=0,
                    as_frame="polars")
    frame = data.data.with_columns(label=pl.Series(data.target))
    frame[:N_ROWS].write_parquet(os.path.join(folder, "train.parquet"),
                                 row_group_size=max(N_ROWS // 8, 1))
    frame[N_ROWS:].write_parquet(os.path.join(folder, "test.parquet"))


def model(device="auto"):
    return FCNClassifier(max_epochs=2 if SMALL else 10, random_state=0, device=device)


# %%
# What every rank runs: under torchrun the process group comes from the environment.
def train(rank, folder):
    train_set = pl.read_parquet(os.path.join(folder, "train.parquet"))
    X, y = train_set.drop("label"), train_set["label"]
    clf = model(DistributedDataParallel()).fit(X, y)
    if rank == 0:  # only rank 0 holds the fitted estimator
        test = pl.read_parquet(os.path.join(folder, "test.parquet"))
        auc = roc_auc_score(test["label"], clf.predict_proba(test.drop("label"))[:, 1])
        print(f"{torch.distributed.get_world_size()} processes: {clf.n_iter_} epochs, "
              f"test AUC {auc:.4f}")


# %%
# Launch: under torchrun every process trains; run with plain ``python``, this script starts
# ``torchrun --standalone --nproc_per_node 2`` on itself (two CPU processes, gloo) and shows
# what rank 0 printed, then trains out of core in this process.
if __name__ == "__main__":
    if "RANK" in os.environ:  # a torchrun process
        folder = os.environ.get("TABNN_EXAMPLE_DIR") or tempfile.gettempdir()
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.distributed.get_rank() == 0 and not os.path.exists(
                os.path.join(folder, "train.parquet")):
            make_data(folder)
        torch.distributed.barrier()
        train(torch.distributed.get_rank(), folder)
        # every rank waits for rank 0's evaluation before the group is torn down: a rank that
        # tears it down while another still works can abort in gloo's teardown
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    else:
        folder = tempfile.mkdtemp()
        make_data(folder)
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                  f"--nproc_per_node={WORLD_SIZE}", os.path.abspath(__file__)]
        # the processes import this tabnn (wherever it is) and read the data written here
        package_root = os.path.dirname(os.path.dirname(tabnn.__file__))
        path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "TABNN_EXAMPLE_DIR": folder, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": path}
        run = subprocess.run(launch, env=env, capture_output=True, text=True)
        if run.returncode:
            raise RuntimeError(f"torchrun failed:\n{run.stderr[-3000:]}")
        print(run.stdout.strip())

        # %%
        # Out of core: the same model trained from the parquet file, read chunk by chunk.
        clf = model("cpu").fit(os.path.join(folder, "train.parquet"), "label")
        test_path = os.path.join(folder, "test.parquet")
        y_test = pl.read_parquet(test_path, columns=["label"])["label"]
        auc = roc_auc_score(y_test, clf.predict_proba(test_path)[:, 1])
        print(f"streamed from parquet: {clf.n_iter_} epochs, test AUC {auc:.4f}")
