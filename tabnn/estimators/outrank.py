"""OutRank: cardinality-aware feature ranking and data-quality checks.

Škrlj & Mramor, "OutRank: Speeding up AutoML-based Model Search for Large Sparse Data sets with
Cardinality-aware Feature Ranking", RecSys 2023.

The score of a feature is its mutual information with the target minus the mutual information
of a *noise feature with the same value groups* (same cardinality and value-frequency profile,
labels scrambled). Plain mutual information rewards high-cardinality, id-like columns for
their many tiny groups; the noise feature has the same groups, so that excess cancels.

Implementation notes
--------------------
* Counting only: per feature, two joint histograms ``(value, label)`` built with one
  ``np.bincount`` each over a chunk of rows -- no loop over rows or values -- accumulated over
  chunks. Memory is one chunk of rows plus ``2 x cardinality x n_classes`` counts per feature.
* Noise labels: a seeded, uniformly random arrangement of the observed labels (drawn without
  replacement, block by block; see :class:`tabnn.ranking._mi.NullLabels`). The official code
  borrows labels with a cyclic shift of ``n_x`` rows inside a mini-batch, which needs shuffled
  rows (it fails on data sorted by label) and the full value counts up front; the random
  arrangement is the same baseline in expectation, is immune to row order, and lets a streamed
  pass give exactly the same numbers as an in-memory one.
* Scores use all rows (exact histogram sums), not the official tool's median over subsampled
  mini-batches.
* Column roles come from the shared :class:`~tabnn.encoding.TabularEncoder`; numeric columns
  are discretised into ``n_bins`` quantile bins (edges from a systematic sample of
  ``fit_rows`` rows), missing values are their own code.
* 3MR (``redundancy=True``): the ``max_candidates`` most relevant features are re-ranked
  greedily by ``relevance - alpha * median redundancy + beta * median relation`` to the
  features already ranked (each min-max normalised), where redundancy is the corrected score
  between two features and relation the corrected score of the feature pair for the target.
  Pair scores use a systematic sample of ``sample_rows`` rows, so the cost is
  ``O(max_candidates^2 * sample_rows)`` whatever the data size.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._params import (Boolean, Interval, Options, RandomState, draw_seed,
                       param_constraints, validate_function_params, validate_params)
from .._validation import (
    _collect_lazy,
    _is_dataframe,
    _target_array,
    validate_classification_target,
    validate_X,
)
from ..ranking._engine import quality_from_pass, ranking_from_pass
from ..encoding import TabularEncoder
from ..ranking._streaming import is_streamable, lazy_source, run_pass, table_source

logger = logging.getLogger("tabnn")

__all__ = ["OutRankSelector", "rank_features", "data_quality_report"]


def _output_container(est):
    try:
        from sklearn.utils._set_output import _get_output_config

        return _get_output_config("transform", est)["dense"]
    except Exception:  # pragma: no cover
        return "default"


def _target_codes(y, n_rows, n_bins):
    """Label codes: class codes for a classification target, quantile bins for a continuous one."""
    arr = _target_array(y, n_rows)
    if arr.dtype.kind in "fc" and type_of_target(arr) == "continuous":
        from .._validation import validate_regression_target

        v = validate_regression_target(arr, n_rows)
        edges = np.unique(np.quantile(v, np.linspace(0, 1, n_bins + 1)[1:-1]))
        codes = np.searchsorted(edges, v, side="right").astype(np.int64)
        classes, codes = np.unique(codes, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("The target has only one distinct value (one class).")
        return classes, codes.astype(np.int64)
    return validate_classification_target(y, n_rows)


_COUNT = [Interval("int", 1, None)]
_FRACTION = [Interval("real", 0, 1)]
_COMMON_CONSTRAINTS = {  # parameters shared by the selector and the two functions
    "n_bins": [Interval("int", 2, None)],
    "categorical_features": param_constraints(TabularEncoder)["categorical_features"],
    "chunk_size": _COUNT,
    "fit_rows": _COUNT,
    "sample_rows": _COUNT,
    "random_state": [RandomState()],
}
_RANKING_CONSTRAINTS = {
    "redundancy": [Boolean()],
    "alpha": [Interval("real", 0, None)],
    "beta": [Interval("real", 0, None)],
    "max_candidates": _COUNT,
    "aggregation": [Options("median", "mean", "max")],
}
_QUALITY_CONSTRAINTS = {
    "missing_threshold": _FRACTION,
    "near_constant_threshold": _FRACTION,
    "id_fraction": _FRACTION,
    "duplicate_tol": [Interval("real", 0, None)],
}


class _Owner(BaseEstimator):
    """Holds ``n_features_in_`` / ``feature_names_in_`` for the function API."""


def _run(X, y, *, target, features, categorical_features, n_bins, chunk_size, fit_rows,
         sample_rows, seed, owner, require_y):
    """Build a Source from any supported input and run one pass."""
    if y is not None:  # a target given apart: the LazyFrame is read in memory with it
        X = _collect_lazy(X)
    if is_streamable(X):
        if y is not None:
            raise ValueError(
                "For a parquet source give the target as a column name (target=...), not y."
            )
        if require_y and target is None:
            raise ValueError("target= (a column name of the source) is required.")
        src = lazy_source(X, target, features=features, chunk_size=chunk_size,
                          fit_rows=fit_rows)
    else:
        if target is not None:
            if y is not None:
                raise ValueError("Give either y or target=, not both.")
            if not _is_dataframe(X):
                raise ValueError("target= needs a DataFrame holding that column.")
            import narwhals.stable.v2 as nw

            frame = nw.from_native(X, eager_only=True)
            if target not in frame.columns:
                raise ValueError(f"target column {target!r} is not in X's columns "
                                 f"{list(frame.columns)[:20]}.")
            y = frame.get_column(target).to_native()
            X = frame.drop(target).to_native()
        if features is not None:
            import narwhals.stable.v2 as nw

            X = nw.from_native(X, eager_only=True).select(list(features)).to_native()
        table = validate_X(owner, X, reset=True)
        if y is None:
            if require_y:
                raise ValueError("requires y to be passed, but the target y is None")
            classes, codes = None, None
        else:
            classes, codes = _target_codes(y, table.n_rows, n_bins)
        src = table_source(table, codes, classes, chunk_size=chunk_size, fit_rows=fit_rows)
    return run_pass(src, categorical_features=categorical_features, n_bins=n_bins,
                    sample_rows=sample_rows, seed=seed)


class OutRankSelector(SelectorMixin, BaseEstimator):
    """Select features by OutRank's cardinality-corrected mutual information.

    ``fit`` scores every feature with its mutual information with the target minus that of a
    random feature with the same value groups, optionally re-ranks the best ones with the
    redundancy-aware 3MR rule, and keeps the top ``k`` (or those scoring at least
    ``threshold``). Works on numpy arrays, pandas and polars DataFrames with mixed column
    types; ``transform`` returns DataFrames with their original column dtypes.

    Parameters
    ----------
    k : int or "all", default=10
        Number of features to keep (all when larger than the number of features).
    threshold : float or None, default=None
        When set, keep the features whose score is at least this value and ignore ``k``.
    redundancy : bool, default=False
        Re-rank the ``max_candidates`` most relevant features with 3MR (relevance minus
        redundancy to already-ranked features plus relations).
    alpha, beta : float, default=1.0
        3MR weights of the redundancy and relation terms.
    max_candidates : int, default=30
        How many top features enter the 3MR re-ranking (pairwise cost is quadratic in it).
    aggregation : {"median", "mean", "max"}, default="median"
        How 3MR aggregates a candidate's redundancy and relation scores over the features
        already ranked. OutRank uses the median; "max" penalises a copy of any ranked feature
        however many features are ranked.
    n_bins : int, default=32
        Quantile bins for numeric columns (and for a continuous target).
    categorical_features : "auto" or list, default="auto"
        Column roles, as in :class:`~tabnn.encoding.TabularEncoder`.
    chunk_size : int, default=262144
        Rows per chunk of the counting pass (bounds the working memory).
    fit_rows : int, default=200000
        Size of the systematic row sample used to learn numeric bin edges.
    sample_rows : int, default=50000
        Size of the systematic row sample used for pairwise (3MR) scores.
    random_state : int, RandomState or None, default=None
        Seed of the noise labels (and of the 3MR pair shuffles).
    verbose : int, default=0
        0: silent; 1: a summary line after ``fit`` (rows, features, seconds, the best
        features); 2: also the ranking table. The summary also goes to the
        ``logging.getLogger("tabnn")`` logger at DEBUG level.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features_in_,)
        OutRank score of each feature (nats), in input column order.
    mutual_info_ : ndarray of shape (n_features_in_,)
        Plain (plug-in) mutual information, for comparison.
    ranking_ : pandas.DataFrame
        One row per feature sorted by rank: ``feature, score, mutual_info, cardinality, rank,
        role, mrmr`` (``mrmr`` is the 3MR objective, NaN without redundancy).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from tabnn.estimators.outrank import OutRankSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 5, size=(500, 3)).astype(float)
    >>> y = (X[:, 1] > 2).astype(int)
    >>> OutRankSelector(k=1, random_state=0).fit(X, y).get_support().tolist()
    [False, True, False]
    """

    _param_constraints = {
        "k": [Options("all"), Interval("int", 0, None)],
        "threshold": [Options(None), Interval("real", None, None)],
        **_RANKING_CONSTRAINTS,
        **_COMMON_CONSTRAINTS,
        "verbose": [Interval("int", 0, None), Boolean()],
    }

    def __init__(
        self,
        k=10,
        threshold=None,
        redundancy=False,
        alpha=1.0,
        beta=1.0,
        max_candidates=30,
        aggregation="median",
        n_bins=32,
        categorical_features="auto",
        chunk_size=262_144,
        fit_rows=200_000,
        sample_rows=50_000,
        random_state=None,
        verbose=0,
    ):
        self.k = k
        self.threshold = threshold
        self.redundancy = redundancy
        self.alpha = alpha
        self.beta = beta
        self.max_candidates = max_candidates
        self.aggregation = aggregation
        self.n_bins = n_bins
        self.categorical_features = categorical_features
        self.chunk_size = chunk_size
        self.fit_rows = fit_rows
        self.sample_rows = sample_rows
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.required = True
        return tags

    def fit(self, X, y):
        """Score and rank the features of ``X`` for the target ``y``.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (a continuous target is discretised into ``n_bins`` quantile bins).

        Returns
        -------
        self : OutRankSelector
        """
        validate_params(self)
        start = time.perf_counter()
        seed = draw_seed(self.random_state)
        res = _run(
            X, y, target=None, features=None, categorical_features=self.categorical_features,
            n_bins=self.n_bins, chunk_size=self.chunk_size, fit_rows=self.fit_rows,
            sample_rows=self.sample_rows, seed=seed, owner=self, require_y=True,
        )
        ranking = ranking_from_pass(
            res, redundancy=self.redundancy, alpha=self.alpha, beta=self.beta,
            max_candidates=self.max_candidates, aggregation=self.aggregation, seed=seed,
        )
        by_name = ranking.set_index("feature")
        self.ranking_ = ranking
        self.scores_ = by_name.loc[res.names, "score"].to_numpy(dtype=np.float64)
        self.mutual_info_ = by_name.loc[res.names, "mutual_info"].to_numpy(dtype=np.float64)
        self._ranks = by_name.loc[res.names, "rank"].to_numpy(dtype=np.int64)
        self._report(res.n_rows, time.perf_counter() - start)
        return self

    def _report(self, n_rows, seconds):
        best = ", ".join(f"{f} {s:.4f}" for f, s in
                         self.ranking_[["feature", "score"]].head(5).itertuples(index=False))
        msg = (f"OutRank: {n_rows:,} rows x {len(self.scores_)} features ranked in "
               f"{seconds:.1f}s; best: {best}")
        logger.debug(msg)
        if self.verbose:
            print(msg)
        if self.verbose >= 2:
            print(self.ranking_.to_string(index=False))

    def _get_support_mask(self):
        check_is_fitted(self, "scores_")
        if self.threshold is not None:
            return self.scores_ >= self.threshold
        if isinstance(self.k, str):
            return np.ones(len(self.scores_), dtype=bool)
        return self._ranks <= self.k

    def transform(self, X):
        """Keep the selected columns.

        DataFrames are reduced by column name and keep their dtypes (strings, categoricals);
        the result is a DataFrame of the same library, or of the one chosen with
        ``set_output``. Other input goes through scikit-learn's selector (a numpy array).

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features_in_)

        Returns
        -------
        X_selected : ndarray or DataFrame of shape (n_samples, n_selected)
        """
        check_is_fitted(self, "scores_")
        X = _collect_lazy(X)
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None:  # a frame with integer column names: matched by name too
            fitted = getattr(self, "_column_names_in", None)
        if not _is_dataframe(X) or fitted is None:
            # arrays, or frames given to a selector fitted without column names: positional
            return super().transform(X)
        import narwhals.stable.v2 as nw

        frame = nw.from_native(X, eager_only=True)
        columns = list(frame.columns)
        mask = self.get_support()
        if [str(c) for c in columns] == list(fitted):
            keep = [c for c, m in zip(columns, mask) if m]
        else:
            # reordered, renamed or unnamed columns: the shared validation raises or warns
            validate_X(self, X, reset=False)
            by_text = {str(c): c for c in columns}
            keep = ([by_text[c] for c, m in zip(fitted, mask) if m]
                    if all(str(c) in by_text for c in fitted)
                    else [c for c, m in zip(columns, mask) if m])
        if not keep:  # drop every column: select([]) would also drop every row
            warnings.warn("No features were selected: either the data is too noisy or the "
                          "selection test too strict.", UserWarning)
            chosen = frame.drop(columns)
        else:  # by position: narwhals selects names that are strings only
            position = {c: i for i, c in enumerate(columns)}
            chosen = frame[:, [position[c] for c in keep]]
        out = chosen.to_native()
        container = _output_container(self)
        if container == "pandas" and not isinstance(out, pd.DataFrame):
            out = chosen.to_pandas()
        elif container == "polars":
            import polars as pl

            if not isinstance(out, pl.DataFrame):
                out = chosen.to_polars()
        return out


def rank_features(
    X,
    y=None,
    *,
    target=None,
    features=None,
    redundancy=False,
    alpha=1.0,
    beta=1.0,
    max_candidates=30,
    aggregation="median",
    n_bins=32,
    categorical_features="auto",
    chunk_size=262_144,
    fit_rows=200_000,
    sample_rows=50_000,
    random_state=None,
):
    """Rank features by OutRank's cardinality-corrected mutual information.

    Parameters
    ----------
    X : array-like, pandas or polars DataFrame, polars LazyFrame, or path to a parquet file
        The features (and the target column when ``target`` is given). LazyFrames and parquet
        files are streamed in chunks of ``chunk_size`` rows: data larger than memory can be
        ranked, and the result equals the in-memory one on the same rows.
    y : array-like of shape (n_samples,), optional
        The target, for in-memory ``X``.
    target : str, optional
        Name of the target column inside ``X`` (required for LazyFrames and parquet files).
    features : list of str, optional
        Feature columns to rank (default: every column except the target).
    redundancy, alpha, beta, max_candidates, aggregation, n_bins, categorical_features, chunk_size, \
fit_rows, sample_rows, random_state
        As in :class:`OutRankSelector`.

    Returns
    -------
    ranking : pandas.DataFrame
        One row per feature sorted by rank: ``feature, score, mutual_info, cardinality, rank,
        role, mrmr``.
    """
    validate_function_params(
        "rank_features", {**_RANKING_CONSTRAINTS, **_COMMON_CONSTRAINTS}, locals()
    )
    seed = draw_seed(random_state)
    res = _run(
        X, y, target=target, features=features, categorical_features=categorical_features,
        n_bins=n_bins, chunk_size=chunk_size, fit_rows=fit_rows, sample_rows=sample_rows,
        seed=seed, owner=_Owner(), require_y=True,
    )
    return ranking_from_pass(res, redundancy=redundancy, alpha=alpha, beta=beta,
                             max_candidates=max_candidates, aggregation=aggregation,
                             seed=seed)


def data_quality_report(
    X,
    y=None,
    *,
    target=None,
    features=None,
    n_bins=32,
    categorical_features="auto",
    missing_threshold=0.5,
    near_constant_threshold=0.99,
    id_fraction=0.5,
    duplicate_tol=0.05,
    chunk_size=262_144,
    fit_rows=200_000,
    sample_rows=50_000,
    random_state=None,
):
    """Per-column data-quality report -- the anomaly side of OutRank.

    Computed in the same single counting pass as the ranking (so it also streams LazyFrames and
    parquet files). ``y`` / ``target`` are optional; with a target the report also carries the
    OutRank score, which sharpens the id-like flag.

    Parameters
    ----------
    X, y, target, features, n_bins, categorical_features, chunk_size, fit_rows, sample_rows, \
random_state
        As in :func:`rank_features`.
    missing_threshold : float, default=0.5
        ``high_missing`` when at least this fraction of rows is missing.
    near_constant_threshold : float, default=0.99
        ``near_constant`` when the most frequent value covers at least this fraction of rows.
    id_fraction : float, default=0.5
        ``id_like`` (categorical columns) when the distinct non-missing values are at least this
        fraction of the non-missing rows and, with a target, the score is about zero (at most 5%
        of the best score).
    duplicate_tol : float, default=0.05
        ``near_duplicate_of`` when the variation of information between two columns, on the
        row sample, is at most this fraction of their joint entropy.

    Returns
    -------
    report : pandas.DataFrame
        One row per feature in input order: ``feature, role, cardinality, missing_fraction,
        top_fraction, unique_fraction, score, mutual_info, constant, near_constant, id_like,
        high_missing, duplicate_of, near_duplicate_of, issues``. ``duplicate_of`` names an
        earlier column holding the same values up to relabelling (same value-count profile
        over all rows, same partition on the sample).
    """
    validate_function_params(
        "data_quality_report", {**_QUALITY_CONSTRAINTS, **_COMMON_CONSTRAINTS}, locals()
    )
    seed = draw_seed(random_state)
    res = _run(
        X, y, target=target, features=features, categorical_features=categorical_features,
        n_bins=n_bins, chunk_size=chunk_size, fit_rows=fit_rows, sample_rows=sample_rows,
        seed=seed, owner=_Owner(), require_y=False,
    )
    return quality_from_pass(
        res, missing_threshold=missing_threshold,
        near_constant_threshold=near_constant_threshold, id_fraction=id_fraction,
        duplicate_tol=duplicate_tol,
    )
