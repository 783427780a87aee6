import pickle

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from tabnn import FGCNNClassifier, FGCNNRegressor
from tabnn.nn import EmbeddingPair, FieldEmbedding

SMALL = dict(embedding_dim=8, channels=(6, 8), kernel_heights=3, recombined_channels=2,
             dnn_hidden=(32,), random_state=0)


def test_beats_logistic_regression_on_one_hot_codes_by_a_wide_margin(xor_data, linear_auc):
    X, y, Xt, yt, data = xor_data
    clf = FGCNNClassifier(**SMALL, max_epochs=20).fit(X, y)
    auc = roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])
    auc_linear = linear_auc(X, y, Xt, yt)
    oracle = roc_auc_score(yt, data.oracle_proba[6000:])
    assert auc_linear < 0.6
    assert auc > auc_linear + 0.25
    assert auc > oracle - 0.03
    # 7 fields -> pooled 4, 2 -> 2 * (4 + 2) generated features
    assert clf.n_generated_features_ == 12
    assert isinstance(clf.module_.embedding, EmbeddingPair)


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_pipeline_grid_search(xor_data, container):
    X, y = xor_data[0].iloc[:1500], xor_data[1][:1500]
    if container == "polars":
        X = pl.from_pandas(X)
    pipe = make_pipeline(FGCNNClassifier(max_epochs=2, embedding_dim=4, channels=(4,),
                                         dnn_hidden=(16,), random_state=0))
    grid = GridSearchCV(pipe, {"fgcnnclassifier__recombined_channels": [1, 2],
                               "fgcnnclassifier__share_embedding": [False, True]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"fgcnnclassifier__recombined_channels",
                                      "fgcnnclassifier__share_embedding"}
    assert grid.predict_proba(X).shape == (len(y), 2)


def _expected_parameters(F_, k, n_out, channels, kernel, pool, r, hidden, cardinalities,
                         n_numeric, n_tables):
    heights, h = [], F_
    for _ in channels:
        h = -(-h // min(pool, h))
        heights.append(h)
    total, c_in = 0, 1
    for c, H in zip(channels, heights):
        total += c_in * c * kernel + 2 * c  # conv without bias + batch-norm scale and shift
        total += (c * H * k) * (H * r * k) + H * r * k  # recombination
        c_in = c
    M = F_ + r * sum(heights)
    size = M * k + M * (M - 1) // 2
    for width in (*hidden, n_out):
        total += size * width + width
        size = width
    # per embedding: one table row per code, numeric weight / bias / missing vectors
    total += n_tables * (sum(cardinalities) * k + 3 * n_numeric * k)
    return total + n_out, r * sum(heights)  # + the network's output bias


@pytest.mark.parametrize("n_cat, n_num", [(1, 1), (40, 20)])
@pytest.mark.parametrize("share", [False, True])
def test_two_and_sixty_fields_shapes_and_parameter_count(n_cat, n_num, share):
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({f"c{i}": pd.Categorical(rng.choice(list("abc"), n)) for i in range(n_cat)})
    for i in range(n_num):
        X[f"x{i}"] = rng.normal(size=n)
    y = rng.choice(["a", "b", "c"], n)
    params = dict(embedding_dim=4, channels=(3, 4, 5, 6), kernel_heights=5, pooling_sizes=2,
                  recombined_channels=2, dnn_hidden=(16,), max_epochs=2, min_frequency=1,
                  share_embedding=share, random_state=0)
    clf = FGCNNClassifier(**params).fit(X, y)
    assert clf.predict_proba(X).shape == (n, 3)
    assert clf.predict(X.iloc[:7]).shape == (7,)
    cards = [f.n_codes for f in clf.encoder_.encode(X.iloc[:1]).categorical_fields]
    expected, n_generated = _expected_parameters(
        n_cat + n_num, 4, 3, (3, 4, 5, 6), 5, 2, 2, (16,), cards, n_num, 1 if share else 2)
    assert sum(p.numel() for p in clf.module_.parameters()) == expected
    assert clf.n_generated_features_ == n_generated
    assert isinstance(clf.module_.embedding, FieldEmbedding if share else EmbeddingPair)
    assert len(clf.module_.embedding_tables()) == (1 if share else 2)
    reg = FGCNNRegressor(**params).fit(X, rng.normal(size=n))
    assert reg.predict(X).shape == (n,)


def test_clone_pickle_identical_and_seeded(xor_data):
    X, y, Xt = xor_data[0].iloc[:1500], xor_data[1][:1500], xor_data[2]
    clf = FGCNNClassifier(**{**SMALL, "max_epochs": 2}).fit(X, y)
    p = clf.predict_proba(Xt)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(Xt), p)
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(Xt), p)
    other = clone(clf).set_params(random_state=1).fit(X, y).predict_proba(Xt)
    assert not np.array_equal(other, p)


def test_field_order_is_the_encoders_categorical_first(xor_data):
    # the same columns in another input order encode (and so convolve) in the same order
    X, y = xor_data[0].iloc[:1000], xor_data[1][:1000]
    clf = FGCNNClassifier(**{**SMALL, "max_epochs": 1}).fit(X, y)
    roles = [f.name for f in clf.encoder_.encode(X.iloc[:1]).categorical_fields]
    assert roles == [c for c in X.columns if c.startswith("C")]
    np.testing.assert_array_equal(clf.predict_proba(X[X.columns[::-1]]), clf.predict_proba(X))


def test_multiclass_and_regression_learn():
    rng = np.random.default_rng(0)
    n = 2000
    a, b = rng.integers(0, 3, n), rng.integers(0, 4, n)
    X = pd.DataFrame({"a": pd.Categorical(a.astype(str)), "b": pd.Categorical(b.astype(str)),
                      "x": rng.normal(size=n)})
    small = {**SMALL, "channels": (4,), "dnn_hidden": (16,)}
    clf = FGCNNClassifier(**small, max_epochs=8).fit(X, np.array(["r", "g", "b"])[a])
    assert clf.score(X, np.array(["r", "g", "b"])[a]) > 0.95
    target = np.where((a % 2) == (b % 2), 3.0, -3.0) + rng.normal(0, 0.3, n) + 100
    reg = FGCNNRegressor(**small, max_epochs=15).fit(X[:1600], target[:1600])
    assert reg.score(X[1600:], target[1600:]) > 0.9


def test_stage_lengths_must_agree():
    X = pd.DataFrame({"a": list("abcabc"), "b": list("xxyyzz")})
    with pytest.raises(ValueError, match=r"kernel_heights needs one value per stage"):
        FGCNNClassifier(channels=(2, 3), kernel_heights=(3,)).fit(X, [0, 1] * 3)
    with pytest.raises(ValueError, match="channels"):
        FGCNNClassifier(channels=(2, 0)).fit(X, [0, 1] * 3)
