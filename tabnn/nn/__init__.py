"""Pure PyTorch building blocks (no scikit-learn, no pandas)."""

from .autoint import AutoInt, InteractingLayer
from .embedding import FieldEmbedding, NumericEmbedding
from .layers import MLP
from .network import TabularNetwork

__all__ = [
    "AutoInt",
    "FieldEmbedding",
    "InteractingLayer",
    "MLP",
    "NumericEmbedding",
    "TabularNetwork",
]
