"""scikit-learn estimators (thin classes over the encoder, the nn modules and the engine).

Imported on first use, like :mod:`tabnn`: the rule and ranking estimators do not load torch.
"""

import importlib

_LAZY = {
    "ARMNetClassifier": "armnet",
    "ARMNetRegressor": "armnet",
    "AutoIntClassifier": "autoint",
    "AutoIntRegressor": "autoint",
    "FCNClassifier": "fcn",
    "FCNRegressor": "fcn",
    "FGCNNClassifier": "fgcnn",
    "FGCNNRegressor": "fgcnn",
    "FoldSEClassifier": "foldse",
    "OptFSClassifier": "optfs",
    "OptFSRegressor": "optfs",
    "OutRankSelector": "outrank",
    "all_estimators": "_registry",
    "data_quality_report": "outrank",
    "rank_features": "outrank",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tabnn.estimators' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
