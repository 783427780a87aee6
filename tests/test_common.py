"""scikit-learn's own estimator checks over every public tabnn estimator (the registry,
:func:`tabnn.estimators.all_estimators`, FOLD-SE and OutRank included), in two configurations:

* the small fast one: check-friendly parameters (small models, full-batch float64 training) set
  in one table, as LightGBM's tests do; a newly registered neural estimator gets the common
  ones (:func:`small_configuration`);
* the one users get by default (``cls()``): every estimator whose default fit is cheap; the
  neural ones (100 epochs each of about 60 checks, minutes per estimator on 2 cores) only with
  ``TABNN_DEFAULT_CHECKS=1``.
"""

import os

from sklearn.utils.estimator_checks import parametrize_with_checks

from tabnn.estimators import AutoIntClassifier, AutoIntRegressor, all_estimators

# Parameters that keep the checks fast and deterministic; each estimator's defaults stay
# tuned for real data.
_NEURAL_CHECK_PARAMS = {
    # float64 and full-batch steps make results exact to 1e-7 (sample-weight equivalence and
    # subset invariance compare at that tolerance); a small model keeps the checks fast.
    "dtype": "float64",
    "batch_size": 1024,
    "max_epochs": 60,
    "learning_rate": 1e-2,
    "embedding_dim": 4,
    "attention_layers": 1,
    "attention_heads": 1,
    "attention_head_dim": 4,
    "dnn_hidden": (8,),
    "random_state": 0,
}
# ARM-Net: layer normalisation, since batch statistics would make a row's update depend on
# the other rows of its batch (zero-weight rows would still shift them: the sample-weight checks
# compare against dropping those rows)
_ARMNET_CHECK_PARAMS = {
    "dtype": "float64", "batch_size": 1024, "max_epochs": 60, "learning_rate": 1e-2,
    "embedding_dim": 4, "attention_heads": 1, "neurons_per_head": 4, "mlp_hidden": (8,),
    "normalization": "layer", "random_state": 0,
}
_FCN_CHECK_PARAMS = {  # no dropout: duplicated rows must see the same network
    "dtype": "float64", "batch_size": 1024, "max_epochs": 60, "learning_rate": 1e-2,
    "embedding_dim": 4, "ecn_layers": 1, "lcn_layers": 1, "ecn_dropout": 0.0,
    "lcn_dropout": 0.0, "random_state": 0,
}
# FGCNN: no batch normalisation after the convolutions, for the same reason as ARM-Net's
_FGCNN_CHECK_PARAMS = {
    "dtype": "float64", "batch_size": 1024, "max_epochs": 60, "learning_rate": 1e-2,
    "embedding_dim": 4, "channels": (2,), "kernel_heights": 3, "recombined_channels": 1,
    "conv_batch_norm": False, "dnn_hidden": (8,), "random_state": 0,
}
CHECK_PARAMS = {
    "ARMNetClassifier": _ARMNET_CHECK_PARAMS,
    "ARMNetRegressor": _ARMNET_CHECK_PARAMS,
    "AutoIntClassifier": _NEURAL_CHECK_PARAMS,
    "AutoIntRegressor": _NEURAL_CHECK_PARAMS,
    "FCNClassifier": _FCN_CHECK_PARAMS,
    "FCNRegressor": _FCN_CHECK_PARAMS,
    "FGCNNClassifier": _FGCNN_CHECK_PARAMS,
    "FGCNNRegressor": _FGCNN_CHECK_PARAMS,
    # OptFS around the small AutoInt: 2 search epochs, then the retraining
    "OptFSClassifier": {"estimator": AutoIntClassifier(**_NEURAL_CHECK_PARAMS),
                        "search_epochs": 2},
    "OptFSRegressor": {"estimator": AutoIntRegressor(**_NEURAL_CHECK_PARAMS),
                       "search_epochs": 2},
}

# what every neural estimator accepts: the fallback for one registered after this table
_COMMON_CHECK_PARAMS = {"dtype": "float64", "batch_size": 1024, "max_epochs": 60,
                        "learning_rate": 1e-2, "embedding_dim": 4, "random_state": 0}

EXPECTED_FAILURES = {}


def small_configuration(name, cls):
    """The small fast parameters of estimator ``name`` (empty when its defaults are fast)."""
    if name in CHECK_PARAMS:
        return dict(CHECK_PARAMS[name])
    return dict(_COMMON_CHECK_PARAMS) if (name, cls) in all_estimators("neural") else {}


def _instances():
    return [cls().set_params(**small_configuration(name, cls)) for name, cls in all_estimators()]


def _default_instances():
    slow = os.environ.get("TABNN_DEFAULT_CHECKS") == "1"
    return [cls() for name, cls in all_estimators()
            if slow or (name, cls) not in all_estimators("neural") + all_estimators("meta")]


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_checks(_default_instances())
def test_sklearn_compatible_default_configuration(estimator, check):
    check(estimator)
