"""OptFS around AutoInt and FCN against the ungated backbones: test AUC, kept ratio of feature
values, embedding parameters and fit time.

Data: ``ctr`` is ``tabnn.comparison.ctr_benchmark_data`` (``--quick``, the default: 20k training
and 10k test rows; ``--full``: 300k / 100k); ``criteo_sample`` and ``avazu_sample`` (from
``$TABNN_DATA``) are split 80/20, stratified, seed 0 (``--folds K``: stratified K-fold
cross-validation over every row instead, so a small sample's verdict does not rest on one
1,500-row test set; fits are paired by fold and seed). Every model is fitted with
``random_state=0`` on the same rows; the backbones use their defaults (``--quick``: at most 10
epochs) and OptFS its defaults (``--quick``: 5 search epochs). ``--min-frequency 2`` gives
backbones and OptFS the paper's preprocessing (values seen once merged) in place of the
encoder's default 10.

Columns: ``values`` is the number of gated (field, code) values, i.e. the encoder's codes of
every categorical field, its reserved missing and unknown codes included; ``kept_ratio`` the
share of them whose gate stayed open (each value counts once, however frequent);
``kept_occurrences`` the share of the training rows' (row, field) cells whose value kept its own
vector; ``embedding_params`` the parameters of the embedding (categorical table and numeric
vectors) the predicting model uses. ``--count-threshold`` adds rows ``count(<backbone>)``: the
backbone alone with the ``min_frequency`` that leaves it as many codes as the OptFS fit before
it kept (the simplest selection of the same size; values under it share the unknown vector).

Usage::

    TABNN_DATA=../shared/data python benchmarks/optfs.py            # quick
    TABNN_DATA=../shared/data python benchmarks/optfs.py --full
    python benchmarks/optfs.py --datasets ctr --backbones FCN --penalties 0.3 3
    python benchmarks/optfs.py --seeds 0 1 2 --min-frequency 2   # mean, spread, paired change
    python benchmarks/optfs.py --summarize a.csv b.csv   # the same from runs written by --csv
    python benchmarks/optfs.py --params warmup_epochs=3 --skip-backbone   # OptFS variant only
    python benchmarks/optfs.py --full --datasets criteo_sample avazu_sample --folds 5
    python benchmarks/optfs.py --count-threshold   # and the count threshold of the same size
"""

from __future__ import annotations

import argparse
import itertools
import time

import models  # benchmarks/models.py: the shared train / test splits
from real_data import parse_params  # the same key=value parsing
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from tabnn import AutoIntClassifier, FCNClassifier, OptFSClassifier
from tabnn.encoding import UNKNOWN

BACKBONES = {"AutoInt": AutoIntClassifier, "FCN": FCNClassifier}
DATASETS = ("ctr", "criteo_sample", "avazu_sample")


def split(name, quick):
    return models.split(name, quick, quick_sizes=(20_000, 10_000))


def kept_occurrences(optfs, X):
    """Share of the (row, categorical field) cells of ``X`` whose value keeps its own vector."""
    codes = optfs.estimator_.encoder_.encode(X).codes
    kept = np.concatenate(list(optfs.value_support_.values()))
    offsets = np.cumsum([0] + [len(m) for m in optfs.value_support_.values()])[:-1]
    return float(kept[codes + offsets].mean())


def count_threshold(backbone, params, X, n_codes):
    """The smallest ``min_frequency`` at which the backbone's encoder, fitted on ``X``, has at
    most ``n_codes`` categorical codes: the count threshold of the same size as an OptFS
    selection (values below it share their field's unknown vector, as pruned values do)."""
    def codes(threshold):
        encoder = BACKBONES[backbone](**{**params, "min_frequency": threshold})._new_encoder()
        return sum(spec.n_codes for spec in encoder.fit(X).schema_
                   if spec.role == "categorical")

    low = high = BACKBONES[backbone](**params).min_frequency
    while codes(high) > n_codes and high <= len(X):
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if codes(mid) > n_codes else (low, mid)
    return high


def label(backbone, optfs_params=None):
    """``OptFS(AutoInt)``, or with non-default parameters ``OptFS(AutoInt; warmup_epochs=3)``."""
    extra = "".join(f"; {k}={v}" for k, v in (optfs_params or {}).items())
    return f"OptFS({backbone}{extra})"


def splits(name, quick, folds=None):
    """``(data label, fold, (X_train, X_test, y_train, y_test))``: the one fixed split, or
    with ``folds=K`` the K folds of a stratified cross-validation (label ``<name>_cvK``)."""
    if folds is None:
        yield name, 0, split(name, quick)
        return
    for fold, data in models.folds(name, folds, quick, quick_sizes=(20_000, 10_000)):
        yield f"{name}_cv{folds}", fold, data


def run(datasets, backbones, penalties, quick, min_frequency=None, seeds=(0,),
        optfs_params=None, backbone=True, folds=None, count=False):
    """One row per fit; ``optfs_params`` are OptFS parameters, ``backbone=False`` leaves out
    the ungated fits (a variant compared with backbone rows of an earlier run: the seed and
    fold pair them), ``folds=K`` cross-validates instead of the fixed split, ``count=True``
    adds after every OptFS fit the backbone alone at the count threshold of the same size
    (model ``count(<backbone>)``, its ``gate_penalty`` the one of the OptFS fit it matches)."""
    rows = []
    for name, fold, (X_tr, X_te, y_tr, y_te) in itertools.chain.from_iterable(
            splits(d, quick, folds) for d in datasets):
        for short, seed in itertools.product(backbones, seeds):
            params = {"random_state": seed, **({"max_epochs": 10} if quick else {}),
                      **({} if min_frequency is None else {"min_frequency": min_frequency})}
            if backbone:
                ungated = BACKBONES[short](**params)
                start = time.perf_counter()
                ungated.fit(X_tr, y_tr)
                seconds = time.perf_counter() - start
                rows.append({
                    "data": name, "fold": fold, "model": short, "seed": seed,
                    "gate_penalty": "-",
                    "min_frequency": ungated.min_frequency,
                    "auc": roc_auc_score(y_te, ungated.predict_proba(X_te)[:, 1]),
                    "values": int(sum(ungated.module_.embedding.cardinalities)),
                    "kept_ratio": 1.0, "kept_occurrences": 1.0,
                    "embedding_params": sum(p.numel()
                                            for p in ungated.module_.embedding.parameters()),
                    "seconds": seconds,
                })
                print(rows[-1], flush=True)
            for penalty in penalties:
                optfs = OptFSClassifier(BACKBONES[short](**params), gate_penalty=penalty,
                                        **({"search_epochs": 5} if quick else {}),
                                        **(optfs_params or {}))
                start = time.perf_counter()
                optfs.fit(X_tr, y_tr)
                seconds = time.perf_counter() - start
                rows.append({
                    "data": name, "fold": fold, "model": label(short, optfs_params),
                    "seed": seed,
                    "gate_penalty": str(penalty),
                    "min_frequency": optfs.estimator_.min_frequency,
                    "auc": roc_auc_score(y_te, optfs.predict_proba(X_te)[:, 1]),
                    "values": optfs.n_values_,
                    "kept_ratio": optfs.kept_ratio_,
                    "kept_occurrences": kept_occurrences(optfs, X_tr),
                    "embedding_params": optfs.embedding_parameters_["pruned"],
                    "seconds": seconds,
                })
                print(rows[-1], flush=True)
                if count:
                    rows.append(_count_row(short, params, optfs, X_tr, X_te, y_tr, y_te,
                                           dict(data=name, fold=fold, seed=seed,
                                                gate_penalty=str(penalty))))
                    print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _count_row(short, params, optfs, X_tr, X_te, y_tr, y_te, keys):
    """Fit the backbone at the count threshold that keeps as many codes as ``optfs`` kept."""
    threshold = count_threshold(short, params, X_tr,
                                round(optfs.kept_ratio_ * optfs.n_values_))
    model = BACKBONES[short](**{**params, "min_frequency": threshold})
    start = time.perf_counter()
    model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - start
    codes = model.encoder_.encode(X_tr).codes
    return {**keys, "model": f"count({short})",
            # the backbone's threshold, so that the summary pairs the row with its fits
            "min_frequency": optfs.estimator_.min_frequency, "threshold": threshold,
            "auc": roc_auc_score(y_te, model.predict_proba(X_te)[:, 1]),
            "values": optfs.n_values_,
            "kept_ratio": sum(model.module_.embedding.cardinalities) / optfs.n_values_,
            "kept_occurrences": float((codes != UNKNOWN).mean()),
            "embedding_params": sum(p.numel() for p in model.module_.embedding.parameters()),
            "seconds": seconds}


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
    parser.add_argument("--min-frequency", type=int, default=None,
                        help="the backbones' min_frequency (default: theirs, 10)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0],
                        help="random_state of every model (several: one fit per seed, same rows)")
    parser.add_argument("--folds", type=int, default=None, metavar="K",
                        help="stratified K-fold cross-validation over every row instead of "
                             "the fixed split: each sample row is a test row once")
    parser.add_argument("--params", nargs="+", default=(), metavar="key=value",
                        help="OptFS parameters, e.g. warmup_epochs=3")
    parser.add_argument("--count-threshold", action="store_true",
                        help="after every OptFS fit, fit the backbone alone with the count "
                             "threshold (min_frequency) that keeps as many values")
    parser.add_argument("--skip-backbone", action="store_true",
                        help="fit OptFS only (pair with backbone rows of an earlier --csv)")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--summarize", nargs="+", metavar="CSV",
                        help="fit nothing: summarise rows written by earlier runs (--csv)")
    args = parser.parse_args()
    if args.summarize:
        table = pd.concat([pd.read_csv(f, dtype={"gate_penalty": str}) for f in args.summarize])
    else:
        table = run(args.datasets, args.backbones, args.penalties, quick=not args.full,
                    min_frequency=args.min_frequency, seeds=args.seeds,
                    optfs_params=parse_params(args.params), backbone=not args.skip_backbone,
                    folds=args.folds, count=args.count_threshold)
        if args.csv:
            table.to_csv(args.csv, index=False)
        print(markdown(table))
    if table.seed.nunique() > 1 or table.get("fold", pd.Series([0])).nunique() > 1:
        print()
        print(markdown(summary(table)))


def summary(table):
    """Per data set and model: mean and standard deviation over the seeds (and folds), and
    the AUC change against the ungated backbone of the same seed and fold (paired: same rows,
    same seed)."""
    if "fold" not in table:  # written before --folds existed: one fixed split
        table = table.assign(fold=0)
    keys = ["data", "min_frequency", "model", "seed", "fold"]
    base = table[table.gate_penalty == "-"].set_index(keys).auc
    backbone = table.model.str.replace(r"(?:OptFS|count)\(([^;)]*).*\)", r"\1", regex=True)
    # NaN where the run has no backbone row of that seed (--skip-backbone: --summarize it
    # together with the --csv of a run that has them)
    change = table.auc.to_numpy() - base.reindex(list(zip(
        table.data, table.min_frequency, backbone, table.seed, table.fold))).to_numpy()
    grouped = table.assign(auc_change=change).groupby(
        ["data", "min_frequency", "model", "gate_penalty"], sort=False)
    out = grouped.agg(fits=("seed", "size"), auc=("auc", "mean"), auc_sd=("auc", "std"),
                      auc_change=("auc_change", "mean"), auc_change_sd=("auc_change", "std"),
                      auc_change_se=("auc_change", lambda c: c.std() / np.sqrt(c.count())),
                      kept_ratio=("kept_ratio", "mean"),
                      kept_occurrences=("kept_occurrences", "mean"),
                      embedding_params=("embedding_params", "mean"),
                      seconds=("seconds", "mean"))
    out["embedding_params"] = out["embedding_params"].round().astype(int)
    return out.reset_index()


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
