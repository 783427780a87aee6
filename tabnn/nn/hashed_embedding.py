"""Hashed embeddings of raw categorical values: Unified Embedding and per-field hashing.

Both read the encoder's stable 64-bit hash of each raw value (``TabularEncoder(value_hashes=
True)``; the estimators ask for it when their ``embedding`` is one of these), never a
vocabulary code, so the number of parameters is set by a budget, not by the vocabulary
sizes. As with a vocabulary, values rarer than the estimator's ``min_frequency`` (and values
first seen at prediction time) share one hash per field, so rare ids are not memorised; with
``min_frequency=1`` every value, an unseen one included, gets rows of its own.

* :class:`UnifiedEmbeddingLayer` (feature multiplexing, Coleman et al., NeurIPS 2023): every
  categorical field shares one table of width ``dim / n_probes``; field ``t`` looks value
  ``v`` up ``n_probes`` times, probe ``j`` at row ``mix(v ^ salt(t, j)) mod table_size``, and
  concatenates the rows. The field index is in the salt, so equal values of two fields land on
  unrelated rows.
* :class:`HashedEmbeddingLayer` (the hashing trick per field): each field has its own table of
  full width, a share of the budget proportional to the field's cardinality, and one salted
  hash.

Missing values (hash 0) get one learned vector per field outside the hashed rows. Numeric
fields keep their own vectors (:class:`~tabnn.nn.embedding.NumericEmbedding`).

:class:`UnifiedEmbedding` and :class:`HashedEmbedding` are the specifications the ``embedding``
parameter of every neural estimator takes (grid-searchable values).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import nn
from torch.nn import functional as F

from .._params import Interval, Options, validate_params
from .embedding import FieldsEmbedding, numeric_tables

__all__ = [
    "HashedEmbedding",
    "HashedEmbeddingLayer",
    "UnifiedEmbedding",
    "UnifiedEmbeddingLayer",
    "mix64",
    "unsigned_mod",
]

_MASK64 = (1 << 64) - 1


def _signed(value):
    """A 64-bit unsigned constant as the int64 torch stores."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def _splitmix64(value):
    """splitmix64 finaliser on a Python int (exact, used for the salts)."""
    z = value & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


_M1, _M2 = _signed(0xBF58476D1CE4E5B9), _signed(0x94D049BB133111EB)


def _shift_right(z, s):
    # torch shifts int64 arithmetically; the mask drops the copied sign bits
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix64(z):
    """splitmix64 finaliser of int64 tensors read as unsigned 64-bit words.

    Integer multiplication wraps modulo 2**64 on every torch device, so the result is the same
    on CPU and GPU and in every process.
    """
    z = (z ^ _shift_right(z, 30)) * _M1
    z = (z ^ _shift_right(z, 27)) * _M2
    return z ^ _shift_right(z, 31)


def unsigned_mod(z, n, two63_mod_n=None):
    """``z mod n`` with the int64 tensor ``z`` read as an unsigned 64-bit word.

    ``n`` is an int or an int64 tensor broadcasting against ``z``; ``two63_mod_n`` is
    ``2**63 mod n`` (computed when not given).
    """
    if two63_mod_n is None:
        two63_mod_n = (1 << 63) % n if isinstance(n, int) else torch.remainder(
            torch.remainder(torch.full_like(n, 1 << 62), n) * 2, n)
    low = torch.remainder(z & ((1 << 63) - 1), n)
    return torch.remainder(low + (z < 0).to(z.dtype) * two63_mod_n, n)


def _salts(n_fields, n_probes, seed):
    """``[n_fields, n_probes]`` int64 salts, one per (field, probe)."""
    return torch.tensor([[_signed(_splitmix64(seed + (t << 16) + j)) for j in range(n_probes)]
                         for t in range(n_fields)], dtype=torch.int64).reshape(n_fields, n_probes)


class _HashedBase(FieldsEmbedding):
    """Shared parts: value ids from the hashes, one missing vector per field."""

    uses_value_hashes = True

    def __init__(self, cardinalities, n_numeric, dim, init_std, numeric):
        super().__init__(cardinalities, n_numeric, dim, init_std, numeric)
        # value ids follow the encoder's codes: 0 missing, 1 rare or unseen, 2.. hash buckets
        buckets = torch.tensor([max(c - 2, 1) for c in self.cardinalities], dtype=torch.int64)
        self.register_buffer("buckets", buckets)
        self.register_buffer("buckets_two63", torch.tensor(
            [(1 << 63) % int(b) for b in buckets.tolist()], dtype=torch.int64))
        self.missing = nn.Parameter(torch.empty(self.n_categorical, self.dim))

    def reset_parameters(self):
        nn.init.normal_(self.table, std=self.init_std)
        nn.init.normal_(self.missing, std=self.init_std)
        self.numeric.reset_parameters()

    def embedding_tables(self):
        return [self.table, self.missing, *numeric_tables(self.numeric)]

    def value_ids(self, codes):
        """The encoder's code of every hash (``0`` missing, ``2 + hash mod buckets``) plus the
        field's offset: feature-value gates keyed by value, not by shared table row."""
        code = unsigned_mod(codes, self.buckets, self.buckets_two63) + 2
        # hashes 0 (missing) and 1 (rare or unseen; int64 words, so no <=) are codes 0 and 1
        return torch.where((codes == 0) | (codes == 1), codes, code) + self.offsets

    def _lookup(self, hashes):  # pragma: no cover - abstract
        """Vectors ``[B, Fc, d]`` of the hashes."""
        raise NotImplementedError

    def _categorical(self, hashes):
        emb = self._lookup(hashes)
        return torch.where((hashes == 0).unsqueeze(-1), self.missing.to(emb.dtype), emb)


class UnifiedEmbeddingLayer(_HashedBase):
    """Unified Embedding: all categorical fields multiplexed into one shared table.

    Parameters
    ----------
    cardinalities : sequence of int
        Codes per categorical field as the encoder reports them (only the size of the default
        table and :meth:`value_ids` use them).
    n_numeric : int
        Number of numeric fields.
    dim : int
        Width ``d`` of every field vector; a multiple of ``n_probes``.
    table_size : int or None, default=None
        Rows of the shared table, each of width ``dim / n_probes``. None: ``n_probes *
        sum(cardinalities)``, the parameter count of per-field tables.
    n_probes : int, default=2
        Lookups per field, concatenated.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation.
    seed : int, default=0
        Seed of the per-(field, probe) salts.
    numeric : callable or None, default=None
        ``numeric(dim)`` builds the module of the numeric fields; None: one scaled vector per
        field (:class:`~tabnn.nn.numeric_embedding.LinearNumericEmbedding`).

    Notes
    -----
    Forward: ``hashes [B, Fc] int64`` (the encoder's ``value_hashes``, 0 = missing),
    ``numeric [B, Fn]``, ``numeric_missing [B, Fn]`` -> ``[B, Fc + Fn, d]``.
    """

    def __init__(self, cardinalities, n_numeric, dim, table_size=None, n_probes=2,
                 init_std=1e-2, seed=0, numeric=None):
        super().__init__(cardinalities, n_numeric, dim, init_std, numeric)
        if self.dim % n_probes:
            raise ValueError(f"embedding_dim must be a multiple of n_probes, however: "
                             f"embedding_dim={self.dim}, n_probes={n_probes}")
        self.n_probes = int(n_probes)
        self.table_size = int(table_size if table_size is not None
                              else max(self.n_probes * sum(self.cardinalities), 1))
        self.register_buffer("salts", _salts(self.n_categorical, self.n_probes, seed))
        self.table = nn.Parameter(torch.empty(self.table_size, self.dim // self.n_probes))
        self.reset_parameters()

    def rows(self, hashes):
        """Table rows ``[B, Fc, n_probes]`` of every (value, probe)."""
        return unsigned_mod(mix64(hashes.unsqueeze(-1) ^ self.salts), self.table_size)

    def _lookup(self, hashes):
        return F.embedding(self.rows(hashes), self.table).flatten(-2)  # [B, Fc, k, d/k]


class HashedEmbeddingLayer(_HashedBase):
    """The hashing trick per field: field ``t`` hashes its values into its own table.

    Parameters
    ----------
    cardinalities : sequence of int
        Codes per categorical field as the encoder reports them; the budget is shared in
        proportion to them.
    n_numeric : int
        Number of numeric fields.
    dim : int
        Width ``d`` of every field vector.
    table_size : int or None, default=None
        Rows over all fields (each of width ``dim``). None: ``sum(cardinalities)``.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation.
    seed : int, default=0
        Seed of the per-field salts.
    numeric : callable or None, default=None
        ``numeric(dim)`` builds the module of the numeric fields; None: one scaled vector per
        field (:class:`~tabnn.nn.numeric_embedding.LinearNumericEmbedding`).
    """

    def __init__(self, cardinalities, n_numeric, dim, table_size=None, init_std=1e-2, seed=0,
                 numeric=None):
        super().__init__(cardinalities, n_numeric, dim, init_std, numeric)
        total = sum(self.cardinalities)
        budget = int(table_size) if table_size is not None else total
        sizes = [max(1, budget * c // max(total, 1)) for c in self.cardinalities]
        self.field_rows = sizes
        offsets = torch.zeros(len(sizes), dtype=torch.int64)
        if sizes:
            offsets[1:] = torch.cumsum(torch.tensor(sizes[:-1]), 0)
        self.register_buffer("row_offsets", offsets)
        self.register_buffer("rows_per_field", torch.tensor(sizes, dtype=torch.int64))
        self.register_buffer("rows_two63", torch.tensor([(1 << 63) % s for s in sizes],
                                                        dtype=torch.int64))
        self.register_buffer("salts", _salts(self.n_categorical, 1, seed).reshape(-1))
        self.table = nn.Parameter(torch.empty(max(sum(sizes), 1), self.dim))
        self.reset_parameters()

    @property
    def table_size(self):
        return sum(self.field_rows)

    def rows(self, hashes):
        """Table rows ``[B, Fc]`` of every value."""
        local = unsigned_mod(mix64(hashes ^ self.salts), self.rows_per_field, self.rows_two63)
        return local + self.row_offsets

    def _lookup(self, hashes):
        return F.embedding(self.rows(hashes), self.table)


class _HashedSpec:
    """Specification base: a data class (so :mod:`tabnn.persistence` stores it) with the
    scikit-learn parameter interface (``clone``, nested grid search ``embedding__table_size``)
    and parameters checked at build."""

    uses_value_hashes = True

    def get_params(self, deep=True):
        """The specification's parameters, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def set_params(self, **params):
        """Set parameters by name; returns self."""
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters: {sorted(self.get_params())}.")
            setattr(self, name, value)
        return self


@dataclass
class UnifiedEmbedding(_HashedSpec):
    """Unified Embedding (feature multiplexing) for the ``embedding`` parameter.

    All categorical fields share one table; each field looks its raw value up ``n_probes``
    times through its own salted stable hash and concatenates the rows to the field's width
    (Coleman et al., "Unified Embedding", NeurIPS 2023). The parameter count is
    ``table_size * embedding_dim / n_probes`` whatever the vocabulary sizes; values rarer
    than ``min_frequency`` and unseen ones share one hash per field (``min_frequency=1``:
    every value, unseen ones included, gets rows of its own). Missing values have one learned vector per field; numeric
    fields keep their own vectors. ``embedding="unified"`` is ``UnifiedEmbedding()``.

    Parameters
    ----------
    table_size : int or None, default=None
        Rows of the shared table. None: as many parameters as per-field tables
        (``n_probes *`` the sum of the field cardinalities).
    n_probes : int, default=2
        Lookups per field; ``embedding_dim`` must be a multiple of it.

    See Also
    --------
    HashedEmbedding : per-field hashing into a fixed budget, the baseline.

    Examples
    --------
    >>> from tabnn import FCNClassifier, UnifiedEmbedding
    >>> FCNClassifier(embedding=UnifiedEmbedding(table_size=4096, n_probes=4)).embedding
    UnifiedEmbedding(table_size=4096, n_probes=4)
    """

    _param_constraints = {
        "table_size": [Interval("int", 1), Options(None)],
        "n_probes": [Interval("int", 1)],
    }

    table_size: int | None = None
    n_probes: int = 2

    def build(self, cardinalities, n_numeric, dim, numeric=None):
        """The :class:`UnifiedEmbeddingLayer` for the encoder's fields."""
        validate_params(self)
        return UnifiedEmbeddingLayer(cardinalities, n_numeric, dim, table_size=self.table_size,
                                     n_probes=self.n_probes, numeric=numeric)


@dataclass
class HashedEmbedding(_HashedSpec):
    """Per-field hashing of raw values into a fixed budget, for the ``embedding`` parameter.

    Each categorical field hashes its raw value with its own salted stable hash into its own
    table of full width; the ``table_size`` rows are shared out in proportion to the fields'
    cardinalities. The baseline Unified Embedding is compared against.
    ``embedding="hashed"`` is ``HashedEmbedding()``.

    Parameters
    ----------
    table_size : int or None, default=None
        Rows over all fields, each of width ``embedding_dim``. None: the sum of the field
        cardinalities (as many parameters as per-field tables).

    See Also
    --------
    UnifiedEmbedding : one shared table, several probes per field.
    """

    _param_constraints = {"table_size": [Interval("int", 1), Options(None)]}

    table_size: int | None = None

    def build(self, cardinalities, n_numeric, dim, numeric=None):
        """The :class:`HashedEmbeddingLayer` for the encoder's fields."""
        validate_params(self)
        return HashedEmbeddingLayer(cardinalities, n_numeric, dim, table_size=self.table_size,
                                    numeric=numeric)
