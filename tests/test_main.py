import numpy as np
import polars as pl

from tabnn import AutoIntClassifier
from tabnn.__main__ import main
from tabnn.compare import compare, to_lightgbm_frame
from tabnn.datasets import make_ctr


def test_main_job_prints_autoint_next_to_lightgbm(capsys):
    main(["--rows", "3000", "--verbose", "0"])
    out = capsys.readouterr().out
    assert "tabnn AutoIntClassifier" in out and "LightGBM" in out and "base rate" in out


def test_compare_hands_lightgbm_pandas_categories_from_polars():
    data = make_ctr(n_samples=2000, n_categorical=3, n_numeric=2, cardinality=5,
                    interactions=[("C1", "C2")], random_state=0)
    X = pl.from_pandas(data.data).with_columns(
        pl.col("C1", "C2", "C3").cast(pl.String).cast(pl.Categorical)
    )
    frame = to_lightgbm_frame(X)
    assert all(str(frame[c].dtype) == "category" for c in ["C1", "C2", "C3"])
    table = compare({"autoint": AutoIntClassifier(max_epochs=2, random_state=0)},
                    X[:1500], data.target[:1500], X[1500:], data.target[1500:])
    assert list(table["model"]) == ["autoint", "LightGBM", "base rate"]
    assert np.isfinite(table["logloss"]).all()
