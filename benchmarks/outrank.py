"""OutRank benchmark: tabnn's OutRank vs scikit-learn's mutual_info_classif vs the `outrank`
package (PyPI), on the same make_ctr table in the same run.

    python benchmarks/outrank.py            # quick: 200,000 rows
    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/outrank.py --full   # 1,000,000 rows

Data: make_ctr with 26 categorical fields (Zipf, cardinality log-uniform in 10..100,000),
13 numeric fields, 3 planted interactions and 7 main effects (14 planted informative fields).
Score: precision@k of the planted informative fields (k = their number) in each ranking.

* tabnn: all rows, one core. Wall time from a plain run; peak memory = tracemalloc peak of the
  allocations made by the call (numpy arrays included), from a second run.
* mutual_info_classif: all rows (categorical codes as discrete features, numerics by its k-NN
  estimator), one run under tracemalloc (wall time includes tracemalloc's small overhead).
* outrank: its command line on a CSV of the same table, with its defaults (every 10th line,
  i.e. a 10x subsample, 2^14-row mini-batches), one thread, time-boxed; peak memory = the
  child's max RSS (whole process, includes the interpreter and its data). Skipped when the
  package is not installed. Its 3MR heuristic (MI-numba-3mr) is a separate row.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pandas as pd

from tabnn.datasets import make_ctr
from tabnn.estimators.outrank import rank_features


def precision_at_k(ranked, informative):
    k = len(informative)
    return len(set(list(ranked)[:k]) & set(informative)) / k


def run_tabnn(X, y, **kw):
    t = time.perf_counter()
    ranking = rank_features(X, y, random_state=0, **kw)
    wall = time.perf_counter() - t
    tracemalloc.start()
    rank_features(X, y, random_state=0, **kw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return list(ranking["feature"]), wall, peak / 2**20, "tracemalloc"


def run_sklearn_mi(X, y, categorical):
    from sklearn.feature_selection import mutual_info_classif

    cols = []
    for c in X.columns:
        if c in categorical:
            cols.append(X[c].cat.codes.to_numpy().astype(np.float64))
        else:
            cols.append(np.nan_to_num(X[c].to_numpy(dtype=np.float64)))
    A = np.column_stack(cols)
    mask = np.array([c in categorical for c in X.columns])
    tracemalloc.start()
    t = time.perf_counter()
    mi = mutual_info_classif(A, y, discrete_features=mask, random_state=0)
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    order = np.argsort(-mi, kind="stable")
    return [X.columns[i] for i in order], wall, peak / 2**20, "tracemalloc"


def run_outrank(frame, heuristic, timeout, workdir):
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    csv = os.path.join(data_dir, "data.csv")
    if not os.path.exists(csv):
        import polars as pl

        pl.from_pandas(frame).write_csv(csv)
    out = os.path.join(workdir, f"out_{heuristic}")
    # outrank 0.97.5 hashes str objects with xxhash, which xxhash >= 3 refuses ("Strings must
    # be encoded before hashing"): run its CLI with that one helper patched to encode first.
    launcher = (
        "import runpy, sys, xxhash, outrank.core_utils as cu, outrank.core_ranking as cr\n"
        "def h(o):\n"
        "    o = o if isinstance(o, bytes) else str(o).encode()\n"
        "    return xxhash.xxh32(o, seed=20141025).hexdigest()\n"
        "cu.internal_hash = cr.internal_hash = h\n"
        "sys.argv[0] = 'outrank'\n"
        "runpy.run_module('outrank', run_name='__main__', alter_sys=True)\n"
    )
    cmd = [
        sys.executable, "-c", launcher, "--task", "ranking", "--data_path", data_dir,
        "--data_source", "csv-raw", "--output_folder", out, "--heuristic", heuristic,
        "--num_threads", "1", "--include_cardinality_in_feature_names", "False",
        "--disable_tqdm", "True", "--label_column", "label",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    t = time.perf_counter()
    try:
        subprocess.run(cmd, cwd=workdir, env=env, timeout=timeout, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, float("nan"), float("nan"), f"timed out after {timeout:.0f} s"
    except subprocess.CalledProcessError as exc:
        return None, float("nan"), float("nan"), f"failed ({exc.returncode})"
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ranked = None
    if "3mr" in heuristic:
        df = pd.read_csv(os.path.join(out, "3mr_ranks.tsv"), sep="\t")
        ranked = [f for f in df.iloc[:, 0] if isinstance(f, str) and f and f != "label"]
        if len(ranked) < len(df) - 1:
            # outrank 0.97.5 writes empty names after the first 3MR row: fall back to the
            # feature-label scores of the same run
            ranked = None
    if ranked is None:
        df = pd.read_csv(os.path.join(out, "pairwise_ranks.tsv"), sep="\t")
        df = df[(df.FeatureB == "label") | (df.FeatureA == "label")].copy()
        df["feature"] = np.where(df.FeatureA == "label", df.FeatureB, df.FeatureA)
        df = df[df.feature != "label"].sort_values("Score", ascending=False, kind="stable")
        ranked = list(dict.fromkeys(df.feature))
    return ranked, wall, peak, "max RSS (child)"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="1,000,000 rows (default 200,000)")
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--no-outrank", action="store_true")
    p.add_argument("--no-sklearn", action="store_true")
    p.add_argument("--outrank-timeout", type=float, default=400.0)
    args = p.parse_args()
    n = args.rows or (1_000_000 if args.full else 200_000)

    t = time.perf_counter()
    b = make_ctr(n_samples=n, n_categorical=26, n_numeric=13, cardinality=(10, 100_000),
                 interactions=3, main_effects=7, random_state=0)
    X, y = b.data, b.target.to_numpy()
    informative = list(b.informative_features)
    k = len(informative)
    print(f"make_ctr: {n:,} rows x {X.shape[1]} columns ({len(b.categorical_features)} "
          f"categorical, max cardinality {max(b.cardinalities.values()):,}), "
          f"{k} planted informative fields, generated in {time.perf_counter() - t:.1f} s")

    rows = []

    def add(name, rows_used, result):
        ranked, wall, peak, how = result
        prec = precision_at_k(ranked, informative) if ranked else float("nan")
        rows.append((name, rows_used, wall, peak, how, prec))
        print(f"  done: {name}: {wall:.1f} s", flush=True)

    add("tabnn OutRank", n, run_tabnn(X, y))
    add("tabnn OutRank + 3MR", n, run_tabnn(X, y, redundancy=True))
    if not args.no_sklearn:
        add("sklearn mutual_info_classif", n, run_sklearn_mi(X, y, set(b.categorical_features)))
    if args.no_outrank or importlib.util.find_spec("outrank") is None:
        print("  outrank (PyPI) not installed or disabled: skipped")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            frame = X.copy()
            frame["label"] = y
            for heur in ("MI-numba-randomized", "MI-numba-3mr"):
                res = run_outrank(frame, heur, args.outrank_timeout, tmp)
                add(f"outrank {heur} (every 10th row)", n // 10, res)

    print()
    print(f"| method | rows ranked | wall s | peak MB | memory measure | precision@{k} |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rows_used, wall, peak, how, prec in rows:
        w = f"{wall:.2f}" if np.isfinite(wall) else how
        m = f"{peak:.0f}" if np.isfinite(peak) else "-"
        pr = f"{prec:.2f}" if np.isfinite(prec) else "-"
        print(f"| {name} | {rows_used:,} | {w} | {m} | {how if np.isfinite(wall) else '-'} "
              f"| {pr} |")


if __name__ == "__main__":
    main()
