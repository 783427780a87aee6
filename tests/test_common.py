"""scikit-learn's own estimator checks over every public tabnn estimator (the registry,
:func:`tabnn.estimators.all_estimators`).

Check-friendly parameters (small models, few epochs, full-batch training) are set in one table,
as LightGBM's tests do; expected failures, if any, carry a written reason.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tabnn.estimators import all_estimators

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
}

EXPECTED_FAILURES = {}


def _instances():
    return [cls().set_params(**CHECK_PARAMS.get(name, {})) for name, cls in all_estimators()]


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
