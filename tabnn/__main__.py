"""``python -m tabnn``: the main job; ``python -m tabnn compare``: tabnn vs boosting on your data.

``python -m tabnn`` trains AutoInt on an embedded synthetic CTR table next to LightGBM (no
download). ``python -m tabnn compare --csv my.csv --target y`` cross-validates every tabnn
estimator that applies next to LightGBM, HistGradientBoosting and a linear model
(:func:`tabnn.compare`).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import AutoIntClassifier
from .comparison import compare, compare_split, ctr_benchmark_data, format_leaderboard

#: Default seconds per neural fit of ``python -m tabnn compare`` (``--time-budget``).
DEFAULT_TIME_BUDGET = 20.0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m tabnn",
        description="Train AutoInt on a synthetic CTR-like table (tabnn.datasets.make_ctr) "
        "and print its test scores next to LightGBM's.",
        epilog="To compare every model on your own data: python -m tabnn compare --help",
    )
    parser.add_argument("--rows", type=int, default=60_000, help="rows (train + test)")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    files = [a for a in argv if Path(a).suffix.lower() in (".csv", ".parquet", ".pq")]
    if files:
        flag = "--csv" if files[0].lower().endswith(".csv") else "--parquet"
        parser.error(f"to compare models on {files[0]}, run: python -m tabnn compare "
                     f"{flag} {files[0]} --target COLUMN")
    args = parser.parse_args(argv)

    data = ctr_benchmark_data(args.rows, random_state=args.random_state)
    n_test = int(args.rows * args.test_fraction)
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = X[:-n_test], X[-n_test:], y[:-n_test], y[-n_test:]
    print(f"make_ctr: {len(X_train):,} train / {n_test:,} test rows, {X.shape[1]} columns "
          f"(26 categorical up to 100k values, 13 numeric), base rate {y_train.mean():.3f}")
    table = compare_split(
        {"tabnn AutoIntClassifier": AutoIntClassifier(random_state=args.random_state,
                                                      verbose=args.verbose)},
        X_train, y_train, X_test, y_test, random_state=args.random_state,
    )
    columns = ["model", "auc", "logloss", "accuracy", "fit_seconds"]
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(table[columns].to_string(index=False))
    return 0


def _compare_parser():
    parser = argparse.ArgumentParser(
        prog="python -m tabnn compare",
        description="Cross-validate every tabnn estimator that applies to the task (at its "
        "defaults) next to LightGBM, HistGradientBoosting, a linear model and the base rate, "
        "all on the same folds, and print the leaderboard (best per column in bold).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="PATH", help="a CSV file (read with pandas)")
    source.add_argument("--parquet", metavar="PATH", help="a parquet file (read with polars)")
    source.add_argument("--dataset", metavar="NAME",
                        help="a tabnn.datasets name (tabnn.datasets.list_datasets())")
    parser.add_argument("--target", metavar="COL",
                        help="target column (required with --csv / --parquet)")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="only these (e.g. AutoInt FCN LightGBM linear); default: all")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--cv", type=int, default=5, metavar="K", help="K folds (default 5)")
    split.add_argument("--test-size", type=float, metavar="F",
                       help="one hold-out split with this test fraction instead of folds")
    parser.add_argument("--task", choices=["auto", "binary", "multiclass", "regression"],
                        default="auto", help="default: read from the target")
    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET, metavar="S",
                        help=f"seconds per neural fit (default {DEFAULT_TIME_BUDGET:g}; "
                        "0: no limit); training stops before an epoch that would end past it")
    parser.add_argument("--rows", type=int, metavar="N",
                        help="use a random sample of N rows")
    parser.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                        help="a parameter for every model that has it, e.g. --set "
                        "max_epochs=5 (repeatable)")
    parser.add_argument("--out", metavar="PATH", help="also write the table (.md or .csv)")
    parser.add_argument("--plot", metavar="PATH",
                        help="score against fit time, one point per model (needs matplotlib)")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


def _read(args, parser):
    """``(X, y, description)`` from the command line's data source."""
    if args.dataset:
        from .datasets import load_dataset

        data = load_dataset(args.dataset)
        X, y = data.data, np.asarray(data.target)
        if args.target:
            parser.error("--target is the data set's own with --dataset")
        name = args.dataset
    else:
        if not args.target:
            parser.error("--target COL is required with --csv / --parquet")
        path = args.csv or args.parquet
        if args.csv:
            frame = pd.read_csv(path)
        else:
            import polars as pl

            frame = pl.read_parquet(path)
        if args.target not in frame.columns:
            parser.error(f"no column {args.target!r} in {path}; columns: "
                         f"{', '.join(map(str, frame.columns))}")
        y = frame[args.target].to_numpy()
        X = frame.drop(args.target) if hasattr(frame, "lazy") else frame.drop(
            columns=args.target)
        keep = ~pd.isna(y)
        if not keep.all():
            X, y = (X.filter(keep) if hasattr(X, "lazy") else X[keep]), y[keep]
        name = Path(path).name
    if args.rows and args.rows < len(y):
        rows = np.sort(np.random.default_rng(args.random_state).choice(
            len(y), args.rows, replace=False))
        X = X[rows] if hasattr(X, "lazy") else (
            X.iloc[rows] if hasattr(X, "iloc") else X[rows])
        y = y[rows]
    return X, y, name


def _parse_set(values, parser):
    params = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects PARAM=VALUE, got {item!r}")
        try:
            params[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key.strip()] = value
    return {"*": params} if params else None


def compare_main(argv=None):
    """``python -m tabnn compare``: see ``--help``."""
    parser = _compare_parser()
    args = parser.parse_args(argv)
    X, y, name = _read(args, parser)
    cv = args.test_size if args.test_size is not None else args.cv
    budget = args.time_budget if args.time_budget and args.time_budget > 0 else None
    start = time.perf_counter()
    table = compare(X, y, models=args.models, cv=cv, task=args.task,
                    params=_parse_set(args.set, parser), time_budget=budget,
                    random_state=args.random_state, verbose=0 if args.quiet else 1)
    n_columns = X.shape[1]
    split = (f"one {args.test_size:g} hold-out split" if args.test_size is not None else
             f"{args.cv}-fold CV")
    header = (f"{name}: {len(y):,} rows, {n_columns} columns, {table.attrs['task']}; "
              f"{split} (seed {args.random_state}); time budget "
              + (f"{budget:g} s per neural fit" if budget else "none")
              + f"; {time.perf_counter() - start:.0f} s in all")
    print(header)
    if table.attrs["interrupted"]:
        print("interrupted (Ctrl-C): the models finished so far")
    text = format_leaderboard(table)
    print(text)
    if args.out:
        if args.out.lower().endswith(".csv"):
            table.to_csv(args.out, index=False)
        else:
            Path(args.out).write_text(header + "\n\n" + text + "\n")
    if args.plot:
        from .comparison import plot_leaderboard

        ax = plot_leaderboard(table)
        ax.figure.suptitle(name)
        ax.figure.savefig(args.plot, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
