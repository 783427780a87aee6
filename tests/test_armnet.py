import pickle

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from tabnn import ARMNetClassifier, ARMNetRegressor

FAST = dict(embedding_dim=8, attention_heads=2, neurons_per_head=8, mlp_hidden=(32,),
            max_epochs=20, random_state=0)


def _pair_data(n, seed):
    """Label = parity match of categorical fields c1 and c3 (an XOR: invisible to a linear
    model on one-hot codes); three other categoricals and two numerics are noise. Numeric
    columns come first so the model's field order (categorical first) differs from the
    input's."""
    rng = np.random.default_rng(seed)
    codes = {f"c{j}": rng.integers(0, 4, n) for j in range(5)}
    logit = np.where(codes["c1"] % 2 == codes["c3"] % 2, 3.0, -3.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
    for name, c in codes.items():
        X[name] = pd.Categorical(c.astype(str))
    X.index = pd.Index(np.arange(n) * 10 + 7, name="id")
    return X, y


@pytest.fixture(scope="module")
def pair():
    X, y = _pair_data(5000, 0)
    Xt, yt = _pair_data(2000, 1)
    clf = ARMNetClassifier(**FAST).fit(X, y)
    return clf, X, y, Xt, yt


def test_planted_pair_beats_logistic_regression_and_explain_finds_it(pair, linear_auc):
    clf, X, y, Xt, yt = pair
    auc = roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])
    auc_linear = linear_auc(X, y, Xt, yt)
    assert auc_linear < 0.6
    assert auc > auc_linear + 0.3
    # every row depends on the pair: most of each row's interaction weight is on c1 and c3
    rows = clf.explain(Xt, summary=True)
    assert rows.index.equals(Xt.index)
    assert list(rows.columns) == list(X.columns)
    share = (rows["c1"] + rows["c3"]) / rows.sum(axis=1)
    assert share.median() > 0.6
    assert (share > 0.5).mean() > 0.8
    # the global summary, in input column order, ranks the pair first
    assert clf.feature_importances_.shape == (X.shape[1],)
    top = set(X.columns[np.argsort(clf.feature_importances_)[-2:]])
    assert top == {"c1", "c3"}


def test_explain_is_per_row_per_neuron_sparse_and_keeps_the_index(pair):
    clf, X, y, Xt, yt = pair
    part = Xt.iloc[[5, 2, 9]]
    out = clf.explain(part)
    n_neurons = 2 * 8
    assert out.shape == (3 * n_neurons, X.shape[1])
    assert out.index.names == ["id", "neuron"]
    assert list(out.index.get_level_values("id").unique()) == list(part.index)
    assert list(out.columns) == list(X.columns)
    assert (out.to_numpy() == 0).mean() > 0.3  # entmax: exact zeros
    # the same weights row by row and in one batch; the summary is their mean |w|
    one = clf.explain(part.iloc[[1]])
    np.testing.assert_allclose(one.to_numpy(), out.loc[part.index[1]].to_numpy(), atol=1e-6)
    summary = clf.explain(part, summary=True)
    np.testing.assert_allclose(
        summary.to_numpy(), out.abs().groupby(level="id", sort=False).mean().to_numpy(),
        atol=1e-6)
    # polars and numpy input: positional index, names from the fit
    np.testing.assert_allclose(clf.explain(pl.from_pandas(part)).to_numpy(), out.to_numpy(),
                               atol=1e-6)
    assert clf.explain(pl.from_pandas(part), summary=True).index.equals(pd.RangeIndex(3))


def test_alpha_two_is_sparser_and_alpha_one_is_dense(pair):
    _, X, y, Xt, _ = pair
    kw = {**FAST, "max_epochs": 2}
    dense = ARMNetClassifier(**kw, entmax_alpha=1.0).fit(X, y).explain(Xt.iloc[:20])
    sparse = ARMNetClassifier(**kw, entmax_alpha=2.0).fit(X, y).explain(Xt.iloc[:20])
    assert (dense.to_numpy() == 0).mean() == 0
    assert (sparse.to_numpy() == 0).mean() > 0.5


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_pipeline_grid_search(container):
    X, y = _pair_data(1200, 2)
    if container == "polars":
        X = pl.from_pandas(X)
    pipe = make_pipeline(ARMNetClassifier(max_epochs=3, embedding_dim=4, neurons_per_head=4,
                                          mlp_hidden=(16,), random_state=0))
    grid = GridSearchCV(pipe, {"armnetclassifier__entmax_alpha": [1.5, 2.0],
                               "armnetclassifier__attention_heads": [1, 2]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"armnetclassifier__entmax_alpha",
                                      "armnetclassifier__attention_heads"}
    assert grid.predict_proba(X).shape == (len(y), 2)
    assert grid.best_estimator_[-1].feature_importances_.shape == (7,)


def test_armnet_plus_multiclass_regressor_and_pickle():
    rng = np.random.default_rng(0)
    n = 2000
    a, b = rng.integers(0, 3, n), rng.integers(0, 4, n)
    X = pd.DataFrame({"a": pd.Categorical(a.astype(str)), "b": b.astype(str),
                      "x": rng.normal(size=n)})
    labels = np.array(["red", "green", "blue"])[a]
    clf = ARMNetClassifier(**FAST, dnn_hidden=(16,)).fit(X, labels)
    assert clf.predict_proba(X).shape == (n, 3)
    assert clf.score(X, labels) > 0.95
    assert clf.module_.model.dnn is not None
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    target = np.where(a == b % 3, 2.0, -2.0) + 0.1 * rng.normal(size=n) + 50
    reg = ARMNetRegressor(**{**FAST, "max_epochs": 30}, normalization="layer").fit(X, target)
    assert reg.score(X, target) > 0.9
    assert reg.explain(X.iloc[:2], summary=True).shape == (2, 3)
    assert not hasattr(reg, "predict_proba")


def test_seeded_fits_repeat_and_feature_importances_follow_sample_weight(pair):
    _, X, y, Xt, _ = pair
    kw = {**FAST, "max_epochs": 2, "dtype": "float64"}
    a = ARMNetClassifier(**kw).fit(X.iloc[:1500], y[:1500])
    b = clone(a).fit(X.iloc[:1500], y[:1500])
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    np.testing.assert_array_equal(a.feature_importances_, b.feature_importances_)
    rows = a.explain(X.iloc[:1500], summary=True).to_numpy()
    w = np.r_[np.ones(750), np.zeros(750)]
    np.testing.assert_allclose(np.average(rows, axis=0, weights=w),
                               a._row_importance(X.iloc[:750]).mean(axis=0), atol=1e-12)
    with pytest.raises(ValueError, match="entmax_alpha"):
        ARMNetClassifier(entmax_alpha=0.5).fit(X.iloc[:50], y[:50])
    with pytest.raises(ValueError, match="normalization"):
        ARMNetClassifier(normalization="group").fit(X.iloc[:50], y[:50])
