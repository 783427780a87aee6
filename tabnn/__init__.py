"""tabnn: research models for tabular and click-through-rate data as scikit-learn estimators."""

from .encoding import EncodedTable, FieldSpec, TabularEncoder
from .estimators import (
    ARMNetClassifier,
    ARMNetRegressor,
    AutoIntClassifier,
    AutoIntRegressor,
    FCNClassifier,
    FCNRegressor,
    FGCNNClassifier,
    FGCNNRegressor,
    FoldSEClassifier,
    OutRankSelector,
    data_quality_report,
    rank_features,
)

__version__ = "0.1.0"

__all__ = [
    "ARMNetClassifier",
    "ARMNetRegressor",
    "AutoIntClassifier",
    "AutoIntRegressor",
    "EncodedTable",
    "FCNClassifier",
    "FCNRegressor",
    "FGCNNClassifier",
    "FGCNNRegressor",
    "FieldSpec",
    "FoldSEClassifier",
    "OutRankSelector",
    "TabularEncoder",
    "data_quality_report",
    "rank_features",
    "__version__",
]
