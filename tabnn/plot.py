"""Plots of fitted tabnn estimators, in the style of scikit-learn's ``Display`` objects.

Each display is built with ``Display.from_estimator(...)``, which computes what is drawn and
calls :meth:`plot`; the display keeps the numbers (``epochs``, ``importances``, ...) and the
matplotlib ``ax_`` / ``figure_`` it drew on, so a plot can be redrawn or restyled. The
functions :func:`plot_training_curves`, :func:`plot_importance`, :func:`plot_attention` and
:func:`plot_rule_coverage` are one-line shortcuts returning the display.

matplotlib is an optional dependency: ``pip install "tabnn[plot]"``.

Examples
--------
>>> from tabnn.plot import TrainingCurveDisplay  # doctest: +SKIP
>>> display = TrainingCurveDisplay.from_estimator(clf)  # doctest: +SKIP
>>> display.figure_.savefig("curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "AttentionMapDisplay",
    "FeatureImportanceDisplay",
    "RuleCoverageDisplay",
    "TrainingCurveDisplay",
    "plot_attention",
    "plot_importance",
    "plot_rule_coverage",
    "plot_training_curves",
]


def _axes(ax):
    """``ax``, or new axes on a new figure."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'tabnn.plot needs matplotlib: pip install "tabnn[plot]" (or matplotlib)') from exc
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _feature_names(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(estimator.n_features_in_)]
    return [str(n) for n in names]


class TrainingCurveDisplay:
    """Training and validation loss per epoch of a neural estimator (from ``history_``).

    The validation metric (AUC or accuracy) or the ``scoring`` value is drawn on a second
    y axis, and the epoch whose weights were kept is marked.

    Parameters
    ----------
    epochs : ndarray of int
        Epoch numbers (1-based, counted over all stages).
    train_loss, valid_loss : ndarray of float
        Losses per epoch (NaN where there was no validation).
    valid_metric : ndarray of float or None
        Validation score per epoch (None: none recorded).
    metric_name : str
        Label of ``valid_metric``.
    best_epoch : int or None
        Epoch whose weights were kept (counted like ``epochs``).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, epochs, train_loss, valid_loss, valid_metric=None, metric_name="",
                 best_epoch=None):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.valid_metric = valid_metric
        self.metric_name = metric_name
        self.best_epoch = best_epoch

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Read ``estimator.history_`` and plot it.

        Parameters
        ----------
        estimator : fitted neural estimator
        ax : matplotlib Axes, default=None
            Axes to draw on (None: a new figure).

        Returns
        -------
        display : TrainingCurveDisplay
        """
        check_is_fitted(estimator, "history_")
        history = estimator.history_

        def column(key):
            return np.array([np.nan if r.get(key) is None else r[key] for r in history], float)

        score, name = column("valid_score"), "valid_score"
        if np.isnan(score).all():
            score = column("valid_metric")
            name = {"binary": "valid AUC", "multiclass": "valid accuracy"}.get(
                getattr(estimator, "_task", None), "valid metric")
        # the kept epoch is counted within the last stage: place it on the global axis
        last_stage = history[-1]["stage"] if history else None
        offset = sum(1 for r in history if r["stage"] != last_stage)
        best = getattr(estimator, "best_iteration_", None)
        display = cls(np.arange(1, len(history) + 1), column("train_loss"),
                      column("valid_loss"), None if np.isnan(score).all() else score, name,
                      None if best is None else best + offset)
        return display.plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw on ``ax`` (None: a new figure); returns the display."""
        ax = _axes(ax)
        ax.plot(self.epochs, self.train_loss, marker="o", label="train loss")
        if not np.isnan(self.valid_loss).all():
            ax.plot(self.epochs, self.valid_loss, marker="o", label="valid loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        handles, labels = ax.get_legend_handles_labels()
        if self.valid_metric is not None:
            twin = ax.twinx()
            (line,) = twin.plot(self.epochs, self.valid_metric, marker="s", color="tab:green",
                                linestyle="--", label=self.metric_name)
            twin.set_ylabel(self.metric_name)
            handles.append(line)
            labels.append(self.metric_name)
        if self.best_epoch is not None:
            handles.append(ax.axvline(self.best_epoch, color="grey", linestyle=":"))
            labels.append(f"kept epoch {self.best_epoch}")
        ax.legend(handles, labels, loc="best")
        ax.set_xticks(self.epochs if len(self.epochs) <= 20 else ax.get_xticks())
        self.ax_, self.figure_ = ax, ax.figure
        return self


class FeatureImportanceDisplay:
    """Horizontal bars of ``feature_importances_``, largest on top.

    Parameters
    ----------
    importances : ndarray of float
    feature_names : list of str

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, importances, feature_names):
        self.importances = importances
        self.feature_names = feature_names

    @classmethod
    def from_estimator(cls, estimator, *, max_features=20, ax=None):
        """Plot the ``max_features`` largest importances of ``estimator``.

        Parameters
        ----------
        estimator : fitted estimator with ``feature_importances_``
            Any tabnn neural estimator (or a LightGBM / scikit-learn tree model).
        max_features : int or None, default=20
            How many features to show (None: all).
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : FeatureImportanceDisplay
        """
        importances = np.asarray(estimator.feature_importances_, dtype=float)
        names = np.array(_feature_names(estimator), dtype=object)
        order = np.argsort(-importances, kind="stable")[:max_features]
        return cls(importances[order], list(names[order])).plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw on ``ax`` (None: a new figure); returns the display."""
        ax = _axes(ax)
        y = np.arange(len(self.importances))[::-1]
        ax.barh(y, self.importances, color="tab:blue")
        ax.set_yticks(y, self.feature_names)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel("importance")
        ax.set_title("feature importances")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class AttentionMapDisplay:
    """Heat map of AutoInt attention between fields, averaged over rows (and heads).

    Parameters
    ----------
    attention : ndarray of shape (F, F)
        ``attention[f, g]``: mean weight field ``f`` gives to field ``g``.
    fields : list of str
        Field names, in input column order.
    title : str

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, attention, fields, title=""):
        self.attention = attention
        self.fields = fields
        self.title = title

    @classmethod
    def from_estimator(cls, estimator, X, *, layer=0, head=None, ax=None):
        """Average ``estimator.attention_maps(X)`` over the rows of ``X`` and plot it.

        Parameters
        ----------
        estimator : fitted AutoIntClassifier or AutoIntRegressor
        X : array-like, pandas or polars DataFrame
            Rows to average over.
        layer : int, default=0
            Interacting layer.
        head : int or None, default=None
            Attention head (None: the mean over heads).
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : AttentionMapDisplay
        """
        maps, fields = estimator.attention_maps(X, return_fields=True)
        if not maps:
            raise ValueError("the model has no attention layer (attention_layers=0 or no "
                             "attended field)")
        m = maps[layer].mean(axis=0)
        m = m.mean(axis=0) if head is None else m[head]
        title = f"attention, layer {layer}" + ("" if head is None else f", head {head}")
        return cls(m, fields, title).plot(ax=ax)

    def plot(self, *, ax=None, cmap="viridis"):
        """Draw on ``ax`` (None: a new figure); returns the display."""
        ax = _axes(ax)
        image = ax.imshow(self.attention, cmap=cmap)
        ticks = np.arange(len(self.fields))
        ax.set_xticks(ticks, self.fields, rotation=90)
        ax.set_yticks(ticks, self.fields)
        ax.set_xlabel("attended field")
        ax.set_ylabel("attending field")
        ax.set_title(self.title)
        ax.figure.colorbar(image, ax=ax)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class RuleCoverageDisplay:
    """How many rows each FOLD-SE rule decides (and, given labels, how many correctly).

    Parameters
    ----------
    rules : list of str
        Rule names (``r1``, ``r2``, ..., ``default``) in decision order.
    correct, wrong : ndarray of float
        Rows decided by each rule with the right / wrong prediction (``wrong`` is all zero
        when no labels were given: ``correct`` is then the coverage).
    texts : list of str
        The rule texts (for the tick labels).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, rules, correct, wrong, texts):
        self.rules = rules
        self.correct = correct
        self.wrong = wrong
        self.texts = texts

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, ax=None, max_text=60):
        """Apply ``estimator.explain`` to ``X`` and plot the rows each rule decides.

        Parameters
        ----------
        estimator : fitted FoldSEClassifier
        X : array-like, pandas or polars DataFrame
        y : array-like or None, default=None
            True labels: splits each bar into right and wrong predictions.
        ax : matplotlib Axes, default=None
        max_text : int, default=60
            Rule texts longer than this are cut in the tick labels.

        Returns
        -------
        display : RuleCoverageDisplay
        """
        check_is_fitted(estimator, "rule_program_")
        explanation = estimator.explain(X)
        program = [line for line in estimator.rule_program_ if line.head is not None]
        rules = [line.name for line in program] + ["default"]
        texts = [line.text for line in program] + [f"otherwise {estimator.default_class_}"]
        fired = explanation["rule"].to_numpy()
        right = (np.ones(len(fired), bool) if y is None
                 else explanation["prediction"].to_numpy() == np.asarray(y))
        correct = np.array([np.sum((fired == r) & right) for r in rules], dtype=float)
        wrong = np.array([np.sum((fired == r) & ~right) for r in rules], dtype=float)
        texts = [t if len(t) <= max_text else t[: max_text - 3] + "..." for t in texts]
        return cls(rules, correct, wrong, texts).plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw on ``ax`` (None: a new figure); returns the display."""
        ax = _axes(ax)
        y = np.arange(len(self.rules))[::-1]
        ax.barh(y, self.correct, color="tab:green",
                label="correct" if self.wrong.any() else "rows")
        if self.wrong.any():
            ax.barh(y, self.wrong, left=self.correct, color="tab:red", label="wrong")
        ax.set_yticks(y, [f"{r}: {t}" for r, t in zip(self.rules, self.texts)])
        ax.set_xlabel("rows decided")
        ax.set_title("FOLD-SE rule coverage")
        ax.legend(loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def plot_training_curves(estimator, *, ax=None):
    """Training curves of ``estimator.history_`` (see :class:`TrainingCurveDisplay`)."""
    return TrainingCurveDisplay.from_estimator(estimator, ax=ax)


def plot_importance(estimator, *, max_features=20, ax=None):
    """Bars of ``feature_importances_`` (see :class:`FeatureImportanceDisplay`)."""
    return FeatureImportanceDisplay.from_estimator(estimator, max_features=max_features, ax=ax)


def plot_attention(estimator, X, *, layer=0, head=None, ax=None):
    """AutoInt attention heat map over ``X`` (see :class:`AttentionMapDisplay`)."""
    return AttentionMapDisplay.from_estimator(estimator, X, layer=layer, head=head, ax=ax)


def plot_rule_coverage(estimator, X, y=None, *, ax=None):
    """Rows decided by each FOLD-SE rule (see :class:`RuleCoverageDisplay`)."""
    return RuleCoverageDisplay.from_estimator(estimator, X, y, ax=ax)
