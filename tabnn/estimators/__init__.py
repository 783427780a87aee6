"""scikit-learn estimators (thin classes over the encoder, the nn modules and the engine)."""

from .autoint import AutoIntClassifier, AutoIntRegressor

__all__ = ["AutoIntClassifier", "AutoIntRegressor"]
