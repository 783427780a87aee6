"""Column encoding for the FOLD rule learners.

Every input column becomes a :class:`FeatureData`: a numeric part (floats, NaN where the
cell is not a number), a categorical part (integer codes into the training categories) and a
``present`` flag (False where the cell is missing). A column can have both parts ("mixed"
columns, e.g. an object column holding numbers and strings, as in the FOLD papers): numbers
get ``<=`` / ``>`` literals, strings get ``==`` / ``!=`` literals.

Missing values (None, NaN, pd.NA, +-inf -- the tabnn convention) satisfy no literal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NOT_CAT = -1  # cell is a number or missing: fails every ``==``; ``!=`` decided by ``present``
UNSEEN = -2  # string unseen at fit: fails ``==``, satisfies ``!=``


@dataclass
class FeatureSpec:
    """What was learned about one column at fit time."""

    name: str
    index: int
    role: str  # "numeric", "categorical" or "mixed"
    thresholds: np.ndarray  # sorted unique training numbers (candidate thresholds)
    categories: np.ndarray  # training category labels (object array), sorted when possible


@dataclass
class FeatureData:
    """Encoded values of one column for a set of rows."""

    num: np.ndarray  # float64, NaN where not a (finite) number
    cat: np.ndarray  # int64, category code, NOT_CAT or UNSEEN
    present: np.ndarray  # bool, False where missing
    ncode: np.ndarray | None = None  # fit only: rank of num in thresholds, len(thresholds) else
    ccode: np.ndarray | None = None  # fit only: cat code, len(categories) where not a category


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _split_values(values, as_categorical):
    """Split one column into (floats with NaN, object array of category labels or None, missing).

    ``as_categorical`` forces every non-missing value to be a category label.
    """
    if isinstance(values, pd.Categorical):
        labels = np.asarray(values.astype(object), dtype=object)
        missing = np.asarray(pd.isna(values), dtype=bool)
        num = np.full(len(labels), np.nan)
        return num, labels, missing
    values = np.asarray(values)
    n = len(values)
    if values.dtype.kind in "fiub" and not as_categorical:
        num = values.astype(np.float64, copy=True)
        missing = ~np.isfinite(num)
        num[missing] = np.nan
        return num, None, missing
    if values.dtype.kind in "fiub":  # numeric column declared categorical
        num_all = values.astype(np.float64)
        missing = ~np.isfinite(num_all)
        labels = values.astype(object)
        return np.full(n, np.nan), labels, missing
    obj = values.astype(object, copy=False)
    missing = np.asarray(pd.isna(obj), dtype=bool)
    kind = pd.api.types.infer_dtype(obj, skipna=True)
    if as_categorical or kind in ("string", "bytes", "boolean", "empty", "categorical"):
        return np.full(n, np.nan), obj, missing
    # mixed: numbers become numeric values, everything else a category label
    is_num = np.fromiter((_is_number(v) for v in obj), dtype=bool, count=n) & ~missing
    num = np.full(n, np.nan)
    if is_num.any():
        num[is_num] = obj[is_num].astype(np.float64)
        inf = is_num & ~np.isfinite(num)
        missing = missing | inf
        num[inf] = np.nan
        is_num &= ~inf
    labels = obj.copy()
    labels[is_num] = None
    return num, labels, missing


def _sorted_categories(labels):
    uniques = pd.unique(labels)
    try:
        return np.asarray(sorted(uniques), dtype=object)
    except TypeError:  # unorderable mix (e.g. str and bool)
        order = np.argsort(np.asarray([repr(v) for v in uniques], dtype=str), kind="stable")
        return np.asarray(uniques, dtype=object)[order]


def fit_feature(values, name, index, as_categorical):
    """Learn the spec of one column and encode its training values."""
    num, labels, missing = _split_values(values, as_categorical)
    has_num = ~np.isnan(num)
    thresholds = np.unique(num[has_num])
    if labels is not None:
        is_cat = ~missing & ~has_num
        categories = _sorted_categories(labels[is_cat]) if is_cat.any() else np.empty(0, object)
    else:
        is_cat = np.zeros(len(num), dtype=bool)
        categories = np.empty(0, dtype=object)
    if len(categories) and len(thresholds):
        role = "mixed"
    elif len(categories) or labels is not None:
        role = "categorical"
    else:
        role = "numeric"
    spec = FeatureSpec(name, index, role, thresholds, categories)
    data = encode_feature(spec, values, as_categorical, _split=(num, labels, missing))
    ncode = np.full(len(num), len(thresholds), dtype=np.int64)
    ncode[has_num] = np.searchsorted(thresholds, num[has_num])
    ccode = np.where(data.cat >= 0, data.cat, len(categories)).astype(np.int64)
    data.ncode, data.ccode = ncode, ccode
    return spec, data


def encode_feature(spec, values, as_categorical, _split=None):
    """Encode one column with the categories learned at fit (unseen strings -> UNSEEN)."""
    num, labels, missing = _split if _split is not None else _split_values(values, as_categorical)
    n = len(num)
    cat = np.full(n, NOT_CAT, dtype=np.int64)
    if labels is not None:
        is_cat = ~missing & np.isnan(num)
        if is_cat.any():
            sub = labels[is_cat]
            if len(spec.categories):
                codes = pd.Index(spec.categories, dtype=object).get_indexer(
                    pd.Index(sub, dtype=object)
                ).astype(np.int64)
            else:
                codes = np.full(len(sub), -1, dtype=np.int64)
            codes[codes < 0] = UNSEEN
            cat[is_cat] = codes
    return FeatureData(num=num, cat=cat, present=~missing)


def subset_values(values, mask):
    """Rows ``mask`` of a column value container (ndarray or pandas Categorical)."""
    return values[mask]
