"""Every neural tabnn classifier (defaults) against LightGBM: test quality on real and synthetic
data, and training / prediction speed on the CTR table.

Models come from the registry (``tabnn.estimators.all_estimators``), named without the
``Classifier`` suffix (``AutoInt``, ``FCN``, ...), so a new model appears here by itself.

Quality: one stratified 80/20 split (seed 0) per real data set from ``$TABNN_DATA``; ``ctr``
is ``tabnn.comparison.ctr_benchmark_data`` with 300k training and 100k test rows (``--quick``:
50k / 20k). Every model is fitted with its defaults and ``random_state=0`` on the same rows in
this process; LightGBM gets native categorical columns. Speed (``--speed``): one epoch at
batch 4096 on the CTR table's training rows (rows/s of the epoch alone) and prediction of its
test rows (rows/s including encoding), 2 torch threads.

Usage::

    TABNN_DATA=../shared/data python benchmarks/models.py --models FCN AutoInt
    TABNN_DATA=../shared/data python benchmarks/models.py --models FCN --datasets ctr adult
    python benchmarks/models.py --models FCN AutoInt --speed --datasets
    # a candidate default against the defaults, on the same rows
    python benchmarks/models.py --models AutoInt --datasets ctr --params attention_head_dim=32
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedKFold, train_test_split

from tabnn.comparison import compare_split, ctr_benchmark_data
from tabnn.datasets import load_dataset
from tabnn.estimators import all_estimators

from real_data import parse_params  # the same key=value parsing (literals, specifications)

DATASETS = ("ctr", "criteo_sample", "avazu_sample", "frappe", "adult", "bank_marketing")


def classifiers():
    """``{short name: class}`` of every neural classifier in the registry."""
    return {name.removesuffix("Classifier"): cls
            for name, cls in all_estimators("neural") if name.endswith("Classifier")}


def split(name, quick, quick_sizes=(50_000, 20_000)):
    """Train / test split of a data set: ``ctr`` is ``ctr_benchmark_data`` (``quick_sizes``
    training and test rows, else 300k / 100k), the others an 80/20 stratified split."""
    if name == "ctr":
        n_train, n_test = quick_sizes if quick else (300_000, 100_000)
        data = ctr_benchmark_data(n_train + n_test, random_state=0)
        X, y = data.data, np.asarray(data.target)
        return X.iloc[:n_train], X.iloc[n_train:], y[:n_train], y[n_train:]
    data = load_dataset(name)
    X, y = data.data, np.asarray(data.target)
    return train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)


def folds(name, n_folds, quick, quick_sizes=(50_000, 20_000)):
    """``(fold, (X_train, X_test, y_train, y_test))`` of a stratified ``n_folds``-fold split
    (shuffled, seed 0) of every row of a data set (``ctr``: the rows :func:`split` uses), so
    each row of a small sample is a test row once."""
    if name == "ctr":
        X_tr, X_te, y_tr, y_te = split(name, quick, quick_sizes)
        X, y = pd.concat([X_tr, X_te]), np.concatenate([y_tr, y_te])
    else:
        data = load_dataset(name)
        X, y = data.data, np.asarray(data.target)
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    for fold, (train, test) in enumerate(cv.split(np.zeros(len(y)), y)):
        yield fold, (X.iloc[train], X.iloc[test], y[train], y[test])


def quality(models, datasets, quick, params=None):
    tables = []
    for name in datasets:
        X_tr, X_te, y_tr, y_te = split(name, quick)
        table = compare_split({m: cls(random_state=0, **(params or {}))
                               for m, cls in models.items()},
                              X_tr, y_tr, X_te, y_te)
        table.insert(0, "rows", len(X_tr) + len(X_te))
        table.insert(0, "data set", name)
        print(table.to_string(index=False, float_format="%.4f"), "\n", flush=True)
        tables.append(table)
    return pd.concat(tables) if tables else None


def speed(models, quick):
    X_tr, X_te, y_tr, _ = split("ctr", quick)
    rows = []
    for name, cls in models.items():
        clf = cls(random_state=0, batch_size=4096, max_epochs=1, early_stopping=False)
        clf.fit(X_tr, y_tr)
        start = time.perf_counter()
        clf.predict_proba(X_te)
        predict_s = time.perf_counter() - start
        n_params = sum(p.numel() for p in clf.module_.parameters())
        rows.append({"model": name, "train rows/s": len(X_tr) / clf.history_[0]["seconds"],
                     "predict rows/s": len(X_te) / predict_s, "parameters": n_params})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format="%.0f"), flush=True)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=None,
                        help=f"default: all of {sorted(classifiers())}")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--speed", action="store_true", help="also the speed table")
    parser.add_argument("--quick", action="store_true", help="50k / 20k rows of the CTR table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", nargs="+", default=(), metavar="key=value",
                        help="parameters of every model in the quality table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    available = classifiers()
    unknown = set(args.models or ()) - set(available)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; available: {sorted(available)}")
    models = {m: available[m] for m in (args.models or available)}
    table = quality(models, args.datasets, args.quick, parse_params(args.params))
    if table is not None:
        print(table.to_string(index=False, float_format="%.4f"), flush=True)
    if args.speed:
        speed(models, args.quick)


if __name__ == "__main__":
    main()
