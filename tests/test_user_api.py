"""What LightGBM and scikit-learn users expect of an estimator: class weights, warm starts,
scorer-driven early stopping, learning-rate schedules, importances, progress and logging,
lazy imports and the stable hash."""

import logging
import subprocess
import sys

import numpy as np
import pytest
import xxhash

from tabnn import AutoIntClassifier, AutoIntRegressor
from tabnn.datasets import make_ctr
from tabnn.encoding import UNKNOWN, stable_hash
from tabnn.estimators import all_estimators

SMALL = dict(attention_layers=1, attention_heads=1, attention_head_dim=8, dnn_hidden=(16,),
             embedding_dim=8, random_state=0)


@pytest.fixture(scope="module")
def planted():
    """Two informative categorical fields and one informative numeric field among noise."""
    data = make_ctr(n_samples=3000, n_categorical=5, n_numeric=3, cardinality=8,
                    interactions=0, main_effects=3, main_effect_strength=2.0, noise=0.0,
                    random_state=0)
    return data


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, 600).astype(str), rng.normal(size=600)])
    import pandas as pd

    X = pd.DataFrame({"c": X[:, 0], "x": X[:, 1].astype(float)})
    y = np.where(rng.random(600) < 0.15, "click", "none")
    return X, y


# -- class_weight -----------------------------------------------------------------------------
def test_class_weight_balanced_equals_sample_weight(imbalanced):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = imbalanced
    sw = np.linspace(0.5, 2.0, len(y))
    a = AutoIntClassifier(class_weight="balanced", max_epochs=2, dtype="float64", **SMALL)
    b = AutoIntClassifier(max_epochs=2, dtype="float64", **SMALL)
    a.fit(X, y, sample_weight=sw)
    b.fit(X, y, sample_weight=sw * compute_sample_weight("balanced", y))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)
    # and the balanced weights do change the model
    c = AutoIntClassifier(max_epochs=2, dtype="float64", **SMALL).fit(X, y, sample_weight=sw)
    assert np.abs(c.predict_proba(X) - a.predict_proba(X)).max() > 1e-3


def test_class_weight_dict_and_errors(imbalanced):
    X, y = imbalanced
    a = AutoIntClassifier(class_weight={"click": 4.0}, max_epochs=1, dtype="float64", **SMALL)
    b = AutoIntClassifier(max_epochs=1, dtype="float64", **SMALL)
    a.fit(X, y)
    b.fit(X, y, sample_weight=np.where(y == "click", 4.0, 1.0))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-10)
    with pytest.raises(ValueError, match="class_weight"):
        AutoIntClassifier(class_weight="auto").fit(X, y)
    for name, cls in all_estimators("neural"):
        assert ("class_weight" in cls().get_params()) == name.endswith("Classifier"), name


# -- warm_start -------------------------------------------------------------------------------
def test_warm_start_continues_and_keeps_the_encoder(planted):
    X, y = planted.data, planted.target
    params = dict(max_epochs=3, early_stopping=False, lr_schedule="constant", **SMALL)
    clf = AutoIntClassifier(warm_start=True, **params).fit(X, y)
    encoder = clf.encoder_
    categories = [s.categories.copy() for s in encoder.schema_ if s.role == "categorical"]
    first = clf.history_
    clf.fit(X, y)
    second = clf.history_
    cold = AutoIntClassifier(**params).fit(X, y).history_
    # the second fit starts where the first ended, far below a cold start
    assert second[0]["train_loss"] < first[0]["train_loss"] - 0.02
    assert abs(second[0]["train_loss"] - first[-1]["train_loss"]) < 0.02
    assert cold[0]["train_loss"] == pytest.approx(first[0]["train_loss"])
    assert clf.encoder_ is encoder
    after = [s.categories for s in clf.encoder_.schema_ if s.role == "categorical"]
    assert all(np.array_equal(a, b) for a, b in zip(categories, after))


def test_warm_start_on_new_data_maps_unseen_values_to_unknown(planted):
    X, y = planted.data.copy(), planted.target
    clf = AutoIntClassifier(warm_start=True, max_epochs=1, **SMALL).fit(X, y)
    new = X.copy()
    new["C1"] = new["C1"].astype(str).where(np.arange(len(new)) % 2 == 0, "never_seen")
    clf.fit(new, y)
    codes = clf.encoder_.encode(new.iloc[:4]).codes[:, 0]
    assert codes[1] == UNKNOWN and codes[3] == UNKNOWN
    with pytest.raises(ValueError, match="y"):
        clf.fit(X, np.where(y == 1, "a", "b"))  # labels the first fit did not know


def test_warm_start_off_refits(planted):
    X, y = planted.data, planted.target
    clf = AutoIntClassifier(max_epochs=1, **SMALL).fit(X, y)
    encoder = clf.encoder_
    assert clf.fit(X, y).encoder_ is not encoder


# -- scoring, tol, lr_schedule ----------------------------------------------------------------
def test_scoring_roc_auc_drives_early_stopping(planted):
    from sklearn.metrics import roc_auc_score

    X, y = planted.data, planted.target
    clf = AutoIntClassifier(scoring="roc_auc", max_epochs=4, **SMALL).fit(X, y)
    for r in clf.history_:
        assert r["valid_score"] == pytest.approx(r["valid_metric"])  # AUC both ways

    calls = []

    def worse_every_epoch(estimator, X, y):
        # a planted score that only gets worse: early stopping must stop on it
        proba = estimator.predict_proba(X)[:, 1]
        calls.append(roc_auc_score(y, proba))
        return -len(calls)

    clf = AutoIntClassifier(scoring=worse_every_epoch, n_iter_no_change=2, max_epochs=20,
                            **SMALL).fit(X, y)
    assert len(clf.history_) == 3 and clf.best_iteration_ == 1
    assert [r["improved"] for r in clf.history_] == [True, False, False]
    assert all(0.5 < auc <= 1 for auc in calls)  # the scorer saw real predictions


def test_scoring_reuses_the_epoch_validation_pass(planted, monkeypatch):
    # the scorer reads the logits the trainer already computed for the validation loss: one
    # validation prediction per epoch, not two
    import tabnn.training as training

    passes = []
    original = training.predict_network

    def counting(*args, **kwargs):
        passes.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "predict_network", counting)
    X, y = planted.data, planted.target
    clf = AutoIntClassifier(scoring="roc_auc", max_epochs=3, n_iter_no_change=5,
                            **SMALL).fit(X, y)
    assert len(clf.history_) == 3 and len(passes) == 3
    assert all(r["valid_score"] == pytest.approx(r["valid_metric"]) for r in clf.history_)


def test_scoring_regression_and_errors(planted):
    X, y = planted.data, planted.target.astype(float)
    reg = AutoIntRegressor(scoring="r2", max_epochs=2, **SMALL).fit(X, y)
    assert all(r["valid_score"] is not None and r["valid_score"] <= 1 for r in reg.history_)
    with pytest.raises(ValueError, match="scoring"):
        AutoIntRegressor(scoring="not_a_scorer").fit(X, y)


def test_tol_decides_what_improves(planted):
    X, y = planted.data, planted.target
    clf = AutoIntClassifier(tol=10.0, n_iter_no_change=1, max_epochs=10, **SMALL).fit(X, y)
    assert len(clf.history_) == 2  # nothing beats the first epoch by 1000%


@pytest.mark.parametrize("schedule", ["constant", "cosine", "plateau"])
def test_lr_schedules(planted, schedule):
    X, y = planted.data, planted.target
    clf = AutoIntClassifier(lr_schedule=schedule, max_epochs=4, early_stopping=False,
                            learning_rate=1e-2, **SMALL).fit(X, y)
    rates = [r["learning_rate"] for r in clf.history_]
    if schedule == "constant":
        assert rates == [1e-2] * 4
    elif schedule == "cosine":
        assert rates[0] == 1e-2 and all(a > b for a, b in zip(rates, rates[1:]))
        assert rates[2] == pytest.approx(1e-2 * (0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi / 2))))
    else:  # no validation data without early stopping: nothing to decay on
        assert rates == [1e-2] * 4


@pytest.mark.parametrize("patience, rates", [
    (2, [1, 1, 0.1]),  # the first epoch without improvement already cuts the rate
    (5, [1, 1, 1, 1, 0.1, 0.1]),  # three at the full rate first, two left at the lower one
])
def test_plateau_schedule_cuts_the_rate_with_two_epochs_of_patience_left(planted, patience,
                                                                          rates):
    X, y = planted.data, planted.target
    calls = []

    def worse_every_epoch(estimator, X, y):
        calls.append(1)
        return -len(calls)

    clf = AutoIntClassifier(scoring=worse_every_epoch, n_iter_no_change=patience,
                            learning_rate=1e-2, max_epochs=20, **SMALL).fit(X, y)
    assert [r["learning_rate"] for r in clf.history_] == pytest.approx(
        [1e-2 * r for r in rates])


# -- feature_importances_ ---------------------------------------------------------------------
def test_feature_importances_rank_planted_fields_above_noise(planted):
    X, y = planted.data, planted.target
    clf = AutoIntClassifier(max_epochs=6, **SMALL).fit(X, y)
    fi = clf.feature_importances_
    assert fi.shape == (X.shape[1],)
    columns = list(X.columns)
    informative = [columns.index(c) for c in planted.informative_features]
    noise = [columns.index(c) for c in planted.noise_features]
    assert fi[informative].min() > fi[noise].max(), dict(zip(columns, fi.round(4)))


@pytest.mark.parametrize("name", [n for n, _ in all_estimators("neural")])
def test_every_neural_estimator_has_feature_importances(planted, name):
    cls = dict(all_estimators())[name]
    X, y = planted.data.iloc[:1200], planted.target[:1200]
    est = cls(max_epochs=1, random_state=0).fit(X, y)
    fi = est.feature_importances_
    assert fi.shape == (X.shape[1],) and np.isfinite(fi).all() and fi.any()


def test_feature_importances_before_fit_and_after_pickle(planted, tmp_path):
    import pickle

    from tabnn.persistence import load, save

    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoIntClassifier().feature_importances_
    X, y = planted.data, planted.target
    clf = AutoIntClassifier(max_epochs=2, **SMALL).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(again.feature_importances_, clf.feature_importances_)
    save(AutoIntClassifier(class_weight="balanced", **SMALL, max_epochs=1).fit(X, y),
         tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert loaded.feature_importances_.shape == (X.shape[1],)


# -- attention maps ---------------------------------------------------------------------------
def test_attention_maps_in_input_order(planted):
    X = planted.data
    reordered = X[[*planted.numeric_features, *planted.categorical_features]]  # numeric first
    clf = AutoIntClassifier(max_epochs=1, attend_numeric=True, **SMALL).fit(
        reordered, planted.target)
    maps, fields = clf.attention_maps(reordered.iloc[:5], return_fields=True)
    assert fields == list(reordered.columns)
    assert maps[0].shape == (5, 1, len(fields), len(fields))
    np.testing.assert_allclose(maps[0].sum(-1), 1, atol=1e-5)


# -- progress and logging ---------------------------------------------------------------------
def test_verbose_output_and_logger(planted, capsys, caplog):
    X, y = planted.data, planted.target
    AutoIntClassifier(max_epochs=2, verbose=1, **SMALL).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("epoch   1  train_loss") and "valid_auc" in out[0]
    with caplog.at_level(logging.DEBUG, logger="tabnn"):
        AutoIntClassifier(max_epochs=2, verbose=0, **SMALL).fit(X, y)
    assert capsys.readouterr().out == ""
    assert sum("train_loss" in r.getMessage() for r in caplog.records) == 2
    AutoIntClassifier(max_epochs=1, verbose=2, **SMALL).fit(X, y)
    captured = capsys.readouterr()
    assert "batch/s" in captured.out + captured.err  # tqdm's bar


def test_outrank_verbose(planted, capsys, caplog):
    from tabnn import OutRankSelector

    X, y = planted.data, planted.target
    with caplog.at_level(logging.DEBUG, logger="tabnn"):
        OutRankSelector(k=3, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    assert any(r.getMessage().startswith("OutRank: 3,000 rows x 8 features")
               for r in caplog.records)
    OutRankSelector(k=3, verbose=2, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.startswith("OutRank: 3,000 rows x 8 features") and "mutual_info" in out
    best = out.splitlines()[0].split("best: ")[1].split()[0]
    assert best in planted.informative_features  # the summary names a planted field first


# -- lazy imports -----------------------------------------------------------------------------
def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_no_torch_for_import_tabnn_foldse_and_outrank():
    code = """
import sys
import tabnn
from tabnn import FoldSEClassifier, OutRankSelector, TabularEncoder
print("torch" in sys.modules)
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
from tabnn import FoldSEClassifier, OutRankSelector
from tabnn.datasets import make_ctr
d = make_ctr(n_samples=400, n_categorical=4, n_numeric=2, cardinality=5, interactions=0,
             main_effects=2, random_state=0)
print(FoldSEClassifier().fit(d.data, d.target).score(d.data, d.target) > 0.5)
print(OutRankSelector(k=2).fit(d.data, d.target).transform(d.data).shape[1])
try:
    from tabnn import AutoIntClassifier
except ImportError as e:
    print("blocked")
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "2", "blocked"]


# -- stable hash ------------------------------------------------------------------------------
def test_stable_hash_is_xxh3_of_the_utf8_text():
    values = ["user_1", "é", 42, "x" * 5000, 1.5, None]
    expected = [xxhash.xxh3_64_intdigest(str(v).encode("utf-8")) for v in values]
    assert stable_hash(values).tolist() == expected
    assert stable_hash(np.array(values, dtype=object)).dtype == np.uint64
    assert stable_hash([]).shape == (0,)
    # the frozen value promised across processes, machines and releases (since 0.2.0)
    assert int(stable_hash(["user_1"])[0]) == 2375940910326535585
