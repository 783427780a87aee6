"""One pass over the rows, chunk by chunk: codes -> joint histograms.

The same code path serves in-memory tables (sliced into row chunks) and streamed sources (a
polars LazyFrame or a parquet path, read with ``collect_batches``), so both give the same
numbers. Codes come from the shared :class:`~tabnn.encoding.TabularEncoder`: its
``encode_binned`` (numeric columns: ``0`` = missing, ``1 .. n_bins`` = quantile bin, edges
learned on the fit sample), with ``partial_fit`` growing the categorical vocabularies chunk by
chunk, so a value first seen in a late chunk still gets its own code while the codes already
counted in the histograms keep their meaning. Categorical codes are then renumbered in order of
first appearance in the stream (:class:`ArrivalOrder`).

Memory is bounded by one chunk of rows plus the histograms (sum over features of
``cardinality x n_classes`` counts, twice) plus the small row samples kept for the pairwise
(3MR / duplicate) statistics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._validation import ColumnTable, as_column_table, validate_classification_target
from ..encoding import TabularEncoder
from ._mi import NullLabels

__all__ = ["ArrivalOrder", "PassResult", "run_pass", "table_source", "lazy_source"]

class ArrivalOrder:
    """Renumbers one column's encoder codes by first appearance: ``0`` stays missing, the
    first value seen gets ``1``, the next new one ``2`` ...

    Histogram rows then follow an order fixed by the column's partition of the rows, not by
    its labels: two columns that are relabellings of each other get identical histograms and
    hence bitwise-equal scores, so their tie goes to the earlier column as documented (sums
    over rows in label order would differ in the last bits).
    """

    def __init__(self):
        self.lut = np.zeros(1, dtype=np.int64)  # encoder code -> arrival code, -1: not yet
        self.n_values = 1

    def __call__(self, codes, n_codes):
        if len(self.lut) < n_codes:
            self.lut = np.append(self.lut, np.full(n_codes - len(self.lut), -1, np.int64))
        first_seen = pd.unique(codes)
        new = first_seen[self.lut[first_seen] < 0]
        self.lut[new] = self.n_values + np.arange(len(new))
        self.n_values += len(new)
        return self.lut[codes]


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
        _check_parquet_path(source)
        return pl.scan_parquet(source)
    if isinstance(source, pl.DataFrame):
        return source.lazy()
    if isinstance(source, pl.LazyFrame):
        return source
    raise TypeError(
        "source must be a polars LazyFrame, a polars DataFrame or a path to a parquet file, "
        f"got {type(source).__name__}."
    )


def _check_parquet_path(path):
    """A clear error for a path that is not a parquet file (a CSV, a typo)."""
    name = os.fspath(path)
    if any(ch in name for ch in "*?[") or os.path.isdir(name):
        return  # a glob or a folder of parquet files: polars reports what it finds
    if not os.path.exists(name):
        raise FileNotFoundError(f"No such parquet file: {name!r}")
    with open(name, "rb") as f:
        magic = f.read(4)
    if magic != b"PAR1":
        raise ValueError(
            f"{name!r} is not a parquet file; paths are read as parquet. For a CSV file pass "
            f"a LazyFrame: pl.scan_csv({name!r}), or a DataFrame."
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


_BLOCK_CELLS = 1 << 19  # int64 codes per encode_binned call (4 MiB): keeps the peak at a chunk


def _n_values(spec, arrival):
    return spec.cardinality if arrival is None else arrival.n_values


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
    fields = encoder.schema_
    arrival = [ArrivalOrder() if f.role == "categorical" else None for f in fields]
    K = len(src.class_counts)
    F = len(fields)
    joints = [np.zeros((max(f.cardinality, 2), K), dtype=np.int64) for f in fields]
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
        encoder.partial_fit(table)
        # encode_binned gives every column at once: row blocks bound that matrix's memory
        block = max(1, _BLOCK_CELLS // max(F, 1))
        for start in range(0, m, block):
            stop = min(start + block, m)
            part = table if (start, stop) == (0, m) else table.take(slice(start, stop))
            block_codes = encoder.encode_binned(part)
            yb, yb_null = y[start:stop], y_null[start:stop]
            in_block = rows[(rows >= start) & (rows < stop)]
            at = s_pos + np.searchsorted(rows, start)
            for j, spec in enumerate(fields):
                codes = block_codes[:, j]
                if arrival[j] is not None:
                    codes = arrival[j](codes, spec.n_codes)
                V = _n_values(spec, arrival[j])
                joints[j] = _grow(joints[j], V)
                nulls[j] = _grow(nulls[j], V)
                size = joints[j].size
                if K > 1:
                    flat = codes * K
                    joints[j] += np.bincount(flat + yb, minlength=size).reshape(-1, K)
                    nulls[j] += np.bincount(flat + yb_null, minlength=size).reshape(-1, K)
                else:
                    h = np.bincount(codes, minlength=size).reshape(-1, 1)
                    joints[j] += h
                    nulls[j] += h
                sample_codes[at:at + len(in_block), j] = codes[in_block - start]
            del block_codes
        sample_y[s_pos:s_next] = y[rows]
        sample_y_null[s_pos:s_next] = y_null[rows]
        s_pos = s_next
        offset += m
    if offset != src.n_rows:
        raise ValueError(
            f"The source produced {offset} rows while {src.n_rows} were expected."
        )
    n_values = [_n_values(f, a) for f, a in zip(fields, arrival)]
    joints = [jh[:v] for jh, v in zip(joints, n_values)]
    nulls = [nh[:v] for nh, v in zip(nulls, n_values)]
    return PassResult(
        list(src.names), [f.role for f in fields], src.n_rows, K, joints, nulls,
        sample_codes[:s_pos], sample_y[:s_pos], sample_y_null[:s_pos], n_values,
    )
