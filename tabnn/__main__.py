"""``python -m tabnn``: train AutoInt on an embedded synthetic CTR table, next to LightGBM."""

from __future__ import annotations

import argparse

import pandas as pd

from . import AutoIntClassifier
from .compare import compare, ctr_benchmark_data


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tabnn",
        description="Train AutoInt on a synthetic CTR-like table (tabnn.datasets.make_ctr) "
        "and print its test scores next to LightGBM's.",
    )
    parser.add_argument("--rows", type=int, default=60_000, help="rows (train + test)")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)

    data = ctr_benchmark_data(args.rows, random_state=args.random_state)
    n_test = int(args.rows * args.test_fraction)
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = X[:-n_test], X[-n_test:], y[:-n_test], y[-n_test:]
    print(f"make_ctr: {len(X_train):,} train / {n_test:,} test rows, {X.shape[1]} columns "
          f"(26 categorical up to 100k values, 13 numeric), base rate {y_train.mean():.3f}")
    table = compare(
        {"tabnn AutoIntClassifier": AutoIntClassifier(random_state=args.random_state,
                                                      verbose=args.verbose)},
        X_train, y_train, X_test, y_test, random_state=args.random_state,
    )
    with pd.option_context("display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
