import os
from pathlib import Path

# Lets sklearn's check_array_api_input run instead of being skipped; must precede scipy imports.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
# Tests never touch the network: real data sets come from the shared data folder.
_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "TABNN_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["TABNN_DATA"] = str(_SHARED)

import pytest  # noqa: E402  (after the environment set-up above)


def pytest_configure(config):
    # Under pytest-xdist (`-n auto`, as CI runs) every worker is its own process: give each
    # an equal share of the cores, so two workers on two cores do not each start two torch
    # (and OpenMP) threads and fight over them.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(scope="session")
def xor_data():
    """The planted interaction of the neural-model tests: y depends on C1 x C2 alone.

    Returns ``(X_train, y_train, X_test, y_test, data)`` (6000 / 2000 rows).
    """
    from tabnn.datasets import make_ctr

    data = make_ctr(n_samples=8000, n_categorical=4, n_numeric=3, cardinality=8,
                    interactions=[("C1", "C2")], interaction_strength=4.0, noise=0.02,
                    random_state=0)
    X, y = data.data, data.target
    return X.iloc[:6000], y[:6000], X.iloc[6000:], y[6000:], data


@pytest.fixture(scope="session")
def linear_auc():
    """Test AUC of logistic regression on one-hot codes: the additive baseline a model that
    learns interactions must beat. ``columns=None`` one-hot encodes every column."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    def auc(X, y, Xt, yt, columns=None):
        if columns is not None:
            X, Xt = X[columns], Xt[columns]
        model = make_pipeline(OneHotEncoder(handle_unknown="ignore"),
                              LogisticRegression(max_iter=1000)).fit(X, y)
        return roc_auc_score(yt, model.predict_proba(Xt)[:, 1])

    return auc
