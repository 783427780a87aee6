"""Out-of-core training and prediction from parquet files and polars LazyFrames."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
import torch
from sklearn.metrics import roc_auc_score

from tabnn import FCNClassifier, FCNRegressor, TabularEncoder
from tabnn.streaming import (
    _Chunks,
    _holdout_mask,
    _holdout_rows,
    _Reader,
    _Streamed,
    fit_encoder,
    is_lazy_source,
    predict_parquet,
)
from tabnn.training import SingleDevice


def _frame(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.choice(["x", "y", "z", "rare"], size=n, p=[0.5, 0.3, 0.1995, 0.0005])
    b = rng.integers(0, 6, size=n).astype(str).astype(object)
    b[rng.random(n) < 0.05] = None
    u = rng.lognormal(size=n).round(1)
    u[rng.random(n) < 0.1] = np.nan
    v = rng.normal(size=n)
    # the planted effect: an XOR of a and b, no main effects
    logit = 3.0 * np.where(np.isin(a, ["x"]), 1, -1) * np.where(np.isin(b, ["0", "1", "2"]),
                                                                  1, -1)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pl.DataFrame({"a": a, "b": b, "u": u, "v": v, "click": y})


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    """A 4000-row table written as two files of two row groups each, and the frame."""
    df = _frame()
    root = tmp_path_factory.mktemp("stream")
    paths = [str(root / "part0.parquet"), str(root / "part1.parquet")]
    df[:2500].write_parquet(paths[0], row_group_size=1250)
    df[2500:].write_parquet(paths[1], row_group_size=1000)
    return paths, df


@pytest.fixture
def validation(tmp_path):
    """A 1000-row validation table written to parquet, and the frame."""
    val = _frame(1000, seed=2)
    path = str(tmp_path / "val.parquet")
    val.write_parquet(path)
    return val, path


def _model(cls=FCNClassifier, **kw):
    params = dict(ecn_layers=1, lcn_layers=1, embedding_dim=4, max_epochs=4, batch_size=128,
                  learning_rate=1e-2, random_state=0, min_frequency=3)
    return cls(**{**params, **kw})


def test_lazy_sources_are_recognised():
    assert is_lazy_source("a.parquet") and is_lazy_source(["a.parquet", "b.parquet"])
    assert is_lazy_source(pl.LazyFrame({"a": [1]}))
    assert not is_lazy_source(pl.DataFrame({"a": [1]})) and not is_lazy_source([[1, 2]])


def test_chunks_are_the_row_groups_of_every_file(parquet):
    paths, df = parquet
    chunks = _Chunks(paths, ["a", "u"])
    assert [p[:2] for p in chunks.parts] == [(0, 1250), (1250, 1250), (2500, 1000),
                                             (3500, 500)]
    offset, frame = chunks.read(2)
    assert offset == 2500 and frame.equals(df[2500:3500].select("a", "u"))
    sliced = _Chunks(pl.scan_parquet(paths), ["v"], chunk_rows=1500)
    assert [p[:2] for p in sliced.parts] == [(0, 1500), (1500, 1500), (3000, 1000)]
    assert sliced.read(1)[1].equals(df[1500:3000].select("v"))


def _assert_same_encoder(streamed, memory):
    for s, m in zip(streamed.schema_, memory.schema_):
        assert (s.name, s.role, s.n_codes, s.has_missing) == (m.name, m.role, m.n_codes,
                                                             m.has_missing)
        if s.role == "categorical":
            assert list(s.categories) == list(m.categories)
            np.testing.assert_array_equal(s.counts, m.counts)
        else:
            np.testing.assert_array_equal(s.scaling["quantiles"], m.scaling["quantiles"])
            np.testing.assert_array_equal(s.bin_edges, m.bin_edges)
            assert (s.values is None) == (m.values is None)
            if s.values is not None:
                np.testing.assert_array_equal(s.values, m.values)


def test_streamed_encoder_equals_in_memory_fit_on_the_same_rows(parquet):
    paths, df = parquet
    seed, fraction = 7, 0.25
    keep = ~_holdout_mask(np.arange(df.height), seed, fraction)
    features = ["a", "b", "u", "v"]
    params = dict(min_frequency=3, numeric_scaling="quantile")
    # slices of 700 rows: value counts are summed over chunks that split the row groups
    streamed = fit_encoder(TabularEncoder(**params), pl.scan_parquet(paths), features,
                           lambda rows: ~_holdout_mask(rows, seed, fraction), chunk_rows=700)
    memory = TabularEncoder(**params).fit(df.filter(pl.Series(keep)).select(features))
    _assert_same_encoder(streamed, memory)
    assert "rare" not in streamed.schema_[0].categories  # below min_frequency
    np.testing.assert_array_equal(streamed.transform(df.select(features)),
                                  memory.transform(df.select(features)))


def test_streamed_encoder_with_weights_equals_weighted_in_memory_fit(parquet):
    paths, df = parquet
    features = ["a", "b", "u", "v"]
    weight = np.random.default_rng(5).choice([0.0, 0.5, 1.0, 3.0], size=df.height)
    keep = np.arange(df.height) % 4 != 0
    params = dict(min_frequency=3, numeric_scaling="quantile")
    streamed = fit_encoder(TabularEncoder(**params), pl.scan_parquet(paths), features,
                           lambda rows: rows % 4 != 0, chunk_rows=700, weight=weight)
    memory = TabularEncoder(**params).fit(df.filter(pl.Series(keep)).select(features),
                                          sample_weight=weight[keep])
    _assert_same_encoder(streamed, memory)
    unweighted = fit_encoder(TabularEncoder(**params), pl.scan_parquet(paths), features,
                             lambda rows: rows % 4 != 0, chunk_rows=700)
    assert not np.array_equal(streamed.schema_[0].counts, unweighted.schema_[0].counts)


def test_holdout_share_is_even_over_the_rows_and_depends_on_the_seed():
    rows = np.arange(100_000)
    mask = _holdout_mask(rows, 11, 0.1)
    assert abs(mask.mean() - 0.1) < 0.002
    assert all(abs(part.mean() - 0.1) < 0.01 for part in np.array_split(mask, 20))
    np.testing.assert_array_equal(_holdout_rows(len(rows), 11, 0.1, block=777),
                                  np.flatnonzero(mask))
    assert not np.array_equal(mask, _holdout_mask(rows, 12, 0.1))


def test_every_training_row_is_visited_once_per_epoch_in_a_new_order(parquet):
    paths, df = parquet
    model = _model().fit(df.select("a", "b", "u", "v")[:200], df["click"][:200])
    features = ["a", "b", "u", "v"]
    chunks = _Chunks(paths, features)
    # the target is the row number: the batches show which rows were trained on
    target = np.arange(df.height, dtype=float)
    reader = _Reader(model, chunks, target, np.ones(df.height),
                     lambda rows: rows % 3 != 0, torch.device("cpu"))
    strategy = _Streamed(SingleDevice("cpu"), reader)

    class Stepper:
        use_graph = False

    strategy.current = Stepper()
    generator = torch.Generator().manual_seed(0)
    epochs = []
    for _ in range(2):
        seen = []
        for idx in strategy.batches(0, 96, generator):
            assert len(idx) <= 96
            seen.append(strategy.current.y[idx].numpy().astype(int))
        epochs.append(np.concatenate(seen))
    expected = np.flatnonzero(np.arange(df.height) % 3 != 0)
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), expected)
    assert not np.array_equal(epochs[0], epochs[1])
    # all but the last batch are full: leftovers of a chunk join the next chunk
    assert sum(len(b) < 96 for b in np.array_split(epochs[0], range(96, len(expected), 96)))\
        <= 1


def test_fit_from_parquet_learns_the_planted_interaction_like_in_memory(parquet):
    paths, df = parquet
    test = _frame(2000, seed=1)
    X_test, y_test = test.drop("click"), test["click"].to_numpy()
    streamed = _model().fit(paths, "click")
    assert streamed.n_features_in_ == 4 and list(streamed.feature_names_in_) == ["a", "b", "u",
                                                                                 "v"]
    assert streamed.history_[0]["valid_loss"] is not None  # a held-out part was validated
    memory = _model().fit(df.drop("click"), df["click"].to_numpy())
    auc_streamed = roc_auc_score(y_test, streamed.predict_proba(X_test)[:, 1])
    auc_memory = roc_auc_score(y_test, memory.predict_proba(X_test)[:, 1])
    assert auc_streamed > 0.85  # the XOR alone: no single column predicts anything
    assert abs(auc_streamed - auc_memory) < 0.02


def test_lazyframe_with_target_array_and_lazy_validation_set(parquet, validation):
    paths, df = parquet
    val, val_path = validation
    X = pl.scan_parquet(paths).select("a", "b", "u", "v")
    model = _model(max_epochs=2).fit(X, df["click"].to_numpy(), X_val=val_path, y_val="click")
    assert len(model.history_) == 2
    in_memory_val = _model(max_epochs=2).fit(X, df["click"].to_numpy(),
                                             X_val=val.drop("click"), y_val=val["click"])
    assert in_memory_val.history_[0]["valid_loss"] == pytest.approx(
        model.history_[0]["valid_loss"], rel=1e-6)


def test_lazy_validation_set_is_class_weighted_like_an_in_memory_one(parquet, validation):
    paths, df = parquet
    val, val_path = validation
    X = pl.scan_parquet(paths).select("a", "b", "u", "v")
    params = dict(max_epochs=1, class_weight={0: 1.0, 1: 4.0})
    weights = np.linspace(0.5, 2.0, val.height)
    lazy = _model(**params).fit(X, df["click"].to_numpy(), X_val=val_path, y_val="click",
                                sample_weight_val=weights)
    memory = _model(**params).fit(X, df["click"].to_numpy(), X_val=val.drop("click"),
                                  y_val=val["click"], sample_weight_val=weights)
    assert lazy.history_[0]["valid_loss"] == pytest.approx(memory.history_[0]["valid_loss"],
                                                           rel=1e-6)
    with pytest.raises(ValueError, match="Negative values"):
        _model(**params).fit(X, df["click"].to_numpy(), X_val=val_path, y_val="click",
                             sample_weight_val=-weights)


def test_regressor_from_a_lazyframe(parquet):
    _, df = parquet
    lf = df.lazy().with_columns(target=pl.col("v") * 2 + 1)
    model = _model(FCNRegressor, max_epochs=3).fit(lf.drop("click"), "target")
    pred = model.predict(lf.drop("click"))
    assert np.corrcoef(pred, df["v"].to_numpy())[0, 1] > 0.8


def test_predict_parquet_streams_to_a_file_equal_to_in_memory_prediction(parquet, tmp_path):
    paths, df = parquet
    model = _model(max_epochs=2).fit(paths, "click")
    out = tmp_path / "pred.parquet"
    df.with_columns(id=pl.int_range(df.height)).write_parquet(tmp_path / "in.parquet",
                                                              row_group_size=700)
    n = predict_parquet(model, str(tmp_path / "in.parquet"), out, keep_columns=["id"])
    written = pl.read_parquet(out)
    assert n == df.height and written.columns == ["id", "proba_0", "proba_1"]
    np.testing.assert_array_equal(written["id"].to_numpy(), np.arange(df.height))
    expected = model.predict_proba(df.drop("click").to_pandas())
    np.testing.assert_allclose(written.select("proba_0", "proba_1").to_numpy(), expected,
                               rtol=1e-6)
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out).metadata.num_row_groups == 6  # one per input row group
    labels = model.predict(paths)
    np.testing.assert_array_equal(labels, model.predict(df.drop("click")))


def test_clear_errors(parquet):
    paths, df = parquet
    with pytest.raises(ValueError, match="not a column"):
        _model().fit(paths, "nope")
    with pytest.raises(ValueError, match="sample_weight='w' is not a column"):
        _model().fit(paths, "click", sample_weight="w")
    with pytest.raises(ValueError, match="Negative values"):
        _model().fit(paths, "click", sample_weight=-np.ones(df.height))
    with pytest.raises(ValueError, match="one entry per row"):
        _model().fit(pl.scan_parquet(paths).drop("click"), np.ones(10))
    model = _model(max_epochs=1).fit(pd.DataFrame(np.random.rand(50, 2)), np.arange(50) % 2)
    with pytest.raises(ValueError, match="column names"):
        model.predict(paths)


def test_warm_start_from_parquet_keeps_the_encoder_and_trains_further(parquet):
    paths, _ = parquet
    model = _model(max_epochs=1, warm_start=True).fit(paths, "click")
    encoder, before = model.encoder_, model.module_.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    model.fit(paths, "click")
    assert model.encoder_ is encoder
    assert any(not torch.equal(before[k], v) for k, v in model.module_.state_dict().items())


def test_class_weight_applies_to_streamed_rows(parquet):
    paths, df = parquet
    X = df.drop("click")
    plain = _model(max_epochs=2).fit(paths, "click").predict_proba(X)[:, 1].mean()
    heavy = _model(max_epochs=2, class_weight={0: 1.0, 1: 5.0}).fit(paths, "click")
    assert heavy.predict_proba(X)[:, 1].mean() > plain + 0.1


def test_sample_weight_column_or_array_weighs_the_streamed_rows():
    # half the rows have their label flipped: unweighted, the XOR is drowned; with those rows
    # weighted 0 (as a column of the source or as an array) it is learnt
    df = _frame(6000, seed=4)
    flip = np.random.default_rng(6).random(df.height) < 0.5
    clicks = df["click"].to_numpy()
    lf = df.lazy().with_columns(click=pl.Series(np.where(flip, 1 - clicks, clicks)),
                                w=pl.Series((~flip).astype(float)))
    test = _frame(2000, seed=1)
    X_test, y_test = test.drop("click"), test["click"].to_numpy()
    by_name = _model().fit(lf, "click", sample_weight="w")
    assert list(by_name.feature_names_in_) == ["a", "b", "u", "v"]  # the weights are no feature
    by_array = _model().fit(lf.drop("w"), "click", sample_weight=(~flip).astype(float))
    unweighted = _model().fit(lf.drop("w"), "click")
    auc = {name: roc_auc_score(y_test, m.predict_proba(X_test)[:, 1])
           for name, m in [("name", by_name), ("array", by_array), ("none", unweighted)]}
    assert auc["name"] > 0.85 and auc["none"] < 0.7, auc
    assert auc["array"] == pytest.approx(auc["name"], abs=1e-9)


def test_numeric_counts_stay_bounded_on_a_grid_past_the_exact_limit(monkeypatch):
    # a continuous column has one distinct value per row: past EXACT_DISTINCT the streamed
    # counts move to a 12-bit relative grid, close to the exact fit and bounded in size
    import tabnn.streaming as streaming

    rng = np.random.default_rng(3)
    n = 20_000
    u = 1 + rng.beta(2, 5, size=n)  # within one binade: at most 2**12 + 1 grid points
    u[rng.random(n) < 0.05] = np.nan
    v = -2 - 2 * rng.random(n)
    df = pl.DataFrame({"u": u, "v": v, "a": rng.choice(["p", "q"], n)})
    monkeypatch.setattr(streaming, "EXACT_DISTINCT", 500)
    seen = []
    fit_numeric = TabularEncoder._fit_numeric

    def spy(self, col, j, sw):
        seen.append(len(sw))
        return fit_numeric(self, col, j, sw)

    monkeypatch.setattr(TabularEncoder, "_fit_numeric", spy)
    params = dict(numeric_scaling="quantile")
    streamed = fit_encoder(TabularEncoder(**params), df.lazy(), ["u", "v", "a"],
                           chunk_rows=4000)
    monkeypatch.setattr(TabularEncoder, "_fit_numeric", fit_numeric)
    memory = TabularEncoder(**params).fit(df)
    assert max(seen) <= 2**12 + 1  # grid points, not rows
    for s, m in zip(streamed.schema_[:2], memory.schema_[:2]):
        assert s.has_missing == m.has_missing
        np.testing.assert_allclose(s.bin_edges, m.bin_edges, rtol=5e-4)
        np.testing.assert_allclose(s.scaling["quantiles"][1:-1], m.scaling["quantiles"][1:-1],
                                   rtol=5e-4)
    assert streamed.schema_[0].has_missing and list(streamed.schema_[2].categories) == ["p", "q"]
