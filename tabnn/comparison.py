"""Does a tabnn model beat gradient boosting on your data? :func:`compare` and its helpers.

:func:`compare` cross-validates every tabnn estimator that applies to the task (the registry
:func:`tabnn.estimators.all_estimators` is the list, so a new model appears by itself) next to
LightGBM, scikit-learn's ``HistGradientBoosting*``, a linear model and the base rate, all on the
same folds, and returns a leaderboard. ``python -m tabnn compare`` is its command line.

The boosting baselines get native categorical columns: a pandas frame whose categorical columns
are ``category`` with the levels seen in training (LightGBM mispredicts reordered frames and
aborts on polars categoricals; HistGradientBoosting reads ``category`` columns natively).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.multiclass import type_of_target

from .callbacks import Callback

__all__ = [
    "BASELINES",
    "FoldResults",
    "METRICS",
    "compare",
    "compare_split",
    "ctr_benchmark_data",
    "format_leaderboard",
    "plot_leaderboard",
    "to_lightgbm_frame",
]

#: name -> (tasks it applies to, higher is better)
METRICS = {
    "auc": (("binary", "multiclass"), True),
    "logloss": (("binary", "multiclass"), False),
    "accuracy": (("binary", "multiclass"), True),
    "rmse": (("regression",), False),
    "mae": (("regression",), False),
    "r2": (("regression",), True),
}
_TIMES = {"fit_seconds": False, "predict_seconds": False}


def _is_categorical(col):
    return isinstance(col.dtype, pd.CategoricalDtype) or col.dtype.kind in "OUSb" or str(
        col.dtype) in ("str", "string")


def _to_pandas(X):
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "to_pandas"):
        return X.to_pandas()
    X = pd.DataFrame(np.asarray(X))
    X.columns = [f"x{i}" for i in range(X.shape[1])]
    return X


def to_lightgbm_frame(X):
    """A pandas copy of ``X`` with string / boolean / categorical columns as ``category``."""
    X = _to_pandas(X)
    out = {name: col.astype("category") if _is_categorical(col) else col
           for name, col in X.items()}
    return pd.DataFrame(out, index=X.index)


class NativeCategoricalFrame(TransformerMixin, BaseEstimator):
    """A pandas frame with the categorical columns as ``category`` of the training levels.

    The boosting baselines' first step: any container in, the training column order and
    category levels out, so that the codes a booster reads mean the same at predict time.

    Parameters
    ----------
    max_categories : int or None, default=None
        Keep at most this many levels per column (the most frequent); rarer values become
        missing. ``HistGradientBoosting`` accepts at most 255 levels.
    """

    def __init__(self, max_categories=None):
        self.max_categories = max_categories

    def fit(self, X, y=None):
        """Learn the column order and the levels of each categorical column."""
        X = to_lightgbm_frame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categories_ = {}
        for name, col in X.items():
            if isinstance(col.dtype, pd.CategoricalDtype):
                counts = col.value_counts(sort=True)
                counts = counts[counts > 0]
                if self.max_categories is not None:
                    counts = counts.iloc[: self.max_categories]
                self.categories_[name] = list(counts.index)
        return self

    def transform(self, X):
        """``X`` as a pandas frame in the training column order with the training levels."""
        X = _to_pandas(X)[list(self.feature_names_in_)]
        out = {}
        for name, col in X.items():
            if name in self.categories_:
                levels = self.categories_[name]
                col = col.astype(object)
                col = col.where(col.isin(levels)).astype(pd.CategoricalDtype(levels))
            out[name] = col
        return pd.DataFrame(out, index=X.index)


def _linear_pipeline(model):
    categorical = make_column_selector(dtype_include="category")
    numeric = make_column_selector(dtype_exclude="category")
    return make_pipeline(
        NativeCategoricalFrame(),
        ColumnTransformer([
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
             categorical),
            ("scale", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()),
             numeric),
        ]),
        model,
    )


def _lightgbm(task):
    import lightgbm as lgb

    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    return make_pipeline(NativeCategoricalFrame(), cls(verbose=-1))


def _hist_gradient_boosting(task):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingRegressor if task == "regression" else (
        HistGradientBoostingClassifier)
    return make_pipeline(NativeCategoricalFrame(max_categories=255),
                         cls(categorical_features="from_dtype"))


def _linear(task):
    if task == "regression":
        return _linear_pipeline(Ridge())
    return _linear_pipeline(LogisticRegression(max_iter=1000))


def _base_rate(task):
    return DummyRegressor() if task == "regression" else DummyClassifier(strategy="prior")


#: The reference models of :func:`compare`: name -> factory(task) of an unfitted estimator.
BASELINES = {
    "LightGBM": _lightgbm,
    "HistGradientBoosting": _hist_gradient_boosting,
    "linear": _linear,
    "base rate": _base_rate,
}


def ctr_benchmark_data(n_samples, random_state=0):
    """The CTR-like table used by the main job and the AutoInt benchmark.

    26 Zipf-distributed categorical fields with cardinalities spread geometrically from 10 to
    100,000, 13 heavy-tailed numeric fields, a label driven by three planted interactions
    (pairwise categorical, categorical x numeric, third order) and seven main effects; the
    high-cardinality fields carry little signal, so memorising them overfits.
    """
    from .datasets import make_ctr

    return make_ctr(
        n_samples=n_samples,
        n_categorical=26,
        n_numeric=13,
        cardinality=[int(c) for c in np.geomspace(10, 100_000, 26)],
        interactions=[("C2", "C4"), ("C6", "I1"), ("C3", "C8", "I2")],
        main_effects=["C10", "C12", "C14", "C16", "I3", "I4", "C20"],
        main_effect_strength=1.0,
        random_state=random_state,
    )


# -- models ---------------------------------------------------------------------------------

def _short(name):
    return name.removesuffix("Classifier").removesuffix("Regressor")


def _candidates(task):
    """``{name: (factory, kinds)}`` of every model that applies to ``task``, registry first."""
    from .estimators import all_estimators

    kind = "regressor" if task == "regression" else "classifier"
    out = {}
    for name, cls in all_estimators(kind):
        kinds = ("tabnn",) + tuple(k for k in ("neural", "rules", "meta")
                                   if (name, cls) in all_estimators(k))
        if task == "multiclass" and not _supports_multiclass(cls):
            continue
        out[_short(name)] = (lambda cls=cls: cls(), kinds)
    for name, factory in BASELINES.items():
        out[name] = (lambda factory=factory: factory(task), ("baseline",))
    return out


def _kinds_of(name, est):
    from .estimators import all_estimators

    if name in BASELINES:
        return ("baseline",)
    kinds = tuple(k for k in ("neural", "rules", "meta") if type(_final(est)) in
                  {cls for _, cls in all_estimators(k)})
    return ("tabnn", *kinds) if kinds else ("custom",)


def _supports_multiclass(cls):
    try:
        tags = cls().__sklearn_tags__()
    except Exception:  # noqa: BLE001 - an estimator without tags is assumed to support it
        return True
    return getattr(tags.classifier_tags, "multi_class", True) is not False


def _resolve_models(models, task):
    """``[(name, unfitted estimator, kinds)]`` from the ``models`` argument."""
    available = _candidates(task)
    if models is None:
        return [(name, factory(), kinds) for name, (factory, kinds) in available.items()]
    if isinstance(models, dict):
        out = []
        return [(str(name), est, _kinds_of(name, est)) for name, est in models.items()]
    if isinstance(models, str):
        models = [models]
    lookup = {k.lower(): k for k in available}
    out = []
    for name in models:
        key = _short(str(name)).lower()
        if key not in lookup:
            raise ValueError(f"unknown model {name!r} for a {task} task; available: "
                             f"{', '.join(available)}")
        factory, kinds = available[lookup[key]]
        out.append((lookup[key], factory(), kinds))
    return out


def _apply_params(name, est, kinds, params, random_state):
    """Seed ``est``, silence it, then set the user's ``params`` for this name / kind / '*'.

    A meta-estimator's (OptFS) backbone counts as a neural model: seed, kind and '*'
    parameters reach it too."""
    targets = [_final(est)]
    backbone = _backbone(est)
    if backbone is not None and backbone is not targets[0]:
        targets.append(backbone)
        kinds = (*kinds, "neural")
    for target in targets:
        own = target.get_params(deep=False)
        base = {k: v for k, v in (("random_state", random_state), ("verbose", 0)) if k in own
                and (k == "random_state" or target is backbone)}
        target.set_params(**base)
    for key, values in (params or {}).items():
        if key == name:
            try:
                _final(est).set_params(**values)
            except ValueError as exc:
                raise ValueError(f"params[{key!r}]: {exc}") from None
        elif key == "*" or key in kinds:
            for param, value in values.items():
                for target in targets:
                    if param in target.get_params(deep=False):
                        target.set_params(**{param: value})
                        break
    return est


def _final(est):
    return est.steps[-1][1] if hasattr(est, "steps") else est


def _backbone(est):
    """The neural estimator that trains: ``est`` itself, or a meta-estimator's ``estimator``
    (its default put in place); None for other models."""
    final = _final(est)
    own = final.get_params(deep=False)
    if "callbacks" in own:
        return final
    if "estimator" in own:
        inner = own["estimator"]
        if inner is None and hasattr(final, "_default_estimator"):
            inner = final._default_estimator()
            final.set_params(estimator=inner)
        if inner is not None and "callbacks" in inner.get_params(deep=False):
            return inner
    return None


def _fitted_network(est):
    """The fitted neural estimator inside ``est`` (itself or a meta-estimator's), or None."""
    final = _final(est)
    for candidate in (final, getattr(final, "estimator_", None)):
        if candidate is not None and hasattr(candidate, "module_"):
            return candidate
    return None


class _FitBudget(Callback):
    """Stop a fit that would run past ``seconds``: after an epoch, training ends when one more
    epoch as long as the last would finish past the budget (the first epoch always runs).
    One budget spans all the fit's stages; ``hit_`` says whether it stopped training."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.start_ = None
        self.hit_ = False

    def on_train_begin(self, trainer):
        if self.start_ is None:
            self.start_ = time.perf_counter()
        self.epoch_start_ = time.perf_counter()

    def on_epoch_begin(self, trainer):
        self.epoch_start_ = time.perf_counter()

    def on_epoch_end(self, trainer):
        now = time.perf_counter()
        if now - self.start_ + (now - self.epoch_start_) > self.seconds:
            self.hit_ = self.hit_ or not trainer.stop_training
            trainer.stop_training = True


# -- scoring --------------------------------------------------------------------------------

def _task_of(y, task):
    if task not in (None, "auto"):
        if task not in ("binary", "multiclass", "regression"):
            raise ValueError(f"task must be 'auto', 'binary', 'multiclass' or 'regression'; "
                             f"got {task!r}")
        return task
    kind = type_of_target(y)
    if kind == "binary":
        return "binary"
    if kind == "multiclass" and y.dtype.kind == "f":  # whole numbers stored as floats
        return "regression"
    if kind == "multiclass":
        n_classes = len(np.unique(y))
        if n_classes > 50:
            raise ValueError(f"the target has {n_classes} distinct labels: pass "
                             f"task='regression' or task='multiclass'")
        return "multiclass"
    if kind == "continuous":
        return "regression"
    raise ValueError(f"cannot tell the task from a target of type {kind!r}; pass task=")


def _metric_names(scoring, task):
    names = [m for m, (tasks, _) in METRICS.items() if task in tasks]
    if scoring is None:
        return names
    scoring = [scoring] if isinstance(scoring, str) else list(scoring)
    bad = [m for m in scoring if m not in names]
    if bad:
        raise ValueError(f"scoring {bad} do not apply to a {task} task; choose from {names}")
    return scoring


def _score(task, metrics, y_true, est, X_test, classes):
    """``({metric: value}, predict seconds)`` of a fitted model on the test rows."""
    start = time.perf_counter()
    if task == "regression":
        pred = np.asarray(est.predict(X_test), dtype=float).ravel()
        seconds = time.perf_counter() - start
        values = {"rmse": lambda: root_mean_squared_error(y_true, pred),
                  "mae": lambda: mean_absolute_error(y_true, pred),
                  "r2": lambda: r2_score(y_true, pred)}
        return {m: float(values[m]()) for m in metrics}, seconds
    raw = np.asarray(est.predict_proba(X_test), dtype=float)
    seconds = time.perf_counter() - start
    # a class absent from the training fold has no column: give it probability 0
    proba = np.zeros((len(y_true), len(classes)))
    proba[:, np.searchsorted(classes, est.classes_)] = raw
    out = {}
    for m in metrics:
        if m == "accuracy":
            out[m] = accuracy_score(y_true, classes[proba.argmax(1)])
        elif m == "logloss":
            out[m] = log_loss(y_true, np.clip(proba, 1e-15, 1), labels=classes)
        elif m == "auc":
            out[m] = _auc(task, y_true, proba, classes)
    return {m: float(v) for m, v in out.items()}, seconds


def _auc(task, y_true, proba, classes):
    """ROC AUC; multi-class: one-vs-rest, macro over the classes the test rows contain (a
    class too rare to reach every fold has no positives there, so no AUC of its own)."""
    present = np.isin(classes, y_true)
    if present.sum() < 2:
        return np.nan
    if task == "binary":
        return roc_auc_score(y_true, proba[:, 1])
    if present.all():
        return roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    return float(np.mean([roc_auc_score(y_true == c, proba[:, i])
                          for i, c in enumerate(classes) if present[i]]))


def _size(est):
    """How big the fitted model is, in its own unit (parameters, rules, leaves, weights)."""
    network = _fitted_network(est)
    if network is not None:
        return f"{sum(p.numel() for p in network.module_.parameters()):,} params"
    est = _final(est)
    if hasattr(est, "n_rules_"):
        return f"{est.n_rules_} rules"
    if hasattr(est, "booster_"):
        info = est.booster_.dump_model()["tree_info"]
        return f"{len(info)} trees, {sum(t['num_leaves'] for t in info):,} leaves"
    if hasattr(est, "_predictors"):
        trees = [t for it in est._predictors for t in it]
        return f"{len(trees)} trees, {sum(t.get_n_leaf_nodes() for t in trees):,} leaves"
    if hasattr(est, "coef_"):
        return f"{int(np.count_nonzero(est.coef_)):,} weights"
    return ""


# -- splitting ------------------------------------------------------------------------------

def _splits(cv, X, y, task, random_state, n_rows):
    """The list of ``(train_rows, test_rows)`` every model uses."""
    rows = np.arange(n_rows)
    classify = task != "regression"
    if isinstance(cv, float) and 0 < cv < 1:
        strat = y if classify else None
        try:
            train, test = train_test_split(rows, test_size=cv, random_state=random_state,
                                           stratify=strat)
        except ValueError:
            train, test = train_test_split(rows, test_size=cv, random_state=random_state)
        return [(np.sort(train), np.sort(test))]
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds (or a test fraction); got {cv}")
        splitter = (StratifiedKFold if classify else KFold)(
            n_splits=int(cv), shuffle=True, random_state=random_state)
        if classify and np.min(np.unique(y, return_counts=True)[1]) < cv:
            splitter = KFold(n_splits=int(cv), shuffle=True, random_state=random_state)
        return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(rows, y)]
    if hasattr(cv, "split"):
        return [(np.asarray(a), np.asarray(b)) for a, b in cv.split(rows, y)]
    return [(np.asarray(a), np.asarray(b)) for a, b in cv]


def _take(X, rows):
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows]
    if hasattr(X, "to_pandas") and hasattr(X, "columns"):  # polars
        return X[rows]
    return np.asarray(X)[rows]


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


# -- progress -------------------------------------------------------------------------------

class _Progress:
    """A tqdm bar on a terminal, one line per fit otherwise; nothing with ``verbose=0``."""

    def __init__(self, total, verbose):
        self.verbose, self.start = verbose, time.perf_counter()
        self.bar = None
        if verbose and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="fit", file=sys.stderr, leave=False)

    def begin(self, name, fold, n_folds):
        if self.bar is not None:
            self.bar.set_description(f"{name} fold {fold}/{n_folds}")

    def end(self, name, fold, n_folds, message):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(message, refresh=True)
        elif self.verbose:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:6.0f}s] {name} fold {fold}/{n_folds}: {message}",
                  file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# -- compare --------------------------------------------------------------------------------

def compare(X, y, models=None, *, cv=5, scoring=None, task="auto", params=None,
            time_budget=None, random_state=0, verbose=0):
    """Cross-validate tabnn estimators next to gradient boosting on the same folds.

    Parameters
    ----------
    X : pandas or polars DataFrame or array-like of shape (n_samples, n_features)
        Features; categorical columns as the estimators read them (strings, ``category``,
        polars ``String`` / ``Categorical``, bools).
    y : array-like of shape (n_samples,)
        Target: class labels (binary or multi-class) or numbers (regression).
    models : None, list of str or dict of str -> estimator, default=None
        None: every tabnn estimator that applies to the task (the registry
        :func:`tabnn.estimators.all_estimators`) at its defaults, plus the :data:`BASELINES`
        (LightGBM, HistGradientBoosting, a linear model, the base rate). A list picks among
        those by name (``"AutoInt"`` or ``"AutoIntClassifier"``, ``"LightGBM"``, ...); a dict
        gives your own unfitted estimators under display names.
    cv : int, float, splitter or iterable of (train, test) index arrays, default=5
        An int: that many shuffled folds (stratified for classification); a float in (0, 1):
        one hold-out split with that test fraction; or any scikit-learn splitter.
    scoring : str or list of str, default=None
        Metrics from :data:`METRICS` (None: all of the task's: AUC, logloss, accuracy; or
        RMSE, MAE, R2). The first one ranks the leaderboard.
    task : {"auto", "binary", "multiclass", "regression"}, default="auto"
        "auto" reads it from ``y`` (:func:`sklearn.utils.multiclass.type_of_target`; a float
        target with more than two values is a regression).
    params : dict, default=None
        Parameters to set before fitting: ``{key: {param: value}}`` where ``key`` is a
        model's name (every parameter must exist), a kind (``"neural"``, ``"rules"``,
        ``"tabnn"``, ``"baseline"``) or ``"*"`` (set where the parameter exists), e.g.
        ``{"neural": {"max_epochs": 5}}``.
    time_budget : float or None, default=None
        Seconds per neural fit: training stops before an epoch that would end past it (the
        first epoch always runs); such models are marked in the ``note`` column. None: no
        limit (every model trains to its own early stopping).
    random_state : int, default=0
        Seeds the folds and every model that has a ``random_state``.
    verbose : int, default=0
        1: progress while it runs (a bar on a terminal, a line per fit otherwise).

    Returns
    -------
    leaderboard : pandas.DataFrame
        One row per model, best first by the first metric: ``model``, ``kind``, per metric
        its mean over folds and ``<metric>_std``, ``fit_seconds`` and ``predict_seconds``
        (means), ``epochs`` (mean, neural models), ``size`` (parameters, rules, leaves or
        weights), ``note`` (the time budget hit, an error, an interruption). ``attrs`` holds
        ``task``, ``metrics``, ``folds`` (a :class:`FoldResults`: the folds' test rows and
        one row of scores per model and fold), ``time_budget`` and ``interrupted``. On
        Ctrl-C the models finished so far are returned. Format it with
        :func:`format_leaderboard`, draw it with :func:`plot_leaderboard`.

    Examples
    --------
    >>> from tabnn import compare
    >>> from tabnn.datasets import make_ctr
    >>> data = make_ctr(n_samples=2000, n_categorical=4, n_numeric=2, cardinality=10,
    ...                 interactions=[("C1", "C2")], random_state=0)
    >>> table = compare(data.data, data.target, models=["AutoInt", "LightGBM"], cv=3,
    ...                 params={"neural": {"max_epochs": 3}})
    >>> list(table["model"])  # doctest: +SKIP
    ['AutoInt', 'LightGBM']
    """
    y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    n_rows = _n_rows(X)
    if len(y) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(y)}")
    task = _task_of(y, task)
    metrics = _metric_names(scoring, task)
    splits = _splits(cv, X, y, task, random_state, n_rows)
    entries = [(name, _apply_params(name, est, kinds, params, random_state), kinds)
               for name, est, kinds in _resolve_models(models, task)]
    classes = np.unique(y) if task != "regression" else None
    if task == "regression":
        y = y.astype(float)

    folds, rows, records, interrupted = [], [], [], False
    progress = _Progress(len(entries) * len(splits), verbose)
    try:
        for name, template, kinds in entries:
            records, note = [], ""
            for k, (train, test) in enumerate(splits, 1):
                progress.begin(name, k, len(splits))
                record, error = _fit_one(template, task, metrics, X, y, train, test,
                                         classes, time_budget)
                if error is not None:
                    note = f"failed in fold {k}: {error}"
                    progress.end(name, k, len(splits), "failed")
                    break
                records.append(record)
                folds.append({"model": name, "fold": k, **record})
                shown = ", ".join(f"{m} {record[m]:.4f}" for m in metrics[:1])
                progress.end(name, k, len(splits), f"{shown} ({record['fit_seconds']:.1f}s)")
            rows.append(_row(name, kinds, records, metrics, note, len(splits)))
    except KeyboardInterrupt:
        interrupted = True
        if records:
            rows.append(_row(name, kinds, records, metrics,
                             f"interrupted after {len(records)}/{len(splits)} folds",
                             len(splits)))
        warnings.warn("compare interrupted: returning the models finished so far",
                      stacklevel=2)
    finally:
        progress.close()
    return _leaderboard(rows, folds, metrics, task, splits, time_budget, interrupted)


def _fit_one(template, task, metrics, X, y, train, test, classes, time_budget):
    """``(record, None)`` for one model on one fold, or ``(None, "Error: message")``."""
    est = clone(template)
    budget, backbone = None, _backbone(est)
    if time_budget is not None and backbone is not None:
        budget = _FitBudget(time_budget)
        backbone.set_params(callbacks=[*(backbone.callbacks or ()), budget])
    try:
        X_train, X_test = _take(X, train), _take(X, test)
        start = time.perf_counter()
        est.fit(X_train, y[train])
        fit_seconds = time.perf_counter() - start
        scores, predict_seconds = _score(task, metrics, y[test], est, X_test, classes)
    except Exception as exc:  # noqa: BLE001 - one model's failure is reported in its row
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    network = _fitted_network(est)
    return {**scores, "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
            "epochs": network.n_iter_ if network is not None else np.nan,
            "size": _size(est), "budget_hit": bool(budget is not None and budget.hit_)}, None


def _row(name, kinds, records, metrics, note, n_folds):
    row = {"model": name, "kind": _kind_label(kinds)}
    for m in metrics:
        values = np.array([r[m] for r in records], dtype=float)
        row[m] = float(np.mean(values)) if len(values) else np.nan
        row[f"{m}_std"] = float(np.std(values)) if len(values) > 1 else np.nan
    for t in _TIMES:
        row[t] = float(np.mean([r[t] for r in records])) if records else np.nan
    row["epochs"] = float(np.mean([r["epochs"] for r in records])) if records else np.nan
    row["size"] = records[-1]["size"] if records else ""
    hits = sum(r["budget_hit"] for r in records)
    if hits and not note:
        note = f"stopped by the time budget in {hits}/{n_folds} folds"
    row["note"] = note
    return row


def _kind_label(kinds):
    for k in ("meta", "neural", "rules", "baseline", "custom"):
        if k in kinds:
            return k
    return kinds[0]


def _leaderboard(rows, folds, metrics, task, splits, time_budget, interrupted):
    columns = ["model", "kind"]
    for m in metrics:
        columns += [m, f"{m}_std"]
    columns += [*_TIMES, "epochs", "size", "note"]
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        first = metrics[0]
        table = table.sort_values(first, ascending=not METRICS[first][1],
                                  na_position="last", kind="stable").reset_index(drop=True)
    table.attrs.update(task=task, metrics=list(metrics), time_budget=time_budget,
                       interrupted=interrupted,
                       folds=FoldResults([test for _, test in splits], pd.DataFrame(folds)))
    return table


class FoldResults:
    """What :func:`compare` did on each fold; a leaderboard keeps it in ``attrs["folds"]``.

    Parameters
    ----------
    splits : sequence of array-like of int
        Each fold's test rows (positions in ``X``).
    scores : pandas.DataFrame
        One row per model and fold.

    Attributes
    ----------
    splits : tuple of numpy.ndarray
        Each fold's test rows, read-only.
    scores : pandas.DataFrame
        ``model``, ``fold`` (from 1), every metric, ``fit_seconds``, ``predict_seconds``,
        ``epochs``, ``size`` and ``budget_hit``.

    Notes
    -----
    ``pd.concat`` keeps ``attrs`` only when the inputs' ``attrs`` compare equal, so this
    object compares by value and answers a plain bool (a bare frame or list of arrays would
    raise there). Leaderboards of one run concatenate with their ``attrs``; leaderboards of
    different runs concatenate without them.
    """

    def __init__(self, splits, scores):
        self.splits = tuple(_read_only(np.asarray(s)) for s in splits)
        self.scores = scores

    def __eq__(self, other):
        if not isinstance(other, FoldResults):
            return NotImplemented
        return (self is other or (
            len(self.splits) == len(other.splits)
            and all(np.array_equal(a, b) for a, b in zip(self.splits, other.splits))
            and self.scores.equals(other.scores)))

    __hash__ = None

    def __deepcopy__(self, memo):
        # pandas deep-copies attrs on every operation: share the read-only row indices
        return FoldResults(self.splits, self.scores.copy())

    def __repr__(self):
        models = self.scores["model"].nunique() if "model" in self.scores else 0
        return f"FoldResults({len(self.splits)} folds, {models} models)"


def _read_only(array):
    if not array.flags.writeable:
        return array
    array = array.view()
    array.flags.writeable = False
    return array


def compare_split(estimators, X_train, y_train, X_test, y_test, *, lightgbm=True,
                  random_state=0):
    """Fit each estimator (and LightGBM, and the base rate) on one given split.

    :func:`compare` with the split as its single fold, in the given order.

    Parameters
    ----------
    estimators : dict of str -> estimator
        Unfitted estimators.
    X_train, y_train, X_test, y_test : data
        The split (same container type for both parts).
    lightgbm : bool, default=True
        Add the LightGBM baseline.
    random_state : int, default=0
        Seed of the baselines.

    Returns
    -------
    table : pandas.DataFrame
        As :func:`compare`, one row per model in the given order.
    """
    if isinstance(X_train, pd.DataFrame):
        X = pd.concat([X_train, X_test], ignore_index=True)
    elif hasattr(X_train, "to_pandas"):
        import polars as pl

        X = pl.concat([X_train, X_test], how="vertical_relaxed")
    else:
        X = np.concatenate([np.asarray(X_train), np.asarray(X_test)])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_test)])
    n = len(y_train)
    task = _task_of(y, "auto")
    models = dict(estimators)
    for name in (["LightGBM"] if lightgbm else []) + ["base rate"]:
        models[name] = BASELINES[name](task)
    table = compare(X, y, models, cv=[(np.arange(n), np.arange(n, len(y)))], task=task,
                    random_state=random_state)
    order = {name: i for i, name in enumerate(models)}
    return table.sort_values("model", key=lambda s: s.map(order)).reset_index(drop=True)


# -- output ---------------------------------------------------------------------------------

def _fmt(value, digits):
    return "" if not np.isfinite(value) else f"{value:.{digits}f}"


def format_leaderboard(table, fmt="markdown"):
    """The leaderboard as text, the best value of every metric and time column marked.

    The base rate is a reference point: it is never marked.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`compare` result.
    fmt : {"markdown", "text"}, default="markdown"
        Markdown marks the best in **bold**; text with a trailing ``*``.

    Returns
    -------
    text : str
    """
    metrics = table.attrs.get("metrics") or [m for m in METRICS if m in table]
    lines, header = [], ["model", "kind"]
    header += [m for m in metrics] + ["fit s", "predict s", "epochs", "size", "note"]
    best = {}
    ranked = table[table["model"] != "base rate"]  # a reference point, not a contender
    for col, higher in [*((m, METRICS[m][1]) for m in metrics), *_TIMES.items()]:
        values = ranked[col].to_numpy(dtype=float)
        if np.isfinite(values).any():
            best[col] = np.nanmax(values) if higher else np.nanmin(values)
    body = []
    for _, r in table.iterrows():
        cells = [str(r["model"]), str(r["kind"])]
        for col in [*metrics, *_TIMES]:
            digits = 4 if col in METRICS else 1
            text = _fmt(r[col], digits)
            std = r.get(f"{col}_std", np.nan)
            if text and np.isfinite(std):
                text += f" ± {std:.{digits}f}"
            if (text and col in best and r["model"] != "base rate"
                    and round(r[col], digits) == round(best[col], digits)):
                text = f"**{text}**" if fmt == "markdown" else text + " *"
            cells.append(text)
        cells += [_fmt(r["epochs"], 1), str(r["size"]), str(r["note"])]
        body.append(cells)
    if fmt == "markdown":
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(" --- " for _ in header) + "|")
        lines += ["| " + " | ".join(c.replace("|", "/") for c in cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h)
              for i, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in body]
    return "\n".join(lines)


def plot_leaderboard(table, metric=None, ax=None):
    """Score against fit time: one labelled point per model, error bars over the folds.

    Needs matplotlib (``pip install "tabnn[plot]"``).

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`compare` result.
    metric : str, default=None
        The score on the y axis (None: the leaderboard's first metric).
    ax : matplotlib Axes, default=None
        Where to draw (None: a new figure).

    Returns
    -------
    ax : matplotlib Axes
    """
    try:
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError('plot_leaderboard needs matplotlib: pip install "tabnn[plot]"'
                          ) from exc
    metric = metric or table.attrs.get("metrics", [None])[0] or next(
        m for m in METRICS if m in table)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    ok = table[np.isfinite(table[metric].to_numpy(dtype=float))]
    base = ok[ok["model"] == "base rate"]
    ok = ok[ok["model"] != "base rate"]
    colors = {"neural": "tab:blue", "meta": "tab:cyan", "rules": "tab:green",
              "baseline": "tab:gray", "custom": "tab:purple"}
    points = []
    for _, r in ok.iterrows():
        x, std = max(r["fit_seconds"], 1e-3), r[f"{metric}_std"]
        color = colors.get(r["kind"], "tab:orange")
        stopped = "time budget" in str(r["note"])
        ax.errorbar(x, r[metric], yerr=std if np.isfinite(std) else None, fmt="o",
                    color=color, mfc="white" if stopped else color, capsize=3)
        points.append((x, r[metric], r["model"], std if np.isfinite(std) else 0.0))
    if len(base):
        ax.axhline(base[metric].iloc[0], color="tab:gray", ls="--", lw=1,
                   label=f"base rate ({base[metric].iloc[0]:.4f})")
    if ok["note"].astype(str).str.contains("time budget").any():
        ax.plot([], [], "o", color="black", mfc="white", label="stopped by the time budget")
    ax.set_xscale("log")
    if points:
        lo = min(p[1] - p[3] for p in points)
        hi = max(p[1] + p[3] for p in points)
        pad = max((hi - lo) * 0.1, 1e-3)
        ax.set_ylim(lo - pad, hi + pad)
        xs = [p[0] for p in points]
        ax.set_xlim(min(xs) / 1.5, max(xs) * 3)  # room for the labels right of the points
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    _label_points(ax, points)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("fit seconds per fold (log scale)")
    better = "higher" if METRICS[metric][1] else "lower"
    ax.set_ylabel(f"{metric} ({better} is better)")
    folds = table.attrs.get("folds")
    n_folds = len(folds.splits) if isinstance(folds, FoldResults) else "?"
    budget = table.attrs.get("time_budget")
    ax.set_title(f"{metric} vs fit time, mean ± sd over {n_folds} folds"
                 + (f"; time budget {budget:g} s per neural fit" if budget else ""))
    ax.grid(True, alpha=0.3)
    return ax


def _label_points(ax, points):
    """Name every point, moving a label up while it would cover one already placed."""
    ax.figure.canvas.draw()  # fixes the limits that the data-to-pixel transform uses
    placed = []
    for x, y, name, _ in sorted(points, key=lambda p: (p[1], p[0])):
        px, py = ax.transData.transform((x, y))
        width, dy = 6.5 * len(name), 0
        while any(abs(px - qx) < max(width, qw) and abs(py + dy - qy) < 12
                  for qx, qy, qw in placed):
            dy += 12
        placed.append((px, py + dy, width))
        ax.annotate(name, (x, y), textcoords="offset pixels", xytext=(6, 4 + dy), fontsize=8,
                    arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if dy else None)

