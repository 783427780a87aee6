"""scikit-learn estimators (thin classes over the encoder, the nn modules and the engine)."""

from .autoint import AutoIntClassifier, AutoIntRegressor
from .foldse import FoldSEClassifier
from .outrank import OutRankSelector, data_quality_report, rank_features

__all__ = [
    "AutoIntClassifier",
    "AutoIntRegressor",
    "FoldSEClassifier",
    "OutRankSelector",
    "data_quality_report",
    "rank_features",
]
