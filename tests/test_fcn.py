import pickle

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from tabnn import AutoIntClassifier, FCNClassifier, FCNRegressor
from tabnn._params import InvalidParameterError
from tabnn.datasets import make_ctr

SMALL = dict(embedding_dim=8, ecn_layers=2, lcn_layers=2, batch_size=256, random_state=0)


@pytest.fixture(scope="module")
def third_order():
    # label = XOR-like product of three fields: no single field or pair carries signal
    data = make_ctr(n_samples=6000, n_categorical=6, n_numeric=2, cardinality=6,
                    interactions=[("C1", "C2", "C3")], interaction_strength=4.0, noise=0.02,
                    random_state=0)
    X, y = data.data, data.target
    return X.iloc[:4500], y[:4500], X.iloc[4500:], y[4500:], data.oracle_proba[4500:]


@pytest.fixture(scope="module")
def fitted(third_order):
    X, y, *_ = third_order
    return FCNClassifier(**SMALL, max_epochs=3).fit(X.iloc[:2000], y[:2000])


def test_planted_third_order_interaction_beats_linear_and_reaches_autoint(third_order,
                                                                           linear_auc):
    X, y, Xt, yt, oracle = third_order
    fit = dict(max_epochs=10, early_stopping=False)
    fcn = FCNClassifier(**SMALL, **fit).fit(X, y)
    auc = roc_auc_score(yt, fcn.predict_proba(Xt)[:, 1])
    # the reference: AutoInt as the paper runs it, every field attended
    autoint = AutoIntClassifier(embedding_dim=8, attention_layers=2, attention_heads=2,
                                attention_head_dim=8, attend_numeric=True, batch_size=256,
                                random_state=0, **fit).fit(X, y)
    auc_autoint = roc_auc_score(yt, autoint.predict_proba(Xt)[:, 1])
    cats = list(X.select_dtypes("category").columns)
    auc_linear = linear_auc(X, y, Xt, yt, cats)
    assert auc_linear < 0.6
    assert auc > auc_linear + 0.2
    assert auc >= auc_autoint
    assert auc > roc_auc_score(yt, oracle) - 0.01
    # each branch alone learns it too (ECN reaches order 4, LCN order 3 with 2 layers)
    for branch in ("ecn", "lcn"):
        assert roc_auc_score(yt, fcn.predict_proba(Xt, branch=branch)[:, 1]) > auc - 0.02


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_pipeline_grid_search(third_order, container):
    X, y = third_order[0].iloc[:1200], third_order[1][:1200]
    if container == "polars":
        X = pl.from_pandas(X)
    pipe = make_pipeline(FCNClassifier(max_epochs=2, embedding_dim=4, ecn_layers=1,
                                       lcn_layers=1, random_state=0))
    grid = GridSearchCV(pipe, {"fcnclassifier__branches": ["both", "ecn"],
                               "fcnclassifier__embedding_dim": [4, 8]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"fcnclassifier__branches",
                                      "fcnclassifier__embedding_dim"}
    assert grid.predict_proba(X).shape == (len(y), 2)


def test_branch_predictions(fitted, third_order):
    Xt = third_order[2].iloc[:300]
    fused = fitted.predict_proba(Xt)
    np.testing.assert_array_equal(fitted.predict_proba(Xt, branch="fused"), fused)
    ecn, lcn = (fitted.decision_function(Xt, branch=b) for b in ("ecn", "lcn"))
    # the fused logit is the mean of the branch logits (the output bias included)
    np.testing.assert_allclose(fitted.decision_function(Xt), (ecn + lcn) / 2, atol=1e-5)
    assert not np.allclose(ecn, lcn)
    assert fitted.predict(Xt, branch="ecn").shape == (300,)
    with pytest.raises(ValueError, match="branch must be"):
        fitted.predict_proba(Xt, branch="dnn")


def test_mask_activity_per_layer_and_field(fitted, third_order):
    X = third_order[2].iloc[:500]
    act = fitted.mask_activity(X)
    assert set(act) == {"ecn", "lcn"} and act["ecn"].shape == (2,) and act["lcn"].shape == (2,)
    # LayerNorm centres the cross vector: the mask zeroes a share near one half
    assert all(0.2 < v < 0.8 for v in np.concatenate(list(act.values())))
    per_field = fitted.mask_activity(X, per_field=True)
    assert per_field["lcn"].shape == (2, X.shape[1])
    np.testing.assert_allclose(per_field["lcn"].mean(1), act["lcn"])
    # by hand from the module on the whole set (the method sums over prediction batches),
    # with the fit's precision: a CPU with native bfloat16 runs the network under autocast
    import torch
    module = fitted.module_
    inputs = fitted._to_tensors(fitted.encoder_.encode(
        __import__("tabnn._validation", fromlist=["validate_X"]).validate_X(
            fitted, X, reset=False)), torch.device("cpu"))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16,
                                         enabled=fitted.mixed_precision_):
        module.eval()
        _, masks = module.model(module.embedding(*inputs), return_masks=True)
    np.testing.assert_allclose(act["ecn"], [(m == 0).double().mean().item()
                                            for m in masks["ecn"]], rtol=1e-6)


def test_single_branch_ablation_and_options(third_order):
    X, y, Xt = third_order[0].iloc[:1500], third_order[1][:1500], third_order[2].iloc[:200]
    ecn = FCNClassifier(**SMALL, max_epochs=2, branches="ecn").fit(X, y)
    assert ecn.module_.model.lcn is None
    np.testing.assert_allclose(ecn.predict_proba(Xt, branch="ecn"), ecn.predict_proba(Xt))
    with pytest.raises(ValueError, match="branches='ecn'"):
        ecn.predict_proba(Xt, branch="lcn")
    assert set(ecn.mask_activity(Xt)) == {"ecn"}
    # the Tri-BCE options reach the training
    base = FCNClassifier(**SMALL, max_epochs=2, dtype="float64").fit(X, y).predict_proba(Xt)
    for option in ({"tri_bce": False}, {"detach_tri_bce_weights": True}):
        other = FCNClassifier(**SMALL, max_epochs=2, dtype="float64", **option).fit(X, y)
        assert np.abs(other.predict_proba(Xt) - base).max() > 1e-6
    heads = FCNClassifier(**SMALL, max_epochs=1, n_heads=2, batch_norm=True).fit(X, y)
    assert heads.module_.model.dim == X.shape[1] * 8 // 2  # per head: F * d / H


def test_odd_embedding_dim_is_a_clear_error(third_order):
    X, y = third_order[0].iloc[:200], third_order[1][:200]
    with pytest.raises(ValueError, match=r"embedding_dim must be an even .*\(e\.g\. 8\).*"
                                         "embedding_dim=7, n_heads=1"):
        FCNClassifier(embedding_dim=7).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'embedding_dim' parameter"):
        FCNClassifier(embedding_dim=0).fit(X, y)
    with pytest.raises(ValueError, match="embedding_dim=6, n_heads=2"):
        FCNClassifier(embedding_dim=6, n_heads=2, max_epochs=1).fit(X, y)


def test_multiclass_regression_pickle():
    rng = np.random.default_rng(0)
    n = 3000
    a, b = rng.integers(0, 3, n), rng.integers(0, 3, n)
    X = pd.DataFrame({"a": pd.Categorical(a.astype(str)), "b": pd.Categorical(b.astype(str)),
                      "x": rng.normal(size=n)})
    y = np.array(["red", "green", "blue"])[(a + b) % 3]
    clf = FCNClassifier(**SMALL, max_epochs=15, early_stopping=False).fit(X, y)
    assert clf.predict_proba(X, branch="lcn").shape == (n, 3)
    assert clf.score(X, y) > 0.95
    target = np.where((a + b) % 2 == 0, 3.0, -3.0) + rng.normal(0, 0.3, n) + 50
    reg = FCNRegressor(**SMALL, max_epochs=15, early_stopping=False).fit(X[:2000], target[:2000])
    assert reg.score(X[2000:], target[2000:]) > 0.9
    assert reg.predict(X[:5], branch="ecn").shape == (5,)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X),
                                  clf.predict_proba(X))
