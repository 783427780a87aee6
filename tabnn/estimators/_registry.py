"""The one list of public estimators that the common tests and comparisons iterate over.

A new estimator is registered here once (by module and class name, imported on demand).
"""

from __future__ import annotations

import importlib

__all__ = ["all_estimators"]

#: (module under tabnn.estimators or tabnn, class name, kinds)
_ESTIMATORS = (
    ("tabnn.encoding", "TabularEncoder", ("transformer",)),
    ("tabnn.estimators.armnet", "ARMNetClassifier", ("classifier", "neural")),
    ("tabnn.estimators.armnet", "ARMNetRegressor", ("regressor", "neural")),
    ("tabnn.estimators.autoint", "AutoIntClassifier", ("classifier", "neural")),
    ("tabnn.estimators.autoint", "AutoIntRegressor", ("regressor", "neural")),
    ("tabnn.estimators.fcn", "FCNClassifier", ("classifier", "neural")),
    ("tabnn.estimators.fcn", "FCNRegressor", ("regressor", "neural")),
    ("tabnn.estimators.fgcnn", "FGCNNClassifier", ("classifier", "neural")),
    ("tabnn.estimators.fgcnn", "FGCNNRegressor", ("regressor", "neural")),
    ("tabnn.estimators.foldse", "FoldSEClassifier", ("classifier", "rules")),
    ("tabnn.estimators.optfs", "OptFSClassifier", ("classifier", "meta")),
    ("tabnn.estimators.optfs", "OptFSRegressor", ("regressor", "meta")),
    ("tabnn.estimators.outrank", "OutRankSelector", ("transformer", "selector")),
)


def all_estimators(kind=None):
    """Every public tabnn estimator class, as ``[(name, class)]`` in registration order.

    Parameters
    ----------
    kind : {"classifier", "regressor", "transformer", "selector", "neural", "rules", "meta"} \
            or None
        Only the estimators of this kind (None: all).
    """
    out = []
    for module, name, kinds in _ESTIMATORS:
        if kind is None or kind in kinds:
            out.append((name, getattr(importlib.import_module(module), name)))
    return out
