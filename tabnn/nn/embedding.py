"""Embedding layers: encoder output ``(codes, numeric, numeric_missing)`` -> ``[B, F, d]``.

Every embedding module has the same call signature, so any model works with any embedding.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FieldEmbedding", "NumericEmbedding"]


class NumericEmbedding(nn.Module):
    """One learned vector per numeric field, scaled by the field's value.

    ``e_m = x_m * v_m + b_m`` for a present value and ``u_m`` (a learned "missing" vector)
    when the value is missing, so a missing value is a signal of its own and never a silent 0.

    Parameters
    ----------
    n_fields : int
        Number of numeric fields.
    dim : int
        Embedding size.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation.
    """

    def __init__(self, n_fields, dim, init_std=1e-2):
        super().__init__()
        if n_fields < 0 or dim < 1:
            raise ValueError(
                f"n_fields must be >= 0 and dim >= 1, however: n_fields={n_fields}, dim={dim}"
            )
        self.n_fields, self.dim, self.init_std = n_fields, dim, init_std
        self.weight = nn.Parameter(torch.empty(n_fields, dim))
        self.bias = nn.Parameter(torch.empty(n_fields, dim))
        self.missing = nn.Parameter(torch.empty(n_fields, dim))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.normal_(self.weight, std=self.init_std)
        nn.init.normal_(self.bias, std=self.init_std)
        nn.init.normal_(self.missing, std=self.init_std)

    def forward(self, numeric, numeric_missing):
        present = (1.0 - numeric_missing).unsqueeze(-1)
        value = numeric.unsqueeze(-1) * self.weight + self.bias
        return present * value + numeric_missing.unsqueeze(-1) * self.missing


class FieldEmbedding(nn.Module):
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

    Notes
    -----
    Forward: ``codes [B, Fc] int64``, ``numeric [B, Fn]``, ``numeric_missing [B, Fn]`` ->
    ``[B, Fc + Fn, d]`` with categorical fields first.
    """

    def __init__(self, cardinalities, n_numeric, dim, init_std=1e-2):
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        if any(c < 1 for c in cardinalities):
            raise ValueError(f"cardinalities must be >= 1, however: {cardinalities}")
        if not cardinalities and n_numeric == 0:
            raise ValueError("FieldEmbedding needs at least one field, however: no fields given")
        self.cardinalities, self.dim, self.init_std = cardinalities, dim, init_std
        offsets = torch.zeros(len(cardinalities), dtype=torch.int64)
        if cardinalities:
            offsets[1:] = torch.cumsum(torch.tensor(cardinalities[:-1]), 0)
        self.register_buffer("offsets", offsets, persistent=True)
        self.table = nn.Embedding(max(sum(cardinalities), 1), dim)
        self.numeric = NumericEmbedding(n_numeric, dim, init_std)
        self.reset_parameters()

    @property
    def n_fields(self):
        return len(self.cardinalities) + self.numeric.n_fields

    @property
    def n_categorical(self):
        """Number of categorical fields; they come first in the output."""
        return len(self.cardinalities)

    def reset_parameters(self):
        nn.init.normal_(self.table.weight, std=self.init_std)
        self.numeric.reset_parameters()

    def embedding_tables(self):
        """Parameters holding per-value embeddings (for embedding regularisation)."""
        return [self.table.weight]

    def forward(self, codes, numeric, numeric_missing):
        parts = []
        if self.cardinalities:
            parts.append(self.table(codes + self.offsets))
        if self.numeric.n_fields:
            parts.append(self.numeric(numeric, numeric_missing))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
