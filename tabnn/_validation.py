"""Turning numpy / pandas / polars input into columns, and every input check.

This is the one gateway through which user data enters tabnn. It never modifies what the user
passes in. DataFrames (pandas, polars, anything narwhals understands) keep their column names
and dtypes; numpy input goes through scikit-learn's own ``validate_data`` so that error messages
are the familiar ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d, validate_data

__all__ = [
    "Column",
    "ColumnTable",
    "validate_X",
    "as_column_table",
    "encode_known_labels",
    "validate_classification_target",
    "validate_regression_target",
    "validate_sample_weight",
]


@dataclass
class Column:
    """One input column.

    Attributes
    ----------
    name : str
        Column name (``"x<i>"`` for input without names).
    values : ndarray or pandas.Categorical
        Numeric columns: the integers themselves for integer dtypes (an int64 / uint64
        array, or an object array of ints with None where missing), so that ids above 2**53
        stay distinct; float64 otherwise (:func:`tabnn.encoding.to_float` reads both).
        Categorical columns: a ``pandas.Categorical`` (fast path, labels kept) or a 1-D
        object array.
    kind : {"numeric", "categorical"}
        What the dtype says the column is (the encoder may override it on request).
    """

    name: str
    values: object
    kind: str


@dataclass
class ColumnTable:
    """Validated input: a list of columns with names, in the estimator's column order."""

    columns: list = field(default_factory=list)
    n_rows: int = 0
    has_names: bool = False

    @property
    def names(self):
        return [c.name for c in self.columns]

    def __len__(self):
        return len(self.columns)

    def __getitem__(self, i):
        return self.columns[i]

    def take(self, rows):
        """A new table with the given rows (an index array or a slice) of every column."""
        cols = [Column(c.name, c.values[rows], c.kind) for c in self.columns]
        n = len(range(self.n_rows)[rows]) if isinstance(rows, slice) else len(rows)
        return ColumnTable(cols, n, self.has_names)


# ----------------------------------------------------------------------------------------------
# column conversion
# ----------------------------------------------------------------------------------------------
_CATEGORICAL_NW = ("String", "Categorical", "Enum", "Boolean", "Object")


def _is_categorical_dtype(dtype):
    return any(dtype == getattr(nw, name) for name in _CATEGORICAL_NW if hasattr(nw, name))


def _object_column_kind(values):
    """An object column is categorical when it holds strings, bytes or bools; else numeric."""
    for v in values:
        if isinstance(v, (str, bytes, bool, np.bool_)):
            return "categorical"
    return "numeric"


def _complex_error(name, dtype):
    # sklearn's check_complex_data matches the first sentence
    return ValueError(f"Complex data not supported: column {name!r} has dtype {dtype}.")


def _exact_integers(values, missing):
    """Whether every present value of an object column is an integer (kept exact as such)."""
    present = values[~missing]
    return present.size > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
        for v in present)


def _numeric_from_any(values, name):
    """Copy of a numeric column: integers stay integers (exact beyond 2**53, None where
    missing), anything else becomes float64 with NaN for pd.NA / None."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.copy()
    if isinstance(values, np.ndarray) and values.dtype.kind in "fb":
        return values.astype(np.float64, copy=True)
    if isinstance(values, np.ndarray) and values.dtype.kind == "c":
        raise _complex_error(name, values.dtype)
    if isinstance(values, np.ndarray) and values.dtype.kind in "mM":
        raise TypeError(
            f"Column {name!r} has a datetime/timedelta dtype; convert it to numbers or drop it."
        )
    arr = np.asarray(values, dtype=object)
    missing = pd.isna(arr)
    if _exact_integers(arr, missing):
        arr = arr.copy()
        arr[missing] = None
        return arr
    if missing.any():
        arr = arr.copy()
        arr[missing] = np.nan
    try:
        return arr.astype(np.float64)
    except TypeError as exc:  # "float() argument must be a string or a real number, not 'dict'"
        raise TypeError(f"Column {name!r} holds values that are neither numbers nor strings: "
                        f"{exc}") from exc


def _from_native_series(s, name):
    """Convert one narwhals Series into a Column."""
    dtype = s.dtype
    native = s.to_native()
    if dtype.is_temporal():
        raise TypeError(
            f"Column {name!r} has temporal dtype {dtype}; convert it to numbers or drop it."
        )
    if isinstance(native, pd.Series) and isinstance(native.dtype, pd.CategoricalDtype):
        return Column(name, native.array, "categorical")
    if _is_categorical_dtype(dtype):
        if dtype == nw.Object:
            values = s.to_numpy()
            kind = _object_column_kind(values)
            if kind == "numeric":
                values = _numeric_from_any(values, name)
            return Column(name, values, kind)
        if dtype == nw.Categorical or dtype == nw.Enum:
            # polars categoricals: the Arrow dictionary becomes a pandas Categorical cheaply
            cat = s.to_pandas().array
            if not isinstance(cat, pd.Categorical):
                cat = pd.Categorical(s.to_numpy())
            return Column(name, cat, "categorical")
        return Column(name, s.to_numpy().astype(object), "categorical")
    if dtype.is_integer():
        if s.null_count() == 0:
            return Column(name, s.to_numpy(), "numeric")
        # to_numpy would go through float64: fill, then put the missing values back as None
        values = s.fill_null(0).to_numpy().astype(object)
        values[s.is_null().to_numpy()] = None
        return Column(name, values, "numeric")
    if dtype.is_numeric():
        values = s.to_numpy()
        if values.dtype == object:
            values = _numeric_from_any(values, name)
        return Column(name, np.asarray(values, dtype=np.float64), "numeric")
    native_dtype = getattr(native, "dtype", dtype)
    if getattr(native_dtype, "kind", "") == "c":
        raise _complex_error(name, native_dtype)
    raise TypeError(
        f"Column {name!r} has unsupported dtype {native_dtype}; convert it to numbers or "
        f"strings, or drop it."
    )


def _check_nonempty(n_rows, n_cols):
    if n_rows < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape=({n_rows}, {n_cols})) while a minimum of 1 "
            "is required."
        )
    if n_cols < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape=({n_rows}, 0)) while a minimum of 1 is "
            "required."
        )


def _is_dataframe(X):
    return nw.dependencies.is_into_dataframe(X) and not isinstance(X, np.ndarray)


def _collect_lazy(X):
    """A polars LazyFrame, collected: every estimator reads its input in memory (out-of-core
    training reads parquet / LazyFrames in batches through its own entry points)."""
    if nw.dependencies.is_polars_lazyframe(X):
        return X.collect()
    return X


def _frame_to_table(X):
    str_names = [str(c) for c in getattr(X, "columns", [])]
    dup = sorted({c for c in str_names if str_names.count(c) > 1})
    if dup:
        raise ValueError(f"Duplicated column names are ambiguous: {dup}")
    frame = nw.from_native(X, eager_only=True)
    names = list(frame.columns)
    _check_nonempty(len(frame), len(names))
    has_names = all(isinstance(c, str) for c in names)
    columns = [_from_native_series(frame.get_column(c), str(c)) for c in names]
    return ColumnTable(columns, len(frame), has_names)


def _array_to_table(X):
    n, p = X.shape
    columns = []
    for j in range(p):
        col = X[:, j]
        if col.dtype == object:
            kind = _object_column_kind(col)
            values = col.copy() if kind == "categorical" else _numeric_from_any(col, f"x{j}")
            columns.append(Column(f"x{j}", values, kind))
        elif col.dtype.kind in "US":
            columns.append(Column(f"x{j}", col.astype(object), "categorical"))
        elif col.dtype.kind == "b":
            columns.append(Column(f"x{j}", col.astype(object), "categorical"))
        else:
            columns.append(Column(f"x{j}", _numeric_from_any(col, f"x{j}"), "numeric"))
    return ColumnTable(columns, n, False)


def as_column_table(X):
    """Convert any supported input into a :class:`ColumnTable` without estimator checks.

    Parameters
    ----------
    X : array-like, pandas or polars DataFrame, or ColumnTable
        The data.

    Returns
    -------
    table : ColumnTable
    """
    if isinstance(X, ColumnTable):
        return X
    X = _collect_lazy(X)
    if _is_dataframe(X):
        return _frame_to_table(X)
    X = check_array(
        X, dtype=None, ensure_all_finite=False, accept_sparse=False, ensure_min_samples=1
    )
    _check_nonempty(*X.shape)
    return _array_to_table(X)


def validate_X(estimator, X, *, reset):
    """Validate ``X`` for ``estimator`` and return its columns in fit order.

    With ``reset=True`` this records ``n_features_in_`` and, for DataFrames whose column names
    are all strings, ``feature_names_in_``. With ``reset=False`` DataFrame columns are matched
    **by name** (a reordered frame gives identical results); missing or unexpected columns raise
    a ``ValueError`` naming them.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator that receives the data.
    X : array-like, pandas or polars DataFrame or polars LazyFrame
        Input data (a LazyFrame is collected). Frames with non-string column names (e.g.
        integers) are matched by name too, though they record no ``feature_names_in_``.
    reset : bool
        Whether this call is a ``fit`` (records the schema) or a later call (checks it).

    Returns
    -------
    table : ColumnTable
    """
    X = _collect_lazy(X)
    if reset:
        estimator.__dict__.pop("_column_names_in", None)
    from_frame = False
    if isinstance(X, ColumnTable):
        table = X
    elif _is_dataframe(X):
        table = _frame_to_table(X)
        from_frame = True
    else:
        # numpy / lists: sklearn's gateway gives the standard messages and bookkeeping
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=None,
            ensure_all_finite=False,
            accept_sparse=False,
            ensure_min_samples=1,
        )
        _check_nonempty(*X.shape)
        table = _array_to_table(X)
        fitted = getattr(estimator, "feature_names_in_", None)
        if not reset and fitted is not None:
            # validate_data already warned; name the columns as at fit for later layers
            for col, fname in zip(table.columns, fitted):
                col.name = str(fname)
            table.has_names = True
        return table

    names = table.names
    if reset:
        estimator.n_features_in_ = len(names)
        if table.has_names:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        else:
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
            if from_frame:  # non-string names (e.g. integers): still matched by name later
                estimator._column_names_in = names
        return table

    fitted = getattr(estimator, "feature_names_in_", None)
    name = type(estimator).__name__
    by_name = getattr(estimator, "_column_names_in", None)
    if fitted is None and by_name is not None and from_frame and not table.has_names:
        return _match_names(table, by_name)
    if fitted is None or not table.has_names:
        if fitted is None and table.has_names:
            warnings.warn(
                f"X has feature names, but {name} was fitted without feature names",
                UserWarning,
            )
        elif fitted is not None:
            warnings.warn(
                f"X does not have valid feature names, but {name} was fitted with feature "
                "names",
                UserWarning,
            )
        if len(names) != estimator.n_features_in_:
            raise ValueError(
                f"X has {len(names)} features, but {name} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
        if fitted is not None:  # positional, named as at fit for the layers below
            for col, fname in zip(table.columns, fitted):
                col.name = str(fname)
            table.has_names = True
        return table
    return _match_names(table, list(fitted))


def _match_names(table, fitted):
    """``table``'s columns in the order of the ``fitted`` names; unmatched names raise."""
    names = table.names
    missing = [c for c in fitted if c not in set(names)]
    extra = [c for c in names if c not in set(fitted)]
    if missing or extra:
        parts = ["The feature names should match those that were passed during fit."]
        if extra:
            parts.append(f"Feature names unseen at fit time: {extra}")
        if missing:
            parts.append(f"Feature names seen at fit time, yet now missing: {missing}")
        raise ValueError("\n".join(parts))
    if names != fitted:
        position = {n: i for i, n in enumerate(names)}
        table = ColumnTable([table.columns[position[c]] for c in fitted], table.n_rows,
                            table.has_names)
    return table


# ----------------------------------------------------------------------------------------------
# targets and weights
# ----------------------------------------------------------------------------------------------
def _target_array(y, n_samples):
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    if _is_dataframe(y) or nw.dependencies.is_into_series(y):
        y = nw.from_native(y, allow_series=True, eager_only=True).to_numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    elif y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    if len(y) != n_samples:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: [{n_samples}, {len(y)}]"
        )
    return y


def _check_no_missing_labels(y, input_name="y"):
    """A clear error for None / pd.NA / NaN labels (they would otherwise fail deep inside
    sorting or label-type detection)."""
    if y.dtype.kind not in "fcO":
        return
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(
            f"{input_name} contains missing values (NaN, None or pd.NA) in "
            f"{int(missing.sum())} of {len(y)} rows; drop those rows or fill the labels."
        )


def validate_classification_target(y, n_samples):
    """Check a classification target and encode it.

    Returns
    -------
    classes : ndarray
        Sorted unique labels (the estimator's ``classes_``).
    y_codes : ndarray of int64
        Index of each label in ``classes``.
    """
    y = _target_array(y, n_samples)
    _check_no_missing_labels(y)
    if y.dtype.kind in "fc" or (y.dtype == object and type_of_target(y) == "continuous"):
        check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name="y")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "The target has only one class "
            f"({classes[0]!r}); a classifier needs at least 2 classes."
        )
    return classes, codes.astype(np.int64)


def encode_known_labels(y, classes, n_samples, input_name="y_val"):
    """Codes of ``y`` in ``classes`` (a fitted ``classes_``); labels outside it are an error."""
    y = _target_array(y, n_samples)
    _check_no_missing_labels(y, input_name)
    if y.dtype.kind in "fc":
        check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name=input_name)
    codes = pd.Categorical(y, categories=classes).codes
    unknown = codes < 0
    if unknown.any():
        raise ValueError(
            f"{input_name} has labels that are not in the training target: "
            f"{sorted({str(v) for v in y[unknown]})[:10]}"
        )
    return codes.astype(np.int64)


def validate_regression_target(y, n_samples):
    """Check a regression target and return it as float64."""
    y = _target_array(y, n_samples)
    if y.dtype == object:
        _check_no_missing_labels(y)
    y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite=True, input_name="y")
    return np.asarray(y, dtype=np.float64)


def validate_sample_weight(sample_weight, n_samples):
    """Return sample weights as a float64 array of length ``n_samples`` (ones when None).

    Weights above 2**64 are rescaled by a power of two (every ratio kept exactly); weights
    whose sum overflows are an error.
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if _is_dataframe(sample_weight) or nw.dependencies.is_into_series(sample_weight):
        sample_weight = nw.from_native(sample_weight, allow_series=True).to_numpy()
    if np.isscalar(sample_weight):
        return np.full(n_samples, float(sample_weight))
    sw = check_array(
        sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
    )
    if sw.ndim != 1:
        raise ValueError(f"Sample weights must be 1D array or scalar, got shape {sw.shape}.")
    if sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == ({sw.shape[0]},), expected ({n_samples},)!"
        )
    if (sw < 0).any():
        raise ValueError("Negative values in data passed to sample_weight")
    if not sw.any():
        raise ValueError("All sample weights are zero: at least one weight must be non-zero.")
    with np.errstate(over="ignore"):
        total = sw.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight sums to infinity (largest weight {sw.max():.3g}); only the ratios "
            "of the weights matter: divide them by a constant."
        )
    sw = np.array(sw, dtype=np.float64, copy=True)
    top = sw.max()
    if top > _MAX_WEIGHT:
        # products of weighted counts must not overflow; an exact power-of-two rescaling keeps
        # every ratio and leaves counts far above any min_frequency
        sw *= 2.0 ** (np.log2(_MAX_WEIGHT) - np.ceil(np.log2(top)))
    return sw


_MAX_WEIGHT = 2.0**64
