"""Column encoding for the FOLD rule learners, on top of :class:`tabnn.TabularEncoder`.

Every input column becomes a :class:`FeatureData`: a numeric part (floats, NaN where the
cell is not a number), a categorical part (integer codes into the training categories) and a
``present`` flag (False where the cell is missing). A column can have both parts ("mixed"
columns, e.g. an object column holding numbers and strings, as in the FOLD papers): numbers
get ``<=`` / ``>`` literals, strings get ``==`` / ``!=`` literals.

What is FOLD's own here is only that split of a column into numbers and labels, and the order
of the categories (Python's ordering of the labels, which decides ties between equally good
literals). The labels' vocabulary, the unknown code for labels unseen at fit and the numeric
conversion are the shared encoder's: a :class:`~tabnn.TabularEncoder` is fitted on the label
part of each column.

Missing values (None, NaN, pd.NA, +-inf -- the tabnn convention) satisfy no literal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validation import Column, ColumnTable
from ..encoding import MISSING, UNKNOWN, TabularEncoder, to_float

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
    encoder: TabularEncoder | None = None  # vocabulary of the labels (None: no label part)
    code_map: np.ndarray | None = None  # encoder code -> category code, NOT_CAT or UNSEEN


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
        num = to_float(values)
        return num, None, np.isnan(num)
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


def _python_order(values):
    """Positions of ``values`` in Python's sort order (by ``repr`` when they are unorderable)."""
    try:
        return np.asarray(sorted(range(len(values)), key=values.__getitem__), dtype=np.int64)
    except TypeError:  # unorderable mix (e.g. str and bool)
        return np.argsort(np.asarray([repr(v) for v in values], dtype=str), kind="stable")


def _label_table(labels, is_cat):
    """The label part of a column as a one-column table (None where the cell is no label)."""
    part = np.full(len(is_cat), None, dtype=object)
    part[is_cat] = labels[is_cat]
    return ColumnTable([Column("labels", part, "categorical")], len(part), False)


def fit_feature(values, name, index, as_categorical):
    """Learn the spec of one column and encode its training values."""
    num, labels, missing = _split_values(values, as_categorical)
    has_num = ~np.isnan(num)
    thresholds = np.unique(num[has_num])
    encoder = code_map = None
    categories = np.empty(0, dtype=object)
    if labels is not None:
        encoder = TabularEncoder(min_frequency=1, max_cardinality=None, numeric_scaling=None)
        encoder.fit(_label_table(labels, ~missing & ~has_num))
        vocabulary = encoder.schema_[0].categories
        order = _python_order(vocabulary)
        categories = vocabulary[order]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        code_map = np.empty(len(order) + 2, dtype=np.int64)
        code_map[MISSING], code_map[UNKNOWN] = NOT_CAT, UNSEEN
        code_map[2:] = rank
    if len(categories) and len(thresholds):
        role = "mixed"
    elif len(categories) or labels is not None:
        role = "categorical"
    else:
        role = "numeric"
    spec = FeatureSpec(name, index, role, thresholds, categories, encoder, code_map)
    data = encode_feature(spec, values, as_categorical, _split=(num, labels, missing))
    ncode = np.full(len(num), len(thresholds), dtype=np.int64)
    ncode[has_num] = np.searchsorted(thresholds, num[has_num])
    ccode = np.where(data.cat >= 0, data.cat, len(categories)).astype(np.int64)
    data.ncode, data.ccode = ncode, ccode
    return spec, data


def encode_feature(spec, values, as_categorical, _split=None):
    """Encode one column with the categories learned at fit (unseen labels -> UNSEEN)."""
    num, labels, missing = _split if _split is not None else _split_values(values, as_categorical)
    cat = np.full(len(num), NOT_CAT, dtype=np.int64)
    if labels is not None:
        is_cat = ~missing & np.isnan(num)
        if spec.encoder is None:  # no labels at fit: none of them is a known category
            cat[is_cat] = UNSEEN
        elif is_cat.any():
            codes = spec.encoder.encode(_label_table(labels, is_cat)).codes[:, 0]
            cat = spec.code_map[codes]
    return FeatureData(num=num, cat=cat, present=~missing)
