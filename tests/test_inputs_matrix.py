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
    # every value rarer than min_frequency: an empty vocabulary, all rows unknown
    "only rare values": (lambda X: X.assign(city=[f"id{i}" for i in range(len(X))]), None),
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


# ----------------------------------------------------------------------------------------------
# Issue #20 classes, declared for every registered estimator (the registry: a newly registered
# one gets its cells). Outcomes: "same" (identical output to the plain input), "works"
# (finite output), or (error type, words naming the problem). No cell may be silent.
# ----------------------------------------------------------------------------------------------
import gzip  # noqa: E402
import inspect  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import urllib.error  # noqa: E402

from sklearn.base import is_classifier, is_regressor  # noqa: E402

from tabnn import rank_features  # noqa: E402
from tabnn._params import InvalidParameterError  # noqa: E402
from tabnn.estimators import all_estimators  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from test_common import small_configuration  # noqa: E402

REGISTRY = dict(all_estimators())
BIG = 2**60


def _make(name, **params):
    base = small_configuration(name, REGISTRY[name])
    if "max_epochs" in base:
        base["max_epochs"] = 2
    return REGISTRY[name](**{**base, **params})


def _issue_frame():
    X = _frame()
    rng = np.random.default_rng(3)
    return X.drop(columns=["constant", "empty"]).assign(
        zip=rng.choice(["75001", "75002", "13001"], N).astype(object))


def _y_for(name, X):
    if is_regressor(REGISTRY[name]()):
        return np.where(_target(X) == "yes", 2.0, 0.0) + 0.01 * X["age"].to_numpy()
    return _target(X)


def _out(est, X):
    """What a cell compares: probabilities, predictions, codes, or the selected columns."""
    if hasattr(est, "predict_proba"):
        return np.asarray(est.predict_proba(X), dtype=np.float64)
    if hasattr(est, "predict"):
        return np.asarray(est.predict(X), dtype=np.float64)
    return _output(est, X)


@pytest.fixture(scope="module", params=list(REGISTRY))
def issue_fitted(request):
    X = _issue_frame()
    name = request.param
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _make(name).fit(X, _y_for(name, X))
    return name, est, X


def _as_polars_string(X, col):
    return pl.from_pandas(X).with_columns(pl.col(col).cast(pl.String))


PREDICT_CELLS = {
    # name: (perturbation of the fit-time frame, declared outcome)
    "numbers as strings": (lambda X: X.assign(age=X["age"].astype(str)), "same"),
    "numbers as a pandas category": (lambda X: X.assign(age=X["age"].astype("category")), "same"),
    "numbers as polars String": (lambda X: _as_polars_string(X, "age"), "same"),
    "bools as 'True'/'False'": (lambda X: X.assign(member=X["member"].astype(str)), "same"),
    "category '75001' given as 75001": (lambda X: X.assign(zip=X["zip"].astype(int)), "same"),
    "polars LazyFrame": (lambda X: pl.from_pandas(X).lazy(), "same"),
}
# a selector passes the columns through unread: another dtype (or container) in, that out
SELECTOR_PREDICT = {}


@pytest.mark.parametrize("cell", list(PREDICT_CELLS))
def test_issue_predict_cells(issue_fitted, cell):
    name, est, X = issue_fitted
    perturb, outcome = PREDICT_CELLS[cell]
    if name == "OutRankSelector":
        outcome = SELECTOR_PREDICT.get(cell, "works")
    out = _out(est, perturb(X))
    assert out.shape[0] == N and _finite(out)
    if outcome == "same":
        np.testing.assert_array_equal(out, _out(est, X), err_msg=f"{name}: {cell}")


def test_issue_text_in_a_numeric_column_at_predict_names_it(issue_fitted):
    name, est, X = issue_fitted
    X_text = X.assign(age=X["age"].astype(object).where(X.index % 7 > 0, "n/a"))
    if name == "OutRankSelector":  # a selector passes the columns through unread
        assert _out(est, X_text).shape[0] == N
        return
    with pytest.raises(ValueError, match="'age' was numeric at fit but now holds non-numeric"):
        _out(est, X_text)


def test_issue_integer_column_names_are_matched_by_name(issue_fitted):
    name, _, X = issue_fitted
    Xi = X.set_axis(range(X.shape[1]), axis=1)
    est = _make(name).fit(Xi, _y_for(name, X))
    order = list(Xi.columns)[::-1]
    np.testing.assert_array_equal(_out(est, Xi[order]), _out(est, Xi))
    with pytest.raises(ValueError, match=r"unseen at fit time: \['99'\]"):
        _out(est, Xi.rename(columns={0: 99}))


def _seen_values(est, column):
    """How many distinct values of ``column`` the fitted estimator tells apart."""
    inner = getattr(est, "estimator_", est)
    encoder = est if isinstance(est, TabularEncoder) else getattr(inner, "encoder_", None)
    if encoder is not None:
        return next(f.n_codes - 2 for f in encoder.schema_ if f.name == column)
    if isinstance(est, OutRankSelector):
        return int(est.ranking_.set_index("feature").loc[column, "cardinality"])
    return None


def test_issue_integer_ids_above_2_53_stay_distinct(issue_fitted):
    name, _, X = issue_fitted
    ids = BIG + np.arange(N) % 4  # four ids that float64 merges into one
    Xb = X.assign(uid=ids.astype(np.int64))
    y = _y_for(name, X)
    if is_classifier(REGISTRY[name]()) or name == "OutRankSelector":
        y = np.where(ids % 2 == 1, "yes", "no")
    categorical = [c for c in Xb.columns
                   if c in ("member", "city", "kind", "size", "label", "zip", "uid")]
    params = {"categorical_features": categorical, "min_frequency": 1}
    accepted = REGISTRY[name]().get_params()
    if "categorical_features" not in accepted and hasattr(REGISTRY[name], "_default_estimator"):
        # a meta-estimator (OptFS): its backbone reads the columns
        backbone = REGISTRY[name]._default_estimator()
        small = {**small_configuration(type(backbone).__name__, type(backbone)),
                 "max_epochs": 2, **params}
        params = {"estimator": backbone.set_params(**{k: v for k, v in small.items()
                                                      if k in backbone.get_params()})}
    params = {k: v for k, v in params.items() if k in accepted}
    for frame in (Xb, pl.from_pandas(Xb)):
        est = _make(name, **params).fit(frame, y)
        seen = _seen_values(est, "uid")
        if seen is None:  # a rule learner: the planted id rule is learned exactly
            assert (est.predict(frame) == y).mean() == 1.0
        else:
            assert seen == 4, f"{name} merged the ids above 2**53 into {seen} values"


MISSING_LABELS = {
    "None": lambda y: np.where(np.arange(N) == 5, None, y.astype(object)),
    "pd.NA": lambda y: pd.array(np.where(np.arange(N) == 5, None, y.astype(str)), dtype="string"),
    "NaN in strings": lambda y: np.where(np.arange(N) == 5, np.nan, y.astype(object)),
}


@pytest.mark.parametrize("case", list(MISSING_LABELS))
def test_issue_missing_labels_are_named(issue_fitted, case):
    name, _, X = issue_fitted
    y = MISSING_LABELS[case](_y_for(name, X))
    est = _make(name)
    if isinstance(est, TabularEncoder):  # unsupervised: y is ignored
        est.fit(X, y)
        return
    with pytest.raises(ValueError, match="y contains missing values"):
        est.fit(X, y)


def _takes_sample_weight(est):
    return "sample_weight" in inspect.signature(est.fit).parameters


def test_issue_huge_weights_and_targets(issue_fitted):
    name, _, X = issue_fitted
    est = _make(name)
    if not _takes_sample_weight(est):
        pytest.skip(f"{name}.fit takes no sample_weight")
    y = _y_for(name, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # an overflow is no answer
        est.fit(X, y, sample_weight=np.full(N, 1e300))
        assert _finite(_out(est, X))
        if is_regressor(est):
            assert _finite(_make(name).fit(X, y * 1e300).predict(X))
    with pytest.raises(ValueError, match="sample_weight sums to infinity"):
        _make(name).fit(X, y, sample_weight=np.full(N, 1e307))


def _bad_parameter_values(est):
    """(parameter, bad value) for every float and int-tuple parameter of ``est``."""
    for param, default in est.get_params(deep=False).items():
        if isinstance(default, float) and not isinstance(default, bool):
            yield param, float("nan")
        elif (isinstance(default, tuple) and default
              and all(isinstance(v, int) for v in default)):
            yield param, (0,)


def test_issue_invalid_parameters_are_named(issue_fitted):
    name, _, X = issue_fitted
    cells = list(_bad_parameter_values(REGISTRY[name]()))
    for param, bad in cells:
        with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
            _make(name, **{param: bad}).fit(X, _y_for(name, X))


def test_issue_lazyframe_fit(issue_fitted):
    name, est, X = issue_fitted
    y = _y_for(name, X)
    got = _make(name).fit(pl.from_pandas(X).lazy(), y)
    if name == "OutRankSelector":
        np.testing.assert_array_equal(got.get_support(), est.get_support())
        return
    np.testing.assert_allclose(_out(got, X), _out(est, X), atol=1e-6)


def test_issue_selector_selecting_nothing_keeps_rows():
    X = _issue_frame()
    sel = OutRankSelector(threshold=1e9).fit(X, _target(X))
    for frame in (X, pl.from_pandas(X), X.to_numpy()):
        with pytest.warns(UserWarning, match="No features were selected"):
            assert sel.transform(frame).shape == (N, 0)


def _corrupted_gz(tmp_path):
    from tabnn.datasets import load_dataset

    src = os.path.join(os.environ.get("TABNN_DATA", "../shared/data"), "frappe")
    if not os.path.isdir(src):
        pytest.skip("frappe is not in the data home")
    dst = tmp_path / "frappe"
    dst.mkdir()
    for f in os.listdir(src):
        (dst / f).write_bytes(open(os.path.join(src, f), "rb").read())
    (dst / "test.csv.gz").write_bytes((dst / "test.csv.gz").read_bytes()[:1000])  # truncated
    load_dataset("frappe", data_home=tmp_path, download_if_missing=False)


def _no_network(tmp_path, monkeypatch):
    from tabnn.datasets import _base, load_wine

    def fail(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(_base.urllib.request, "urlopen", fail)
    try:
        load_wine(data_home=tmp_path / "home")
    finally:
        assert not (tmp_path / "home" / "wine").exists(), "left an empty folder behind"


def _rank(tmp_path, source, **kw):
    X = _issue_frame().drop(columns=["label"])
    X = X.assign(target=_target(X))
    if source == "csv":
        X.to_csv(tmp_path / "x.csv", index=False)
        return rank_features(str(tmp_path / "x.csv"), target="target")
    frame = pl.from_pandas(X) if source == "polars" else X
    return rank_features(frame, target="nope")


def _generator(call):
    from tabnn.datasets import make_ctr, make_rules

    return {"make_ctr": make_ctr, "make_rules": make_rules}[call[0]](**call[1])


FUNCTION_CELLS = {
    "corrupted .gz in the data home": (
        lambda tmp, mp: _corrupted_gz(tmp), (OSError, r"frappe/test\.csv\.gz is a corrupted")),
    "download without network": (
        lambda tmp, mp: _no_network(tmp, mp), (OSError, r"Could not download https://\S+wine")),
    "rank_features wrong target (pandas)": (
        lambda tmp, mp: _rank(tmp, "pandas"), (ValueError, "target column 'nope' is not in")),
    "rank_features wrong target (polars)": (
        lambda tmp, mp: _rank(tmp, "polars"), (ValueError, "target column 'nope' is not in")),
    "rank_features CSV path": (
        lambda tmp, mp: _rank(tmp, "csv"), (ValueError, r"x\.csv' is not a parquet file")),
    **{f"{fn}({arg}={value!r})": (
        lambda tmp, mp, c=(fn, {arg: value}): _generator(c),
        (InvalidParameterError, f"'{arg}' parameter of {fn}"))
       for fn, arg, value in [
           ("make_ctr", "n_samples", 0), ("make_ctr", "noise", float("nan")),
           ("make_ctr", "zipf_exponent", float("nan")), ("make_ctr", "missing_rate", 1.5),
           ("make_ctr", "n_categorical", -1), ("make_ctr", "interaction_strength", np.inf),
           ("make_rules", "n_samples", 0), ("make_rules", "grid_step", 0),
           ("make_rules", "noise", float("nan"))]},
}


@pytest.mark.parametrize("cell", list(FUNCTION_CELLS))
def test_issue_function_cells(tmp_path, monkeypatch, cell):
    run, error = FUNCTION_CELLS[cell]
    _declared(error, lambda: run(tmp_path, monkeypatch))


def test_issue_true_and_1_in_one_object_column_stay_two_values(issue_fitted):
    name, _, X = issue_fitted
    rng = np.random.default_rng(4)
    mixed = np.empty(N, dtype=object)
    mixed[:] = rng.choice(["t", "one", "x"], N)
    flag = mixed == "t"
    mixed[flag], mixed[mixed == "one"] = True, 1
    Xm = X.assign(flag=mixed)
    y = _y_for(name, X)
    if is_classifier(REGISTRY[name]()) or name == "OutRankSelector":
        y = np.where(flag, "yes", "no")
    est = _make(name).fit(Xm, y)
    seen = _seen_values(est, "flag")
    if seen is None:  # a rule learner: the planted rule on the True values is learned exactly
        assert (est.predict(Xm) == y).mean() == 1.0
    else:
        assert seen == 3, f"{name} merged True and 1 into one value"
