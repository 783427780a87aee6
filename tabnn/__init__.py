"""tabnn: research models for tabular and click-through-rate data as scikit-learn estimators."""

__version__ = "0.1.0"

__all__ = ["__version__"]
