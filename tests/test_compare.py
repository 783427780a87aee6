"""tabnn.compare: the leaderboard, its folds, failures, Ctrl-C, the time budget, the command."""

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

import tabnn
from tabnn.__main__ import main
from tabnn.comparison import (
    BASELINES,
    compare,
    compare_split,
    format_leaderboard,
    plot_leaderboard,
    to_lightgbm_frame,
)
from tabnn.datasets import load_dataset, make_ctr
from tabnn.estimators import all_estimators

FAST = {"neural": {"max_epochs": 1, "batch_size": 128, "embedding_dim": 4}}


@pytest.fixture(scope="module")
def binary():
    data = make_ctr(n_samples=400, n_categorical=3, n_numeric=2, cardinality=4,
                    interactions=[("C1", "C2")], interaction_strength=4.0, noise=0.02,
                    random_state=0)
    return data.data, data.target


FITTED_ON = {}


class Spy(ClassifierMixin, BaseEstimator):
    """Records the index of the rows it is fitted on in ``FITTED_ON[log]`` (compare clones
    it, so a list parameter would be copied); ``fail`` raises that exception."""

    def __init__(self, log=None, fail=None):
        self.log, self.fail = log, fail

    def fit(self, X, y):
        if self.fail is not None:
            raise self.fail
        if self.log is not None:
            FITTED_ON.setdefault(self.log, []).append(np.asarray(X.index))
        self.model_ = LogisticRegression().fit(X.select_dtypes("number"), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X.select_dtypes("number"))


def test_binary_every_applicable_model_has_finite_scores(binary):
    X, y = binary
    table = compare(X, y, cv=2, params=FAST)
    tabnn_names = {name.removesuffix("Classifier") for name, _ in all_estimators("classifier")}
    assert set(table["model"]) == tabnn_names | set(BASELINES)
    for metric in ("auc", "logloss", "accuracy", "fit_seconds", "predict_seconds"):
        assert np.isfinite(table[metric]).all(), metric
    assert list(table.columns[:4]) == ["model", "kind", "auc", "auc_std"]
    assert {"size", "epochs", "note"} <= set(table.columns)
    assert table["auc"].is_monotonic_decreasing  # ranked by the first metric
    assert (table.loc[table["kind"] == "neural", "epochs"] == 1).all()
    assert table.set_index("model").loc["base rate", "auc"] == 0.5
    # the boosting baseline really learnt the planted interaction (LightGBM's defaults need
    # more than 200 rows per category split)
    assert table.set_index("model").loc["HistGradientBoosting", "auc"] > 0.75


def test_multiclass_and_regression_scores():
    data = make_ctr(n_samples=450, n_categorical=3, n_numeric=2, cardinality=6,
                    interactions=[("C1", "C2")], random_state=1)
    y3 = np.digitize(data.data["I1"], np.quantile(data.data["I1"], [1 / 3, 2 / 3]))
    labels = np.array(["low", "mid", "high"])[y3]
    models = ["AutoInt", "FoldSE", "LightGBM", "HistGradientBoosting", "linear", "base rate"]
    multi = compare(data.data.drop(columns="I1"), labels, models, cv=3, params=FAST)
    assert multi.attrs["task"] == "multiclass"
    assert np.isfinite(multi[["auc", "logloss", "accuracy"]].to_numpy()).all()

    y_reg = 2.0 * data.data["I1"].to_numpy() + (data.data["C1"] == data.data["C2"])  # floats
    with pytest.raises(ValueError, match="pass task='regression'"):
        compare(data.data, np.arange(len(y_reg)), ["linear"], cv=2)  # ids, not labels
    reg = compare(pl.from_pandas(data.data.drop(columns="I1")), y_reg,
                  ["AutoInt", "LightGBM", "HistGradientBoosting", "linear", "base rate"],
                  cv=3, params=FAST)
    assert reg.attrs["task"] == "regression"
    assert [c for c in reg.columns if not c.endswith("_std")][2:5] == ["rmse", "mae", "r2"]
    assert np.isfinite(reg[["rmse", "mae", "r2"]].to_numpy()).all()
    assert reg["rmse"].is_monotonic_increasing


def test_multiclass_auc_with_a_class_too_rare_for_every_fold():
    # 2 rows of class "rare" cannot reach 3 test folds: that fold's AUC is the mean of the
    # one-vs-rest AUCs of the classes it has (sklearn's macro over all classes elsewhere)
    data = make_ctr(n_samples=300, n_categorical=3, n_numeric=2, cardinality=6,
                    interactions=[("C1", "C2")], random_state=0)
    labels = np.where(data.data["I1"] > data.data["I1"].median(), "high", "low").astype(object)
    labels[:2] = "rare"
    table = compare(data.data, labels, ["linear"], cv=3, scoring=["auc"])
    folds = table.attrs["folds"].scores
    assert np.isfinite(folds["auc"]).all() and (folds["auc"] > 0.5).all()


def test_every_model_sees_the_same_folds(binary):
    X, y = binary
    table = compare(X, y, {"a": Spy("a"), "b": Spy("b"), "linear": BASELINES["linear"](
        "binary")}, cv=4, random_state=3)
    splits, first, second = table.attrs["folds"].splits, FITTED_ON["a"], FITTED_ON["b"]
    assert len(first) == len(second) == len(splits) == 4
    for a, b, test in zip(first, second, splits):
        np.testing.assert_array_equal(a, b)
        assert set(a).isdisjoint(test) and len(a) + len(test) == len(X)
    np.testing.assert_array_equal(np.sort(np.concatenate(splits)), np.arange(len(X)))
    folds = table.attrs["folds"].scores
    assert sorted(folds["model"].unique()) == ["a", "b", "linear"]


def test_leaderboards_concatenate_keeping_attrs_only_when_they_agree(binary):
    # pandas compares attrs on concat: per-fold arrays of different lengths and frames used
    # to raise there instead of answering
    X, y = binary
    models = {"linear": BASELINES["linear"]("binary"), "spy": Spy()}
    table = compare(X, y, models, cv=3)
    other = compare(X.iloc[:300], y[:300], models, cv=4, random_state=1)
    assert table.attrs["folds"] == table.copy().attrs["folds"] != other.attrs["folds"]
    parts = pd.concat([table.head(1), table.tail(1)])  # one run, cut and glued back
    assert len(parts) == 2 and parts.attrs["folds"] == table.attrs["folds"]
    assert parts.attrs["folds"].splits[0] is table.attrs["folds"].splits[0]  # shared
    runs = pd.concat([table, other])  # two runs: no folds describe both
    assert len(runs) == 4 and runs.attrs == {}
    assert "3 folds, 2 models" in repr(table.attrs["folds"])
    with pytest.raises(ValueError, match="read-only"):
        table.attrs["folds"].splits[0][0] = 0


def test_a_failing_model_is_reported_in_its_row(binary):
    X, y = binary
    table = compare(X, y, {"broken": Spy(fail=RuntimeError("boom")), "ok": Spy()}, cv=2)
    rows = table.set_index("model")
    assert rows.loc["broken", "note"] == "failed in fold 1: RuntimeError: boom"
    assert np.isnan(rows.loc["broken", "auc"])
    assert np.isfinite(rows.loc["ok", "auc"]) and rows.loc["ok", "note"] == ""
    assert table["model"].iloc[-1] == "broken"  # failures rank last


def test_ctrl_c_returns_the_models_finished_so_far(binary):
    X, y = binary
    with pytest.warns(UserWarning, match="interrupted"):
        table = compare(X, y, {"done": Spy(), "stopped": Spy(fail=KeyboardInterrupt()),
                               "never": Spy()}, cv=2)
    assert table.attrs["interrupted"]
    assert list(table["model"]) == ["done"]


def test_time_budget_stops_neural_fits_and_is_marked(binary):
    X, y = binary
    table = compare(X, y, ["AutoInt", "linear"], cv=2, time_budget=1e-6,
                    params={"neural": {"max_epochs": 5, "early_stopping": False}})
    rows = table.set_index("model")
    assert rows.loc["AutoInt", "epochs"] == 1
    assert rows.loc["AutoInt", "note"] == "stopped by the time budget in 2/2 folds"
    assert rows.loc["linear", "note"] == ""


def test_params_by_name_must_exist_and_models_by_unknown_name_fail(binary):
    X, y = binary
    with pytest.raises(ValueError, match=r"params\[.AutoInt.\]: Invalid parameter .no_such."):
        compare(X, y, ["AutoInt"], cv=2, params={"AutoInt": {"no_such": 1}})
    with pytest.raises(ValueError, match="unknown model 'XGBoost'.*LightGBM"):
        compare(X, y, ["XGBoost"], cv=2)
    with pytest.raises(ValueError, match="do not apply to a binary task"):
        compare(X, y, ["linear"], cv=2, scoring="rmse")


def test_boosting_gets_native_categories_beyond_255_levels():
    data = make_ctr(n_samples=3000, n_categorical=2, n_numeric=1, cardinality=400,
                    interactions=[("C1", "C2")], random_state=0)
    X = data.data.astype({"C1": str})  # strings become categories, rare levels missing
    table = compare(X, data.target, ["HistGradientBoosting"], cv=2)
    assert np.isfinite(table["auc"]).all() and (table["note"] == "").all()


def test_format_marks_the_best_and_plot_labels_every_model(binary):
    X, y = binary
    table = compare(X, y, ["HistGradientBoosting", "linear", "base rate"], cv=2)
    text = format_leaderboard(table)
    best = table.loc[table["model"] != "base rate", "auc"].max()
    assert f"**{best:.4f}" in text and text.count("\n") == len(table) + 1
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_leaderboard(table)
    labels = {t.get_text() for t in ax.texts}
    assert labels == set(table["model"]) - {"base rate"}
    assert any(t.get_text().startswith("base rate") for t in ax.get_legend().get_texts())
    assert ax.get_xscale() == "log"


def test_tabnn_compare_is_callable_from_the_package(binary):
    X, y = binary
    table = tabnn.compare(X, y, ["linear"], cv=2)
    assert list(table["model"]) == ["linear"]


def test_compare_split_hands_lightgbm_pandas_categories_from_polars():
    data = make_ctr(n_samples=1000, n_categorical=3, n_numeric=2, cardinality=5,
                    interactions=[("C1", "C2")], random_state=0)
    X = pl.from_pandas(data.data).with_columns(
        pl.col("C1", "C2", "C3").cast(pl.String).cast(pl.Categorical)
    )
    frame = to_lightgbm_frame(X)
    assert all(str(frame[c].dtype) == "category" for c in ["C1", "C2", "C3"])
    table = compare_split({"autoint": tabnn.AutoIntClassifier(max_epochs=2, random_state=0)},
                          X[:700], data.target[:700], X[700:], data.target[700:])
    assert list(table["model"]) == ["autoint", "LightGBM", "base rate"]
    assert np.isfinite(table["logloss"]).all()


def test_command_on_a_csv_needs_only_the_target(tmp_path, monkeypatch, capsys):
    data = load_dataset("heart")
    frame, target = data.frame, data.target.name
    path = tmp_path / "heart.csv"
    frame.to_csv(path, index=False)
    seen = {}

    def fast(X, y, **kwargs):  # the defaults the command passes, then a quick run
        seen.update(kwargs)
        return compare(X, y, **{**kwargs, "cv": 2, "params": FAST})

    monkeypatch.setattr("tabnn.__main__.compare", fast)
    main(["compare", "--csv", str(path), "--target", target, "--plot",
          str(tmp_path / "p.png"), "--out", str(tmp_path / "t.md")])
    assert seen["models"] is None and seen["cv"] == 5 and seen["time_budget"] == 20
    out = capsys.readouterr().out
    assert out.startswith(f"heart.csv: {len(frame):,} rows, {frame.shape[1] - 1} columns, binary")
    for name in ["LightGBM", "HistGradientBoosting", "linear", "AutoInt", "FoldSE"]:
        assert f"| {name} |" in out
    assert (tmp_path / "p.png").stat().st_size > 0
    assert "| model | kind | auc" in (tmp_path / "t.md").read_text()


def test_command_errors_name_the_fix(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["my.csv"])
    assert "python -m tabnn compare --csv my.csv --target COLUMN" in capsys.readouterr().err
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": [1, 2], "y": [0, 1]}).to_csv(path, index=False)
    with pytest.raises(SystemExit):
        main(["compare", "--csv", str(path), "--target", "label"])
    assert "no column 'label'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", "--csv", str(path)])
    assert "--target COL is required" in capsys.readouterr().err


def test_command_on_parquet_with_a_hold_out_split_writes_csv(tmp_path, capsys):
    data = make_ctr(n_samples=300, n_categorical=2, n_numeric=2, cardinality=4,
                    interactions=[("C1", "C2")], random_state=0)
    path = tmp_path / "d.parquet"
    pl.from_pandas(data.frame).with_columns(pl.col("C1", "C2").cast(pl.String)).write_parquet(
        path)
    main(["compare", "--parquet", str(path), "--target", "label", "--models", "linear",
          "HistGradientBoosting", "--test-size", "0.25", "--out", str(tmp_path / "t.csv"),
          "--quiet"])
    assert "one 0.25 hold-out split" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "t.csv")
    assert set(table["model"]) == {"linear", "HistGradientBoosting"}
    assert table["auc_std"].isna().all()  # one split: no spread
