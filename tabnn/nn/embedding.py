"""Embedding layers: encoder output ``(codes, numeric, numeric_missing)`` -> ``[B, F, d]``.

Every embedding follows the protocol of :class:`Embedding` (same call signature, same
reported sizes), so any model works with any embedding: models are built from what the
embedding reports, never from an estimator's parameters. Embeddings are chosen by name
through :func:`build_embedding` (the ``embedding`` parameter of every neural estimator).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .numeric_embedding import LinearNumericEmbedding

__all__ = ["EMBEDDINGS", "Embedding", "FieldEmbedding", "FieldsEmbedding", "NumericEmbedding",
           "build_embedding", "uses_value_hashes", "value_offsets"]


def value_offsets(cardinalities):
    """First global value id of every field (``id = offsets[f] + code``), int64 numpy array."""
    cards = np.asarray(cardinalities, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64) if len(cards) else cards


class Embedding(nn.Module):
    """Protocol of every embedding module (subclass it and implement ``forward``).

    Forward: ``codes [B, Fc] int64``, ``numeric [B, Fn]``, ``numeric_missing [B, Fn]`` ->
    ``[B, Fc + Fn, dim]``, categorical fields first.

    Attributes
    ----------
    n_categorical : int
        Number of categorical fields ``Fc``.
    n_numeric : int
        Number of numeric fields ``Fn``.
    dim : int
        Width ``d`` of every field vector.
    n_values : int
        Number of distinct categorical values over all fields (size of the global value-id
        space of :meth:`value_ids`).
    uses_value_hashes : bool
        True when ``codes`` must be the encoder's 64-bit hashes of the raw values
        (``EncodedTable.value_hashes`` as int64, 0 = missing) instead of vocabulary codes
        (:mod:`tabnn.nn.hashed_embedding`).
    """

    n_categorical: int
    n_numeric: int
    dim: int
    n_values: int
    uses_value_hashes = False

    @property
    def n_fields(self):
        """Number of fields ``F = Fc + Fn``."""
        return self.n_categorical + self.n_numeric

    def embedding_tables(self):
        """Parameters holding per-value vectors (the embedding L2 penalty acts on these)."""
        return []

    def value_ids(self, codes):
        """Global value id ``[B, Fc]`` in ``[0, n_values)`` of every categorical code
        (one id per (field, code); e.g. for feature-value gates)."""
        raise NotImplementedError

    def no_weight_decay(self):
        """Parameters outside weight decay: all of an embedding's (see ``embedding_l2``)."""
        return list(self.parameters())


#: the linear numeric embedding, under its former name
NumericEmbedding = LinearNumericEmbedding


def numeric_module(numeric, n_numeric, dim, init_std=1e-2):
    """The module an embedding hands its numeric fields to: ``numeric(dim)``, or the linear
    one when ``numeric`` is None; checked against ``n_numeric`` and ``dim``."""
    module = LinearNumericEmbedding(n_numeric, dim, init_std) if numeric is None else numeric(dim)
    if module.n_fields != n_numeric or module.dim != dim:
        raise ValueError(
            f"the numeric embedding has {module.n_fields} fields of width {module.dim}, "
            f"however: n_numeric={n_numeric}, dim={dim}"
        )
    return module


def numeric_tables(module):
    """The per-value tables of a numeric module (e.g. value vectors), if it has any."""
    return module.embedding_tables() if hasattr(module, "embedding_tables") else []


class FieldsEmbedding(Embedding):
    """Base of the embeddings that hold the categorical vectors themselves and hand the numeric
    fields to a numeric module: checks the fields, keeps ``cardinalities``, ``offsets`` (first
    global value id of each field) and ``numeric``, and concatenates the two parts in
    ``forward``. A subclass implements ``_categorical(codes) -> [B, Fc, d]``.
    """

    def __init__(self, cardinalities, n_numeric, dim, init_std, numeric):
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        if any(c < 1 for c in cardinalities):
            raise ValueError(f"cardinalities must be >= 1, however: {cardinalities}")
        if not cardinalities and n_numeric == 0:
            raise ValueError(f"{type(self).__name__} needs at least one field, however: no "
                             "fields given")
        self.cardinalities, self.dim, self.init_std = cardinalities, int(dim), init_std
        self.register_buffer("offsets", torch.as_tensor(value_offsets(cardinalities)))
        self.numeric = numeric_module(numeric, n_numeric, self.dim, init_std)

    @property
    def n_categorical(self):
        """Number of categorical fields; they come first in the output."""
        return len(self.cardinalities)

    @property
    def n_numeric(self):
        return self.numeric.n_fields

    @property
    def n_values(self):
        return sum(self.cardinalities)

    def value_ids(self, codes):
        return codes + self.offsets

    def _categorical(self, codes):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, codes, numeric, numeric_missing):
        parts = []
        if self.cardinalities:
            parts.append(self._categorical(codes))
        if self.numeric.n_fields:
            parts.append(self.numeric(numeric, numeric_missing))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class FieldEmbedding(FieldsEmbedding):
    """Per-field embeddings stored as one table with offsets, plus numeric embeddings.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of codes of each categorical field (including the reserved missing and
        unknown codes of the encoder).
    n_numeric : int
        Number of numeric fields.
    dim : int
        Embedding size ``d``, the same for every field.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation of the tables.
    numeric : callable or None, default=None
        ``numeric(dim)`` builds the module the ``n_numeric`` fields go to
        (:mod:`tabnn.nn.numeric_embedding`); None:
        :class:`~tabnn.nn.numeric_embedding.LinearNumericEmbedding`.

    Notes
    -----
    Forward: ``codes [B, Fc] int64``, ``numeric [B, Fn]``, ``numeric_missing [B, Fn]`` ->
    ``[B, Fc + Fn, d]`` with categorical fields first.
    """

    def __init__(self, cardinalities, n_numeric, dim, init_std=1e-2, numeric=None):
        super().__init__(cardinalities, n_numeric, dim, init_std, numeric)
        self.table = nn.Embedding(max(self.n_values, 1), self.dim)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.normal_(self.table.weight, std=self.init_std)
        self.numeric.reset_parameters()

    def embedding_tables(self):
        return [self.table.weight, *numeric_tables(self.numeric)]

    def _categorical(self, codes):
        return self.table(self.value_ids(codes))


#: embeddings by the name the ``embedding`` parameter takes; each entry builds the module from
#: the categorical cardinalities (codes per field, reserved codes included), the number of
#: numeric fields, the width and (keyword ``numeric``) the builder of its numeric module
EMBEDDINGS = {
    "field": FieldEmbedding,
}


def build_embedding(spec, cardinalities, n_numeric, dim, numeric=None):
    """Build the embedding named ``spec`` (a key of :data:`EMBEDDINGS`), or call
    ``spec.build(cardinalities, n_numeric, dim, numeric=numeric)`` for a specification object.

    ``numeric``: ``numeric(dim)`` builds the module the embedding hands its numeric fields to
    (see :func:`tabnn.nn.numeric_embedding.build_numeric_embedding`); None: the linear one.
    """
    if isinstance(spec, str):
        return EMBEDDINGS[spec](cardinalities, n_numeric, dim, numeric=numeric)
    return spec.build(cardinalities, n_numeric, dim, numeric=numeric)


def uses_value_hashes(spec):
    """Whether the embedding ``spec`` (a name or a specification) reads value hashes."""
    return bool(getattr(EMBEDDINGS[spec] if isinstance(spec, str) else spec,
                        "uses_value_hashes", False))


# registered last: they subclass Embedding
from .hashed_embedding import HashedEmbeddingLayer, UnifiedEmbeddingLayer  # noqa: E402

EMBEDDINGS.update(unified=UnifiedEmbeddingLayer, hashed=HashedEmbeddingLayer)
