"""Unified Embedding (feature multiplexing) and per-field hashing of raw values
(``tabnn.nn.hashed_embedding``): the hash, the layers, the encoder's hash mode, the estimators'
``embedding="unified"`` / ``"hashed"`` and ``n_embedding_params_``."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_common import small_configuration

from tabnn import FCNClassifier, HashedEmbedding, TabularEncoder, UnifiedEmbedding
from tabnn._params import InvalidParameterError
from tabnn.encoding import stable_hash
from tabnn.estimators import all_estimators
from tabnn.nn.embedding import FieldEmbedding
from tabnn.nn.hashed_embedding import (
    HashedEmbeddingLayer,
    UnifiedEmbeddingLayer,
    mix64,
    unsigned_mod,
)

NEURAL = dict(all_estimators("neural"))


def _hashes(n_rows, n_fields, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.integers(1, 2**63, size=(n_rows, n_fields), dtype=np.uint64) * np.uint64(2)
    h += rng.integers(0, 2, size=(n_rows, n_fields), dtype=np.uint64)
    return torch.as_tensor(h.view(np.int64))


def _mix64_numpy(x):
    z = x.copy()
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# -- acceptance 1: scikit-learn's checks with embedding="unified" ----------------------------
def _unified_instances():
    return [cls().set_params(**small_configuration(name, cls), embedding="unified")
            for name, cls in NEURAL.items()]


@parametrize_with_checks(_unified_instances())
def test_sklearn_compatible_unified(estimator, check):
    check(estimator)


# -- the hash ---------------------------------------------------------------------------------
def test_mix64_and_unsigned_mod_match_unsigned_64_bit_arithmetic():
    h = _hashes(2000, 1).reshape(-1)
    expected = _mix64_numpy(h.numpy().view(np.uint64))
    got = mix64(h).numpy().view(np.uint64)
    np.testing.assert_array_equal(got, expected)
    for n in (1, 7, 1000, 2**40 + 3):
        np.testing.assert_array_equal(unsigned_mod(h, n).numpy(),
                                      (h.numpy().view(np.uint64) % np.uint64(n)).astype(np.int64))
    n = torch.tensor([7, 1000], dtype=torch.int64)
    h2 = h.reshape(-1, 2)
    np.testing.assert_array_equal(
        unsigned_mod(h2, n).numpy(),
        (h2.numpy().view(np.uint64) % n.numpy().astype(np.uint64)).astype(np.int64))


def test_rows_are_uniform_and_independent_across_fields_and_probes():
    layer = UnifiedEmbeddingLayer([10, 10], 0, 8, table_size=64, n_probes=2)
    same = _hashes(20000, 1).expand(-1, 2)  # the same raw value in both fields
    rows = layer.rows(same)  # [B, field, probe]
    counts = np.bincount(rows[:, 0, 0].numpy(), minlength=64)
    expected = len(same) / 64
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 120  # 63 degrees of freedom; p < 1e-5 above this
    # two fields, or two probes, put the same value on the same row with chance ~1/64
    for a, b in [((0, 0), (1, 0)), ((0, 0), (0, 1)), ((0, 1), (1, 1))]:
        agree = (rows[:, a[0], a[1]] == rows[:, b[0], b[1]]).float().mean().item()
        assert agree < 0.03, (a, b, agree)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_rows_are_the_same_on_cpu_and_cuda():
    layer = UnifiedEmbeddingLayer([10, 10, 10], 0, 8, table_size=997, n_probes=4)
    hashes = _hashes(5000, 3)
    rows = layer.rows(hashes)
    torch.testing.assert_close(layer.to("cuda").rows(hashes.to("cuda")).cpu(), rows)


# -- acceptance 2: equal value strings of two fields get different rows -----------------------
def test_same_value_in_two_fields_gets_different_rows_and_vectors():
    X = pd.DataFrame({"a": [f"v{i}" for i in range(200)], "b": [f"v{i}" for i in range(200)]})
    encoded = TabularEncoder(value_hashes=True).fit(X).encode(X)
    np.testing.assert_array_equal(encoded.value_hashes[:, 0], encoded.value_hashes[:, 1])
    hashes = torch.as_tensor(encoded.value_hashes.view(np.int64))
    layer = UnifiedEmbeddingLayer([202, 202], 0, 8, table_size=4096, n_probes=2)
    rows = layer.rows(hashes)
    assert (rows[:, 0] == rows[:, 1]).all(-1).float().mean() == 0
    assert (rows[:, 0] == rows[:, 1]).float().mean() < 0.01
    out = layer(hashes, torch.zeros(200, 0), torch.zeros(200, 0))
    assert not torch.isclose(out[:, 0], out[:, 1]).all(-1).any()
    hashed = HashedEmbeddingLayer([202, 202], 0, 8, table_size=4096)
    assert (hashed.rows(hashes)[:, 0] != hashed.rows(hashes)[:, 1]).all()


def test_learns_planted_interaction_of_two_fields_sharing_their_value_strings(xor_data,
                                                                              linear_auc):
    X, y, Xt, yt, data = xor_data
    # C1 and C2 both take the values "0" .. "7": without the field in the salt they would share
    # rows, and the XOR of their groups could not be read off the two field vectors
    assert set(X["C1"].astype(str)) == set(X["C2"].astype(str))
    model = FCNClassifier(embedding=UnifiedEmbedding(table_size=32, n_probes=2),
                          embedding_dim=8, max_epochs=15, random_state=0).fit(X, y)
    auc = roc_auc_score(yt, model.predict_proba(Xt)[:, 1])
    auc_linear = linear_auc(X, y, Xt, yt, ["C1", "C2"])
    assert auc_linear < 0.6
    assert auc > roc_auc_score(yt, data.oracle_proba[len(y):]) - 0.01
    # 32 shared rows for 4 fields x 8 values: fewer parameters than per-field tables
    field = FCNClassifier(embedding_dim=8, max_epochs=1, random_state=0).fit(X, y)
    assert model.n_embedding_params_ < field.n_embedding_params_


# -- the layers -------------------------------------------------------------------------------
def test_unified_output_is_concatenated_probes_and_gradient_reaches_only_looked_up_rows():
    layer = UnifiedEmbeddingLayer([5, 5, 5], 2, 12, table_size=50, n_probes=3)
    hashes = _hashes(4, 3)
    hashes[0, 1] = 0  # missing
    numeric = torch.randn(4, 2)
    out = layer(hashes, numeric, torch.zeros(4, 2))
    assert out.shape == (4, 5, 12)
    rows = layer.rows(hashes)
    torch.testing.assert_close(out[2, 1], layer.table[rows[2, 1]].reshape(-1))
    torch.testing.assert_close(out[0, 1], layer.missing[1])
    out[:, :3].sum().backward()
    used = torch.zeros(50, dtype=torch.bool)
    present = (hashes != 0).unsqueeze(-1).expand_as(rows)
    used[rows[present]] = True
    touched = layer.table.grad.abs().sum(1) > 0
    assert torch.equal(touched, used)
    assert layer.missing.grad[1].abs().sum() > 0 and layer.missing.grad[0].abs().sum() == 0


def test_parameter_counts_follow_the_budget():
    unified = UnifiedEmbeddingLayer([10, 30], 3, 16, table_size=100, n_probes=4)
    assert unified.table.shape == (100, 4)
    numeric = sum(p.numel() for p in unified.numeric.parameters())
    assert sum(p.numel() for p in unified.parameters()) == 100 * 4 + 2 * 16 + numeric
    default = UnifiedEmbeddingLayer([10, 30], 0, 16, n_probes=4)
    field = FieldEmbedding([10, 30], 0, 16)
    assert default.table.numel() == field.table.weight.numel()
    hashed = HashedEmbeddingLayer([10, 30], 0, 16, table_size=20)
    assert hashed.field_rows == [5, 15] and hashed.table.shape == (20, 16)
    with pytest.raises(ValueError, match="multiple of n_probes"):
        UnifiedEmbeddingLayer([10], 0, 6, n_probes=4)


@pytest.mark.parametrize("min_frequency", [1, 7])  # 7: about half of column a's values pool
def test_value_ids_are_the_encoders_codes_plus_field_offsets(min_frequency):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.choice([f"x{i}" for i in range(50)], 300),
                      "b": rng.choice(["p", "q", None], 300)})
    enc = TabularEncoder(value_hashes=True, min_frequency=min_frequency).fit(X)
    encoded = enc.encode(X)
    cards = [f.n_codes for f in encoded.categorical_fields]
    layer = UnifiedEmbeddingLayer(cards, 0, 4)
    ids = layer.value_ids(torch.as_tensor(encoded.value_hashes.view(np.int64))).numpy()
    np.testing.assert_array_equal(ids, encoded.codes + np.array([0, cards[0]]))
    assert ids.max() < layer.n_values
    assert (encoded.codes[:, 0] == 1).any() == (min_frequency > 1)  # rare values: code 1


# -- the encoder's hash mode --------------------------------------------------------------------
def test_encoder_passes_raw_value_hashes_through():
    X = pd.DataFrame({"c": ["a", "b", None, "a"], "x": [1.0, 2.0, 3.0, np.nan]})
    enc = TabularEncoder(value_hashes=True).fit(X)
    assert enc.schema_[0].hashed and enc.schema_[0].categories is None  # no vocabulary
    out = enc.encode(pd.DataFrame({"c": ["a", "new", None, "other"], "x": [1.0] * 4}))
    h = out.value_hashes[:, 0]
    assert h.dtype == np.uint64
    assert h[0] == stable_hash(["a"])[0] and h[2] == 0
    assert len({h[0], h[1], h[3]}) == 3 and 0 not in (h[1], h[3])  # unseen: own hashes
    assert out.codes[2, 0] == 0
    assert TabularEncoder().fit(X).encode(X).value_hashes is None


def test_rare_and_unseen_values_pool_under_min_frequency():
    X = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 5 + ["once"], "x": np.arange(11.0)})
    Xt = pd.DataFrame({"c": ["a", "b", "once", "new", None], "x": [1.0] * 5})
    pooled = TabularEncoder(value_hashes=True, min_frequency=3).fit(X).encode(Xt)
    h, codes = pooled.value_hashes[:, 0], pooled.codes[:, 0]
    assert h[0] == stable_hash(["a"])[0] and h[1] == stable_hash(["b"])[0]
    assert h[2] == h[3] and h[2] not in (0, h[0], h[1])  # rare and unseen share one hash
    assert codes[2] == codes[3] == 1 and codes[4] == 0 and min(codes[:2]) >= 2
    own = TabularEncoder(value_hashes=True, min_frequency=1).fit(X).encode(Xt).value_hashes
    assert len(set(own[:4, 0])) == 4  # min_frequency=1: every value keeps its own hash


def test_unseen_values_get_their_own_vectors_not_the_unknown_one():
    X = pd.DataFrame({"c": list("abcd") * 10, "x": np.arange(40.0)})
    y = np.arange(40) % 2
    Xt = pd.DataFrame({"c": ["new1", "new2"], "x": [1.0, 1.0]})
    unified = FCNClassifier(embedding="unified", max_epochs=2, min_frequency=1,
                            random_state=0).fit(X, y)
    p = unified.predict_proba(Xt)[:, 1]
    assert abs(p[0] - p[1]) > 1e-5
    field = FCNClassifier(max_epochs=2, min_frequency=1, random_state=0).fit(X, y)
    p = field.predict_proba(Xt)[:, 1]
    assert abs(p[0] - p[1]) < 1e-7  # both are "unknown" to a vocabulary


# -- estimators ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(NEURAL))
@pytest.mark.parametrize("embedding", ["unified", "hashed", "field"])
def test_every_neural_estimator_reports_its_embedding_parameters(name, embedding, xor_data):
    X, y, Xt, _, _ = xor_data
    X, y = X.iloc[:300], (y[:300] if "Classifier" in name else X["I1"].iloc[:300].to_numpy())
    params = {**small_configuration(name, NEURAL[name]), "max_epochs": 1,
              "embedding": embedding}
    model = NEURAL[name]().set_params(**params).fit(X, y)
    embedding_module = model.module_.embedding
    assert model.n_embedding_params_ == sum(p.numel() for p in embedding_module.parameters())
    assert embedding_module.uses_value_hashes == (embedding != "field")
    assert np.isfinite(model.predict(Xt.iloc[:50]).astype(float)).all()


def test_specifications_are_grid_searchable_values(xor_data):
    spec = UnifiedEmbedding(table_size=64, n_probes=4)
    assert spec.get_params() == {"table_size": 64, "n_probes": 4}
    assert repr(spec) == "UnifiedEmbedding(table_size=64, n_probes=4)"
    assert spec == UnifiedEmbedding(table_size=64, n_probes=4) != UnifiedEmbedding()
    assert UnifiedEmbedding() != HashedEmbedding()
    model = FCNClassifier(embedding=spec)
    assert clone(model).get_params()["embedding"] == spec
    X, y = xor_data[0].iloc[:400], xor_data[1][:400]
    grid = GridSearchCV(
        FCNClassifier(embedding_dim=4, max_epochs=1, random_state=0),
        {"embedding": [HashedEmbedding(table_size=16), UnifiedEmbedding(table_size=16)]},
        cv=2).fit(X, y)
    assert grid.best_params_["embedding"] in (HashedEmbedding(table_size=16),
                                              UnifiedEmbedding(table_size=16))
    sizes = [clone(grid.estimator).set_params(**p).fit(X, y).n_embedding_params_
             for p in grid.cv_results_["params"]]
    assert sizes[0] != sizes[1]  # 16 rows of width 4 vs 16 rows of width 2


def test_nested_grid_search_and_saving_keep_the_hashes(tmp_path, xor_data):
    from tabnn.persistence import load, save

    X, y, Xt, _, _ = xor_data
    X, y = X.iloc[:400], y[:400]
    base = FCNClassifier(embedding=UnifiedEmbedding(table_size=16), embedding_dim=4,
                         max_epochs=1, random_state=0)
    grid = GridSearchCV(base, {"embedding__table_size": [8, 32]}, cv=2).fit(X, y)
    assert grid.best_estimator_.embedding.table_size in (8, 32)
    assert base.embedding.table_size == 16  # the grid worked on clones
    model = grid.best_estimator_
    expected = model.predict_proba(Xt)
    save(model, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert loaded.embedding == model.embedding
    np.testing.assert_allclose(loaded.predict_proba(Xt), expected, rtol=0, atol=1e-7)


def test_fit_from_parquet_streams_the_hashes(tmp_path, xor_data):
    import polars as pl

    X, y, Xt, yt, _ = xor_data
    frame = pl.from_pandas(X.astype({c: str for c in ["C1", "C2", "C3", "C4"]}))
    frame = frame.with_columns(click=pl.Series(y))
    paths = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    frame[:3000].write_parquet(paths[0], row_group_size=1500)
    frame[3000:].write_parquet(paths[1], row_group_size=1500)
    params = dict(embedding="unified", embedding_dim=8, max_epochs=3, random_state=0)
    streamed = FCNClassifier(**params).fit(paths, "click")
    assert streamed.encoder_.value_hashes
    Xt = Xt.astype({c: str for c in ["C1", "C2", "C3", "C4"]})
    auc = roc_auc_score(yt, streamed.predict_proba(Xt)[:, 1])
    memory = FCNClassifier(**params).fit(frame.drop("click"), y)
    assert streamed.n_embedding_params_ == memory.n_embedding_params_
    assert auc > roc_auc_score(yt, memory.predict_proba(Xt)[:, 1]) - 0.02


def test_bad_specification_values_are_named():
    X, y = pd.DataFrame({"c": list("ab") * 10}), np.arange(20) % 2
    with pytest.raises(InvalidParameterError, match="'table_size' parameter of UnifiedEmbedding"):
        FCNClassifier(embedding=UnifiedEmbedding(table_size=0)).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'n_probes' parameter of UnifiedEmbedding"):
        FCNClassifier(embedding=UnifiedEmbedding(n_probes=1.5)).fit(X, y)
    with pytest.raises(ValueError, match="multiple of n_probes"):
        FCNClassifier(embedding=UnifiedEmbedding(n_probes=3), embedding_dim=8).fit(X, y)
