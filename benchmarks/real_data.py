"""tabnn's neural models with defaults against LightGBM / HistGradientBoosting defaults on every
real classification set of ``$TABNN_DATA`` with at least 5,000 rows.

Protocol: stratified k-fold cross-validation (seed 0) per data set through
:func:`tabnn.comparison.compare`: every model sees the same folds in this process; test ROC AUC
(one-vs-rest macro for multi-class), logloss, accuracy as mean and standard deviation over the
folds, with the mean fit time. MovieLens-100k is the binary rating >= 4 target.

Modes::

    # quick (default): at most 5,000 rows per set (stratified subsample), 3 folds,
    # AutoInt + FCN, LightGBM, HistGradientBoosting -- about an hour on 2 busy cores
    TABNN_DATA=../shared/data python benchmarks/real_data.py
    # the whole run: every row, 5 folds, every neural model
    TABNN_DATA=../shared/data python benchmarks/real_data.py --full
    # choosing defaults: 20 % of every set is put aside and never read; the folds split the
    # rest, so nothing chosen this way has seen the rows the final run reports
    TABNN_DATA=../shared/data python benchmarks/real_data.py --validation \\
        --numeric-embedding linear piecewise periodic --datasets adult bank_marketing

``--numeric-embedding`` fits each neural model once per value (named ``AutoInt[piecewise]``);
``--params`` sets other parameters of the neural models, e.g. ``--params max_epochs=5``;
``--variant NAME key=value ...`` (repeatable) adds each neural model once more with those
parameters, named ``AutoInt[NAME]``, to compare candidate defaults on the same folds. Values
are Python literals or specifications such as ``numeric_embedding=Periodic(frequency_scale=0.3)``.
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from tabnn.comparison import BASELINES, compare
from tabnn.datasets import list_datasets, load_dataset
from tabnn.datasets._real import _SPECS
from tabnn.estimators import all_estimators
from tabnn.nn.hashed_embedding import UnifiedEmbedding
from tabnn.nn.numeric_embedding import Linear, Periodic, PiecewiseLinear, WithValues

MIN_ROWS = 5000
QUICK_MODELS = ("AutoInt", "FCN")
BASELINE_MODELS = ("LightGBM", "HistGradientBoosting")


def classification_sets(min_rows=MIN_ROWS):
    """``{name: load options}`` of every binary / multi-class set with at least ``min_rows``
    rows (MovieLens-100k as its binary rating >= 4 target)."""
    out = {}
    for name in list_datasets():
        spec = _SPECS[name]
        options = {}
        if spec.task == "regression":
            if "binary" not in spec.options:
                continue
            options = {"binary": True}
        try:
            n = len(load_dataset(name, **options).target)
        except (OSError, ValueError):  # not in this data folder
            continue
        if n >= min_rows:
            out[name] = options
    return out


def neural_models(names, numeric_embeddings, params, variants=None):
    """``{display name: unfitted classifier}`` for the neural models ``names`` (None: all);
    ``variants`` (``{label: params}``) adds each model once more per entry."""
    available = {n.removesuffix("Classifier"): cls for n, cls in all_estimators("neural")
                 if n.endswith("Classifier")}
    names = list(available) if names is None else names
    out = {}
    for name in names:
        for kind in numeric_embeddings or [None]:
            est = available[name](**params)
            label = name
            if kind is not None:
                est.set_params(numeric_embedding=kind)
                label = f"{name}[{kind}]"
            out[label] = est
        for variant, extra in (variants or {}).items():
            out[f"{name}[{variant}]"] = available[name](**{**params, **extra})
    return out


def parse_variant(words):
    """``["small", "attention_head_dim=8", "attend_numeric=False"]`` -> ``("small", {...})``."""
    return words[0], parse_params(words[1:])


def subsample(X, y, max_rows, seed=0):
    if max_rows is None or len(y) <= max_rows:
        return X, y
    rows, _ = train_test_split(np.arange(len(y)), train_size=max_rows, random_state=seed,
                               stratify=y)
    rows = np.sort(rows)
    return X.iloc[rows].reset_index(drop=True), y[rows]


#: specification objects a parameter value may name, e.g. ``Periodic(frequency_scale=0.3)``
SPECS = {"Linear": Linear, "Periodic": Periodic, "PiecewiseLinear": PiecewiseLinear,
         "WithValues": WithValues,
         "UnifiedEmbedding": UnifiedEmbedding}


def parse_value(text):
    """A Python literal, a call of one of :data:`SPECS` with literal arguments, or the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        call = ast.parse(text, mode="eval").body
    except SyntaxError:
        return text
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id in SPECS and not call.args):
        return SPECS[call.func.id](**{k.arg: ast.literal_eval(k.value) for k in call.keywords})
    return text


def parse_params(items):
    out = {}
    for item in items or ():
        key, _, value = item.partition("=")
        out[key] = parse_value(value)
    return out


def summary(tables):
    """One row per (data set, model): AUC mean +- std, its gap to LightGBM, fit seconds."""
    rows = []
    for name, table in tables.items():
        lgb = table.loc[table["model"] == "LightGBM", "auc"]
        lgb_auc = float(lgb.iloc[0]) if len(lgb) else np.nan
        for _, r in table.iterrows():
            rows.append({"data set": name, "rows": table.attrs["rows"], "model": r["model"],
                         "auc": r["auc"], "auc_std": r["auc_std"],
                         "vs LightGBM": r["auc"] - lgb_auc, "logloss": r["logloss"],
                         "accuracy": r["accuracy"], "fit_s": r["fit_seconds"],
                         "epochs": r["epochs"], "note": r["note"]})
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="every row, 5 folds, every neural model (default: quick)")
    parser.add_argument("--validation", action="store_true",
                        help="put 20%% of each set aside unread; report folds of the rest")
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="default: every classification set with >= 5000 rows")
    parser.add_argument("--models", nargs="+", default=None,
                        help="neural models (quick: AutoInt FCN; --full: all)")
    parser.add_argument("--numeric-embedding", nargs="+", default=None,
                        help="fit each neural model with each of these numeric embeddings")
    parser.add_argument("--params", nargs="+", default=None,
                        help="parameters of the neural models, e.g. max_epochs=5")
    parser.add_argument("--variant", action="append", nargs="+", default=None,
                        metavar="NAME key=value",
                        help="each neural model once more with these parameters")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--folds", type=int, default=None, help="default: 3 quick, 5 full")
    parser.add_argument("--max-rows", type=int, default=None,
                        help="stratified subsample per set (default: 5000 quick, all full)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the per-fold rows to this CSV")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)

    folds = args.folds or (5 if args.full else 3)
    max_rows = args.max_rows or (None if args.full else 5000)
    models = args.models or (None if args.full else list(QUICK_MODELS))
    if args.datasets:
        sets = {name: {"binary": True} if _SPECS[name].task == "regression" else {}
                for name in args.datasets}
    else:
        sets = classification_sets()

    tables, fold_rows = {}, []
    for name, options in sets.items():
        data = load_dataset(name, **options)
        X, y = data.data, np.asarray(data.target)
        if args.validation:  # the put-aside part is never used
            keep, _ = train_test_split(np.arange(len(y)), test_size=0.2, random_state=12345,
                                       stratify=y)
            keep = np.sort(keep)
            X, y = X.iloc[keep].reset_index(drop=True), y[keep]
        X, y = subsample(X, y, max_rows)
        estimators = neural_models(models, args.numeric_embedding, parse_params(args.params),
                                   dict(parse_variant(v) for v in args.variant or ()))
        if not args.no_baselines:
            task = "binary" if len(np.unique(y)) == 2 else "multiclass"
            estimators.update({b: BASELINES[b](task) for b in BASELINE_MODELS})
        start = time.perf_counter()
        table = compare(X, y, {k: clone(v) for k, v in estimators.items()}, cv=folds,
                        scoring=["auc", "logloss", "accuracy"], random_state=0)
        table.attrs["rows"] = len(y)
        tables[name] = table
        fold_rows.append(table.attrs["folds"].scores.assign(data_set=name))
        print(f"== {name}: {len(y)} rows, {folds} folds, {time.perf_counter() - start:.0f} s")
        print(summary({name: table}).drop(columns=["data set", "rows"]).to_string(
            index=False, float_format="%.4f"), "\n", flush=True)
    print(summary(tables).to_string(index=False, float_format="%.4f"))
    if args.out:
        pd.concat(fold_rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
