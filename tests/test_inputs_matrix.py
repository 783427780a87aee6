"""The input matrix: every public estimator against the data a tabular library meets.

Each cell declares its outcome: it works (fits, predicts finite values) or it raises an error
whose message names the problem. Cells that work are also checked against invariants that must
hold whatever the model: column order does not matter, pandas / polars / numpy give the same
output, two unseen values are both "unknown", shuffling rows permutes the output, the input
is not modified and a pickle round trip gives identical output.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from tabnn import AutoIntClassifier, FoldSEClassifier, OutRankSelector, TabularEncoder

N = 240


def _frame(seed=0):
    """One column of every kind, with missing values where the kind allows them."""
    rng = np.random.default_rng(seed)
    price = rng.lognormal(3, 1, N)
    price[rng.random(N) < 0.1] = np.nan
    price[:2] = np.inf
    count = pd.array(rng.integers(0, 5, N), dtype="Int64")
    count[rng.random(N) < 0.1] = pd.NA
    city = rng.choice(["paris", "rome", "oslo", None], N).astype(object)
    return pd.DataFrame({
        "price": price,
        "age": rng.integers(18, 80, N),
        "count": count,
        "member": rng.random(N) < 0.5,
        "city": city,
        "kind": pd.Categorical(rng.choice(["a", "b", "c"], N), categories=["a", "b", "c", "z"]),
        "size": pd.Categorical(rng.choice(["S", "M", "L"], N), categories=["S", "M", "L"],
                               ordered=True),
        "label": pd.array(rng.choice(["u", "v"], N), dtype="string"),
        "constant": np.ones(N),
        "empty": np.full(N, np.nan),
    })


def _target(X, kind="binary"):
    signal = (X["city"].fillna("none") == "paris").to_numpy() ^ (X["kind"] == "a").to_numpy()
    if kind == "binary":
        return np.where(signal, "yes", "no")
    return np.where(signal, "yes", np.where(X["member"].to_numpy(), "no", "maybe"))


ESTIMATORS = {
    "AutoIntClassifier": lambda: AutoIntClassifier(
        embedding_dim=4, attention_layers=1, attention_heads=1, attention_head_dim=4,
        dnn_hidden=(8,), max_epochs=2, random_state=0),
    "FoldSEClassifier": lambda: FoldSEClassifier(),
    "TabularEncoder": lambda: TabularEncoder(),
    "OutRankSelector": lambda: OutRankSelector(k=3, random_state=0),
}


def _output(est, X):
    """predict_proba, the encoder's codes, or a selector's selected columns as text."""
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    out = est.transform(X)
    if isinstance(est, OutRankSelector):
        out = out.to_pandas() if isinstance(out, pl.DataFrame) else pd.DataFrame(out)
        return out.astype(object).where(out.notna(), "<null>").astype(str).to_numpy()
    if isinstance(out, pd.DataFrame):
        out = out.to_numpy()
    return np.asarray(out, dtype=np.float64)


def _finite(out):
    return out.dtype == object or np.isfinite(out).all()


def _declared(error, run):
    """Run a cell: ``error`` None means it must work (returns ``run()``), else
    ``(exception type, message pattern)`` it must raise."""
    if error is None:
        return run()
    with pytest.raises(error[0], match=error[1]):
        run()


def _containers(X):
    plain = X.copy()
    return {
        "pandas": X,
        "polars": pl.from_pandas(plain),
        # numpy object: category and string columns become Python strings, NA becomes None
        "numpy-object": plain.astype(object).where(plain.notna(), None).to_numpy(),
    }


@pytest.fixture(scope="module")
def data():
    X = _frame()
    return X, _target(X)


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def fitted(request, data):
    X, y = data
    return request.param, ESTIMATORS[request.param]().fit(X, y)


def test_every_column_kind_trains_and_predicts_finite(fitted, data):
    name, est = fitted
    X, _ = data
    out = _output(est, X)
    assert out.shape[0] == N and _finite(out)


def test_containers_agree(data):
    X, y = data
    for name, make in ESTIMATORS.items():
        outs = {}
        for kind, Xc in _containers(X).items():
            est = make().fit(Xc, y)
            # a selector's output is the input's own columns: compare what it selected
            outs[kind] = (est.get_support().astype(float) if isinstance(est, OutRankSelector)
                          else _output(est, Xc))
        for kind, out in outs.items():
            np.testing.assert_allclose(out, outs["pandas"], atol=1e-6, err_msg=f"{name} {kind}")


def test_reordered_columns_give_identical_output(fitted, data):
    _, est = fitted
    X, _ = data
    columns = list(X.columns)[::-1]
    np.testing.assert_array_equal(_output(est, X[columns]), _output(est, X))
    Xpl = pl.from_pandas(X)
    np.testing.assert_array_equal(_output(est, Xpl.select(columns)), _output(est, Xpl))


def test_unseen_values_are_one_unknown_and_shuffling_permutes(fitted, data):
    name, est = fitted
    X, _ = data
    a = X.assign(city="tokyo", kind=pd.Categorical(["q"] * N))
    b = X.assign(city="lima", kind=pd.Categorical(["w"] * N))
    out_a, out_b = _output(est, a), _output(est, b)
    assert _finite(out_a)
    if not isinstance(est, OutRankSelector):  # a selector passes the values through
        np.testing.assert_array_equal(out_a, out_b)
    order = np.random.default_rng(1).permutation(N)
    np.testing.assert_array_equal(_output(est, X.iloc[order]), _output(est, X)[order])


def test_input_untouched_and_pickle_identical(data):
    X, y = data
    for name, make in ESTIMATORS.items():
        Xc, yc = X.copy(deep=True), y.copy()
        est = make().fit(Xc, yc)
        out = _output(est, Xc)
        pd.testing.assert_frame_equal(Xc, X)
        np.testing.assert_array_equal(yc, y)
        np.testing.assert_array_equal(_output(pickle.loads(pickle.dumps(est)), X), out,
                                      err_msg=name)


PREDICT_PERTURBATIONS = {
    # name: (perturb, None for "works" or the error type and message pattern)
    "all-NaN numeric": (lambda X: X.assign(price=np.nan), None),
    "unseen and null categories": (
        lambda X: X.assign(city=None, kind=pd.Categorical([None] * N)), None),
    "category given as str": (lambda X: X.assign(kind=X["kind"].astype(str)), None),
    "int given as float": (lambda X: X.assign(age=X["age"].astype(float)), None),
    "bool given as int": (lambda X: X.assign(member=X["member"].astype(int)), None),
    "one row": (lambda X: X.iloc[:1], None),
    "missing column": (lambda X: X.drop(columns="price"),
                       (ValueError, r"missing: \['price'\]")),
    "extra column": (lambda X: X.assign(bogus=1.0),
                     (ValueError, r"unseen at fit time: \['bogus'\]")),
    "renamed column": (lambda X: X.rename(columns={"age": "years"}),
                       (ValueError, r"\['years'\][\s\S]*missing: \['age'\]")),
    "zero rows": (lambda X: X.iloc[:0], (ValueError, "0 sample")),
    "datetime column": (lambda X: X.assign(age=pd.date_range("2020", periods=N)),
                        (TypeError, "'age' has temporal dtype")),
}


# a selector picks columns by name and passes their values through unread: a frame of zero
# rows or a column of another type is no error for it
SELECTOR_PASSES_THROUGH = {"zero rows", "datetime column"}


@pytest.mark.parametrize("perturbation", list(PREDICT_PERTURBATIONS))
def test_predict_time_perturbations(fitted, data, perturbation):
    name, est = fitted
    X, _ = data
    perturb, error = PREDICT_PERTURBATIONS[perturbation]
    if name == "OutRankSelector" and perturbation in SELECTOR_PASSES_THROUGH:
        error = None
    Xp = perturb(X)
    out = _declared(error, lambda: _output(est, Xp))
    if error is None:
        assert out.shape[0] == len(Xp) and _finite(out)


FIT_INPUTS = {
    "duplicated column names": (
        lambda X: X.set_axis(["price", "price", *X.columns[2:]], axis=1),
        (ValueError, r"Duplicated column names .*'price'")),
    "complex column": (lambda X: X.assign(price=X["price"] + 1j),
                       (ValueError, "Complex data not supported: column 'price'")),
    "dict cells": (lambda X: X.assign(city=[{"a": 1}] * N),
                   (TypeError, "Column 'city' holds values that are neither numbers nor strings")),
    "numbers given as strings": (lambda X: X.assign(age=X["age"].astype(str)), None),
    "one column": (lambda X: X[["city"]], None),
}


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
@pytest.mark.parametrize("case", list(FIT_INPUTS))
def test_fit_time_inputs(data, estimator, case):
    X, y = data
    make, error = FIT_INPUTS[case]
    Xf = make(X)
    est = ESTIMATORS[estimator]()
    _declared(error, lambda: est.fit(Xf, y))
    if error is None:
        assert _finite(_output(est, Xf))


TARGETS = {
    "binary int": (lambda X: (_target(X) == "yes").astype(int), None),
    "binary bool": (lambda X: _target(X) == "yes", None),
    "multi-class str": (lambda X: _target(X, "multiclass"), None),
    "2-D column": (lambda X: _target(X).reshape(-1, 1), None),
    "single class": (lambda X: np.full(N, "yes"), (ValueError, "class")),
    "continuous": (lambda X: np.linspace(0, 1, N), (ValueError, "Unknown label type")),
    "NaN": (lambda X: np.where(_target(X) == "yes", 1.0, np.nan), (ValueError, "NaN")),
    "wrong length": (lambda X: _target(X)[:-1], (ValueError, "inconsistent numbers")),
}


@pytest.mark.parametrize("estimator", ["AutoIntClassifier", "FoldSEClassifier"])
@pytest.mark.parametrize("case", list(TARGETS))
def test_classifier_targets(data, estimator, case):
    X, _ = data
    make, error = TARGETS[case]
    y = make(X)
    est = ESTIMATORS[estimator]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 2-D column warns (DataConversionWarning)
        _declared(error, lambda: est.fit(X, y))
    if error is None:
        labels = np.unique(np.ravel(y))
        np.testing.assert_array_equal(est.classes_, labels)
        assert est.predict(X).dtype == labels.dtype
        assert est.predict_proba(X).shape == (N, len(labels))
