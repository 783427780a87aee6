"""Compare tabnn estimators with LightGBM on the same split; ``python -m tabnn``.

LightGBM needs pandas ``category`` columns (it mispredicts reordered frames and aborts on polars
categoricals), so the comparison hands it a pandas copy with categoricals converted.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

__all__ = ["to_lightgbm_frame", "compare", "ctr_benchmark_data"]


def to_lightgbm_frame(X):
    """A pandas copy of ``X`` with string / boolean / categorical columns as ``category``."""
    if not isinstance(X, pd.DataFrame):
        X = X.to_pandas() if hasattr(X, "to_pandas") else pd.DataFrame(X)
    out = {}
    for name, col in X.items():
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype.kind in "OUSb" or str(
            col.dtype
        ) in ("str", "string"):
            out[name] = col.astype("category")
        else:
            out[name] = col
    return pd.DataFrame(out, index=X.index)


def ctr_benchmark_data(n_samples, random_state=0):
    """The CTR-like table used by the main job and the AutoInt benchmark.

    26 Zipf-distributed categorical fields with cardinalities spread geometrically from 10 to
    100,000, 13 heavy-tailed numeric fields, a label driven by three planted interactions
    (pairwise categorical, categorical x numeric, third order) and seven main effects; the
    high-cardinality fields carry little signal, so memorising them overfits.
    """
    from .datasets import make_ctr

    return make_ctr(
        n_samples=n_samples,
        n_categorical=26,
        n_numeric=13,
        cardinality=[int(c) for c in np.geomspace(10, 100_000, 26)],
        interactions=[("C2", "C4"), ("C6", "I1"), ("C3", "C8", "I2")],
        main_effects=["C10", "C12", "C14", "C16", "I3", "I4", "C20"],
        main_effect_strength=1.0,
        random_state=random_state,
    )


def compare(estimators, X_train, y_train, X_test, y_test, *, lightgbm=True, random_state=0):
    """Fit each estimator (and LightGBM) on the same split and score it on the test rows.

    Parameters
    ----------
    estimators : dict of str -> estimator
        Unfitted classifiers.
    X_train, y_train, X_test, y_test : data
        The split.
    lightgbm : bool, default=True
        Add ``LGBMClassifier`` with default parameters.
    random_state : int, default=0
        Seed of the LightGBM baseline.

    Returns
    -------
    table : pandas.DataFrame
        One row per model: AUC (binary), logloss, accuracy, fit seconds.
    """
    models = dict(estimators)
    if lightgbm:
        import lightgbm as lgb

        models["LightGBM"] = lgb.LGBMClassifier(verbose=-1, random_state=random_state)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    rows = []
    for name, model in models.items():
        Xtr, Xte = (to_lightgbm_frame(X_train), to_lightgbm_frame(X_test)) if name == (
            "LightGBM") else (X_train, X_test)
        start = time.perf_counter()
        model.fit(Xtr, y_train)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(Xte)
        row = {"model": name, "fit_seconds": seconds,
               "logloss": log_loss(y_test, proba, labels=model.classes_),
               "accuracy": accuracy_score(y_test, model.classes_[proba.argmax(1)])}
        if proba.shape[1] == 2:
            row["auc"] = roc_auc_score(y_test, proba[:, 1])
        rows.append(row)
    base = np.bincount(np.unique(y_train, return_inverse=True)[1]) / len(y_train)
    classes = np.unique(y_train)
    rows.append({"model": "base rate", "fit_seconds": 0.0,
                 "logloss": log_loss(y_test, np.tile(base, (len(y_test), 1)), labels=classes),
                 "accuracy": float(np.mean(y_test == classes[base.argmax()])),
                 "auc": 0.5 if len(classes) == 2 else np.nan})
    cols = ["model", "auc", "logloss", "accuracy", "fit_seconds"]
    return pd.DataFrame(rows).reindex(columns=cols)
