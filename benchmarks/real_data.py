"""AutoInt with default parameters against LightGBM's defaults on real public data sets.

Protocol: one stratified 80/20 split (seed 0) per data set, both models fitted on the same rows in
this process by ``tabnn.compare.compare`` (2 torch threads); test ROC AUC, logloss, accuracy and
fit time, with the base rate. Data come from ``$TABNN_DATA`` (``tabnn.datasets``).

Usage::

    TABNN_DATA=../shared/data python benchmarks/real_data.py
    TABNN_DATA=../shared/data python benchmarks/real_data.py --datasets frappe adult
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from tabnn import AutoIntClassifier
from tabnn.compare import compare
from tabnn.datasets import load_dataset

DEFAULT_SETS = ("frappe", "adult", "bank_marketing", "criteo_sample")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)

    tables = []
    for name in args.datasets:
        data = load_dataset(name)
        X, y = data.data, np.asarray(data.target)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0,
                                                  stratify=y)
        table = compare({"AutoInt": AutoIntClassifier(random_state=0)}, X_tr, y_tr, X_te, y_te)
        table.insert(0, "rows", len(X))
        table.insert(0, "data set", name)
        print(table.to_string(index=False, float_format="%.4f"), "\n", flush=True)
        tables.append(table)
    print(pd.concat(tables).to_string(index=False, float_format="%.4f"))


if __name__ == "__main__":
    main()
