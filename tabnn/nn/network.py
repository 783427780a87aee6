"""Embedding + interaction model glued into one module the training engine can call."""

from __future__ import annotations

from torch import nn

__all__ = ["TabularNetwork"]


class TabularNetwork(nn.Module):
    """``logits = model(embedding(codes, numeric, numeric_missing))``.

    Parameters
    ----------
    embedding : nn.Module
        Maps ``(codes, numeric, numeric_missing)`` to ``[B, F, d]``.
    model : nn.Module
        Maps ``[B, F, d]`` to logits ``[B, k]``.
    """

    def __init__(self, embedding, model):
        super().__init__()
        self.embedding = embedding
        self.model = model

    def embedding_tables(self):
        return self.embedding.embedding_tables()

    def forward(self, codes, numeric, numeric_missing):
        return self.model(self.embedding(codes, numeric, numeric_missing))
