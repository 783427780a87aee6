"""tabnn: research models for tabular and click-through-rate data as scikit-learn estimators.

Names are imported on first use (module ``__getattr__``), so ``import tabnn`` and the
estimators that need no network (``TabularEncoder``, ``FoldSEClassifier``,
``OutRankSelector``) do not load torch.
"""

import importlib

__version__ = "0.2.0"

# public name -> module that defines it
_LAZY = {
    "EncodedTable": "tabnn.encoding",
    "FieldSpec": "tabnn.encoding",
    "TabularEncoder": "tabnn.encoding",
    "compare": "tabnn.comparison",
    "ARMNetClassifier": "tabnn.estimators.armnet",
    "ARMNetRegressor": "tabnn.estimators.armnet",
    "AutoIntClassifier": "tabnn.estimators.autoint",
    "AutoIntRegressor": "tabnn.estimators.autoint",
    "FCNClassifier": "tabnn.estimators.fcn",
    "FCNRegressor": "tabnn.estimators.fcn",
    "FGCNNClassifier": "tabnn.estimators.fgcnn",
    "FGCNNRegressor": "tabnn.estimators.fgcnn",
    "HashedEmbedding": "tabnn.nn.hashed_embedding",
    "UnifiedEmbedding": "tabnn.nn.hashed_embedding",
    "Periodic": "tabnn.nn.numeric_embedding",
    "PiecewiseLinear": "tabnn.nn.numeric_embedding",
    "WithValues": "tabnn.nn.numeric_embedding",
    "FoldSEClassifier": "tabnn.estimators.foldse",
    "OptFSClassifier": "tabnn.estimators.optfs",
    "OptFSRegressor": "tabnn.estimators.optfs",
    "OutRankSelector": "tabnn.estimators.outrank",
    "data_quality_report": "tabnn.estimators.outrank",
    "rank_features": "tabnn.estimators.outrank",
}

__all__ = [*sorted(_LAZY), "__version__"]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tabnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
