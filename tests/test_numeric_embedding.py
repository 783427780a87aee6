import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from tabnn import TabularEncoder
from tabnn.estimators._registry import all_estimators
from tabnn.estimators.fcn import FCNClassifier
from tabnn.nn import FieldEmbedding
from tabnn.encoding import MAX_DISCRETE_VALUES
from tabnn.nn.numeric_embedding import (
    LinearNumericEmbedding,
    Periodic,
    PeriodicEmbedding,
    PiecewiseLinear,
    PiecewiseLinearEmbedding,
    ValueVectorEmbedding,
    WithValues,
    build_numeric_embedding,
    scaled_bin_edges,
    scaled_values,
)

KINDS = ["linear", "piecewise", "periodic", "values"]


@pytest.fixture(scope="module")
def sine_data():
    """y depends on sin(2a) of one uniform column alone (non-monotone: two bumps and a dip),
    plus a noise column with missing values and a categorical noise column."""
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame({"a": rng.uniform(-3, 3, n), "b": rng.normal(size=n),
                      "c": rng.choice(list("xyz"), n)})
    X.loc[rng.random(n) < 0.05, "b"] = np.nan
    y = (rng.random(n) < 1 / (1 + np.exp(-3 * np.sin(2 * X["a"])))).astype(int)
    return X.iloc[:3000], y[:3000], X.iloc[3000:], y[3000:]


@pytest.fixture(scope="module")
def sine_auc(sine_data):
    X, y, Xt, yt = sine_data
    out = {}
    for kind in KINDS:
        clf = FCNClassifier(numeric_embedding=kind, ecn_layers=1, lcn_layers=1,
                            random_state=0).fit(X, y)
        out[kind] = roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])
    return out


@pytest.mark.parametrize("kind", ["piecewise", "periodic"])
def test_learns_a_planted_sine_the_linear_embedding_cannot(sine_auc, kind):
    # the Bayes AUC is about 0.91; a linear embedding of ``a`` leaves the model with a nearly
    # monotone function of ``a``, which cannot follow sin(2a) over three half-periods
    assert sine_auc[kind] > 0.85, sine_auc
    assert sine_auc[kind] > sine_auc["linear"] + 0.1, sine_auc


def test_piecewise_is_continuous_and_piecewise_linear_with_knots_at_the_edges():
    edges = [np.array([-1.0, 0.0, 2.0]), np.array([0.5])]
    emb = PiecewiseLinearEmbedding(edges, dim=3).double()
    x = torch.linspace(-3, 4, 701, dtype=torch.float64)
    numeric = torch.stack([x, x], dim=1)
    out = emb(numeric, torch.zeros_like(numeric))
    assert out.shape == (701, 2, 3)
    # continuous: neighbouring values give neighbouring vectors
    assert (out[1:] - out[:-1]).abs().max() < 0.1 * (out.max() - out.min())
    # linear between knots: the second difference vanishes away from the edges
    second = (out[2:] - 2 * out[1:-1] + out[:-2]).abs().amax(dim=-1)
    xs = x[1:-1]
    for field, e in enumerate(edges):
        near = (xs[:, None] - torch.as_tensor(e)[None, :]).abs().min(dim=1).values < 0.011
        assert second[~near, field].max() < 1e-10
        assert second[near, field].max() > 1e-6  # and bends at the knots
    # the second field has one edge: its padded ramps stay zero
    comps = emb.components(numeric)
    assert comps.shape[-1] == emb.n_components == 4
    assert torch.all(comps[:, 1, 1:3] == 0)


def test_missing_values_get_their_own_vector():
    for emb in (LinearNumericEmbedding(2, 4), PiecewiseLinearEmbedding([[0.0, 1.0], [0.0]], 4),
                PeriodicEmbedding(2, 4)):
        numeric = torch.tensor([[0.3, 5.0], [-2.0, 0.0]])
        missing = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
        out = emb(numeric, missing)
        assert torch.equal(out[0, 1], emb.missing[1]) and torch.equal(out[1, 1], emb.missing[1])
        assert not torch.equal(out[0, 0], emb.missing[0])


def test_bin_edges_follow_the_encoder_scaling():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"skewed": rng.lognormal(size=2000), "binary": rng.integers(0, 2, 2000)})
    X.loc[:9, "skewed"] = np.nan
    for scaling in ("quantile", "robust", "standard", "minmax", None):
        enc = TabularEncoder(numeric_scaling=scaling, n_bins=8).fit(X)
        encoded = enc.encode(X)
        edges = scaled_bin_edges(enc, encoded.numeric_fields)
        for k, field in enumerate(encoded.numeric_fields):
            # the raw values of each quantile bin land between the scaled edges of that bin
            raw_bin = np.searchsorted(field.bin_edges, encoded.raw[:, k], side="right")
            # (the module compares in float32, as the encoded values are stored)
            scaled_bin = np.searchsorted(edges[k].astype(np.float32), encoded.numeric[:, k],
                                         side="right")
            ok = ~encoded.numeric_missing[:, k]
            assert np.all(np.diff(edges[k]) > 0)
            assert np.mean(raw_bin[ok] == scaled_bin[ok]) > 0.99, (scaling, field.name)
        assert edges[1].size <= 2  # a binary column has at most two distinct edges


def test_every_neural_model_takes_every_numeric_embedding(sine_data):
    X, y = sine_data[0].iloc[:300], sine_data[1][:300]
    classifiers = dict(all_estimators("classifier"))
    for name, cls in all_estimators("neural"):
        if name not in classifiers:
            continue
        for kind in [*KINDS, Periodic(n_frequencies=4, frequency_scale=0.3)]:
            clf = cls(numeric_embedding=kind, max_epochs=1, random_state=0).fit(X, y)
            # the numeric module every embedding of the network hands its fields to
            numeric = [m.numeric for m in clf.module_.modules()
                       if isinstance(getattr(m, "numeric", None), torch.nn.Module)]
            expected = build_numeric_embedding(kind, [np.zeros(1)] * 2, 2)
            assert numeric and all(type(m) is type(expected) for m in numeric), name
            assert clf.predict_proba(X).shape == (300, 2)


def test_specification_objects_clone_and_compare():
    clf = FCNClassifier(numeric_embedding=Periodic(frequency_scale=0.3))
    assert clone(clf).numeric_embedding == Periodic(frequency_scale=0.3)
    assert "frequency_scale=0.3" in repr(clf)
    assert PiecewiseLinear() == PiecewiseLinear()


def test_reproducible_with_random_state(sine_data):
    X, y, Xt, _ = sine_data
    X, y = X.iloc[:500], y[:500]
    for kind in ["piecewise", "periodic"]:
        a = FCNClassifier(numeric_embedding=kind, max_epochs=2, random_state=3).fit(X, y)
        b = FCNClassifier(numeric_embedding=kind, max_epochs=2, random_state=3).fit(X, y)
        np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))


@pytest.mark.parametrize("bad, match", [
    (lambda: PiecewiseLinearEmbedding([[]], 4), "at least one finite edge"),
    (lambda: PiecewiseLinearEmbedding([[0.0, np.nan]], 4), "at least one finite edge"),
    (lambda: PeriodicEmbedding(2, 4, n_frequencies=0), "n_frequencies must be >= 1"),
    (lambda: PeriodicEmbedding(2, 4, frequency_scale=0.0), "frequency_scale > 0"),
    (lambda: LinearNumericEmbedding(2, 0), "dim >= 1"),
    (lambda: FieldEmbedding([3], 2, 4, numeric=lambda d: LinearNumericEmbedding(1, d)),
     "numeric embedding has 1 fields"),
])
def test_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_unknown_name_is_rejected_with_the_parameter_named(sine_data):
    X, y = sine_data[0].iloc[:100], sine_data[1][:100]
    with pytest.raises(ValueError, match="numeric_embedding"):
        FCNClassifier(numeric_embedding="spline").fit(X, y)


@pytest.fixture(scope="module")
def amount_data():
    """A zero-inflated amount (0 in 70 % of the rows, else one of 40 levels) whose levels act
    through a random effect each (no order to exploit), plus a continuous noise column."""
    rng = np.random.default_rng(1)
    n = 6000
    effect = rng.choice([-3.0, 3.0], 40)
    level = rng.integers(0, 40, n)
    zero = rng.random(n) < 0.7
    X = pd.DataFrame({"amount": np.where(zero, 0.0, 100.0 * (level + 1)),
                      "noise": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.03, "amount"] = np.nan
    logit = np.where(zero | X["amount"].isna(), 0.0, effect[level])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X.iloc[:4500], y[:4500], X.iloc[4500:], y[4500:]


def test_value_vectors_learn_level_effects_of_an_amount_the_linear_embedding_cannot(
        amount_data):
    X, y, Xt, yt = amount_data
    auc = {}
    for kind in ["linear", "values"]:
        clf = FCNClassifier(numeric_embedding=kind, ecn_layers=1, lcn_layers=1,
                            random_state=0).fit(X, y)
        auc[kind] = roc_auc_score(yt, clf.predict_proba(Xt)[:, 1])
    # the true logits score 0.731 on these test rows; a scaled vector gives a smooth
    # function of the amount, which cannot follow 40 independent signs
    assert auc["values"] > 0.71, auc
    assert auc["values"] > auc["linear"] + 0.1, auc
    specs = clf.encoder_.schema_
    assert specs[0].values.tolist() == [0.0, *(100.0 * k for k in range(1, 41))]
    assert specs[1].values is None  # continuous: 4500 distinct values
    assert clf.module_.embedding.numeric.counts.tolist() == [41, 0]


def test_only_columns_with_a_dominant_value_get_value_vectors_by_default():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(20, 60, 2000) * 1.0,  # 40 even levels
                      "gain": np.where(rng.random(2000) < 0.8, 0.0, rng.integers(1, 5, 2000))})
    y = rng.integers(0, 2, 2000)
    for spec, counts in [("values", [0, 5]), (WithValues(min_mode_share=0.0), [40, 5])]:
        clf = FCNClassifier(numeric_embedding=spec, max_epochs=1, random_state=0).fit(X, y)
        assert clf.module_.embedding.numeric.counts.tolist() == counts


def test_kept_values_follow_min_frequency_weights_and_the_distinct_limit():
    X = pd.DataFrame({"a": [0.0] * 30 + [5.0] * 12 + [7.0] * 3 + [np.nan] * 5,
                      "many": np.arange(50) % (MAX_DISCRETE_VALUES + 1) * 1.0})
    enc = TabularEncoder(min_frequency=10).fit(X)
    assert enc.schema_[0].values.tolist() == [0.0, 5.0]  # 7 is seen 3 times
    np.testing.assert_allclose(enc.schema_[0].value_shares, [30 / 45, 12 / 45])
    # weights count as at fit: 12 rows of weight 0.5 weigh 6 < 10
    w = np.r_[np.ones(30), np.full(12, 0.5), np.ones(8)]
    assert TabularEncoder(min_frequency=10).fit(X, sample_weight=w).schema_[0].values.tolist() \
        == [0.0]
    wide = pd.DataFrame({"x": np.arange(10 * (MAX_DISCRETE_VALUES + 1)) % (
        MAX_DISCRETE_VALUES + 1) * 1.0})
    assert TabularEncoder(min_frequency=1).fit(wide).schema_[0].values is None
    narrow = pd.DataFrame({"x": np.arange(10 * MAX_DISCRETE_VALUES) % MAX_DISCRETE_VALUES})
    assert TabularEncoder(min_frequency=10).fit(narrow).schema_[0].values.size == \
        MAX_DISCRETE_VALUES
    assert TabularEncoder().fit(pd.DataFrame({"x": [np.nan] * 4})).schema_[0].values is None


def test_value_vectors_apply_to_kept_present_values_only():
    enc = TabularEncoder(min_frequency=2).fit(
        pd.DataFrame({"x": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0]}))
    encoded = enc.encode(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan]}))
    values = scaled_values(enc, encoded.numeric_fields)
    emb = WithValues(min_mode_share=0.0).build(scaled_bin_edges(enc, encoded.numeric_fields), 3,
                                               values=values)
    assert isinstance(emb, ValueVectorEmbedding) and emb.embedding_tables()[0].shape == (3, 3)
    numeric = torch.as_tensor(encoded.numeric)
    missing = torch.as_tensor(encoded.numeric_missing, dtype=torch.float32)
    out, base = emb(numeric, missing), emb.base(numeric, missing)
    for row in range(3):
        torch.testing.assert_close(out[row, 0], base[row, 0] + emb.table[row])
    # a rare value (4, seen once), an unseen one (5) and a missing one: the base alone
    torch.testing.assert_close(out[3:], base[3:])
    assert torch.equal(out[5, 0], emb.base.missing[0])
    # a column of two values gets none: a line through two points gives each its own vector
    two = TabularEncoder(min_frequency=1).fit(pd.DataFrame({"x": [0.0, 0.0, 1.0]}))
    field = two.encode(pd.DataFrame({"x": [0.0]})).numeric_fields
    plain = WithValues(min_mode_share=0.0).build(scaled_bin_edges(two, field), 3,
                                                 values=scaled_values(two, field))
    assert isinstance(plain, LinearNumericEmbedding)
    # the value vectors are embedding tables (under embedding_l2), of every embedding
    clf = FCNClassifier(numeric_embedding="values", max_epochs=1, random_state=0)
    clf.fit(pd.DataFrame({"x": [1.0, 2.0, 2.0, 2.0, 3.0] * 20, "c": list("abcde") * 20}),
            [0, 1, 1, 0, 1] * 20)
    assert any(t is clf.module_.embedding.numeric.table
               for t in clf.module_.embedding.embedding_tables())


def test_a_value_next_to_a_kept_one_does_not_borrow_its_vector():
    # unscaled amounts: 99,998 (rare) sits next to the kept 99,999 and must not match it
    X = pd.DataFrame({"x": [0.0] * 10 + [5.0] * 3 + [99_999.0] * 3 + [99_998.0]})
    enc = TabularEncoder(min_frequency=2, numeric_scaling=None).fit(X)
    encoded = enc.encode(pd.DataFrame({"x": [99_999.0, 99_998.0, 99_999.5]}))
    emb = WithValues().build(scaled_bin_edges(enc, encoded.numeric_fields), 2,
                             values=scaled_values(enc, encoded.numeric_fields))
    _, match = emb.value_index(torch.as_tensor(encoded.numeric))
    assert match[:, 0].tolist() == [True, False, False]
