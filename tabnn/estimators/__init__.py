"""scikit-learn estimators (thin classes over the encoder, the nn modules and the engine)."""

from .armnet import ARMNetClassifier, ARMNetRegressor
from .autoint import AutoIntClassifier, AutoIntRegressor
from .fcn import FCNClassifier, FCNRegressor
from .fgcnn import FGCNNClassifier, FGCNNRegressor
from .foldse import FoldSEClassifier
from .outrank import OutRankSelector, data_quality_report, rank_features
from ._registry import all_estimators

__all__ = [
    "ARMNetClassifier",
    "ARMNetRegressor",
    "AutoIntClassifier",
    "AutoIntRegressor",
    "FCNClassifier",
    "FCNRegressor",
    "FGCNNClassifier",
    "FGCNNRegressor",
    "FoldSEClassifier",
    "OutRankSelector",
    "all_estimators",
    "data_quality_report",
    "rank_features",
]
