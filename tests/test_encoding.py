import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.special import ndtri
from sklearn.utils.estimator_checks import (
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_global_set_output_transform_polars,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_set_output_transform_polars,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
)

from tabnn import TabularEncoder, encoding
from tabnn.encoding import MISSING, UNKNOWN, stable_hash


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "city": ["paris", "rome", None, "paris", "oslo", "rome"],
            "kind": pd.Categorical(["a", "b", "a", "c", "a", "b"]),
            "flag": [True, False, True, True, False, False],
            "price": [1.0, 250.0, np.nan, 3.0, np.inf, 1e6],
            "count": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        }
    )


def test_roles_and_reserved_codes(frame):
    enc = TabularEncoder().fit(frame)
    roles = {f.name: f.role for f in enc.schema_}
    assert roles == {"city": "categorical", "kind": "categorical", "flag": "categorical",
                     "price": "numeric", "count": "numeric"}
    city = enc.schema_[0]
    assert list(city.categories) == ["oslo", "paris", "rome"]
    new = frame.assign(city=["paris", "tokyo", None, "rome", "oslo", "zz"])
    codes = enc.encode(new).codes[:, 0]
    assert list(codes) == [3, UNKNOWN, MISSING, 4, 2, UNKNOWN]


def test_numeric_missing_and_inf_are_flagged(frame):
    enc = TabularEncoder().fit(frame)
    t = enc.encode(frame)
    assert t.numeric_missing[:, 0].tolist() == [False, False, True, False, True, False]
    assert t.numeric_missing[:, 1].tolist() == [False, True, False, False, False, False]
    assert np.isfinite(t.numeric).all() and t.numeric.dtype == np.float32
    assert np.isnan(t.raw[4, 0])  # inf is treated as missing
    # bounded scaling even for a 1e6 outlier
    assert np.abs(t.numeric).max() < 4
    assert "price_missing" in enc.get_feature_names_out()


def test_min_frequency_pools_rare_values_and_honours_weights():
    X = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 2 + ["c"]})
    enc = TabularEncoder(min_frequency=2).fit(X)
    assert list(enc.schema_[0].categories) == ["a", "b"]
    assert enc.encode(X).codes[-1, 0] == UNKNOWN
    # a weight of 2 on "c" is the same as seeing it twice
    w = np.ones(len(X))
    w[-1] = 2
    enc_w = TabularEncoder(min_frequency=2).fit(X, sample_weight=w)
    assert list(enc_w.schema_[0].categories) == ["a", "b", "c"]
    # zero-weight rows do not add vocabulary
    w[:5] = 0
    enc_z = TabularEncoder(min_frequency=1).fit(X, sample_weight=w)
    assert list(enc_z.schema_[0].categories) == ["b", "c"]


def test_a_column_without_a_frequent_value_encodes_every_value_as_unknown():
    X = pd.DataFrame({"s": ["a", "b", "a"], "k": pd.Categorical(["x", "y", "z"]),
                      "n": [1.0, 2.0, 3.0]})
    enc = TabularEncoder(min_frequency=3).fit(X)
    assert [len(spec.categories) for spec in enc.schema_[:2]] == [0, 0]
    new = pd.DataFrame({"s": ["a", None, 7], "k": pd.Categorical(["x", None, "w"]),
                        "n": [1.0, 2.0, 3.0]})
    assert enc.encode(new).codes.tolist() == [[UNKNOWN, UNKNOWN], [MISSING, MISSING],
                                              [UNKNOWN, UNKNOWN]]


def test_hashing_high_cardinality_is_stable_across_processes():
    values = np.array([f"user_{i}" for i in range(500)], dtype=object)
    X = pd.DataFrame({"user": values})
    enc = TabularEncoder(max_cardinality=64).fit(X)
    spec = enc.schema_[0]
    assert spec.hashed and spec.n_codes == 66
    codes = enc.encode(X).codes[:, 0]
    assert codes.min() >= 2 and codes.max() < 66
    assert len(np.unique(codes)) > 40
    # unseen ids hash too (no unknown bucket needed), missing keeps code 0
    other = enc.encode(pd.DataFrame({"user": ["new_user", None]})).codes[:, 0]
    assert other[0] >= 2 and other[1] == MISSING
    script = (
        "import numpy as np; from tabnn.encoding import stable_hash; "
        "print(','.join(str(int(h)) for h in stable_hash(['user_1', 'é', 42])))"
    )
    outs = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env={"PYTHONHASHSEED": seed, "PATH": ""}, check=True).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert outs.pop() == ",".join(str(int(h)) for h in stable_hash(["user_1", "é", 42]))


def test_reordered_columns_identical_and_missing_extra_columns_error(frame):
    enc = TabularEncoder().fit(frame)
    reordered = frame[list(reversed(frame.columns))]
    np.testing.assert_array_equal(enc.transform(frame), enc.transform(reordered))
    with pytest.raises(ValueError, match=r"missing: \['price'\]"):
        enc.transform(frame.drop(columns="price"))
    with pytest.raises(ValueError, match=r"unseen at fit time: \['extra'\]"):
        enc.transform(frame.assign(extra=1.0))


def test_pandas_polars_numpy_give_the_same_codes(frame):
    pdf = frame.drop(columns="count")
    plf = pl.from_pandas(pdf).with_columns(pl.col("kind").cast(pl.Categorical))
    npx = pdf.astype(object).to_numpy()
    out_pd = TabularEncoder().fit(pdf).transform(pdf)
    out_pl = TabularEncoder().fit(plf).transform(plf)
    out_np = TabularEncoder(categorical_features=[0, 1, 2]).fit(npx).transform(npx)
    np.testing.assert_allclose(out_pd, out_pl)
    np.testing.assert_allclose(out_pd, out_np)


def test_input_is_not_modified_and_pickles(frame):
    before = frame.copy(deep=True)
    enc = TabularEncoder().fit(frame)
    enc.transform(frame)
    pd.testing.assert_frame_equal(frame, before)
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(frame), enc.transform(frame))


def test_set_output_keeps_integer_codes(frame):
    enc = TabularEncoder().set_output(transform="pandas").fit(frame)
    out = enc.transform(frame)
    assert out["city"].dtype == np.int64 and out["price"].dtype == np.float64
    enc.set_output(transform="polars")
    out = enc.transform(pl.from_pandas(frame.drop(columns="count")).with_columns(
        pl.lit(1).alias("count")))
    assert isinstance(out, pl.DataFrame) and out["kind"].dtype == pl.Int64


def test_encode_binned_gives_non_negative_codes(frame):
    enc = TabularEncoder(n_bins=4).fit(frame)
    binned = enc.encode_binned(frame)
    assert binned.min() >= 0
    assert binned[2, 3] == 0  # missing price
    assert binned[:, 3].max() <= 4


def test_explicit_categorical_features_and_errors():
    X = pd.DataFrame({"zip": [75001, 75002, 75001], "name": ["a", "b", "c"]})
    enc = TabularEncoder(categorical_features=["zip", "name"]).fit(X)
    assert [f.role for f in enc.schema_] == ["categorical", "categorical"]
    with pytest.raises(ValueError, match="non-numeric"):
        TabularEncoder(categorical_features=[]).fit(X)
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        TabularEncoder(categorical_features=["nope"]).fit(X)
    with pytest.raises(ValueError, match="Duplicated column names"):
        TabularEncoder().fit(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(ValueError, match="0 sample"):
        TabularEncoder().fit(X.iloc[:0])


@pytest.mark.parametrize(
    "check",
    [
        check_set_output_transform,
        check_set_output_transform_pandas,
        check_set_output_transform_polars,
        check_global_output_transform_pandas,
        check_global_set_output_transform_polars,
        check_transformer_get_feature_names_out,
        check_transformer_get_feature_names_out_pandas,
        check_get_feature_names_out_error,
    ],
)
def test_explicit_sklearn_transformer_checks(check):
    check("TabularEncoder", TabularEncoder())


def test_dtype_matrix_pandas_nullable_arrow_and_polars():
    X = pd.DataFrame({
        "s_arrow": pd.array(["a", None, "b", "a"], dtype="string[pyarrow]"),
        "s_str": pd.Series(["x", "y", None, "x"], dtype="str"),
        "i64": pd.array([1, None, 3, 4], dtype="Int64"),
        "flag": pd.array([True, None, False, True], dtype="boolean"),
        "ordered": pd.Categorical(["lo", "hi", "lo", "mid"], categories=["lo", "mid", "hi"],
                                  ordered=True),
        "u32": np.array([1, 2, 3, 4], dtype=np.uint32),
    })
    enc = TabularEncoder().fit(X)
    roles = [f.role for f in enc.schema_]
    assert roles == ["categorical", "categorical", "numeric", "categorical", "categorical",
                     "numeric"]
    t = enc.encode(X)
    assert t.codes[1, 0] == MISSING and t.codes[2, 1] == MISSING and t.codes[1, 2] == MISSING
    assert t.numeric_missing[:, 0].tolist() == [False, True, False, False]
    # a polars Enum value declared but never seen in fit is "unknown", null is "missing"
    P = pl.DataFrame({"e": pl.Series(["a", "b", None, "a"], dtype=pl.Enum(["a", "b", "c"]))})
    enc_pl = TabularEncoder().fit(P)
    new = pl.DataFrame({"e": pl.Series(["c", None], dtype=pl.Enum(["a", "b", "c"]))})
    assert enc_pl.encode(new).codes[:, 0].tolist() == [UNKNOWN, MISSING]
    with pytest.raises(TypeError, match="temporal"):
        TabularEncoder().fit(pd.DataFrame({"d": pd.to_datetime(["2020-01-01"] * 3)}))


def test_quantile_scaling_maps_tied_values_to_the_middle_of_their_run():
    # 70% zeros: the zero value covers a run of quantile knots; it must land in the middle of
    # that run (probability 0.35 -> z = ndtri(0.35)), not at either end
    x = np.r_[np.zeros(700), np.arange(1, 301, dtype=float)]
    enc = TabularEncoder().fit(pd.DataFrame({"x": x}))
    z = enc.encode(pd.DataFrame({"x": [0.0, 150.5, -5.0, 1e9, np.nan]})).numeric[:, 0]
    assert z[0] == pytest.approx(ndtri(0.35), abs=0.01)
    assert z[1] == pytest.approx(ndtri(0.85), abs=0.01)  # between knots: interpolated
    assert z[2] == pytest.approx(ndtri(1e-3)) and z[3] == pytest.approx(ndtri(1 - 1e-3))
    assert z[4] == 0.0  # missing


def test_threaded_column_encoding_matches_one_thread(monkeypatch):
    # large enough for the thread pool; the result must not depend on it
    rng = np.random.default_rng(0)
    n = 60_000
    X = pd.DataFrame({f"n{j}": rng.lognormal(size=n).round(j % 3) for j in range(6)})
    for j in range(6):
        X[f"c{j}"] = pd.Categorical(rng.integers(0, 10 ** (j % 4 + 1), n).astype(str))
    X.loc[::7, "n0"] = np.nan
    w = rng.integers(0, 3, n).astype(float)
    results = []
    for cpus in (1, 4):
        monkeypatch.setattr(encoding, "_available_cpus", lambda c=cpus: c)
        enc = TabularEncoder().fit(X, sample_weight=w)
        out = enc.encode(X)
        results.append((out.codes, out.numeric, out.numeric_missing,
                        [s.bin_edges for s in enc.schema_ if s.role == "numeric"]))
    (c1, v1, m1, e1), (c4, v4, m4, e4) = results
    np.testing.assert_array_equal(c1, c4)
    np.testing.assert_array_equal(v1, v4)
    np.testing.assert_array_equal(m1, m4)
    for a, b in zip(e1, e4):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# public API for the other learners: column roles, numbers, growing vocabularies
# ---------------------------------------------------------------------------------------------
def test_column_roles_agree_with_the_encoder(frame):
    roles = encoding.column_roles(frame)
    assert roles == [f.role for f in TabularEncoder().fit(frame).schema_]
    assert encoding.column_roles(frame, ["price", 4]) == [
        "numeric", "numeric", "numeric", "categorical", "categorical"]
    mask = [True, False, False, False, True]
    assert encoding.column_roles(frame.to_numpy(), mask)[::4] == ["categorical"] * 2
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        encoding.column_roles(frame, ["nope"])


def test_to_float_treats_inf_and_none_as_missing():
    x = encoding.to_float(np.array([1, np.inf, -np.inf, 2.5]))
    np.testing.assert_array_equal(np.isnan(x), [False, True, True, False])
    y = encoding.to_float(np.array(["3", None, 4.0], dtype=object))
    np.testing.assert_array_equal(y[[0, 2]], [3.0, 4.0])
    assert np.isnan(y[1])
    with pytest.raises(ValueError, match="'price' is treated as numeric"):
        encoding.to_float(np.array(["a"], dtype=object), "price")


def test_partial_fit_grows_vocabulary_and_never_recodes(frame):
    first, second = frame.iloc[:3], frame.iloc[3:]
    enc = TabularEncoder().partial_fit(first)
    # the first call is fit on the batch
    fitted = TabularEncoder().fit(first)
    for a, b in zip(enc.schema_, fitted.schema_):
        assert a.n_codes == b.n_codes and a.role == b.role
    before = enc.encode_binned(frame)
    enc.partial_fit(second)
    after = enc.encode_binned(frame)
    city = enc.schema_[0]
    # 'paris', 'rome' from the first batch keep their codes; 'oslo' is appended after them
    assert list(city.categories) == ["paris", "rome", "oslo"]
    known = before != UNKNOWN
    np.testing.assert_array_equal(after[known], before[known])
    assert (after[:, :3] != UNKNOWN).all()
    np.testing.assert_array_equal(city.counts, [2, 2, 1])
    # numeric columns keep what the first call learned
    np.testing.assert_array_equal(enc.schema_[3].bin_edges, fitted.schema_[3].bin_edges)
    # after fit, partial_fit continues from the fitted vocabulary
    cont = TabularEncoder().fit(first).partial_fit(second)
    np.testing.assert_array_equal(cont.encode_binned(frame), after)
    with pytest.raises(ValueError, match="missing"):
        enc.partial_fit(frame.drop(columns="price"))


def test_partial_fit_min_frequency_max_cardinality_and_categorical_dtype():
    enc = TabularEncoder(min_frequency=2).partial_fit(pd.DataFrame({"c": ["a", "a", "b"]}))
    assert list(enc.schema_[0].categories) == ["a"]
    # 'b' reaches min_frequency over two calls, 'z' not yet
    enc.partial_fit(pd.DataFrame({"c": pd.Categorical(["b", "z"], categories=["b", "q", "z"])}))
    assert list(enc.schema_[0].categories) == ["a", "b"]
    codes = enc.encode_binned(pd.DataFrame({"c": ["a", "b", "z", None]})).ravel()
    np.testing.assert_array_equal(codes, [2, 3, UNKNOWN, MISSING])
    # weights count, as in fit
    enc.partial_fit(pd.DataFrame({"c": ["q"]}), sample_weight=[2.0])
    assert list(enc.schema_[0].categories) == ["a", "b", "q"]
    capped = TabularEncoder(max_cardinality=3).partial_fit(pd.DataFrame({"c": ["x", "y"]}))
    capped.partial_fit(pd.DataFrame({"c": ["w", "v", "u"]}))
    assert list(capped.schema_[0].categories) == ["x", "y", "w"]
    assert capped.encode_binned(pd.DataFrame({"c": ["v"]}))[0, 0] == UNKNOWN
    hashed = TabularEncoder(max_cardinality=1).partial_fit(pd.DataFrame({"c": ["x", "y"]}))
    hashed.partial_fit(pd.DataFrame({"c": ["w"]}))
    assert hashed.schema_[0].hashed and hashed.schema_[0].n_codes == 3
    pickle.loads(pickle.dumps(enc)).partial_fit(pd.DataFrame({"c": ["z"]}))


@pytest.mark.parametrize("params, name", [
    ({"numeric_scaling": "log"}, "numeric_scaling"),
    ({"min_frequency": -1}, "min_frequency"),
    ({"max_cardinality": 0}, "max_cardinality"),
    ({"n_bins": 1}, "n_bins"),
    ({"categorical_features": "city"}, "categorical_features"),
])
def test_invalid_parameters_name_the_parameter(frame, params, name):
    from tabnn._params import InvalidParameterError

    for method in ("fit", "partial_fit"):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of TabularEncoder"):
            getattr(TabularEncoder(**params), method)(frame)


def _private_encoding_uses(path):
    """Names starting with ``_`` that ``path`` takes from :mod:`tabnn.encoding`."""
    import ast

    tree = ast.parse(path.read_text())
    from_encoding = set()  # local names bound to the module or to objects of it
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("encoding"):
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(alias.name)
                from_encoding.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "encoding" for a in node.names):
            from_encoding.update(a.asname or a.name for a in node.names if a.name == "encoding")
        elif isinstance(node, ast.Import):
            from_encoding.update(a.asname or a.name for a in node.names
                                 if a.name.endswith(".encoding"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in from_encoding:
                found.append(f"{base.id}.{node.attr}")
    return found


def test_rule_learner_and_ranker_use_only_the_public_encoder_api(tmp_path):
    from pathlib import Path

    root = Path(encoding.__file__).parent
    files = [*sorted((root / "rules").glob("*.py")), *sorted((root / "ranking").glob("*.py")),
             root / "estimators" / "foldse.py", root / "estimators" / "outrank.py"]
    assert len(files) >= 8
    uses = {f.name: _private_encoding_uses(f) for f in files}
    assert not any(uses.values()), uses
    # the scan itself catches both forms
    probe = tmp_path / "probe.py"
    probe.write_text("from tabnn.encoding import TabularEncoder, _factorize\n"
                     "from tabnn import encoding\nTabularEncoder._as_float(1)\n"
                     "encoding._sort_key(2)\n")
    assert _private_encoding_uses(probe) == [
        "_factorize", "TabularEncoder._as_float", "encoding._sort_key"]
