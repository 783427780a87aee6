"""Real data loaders: read from the shared data folder (never the network)."""

import gzip
import hashlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabnn import datasets as D
from tabnn.datasets import _base
from tabnn.datasets._registry import REGISTRY

_REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TABNN_DATA") or (_REPO / ".." / "shared" / "data")).resolve()
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"no shared data folder at {DATA}")


@pytest.fixture(autouse=True)
def _data_home(monkeypatch):
    monkeypatch.setenv("TABNN_DATA", str(DATA))


# name -> (rows, n_features, target column, target kind, n_categorical, classes or None)
EXPECTED = {
    "acute": (120, 6, "label", "str", 5, ["no", "yes"]),
    "adult": (32561, 14, "label", "str", 8, ["<=50K", ">50K"]),
    "anneal": (898, 38, "classes", "str", 35, ["1", "2", "3", "5", "U"]),
    "autism": (704, 17, "label", "str", 16, ["NO", "YES"]),
    "avazu_sample": (8999, 22, "click", "int", 21, [0, 1]),
    "avila": (20867, 10, "class", "str", 0, None),
    "bank_marketing": (41188, 20, "y", "str", 10, ["no", "yes"]),
    "breastw": (699, 9, "label", "str", 0, ["benign", "malignant"]),
    "cars": (1728, 6, "label", "str", 6, ["negative", "positive"]),
    "credit_a": (690, 15, "label", "str", 9, ["+", "-"]),
    "credit_card": (30000, 23, "DEFAULT_PAYMENT", "int", 9, [0, 1]),
    "criteo_sample": (10000, 39, "label", "int", 26, [0, 1]),
    "drug": (1885, 12, "Semer", "str", 0, ["CL0", "CL1", "CL2", "CL3", "CL4"]),
    "dry_bean": (13611, 16, "Class", "str", 0, None),
    "ecoli": (336, 8, "label", "str", 1, None),
    "eeg": (14980, 14, "eyeDetection", "int", 0, [0, 1]),
    "flags": (194, 29, "religion", "int", 24, list(range(8))),
    "frappe": (86582, 10, "label", "int", 10, [0, 1]),
    "glass": (214, 9, "Type", "int", 0, [1, 2, 3, 5, 6, 7]),
    "heart": (270, 13, "label", "str", 8, ["absent", "present"]),
    "heloc": (10459, 23, "RiskPerformance", "str", 0, ["Bad", "Good"]),
    "intention": (12330, 17, "Revenue", "bool", 7, [False, True]),
    "ionosphere": (351, 34, "label", "str", 2, ["b", "g"]),
    "kidney": (400, 24, "label", "str", 12, ["ckd", "notckd"]),
    "krkp": (3196, 36, "label", "str", 36, ["nowin", "won"]),
    "movielens_100k": (100000, 27, "rating", "int", 5, ["rating"]),
    "mushroom": (8124, 22, "label", "str", 22, ["e", "p"]),
    "nursery": (12960, 8, "class", "str", 8, None),
    "page_blocks": (5473, 10, "class", "int", 0, [1, 2, 3, 4, 5]),
    "pendigits": (10992, 16, "class", "int", 0, list(range(10))),
    "rain_australia": (142193, 23, "RainTomorrow", "str", 5, ["No", "Yes"]),
    "sonar": (208, 60, "label", "str", 0, ["Mine", "Rock"]),
    "titanic": (1309, 7, "Survived", "int", 3, [0, 1]),
    "voting": (435, 16, "label", "str", 16, ["democrat", "republican"]),
    "wall_following_robot": (5456, 24, "Class", "str", 0, None),
    "weight_lifting": (4024, 153, "classe", "str", 1, ["A", "B", "C", "D", "E"]),
    "wine": (178, 13, "label", "int", 0, [1, 2, 3]),
    "yeast": (1484, 9, "class", "str", 1, None),
}

SPLITS = {
    "anneal": {"train": 798, "test": 100},
    "avila": {"train": 10430, "test": 10437},
    "pendigits": {"train": 7494, "test": 3498},
    "titanic": {"train": 891, "test": 418},
    "frappe": {"valid": 57722, "test": 28860},
    "avazu_sample": {"train": 8087, "valid": 480, "test": 432},
    "movielens_100k": {"train": 90570, "test": 9430},
}


def _kind(s):
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    if pd.api.types.is_string_dtype(s):
        return "str"
    return str(s.dtype)


def test_every_dataset_has_an_expectation():
    assert sorted(EXPECTED) == D.list_datasets()
    assert set(D.FOLD_BINARY + D.FOLD_MULTICLASS) <= set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_shape_dtypes_target(name):
    rows, n_feat, target, kind, n_cat, classes = EXPECTED[name]
    b = getattr(D, f"load_{name}")()
    assert b.frame.shape == (rows, n_feat + 1)
    assert b.data.shape == (rows, n_feat)
    assert list(b.frame.columns) == b.feature_names + [target]
    assert b.target.name == target and _kind(b.target) == kind
    assert b.target.notna().all()
    assert len(b.categorical_features) == n_cat
    assert sorted(b.categorical_features + b.numeric_features, key=b.feature_names.index) \
        == b.feature_names
    for c in b.categorical_features:
        assert isinstance(b.frame[c].dtype, pd.CategoricalDtype), c
    for c in b.numeric_features:
        assert b.frame[c].dtype in (np.float64, np.int64, np.bool_), (c, b.frame[c].dtype)
    if classes is not None:
        assert b.target_names == classes
    assert isinstance(b.DESCR, str) and "Original address" in b.DESCR


def test_load_dataset_matches_loader_and_return_X_y():
    X, y = D.load_dataset("heart", return_X_y=True)
    b = D.load_heart()
    pd.testing.assert_frame_equal(X, b.data)
    pd.testing.assert_series_equal(y, b.target)


def test_adult_details():
    b = D.load_adult()
    f = b.frame
    assert f["age"].dtype == np.int64 and f["fnlwgt"].dtype == np.int64
    assert f["workclass"].isna().sum() == 1836 and f["occupation"].isna().sum() == 1843
    assert "?" not in f["workclass"].cat.categories
    assert (f["label"] == "<=50K").sum() == 24720


def test_criteo_and_frappe_types():
    c = D.load_criteo_sample()
    assert all(c.frame[f"I{i}"].dtype == np.float64 for i in range(1, 14))
    assert c.frame["I1"].isna().sum() == 4481
    assert c.frame["C3"].cat.categories.size == 5520
    assert abs(c.target.mean() - 0.2182) < 1e-3
    small = D.load_criteo_sample(variant="deepctr")
    assert small.frame.shape == (200, 40)
    fr = D.load_frappe()
    assert fr.frame["item"].cat.categories.size == 4082
    assert fr.frame["user"].cat.categories.size == 913


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_published_splits(name):
    parts = {s: D.load_dataset(name, split=s) for s in SPLITS[name]}
    for s, n in SPLITS[name].items():
        assert len(parts[s].frame) == n
        assert parts[s].split == s
    first, *rest = parts.values()
    for c in first.categorical_features:  # category levels shared across parts
        for other in rest:
            assert first.frame[c].cat.categories.equals(other.frame[c].cat.categories)


def test_split_errors():
    with pytest.raises(ValueError, match="train"):
        D.load_frappe(split="train")
    with pytest.raises(ValueError, match="not available"):
        D.load_dataset("adult", split="test")
    with pytest.raises(TypeError):
        D.load_dataset("adult", variant="x")
    with pytest.raises(ValueError):
        D.load_dataset("no_such_set")


def test_options():
    b = D.load_movielens_100k(binary=True, split="test", split_set="b")
    assert b.target.name == "label" and set(b.target.unique()) == {0, 1}
    assert len(b.frame) == 9430
    d = D.load_drug(target="Heroin")
    assert d.target.name == "Heroin" and "Semer" not in d.frame.columns
    bank = D.load_bank_marketing(variant="full")
    assert bank.frame.shape == (45211, 17)
    avz = D.load_avazu_sample(variant="deepctr")
    assert avz.frame.shape == (100, 23)


def test_polars_and_numpy_output():
    pl = pytest.importorskip("polars")
    b = D.load_titanic(as_frame="polars")
    assert isinstance(b.frame, pl.DataFrame) and b.frame.shape == (1309, 8)
    assert b.frame.schema["Sex"] == pl.Categorical
    assert b.frame.schema["Class"] == pl.Categorical
    assert b.frame.schema["Age"] == pl.Float64
    X, y = D.load_frappe(as_frame="polars", return_X_y=True, split="test")
    assert X.shape == (28860, 10) and isinstance(y, pl.Series)
    Xn, yn = D.load_wine(as_frame=False, return_X_y=True)
    assert isinstance(Xn, np.ndarray) and Xn.shape == (178, 13) and yn.shape == (178,)


# ---- data home, missing files, checksums ---------------------------------------------------------


def test_get_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TABNN_DATA", str(tmp_path / "a"))
    assert D.get_data_home() == str((tmp_path / "a").resolve())
    assert D.get_data_home(tmp_path / "b") == str((tmp_path / "b").resolve())
    monkeypatch.delenv("TABNN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert D.get_data_home() == str((tmp_path / "cache" / "tabnn").resolve())


def test_missing_file_without_download_names_file_and_url(tmp_path, monkeypatch):
    def no_network(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("network touched")

    monkeypatch.setattr(_base.urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError) as exc:
        D.load_adult(data_home=tmp_path, download_if_missing=False)
    msg = str(exc.value)
    assert str(tmp_path.resolve() / "adult" / "adult.csv") in msg
    assert REGISTRY["adult/adult.csv"].url in msg
    assert isinstance(exc.value, D.DataNotFoundError)
    monkeypatch.setenv("TABNN_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="raw.githubusercontent.com"):
        D.load_dataset("frappe", download_if_missing=False)


def test_corrupted_copy_is_detected(tmp_path):
    dst = tmp_path / "acute" / "acute.csv"
    dst.parent.mkdir()
    shutil.copyfile(DATA / "acute" / "acute.csv", dst)
    ok = D.load_acute(data_home=tmp_path, download_if_missing=False)
    assert ok.frame.shape == (120, 7)
    raw = bytearray(dst.read_bytes())
    raw[100] = ord("9") if raw[100] != ord("9") else ord("8")
    dst.write_bytes(bytes(raw))
    os.utime(dst, ns=(1, 1))  # new version of the file -> checked again
    with pytest.raises(D.ChecksumError) as exc:
        D.load_acute(data_home=tmp_path, download_if_missing=False)
    msg = str(exc.value)
    assert REGISTRY["acute/acute.csv"].sha256 in msg and str(dst) in msg
    assert hashlib.sha256(bytes(raw)).hexdigest() in msg


class _Resp(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_verified_and_cached(tmp_path, monkeypatch):
    payload = (DATA / "wine" / "wine.csv").read_bytes()
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        return _Resp(payload)

    monkeypatch.setattr(_base.urllib.request, "urlopen", fake_urlopen)
    b = D.load_wine(data_home=tmp_path)
    assert calls == [REGISTRY["wine/wine.csv"].url]
    assert (tmp_path / "wine" / "wine.csv").read_bytes() == payload
    assert b.frame.shape == (178, 14)
    D.load_wine(data_home=tmp_path)
    assert len(calls) == 1  # cached

    payload = payload[:-10]  # truncated download
    with pytest.raises(D.ChecksumError, match=REGISTRY["glass/glass.csv"].sha256):
        D.load_glass(data_home=tmp_path)
    assert not (tmp_path / "glass" / "glass.csv").exists()
    assert not list((tmp_path / "glass").glob("*.part"))


def test_download_conversion_libsvm_to_frappe_csv(tmp_path, monkeypatch):
    csv = gzip.decompress((DATA / "frappe" / "test.csv.gz").read_bytes()).decode()
    lines = [row.split(",") for row in csv.splitlines()[1:]]
    libsvm = "\n".join(r[0] + " " + " ".join(f"{v}:1" for v in r[1:]) for r in lines) + "\n"
    monkeypatch.setattr(_base.urllib.request, "urlopen",
                        lambda url, timeout=None: _Resp(libsvm.encode()))
    path = _base.fetch_file(REGISTRY["frappe/test.csv.gz"], tmp_path)
    assert gzip.decompress(path.read_bytes()).decode() == csv
