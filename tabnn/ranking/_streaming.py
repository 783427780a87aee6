"""One pass over the rows, chunk by chunk: codes -> joint histograms.

The same code path serves in-memory tables (sliced into row chunks) and streamed sources (a
polars LazyFrame or a parquet path, read with ``collect_batches``), so both give the same
numbers. Memory is bounded by one chunk of rows plus the histograms (sum over features of
``cardinality x n_classes`` counts, twice) plus the small row samples kept for the pairwise
(3MR / duplicate) statistics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import ColumnTable, as_column_table, validate_classification_target
from ..encoding import TabularEncoder, _factorize
from ._mi import NullLabels

__all__ = ["ColumnCoder", "PassResult", "run_pass", "table_source", "lazy_source"]

MISSING_CODE = 0


class ColumnCoder:
    """Non-negative integer codes for one column, consistent across chunks.

    Numeric fields: ``0`` = missing, ``1 .. n_bins`` = quantile bin (edges learned by the shared
    :class:`~tabnn.encoding.TabularEncoder`, the same rule as its ``encode_binned``).
    Categorical fields: ``0`` = missing, ``1 ..`` = values in order of first appearance. The
    vocabulary grows while chunks stream in, so a value first seen in a late chunk still gets
    its own code (the encoder's fixed vocabulary would map it to "unknown").
    """

    # TODO(lead): a growing-vocabulary mode of TabularEncoder would make this adapter unnecessary.

    def __init__(self, spec):
        self.name = spec.name
        self.role = spec.role
        self.bin_edges = spec.bin_edges
        self._index = pd.Index([], dtype=object)
        self._vocab = []

    @property
    def n_values(self):
        if self.role == "numeric":
            return len(self.bin_edges) + 2
        return len(self._index) + 1

    def codes(self, column):
        if self.role == "numeric":
            x = TabularEncoder._as_float(column)
            b = np.searchsorted(self.bin_edges, x, side="right") + 1
            return np.where(np.isnan(x), MISSING_CODE, b).astype(np.int64)
        inverse, uniques = _factorize(column.values)
        if len(uniques) == 0:
            return np.zeros(len(inverse), dtype=np.int64)
        pos = self._index.get_indexer(pd.Index(uniques, dtype=object))
        new = pos < 0
        if new.any():
            fresh = pd.Index(uniques[new], dtype=object)
            pos[new] = len(self._index) + np.arange(new.sum())
            self._index = self._index.append(fresh)
        lut = np.append(pos.astype(np.int64) + 1, MISSING_CODE)  # -1 (missing) -> last entry
        return lut[inverse]


@dataclass
class Source:
    """What a pass needs to know about the data before reading it."""

    names: list
    n_rows: int
    classes: np.ndarray | None
    class_counts: np.ndarray
    fit_sample: ColumnTable
    chunks: object  # callable -> iterator of (ColumnTable, label codes or None)


def _sample_step(n_rows, n_sample):
    return max(1, -(-n_rows // max(int(n_sample), 1)))


def table_source(table, y_codes, classes, *, chunk_size, fit_rows):
    """A :class:`Source` over an in-memory, already validated :class:`ColumnTable`."""
    n = table.n_rows
    step = _sample_step(n, fit_rows)
    fit_sample = table.take(np.arange(0, n, step))
    if y_codes is None:
        class_counts = np.array([n], dtype=np.int64)
    else:
        class_counts = np.bincount(y_codes, minlength=len(classes)).astype(np.int64)

    def chunks():
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            yield table.take(slice(start, stop)), (
                None if y_codes is None else y_codes[start:stop]
            )

    return Source(table.names, n, classes, class_counts, fit_sample, chunks)


def _as_lazy(source):
    import polars as pl

    if isinstance(source, (str, os.PathLike)):
        return pl.scan_parquet(source)
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if isinstance(source, pl.LazyFrame):
        return source
    raise TypeError(
        "source must be a polars LazyFrame, a polars DataFrame or a path to a parquet file, "
        f"got {type(source).__name__}."
    )


def is_streamable(source):
    """Whether ``source`` is a LazyFrame or a path (streamed), not an in-memory table."""
    try:
        import polars as pl
    except ImportError:  # pragma: no cover
        return isinstance(source, (str, os.PathLike))
    return isinstance(source, (str, os.PathLike, pl.LazyFrame))


def lazy_source(source, target, *, features=None, chunk_size, fit_rows):
    """A :class:`Source` over a polars LazyFrame or a parquet path (read in chunks).

    Reads the target column once (to know the classes and their counts), a systematic sample
    of rows (every ``ceil(n / fit_rows)``-th row) to learn the numeric bin edges, then streams
    the feature columns in batches of about ``chunk_size`` rows.
    """
    lf = _as_lazy(source)
    all_names = list(lf.collect_schema().names())
    if target is not None and target not in all_names:
        raise ValueError(f"target column {target!r} is not in the source columns.")
    names = list(features) if features is not None else [c for c in all_names if c != target]
    missing = [c for c in names if c not in all_names]
    if missing:
        raise ValueError(f"features not in the source columns: {missing}")
    if not names:
        raise ValueError("No feature columns to rank.")
    if target is None:
        n = int(lf.select(__import__("polars").len()).collect().item())
        classes, class_counts = None, np.array([n], dtype=np.int64)
    else:
        y_all = lf.select(target).collect().to_series().to_numpy()
        n = len(y_all)
        classes, codes = validate_classification_target(y_all, n)
        class_counts = np.bincount(codes, minlength=len(classes)).astype(np.int64)
        del y_all, codes
    if n < 1:
        raise ValueError("Found array with 0 sample(s); at least 1 is required.")
    step = _sample_step(n, fit_rows)
    fit_sample = as_column_table(lf.select(names).gather_every(step).collect())
    columns = names + ([target] if target is not None else [])

    def chunks():
        for batch in lf.select(columns).collect_batches(chunk_size=chunk_size):
            if len(batch) == 0:
                continue
            table = as_column_table(batch.select(names))
            if target is None:
                yield table, None
            else:
                yv = batch.get_column(target).to_numpy()
                yield table, np.searchsorted(classes, yv).astype(np.int64)

    return Source(names, n, classes, class_counts, fit_sample, chunks)


@dataclass
class PassResult:
    """Histograms and samples collected in one pass."""

    names: list
    roles: list
    n_rows: int
    n_classes: int
    joints: list  # per feature: int64 [n_values, n_classes], real labels
    nulls: list  # per feature: int64 [n_values, n_classes], noise labels
    sample_codes: np.ndarray  # int64 [n_sample, n_features]
    sample_y: np.ndarray
    sample_y_null: np.ndarray
    n_values: list = field(default_factory=list)


def _grow(hist, n_values):
    if hist.shape[0] >= n_values:
        return hist
    extra = max(n_values - hist.shape[0], hist.shape[0] // 2)
    return np.vstack([hist, np.zeros((extra, hist.shape[1]), dtype=hist.dtype)])


def run_pass(src, *, categorical_features="auto", n_bins=32, sample_rows=50_000, seed=0):
    """Encode every chunk of ``src`` and accumulate the joint histograms.

    Parameters
    ----------
    src : Source
    categorical_features : passed to the shared encoder (column roles).
    n_bins : int
        Quantile bins for numeric columns.
    sample_rows : int
        Size of the systematic row sample kept (all features) for pairwise statistics.
    seed : int
        Seed of the noise labels (and of nothing else here).
    """
    encoder = TabularEncoder(
        categorical_features=categorical_features,
        min_frequency=1,
        max_cardinality=None,
        numeric_scaling=None,
        n_bins=n_bins,
    ).fit(src.fit_sample)
    coders = [ColumnCoder(spec) for spec in encoder.schema_]
    K = len(src.class_counts)
    F = len(coders)
    joints = [np.zeros((max(c.n_values, 2), K), dtype=np.int64) for c in coders]
    nulls = [np.zeros_like(j) for j in joints]
    null_labels = NullLabels(src.class_counts, seed)
    step = _sample_step(src.n_rows, sample_rows)
    n_sample = -(-src.n_rows // step)
    sample_codes = np.zeros((n_sample, F), dtype=np.int64)
    sample_y = np.zeros(n_sample, dtype=np.int64)
    sample_y_null = np.zeros(n_sample, dtype=np.int64)
    offset, s_pos = 0, 0
    for table, y in src.chunks():
        m = table.n_rows
        if y is None:
            y = np.zeros(m, dtype=np.int64)
        y_null = null_labels.take(m)
        rows = np.arange((-offset) % step, m, step)
        s_next = s_pos + len(rows)
        yk = y * K if K > 1 else None
        yk_null = y_null * K if K > 1 else None
        for j, coder in enumerate(coders):
            codes = coder.codes(table[j])
            V = coder.n_values
            joints[j] = _grow(joints[j], V)
            nulls[j] = _grow(nulls[j], V)
            size = joints[j].size
            if K > 1:
                flat = codes * K
                joints[j] += np.bincount(flat + y, minlength=size).reshape(-1, K)
                nulls[j] += np.bincount(flat + y_null, minlength=size).reshape(-1, K)
            else:
                h = np.bincount(codes, minlength=size).reshape(-1, 1)
                joints[j] += h
                nulls[j] += h
            sample_codes[s_pos:s_next, j] = codes[rows]
        del yk, yk_null
        sample_y[s_pos:s_next] = y[rows]
        sample_y_null[s_pos:s_next] = y_null[rows]
        s_pos = s_next
        offset += m
    if offset != src.n_rows:
        raise ValueError(
            f"The source produced {offset} rows while {src.n_rows} were expected."
        )
    n_values = [c.n_values for c in coders]
    joints = [jh[:v] for jh, v in zip(joints, n_values)]
    nulls = [nh[:v] for nh, v in zip(nulls, n_values)]
    return PassResult(
        list(src.names), [c.role for c in coders], src.n_rows, K, joints, nulls,
        sample_codes[:s_pos], sample_y[:s_pos], sample_y_null[:s_pos], n_values,
    )
