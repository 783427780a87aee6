"""Out-of-core training from parquet: peak memory, rows/s and AUC against in-memory training.

Writes a ``make_ctr`` table (26 Zipf categorical fields of cardinality 10 to 10k, 13
heavy-tailed numeric fields, planted interactions; ``label`` column) of ``--rows`` training
rows to parquet (row groups of 262,144 rows) plus 100k test rows, then runs each measurement
in its own child process, whose peak resident memory (``ru_maxrss``) is quoted:

* ``streamed``: ``FCNClassifier(...).fit(path, "label")`` on every row -- encoder from streamed
  value counts, chunks read in a shuffled order in a background thread, 10% held out;
* ``in-memory``: the same model on the first ``--subset`` rows (default: up to 2M) read into
  memory as a polars DataFrame;
* ``streamed-subset`` (only when ``--subset`` < ``--rows``): the streamed fit on those same
  subset rows, for rows/s of streamed and in-memory training on the same rows;
* ``predict``: :func:`tabnn.streaming.predict_parquet` of the training file to a parquet file.

Test AUC is on the 100k test rows. rows/s = training rows x epochs / fit seconds (encoder
fit, reading and validation included).

Usage::

    python benchmarks/out_of_core.py                     # 100k rows, 2 epochs: a quick run
    python benchmarks/out_of_core.py --rows 20000000 --epochs 1 --subset-epochs 3  # acceptance
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

TEST_ROWS = 100_000


def _model(args):
    from tabnn import FCNClassifier

    # a light FCN (one cross layer, two deep layers, d=8): the comparison is of the data path
    epochs = args.epochs if args.child == "streamed" else args.subset_epochs
    return FCNClassifier(ecn_layers=1, lcn_layers=2, embedding_dim=8, max_epochs=epochs,
                         random_state=0, verbose=args.verbose)


def _peak_mib():
    """Peak resident memory of this process since it started.

    ``VmHWM`` of the process image: ``ru_maxrss`` survives ``exec`` on Linux, so a child of a
    parent that built the 20M-row table would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _auc(model, test_path):
    import polars as pl
    from sklearn.metrics import roc_auc_score

    y = pl.read_parquet(test_path, columns=["label"])["label"].to_numpy()
    return float(roc_auc_score(y, model.predict_proba(test_path)[:, 1]))


def child(args):
    """One measurement, in a fresh process; prints one JSON line."""
    import polars as pl

    from tabnn.streaming import predict_parquet

    start = time.perf_counter()
    if args.child == "predict":
        import pickle

        with open(args.model_file, "rb") as f:
            model = pickle.load(f)
        start = time.perf_counter()
        n = predict_parquet(model, args.train, args.output)
        seconds = time.perf_counter() - start
        print(json.dumps({"mode": "predict", "rows": n, "seconds": seconds,
                          "peak_rss_mib": _peak_mib()}))
        return
    model = _model(args)
    cpu = _cpu_seconds()
    if args.child == "in-memory":
        frame = pl.read_parquet(args.train, n_rows=args.subset)
        X, y = frame.drop("label"), frame["label"].to_numpy()
        del frame
        start = time.perf_counter()
        model.fit(X, y)
        rows = len(y)
        del X, y
    else:
        source = args.train if args.child == "streamed" else args.subset_file
        model.fit(source, "label")
        rows = pl.scan_parquet(source).select(pl.len()).collect().item()
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu  # CPU time of the fit (wall time on a busy machine lies)
    result = {"mode": args.child, "rows": rows, "epochs": model.n_iter_, "seconds": seconds,
              "cpu_s": cpu,
              "rows_per_s": rows * 0.9 * model.n_iter_ / seconds,
              "auc": _auc(model, args.test), "peak_rss_mib": _peak_mib()}
    if args.model_file:
        import pickle

        with open(args.model_file, "wb") as f:
            pickle.dump(model, f)
    print(json.dumps(result))


def _write_data(args, folder):
    import polars as pl

    from tabnn.datasets import make_ctr

    n = args.rows + TEST_ROWS
    data = make_ctr(n_samples=n, random_state=0, as_frame="polars")
    frame = data.data.with_columns(label=pl.Series(data.target))
    del data
    paths = {"train": os.path.join(folder, "train.parquet"),
             "test": os.path.join(folder, "test.parquet"),
             "subset": os.path.join(folder, "subset.parquet")}
    frame[: args.rows].write_parquet(paths["train"], row_group_size=262_144)
    frame[args.rows :].write_parquet(paths["test"])
    if args.subset < args.rows:
        frame[: args.subset].write_parquet(paths["subset"], row_group_size=262_144)
    return paths


def _run(mode, args, paths, extra=()):
    cmd = [sys.executable, __file__, "--child", mode, "--train", paths["train"],
           "--test", paths["test"], "--subset-file", paths["subset"],
           "--subset", str(args.subset), "--epochs", str(args.epochs),
           "--subset-epochs", str(args.subset_epochs),
           "--verbose", str(args.verbose), *extra]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    line = f"{mode:16s} rows {result['rows']:>10,d}  peak RSS {result['peak_rss_mib']:7.0f} MiB"
    if "auc" in result:
        line += (f"  epochs {result['epochs']}  fit {result['seconds']:7.1f}s "
                 f"(CPU {result['cpu_s']:7.1f}s)  {result['rows_per_s']:9,.0f} rows/s  "
                 f"test AUC {result['auc']:.4f}")
    else:
        line += f"  {result['seconds']:.1f}s  {result['rows'] / result['seconds']:,.0f} rows/s"
    print(line, flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subset", type=int, default=None,
                        help="rows of the in-memory fit (default: min(rows, 2M))")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--subset-epochs", type=int, default=None,
                        help="epochs of the fits on the subset (default: --epochs); one pass "
                             "over 20M streamed rows sees more data than three over 2M")
    parser.add_argument("--data", default=None,
                        help="folder of train/test/subset.parquet from an earlier run "
                             "(same --rows and --subset) instead of writing new ones")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--test", help=argparse.SUPPRESS)
    parser.add_argument("--subset-file", help=argparse.SUPPRESS)
    parser.add_argument("--model-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--output", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    args.subset = min(args.rows, 2_000_000) if args.subset is None else args.subset
    if args.subset_epochs is None:
        args.subset_epochs = args.epochs
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        if args.data:  # tables written by an earlier run (train/test/subset.parquet)
            paths = {k: os.path.join(args.data, f"{k}.parquet")
                     for k in ("train", "test", "subset")}
        else:
            paths = _write_data(args, folder)
        size = os.path.getsize(paths["train"]) / 2**20
        print(f"make_ctr: {args.rows:,d} training rows ({size:.0f} MiB parquet) + "
              f"{TEST_ROWS:,d} test rows in {time.perf_counter() - start:.0f}s; "
              f"FCNClassifier max_epochs={args.epochs} (subset fits: {args.subset_epochs})",
              flush=True)
        model_file = os.path.join(folder, "model.pkl")
        streamed = _run("streamed", args, paths, ["--model-file", model_file])
        memory = _run("in-memory", args, paths)
        if args.subset < args.rows:
            _run("streamed-subset", args, paths)
        _run("predict", args, paths, ["--model-file", model_file,
                                      "--output", os.path.join(folder, "pred.parquet")])
        print(f"test AUC streamed ({args.rows:,d} rows) - in-memory ({args.subset:,d} rows): "
              f"{streamed['auc'] - memory['auc']:+.4f}")


if __name__ == "__main__":
    main()
