"""FOLD-SE: default rules with exceptions as a scikit-learn classifier."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from .._params import (Boolean, InstanceOf, Interval, Options, param_constraints,
                       validate_params)
from .._validation import (
    validate_classification_target,
    validate_sample_weight,
    validate_X,
)
from ..encoding import TabularEncoder, column_roles, to_float
from ..rules import (FoldLearner, encode_feature, entropy_score, fit_feature, flatten,
                     gini_score, prune, rule_key, simplify)

__all__ = ["FoldSEClassifier"]

logger = logging.getLogger(__name__)  # a child of the "tabnn" logger

# literal heuristics by ``criterion`` name; "auto" tries them in this order
_CRITERIA = {"gini": gini_score, "entropy": entropy_score}


def _target_name(y):
    name = getattr(y, "name", None)
    return name if isinstance(name, str) and name else "label"


def _label_text(v):
    return repr(v.item() if isinstance(v, np.generic) else v)


def _decide(rules, feats):
    """Index of the first rule of ``rules`` that fires per row (-1: none)."""
    n = len(feats[0].num)
    decided = np.full(n, -1, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    for i, rule in enumerate(rules):
        if not open_.any():
            break
        fires = rule.evaluate(feats) & open_
        decided[fires] = i
        open_ &= ~fires
    return decided


class FoldSEClassifier(ClassifierMixin, BaseEstimator):
    """FOLD-SE rule learner: a logic program of default rules with exceptions.

    Learns rules such as ``label = 'yes' :- age > 38.0, education == 'Bachelors', not ab1.``
    with exception rules ``ab1 :- ...`` (FOLD-R++ structure), choosing each literal by a
    heuristic score (FOLD-SE's Gini impurity, FOLD-R++'s information gain, or both with the
    smaller program kept) with one prefix-sum pass per column. Numeric columns get
    ``<=`` / ``>`` literals, categorical columns ``==`` / ``!=`` literals (no one-hot); object
    columns mixing numbers and strings get both. Binary problems learn rules for the
    ``positive_class`` (everything else is the other class); multi-class problems use the
    FOLD-RM loop, an ordered list of rules where the first rule that fires decides.

    Parameters
    ----------
    ratio : float, default=0.5
        Exception ratio: a default part is accepted once its false positives are at most
        ``ratio`` times its true positives; the remaining false positives are learned as
        exceptions (recursively). Smaller values give longer default parts.
    tail : float, default=0.005
        FOLD-SE long-tail pruning: a rule whose (weighted) true positives are fewer than
        ``tail`` times the (weighted) number of examples of its (sub-)problem is dropped and
        learning of that rule set stops. For top-level rules that is the whole training set;
        for exception rules (at any depth), the rows covered by the default part of the
        top-level rule they belong to. 0 disables pruning (FOLD-R++ / FOLD-RM behaviour).
    min_samples_rule : float, default=2
        Absolute floor of the tail threshold, which becomes
        ``max(tail * n_examples, min_samples_rule)`` at every level (rules and exceptions):
        a rule or exception must be supported by at least this many (weighted) training
        rows. ``tail * N`` is below one row under 200 training rows, so without the floor
        FOLD-SE keeps, on small data, exactly the one-row rules ``tail`` exists to remove.
        The default 2 drops only rules that memorise a single row, which on small data are
        many of the rules and carry no evidence beyond that row. ``tail=0,
        min_samples_rule=0`` gives FOLD-R++ / FOLD-RM behaviour.
    max_depth : int, default=10
        Maximum nesting depth of exceptions.
    criterion : {"auto", "gini", "entropy"}, default="auto"
        Literal heuristic. ``"gini"``: FOLD-SE's weighted Gini impurity of the split;
        ``"entropy"``: FOLD-R++'s information gain. ``"auto"`` learns (and prunes) the
        program with each, on the same encoded columns, and keeps the one with fewer literals,
        then fewer (weighted) training errors, then Gini. Greedy covering can take the longer
        path with either score: Gini favours narrow pure exceptions (``maint == 'low'`` and
        ``maint == 'med'`` where information gain takes one ``maint != 'vhigh', maint !=
        'high'``), information gain sometimes a first literal that needs more repair; keeping
        the smaller of the two programs avoids both. It costs a second learning pass. The
        kept heuristic is ``criterion_``. (Unlike the head below, the heuristic is chosen by
        size first: two heuristics on one head fit the training rows about equally, and
        choosing by training errors there took programs twice as long for no test accuracy
        on the FOLD benchmark.)
    prune : bool, default=True
        Binary problems: after learning, (1) drop every top-level or exception rule whose
        removal changes no training prediction, one at a time until none qualifies; then (2)
        drop the rule whose removal adds the fewest (weighted) training errors, repeatedly,
        while the errors added in total stay within the tail threshold
        ``max(tail * n_examples, min_samples_rule)`` -- FOLD-SE's long-tail rule applied to
        the finished program, where later rules may have left an early rule only a few rows
        of its own (see :func:`tabnn.rules.prune`). Literals are never dropped. The added
        training errors are bounded by the same budget that already lets ``tail`` give up
        rows, so the program gets shorter without fitting the training data worse than the
        long-tail rule allows. Multi-class programs (an ordered rule list) are not pruned.
    positive_class : "auto" or label, default="auto"
        Binary problems: the class the default rules describe (the head). ``"auto"`` decides
        it from the training data only: it learns the program for each head (each with the
        ``criterion`` choice above) and keeps the one with fewer (weighted) training errors;
        errors that differ by at most the tail threshold ``max(tail * n_examples,
        min_samples_rule)`` -- the errors ``prune`` may already give up for a shorter
        program -- count as a tie, which goes to the (weighted) minority class. That is
        RIPPER's convention (rules for the rarer class): a rare class is usually described by
        a few specific rules, where "everything but it" needs many exceptions; on the FOLD
        benchmark it is the better tie-break (it also beat the FOLD-R++ authors' advice of
        the majority class, and the smaller program). Both candidates are in
        ``head_selection_``. It costs a second learning pass per head. A label fixes the
        head. Ignored for multi-class problems.
    categorical_features : "auto", list of str or int, or array-like of bool, default="auto"
        Column roles, resolved as in :class:`tabnn.TabularEncoder`: ``"auto"`` treats string,
        bool and categorical dtypes as categorical, everything else as numeric.
    class_weight : "balanced", dict or None, default=None
        Weights of the classes, multiplied into ``sample_weight`` as in scikit-learn's
        classifiers: ``"balanced"`` gives class ``c`` the weight ``n_samples / (n_classes *
        n_c)`` (counted on the labels, without the sample weights); a dict maps labels to
        weights (classes not in it get 1). Every count of the learner is weighted, so the
        ``ratio`` test, the ``tail`` threshold and the head choice see the weighted rows.
    verbose : int or bool, default=0
        0: silent. 1 or more: progress of ``fit`` (each learned program's size and training
        errors, the head choice and why) as INFO records of the ``tabnn`` logger
        (``tabnn.estimators.foldse``); printed to stderr when logging is not configured.
        At 0 the same records are logged at DEBUG level.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (any type).
    positive_class_ : object
        Binary: the class described by the rules (the head). None for multi-class.
    head_selection_ : pandas.DataFrame
        Only with ``positive_class="auto"`` on binary problems: one row per candidate head
        with the ``criterion`` of its program, its ``training_errors`` (weighted),
        ``n_literals`` and whether it was ``selected``.
    criterion_ : str
        The literal heuristic of the kept program (``"gini"`` or ``"entropy"``).
    default_class_ : object
        Class predicted when no rule fires (binary: the other class; multi-class: the most
        frequent class among the training rows that no rule decides, or overall when those
        weigh less than the tail threshold).
    rules_ : str
        The program as text, one rule per line: top-level rules ``r1, r2, ...`` first (in
        decision order), then exception rules ``ab1, ab2, ...``, then a ``% otherwise`` line
        with the default class.
    rule_program_ : list of ProgramRule
        Structured form of ``rules_`` (name, head, literals, negated exception names, text).
    n_rules_ : int
        Number of program lines: top-level rules plus exception rules.
    n_top_rules_ : int
        Number of top-level rules.
    n_literals_ : int
        Number of comparison literals in all program lines (``not abN`` references are not
        counted).
    rule_stats_ : pandas.DataFrame
        Per top-level rule (and the default): weighted count of the training rows it decided
        and their class distribution.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.

    Notes
    -----
    *Missing values* (None, NaN, +-inf) satisfy no literal: ``A <= t``, ``A > t``, ``A == c``
    and ``A != c`` are all false on a missing cell, and no literal is built on the missing
    marker. A category unseen at fit fails every ``== c`` and satisfies every ``!= c``.
    A one-literal exception is printed folded into its parent as ``not A op v``, which --
    unlike the complementary literal -- is also true on missing cells. Literals implied by
    another literal of the same rule on the same column (``A != 'x'`` next to ``A == 'y'``)
    are dropped.

    *Ties* between literal scores (relative difference below 1e-9) go to a categorical
    literal over a numeric threshold (one hypothesis against a threshold picked from many
    values; also FOLD-R++'s search order), then to the first column.

    *predict_proba* is an honest, simple estimate: for each row, the Laplace-smoothed class
    distribution ``(n_c + 1) / (n + K)`` of the training rows decided by the same rule (the
    first top-level rule that fires, or the "no rule fires" region). Should a rule be no
    better than its competitors on its own training rows (rare; only with large ``ratio``),
    that distribution is averaged with the one-hot vector of the rule's class so that
    ``argmax(predict_proba) == predict`` always holds.

    References
    ----------
    H. Wang, G. Gupta. FOLD-SE: An Efficient Rule-based Machine Learning Algorithm with
    Scalable Explainability. PADL 2024 (arXiv 2208.07912); FOLD-R++ (arXiv 2110.07843);
    FOLD-RM (arXiv 2202.06913).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabnn.estimators.foldse import FoldSEClassifier
    >>> X = pd.DataFrame({"age": [20, 30, 40, 50, 60, 70], "job": list("aabbab")})
    >>> y = ["no", "no", "yes", "yes", "yes", "yes"]
    >>> clf = FoldSEClassifier(tail=0).fit(X, y)
    >>> print(clf.rules_)
    label = 'yes' :- age > 30.0.
    % otherwise: label = 'no'
    """

    _param_constraints = {
        "ratio": [Interval("real", 0, None)],
        "tail": [Interval("real", 0, 1, closed="left")],
        "max_depth": [Interval("int", 0, None)],
        "min_samples_rule": [Interval("real", 0, None)],
        "criterion": [Options("auto", *_CRITERIA)],
        "prune": [Boolean()],
        "positive_class": [InstanceOf(object, "'auto' or one of the class labels")],
        "categorical_features": param_constraints(TabularEncoder)["categorical_features"],
        "class_weight": [Options(None, "balanced"), InstanceOf(dict, "a dict {label: weight}")],
        "verbose": [Interval("int", 0, None), Boolean()],
    }

    def __init__(
        self,
        ratio=0.5,
        tail=0.005,
        max_depth=10,
        min_samples_rule=2,
        criterion="auto",
        prune=True,
        positive_class="auto",
        categorical_features="auto",
        class_weight=None,
        verbose=0,
    ):
        self.ratio = ratio
        self.tail = tail
        self.max_depth = max_depth
        self.min_samples_rule = min_samples_rule
        self.criterion = criterion
        self.prune = prune
        self.positive_class = positive_class
        self.categorical_features = categorical_features
        self.class_weight = class_weight
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------------------------------
    def _encode(self, table):
        feats = []
        for spec, col, role in zip(self._specs, table.columns, self._roles):
            values = col.values
            if spec.role == "numeric" and not role:
                # numbers that arrive as text, a category of numbers or bools are converted
                # like every tabnn estimator does; anything else raises
                values = to_float(values, col.name, fitted=True)
            feats.append(encode_feature(spec, values, role))
        return feats

    def fit(self, X, y, sample_weight=None):
        """Learn the rule program.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
            Training data; numeric and categorical columns, missing values allowed.
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights; every count in the literal search, the ``ratio`` test and the
            ``tail`` threshold is weighted (weight k equals k copies of a row).

        Returns
        -------
        self : FoldSEClassifier
        """
        validate_params(self)
        table = validate_X(self, X, reset=True)
        classes, codes = validate_classification_target(y, table.n_rows)
        sw = validate_sample_weight(sample_weight, table.n_rows)
        if self.class_weight is not None:
            # as scikit-learn's classifiers: class weights from the labels, times sample_weight
            sw = sw * compute_sample_weight(self.class_weight, classes[codes])
        roles = [r == "categorical" for r in column_roles(table, self.categorical_features)]
        keep = sw > 0
        specs, feats = [], []
        for j, (col, role) in enumerate(zip(table.columns, roles)):
            values = col.values if keep.all() else col.values[keep]
            spec, fd = fit_feature(values, col.name, j, role)
            specs.append(spec)
            feats.append(fd)
        codes, w = codes[keep], sw[keep]
        self._specs, self._roles = specs, roles
        self.classes_ = classes
        K = len(classes)
        auto = isinstance(self.positive_class, str) and self.positive_class == "auto"
        if K == 2 and auto:
            # minority first: it wins ties
            counts = np.bincount(codes, weights=w, minlength=2)
            heads = [int(h) for h in np.argsort(counts, kind="stable")]
        elif K == 2:
            hit = np.flatnonzero(classes == self.positive_class)
            if not len(hit):
                raise ValueError(
                    f"positive_class={self.positive_class!r} is not one of the classes "
                    f"{list(classes)}."
                )
            heads = [int(hit[0])]
        else:
            heads = [None]
        self._log(f"fit on {len(codes)} rows, {len(specs)} columns, {K} classes")
        names = tuple(_CRITERIA) if self.criterion == "auto" else (self.criterion,)
        candidates = []
        for h in heads:
            # per head: the program with fewer literals, then fewer training errors, then Gini
            programs = [self._candidate(feats, specs, codes, w, K, h, n) for n in names]
            candidates.append(min(programs, key=lambda c: (c["n_literals"], c["errors"])))
        # between heads, the evidence rule: the fewest training errors, errors within the
        # tail threshold of the fewest counting as a tie; ties go to the minority head
        tie = max(float(self.tail) * float(w.sum()), float(self.min_samples_rule))
        least = min(c["errors"] for c in candidates)
        best = next(c for c in candidates if c["errors"] <= least + tie)
        pos = best["head"]
        self.positive_class_ = None if pos is None else classes[pos]
        if len(heads) > 1:
            self.head_selection_ = pd.DataFrame({
                "positive_class": [classes[c["head"]] for c in candidates],
                "criterion": [c["criterion"] for c in candidates],
                "training_errors": [c["errors"] for c in candidates],
                "n_literals": [c["n_literals"] for c in candidates],
                "selected": [c is best for c in candidates],
            })
        elif hasattr(self, "head_selection_"):
            del self.head_selection_
        if len(candidates) > 1:
            self._log(f"kept head {_label_text(self.positive_class_)}: the rarer class among "
                      f"the heads within {tie:.4g} training errors of the fewest "
                      f"({least:.6g})")
        self.criterion_ = best["criterion"]
        self._rules = best["rules"]
        self._heads = np.asarray(best["heads"], dtype=np.int64)
        self._default = int(best["default"])
        self.default_class_ = classes[self._default]
        self._target_name = _target_name(y)
        self._build_program()
        self._fit_proba(feats, codes, w)
        self._log(f"kept {self.n_top_rules_} rules, {self.n_rules_} program lines, "
                  f"{self.n_literals_} literals (criterion {self.criterion_!r})")
        return self

    def _log(self, message):
        """Progress: INFO on the ``tabnn`` logger with ``verbose``, else DEBUG."""
        if not self.verbose:
            logger.debug(message)
        elif logger.hasHandlers():
            logger.info(message)
        else:  # logging not configured: show it anyway, as verbose asks
            print(f"[FoldSEClassifier] {message}", file=sys.stderr, flush=True)

    def _candidate(self, feats, specs, codes, w, K, pos, criterion):
        """One learned program (binary head ``pos``, or the FOLD-RM loop) with its evidence."""
        rules, heads, default = self._learn(feats, specs, codes, w, K, pos, _CRITERIA[criterion])
        labels = np.append(np.asarray(heads, dtype=np.int64), default)[_decide(rules, feats)]
        cand = {
            "head": pos, "criterion": criterion, "rules": rules, "heads": heads,
            "default": default,
            "n_literals": int(sum(len(line.literals) for line in flatten(rules, heads)[0])),
            "errors": float(w[labels != codes].sum()),
        }
        head = "FOLD-RM" if pos is None else f"head {_label_text(self.classes_[pos])}"
        self._log(f"{head}, criterion {criterion!r}: {len(rules)} rules, "
                  f"{cand['n_literals']} literals, training errors {cand['errors']:.6g}")
        return cand

    def _learn(self, feats, specs, codes, w, K, pos, heuristic):
        """One program: (simplified top-level rules, their class codes, default class code)."""
        learner = FoldLearner(feats, specs, w, self.ratio, self.tail, self.max_depth,
                              heuristic=heuristic, min_samples=self.min_samples_rule)
        if K == 2:
            is_pos = codes == pos
            rules = learner.fold(np.flatnonzero(is_pos), np.flatnonzero(~is_pos))
            rules = [simplify(r) for r in rules]
            if self.prune:
                rules = prune(rules, feats, is_pos, w, budget=learner.min_cover)
                rules = [simplify(r) for r in rules]
            return rules, [pos] * len(rules), 1 - pos
        rules, heads, default = learner.fold_rm(codes, K)
        return [simplify(r) for r in rules], heads, default

    def _build_program(self):
        lines, self._ab_names = flatten(
            self._rules, [self.classes_[h] for h in self._heads], self._target_name
        )
        self.rule_program_ = lines
        text = [line.text for line in lines]
        text.append(f"% otherwise: {self._target_name} = {_label_text(self.default_class_)}")
        self.rules_ = "\n".join(text)
        self.n_rules_ = len(lines)
        self.n_top_rules_ = len(self._rules)
        self.n_literals_ = int(sum(len(line.literals) for line in lines))

    def _decide(self, feats):
        return _decide(self._rules, feats)

    def _fit_proba(self, feats, codes, w):
        K, R = len(self.classes_), len(self._rules)
        decided = self._decide(feats)
        slot = np.where(decided < 0, R, decided)
        counts = np.zeros((R + 1, K))
        np.add.at(counts, (slot, codes), w)
        labels = np.append(self._heads, self._default)
        proba = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + K)
        for i, c in enumerate(labels):
            others = np.delete(proba[i], c)
            if proba[i, c] <= others.max():
                onehot = np.zeros(K)
                onehot[c] = 1.0
                proba[i] = (proba[i] + onehot) / 2.0
        self._proba = proba
        names = [line.name for line in self.rule_program_[:R]] + ["default"]
        stats = pd.DataFrame(counts, columns=[str(c) for c in self.classes_])
        stats.insert(0, "n", counts.sum(axis=1), allow_duplicates=True)
        stats.insert(0, "label", list(self.classes_[labels]), allow_duplicates=True)
        stats.insert(0, "rule", names, allow_duplicates=True)
        self.rule_stats_ = stats

    # ------------------------------------------------------------------------------------------
    def _features(self, X):
        check_is_fitted(self)
        table = validate_X(self, X, reset=False)
        return self._encode(table)

    def predict(self, X):
        """Class of the first rule that fires (the default class when none fires).

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        decided = self._decide(self._features(X))
        labels = np.append(self._heads, self._default)
        return self.classes_[labels[decided]]

    def predict_proba(self, X):
        """Laplace-smoothed training class distribution of the rule that decides each row.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order; rows sum to 1.
        """
        decided = self._decide(self._features(X))
        return self._proba[decided].copy()

    def explain(self, X):
        """Which rule (and which exception) decided each row.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)

        Returns
        -------
        explanation : pandas.DataFrame
            One row per input row with columns ``prediction``; ``rule`` (name of the
            top-level rule that fired, or ``"default"``) and ``rule_text``; ``exception`` and
            ``exception_text``: the first exception rule that fired and thereby blocked an
            earlier rule whose literals all held (None if no rule was blocked).
        """
        feats = self._features(X)
        n = len(feats[0].num)
        decided = self._decide(feats)
        texts = {line.name: line.text for line in self.rule_program_}
        R = len(self._rules)
        exc = np.full(n, None, dtype=object)
        for i, rule in enumerate(self._rules):
            cand = (exc == None) & ((decided < 0) | (decided > i))  # noqa: E711
            if not cand.any() or not rule.exceptions:
                continue
            body = rule.body(feats) & cand
            for ab in rule.exceptions:
                hit = body & ab.evaluate(feats)
                exc[hit] = self._ab_names[rule_key(ab)]
                body &= ~hit
        names = np.asarray([line.name for line in self.rule_program_[:R]] + ["default"])
        rule_names = names[np.where(decided < 0, R, decided)]
        default_text = f"% otherwise: {self._target_name} = {_label_text(self.default_class_)}"
        labels = np.append(self._heads, self._default)
        return pd.DataFrame(
            {
                "prediction": self.classes_[labels[decided]],
                "rule": rule_names,
                "rule_text": [texts.get(r, default_text) for r in rule_names],
                "exception": exc,
                "exception_text": [texts.get(e) if e is not None else None for e in exc],
            }
        )
