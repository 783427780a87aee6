"""The shared categorical encoding layer: :class:`TabularEncoder`, :class:`FieldSpec`,
:class:`EncodedTable`.

Every estimator in tabnn reads its input through this module. Conventions (fixed, relied upon
by every model):

* categorical code ``0`` = missing, ``1`` = unknown or rare (below ``min_frequency``),
  ``2 ..`` = vocabulary in sorted order; columns with more than ``max_cardinality`` frequent
  values are hashed with a stable 64-bit FNV-1a hash of the value's text into
  ``max_cardinality`` buckets (codes ``2 ..``), the same on every process and machine;
* numeric values are scaled (``numeric_scaling``); missing values (NaN, None, and also
  ``+-inf``, which tabnn treats as missing) become 0 in the scaled view and are flagged in
  ``numeric_missing``; the untouched floats stay available as ``raw``;
* every statistic honours ``sample_weight`` (a weight of k is the same as k copies of a row).

Besides the encoder, the module offers the pieces other learners build on: :func:`column_roles`
(which columns are categorical) and :func:`to_float` (a column's numbers under the missing-value
convention above). :meth:`TabularEncoder.partial_fit` grows the vocabularies batch by batch for
data that arrives in chunks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xxhash
from scipy.special import ndtri
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._params import Boolean, Interval, InstanceOf, Options, validate_params
from ._validation import ColumnTable, as_column_table, validate_sample_weight, validate_X

__all__ = [
    "TabularEncoder",
    "FieldSpec",
    "EncodedTable",
    "MISSING",
    "UNKNOWN",
    "column_roles",
    "stable_hash",
    "to_float",
]

MISSING = 0
UNKNOWN = 1
N_RESERVED = 2
#: numeric columns with at most this many distinct training values keep their frequent values
#: (``FieldSpec.values``); LightGBM's default ``max_bin`` gives such columns a bin per value too
MAX_DISCRETE_VALUES = 255


def stable_hash(values):
    """Stable 64-bit hash of the text of each value: XXH3-64 (seed 0) of its UTF-8 bytes.

    The value does not depend on the process, the machine or the release: XXH3 is a
    specified, frozen function (the ``xxhash`` library), and the same value always falls
    into the same bucket. Time is linear in the total length of the text.

    .. versionchanged:: 0.2.0
       XXH3-64 replaces a numpy FNV-1a loop whose time grew with the longest value times the
       number of values. Hashed columns (``max_cardinality`` exceeded) get different buckets
       than under 0.1.0: refit encoders and models saved with 0.1.0 that hash a column.

    Parameters
    ----------
    values : array-like of objects
        Values to hash; each is hashed through ``str(value)`` encoded as UTF-8.

    Returns
    -------
    hashes : ndarray of uint64
    """
    digest = xxhash.xxh3_64_intdigest
    flat = np.asarray(values, dtype=object).ravel()
    return np.fromiter((digest(str(v).encode("utf-8", "surrogatepass")) for v in flat),
                       dtype=np.uint64, count=len(flat))


#: value hash of a value pooled as rare or unseen (0 marks missing)
RARE_HASH = np.uint64(1)


def _nonzero_hashes(values):
    """:func:`stable_hash` of ``values`` moved off the two reserved hashes 0 and 1."""
    h = stable_hash(values)
    h[h <= RARE_HASH] += np.uint64(2)
    return h


def _pool_rare(spec, h):
    """``h`` with the hashes outside ``spec.frequent_hashes`` set to ``RARE_HASH``."""
    frequent = spec.frequent_hashes
    if frequent is None:
        return h
    pos = np.minimum(np.searchsorted(frequent, h), max(len(frequent) - 1, 0))
    known = frequent[pos] == h if len(frequent) else np.zeros(len(h), dtype=bool)
    return np.where(known, h, RARE_HASH)


def _hash_codes(spec, h):
    """Codes of the (pooled) hashes ``h`` of a hashed field: ``RARE_HASH`` -> unknown, else
    a bucket from 2."""
    buckets = (h % np.uint64(spec.n_codes - N_RESERVED)).astype(np.int64) + N_RESERVED
    return np.where(h == RARE_HASH, UNKNOWN, buckets)


def _sort_weighted(x, w):
    """``x`` sorted and the cumulative weights in that order."""
    if w.size and (w == w[0]).all():  # equal weights: the order of w does not matter
        return np.sort(x), np.cumsum(w)
    order = np.argsort(x, kind="stable")
    return x[order], np.cumsum(w[order])


def _sorted_quantiles(xs, cw, probs):
    """Inverted-CDF weighted quantiles at ``probs`` of sorted ``xs`` with cumulative weights
    ``cw``; consistent with row repetition (weight k gives the same as k copies)."""
    total = cw[-1]
    idx = np.searchsorted(cw, np.asarray(probs) * total - 1e-12 * total, side="left")
    return xs[np.clip(idx, 0, len(xs) - 1)]


def _signed_log(x):
    return np.sign(x) * np.log1p(np.abs(x))


def _available_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def map_columns(func, items, n_rows):
    """``[func(*item) for item in items]``, in threads when the table is large.

    Column work here is numpy sorting, searching and gathering, which releases the GIL; on
    small tables a thread pool would cost more than it saves.
    """
    items = list(items)
    workers = min(len(items), _available_cpus())
    if workers < 2 or n_rows * len(items) < 500_000:
        return [func(*item) for item in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda item: func(*item), items))


@dataclass
class FieldSpec:
    """What the encoder learned about one input column.

    Attributes
    ----------
    name : str
        Column name.
    role : {"categorical", "numeric"}
        How the column is encoded.
    index : int
        Position of the column in the input (fit) order.
    n_codes : int
        Categorical: number of codes including the two reserved ones (missing, unknown);
        numeric: 0.
    hashed : bool
        Whether the column is hashed into buckets instead of using a vocabulary.
    categories : ndarray or None
        Vocabulary; code ``c >= 2`` decodes to ``categories[c - 2]``. None when hashed/numeric.
    counts : ndarray or None
        Weighted training count of each vocabulary value (categorical with vocabulary).
    bin_edges : ndarray or None
        Numeric: inner quantile edges used by :meth:`TabularEncoder.encode_binned`.
    has_missing : bool
        Whether missing values were seen at fit.
    frequent_hashes : ndarray of uint64 or None
        Value-hash mode with ``min_frequency > 1``: the sorted hashes of the values seen at
        least ``min_frequency`` times; the others pool into the unknown code and hash. None:
        every value keeps its own hash.
    values : ndarray or None
        Numeric with at most :data:`MAX_DISCRETE_VALUES` distinct training values (counts,
        ratings, ages, amounts on a few levels): the sorted values seen at least
        ``min_frequency`` times, which can get vectors of their own
        (:class:`tabnn.nn.numeric_embedding.WithValues`). None otherwise.
    value_shares : ndarray or None
        Share of the column's present (weighted) training rows that hold each of ``values``.
    """

    name: str
    role: str
    index: int
    n_codes: int = 0
    hashed: bool = False
    categories: np.ndarray | None = None
    counts: np.ndarray | None = None
    bin_edges: np.ndarray | None = None
    has_missing: bool = False
    frequent_hashes: np.ndarray | None = None
    scaling: dict = field(default_factory=dict)
    values: np.ndarray | None = None
    value_shares: np.ndarray | None = None

    @property
    def cardinality(self):
        """Number of distinct codes the field can take (bins + missing for numeric)."""
        if self.role == "categorical":
            return self.n_codes
        return len(self.bin_edges) + 2


@dataclass
class EncodedTable:
    """Encoded data ready for a model.

    Attributes
    ----------
    codes : ndarray of int64, shape (n, Fc)
        Categorical codes, categorical fields in input order.
    numeric : ndarray of float32, shape (n, Fn)
        Scaled numeric values, missing -> 0.
    numeric_missing : ndarray of bool, shape (n, Fn)
        True where the numeric value was missing (NaN, None or +-inf).
    raw : ndarray of float64, shape (n, Fn)
        Untouched numeric values, NaN where missing.
    categorical_fields, numeric_fields : list of FieldSpec
        The fields of ``codes`` and of the numeric arrays, in column order.
    value_hashes : ndarray of uint64, shape (n, Fc), or None
        With ``TabularEncoder(value_hashes=True)``: :func:`stable_hash` of each raw
        categorical value (never 0), 0 where missing; a value unseen at fit gets its own hash.
    """

    codes: np.ndarray
    numeric: np.ndarray
    numeric_missing: np.ndarray
    raw: np.ndarray
    categorical_fields: list
    numeric_fields: list
    value_hashes: np.ndarray | None = None

    @property
    def n_rows(self):
        return self.codes.shape[0] if self.codes.size else self.numeric.shape[0]


def _factorize(values):
    """(inverse codes with -1 for missing, uniques as object array) for one column.

    Integer arrays are factorized as integers (ids above 2**53 stay distinct); in an object
    column, ``True`` and ``1`` stay two values (Python's ``True == 1`` would merge them).
    """
    if isinstance(values, pd.Categorical):
        codes = values.codes.astype(np.int64)
        return codes, np.asarray(values.categories, dtype=object)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        codes, uniques = pd.factorize(values)
        return codes.astype(np.int64), uniques.astype(object)
    keyed = _bool_keys(np.asarray(values, dtype=object))
    codes, uniques = pd.factorize(keyed, use_na_sentinel=True)
    if keyed is not values:
        uniques = [u.value if isinstance(u, _BoolKey) else u for u in uniques]
    out = np.empty(len(uniques), dtype=object)
    out[:] = list(uniques)
    return codes.astype(np.int64), out


def _bool_keys(values, force=False):
    """``values`` with each bool wrapped in :class:`_BoolKey` when the array mixes bools and
    other values (or ``force``), so that hashing tells ``True`` from ``1``; else ``values``."""
    is_bool = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), bool, len(values))
    if not is_bool.any() or not (force or (~is_bool & ~pd.isna(values)).any()):
        return values
    keyed = np.array(values, dtype=object, copy=True)
    keyed[is_bool] = [_BoolKey(v) for v in keyed[is_bool]]
    return keyed


class _BoolKey:
    """A bool that is equal only to the same bool (not to 1 or 0)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = bool(value)

    def __eq__(self, other):
        return isinstance(other, _BoolKey) and other.value == self.value

    def __hash__(self):
        return hash(("bool", self.value))


def _text_key(value):
    """The text a categorical value is matched by when its type changed between fit and
    predict (75001 vs "75001" vs 75001.0, True vs "True")."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _sort_key(values):
    return np.argsort(np.asarray([str(v) for v in values], dtype=str), kind="stable")


def column_roles(X, categorical_features="auto"):
    """The role of every column of ``X``: ``"categorical"`` or ``"numeric"``.

    The rule every tabnn estimator uses to decide how a column is read; learners with their
    own encodings call it so that they agree with :class:`TabularEncoder` column for column.

    Parameters
    ----------
    X : array-like, pandas or polars DataFrame, or ColumnTable
        The data (only the column dtypes and names are looked at).
    categorical_features : "auto", list of str or int, or array-like of bool, default="auto"
        ``"auto"``: string, object (holding strings), bool, pandas ``category`` and polars
        ``String`` / ``Categorical`` / ``Enum`` columns are categorical, every other column
        numeric. Otherwise the categorical columns by name, by index, or as a boolean mask
        with one entry per column.

    Returns
    -------
    roles : list of str
        One role per column, in column order.

    Raises
    ------
    ValueError
        When ``categorical_features`` names an unknown column or an index out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabnn.encoding import column_roles
    >>> X = pd.DataFrame({"city": ["a", "b"], "zip": [1010, 2020], "price": [1.5, 2.0]})
    >>> column_roles(X)
    ['categorical', 'numeric', 'numeric']
    >>> column_roles(X, categorical_features=["city", "zip"])
    ['categorical', 'categorical', 'numeric']
    """
    table = as_column_table(X)
    names = table.names
    spec = categorical_features
    if isinstance(spec, str) and spec == "auto":
        flags = [c.kind == "categorical" for c in table.columns]
    else:
        spec = list(np.asarray(spec).ravel()) if not isinstance(spec, list) else spec
        if len(spec) == len(names) and all(isinstance(s, (bool, np.bool_)) for s in spec):
            flags = [bool(s) for s in spec]
        else:
            flags = [False] * len(names)
            for s in spec:
                if isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)):
                    if not -len(names) <= s < len(names):
                        raise ValueError(f"categorical_features index {s} is out of range.")
                    flags[int(s)] = True
                elif str(s) in names:
                    flags[names.index(str(s))] = True
                else:
                    raise ValueError(f"categorical_features names unknown column {s!r}.")
    return ["categorical" if f else "numeric" for f in flags]


def to_float(values, name="column", fitted=False):
    """The numbers of one column as float64, with NaN for every missing value.

    Missing means None, NaN, ``pd.NA`` and also ``+-inf``: tabnn treats an infinite value as
    missing, so no model ever sees one.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        A numeric column, or an object / categorical column holding only numbers (and missing
        values) or their text.
    name : str, default="column"
        The column's name, for the error message.
    fitted : bool, default=False
        Whether the column was found numeric by an earlier fit (encoding or prediction time):
        the error message then says so, instead of the advice for fitting.

    Returns
    -------
    x : ndarray of float64, shape (n_samples,)

    Raises
    ------
    ValueError
        When a value is not a number.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        x = np.asarray(values, dtype=np.float64)
    else:
        try:
            x = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)),
                              errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        except (ValueError, TypeError) as exc:
            if fitted:
                raise ValueError(
                    f"Column {name!r} was numeric at fit but now holds non-numeric values "
                    f"({exc}); pass numbers there, as at fit, or refit with {name!r} listed in "
                    "categorical_features."
                ) from exc
            raise ValueError(
                f"Column {name!r} is treated as numeric but holds non-numeric values; "
                "list it in categorical_features."
            ) from exc
    return np.where(np.isinf(x), np.nan, x)


def _categorical_features_ok(value):
    return isinstance(value, (list, tuple, np.ndarray, pd.Index, pd.Series))


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Encode a mixed table into categorical codes and scaled numerics.

    The shared input layer of every tabnn estimator. Categorical columns get integer codes
    with reserved slots for missing (0) and unknown or rare values (1); very high-cardinality
    columns are hashed into a fixed number of buckets with a stable hash. Numeric columns are
    scaled robustly, with missing values kept as a separate signal.

    Parameters
    ----------
    categorical_features : "auto", list of str or int, or array-like of bool, default="auto"
        Which columns are categorical. ``"auto"``: string, object (holding strings), bool,
        pandas ``category`` and polars ``String`` / ``Categorical`` / ``Enum`` columns.
        Otherwise column names, indices or a boolean mask.
    min_frequency : int or float, default=1
        Categories whose (weighted) training count is below this are pooled into the
        "unknown" code, which is then trained and used for unseen values at predict time.
    max_cardinality : int or None, default=100_000
        A categorical column with more frequent values than this is hashed into
        ``max_cardinality`` buckets instead of using a vocabulary. None disables hashing.
    numeric_scaling : {"quantile", "robust", "standard", "minmax"} or None, default="quantile"
        ``"quantile"``: map through the (weighted) empirical CDF to a standard-normal score
        clipped to about +-3.1 -- bounded, so heavy-tailed counts and prices train well.
        ``"robust"``: signed ``log1p`` then median / IQR. ``"standard"``: mean / std.
        ``"minmax"``: into [0, 1]. None: unchanged.
    n_bins : int, default=32
        Number of quantile bins per numeric column for :meth:`encode_binned`.
    value_hashes : bool, default=False
        Pass categorical values through as stable 64-bit hashes instead of building
        vocabularies: every categorical column is hashed (codes ``2 ..`` are buckets, as many
        as the column's frequent values, at most ``max_cardinality``), and :meth:`encode` adds
        ``value_hashes`` (the raw values' hashes) to its output, for hashed embeddings
        (:mod:`tabnn.nn.hashed_embedding`). With ``min_frequency > 1`` values rarer than that,
        and values unseen at fit, share one hash and the unknown code, as they share the
        unknown code of a vocabulary; with ``min_frequency=1`` every value, unseen ones
        included, keeps a hash of its own.

    Attributes
    ----------
    schema_ : list of FieldSpec
        One spec per input column, in input order.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names (only when fitted on a DataFrame with string names).

    Notes
    -----
    ``transform`` matches DataFrame columns by name, so a frame with reordered columns gives
    identical output; missing or unexpected columns raise ``ValueError``. ``+-inf`` in a
    numeric column is treated as missing. The output of ``transform`` has one column per input
    column (codes for categorical, scaled values for numeric) followed by one ``<name>_missing``
    indicator for each numeric column that had missing values at fit.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabnn import TabularEncoder
    >>> X = pd.DataFrame({"city": ["a", "b", None, "a"], "price": [1.0, 250.0, 3.0, None]})
    >>> enc = TabularEncoder().fit(X)
    >>> [(f.name, f.role, f.n_codes) for f in enc.schema_]
    [('city', 'categorical', 4), ('price', 'numeric', 0)]
    """

    _param_constraints = {
        "categorical_features": [
            Options("auto"),
            InstanceOf(object, "a list of column names or indices, or a boolean mask",
                       check=_categorical_features_ok),
        ],
        "min_frequency": [Interval("real", 0, None)],
        "max_cardinality": [Interval("int", 1, None), Options(None)],
        "numeric_scaling": [Options("quantile", "robust", "standard", "minmax", None)],
        "n_bins": [Interval("int", 2, None)],
        "value_hashes": [Boolean()],
    }

    def __init__(
        self,
        categorical_features="auto",
        min_frequency=1,
        max_cardinality=100_000,
        numeric_scaling="quantile",
        n_bins=32,
        value_hashes=False,
    ):
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.max_cardinality = max_cardinality
        self.numeric_scaling = numeric_scaling
        self.n_bins = n_bins
        self.value_hashes = value_hashes

    # ------------------------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _roles(self, table):
        return [r == "categorical" for r in column_roles(table, self.categorical_features)]

    # ------------------------------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Learn column roles, vocabularies, hashing decisions and numeric scaling.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights for every fitted statistic (vocabulary counts, quantiles, moments).

        Returns
        -------
        self : TabularEncoder
        """
        validate_params(self)
        self.__dict__.pop("_rare_counts", None)
        return self._fit(X, sample_weight)

    def _fit(self, X, sample_weight):
        table = validate_X(self, X, reset=True)
        sw = validate_sample_weight(sample_weight, table.n_rows)
        roles = self._roles(table)
        self.schema_ = map_columns(
            lambda j, col, is_cat: (self._fit_categorical(col, j, sw) if is_cat
                                    else self._fit_numeric(col, j, sw)),
            [(j, col, is_cat) for j, (col, is_cat) in enumerate(zip(table.columns, roles))],
            table.n_rows,
        )
        self._index_cache = {}
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Grow the vocabularies with one batch of rows, for data that arrives in chunks.

        The first call on an unfitted encoder is :meth:`fit` on the batch. Each later call
        (also after :meth:`fit`) adds the values it has not seen yet to the vocabulary of their
        column, after the existing ones, in the same sorted order :meth:`fit` uses. Codes that
        were handed out never change, so rows encoded before a call encode the same after it:
        histograms or embeddings indexed by code stay valid while the vocabulary grows.

        What stays fixed after the first call, because changing it would recode rows already
        seen:

        * numeric columns keep their scaling, bin edges and missing indicator (quantiles of
          separate batches cannot be merged exactly) -- fit on a representative sample first
          when the first batch is not one;
        * a column hashed by the first call stays hashed; a vocabulary column stops growing at
          ``max_cardinality`` values, later new values get the unknown code.

        A new value joins the vocabulary once its (weighted) count over the ``partial_fit``
        calls reaches ``min_frequency``; until then it is encoded as unknown.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
            One batch, with the columns seen by the first call (matched by name).
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the batch's rows in the vocabulary counts.

        Returns
        -------
        self : TabularEncoder

        Examples
        --------
        >>> import pandas as pd
        >>> from tabnn import TabularEncoder
        >>> enc = TabularEncoder().partial_fit(pd.DataFrame({"city": ["b", "a"]}))
        >>> enc.partial_fit(pd.DataFrame({"city": ["c", "a"]})).schema_[0].categories.tolist()
        ['a', 'b', 'c']
        >>> enc.encode_binned(pd.DataFrame({"city": ["a", "b", "c", None]})).ravel().tolist()
        [2, 3, 4, 0]
        """
        validate_params(self)
        first = not hasattr(self, "schema_")
        if first:
            self._fit(X, sample_weight)
            self._rare_counts = {}
        table = validate_X(self, X, reset=False)
        sw = validate_sample_weight(sample_weight, table.n_rows)
        for spec in self.schema_:
            if spec.role == "categorical" and not spec.hashed:
                # on the first call only the values fit left out (rare ones) are new
                self._grow_vocabulary(spec, table[spec.index], sw, count_known=not first)
        return self

    def _grow_vocabulary(self, spec, col, sw, count_known):
        inverse, uniques = _factorize(col.values)
        present = inverse >= 0
        spec.has_missing = spec.has_missing or bool((sw[~present] > 0).any())
        if len(uniques) == 0:
            return
        counts = np.bincount(inverse[present], weights=sw[present], minlength=len(uniques))
        pos = self._vocab_index(spec).get_indexer(pd.Index(uniques, dtype=object))
        known = pos >= 0
        if count_known:
            spec.counts[pos[known]] += counts[known]
        fresh = ~known & (counts > 0)
        if not fresh.any():
            return
        values, totals = uniques[fresh], counts[fresh]
        rare = self.__dict__.setdefault("_rare_counts", {})
        pending = rare.pop(spec.name, None)
        if pending is not None:
            index = pd.Index(values, dtype=object)
            totals = totals + pending.reindex(index, fill_value=0.0).to_numpy()
            pending = pending.drop(index, errors="ignore")
        frequent = totals >= max(self.min_frequency, 1e-12)
        waiting = [pending] if pending is not None and len(pending) else []
        if not frequent.all():
            waiting.append(pd.Series(totals[~frequent],
                                     index=pd.Index(values[~frequent], dtype=object)))
        if waiting:
            rare[spec.name] = pd.concat(waiting) if len(waiting) > 1 else waiting[0]
        admit = frequent
        if self.max_cardinality is not None:
            room = int(self.max_cardinality) - (spec.n_codes - N_RESERVED)
            admit = frequent & (np.cumsum(frequent) <= max(room, 0))
        if not admit.any():
            return
        new, new_counts = values[admit], totals[admit]
        order = _sort_key(new)
        spec.categories = np.concatenate([spec.categories, new[order]])
        spec.counts = np.concatenate([spec.counts, new_counts[order]])
        spec.n_codes = N_RESERVED + len(spec.categories)
        cache = self.__dict__.setdefault("_index_cache", {})
        for key in (spec.name, ("dtype", spec.name), ("text", spec.name), ("keyed", spec.name)):
            cache.pop(key, None)

    def _fit_categorical(self, col, j, sw):
        inverse, uniques = _factorize(col.values)
        present = inverse >= 0
        counts = np.bincount(inverse[present], weights=sw[present], minlength=len(uniques))
        keep = (counts >= max(self.min_frequency, 1e-12)) & (counts > 0)
        has_missing = bool((sw[~present] > 0).any())
        too_many = self.max_cardinality is not None and keep.sum() > self.max_cardinality
        if too_many or self.value_hashes:
            n_buckets = int(self.max_cardinality) if too_many else max(int(keep.sum()), 1)
            frequent = None
            if self.value_hashes and self.min_frequency > 1:
                # rare values would each get rows of their own and be memorised; like a
                # vocabulary's unknown code, they share one hash (a list of hashes is 8 bytes
                # per frequent value, far less than a vocabulary of the raw values)
                frequent = np.unique(_nonzero_hashes(uniques[keep]))
            return FieldSpec(col.name, "categorical", j, N_RESERVED + n_buckets, hashed=True,
                             has_missing=has_missing, frequent_hashes=frequent)
        vocab, vcounts = uniques[keep], counts[keep]
        order = _sort_key(vocab)
        return FieldSpec(
            col.name, "categorical", j, N_RESERVED + len(vocab),
            categories=vocab[order], counts=vcounts[order], has_missing=has_missing,
        )

    def _fit_numeric(self, col, j, sw):
        x = self._as_float(col, fitted=False)
        ok = np.isfinite(x) & (sw > 0)
        xs, ws = x[ok], sw[ok]
        scaling = {}
        if xs.size == 0:
            xs, ws = np.zeros(1), np.ones(1)
        method = self.numeric_scaling
        xs_sorted, cw = _sort_weighted(xs, ws)  # one sort serves every quantile below
        starts = np.flatnonzero(np.r_[True, xs_sorted[1:] != xs_sorted[:-1]])  # distinct values
        if method == "quantile":
            probs = np.linspace(0.0, 1.0, min(1001, max(2, starts.size)))
            scaling = {"quantiles": _sorted_quantiles(xs_sorted, cw, probs), "probs": probs}
        elif method == "robust":
            # the signed log is increasing: its quantiles are those of x, transformed
            q1, med, q3 = _signed_log(_sorted_quantiles(xs_sorted, cw, [0.25, 0.5, 0.75]))
            scale = q3 - q1
            if scale <= 0:
                scale = np.sqrt(np.average((_signed_log(xs) - med) ** 2, weights=ws)) or 1.0
            scaling = {"center": float(med), "scale": float(scale)}
        elif method == "standard":
            mean = np.average(xs, weights=ws)
            std = np.sqrt(np.average((xs - mean) ** 2, weights=ws))
            scaling = {"center": float(mean), "scale": float(std) if std > 0 else 1.0}
        elif method == "minmax":
            lo, hi = float(xs.min()), float(xs.max())
            scaling = {"center": lo, "scale": hi - lo if hi > lo else 1.0}
        probs = np.linspace(0.0, 1.0, self.n_bins + 1)[1:-1]
        edges = np.unique(_sorted_quantiles(xs_sorted, cw, probs))
        return FieldSpec(
            col.name, "numeric", j, bin_edges=edges, scaling=scaling,
            has_missing=bool((~np.isfinite(x) & (sw > 0)).any()),
            **(self._frequent_values(xs_sorted, cw, starts) if ok.any() else {}),
        )

    def _frequent_values(self, xs_sorted, cw, starts):
        """``FieldSpec`` fields ``values`` and ``value_shares`` of a numeric column with at
        most ``MAX_DISCRETE_VALUES`` distinct values (sorted, cumulative weights ``cw``, first
        position of each distinct value ``starts``): those seen at least ``min_frequency``
        times (weighted)."""
        if starts.size > MAX_DISCRETE_VALUES:
            return {}
        totals = np.diff(np.r_[0.0, cw[np.r_[starts[1:] - 1, xs_sorted.size - 1]]])
        keep = totals >= max(self.min_frequency, 1e-12)
        return {"values": xs_sorted[starts][keep], "value_shares": totals[keep] / cw[-1]}

    @staticmethod
    def _as_float(col, fitted=True):
        return to_float(col.values, col.name, fitted)

    # ------------------------------------------------------------------------------------------
    def _vocab_index(self, spec):
        cache = self.__dict__.setdefault("_index_cache", {})
        if spec.name not in cache:
            cache[spec.name] = pd.Index(_bool_keys(spec.categories), dtype=object)
        return cache[spec.name]

    def _keyed(self, spec):
        """Whether the vocabulary mixes bools and other values (bools then wrapped)."""
        cache = self.__dict__.setdefault("_index_cache", {})
        key = ("keyed", spec.name)
        if key not in cache:
            cache[key] = any(isinstance(v, _BoolKey) for v in self._vocab_index(spec))
        return cache[key]

    def _text_index(self, spec):
        """Vocabulary positions by :func:`_text_key` (the first value of each text)."""
        cache = self.__dict__.setdefault("_index_cache", {})
        key = ("text", spec.name)
        if key not in cache:
            text = pd.Index([_text_key(v) for v in spec.categories], dtype=object)
            first = ~text.duplicated()
            cache[key] = (text[first], np.flatnonzero(first))
        return cache[key]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_index_cache", None)
        return state

    def _encode_categorical(self, spec, col):
        values = col.values
        if isinstance(values, pd.Categorical):
            # frames sliced from one another share their dtype object: reuse its lookup table
            cache = self.__dict__.setdefault("_index_cache", {})
            hit = cache.get(("dtype", spec.name))
            if hit is not None and hit[0] is values.dtype:
                return hit[1][values.codes.astype(np.int64)]
            lut = self._lookup_table(spec, np.asarray(values.categories, dtype=object))
            cache[("dtype", spec.name)] = (values.dtype, lut)
            return lut[values.codes.astype(np.int64)]
        inverse, uniques = _factorize(values)
        return self._lookup_table(spec, uniques)[inverse]

    @staticmethod
    def _codes_and_hashes(spec, col):
        """Codes and value hashes of a hashed column from one hash per distinct value: the
        hash is 0 where missing and ``RARE_HASH`` for a value outside
        ``spec.frequent_hashes``."""
        inverse, uniques = _factorize(col.values)
        h = _pool_rare(spec, _nonzero_hashes(uniques))
        # index -1 (missing) picks the last entry
        return (np.append(_hash_codes(spec, h), MISSING)[inverse],
                np.append(h, np.uint64(0))[inverse])

    def _lookup_table(self, spec, uniques):
        """Codes of ``uniques``, with one extra last entry (missing) for the index -1."""
        if spec.hashed:
            lut = _hash_codes(spec, _pool_rare(spec, _nonzero_hashes(uniques)))
        else:
            index = self._vocab_index(spec)
            keyed = _bool_keys(uniques, force=True) if self._keyed(spec) else uniques
            pos = index.get_indexer(pd.Index(keyed, dtype=object)).astype(np.int64)
            retry = np.flatnonzero(pos < 0)
            if retry.size:  # a value of another type (75001 vs "75001") matches by its text
                text, positions = self._text_index(spec)
                found = text.get_indexer(pd.Index([_text_key(v) for v in uniques[retry]],
                                                  dtype=object))
                hit = found >= 0  # (positions is empty when no value reached min_frequency)
                pos[retry[hit]] = positions[found[hit]]
            lut = np.where(pos < 0, UNKNOWN, pos + N_RESERVED)
        return np.append(lut, MISSING)  # index -1 (missing) picks the last entry

    def _scale(self, spec, x):
        s = spec.scaling
        method = self.numeric_scaling
        if method == "quantile":
            q, p = s["quantiles"], s["probs"]
            # interp picks the last of equal knots; a value equal to a run of knots (a
            # discrete column) gets the middle of the run's probabilities instead
            u = np.interp(x, q, p)
            tied = np.flatnonzero(q[1:] == q[:-1])
            if tied.size:
                values = np.unique(q[tied])
                first = np.searchsorted(q, values, side="left")
                last = np.searchsorted(q, values, side="right") - 1
                k = np.minimum(np.searchsorted(values, x), len(values) - 1)
                hit = values[k] == x
                u[hit] = 0.5 * (p[first] + p[last])[k[hit]]
            return ndtri(np.clip(u, 1e-3, 1 - 1e-3))
        if method == "robust":
            return (_signed_log(x) - s["center"]) / s["scale"]
        if method in ("standard", "minmax"):
            return (x - s["center"]) / s["scale"]
        return x

    def _table(self, X):
        check_is_fitted(self, "schema_")
        return validate_X(self, X, reset=False)

    def encode(self, X):
        """Encode ``X`` into an :class:`EncodedTable` (codes, scaled and raw numerics).

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame, or ColumnTable
            Data with the columns seen at fit (matched by name for DataFrames).

        Returns
        -------
        table : EncodedTable
        """
        table = self._table(X)
        n = table.n_rows
        cat = [s for s in self.schema_ if s.role == "categorical"]
        num = [s for s in self.schema_ if s.role == "numeric"]
        codes = np.empty((n, len(cat)), dtype=np.int64)
        raw = np.empty((n, len(num)), dtype=np.float64)
        scaled = np.empty((n, len(num)), dtype=np.float32)
        hashes = np.empty((n, len(cat)), dtype=np.uint64) if self.value_hashes else None

        def encode_column(k, spec):
            if spec.role == "categorical" and hashes is not None:
                codes[:, k], hashes[:, k] = self._codes_and_hashes(spec, table[spec.index])
            elif spec.role == "categorical":
                codes[:, k] = self._encode_categorical(spec, table[spec.index])
            else:
                x = self._as_float(table[spec.index])
                raw[:, k] = x
                scaled[:, k] = np.nan_to_num(self._scale(spec, x), nan=0.0)

        map_columns(encode_column, [*enumerate(cat), *enumerate(num)], n)
        return EncodedTable(codes, scaled, np.isnan(raw), raw, cat, num, hashes)

    def encode_binned(self, X):
        """Every field as non-negative integer codes, in input column order.

        Categorical fields give their codes; numeric fields give ``0`` for missing and
        ``1 .. n_bins`` for their quantile bin (edges learned at fit).

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame, or ColumnTable

        Returns
        -------
        codes : ndarray of int64, shape (n_samples, n_features)
        """
        table = self._table(X)
        out = np.empty((table.n_rows, len(self.schema_)), dtype=np.int64)
        for spec in self.schema_:
            col = table[spec.index]
            if spec.role == "categorical":
                out[:, spec.index] = self._encode_categorical(spec, col)
            else:
                x = self._as_float(col)
                b = np.searchsorted(spec.bin_edges, x, side="right") + 1
                out[:, spec.index] = np.where(np.isnan(x), 0, b)
        return out

    # ------------------------------------------------------------------------------------------
    def _missing_indicator_fields(self):
        return [s for s in self.schema_ if s.role == "numeric" and s.has_missing]

    def transform(self, X):
        """Encode ``X`` into one numeric matrix.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_features_out)
            Codes of categorical columns and scaled numeric columns in input order, then one
            missing indicator per numeric column that had missing values at fit. With
            ``set_output(transform="pandas"|"polars")`` a DataFrame with integer code columns.
        """
        enc = self.encode(X)
        cols, pos_c, pos_n = [], 0, 0
        for spec in self.schema_:
            if spec.role == "categorical":
                cols.append(enc.codes[:, pos_c])
                pos_c += 1
            else:
                cols.append(enc.numeric[:, pos_n].astype(np.float64))
                pos_n += 1
        num_pos = {s.name: k for k, s in enumerate(enc.numeric_fields)}
        for spec in self._missing_indicator_fields():
            cols.append(enc.numeric_missing[:, num_pos[spec.name]].astype(np.float64))
        if _output_container(self) in ("pandas", "polars"):
            names = self.get_feature_names_out()
            data = dict(zip(names, cols))
            if _output_container(self) == "polars":
                import polars as pl

                return pl.DataFrame(data)
            index = X.index if isinstance(X, pd.DataFrame) else None
            return pd.DataFrame(data, index=index)
        return np.column_stack([c.astype(np.float64) for c in cols])

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Must match ``feature_names_in_`` when given.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "schema_")
        names = list(_check_feature_names_in(self, input_features))
        names += [f"{names[s.index]}_missing" for s in self._missing_indicator_fields()]
        return np.asarray(names, dtype=object)


def _output_container(est):
    """The container ``set_output`` asked for ("default", "pandas" or "polars")."""
    try:
        from sklearn.utils._set_output import _get_output_config

        return _get_output_config("transform", est)["dense"]
    except Exception:  # pragma: no cover - private sklearn helper moved
        return "default"
