"""Small blocks shared by several models."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP", "at_least_float32"]


def at_least_float32(x):
    """``x`` in float32 when autocast made it bfloat16 (or float16); float64 stays float64.

    For the few sums whose rounding matters (softmax scores, averaged logits)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


class MLP(nn.Module):
    """Feed-forward stack ``Linear -> ReLU -> Dropout`` repeated, then an optional output layer.

    Parameters
    ----------
    in_features : int
        Input size.
    hidden : sequence of int
        Hidden layer sizes (may be empty).
    out_features : int or None
        Size of a final linear layer; None for no output layer.
    dropout : float, default=0.0
        Dropout after each hidden activation.
    batch_norm : bool, default=False
        Batch normalisation before each activation.
    """

    def __init__(self, in_features, hidden, out_features=None, dropout=0.0, batch_norm=False):
        super().__init__()
        layers, size = [], in_features
        for h in hidden:
            layers.append(nn.Linear(size, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = h
        if out_features is not None:
            layers.append(nn.Linear(size, out_features))
            size = out_features
        self.out_features = size
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
