"""FOLD-R++ / FOLD-RM learning loops with the FOLD-SE Gini heuristic and tail pruning.

All example sets are integer index arrays into the encoded training columns; coverage is
computed with vectorised literal masks, never per row in Python.
"""

from __future__ import annotations

import numpy as np

from ._encode import FeatureData
from ._literals import best_literal, gini_score
from ._program import Rule


class FoldLearner:
    """Learns default rules with exceptions on encoded training columns.

    Parameters
    ----------
    features : list of FeatureData
        Encoded training columns (with ``ncode`` / ``ccode``).
    specs : list of FeatureSpec
    weight : ndarray of float
        Row weights (all > 0).
    ratio : float
        A default part is accepted once its (weighted) false positives are at most
        ``ratio`` times its true positives; the remaining false positives are learned as
        exceptions.
    tail : float
        A rule whose true positives weigh less than ``tail`` times the weight of the examples
        of its problem is dropped and learning of that rule set stops. For top-level rules
        the examples are the whole training set; for exception rules (any depth), the rows
        covered by the default part of the top-level rule they belong to.
    max_depth : int
        Maximum nesting of exceptions (exception of an exception ...).
    min_samples : float
        Absolute floor of the tail threshold: a rule (at any level) is also dropped when its
        (weighted) true positives are fewer than ``min_samples``, i.e. the threshold is
        ``max(tail * base, min_samples)``. ``tail * base`` prunes nothing on small data
        (under one row below 200 rows), so without the floor the long tail of one- and
        two-row rules the tail parameter exists to remove survives exactly where it does most
        harm.
    heuristic : callable
        Literal score ``heuristic(tp, fn, tn, fp)``.
    """

    def __init__(self, features, specs, weight, ratio=0.5, tail=0.005, max_depth=10,
                 heuristic=gini_score, min_samples=0.0):
        self.features = features
        self.specs = specs
        self.w = weight
        self.ratio = float(ratio)
        self.min_samples = float(min_samples)
        self.min_cover = max(float(tail) * float(weight.sum()), self.min_samples)
        self.max_depth = int(max_depth)
        self.heuristic = heuristic
        self.tail = float(tail)

    # ------------------------------------------------------------------------------------------
    def _lit_rows(self, lit, idx):
        fd = self.features[lit.feature]
        sub = FeatureData(fd.num[idx], fd.cat[idx], fd.present[idx])
        return lit.evaluate(sub)

    def covers(self, rule, idx):
        """Mask over ``idx`` of the rows where ``rule`` fires."""
        m = np.ones(len(idx), dtype=bool)
        if not rule.literals and not rule.exceptions:
            return ~m
        for lit in rule.literals:
            sel = np.flatnonzero(m)
            if not len(sel):
                return m
            m[sel] = self._lit_rows(lit, idx[sel])
        for ab in rule.exceptions:
            sel = np.flatnonzero(m)
            if not len(sel):
                return m
            m[sel] = ~self.covers(ab, idx[sel])
        return m

    # ------------------------------------------------------------------------------------------
    def learn_rule(self, pos, neg, used, depth, base=None):
        """One default rule for ``pos`` against ``neg`` (with exceptions)."""
        literals, exceptions = [], []
        excluded = {lit.key() for lit in used}
        w = self.w
        while True:
            _, lit = best_literal(
                self.features, self.specs, pos, neg, w[pos], w[neg], excluded, self.heuristic
            )
            if lit is None:
                break
            literals.append(lit)
            excluded.add(lit.key())
            pos = pos[self._lit_rows(lit, pos)]
            neg = neg[self._lit_rows(lit, neg)]
            wn = w[neg].sum()
            if wn <= self.ratio * w[pos].sum():
                if wn > 0 and depth < self.max_depth:
                    if base is None:  # exceptions of a top-level rule
                        base = w[pos].sum() + wn
                    exceptions = self.fold(neg, pos, list(used) + literals, depth + 1, base)
                break
        return Rule(literals, exceptions)

    def fold(self, pos, neg, used=(), depth=0, base=None):
        """A disjunction of default rules covering ``pos`` but not ``neg``."""
        rules, w = [], self.w
        # tail threshold: relative to the whole training set for top-level rules, to the
        # rows covered by the top-level rule's default part for its exceptions (any depth)
        if base is None:
            base = w[pos].sum() + w[neg].sum()
        min_cover = max(self.tail * base, self.min_samples)
        while len(pos) and w[neg].sum() > 0:
            rule = self.learn_rule(pos, neg, used, depth, base if depth else None)
            cov = self.covers(rule, pos)
            wc = w[pos[cov]].sum()
            if wc <= 0 or wc < min_cover:
                break
            rules.append(rule)
            pos = pos[~cov]
        return rules

    def fold_rm(self, y, n_classes):
        """FOLD-RM loop: an ordered list of (class, rule); returns (rules, heads, default).

        ``default`` is the most frequent (weighted) class of the training rows that no
        learned rule decides; the overall majority when those rows weigh less than the tail
        threshold (too few to say what the rest is, as for a rule).
        """
        w = self.w
        E = np.arange(len(y))
        rules, heads = [], []
        while len(E):
            counts = np.bincount(y[E], weights=w[E], minlength=n_classes)
            c = int(np.argmax(counts))
            is_c = y[E] == c
            pos, neg = E[is_c], E[~is_c]
            if w[neg].sum() <= 0:
                break
            rule = self.learn_rule(pos, neg, [], 0)
            covp = self.covers(rule, pos)
            wc = w[pos[covp]].sum()
            if wc <= 0 or wc < self.min_cover:
                break
            covn = self.covers(rule, neg)
            rules.append(rule)
            heads.append(c)
            E = np.sort(np.concatenate([pos[~covp], neg[~covn]]))
        rest = E if len(E) and w[E].sum() >= self.min_cover else np.arange(len(y))
        default = int(np.argmax(np.bincount(y[rest], weights=w[rest], minlength=n_classes)))
        return rules, heads, default
