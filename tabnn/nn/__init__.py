"""Pure PyTorch building blocks (no scikit-learn, no pandas)."""

from .armnet import ARMNet, ExponentialNeurons
from .autoint import AutoInt, InteractingLayer
from .embedding import FieldEmbedding, NumericEmbedding
from .layers import MLP
from .network import TabularNetwork

__all__ = [
    "ARMNet",
    "AutoInt",
    "ExponentialNeurons",
    "FieldEmbedding",
    "InteractingLayer",
    "MLP",
    "NumericEmbedding",
    "TabularNetwork",
]
