"""Pure PyTorch building blocks (no scikit-learn, no pandas)."""

from .armnet import ARMNet, ExponentialNeurons
from .autoint import AutoInt, InteractingLayer
from .embedding import FieldEmbedding, NumericEmbedding
from .fcn import FCN, CrossNetwork, SelfMaskCrossLayer
from .fgcnn import FGCNN, EmbeddingPair, FeatureGeneration
from .layers import MLP
from .network import TabularNetwork
from .numeric_embedding import (
    LinearNumericEmbedding,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    ValueVectorEmbedding,
)

__all__ = [
    "ARMNet",
    "AutoInt",
    "CrossNetwork",
    "FCN",
    "FGCNN",
    "EmbeddingPair",
    "ExponentialNeurons",
    "FeatureGeneration",
    "FieldEmbedding",
    "InteractingLayer",
    "LinearNumericEmbedding",
    "MLP",
    "NumericEmbedding",
    "PeriodicEmbedding",
    "PiecewiseLinearEmbedding",
    "SelfMaskCrossLayer",
    "ValueVectorEmbedding",
    "TabularNetwork",
]
