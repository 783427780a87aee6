import pickle

import joblib
import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from tabnn import AutoIntClassifier, AutoIntRegressor, TabularEncoder
from tabnn.datasets import make_ctr

FAST = dict(embedding_dim=8, attention_layers=2, attention_heads=2, attention_head_dim=8,
            max_epochs=30, random_state=0)


def test_learns_planted_interaction_a_linear_model_cannot(xor_data, linear_auc):
    X, y, Xt, yt, data = xor_data
    clf = AutoIntClassifier(**FAST).fit(X, y)
    auc = roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])
    cats = list(X.select_dtypes("category").columns)
    auc_linear = linear_auc(X, y, Xt, yt, cats)
    oracle = roc_auc_score(yt, data.oracle_proba[6000:])
    assert auc_linear < 0.6
    assert auc > auc_linear + 0.25
    assert auc > oracle - 0.03
    assert clf.history_ and clf.n_iter_ == len(clf.history_)
    assert 1 <= clf.best_iteration_ <= clf.n_iter_


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_pipeline_grid_search(xor_data, container):
    X, y = xor_data[0].iloc[:1500], xor_data[1][:1500]
    if container == "polars":
        X = pl.from_pandas(X)
    pipe = make_pipeline(AutoIntClassifier(max_epochs=3, embedding_dim=4, attention_head_dim=4,
                                           random_state=0))
    grid = GridSearchCV(pipe, {"autointclassifier__attention_layers": [1, 2],
                               "autointclassifier__embedding_dim": [4, 8]}, cv=2)
    grid.fit(X, y)
    assert set(grid.best_params_) == {"autointclassifier__attention_layers",
                                      "autointclassifier__embedding_dim"}
    assert grid.predict_proba(X).shape == (len(y), 2)


def test_clone_pickle_joblib_identical(xor_data, tmp_path):
    X, y, Xt = xor_data[0].iloc[:2000], xor_data[1][:2000], xor_data[2]
    clf = AutoIntClassifier(**{**FAST, "max_epochs": 3}).fit(X, y)
    p = clf.predict_proba(Xt)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(Xt), p)
    joblib.dump(clf, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict_proba(Xt), p)
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(Xt), p)
    other = clone(clf).set_params(random_state=1).fit(X, y).predict_proba(Xt)
    assert not np.array_equal(other, p)


def _messy_frame(n, rng):
    city = rng.choice(["paris", "rome", "oslo", "lima"], n).astype(object)
    city[rng.random(n) < 0.1] = None
    price = rng.lognormal(3, 2, n)
    price[rng.random(n) < 0.1] = np.nan
    price[:3] = np.inf
    kind = pd.Categorical(rng.choice(["a", "b", "c"], n))
    y = np.where((city == "paris") ^ (kind == "a"), "yes", "no")
    return pd.DataFrame({"city": city, "kind": kind, "price": price}), y


def test_missing_unseen_category_dtypes_and_column_errors():
    rng = np.random.default_rng(0)
    X, y = _messy_frame(1500, rng)
    clf = AutoIntClassifier(**{**FAST, "max_epochs": 40}).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"]
    assert clf.score(X, y) > 0.9
    Xt = X.iloc[:50].copy()
    Xt["city"] = ["tokyo"] * 25 + [None] * 25
    Xt["kind"] = pd.Categorical(["zz"] * 50)
    proba = clf.predict_proba(Xt)
    assert np.isfinite(proba).all()
    assert clf.predict(Xt).dtype == clf.classes_.dtype
    # an unseen value is predicted like the trained "unknown" code
    unseen = clf.predict_proba(Xt.iloc[:1])
    Xt2 = Xt.iloc[:1].copy()
    Xt2["city"] = ["another-unseen"]
    np.testing.assert_allclose(clf.predict_proba(Xt2), unseen)
    # reordered columns: same predictions
    np.testing.assert_array_equal(clf.predict_proba(X[["price", "kind", "city"]]),
                                  clf.predict_proba(X))
    # polars Categorical frame: same predictions as pandas
    Xpl = pl.from_pandas(X)
    assert Xpl.schema["kind"] == pl.Categorical
    np.testing.assert_allclose(clf.predict_proba(Xpl), clf.predict_proba(X), atol=1e-6)
    with pytest.raises(ValueError, match=r"missing: \['price'\]"):
        clf.predict(X.drop(columns="price"))
    with pytest.raises(ValueError, match=r"unseen at fit time: \['bogus'\]"):
        clf.predict(X.assign(bogus=1))
    # the user's frame is untouched
    X_before = X.copy()
    clf.predict(X)
    pd.testing.assert_frame_equal(X, X_before)


def test_polars_categorical_trains():
    rng = np.random.default_rng(1)
    X, y = _messy_frame(1200, rng)
    Xpl = pl.from_pandas(X).with_columns(pl.col("city").cast(pl.Categorical))
    clf = AutoIntClassifier(**FAST).fit(Xpl, y)
    assert clf.feature_names_in_.tolist() == ["city", "kind", "price"]
    assert clf.score(Xpl, y) > 0.9


def test_single_class_and_bad_targets_raise():
    X = pd.DataFrame({"a": ["x", "y", "z", "x"]})
    with pytest.raises(ValueError, match="class"):
        AutoIntClassifier().fit(X, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="Unknown label type"):
        AutoIntClassifier().fit(X, [0.1, 0.5, 0.7, 0.2])
    with pytest.raises(ValueError, match="0 sample"):
        AutoIntClassifier().fit(X.iloc[:0], [])


def test_multiclass_and_sample_weight():
    rng = np.random.default_rng(0)
    n = 3000
    a = rng.integers(0, 3, n)
    X = pd.DataFrame({"a": pd.Categorical(a.astype(str)), "x": rng.normal(size=n)})
    y = np.array(["red", "green", "blue"])[a]
    clf = AutoIntClassifier(**FAST).fit(X, y)
    assert clf.predict_proba(X).shape == (n, 3)
    assert clf.score(X, y) > 0.95
    # zero weight on every "blue" row: the model can no longer predict blue
    w = (y != "blue").astype(float)
    weighted = AutoIntClassifier(**FAST).fit(X, y, sample_weight=w)
    assert (weighted.predict(X) == "blue").mean() < 0.05


def test_regressor_learns_interaction():
    rng = np.random.default_rng(0)
    n = 4000
    a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)
    y = np.where((a % 2) == (b % 2), 3.0, -3.0) + rng.normal(0, 0.3, n) + 100
    X = pd.DataFrame({"a": a.astype(str), "b": b.astype(str), "noise": rng.normal(size=n)})
    reg = AutoIntRegressor(**FAST).fit(X[:3000], y[:3000])
    assert reg.score(X[3000:], y[3000:]) > 0.9
    assert not hasattr(reg, "predict_proba")


def test_verbose_prints_one_line_per_epoch(capsys):
    rng = np.random.default_rng(0)
    X, y = _messy_frame(1200, rng)
    clf = AutoIntClassifier(**{**FAST, "max_epochs": 2}, verbose=1, early_stopping=True).fit(X, y)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == clf.n_iter_ and "valid_auc" in out[0]
    assert clf.history_[0]["valid_loss"] is not None


def test_attention_maps_sum_to_one(xor_data):
    X, y = xor_data[0].iloc[:500], xor_data[1][:500]
    clf = AutoIntClassifier(**{**FAST, "max_epochs": 1}, attend_numeric=True).fit(X, y)
    maps = clf.attention_maps(X.iloc[:7])
    assert len(maps) == 2
    assert maps[0].shape == (7, 2, X.shape[1], X.shape[1])
    np.testing.assert_allclose(maps[0].sum(-1), 1.0, rtol=1e-5)


def test_attend_numeric_false_attends_categorical_fields_only(xor_data):
    X, y, Xt, yt, data = xor_data
    clf = AutoIntClassifier(**FAST, attend_numeric=False).fit(X, y)
    n_cat = X.select_dtypes("category").shape[1]
    assert clf.attention_maps(Xt.iloc[:3])[0].shape == (3, 2, n_cat, n_cat)
    # the planted interaction is between two categorical fields: still learned
    auc = roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])
    assert auc > roc_auc_score(yt, data.oracle_proba[6000:]) - 0.03
    # no categorical column: nothing to attend, the numeric signal is still learned
    rng = np.random.default_rng(0)
    Xn = rng.normal(size=(600, 3))
    yn = (Xn[:, 0] + 0.1 * rng.normal(size=600) > 0).astype(int)
    reg = AutoIntClassifier(**FAST, attend_numeric=False).fit(Xn, yn)
    assert reg.attention_maps(Xn[:2]) == []
    assert reg.score(Xn, yn) > 0.9
    with pytest.raises(ValueError, match="attend_numeric"):
        AutoIntClassifier(attend_numeric="yes").fit(Xn, yn)


def test_encoder_in_pipeline_then_model(xor_data):
    # the encoder as an explicit pipeline step: its integer codes are categorical downstream
    X, y = xor_data[0].iloc[:1500], xor_data[1][:1500]
    enc = TabularEncoder().set_output(transform="pandas")
    cats = list(X.select_dtypes("category").columns)
    pipe = make_pipeline(enc, AutoIntClassifier(categorical_features=cats, max_epochs=2,
                                                random_state=0))
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (len(y),)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fitted_on_cuda_predicts_after_unpickling_on_a_cpu_only_machine(xor_data, monkeypatch):
    X, y, Xt, yt, _ = xor_data
    clf = AutoIntClassifier(**FAST, device="cuda").fit(X, y)
    assert clf.device_.startswith("cuda") and clf.mixed_precision_
    on_gpu = clf.predict_proba(Xt)
    blob = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine
    loaded = pickle.loads(blob)
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    on_cpu = loaded.predict_proba(Xt)
    # bfloat16 products on the GPU, float32 (or the CPU's own bfloat16) here
    np.testing.assert_allclose(on_cpu, on_gpu, atol=0.02)
    assert roc_auc_score(yt, on_cpu[:, 1]) == pytest.approx(
        roc_auc_score(yt, on_gpu[:, 1]), abs=0.005)


def test_dropout_learns_and_is_reproducible_with_a_seed(xor_data):
    # on CUDA this runs through the replayed CUDA-graph step, whose dropout masks must still
    # change from step to step
    X, y, Xt, yt, data = xor_data
    a = AutoIntClassifier(**FAST, dropout=0.2).fit(X, y)
    b = AutoIntClassifier(**FAST, dropout=0.2).fit(X, y)
    pa, pb = a.predict_proba(Xt)[:, 1], b.predict_proba(Xt)[:, 1]
    if a.device_ == "cpu":
        np.testing.assert_array_equal(pa, pb)
    else:  # atomic additions on GPUs: close, not bit-identical
        np.testing.assert_allclose(pa, pb, atol=0.05)
    oracle = roc_auc_score(yt, data.oracle_proba[6000:])
    assert roc_auc_score(yt, pa) > oracle - 0.03
    no_dropout = AutoIntClassifier(**FAST).fit(X, y).predict_proba(Xt)[:, 1]
    assert np.abs(pa - no_dropout).max() > 1e-3  # the parameter reaches the network


def test_given_validation_set_drives_early_stopping(xor_data):
    from sklearn.metrics import log_loss

    X, y, Xt, yt, _ = xor_data
    params = {**FAST, "max_epochs": 8, "dtype": "float64"}
    clf = AutoIntClassifier(**params).fit(X, y, X_val=Xt, y_val=yt)
    # the restored weights are the best epoch's, whose validation loss was computed on X_val
    best = clf.history_[clf.best_iteration_ - 1]
    assert best["valid_loss"] == pytest.approx(log_loss(yt, clf.predict_proba(Xt)), rel=1e-6)
    assert best["valid_metric"] == pytest.approx(
        roc_auc_score(yt, clf.predict_proba(Xt)[:, 1]), rel=1e-6)
    # no rows were held out of X: the encoder saw all of them
    full = TabularEncoder(min_frequency=clf.min_frequency).fit(X)
    np.testing.assert_array_equal(full.transform(X), clf.encoder_.transform(X))
    held_out = AutoIntClassifier(**{**params, "max_epochs": 1}).fit(X, y)
    assert not np.array_equal(full.transform(X), held_out.encoder_.transform(X))
    # validation weights count: zero weight on half the rows equals dropping them
    w = (np.arange(len(yt)) % 2).astype(float)
    a = AutoIntClassifier(**params).fit(X, y, X_val=Xt, y_val=yt, sample_weight_val=w)
    b = AutoIntClassifier(**params).fit(X, y, X_val=Xt[w == 1], y_val=yt[w == 1])
    assert [h["valid_loss"] for h in a.history_] == pytest.approx(
        [h["valid_loss"] for h in b.history_], rel=1e-9)


def test_given_validation_set_regressor_and_errors(xor_data):
    X, y, Xt, yt, _ = xor_data
    rng = np.random.default_rng(0)
    target = rng.normal(size=len(X)) * 5 + 50
    target_val = rng.normal(size=len(Xt)) * 5 + 50
    reg = AutoIntRegressor(**{**FAST, "max_epochs": 2, "dtype": "float64"}).fit(
        X, target, X_val=Xt, y_val=target_val)
    mse = np.mean((reg.predict(Xt) - target_val) ** 2) / reg.target_scale_ ** 2
    assert reg.history_[reg.best_iteration_ - 1]["valid_loss"] == pytest.approx(mse, rel=1e-6)

    clf = AutoIntClassifier(**{**FAST, "max_epochs": 1})
    with pytest.raises(ValueError, match="y_val was not provided"):
        clf.fit(X, y, X_val=Xt)
    with pytest.raises(ValueError, match="X_val was not provided"):
        clf.fit(X, y, y_val=yt)
    with pytest.raises(ValueError, match="early_stopping=False"):
        clf.set_params(early_stopping=False).fit(X, y, X_val=Xt, y_val=yt)
    clf.set_params(early_stopping="auto")
    with pytest.raises(ValueError, match=r"y_val has labels that are not in the training.*'7'"):
        clf.fit(X, y, X_val=Xt, y_val=np.where(np.arange(len(yt)) == 3, 7, yt))
    with pytest.raises(ValueError, match="missing: \\['C1'\\]"):
        clf.fit(X, y, X_val=Xt.drop(columns="C1"), y_val=yt)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y, X_val=Xt, y_val=yt[:-1])


def test_validation_set_routed_through_a_pipeline(xor_data):
    import sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    X, y, Xt, yt, _ = xor_data
    keep = list(X.columns[:4])
    with sklearn.config_context(enable_metadata_routing=True):
        select = ColumnTransformer([("keep", "passthrough", keep)],
                                   verbose_feature_names_out=False).set_output(transform="pandas")
        clf = AutoIntClassifier(**{**FAST, "max_epochs": 2}).set_fit_request(X_val=True,
                                                                           y_val=True)
        # transform_input: X_val goes through the selector before it reaches the model
        pipe = Pipeline([("select", select), ("clf", clf)], transform_input=["X_val"])
        pipe.fit(X, y, X_val=Xt, y_val=yt)
    assert pipe[-1].feature_names_in_.tolist() == keep
    assert pipe[-1].history_[-1]["valid_loss"] is not None


def test_grid_search_in_parallel_workers_matches_serial():
    # loky workers are fresh processes (with one torch thread each): the seeded fits in them
    # must score like the serial ones, and the refit model must be the same
    data = make_ctr(n_samples=1500, n_categorical=4, n_numeric=2, cardinality=5,
                    interactions=[("C1", "C2")], random_state=0)
    X, y = data.data, data.target

    def search(n_jobs):
        return GridSearchCV(AutoIntClassifier(max_epochs=3, embedding_dim=4, random_state=0),
                            {"attention_heads": [1, 2]}, cv=2, n_jobs=n_jobs).fit(X, y)

    parallel, serial = search(2), search(1)
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], atol=1e-6)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))
