"""Test AUC of AutoInt under each ``lr_schedule`` (and ``scoring``) on a small CTR table.

    OMP_NUM_THREADS=1 python benchmarks/lr_schedule.py [--n-samples 20000] [--max-epochs 15]
"""

from __future__ import annotations

import argparse

from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tabnn import AutoIntClassifier
from tabnn.datasets import make_ctr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--max-epochs", type=int, default=15)
    args = parser.parse_args()
    data = make_ctr(n_samples=args.n_samples, n_categorical=8, n_numeric=4,
                    cardinality=(5, 500), interactions=[("C1", "C2"), ("C3", "I1")],
                    random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
    print(f"{'lr_schedule':12s} {'scoring':10s} {'epochs':>6s} {'kept':>4s} {'test AUC':>8s}")
    for schedule, scoring in [("plateau", None), ("cosine", None), ("constant", None),
                              ("plateau", "roc_auc")]:
        clf = AutoIntClassifier(lr_schedule=schedule, scoring=scoring,
                                max_epochs=args.max_epochs, random_state=0)
        clf.fit(X_train, y_train)
        auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
        print(f"{schedule:12s} {str(scoring):10s} {clf.n_iter_:6d} {clf.best_iteration_:4d} "
              f"{auc:8.4f}", flush=True)


if __name__ == "__main__":
    main()
