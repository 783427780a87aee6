"""OptFS around AutoInt and FCN against the ungated backbones: test AUC, kept ratio of feature
values, embedding parameters and fit time.

Data: ``ctr`` is ``tabnn.comparison.ctr_benchmark_data`` (``--quick``, the default: 20k training
and 10k test rows; ``--full``: 300k / 100k); ``criteo_sample`` and ``avazu_sample`` (from
``$TABNN_DATA``) are split 80/20, stratified, seed 0. Every model is fitted with
``random_state=0`` on the same rows; the backbones use their defaults (``--quick``: at most 10
epochs) and OptFS its defaults (``--quick``: 5 search epochs).

Usage::

    TABNN_DATA=../shared/data python benchmarks/optfs.py            # quick
    TABNN_DATA=../shared/data python benchmarks/optfs.py --full
    python benchmarks/optfs.py --datasets ctr --backbones FCN --penalties 1e-3 1e-2
"""

from __future__ import annotations

import argparse
import time

import models  # benchmarks/models.py: the shared train / test splits
import pandas as pd
from sklearn.metrics import roc_auc_score

from tabnn import AutoIntClassifier, FCNClassifier, OptFSClassifier

BACKBONES = {"AutoInt": AutoIntClassifier, "FCN": FCNClassifier}
DATASETS = ("ctr", "criteo_sample", "avazu_sample")


def split(name, quick):
    return models.split(name, quick, quick_sizes=(20_000, 10_000))


def run(datasets, backbones, penalties, quick):
    rows = []
    for name in datasets:
        X_tr, X_te, y_tr, y_te = split(name, quick)
        for short in backbones:
            params = {"random_state": 0, **({"max_epochs": 10} if quick else {})}
            backbone = BACKBONES[short](**params)
            start = time.perf_counter()
            backbone.fit(X_tr, y_tr)
            seconds = time.perf_counter() - start
            rows.append({
                "data": name, "model": short, "gate_penalty": "-",
                "auc": roc_auc_score(y_te, backbone.predict_proba(X_te)[:, 1]),
                "kept_ratio": 1.0,
                "embedding_params": sum(p.numel() for p in backbone.module_.embedding.parameters()),
                "seconds": seconds,
            })
            print(rows[-1], flush=True)
            for penalty in penalties:
                optfs = OptFSClassifier(BACKBONES[short](**params), gate_penalty=penalty,
                                        **({"search_epochs": 5} if quick else {}))
                start = time.perf_counter()
                optfs.fit(X_tr, y_tr)
                seconds = time.perf_counter() - start
                rows.append({
                    "data": name, "model": f"OptFS({short})", "gate_penalty": penalty,
                    "auc": roc_auc_score(y_te, optfs.predict_proba(X_te)[:, 1]),
                    "kept_ratio": optfs.kept_ratio_,
                    "embedding_params": optfs.embedding_parameters_["pruned"],
                    "seconds": seconds,
                })
                print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", default=True,
                      help="subsampled CTR table, at most 10 backbone / 5 search epochs")
    size.add_argument("--full", action="store_true", help="the full sizes and defaults")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument("--penalties", nargs="+", type=float,
                        default=[OptFSClassifier().gate_penalty])
    args = parser.parse_args()
    table = run(args.datasets, args.backbones, args.penalties, quick=not args.full)
    print(markdown(table))


def markdown(table):
    """The table as markdown (floats with 4 decimals, parameters as integers)."""
    def cell(value):
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
