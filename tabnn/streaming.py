"""Out-of-core training and prediction: data read from parquet or a polars LazyFrame in chunks.

A neural estimator's ``fit`` accepts, in place of an in-memory table, a polars ``LazyFrame``,
a parquet path (a file, a directory or a glob) or a list of paths; ``y`` is then the name of
the target column in that source, or an array with one entry per row, and so is
``sample_weight``. Nothing but the encoded validation rows, the targets, the weights and one
or two chunks is held in memory:

* the encoder is fitted from the value counts of every column (polars ``group_by().len()``
  per chunk, or the sum of the rows' weights, summed over chunks), used as the weights of the
  distinct values, so its vocabularies and
  numeric quantiles equal those of an in-memory fit on the same rows; a numeric column with
  more than ``EXACT_DISTINCT`` distinct values is counted on a grid of 12 significant bits
  from then on (quantiles and bin edges within 0.025 %), so memory does not grow with the rows;
* every epoch visits the chunks (the parquet row groups, or ``chunk_rows`` slices of a
  LazyFrame) in a shuffled order and shuffles the rows within each; a background thread reads
  and encodes the next chunk while the current one trains;
* the held-out validation rows (``validation_fraction`` of the rows, at most 1,000,000,
  spread evenly over the source) or the user's ``X_val`` -- which may itself be a lazy source -- are encoded once.

Prediction on a lazy source runs chunk by chunk; :func:`predict_parquet` writes the
predictions of a parquet source to a parquet file without holding either in memory.

Examples
--------
>>> import polars as pl, tempfile, os
>>> from tabnn import FCNClassifier
>>> from tabnn.datasets import make_ctr
>>> X, y = make_ctr(n_samples=3000, n_categorical=3, n_numeric=2, random_state=0,
...                 return_X_y=True)
>>> path = os.path.join(tempfile.mkdtemp(), "train.parquet")
>>> pl.from_pandas(X).with_columns(click=y).write_parquet(path, row_group_size=1000)
>>> model = FCNClassifier(max_epochs=2, random_state=0).fit(path, "click")
>>> model.predict_proba(path).shape
(3000, 2)
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
import torch
from sklearn.utils.validation import check_is_fitted

from ._params import draw_seed, validate_params
from ._validation import as_column_table, validate_sample_weight
from .training import resolve_mixed_precision, resolve_strategy

__all__ = ["is_lazy_source", "predict_parquet", "scan"]

CHUNK_ROWS = 262_144
# enough validation rows for a precise metric; more would only cost memory (kept encoded)
MAX_HELD_OUT = 1_000_000
# distinct values of a numeric column counted exactly; past them, on a relative grid (each
# value rounded to 12 significant bits): a continuous column has about one distinct value per
# row, and its exact counts over 20M rows would hold the column several times over
EXACT_DISTINCT = 1 << 18
_DROPPED_BITS = 52 - 12
# rows held out for validation: those whose Weyl sequence (row * A + B) mod P falls below
# validation_fraction * P -- spread evenly over the source, the same in every process
_P = 2_147_483_647
_A = 1_327_217_885  # ~ P / golden ratio


# -- sources --------------------------------------------------------------------------------
def _is_path(value):
    return isinstance(value, (str, os.PathLike))


def is_lazy_source(X):
    """Whether ``X`` is read out of core: a polars LazyFrame, a path or a list of paths."""
    if isinstance(X, pl.LazyFrame) or _is_path(X):
        return True
    return isinstance(X, (list, tuple)) and len(X) > 0 and all(_is_path(p) for p in X)


def scan(source):
    """A polars LazyFrame over ``source`` (a LazyFrame, a parquet path or a list of paths)."""
    if isinstance(source, pl.LazyFrame):
        return source
    if _is_path(source):
        return pl.scan_parquet(os.fspath(source))
    return pl.scan_parquet([os.fspath(p) for p in source])


class _Chunks:
    """The chunks of a source: parquet row groups (read with pyarrow) or LazyFrame slices."""

    def __init__(self, source, columns, chunk_rows=CHUNK_ROWS):
        self.columns = list(columns)
        self.parts = []  # (offset, n_rows, file or None, row group or slice start)
        files = self._files(source)
        offset = 0
        if files is not None:
            import pyarrow.parquet as pq

            for path in files:
                meta = pq.ParquetFile(path).metadata
                for g in range(meta.num_row_groups):
                    n = meta.row_group(g).num_rows
                    if n:
                        self.parts.append((offset, n, path, g))
                        offset += n
        else:
            self.frame = scan(source)
            total = self.frame.select(pl.len()).collect().item()
            for start in range(0, total, chunk_rows):
                n = min(chunk_rows, total - start)
                self.parts.append((offset, n, None, start))
                offset += n
        self.n_rows = offset

    @staticmethod
    def _files(source):
        if isinstance(source, pl.LazyFrame):
            return None
        paths = [source] if _is_path(source) else list(source)
        files = []
        for p in map(os.fspath, paths):
            if os.path.isdir(p):
                files += sorted(os.path.join(p, f) for f in os.listdir(p)
                                if f.endswith(".parquet"))
            elif os.path.isfile(p):
                files.append(p)
            else:
                return None  # a glob: let polars expand it, read by slices
        return files

    def read(self, k):
        """``(offset, DataFrame)`` of chunk ``k`` with the selected columns."""
        offset, n, path, where = self.parts[k]
        if path is not None:
            import pyarrow.parquet as pq

            table = pq.ParquetFile(path).read_row_group(where, columns=self.columns)
            return offset, pl.from_arrow(table)
        return offset, self.frame.select(self.columns).slice(where, n).collect()


def _offset(seed):
    return int(seed) * 2_654_435_761 % _P  # nearby seeds give unrelated hold-outs


def _holdout_mask(rows, seed, fraction):
    return ((rows.astype(np.int64) * _A + _offset(seed)) % _P) < int(fraction * _P)


def _weights(weight, rows):
    """``weight[rows]``, or ones for unit weights (``weight=None``)."""
    if weight is not None:
        return weight[rows]
    return np.ones(len(range(rows.stop)[rows]) if isinstance(rows, slice) else len(rows))


def _holdout_rows(n, seed, fraction, block=1 << 20):
    """Sorted row numbers of the held-out rows among ``n`` (computed in blocks: no
    temporaries of ``n`` entries)."""
    parts = [start + np.flatnonzero(_holdout_mask(np.arange(start, min(start + block, n)),
                                                  seed, fraction))
             for start in range(0, n, block)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _column_or_array(frame, value, n, name):
    """A column of ``frame`` named by ``value``, or ``value`` itself as an array of ``n``."""
    if isinstance(value, str):
        return frame.select(value).collect(engine="streaming").to_series().to_numpy()
    values = np.asarray(value)
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(f"{name} must be the name of a column of X or have one entry per row "
                         f"({n}); got shape {values.shape}.")
    return values


# -- encoder ----------------------------------------------------------------------------------
def _on_grid(frame, name):
    """``frame`` with its numeric column ``name`` as float64 rounded to 12 significant bits
    (non-finite values and nulls unchanged)."""
    x = frame[name].cast(pl.Float64).to_numpy()
    half = np.int64(1 << (_DROPPED_BITS - 1))
    grid = (((x.view(np.int64) + half) >> _DROPPED_BITS) << _DROPPED_BITS).view(np.float64)
    rounded = pl.Series(name, np.where(np.isfinite(grid), grid, x))
    return frame.with_columns(rounded.fill_nan(None) if frame[name].null_count() else rounded)


def fit_encoder(encoder, source, features, train_mask=None, chunk_rows=CHUNK_ROWS,
                weight=None):
    """Fit ``encoder`` on the rows of a lazy source (those of global row numbers ``r`` where
    ``train_mask(r)`` holds) from value counts accumulated chunk by chunk; returns it.

    The counts (with ``weight``, an array over the global rows: the sums of the rows'
    weights) are the row weights of an ordinary fit on the distinct values, so
    vocabularies, frequencies and weighted (exact) quantiles equal an in-memory fit's.
    Memory: one chunk plus the distinct values of every categorical column and at most
    ``EXACT_DISTINCT`` (then grid points) per numeric column.
    """
    validate_params(encoder)
    chunks = source if isinstance(source, _Chunks) else _Chunks(source, features, chunk_rows)
    counts = dict.fromkeys(features)
    numeric, gridded = set(), set()
    count = pl.len().cast(pl.Float64) if weight is None else pl.col("__weight").sum()
    for k in range(len(chunks.parts)):
        offset, frame = chunks.read(k)
        if k == 0:  # column roles and names, as a fit on the first rows decides them
            encoder._fit(frame.select(features).head(1000), None)
            numeric = {s.name for s in encoder.schema_
                       if s.role == "numeric" and frame.schema[s.name].is_numeric()}
        if weight is not None:
            frame = frame.with_columns(
                __weight=pl.Series(weight[offset : offset + frame.height], dtype=pl.Float64))
        if train_mask is not None:
            frame = frame.filter(pl.Series(train_mask(np.arange(offset,
                                                                offset + frame.height))))
        for name in features:
            part = frame.select(name) if weight is None else frame.select(name, "__weight")
            if name in gridded:
                part = _on_grid(part, name)
            part = part.group_by(name).agg(count.alias("__count"))
            if counts[name] is not None:
                part = (pl.concat([counts[name], part], how="vertical_relaxed")
                        .group_by(name).agg(pl.col("__count").sum()))
            if name in numeric and part.height > EXACT_DISTINCT:
                gridded.add(name)
                part = (_on_grid(part, name).group_by(name).agg(pl.col("__count").sum()))
            counts[name] = part
    schema = []
    for spec in encoder.schema_:
        values = counts[spec.name]
        col = as_column_table(values.select(spec.name))[0]
        fit = (encoder._fit_categorical if spec.role == "categorical"
               else encoder._fit_numeric)
        schema.append(fit(col, spec.index, values["__count"].to_numpy()))
    encoder.schema_ = schema
    encoder._index_cache = {}
    return encoder


def _encode_source(estimator, source, chunks=None):
    """The encoded rows of a lazy source (or of ``chunks``), encoded chunk by chunk into
    arrays allocated once (no unscaled numerics: training does not need them)."""
    chunks = chunks or _Chunks(source, estimator.feature_names_in_)
    out, start = None, 0
    for k in range(len(chunks.parts)):
        part = estimator.encoder_.encode(chunks.read(k)[1])
        if out is None:
            arrays = {name: np.empty((chunks.n_rows, *getattr(part, name).shape[1:]),
                                     getattr(part, name).dtype)
                      for name in _ENCODED if getattr(part, name, None) is not None}
            out = dataclasses.replace(part, raw=None, **arrays)
        m = part.codes.shape[0]
        for name in arrays:
            getattr(out, name)[start : start + m] = getattr(part, name)
        start += m
    return out


_ENCODED = ("codes", "numeric", "numeric_missing", "value_hashes")


# -- training ---------------------------------------------------------------------------------
class _Reader:
    """Reads and encodes chunks in a background thread, one ahead of training."""

    def __init__(self, estimator, chunks, target, weight, train_mask, device):
        self.estimator, self.chunks, self.device = estimator, chunks, device
        self.target, self.weight, self.train_mask = target, weight, train_mask

    def _load(self, k):
        offset, frame = self.chunks.read(k)
        rows = slice(offset, offset + frame.height)
        if self.train_mask is not None:
            keep = self.train_mask(np.arange(offset, offset + frame.height))
            frame = frame.filter(pl.Series(keep))
            rows = np.arange(offset, offset + len(keep))[keep]
        est = self.estimator
        inputs = est._to_tensors(est.encoder_.encode(frame), self.device)
        return (inputs, *est._target_tensors(self.target[rows], _weights(self.weight, rows),
                                             self.device))

    def __call__(self, order):
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(self._load, order[0])
            for k in order[1:]:
                current, ahead = ahead.result(), pool.submit(self._load, k)
                yield current
            yield ahead.result()


class _Streamed:
    """Device strategy wrapper whose batches come from chunks read during the epoch.

    Each epoch takes the chunks in a random order and the rows of each chunk in a random
    order; the rows of a chunk left over after its last full batch go into the next chunk's
    first batch. The stepper's tensors are swapped for each chunk's, so CUDA graphs (which
    capture fixed tensors) are off.
    """

    def __init__(self, base, reader):
        self.base, self.reader = base, reader
        self.torch_device = base.torch_device
        self.uses_graphs = False
        self.callbacks = getattr(base, "callbacks", ())

    def session(self, seed):
        return self.base.session(seed)

    def optimizer(self, groups, learning_rate):
        return self.base.optimizer(groups, learning_rate)

    def evaluate(self, network, valid, config):
        return self.base.evaluate(network, valid, config)

    def stepper(self, trainer, train):
        self.current = self.base.stepper(trainer, train)
        self.current.use_graph = False
        return self.current

    def batches(self, n, batch_size, generator):
        stepper = self.current
        # under DDP every rank reads every chunk and trains on its share of each batch
        share = getattr(self.base, "share", lambda batch: batch)
        order = torch.randperm(len(self.reader.chunks.parts), generator=generator).tolist()
        carry = None
        for inputs, y, w in self.reader(order):
            if carry is not None:
                inputs = [torch.cat([a, b]) for a, b in zip(carry[0], inputs)]
                y, w = torch.cat([carry[1], y]), torch.cat([carry[2], w])
            m = y.shape[0]
            perm = torch.randperm(m, generator=generator).to(y.device)
            stepper.inputs, stepper.y, stepper.w = inputs, y, w
            full = m - m % batch_size
            for start in range(0, full, batch_size):
                yield share(perm[start : start + batch_size])
            rest = perm[full:]
            carry = ([t[rest] for t in inputs], y[rest], w[rest]) if len(rest) else None
        if carry is not None:
            stepper.inputs, stepper.y, stepper.w = carry
            last = share(torch.arange(carry[1].shape[0], device=carry[1].device))
            if len(last):
                yield last


def fit_source(estimator, X, y, sample_weight=None, X_val=None, y_val=None,
               sample_weight_val=None, chunk_rows=CHUNK_ROWS):
    """``estimator.fit`` on a lazy source: see the module docstring. Returns ``estimator``."""
    est = estimator
    validate_params(est)
    frame = scan(X)
    names = frame.collect_schema().names()
    named = {value for value in (y, sample_weight) if isinstance(value, str)}
    for value, name in ((y, "y"), (sample_weight, "sample_weight")):
        if isinstance(value, str) and value not in names:
            raise ValueError(f"{name}={value!r} is not a column of X (columns: {names}).")
    features = [c for c in names if c not in named]
    chunks = _Chunks(X, features, chunk_rows)
    n = chunks.n_rows
    warm = est._warm_starting() if hasattr(est, "_warm_starting") else False
    y_values = _column_or_array(frame, y, n, "y")
    given = (None if sample_weight is None else
             _column_or_array(frame, sample_weight, n, "sample_weight"))
    weights = validate_sample_weight(given, n)  # ones without sample_weight
    # a warm start keeps the classes (and the target scaling) of the first fit
    target = (est._encode_validation_target(y_values, n) if warm
              else est._encode_target(y_values, n, weights))
    del y_values
    sw = None  # unit weights are made per chunk
    if given is not None or getattr(est, "class_weight", None) is not None:
        sw = est._weigh_classes(target, weights, fit=not warm)
    if warm and list(est.feature_names_in_) != features:
        raise ValueError(f"warm_start: X has columns {features}, the first fit had "
                         f"{list(est.feature_names_in_)}.")
    est.n_features_in_ = len(features)
    est.feature_names_in_ = np.asarray(features, dtype=object)

    seed = draw_seed(est.random_state)
    strategy = resolve_strategy(est.device)
    device = strategy.torch_device
    est.device_ = str(device)
    est.mixed_precision_ = resolve_mixed_precision(est.mixed_precision, device,
                                                   getattr(torch, est.dtype))
    has_validation_set = est._check_validation_request(X_val, y_val, sample_weight_val)
    holdout = est._uses_early_stopping(n) and not has_validation_set

    # the held-out part: validation_fraction of the rows, at most MAX_HELD_OUT of them
    fraction = min(est.validation_fraction, MAX_HELD_OUT / n)
    train_mask = (lambda rows: ~_holdout_mask(rows, seed, fraction)) if holdout else None
    valid_rows = _holdout_rows(n, seed, fraction) if holdout else None
    n_train = n if valid_rows is None else n - len(valid_rows)
    if not warm:
        est.encoder_ = est._new_encoder()
        fit_encoder(est.encoder_, chunks, features, train_mask, weight=sw)

    valid = None
    if holdout:
        encoded = _encode_source(est, None, _Rows(chunks, valid_rows))
        valid = (est._to_tensors(encoded, device),
                 *est._target_tensors(target[valid_rows], _weights(sw, valid_rows), device))
    elif has_validation_set:
        valid = _validation(est, X_val, y_val, sample_weight_val, device)

    if warm:
        network = est.module_.to(device)
    else:
        sample = est.encoder_.encode(chunks.read(0)[1].head(1))
        network = est._build_network(sample, target, sw, seed, device)
    reader = _Reader(est, chunks, target, sw, train_mask, device)
    placeholder = ((torch.empty(n_train, 0),), torch.empty(n_train, 0), torch.empty(n_train, 0))
    est._train(network, placeholder, valid, _Streamed(strategy, reader), seed)
    if hasattr(strategy, "finish"):
        strategy.finish(est)
    return est


class _Rows:
    """The rows ``rows`` (sorted global indices) of ``chunks``, read chunk by chunk."""

    def __init__(self, chunks, rows):
        self.chunks, self.rows, self.n_rows = chunks, rows, len(rows)
        self.parts = [p for p in chunks.parts
                      if np.searchsorted(rows, p[0] + p[1]) > np.searchsorted(rows, p[0])]

    def read(self, k):
        offset, n = self.parts[k][:2]
        _, frame = self.chunks.read(self.chunks.parts.index(self.parts[k]))
        lo, hi = np.searchsorted(self.rows, [offset, offset + n])
        keep = np.zeros(n, dtype=bool)
        keep[self.rows[lo:hi] - offset] = True
        return offset, frame.filter(pl.Series(keep))


def _validation(est, X_val, y_val, sample_weight_val, device):
    if not is_lazy_source(X_val):  # in memory: the in-memory fit's own validation set
        table, target, sw = est._validation_data(X_val, y_val, sample_weight_val)
        encoded = est.encoder_.encode(table)
    else:
        frame = scan(X_val)
        chunks = _Chunks(X_val, est.feature_names_in_)
        encoded = _encode_source(est, X_val, chunks)
        m = encoded.codes.shape[0]
        target = est._encode_validation_target(
            _column_or_array(frame, y_val, chunks.n_rows, "y_val"), m)
        # weighted as in an in-memory fit: checked, and times the class weights
        sw = est._weigh_classes(target, validate_sample_weight(sample_weight_val, m))
    return est._to_tensors(encoded, device), *est._target_tensors(target, sw, device)


# -- prediction -------------------------------------------------------------------------------
def forward_source(estimator, X, forward, chunk_rows=CHUNK_ROWS):
    """``forward(frame)`` of every chunk of the lazy source ``X``, concatenated."""
    check_is_fitted(estimator, "module_")
    chunks = _Chunks(X, _feature_names(estimator), chunk_rows)
    outs = [forward(chunks.read(k)[1]) for k in range(len(chunks.parts))]
    if isinstance(outs[0], (list, tuple)):
        return [np.concatenate(parts) for parts in zip(*outs)]
    return np.concatenate(outs)


def _feature_names(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        raise ValueError("A lazy source is read by column name: fit the estimator on a "
                         "DataFrame or lazy source (with column names) first.")
    return list(names)


def predict_parquet(estimator, source, path, method="predict_proba", chunk_rows=CHUNK_ROWS,
                    keep_columns=()):
    """Write ``estimator.<method>`` of every row of ``source`` to the parquet file ``path``,
    chunk by chunk (memory bounded by one chunk).

    Parameters
    ----------
    estimator : fitted neural estimator
    source : polars LazyFrame, parquet path or list of paths
        Rows to predict (columns by name; other columns are ignored).
    path : str or path-like
        Output parquet file, one row group per chunk, in the order of ``source``.
    method : {"predict_proba", "predict", "decision_function"}, default="predict_proba"
        ``predict_proba`` writes one column per class (``proba_<class>``); the others one
        column named after the method.
    chunk_rows : int, default=262144
        Rows per chunk for a LazyFrame (parquet files are read by row group).
    keep_columns : sequence of str, default=()
        Columns of ``source`` copied to the output (an id, say).

    Returns
    -------
    n_rows : int
        Number of rows written.
    """
    import pyarrow.parquet as pq

    check_is_fitted(estimator, "module_")
    chunks = _Chunks(source, [*_feature_names(estimator), *keep_columns], chunk_rows)
    writer = None
    try:
        for k in range(len(chunks.parts)):
            frame = chunks.read(k)[1]
            out = getattr(estimator, method)(frame.select(_feature_names(estimator)))
            if out.ndim == 2:
                columns = {f"proba_{c}": out[:, j] for j, c in enumerate(estimator.classes_)}
            else:
                columns = {method: out}
            result = pl.DataFrame({name: pl.Series(values) for name, values in columns.items()})
            table = pl.concat([frame.select(keep_columns), result], how="horizontal").to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(os.fspath(path), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return chunks.n_rows
