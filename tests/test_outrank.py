"""Tests of OutRank (tabnn.estimators.outrank, tabnn.ranking)."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import (
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_set_output_transform_polars,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from tabnn._params import InvalidParameterError, draw_seed
from tabnn.datasets import make_ctr
from tabnn.estimators.outrank import (
    OutRankSelector,
    data_quality_report,
    rank_features,
)
from tabnn.ranking._mi import NullLabels, joint_histogram, mutual_information, outrank_score


# ---------------------------------------------------------------------------------------------
# scikit-learn API
# ---------------------------------------------------------------------------------------------
@parametrize_with_checks([OutRankSelector(k=2, random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        check_set_output_transform,
        check_set_output_transform_pandas,
        check_set_output_transform_polars,
        check_transformer_get_feature_names_out,
        check_transformer_get_feature_names_out_pandas,
    ],
)
def test_extra_sklearn_checks(check):
    # check_dataframe_column_names_consistency is left out on purpose: tabnn's shared input
    # layer matches DataFrame columns by name (reordered frames are accepted), see
    # test_transform_keeps_dtypes_pandas_and_polars.
    check("OutRankSelector", OutRankSelector(k=2, random_state=0))


def _numeric_ctr(n=3000, seed=0):
    b = make_ctr(n_samples=n, n_categorical=4, n_numeric=3, cardinality=(5, 20),
                 interactions=0, main_effects=3, main_effect_strength=2.0, n_noise=3,
                 random_state=seed, as_frame=False)
    names = list(b.feature_names)
    return pd.DataFrame(b.data, columns=names), b.target, b.informative_features


@pytest.mark.parametrize("lib", ["pandas", "polars"])
def test_pipeline_gridsearch_over_k(lib):
    X, y, informative = _numeric_ctr()
    if lib == "polars":
        X = pl.from_pandas(X)
    pipe = Pipeline([("rank", OutRankSelector(random_state=0)),
                     ("clf", LogisticRegression(max_iter=200))])
    search = GridSearchCV(pipe, {"rank__k": [1, 3, 5]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["rank__k"] in (3, 5)
    sel = search.best_estimator_.named_steps["rank"]
    kept = list(sel.get_feature_names_out())
    assert set(informative) <= set(kept)
    assert search.predict(X[:5] if lib == "pandas" else X.head(5)).shape == (5,)


def test_transform_keeps_dtypes_pandas_and_polars():
    rng = np.random.default_rng(0)
    n = 2000
    x = rng.integers(0, 4, n)
    y = (x % 2) ^ (rng.random(n) < 0.1)
    pdf = pd.DataFrame({
        "s": np.array(["a", "b", "c", "d"], dtype=object)[x],
        "c": pd.Categorical(rng.integers(0, 3, n).astype(str)),
        "num": rng.normal(size=n),
        "i": rng.integers(0, 100, n),
    })
    sel = OutRankSelector(k=2, random_state=0).fit(pdf, y)
    assert sel.ranking_["feature"].iloc[0] == "s"
    out = sel.transform(pdf)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [c for c, m in zip(pdf.columns, sel.get_support()) if m]
    for c in out.columns:
        assert out[c].dtype == pdf[c].dtype
    # reordered columns are matched by name
    out2 = sel.transform(pdf[pdf.columns[::-1]])
    pd.testing.assert_frame_equal(out, out2)
    # polars in, polars out; set_output switches libraries
    plf = pl.from_pandas(pdf)
    sel_pl = OutRankSelector(k=2, random_state=0).fit(plf, y)
    outp = sel_pl.transform(plf)
    assert isinstance(outp, pl.DataFrame)
    assert outp.schema == pl.Schema({c: plf.schema[c] for c in outp.columns})
    np.testing.assert_allclose(sel_pl.scores_, sel.scores_, rtol=1e-9, atol=1e-12)
    assert isinstance(sel_pl.set_output(transform="pandas").transform(plf), pd.DataFrame)
    assert isinstance(sel.set_output(transform="polars").transform(pdf), pl.DataFrame)


def test_threshold_k_all_and_params():
    X, y, informative = _numeric_ctr(2000)
    sel = OutRankSelector(threshold=0.01, random_state=0).fit(X, y)
    assert set(sel.get_feature_names_out()) == set(X.columns[sel.scores_ >= 0.01])
    assert OutRankSelector(k="all").fit(X, y).get_support().all()
    assert OutRankSelector(k=100).fit(X, y).get_support().all()
    with pytest.raises(InvalidParameterError, match="'k' parameter of OutRankSelector"):
        OutRankSelector(k=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'aggregation' parameter"):
        OutRankSelector(aggregation="min").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'n_bins' parameter of rank_features"):
        rank_features(X, y, n_bins=1)
    with pytest.raises(InvalidParameterError, match="'missing_threshold' parameter of data_q"):
        data_quality_report(X, y, missing_threshold=2.0)
    # a continuous target is discretised
    yc = X[informative[0]].to_numpy() + np.random.default_rng(0).normal(size=len(X))
    sel = OutRankSelector(k=1, random_state=0).fit(X, yc)
    assert sel.get_feature_names_out()[0] == informative[0]


# ---------------------------------------------------------------------------------------------
# the score
# ---------------------------------------------------------------------------------------------
def _loop_conditional_entropy(x, y):
    groups = {}
    for xi, yi in zip(x.tolist(), y.tolist()):
        groups.setdefault(xi, {}).setdefault(yi, 0)
        groups[xi][yi] += 1
    n = len(x)
    h = 0.0
    for counts in groups.values():
        nx = sum(counts.values())
        for c in counts.values():
            p = c / nx
            h -= (nx / n) * p * np.log(p)
    return h


def test_vectorised_score_equals_slow_loop():
    rng = np.random.default_rng(1)
    n = 3000
    X = np.column_stack([rng.integers(0, 7, n), rng.integers(0, 400, n),
                         rng.integers(0, 2, n)]).astype(float)
    y = ((X[:, 0] > 3) ^ (rng.random(n) < 0.3)).astype(int) + (rng.random(n) < 0.2)
    # integer features treated as categorical, tiny chunks to exercise accumulation / growth
    ranking = rank_features(X, y, categorical_features=[0, 1, 2], chunk_size=257,
                            random_state=0).set_index("feature")
    classes, yc = np.unique(y, return_inverse=True)
    y_null = NullLabels(np.bincount(yc), draw_seed(0)).take(n)
    for j in range(3):
        x = X[:, j].astype(int)
        expected = _loop_conditional_entropy(x, y_null) - _loop_conditional_entropy(x, yc)
        assert ranking.loc[f"x{j}", "score"] == pytest.approx(expected, abs=1e-12)
        joint = joint_histogram(x, yc, x.max() + 1, 3)
        assert outrank_score(joint, joint_histogram(x, y_null, x.max() + 1, 3)) == (
            pytest.approx(expected, abs=1e-12))
        h_y = _loop_conditional_entropy(np.zeros(n, int), yc)
        mi = h_y - _loop_conditional_entropy(x, yc)
        assert ranking.loc[f"x{j}", "mutual_info"] == pytest.approx(mi, abs=1e-12)
        assert mutual_information(joint) == pytest.approx(mi, abs=1e-12)


def test_null_labels_independent_of_chunking():
    a = NullLabels([500, 300, 7], seed=3, block_size=64)
    b = NullLabels([500, 300, 7], seed=3, block_size=64)
    first = np.concatenate([a.take(m) for m in (1, 100, 33, 673)])
    np.testing.assert_array_equal(first, b.take(807))
    np.testing.assert_array_equal(np.bincount(first), [500, 300, 7])


def test_reference_numbers_id_like_vs_plain_mi():
    """outrank.md's check: informative 10-value field, id-like 50k field, noise."""
    rng = np.random.default_rng(0)
    n = 200_000
    x = rng.integers(0, 10, n)
    y = (x % 2) ^ (rng.random(n) < 0.2)
    X = pd.DataFrame({
        "informative": pd.Categorical(x),
        "noise": pd.Categorical(rng.integers(0, 10, n)),
        "id_like": pd.Categorical(rng.integers(0, 50_000, n)),
    })
    r = rank_features(X, y, random_state=0).set_index("feature")
    assert r.loc["informative", "mutual_info"] == pytest.approx(0.1927, abs=0.003)
    assert r.loc["informative", "score"] == pytest.approx(0.1927, abs=0.003)
    assert r.loc["id_like", "mutual_info"] == pytest.approx(0.152, abs=0.005)
    assert abs(r.loc["id_like", "score"]) < 0.004
    assert abs(r.loc["noise", "score"]) < 0.001
    assert r.loc["informative", "rank"] == 1


# ---------------------------------------------------------------------------------------------
# planted ranking on make_ctr
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted():
    return make_ctr(n_samples=100_000, n_categorical=8, n_numeric=4, cardinality=(5, 200),
                    interactions=0, main_effects=4, main_effect_strength=1.5, n_redundant=2,
                    n_noise=4, id_like=True, random_state=0)


def test_planted_ranking(planted):
    b = planted
    informative = list(b.informative_features)
    sel = OutRankSelector(k=len(informative), random_state=0).fit(b.data, b.target)
    ranking = sel.ranking_
    # informative fields (and their exact copies) are on top, before any noise field
    top = list(ranking["feature"][: len(informative) + len(b.redundant_features)])
    assert set(top) == set(informative) | set(b.redundant_features)
    # the id-like pure-noise field: plain MI ranks it first, OutRank near the bottom
    by_mi = ranking.sort_values("mutual_info", ascending=False)["feature"].tolist()
    assert by_mi[0] == "id_like"
    rank_id = int(ranking.set_index("feature").loc["id_like", "rank"])
    assert rank_id > len(informative) + len(b.redundant_features)
    assert abs(ranking.set_index("feature").loc["id_like", "score"]) < 0.01


def test_redundancy_drops_copies(planted):
    b = planted
    n_inf = len(b.informative_features)
    plain = rank_features(b.data, b.target, random_state=0).set_index("feature")["rank"]
    for copy, original in b.redundant_features.items():
        # without redundancy an exact copy ties with its original, among the top fields
        assert plain[copy] <= n_inf + len(b.redundant_features)
    # OutRank's 3MR (median aggregation): each copy falls below its original
    red = rank_features(b.data, b.target, redundancy=True, random_state=0)
    ranks = red.set_index("feature")["rank"]
    for copy, original in b.redundant_features.items():
        assert ranks[copy] > ranks[original]
    assert red["mrmr"].notna().sum() >= n_inf
    # max aggregation: every original informative field comes before any copy
    red_max = OutRankSelector(k=n_inf, redundancy=True, aggregation="max",
                              random_state=0).fit(b.data, b.target)
    assert set(red_max.get_feature_names_out()) == set(b.informative_features)
    ranks = red_max.ranking_.set_index("feature")["rank"]
    for copy, original in b.redundant_features.items():
        assert ranks[copy] > n_inf


# ---------------------------------------------------------------------------------------------
# streaming
# ---------------------------------------------------------------------------------------------
def test_streaming_parquet_and_lazyframe_equal_in_memory(tmp_path):
    b = make_ctr(n_samples=20_000, n_categorical=4, n_numeric=3, cardinality=(5, 5000),
                 interactions=0, main_effects=3, id_like=True, missing_rate=0.1,
                 random_state=1, as_frame="polars")
    frame = b.frame
    path = tmp_path / "ctr.parquet"
    frame.write_parquet(path, row_group_size=3000)
    kw = dict(random_state=0, fit_rows=5000, sample_rows=2000, redundancy=True)
    in_memory = rank_features(frame.drop("label"), frame["label"], chunk_size=4096, **kw)
    streamed = rank_features(str(path), target="label", chunk_size=1500, **kw)
    lazy = rank_features(pl.scan_parquet(path), target="label", chunk_size=7000, **kw)
    by_target = rank_features(frame.to_pandas(), target="label", chunk_size=20_000, **kw)
    for other in (streamed, lazy, by_target):
        pd.testing.assert_frame_equal(in_memory, other, check_exact=False, rtol=1e-9,
                                      atol=1e-12)
    q_stream = data_quality_report(str(path), target="label", chunk_size=999, random_state=0)
    q_mem = data_quality_report(frame.drop("label"), frame["label"], random_state=0)
    pd.testing.assert_frame_equal(q_stream, q_mem, check_exact=False, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="target"):
        rank_features(str(path))


def test_row_blocks_inside_a_chunk_change_nothing(monkeypatch):
    from tabnn.ranking import _streaming

    b = make_ctr(n_samples=5000, n_categorical=6, n_numeric=2, cardinality=(5, 800),
                 missing_rate=0.1, random_state=3)
    kw = dict(random_state=0, chunk_size=1700, fit_rows=900, sample_rows=700, redundancy=True)
    whole = rank_features(b.data, b.target, **kw)
    quality_kw = {k: v for k, v in kw.items() if k != "redundancy"}
    report = data_quality_report(b.data, b.target, **quality_kw)
    monkeypatch.setattr(_streaming, "_BLOCK_CELLS", 300)  # blocks of a few dozen rows
    pd.testing.assert_frame_equal(rank_features(b.data, b.target, **kw), whole,
                                  check_exact=True)
    pd.testing.assert_frame_equal(data_quality_report(b.data, b.target, **quality_kw), report,
                                  check_exact=True)


def test_relabelled_copy_ties_exactly_and_late_values_get_own_codes():
    rng = np.random.default_rng(0)
    n = 3000
    a = rng.integers(0, 40, n)
    y = (a % 3 == 0).astype(int) ^ (rng.random(n) < 0.2)
    # the same partition of the rows under labels sorting in another order; the last chunk
    # brings values the fit sample and the earlier chunks never saw
    a[-200:] += 100
    X = pd.DataFrame({"a": [f"v{v:03d}" for v in a], "b": [f"{999 - v:03d}z" for v in a],
                      "c": pd.Categorical([f"w{v}" for v in a])})
    ranking = rank_features(X, y, random_state=0, chunk_size=500, fit_rows=100)
    scores = ranking.set_index("feature")["score"]
    assert scores["a"] == scores["b"] == scores["c"]
    assert list(ranking["feature"]) == ["a", "b", "c"]
    assert (ranking["cardinality"] == len(np.unique(a))).all()


# ---------------------------------------------------------------------------------------------
# data quality
# ---------------------------------------------------------------------------------------------
def test_data_quality_report_flags():
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.integers(0, 6, n)
    y = (x > 2) ^ (rng.random(n) < 0.1)
    miss = rng.normal(size=n)
    miss[rng.random(n) < 0.7] = np.nan
    near = np.zeros(n, dtype=int)
    near[:20] = 1
    noisy_copy = x.copy()
    noisy_copy[:5] = (noisy_copy[:5] + 1) % 6
    X = pd.DataFrame({
        "good": pd.Categorical(x),
        "const": pd.Categorical(np.full(n, "k")),
        "near_const": pd.Categorical(near),
        "row_id": pd.Categorical(np.arange(n).astype(str)),
        "copy": pd.Categorical(np.array(list("uvwxyz"))[x]),
        "almost_copy": pd.Categorical(noisy_copy),
        "mostly_missing": miss,
        "num": rng.normal(size=n),
    })
    rep = data_quality_report(X, y).set_index("feature")
    assert rep.loc["const", "constant"] and not rep.loc["good", "constant"]
    assert rep.loc["near_const", "near_constant"]
    assert rep.loc["row_id", "id_like"] and not rep.loc["good", "id_like"]
    assert rep.loc["copy", "duplicate_of"] == "good"
    assert rep.loc["almost_copy", "near_duplicate_of"] == "good"
    assert rep.loc["mostly_missing", "high_missing"]
    assert rep.loc["mostly_missing", "missing_fraction"] == pytest.approx(0.7, abs=0.03)
    assert rep.loc["good", "issues"] == "" and rep.loc["num", "issues"] == ""
    assert "duplicate of good" in rep.loc["copy", "issues"]
    # without a target the report still works (no scores)
    rep2 = data_quality_report(X).set_index("feature")
    assert rep2["score"].isna().all()
    assert rep2.loc["row_id", "id_like"] and rep2.loc["copy", "duplicate_of"] == "good"
