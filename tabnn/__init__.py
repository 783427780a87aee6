"""tabnn: research models for tabular and click-through-rate data as scikit-learn estimators."""

from .encoding import EncodedTable, FieldSpec, TabularEncoder
from .estimators import AutoIntClassifier, AutoIntRegressor

__version__ = "0.1.0"

__all__ = [
    "AutoIntClassifier",
    "AutoIntRegressor",
    "EncodedTable",
    "FieldSpec",
    "TabularEncoder",
    "__version__",
]
