"""Synthetic data with planted truth: make_ctr and make_rules."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tabnn.datasets import apply_rules, make_ctr, make_rules


def test_make_ctr_shapes_dtypes_and_truth():
    b = make_ctr(n_samples=2000, n_categorical=6, n_numeric=3, cardinality=(5, 50),
                 interactions=3, n_redundant=2, n_noise=2, id_like=True, random_state=0)
    n_feat = 6 + 3 + 2 + 2 + 1
    assert b.frame.shape == (2000, n_feat + 1) and b.data.shape == (2000, n_feat)
    assert list(b.frame.columns) == b.feature_names + ["label"]
    for c in b.categorical_features:
        assert isinstance(b.frame[c].dtype, pd.CategoricalDtype)
        assert b.frame[c].cat.categories.size == b.cardinalities[c]
    for c in b.numeric_features:
        assert b.frame[c].dtype == np.float64
    assert set(b.target.unique()) <= {0, 1}
    assert [len(t) for t in b.interactions] == [2, 2, 3]
    kinds = [e["kind"] for e in b.effects]
    assert kinds[0] == "categorical x categorical" and kinds[1] == "categorical x numeric"
    assert set(b.informative_features) == {f for t in b.interactions for f in t}
    assert set(b.redundant_features.values()) <= set(b.informative_features)
    assert "id_like" in b.noise_features and "N1" in b.noise_features
    assert not set(b.noise_features) & set(b.informative_features)
    assert b.oracle_proba.shape == (2000,)
    assert np.all((b.oracle_proba > 0) & (b.oracle_proba < 1))
    # redundant categorical copies carry exactly the same partition of the rows
    for copy, orig in b.redundant_features.items():
        if copy in b.categorical_features:
            pairs = pd.crosstab(b.frame[copy], b.frame[orig]).to_numpy()
            assert ((pairs > 0).sum(axis=1) <= 1).all()


def test_make_ctr_reproducible_and_outputs():
    a = make_ctr(n_samples=500, n_categorical=3, n_numeric=2, random_state=3,
                 interactions=[("C1", "C2"), ("C3", "I1")])
    b = make_ctr(n_samples=500, n_categorical=3, n_numeric=2, random_state=3,
                 interactions=[("C1", "C2"), ("C3", "I1")])
    pd.testing.assert_frame_equal(a.frame, b.frame)
    X, y = make_ctr(n_samples=500, n_categorical=3, n_numeric=2, random_state=3,
                    interactions=[("C1", "C2"), ("C3", "I1")], as_frame=False, return_X_y=True)
    assert X.shape == (500, 5) and X.dtype == np.float64
    np.testing.assert_array_equal(y, a.target.to_numpy())
    pl = pytest.importorskip("polars")
    p = make_ctr(n_samples=500, n_categorical=3, n_numeric=2, random_state=3,
                 interactions=[("C1", "C2"), ("C3", "I1")], as_frame="polars")
    assert isinstance(p.frame, pl.DataFrame) and p.frame.schema["C1"] == pl.Categorical
    with pytest.raises(ValueError):
        make_ctr(n_samples=10, n_categorical=2, n_numeric=1, interactions=[("C1", "Z9")])


def test_make_ctr_zipf_and_heavy_tails():
    b = make_ctr(n_samples=50_000, n_categorical=1, n_numeric=1, cardinality=1000,
                 interactions=0, random_state=0)
    counts = b.frame["C1"].value_counts().sort_index().to_numpy()
    assert counts[0] > counts[1] > counts[9] > counts[99]  # Zipf: frequency falls with rank
    x = b.frame["I1"]
    assert x.min() >= 0 and x.max() > 20 * x.median()  # heavy right tail


def test_make_ctr_planted_interaction_is_recoverable():
    lgb = pytest.importorskip("lightgbm")
    b = make_ctr(n_samples=40_000, n_categorical=8, n_numeric=4, cardinality=(5, 30),
                 interactions=[("C1", "C2"), ("C3", "I1")], n_noise=2, noise=0.0,
                 base_rate=0.3, random_state=0)
    X, y = b.data, b.target.to_numpy()
    tr, te = np.arange(0, 20_000), np.arange(20_000, 40_000)
    oracle = roc_auc_score(y[te], b.oracle_proba[te])

    def auc(cols):
        m = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15,
                               verbose=-1, n_jobs=1)
        m.fit(X.iloc[tr][cols], y[tr])
        return roc_auc_score(y[te], m.predict_proba(X.iloc[te][cols])[:, 1])

    assert oracle > 0.8
    assert auc(b.informative_features) > oracle - 0.03
    assert abs(auc(b.noise_features) - 0.5) < 0.03
    # pure interaction: one field of the categorical pair alone carries no signal
    assert abs(auc(["C1"]) - 0.5) < 0.03


def test_make_rules_program_reproduces_labels():
    b = make_rules(n_samples=3000, n_rules=3, random_state=0)
    assert b.frame.shape == (3000, 7 + 4 + 1)
    np.testing.assert_array_equal(apply_rules(b.program, b.frame), b.target.to_numpy())
    lines = b.rules.splitlines()
    assert len(lines) == 5 and all(line.endswith(".") for line in lines)
    assert lines[0].startswith("label(X) :- age <= ") and "not ab1(X)" in lines[0]
    assert any(line.startswith("ab1(X) :- score > ") for line in lines)
    for col, t in b.thresholds.items():
        assert t % 10 == 0 and 20 <= t <= 80
        assert f"{col} " in b.rules and str(t) in b.rules
    assert isinstance(b.frame["color"].dtype, pd.CategoricalDtype)
    assert b.frame["age"].dtype == np.int64
    assert 0.05 < b.target.mean() < 0.95
    assert set(b.relevant_features) == {"age", "color", "income", "shape", "score", "hours",
                                        "size"}


def test_make_rules_noise_and_outputs():
    clean = make_rules(n_samples=2000, random_state=1)
    noisy = make_rules(n_samples=2000, noise=0.1, random_state=1)
    flipped = (apply_rules(noisy.program, noisy.frame) != noisy.target.to_numpy()).mean()
    assert 0.05 < flipped < 0.15
    pl = pytest.importorskip("polars")
    p = make_rules(n_samples=300, as_frame="polars", random_state=1)
    assert isinstance(p.frame, pl.DataFrame)
    np.testing.assert_array_equal(apply_rules(p.program, p.frame), p.target.to_numpy())
    X, y = make_rules(n_samples=300, as_frame=False, return_X_y=True, random_state=1)
    assert X.shape == (300, 11) and y.shape == (300,)
    assert clean.rules != "" and "Planted program" in clean.DESCR
