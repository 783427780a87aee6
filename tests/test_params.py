"""Every parameter of every public estimator is checked at fit: a bad value or type gets one
error naming the parameter, what it accepts and what was given."""

import numpy as np
import pandas as pd
import pytest

from tabnn._params import InvalidParameterError, param_constraints
from tabnn.estimators import all_estimators

ESTIMATORS = dict(all_estimators())

# values of every kind a user might pass by mistake; each parameter is tried with those its
# constraints reject
CANDIDATES = [None, "bad", "", -1, 0, 1, 2, 0.5, 1.5, -0.5, 10**12, float("nan"), float("inf"),
              True, False, [], [1, -1], (0,), {"a": 1}, object(), np.float64(-2.0)]

# wrong values named in bug reports and by hand: the constraints must reject each of them
KNOWN_BAD = {
    "learning_rate": [None, 0, -1e-3, "0.1"],
    "validation_fraction": [None, 0, 1, 1.5],
    "dnn_hidden": [64, (64, 0), "64", (64.0,)],
    "verbose": ["yes", -1, 0.5],
    "max_epochs": [0, 2.5, None, True],
    "batch_size": [0, "big", 1.5],
    "embedding_dim": [0, None, 8.0],
    "dropout": [1.0, -0.1, "0.1"],
    "early_stopping": ["yes", None, 1],
    "device": ["gpu7", 3.5, None],
    "embedding": ["nope", None, 3],
    "callbacks": [print, "log", [1]],
    "dtype": ["float16", np.float32],
    "random_state": ["seed", -1, 1.5],
    "ratio": [-0.1, "half"],
    "tail": [1.0, -0.1],
    "criterion": ["log_loss", None],
    "prune": ["yes", 1],
    "k": [-1, "some", 2.5],
    "n_bins": [1, 2.5],
    "numeric_scaling": ["zscore", True],
    "min_frequency": [-1, "rare"],
    "max_cardinality": [0, 10.5],
}


def _fit_data(name):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"c": pd.Categorical(rng.choice(list("abc"), 60)),
                      "x": rng.normal(size=60)})
    y = None if name == "TabularEncoder" else (
        rng.normal(size=60) if "Regressor" in name else rng.choice(["no", "yes"], 60))
    return X, y


def _rejects(constraints, value):
    return not any(c.accepts(value) for c in constraints)


def _cases():
    for name, cls in ESTIMATORS.items():
        for param in sorted(cls().get_params(deep=False)):
            yield pytest.param(name, param, id=f"{name}-{param}")


@pytest.mark.parametrize("name, param", list(_cases()))
def test_bad_parameter_value_gets_an_error_naming_it(name, param):
    cls = ESTIMATORS[name]
    constraints = param_constraints(cls)
    assert param in constraints, f"{name}.{param} has no declared constraint"
    bad = [v for v in CANDIDATES if _rejects(constraints[param], v)]
    known = KNOWN_BAD.get(param, [])
    for value in known:
        assert _rejects(constraints[param], value), f"{name}.{param} accepts {value!r}"
    default = cls().get_params()[param]
    assert not _rejects(constraints[param], default), f"{name}.{param} rejects its default"
    X, y = _fit_data(name)
    for value in bad + known:
        est = cls().set_params(**{param: value})
        with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {name}") as e:
            est.fit(X, y)
        assert repr(value)[:20] in str(e.value)
        assert isinstance(e.value, ValueError) and isinstance(e.value, TypeError)
