"""Regenerate the golden files: one small fitted model of every registered estimator, saved by
this tabnn version with :func:`tabnn.persistence.save`, and its predictions on a fixed frame.

    python tests/golden/make_golden.py            # every registered estimator
    python tests/golden/make_golden.py NAME ...   # only these (e.g. a newly registered one)

``tests/test_persistence.py`` loads every file and checks that it reproduces the stored
predictions. Regenerate only for a deliberate, documented format or model change.
"""

import os
import sys

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: the small configurations of test_common

N = 200


def golden_frame():
    """The fixed input: every column kind, with missing values."""
    rng = np.random.default_rng(20261201)
    price = rng.lognormal(3, 1, N)
    price[rng.random(N) < 0.1] = np.nan
    return pd.DataFrame({
        "price": price,
        "age": rng.integers(18, 80, N),
        "member": rng.random(N) < 0.5,
        "city": rng.choice(["paris", "rome", "oslo", None], N).astype(object),
        "kind": pd.Categorical(rng.choice(["a", "b", "c"], N)),
    })


def golden_targets(X):
    signal = ((X["city"] == "paris").to_numpy() ^ (X["kind"] == "a").to_numpy())
    label = np.where(signal, "yes", "no")
    value = signal * 2.0 + np.log1p(X["price"].fillna(0).to_numpy()) + 0.01 * X["age"]
    return label, value


def small_params(name, cls):
    """The small, fast configuration of test_common, trained for a few epochs only."""
    from test_common import small_configuration

    params = small_configuration(name, cls)
    if "max_epochs" in params:
        params["max_epochs"] = 3
    return params


def golden_output(est, X):
    """What the golden test compares: probabilities, predictions or the transform."""
    if hasattr(est, "predict_proba"):
        return np.asarray(est.predict_proba(X), dtype=np.float64)
    if hasattr(est, "predict"):
        return np.asarray(est.predict(X), dtype=np.float64)
    if hasattr(est, "get_support"):
        return est.get_support().astype(np.float64)
    out = est.transform(X)
    return np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out, dtype=np.float64)


def main(names):
    from tabnn.estimators import all_estimators
    from sklearn.base import is_regressor

    from tabnn.persistence import save

    X = golden_frame()
    label, value = golden_targets(X)
    X.to_parquet(os.path.join(HERE, "X.parquet"))
    for name, cls in all_estimators():
        if names and name not in names:
            continue
        est = cls(**small_params(name, cls))
        y = value if is_regressor(est) else label
        est.fit(X, y)
        save(est, os.path.join(HERE, f"{name}.safetensors"))
        np.save(os.path.join(HERE, f"{name}.npy"), golden_output(est, X), allow_pickle=False)
        print(name)


if __name__ == "__main__":
    main(sys.argv[1:])
