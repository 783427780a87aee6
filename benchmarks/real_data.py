"""AutoInt with default parameters against LightGBM's defaults on real public data sets.

Protocol: one stratified 80/20 split (seed 0) per data set, both models fitted on the same rows in
this process (2 torch threads, LightGBM ``n_jobs=2``); test ROC AUC and logloss of the positive
class (the second of the sorted labels). Data come from ``$TABNN_DATA`` (``tabnn.datasets``).

Usage::

    TABNN_DATA=../shared/data python benchmarks/real_data.py
    TABNN_DATA=../shared/data python benchmarks/real_data.py --datasets frappe adult
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from tabnn import AutoIntClassifier
from tabnn.compare import to_lightgbm_frame
from tabnn.datasets import load_dataset

DEFAULT_SETS = ("frappe", "adult", "bank_marketing", "criteo_sample")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    import lightgbm as lgb

    print(f"{'data set':16s} {'rows':>7s} {'model':10s} {'AUC':>7s} {'logloss':>8s} {'fit s':>6s}")
    for name in args.datasets:
        data = load_dataset(name)
        X, y = data.data, np.asarray(data.target)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=0,
                                                  stratify=y)
        positive = np.unique(y)[1]
        truth = y_te == positive
        models = {
            "LightGBM": lambda: lgb.LGBMClassifier(verbose=-1, random_state=0, n_jobs=2),
            "AutoInt": lambda: AutoIntClassifier(random_state=0),
        }
        for label, make in models.items():
            lgbm = label == "LightGBM"
            train, test = (to_lightgbm_frame(X_tr), to_lightgbm_frame(X_te)) if lgbm else (X_tr, X_te)
            start = time.perf_counter()
            model = make().fit(train, y_tr)
            fit_s = time.perf_counter() - start
            col = list(model.classes_).index(positive)
            p = np.clip(model.predict_proba(test)[:, col], 1e-7, 1 - 1e-7)
            print(f"{name:16s} {len(X):>7,d} {label:10s} {roc_auc_score(truth, p):>7.4f} "
                  f"{log_loss(truth, p):>8.4f} {fit_s:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
