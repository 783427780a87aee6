"""tabnn.plot: every display draws on a figure, from the numbers the estimator holds."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tabnn import AutoIntClassifier, FoldSEClassifier  # noqa: E402
from tabnn.datasets import make_ctr, make_rules  # noqa: E402
from tabnn.plot import (  # noqa: E402
    AttentionMapDisplay,
    FeatureImportanceDisplay,
    RuleCoverageDisplay,
    TrainingCurveDisplay,
    plot_attention,
    plot_importance,
    plot_rule_coverage,
    plot_training_curves,
)


@pytest.fixture(scope="module")
def fitted():
    data = make_ctr(n_samples=1500, n_categorical=4, n_numeric=2, cardinality=6,
                    interactions=0, main_effects=2, main_effect_strength=2.0, random_state=0)
    clf = AutoIntClassifier(max_epochs=3, attention_layers=1, attention_heads=2,
                            attention_head_dim=8, attend_numeric=True, dnn_hidden=(16,),
                            random_state=0)
    return clf.fit(data.data, data.target), data


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_training_curves(fitted):
    clf, _ = fitted
    display = plot_training_curves(clf)
    assert isinstance(display, TrainingCurveDisplay)
    np.testing.assert_allclose(display.train_loss, [r["train_loss"] for r in clf.history_])
    assert display.best_epoch == clf.best_iteration_
    assert display.metric_name == "valid AUC"
    assert len(display.ax_.get_lines()) >= 2 and display.figure_ is display.ax_.figure
    # drawing on given axes
    fig, ax = plt.subplots()
    assert TrainingCurveDisplay.from_estimator(clf, ax=ax).ax_ is ax


def test_importance(fitted):
    clf, data = fitted
    display = plot_importance(clf, max_features=3)
    assert isinstance(display, FeatureImportanceDisplay)
    assert len(display.importances) == 3 and len(display.ax_.patches) == 3
    top = list(data.data.columns[np.argsort(-clf.feature_importances_)[:3]])
    assert display.feature_names == top


def test_attention(fitted):
    clf, data = fitted
    display = plot_attention(clf, data.data.iloc[:50])
    assert isinstance(display, AttentionMapDisplay)
    assert display.fields == list(data.data.columns)
    np.testing.assert_allclose(display.attention.sum(axis=1), 1, atol=1e-5)
    assert len(display.ax_.images) == 1
    head = AttentionMapDisplay.from_estimator(clf, data.data.iloc[:50], head=1)
    assert head.attention.shape == display.attention.shape


def test_rule_coverage():
    data = make_rules(n_samples=600, random_state=0)
    clf = FoldSEClassifier().fit(data.data, data.target)
    display = plot_rule_coverage(clf, data.data, data.target)
    assert isinstance(display, RuleCoverageDisplay)
    assert display.rules[-1] == "default" and len(display.rules) == clf.n_top_rules_ + 1
    assert display.correct.sum() + display.wrong.sum() == len(data.target)
    coverage = RuleCoverageDisplay.from_estimator(clf, data.data)
    assert not coverage.wrong.any() and coverage.correct.sum() == len(data.target)
