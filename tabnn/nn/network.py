"""Embedding + interaction model glued into one module the training engine can call."""

from __future__ import annotations

import torch
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

    output_bias : Tensor or None
        Initial value of a learned bias added to the logits (e.g. the log-odds of the base
        rate, so training does not spend its first steps learning the prior).
    """

    def __init__(self, embedding, model, output_bias=None):
        super().__init__()
        self.embedding = embedding
        self.model = model
        self.output_bias = (
            nn.Parameter(torch.as_tensor(output_bias, dtype=torch.float32).clone())
            if output_bias is not None
            else None
        )

    def embedding_tables(self):
        return self.embedding.embedding_tables()

    def forward(self, codes, numeric, numeric_missing):
        logits = self.model(self.embedding(codes, numeric, numeric_missing))
        return logits if self.output_bias is None else logits + self.output_bias
