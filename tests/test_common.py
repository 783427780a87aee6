"""scikit-learn's own estimator checks over every public tabnn estimator (the registry,
:func:`tabnn.estimators.all_estimators`, FOLD-SE and OutRank included), in two configurations:

* the small fast one: check-friendly parameters (small models, full-batch float64 training) set
  in one table, as LightGBM's tests do; a newly registered neural estimator gets the common
  ones (:func:`small_configuration`);
* the one users get by default (``cls()``), for every estimator.

Both pass every check. A check whose exactness a float32 mini-batch fit cannot meet by nature,
or whose premise a network trained to convergence on its few rows breaks, runs with the
parameters of :data:`CHECK_OVERRIDES` (one table, a reason per entry), the way scikit-learn's
own tests run ``MLPClassifier``'s sample-weight check with ``solver="lbfgs"``.
"""

from sklearn.base import clone, is_classifier
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

# Parameters set for one check only, on top of either configuration, in one table:
# {check: {model family ("*": every neural estimator and OptFS's backbone): (params, why)}}.
_SAME_NETWORK_FOR_COPIES = ("a row of weight k must train as its k copies do: copies shift batch "
                            "statistics, and draw dropout masks of their own")
_MEMORISES_TINY_WEIGHTS = ("trained to convergence on 50 rows the network fits the rows of "
                           "weight 1e-4 as well, whatever the class weights")
CHECK_OVERRIDES = {
    "check_class_weight_classifiers": {
        # 100 epochs on the check's 50 rows: once the weight-1000 class is fitted, Adam
        # rescales the gradient of the weight-1e-4 rows to full steps and these larger
        # networks memorise those rows too (0.44-1.0 of the test rows predicted as class 0
        # over five seeds, where the check wants 0.87); 20 epochs show what the check
        # asks, that the weights steer the fit (1.0 in every seed, either precision)
        "FGCNN": ({"max_epochs": 20}, _MEMORISES_TINY_WEIGHTS),
        "ARMNet": ({"max_epochs": 20}, _MEMORISES_TINY_WEIGHTS),
    },
    "check_sample_weight_equivalence_on_dense_data": {
        "*": ({"dtype": "float64"},
              "a row of weight k against k copies of it sums the same terms in another order; "
              "in float32 that changes the loss in its last bits, which 100 Adam steps amplify "
              "past the check's rtol=1e-7 (float64 keeps the same training exact to it)"),
        "ARMNet": ({"normalization": "layer"}, _SAME_NETWORK_FOR_COPIES),
        "FCN": ({"ecn_dropout": 0.0, "lcn_dropout": 0.0}, _SAME_NETWORK_FOR_COPIES),
        # and at the default rate the check's 15-row regression trains chaotically (the loss
        # jumps from 1.0 to 12 at epoch 2): float64 rounding grows to 0.05 by epoch 100
        "FGCNN": ({"conv_batch_norm": False, "learning_rate": 1e-3}, _SAME_NETWORK_FOR_COPIES),
    },
}


def small_configuration(name, cls):
    """The small fast parameters of estimator ``name`` (empty when its defaults are fast)."""
    if name in CHECK_PARAMS:
        return dict(CHECK_PARAMS[name])
    return dict(_COMMON_CHECK_PARAMS) if (name, cls) in all_estimators("neural") else {}


def _instances():
    return [cls().set_params(**small_configuration(name, cls)) for name, cls in all_estimators()]


def _default_instances():
    return [cls() for name, cls in all_estimators()]


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


def _check_name(check):
    while hasattr(check, "func"):  # functools.partial, possibly nested
        check = check.func
    return check.__name__


def _family(estimator):
    return type(estimator).__name__.removesuffix("Classifier").removesuffix("Regressor")


def _override_params(estimator, check):
    table = CHECK_OVERRIDES.get(_check_name(check), {})
    return {**table.get("*", ({},))[0], **table.get(_family(estimator), ({},))[0]}


def _with_check_overrides(estimator, check):
    """``estimator`` with the :data:`CHECK_OVERRIDES` parameters of ``check``."""
    own = estimator.get_params(deep=False)
    if "estimator" in own:  # OptFS: to its backbone (the given one, or its default AutoInt)
        backbone = own["estimator"] or (
            AutoIntClassifier() if is_classifier(estimator) else AutoIntRegressor())
        params = _override_params(backbone, check)
        if params:
            backbone = clone(backbone).set_params(**params)
            return clone(estimator).set_params(estimator=backbone)
        return estimator
    params = _override_params(estimator, check)
    if params and set(params) <= set(own):  # FOLD-SE and OutRank need none
        return clone(estimator).set_params(**params)
    return estimator


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(_with_check_overrides(estimator, check))


@parametrize_with_checks(_default_instances())
def test_sklearn_compatible_default_configuration(estimator, check):
    check(_with_check_overrides(estimator, check))


def test_check_overrides_name_real_checks_and_parameters():
    """Every override names a check that runs and parameters its estimators have."""
    from sklearn.utils.estimator_checks import estimator_checks_generator

    names = {_check_name(check) for _, check in
             estimator_checks_generator(AutoIntClassifier(), mark="skip")}
    neural = [cls() for _, cls in all_estimators("neural")]
    for check, table in CHECK_OVERRIDES.items():
        assert check in names
        for family, (params, reason) in table.items():
            models = [m for m in neural if family in ("*", _family(m))]
            assert models and reason, (check, family)
            for model in models:
                assert set(params) <= set(model.get_params()), (check, family)


def test_float32_predictions_of_a_row_do_not_depend_on_the_other_rows():
    """Bit for bit, not to the check's 1e-7: the forward pass pads its batches, so the CPU's
    matrix kernels take the same path for one row as for many."""
    import numpy as np

    rng = np.random.RandomState(0)
    X = rng.uniform(size=(37, 6))
    for name, cls in all_estimators("neural"):
        params = {**small_configuration(name, cls), "dtype": "float32", "max_epochs": 2}
        y = X[:, 0] > 0.5 if is_classifier(cls()) else X[:, 0]
        est = cls(**params).fit(X, y)
        predict = est.decision_function if hasattr(est, "decision_function") else est.predict
        whole = predict(X)
        for rows in (slice(0, 1), slice(5, 8), slice(36, 37), slice(3, 20)):
            np.testing.assert_array_equal(predict(X[rows]), whole[rows], err_msg=name)
