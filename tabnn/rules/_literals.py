"""Literals and the vectorised literal search (prefix sums over sorted values).

A literal compares one column with a constant: ``A <= t``, ``A > t`` (numbers), ``A == c``,
``A != c`` (category labels). A missing cell satisfies none of them; a number never equals a
category label (so it satisfies ``!= c``); a category label never satisfies ``<=`` / ``>``.
``negated`` literals (``not A <= t``) come from folding a one-literal exception into its
parent rule and are true exactly where the plain literal is false (missing cells included).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUMERIC_OPS = ("<=", ">")
CATEGORICAL_OPS = ("==", "!=")
_COMPLEMENT = {"<=": ">", ">": "<=", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Literal:
    """One comparison ``feature op value``.

    Attributes
    ----------
    feature : int
        Column index (fit order).
    name : str
        Column name, for printing.
    op : {"<=", ">", "==", "!="}
    value : float or object
        Threshold (a training value of the column) or category label.
    code : int
        Index of ``value`` in the column's sorted training thresholds / categories.
    negated : bool
        True for ``not (feature op value)``.
    """

    feature: int
    name: str
    op: str
    value: object
    code: int
    negated: bool = False

    @property
    def kind(self):
        return "num" if self.op in NUMERIC_OPS else "cat"

    def key(self):
        """Identifies the literal and its complement (they are excluded together)."""
        return (self.feature, self.kind, self.code)

    def negate(self):
        return Literal(self.feature, self.name, self.op, self.value, self.code, not self.negated)

    def evaluate(self, fd):
        """Boolean mask of the rows of :class:`FeatureData` ``fd`` that satisfy the literal."""
        if self.op == "<=":
            m = fd.num <= self.value
        elif self.op == ">":
            m = fd.num > self.value
        elif self.op == "==":
            m = fd.cat == self.code
        else:
            m = fd.present & (fd.cat != self.code)
        return ~m if self.negated else m

    def text(self):
        v = self.value
        if self.kind == "num":
            vs = repr(float(v))
        elif isinstance(v, str):
            vs = repr(v)
        else:
            vs = repr(v.item() if isinstance(v, np.generic) else v)
        s = f"{self.name} {self.op} {vs}"
        return f"not ({s})" if self.negated else s

    def __str__(self):
        return self.text()


def gini_score(tp, fn, tn, fp):
    """FOLD-SE literal heuristic: negated weighted binary Gini impurity of the split.

    ``-(2 tp fp / (tp + fp) + 2 tn fn / (tn + fn)) / (tp + fn + tn + fp)`` (an empty part
    contributes 0), and ``-inf`` when the literal misclassifies more than it gets right
    (``fp + fn > tp + tn``). Higher is better. Works elementwise on arrays.
    """
    tp, fn, tn, fp = (np.asarray(a, dtype=np.float64) for a in (tp, fn, tn, fp))
    cov, unc = tp + fp, tn + fn
    tot = cov + unc
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(cov > 0, 2.0 * tp * fp / np.where(cov > 0, cov, 1.0), 0.0)
        g = g + np.where(unc > 0, 2.0 * tn * fn / np.where(unc > 0, unc, 1.0), 0.0)
        s = -g / np.where(tot > 0, tot, 1.0)
    return np.where(fp + fn > tp + tn, -np.inf, s)


def entropy_score(tp, fn, tn, fp):
    """FOLD-R++ literal heuristic: information gain of the split (natural log).

    ``(F(tp, fp) + F(fp, tp) + F(tn, fn) + F(fn, tn)) / (tp + fn + tn + fp)`` with
    ``F(a, b) = a ln(a / (a + b))`` (0 when ``a = 0``): the negated weighted entropy of the
    covered and the uncovered part, so higher is better; ``-inf`` when the literal
    misclassifies more than it gets right. Works elementwise on arrays.
    """
    tp, fn, tn, fp = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                           for a in (tp, fn, tn, fp)))
    a = np.stack([tp, fp, tn, fn])  # the four F(a, b) terms in one pass
    b = np.stack([fp, tp, fn, tn])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(a > 0, a * np.log(np.where(a > 0, a / (a + b), 1.0)), 0.0)
    tot = tp + fn + tn + fp
    s = terms.sum(axis=0) / np.where(tot > 0, tot, 1.0)
    return np.where(fp + fn > tp + tn, -np.inf, s)


# relative tolerance under which two literal scores count as tied
_TIE_TOL = 1e-9


def _better(score, kind, best_score, best):
    """Whether a candidate beats the incumbent; categorical literals win (near-)ties.

    A threshold is picked from many candidate values of a column while a category test is one
    hypothesis, so on equal evidence the category test is the less over-fitted choice (it is
    also FOLD-R++'s order: categorical attributes are searched before numeric ones).
    """
    if best is None or best.kind == kind:
        return score > best_score
    tol = _TIE_TOL * abs(best_score) if np.isfinite(best_score) else 0.0
    if kind == "cat":  # incumbent is numeric
        return score >= best_score - tol and score > -np.inf
    return score > best_score + tol


def _excluded_codes(excluded, j, kind):
    return [code for (f, k, code) in excluded if f == j and k == kind]


def best_literal(features, specs, pos, neg, wpos, wneg, excluded, heuristic=gini_score):
    """Best literal separating rows ``pos`` from rows ``neg``, or None.

    Parameters
    ----------
    features : list of FeatureData
        Encoded training columns (with ``ncode`` / ``ccode``).
    specs : list of FeatureSpec
    pos, neg : ndarray of int
        Row indices of the positive / negative examples.
    wpos, wneg : ndarray of float
        Their weights.
    excluded : set of tuple
        ``Literal.key()`` of literals already used (a literal and its complement).
    heuristic : callable
        ``heuristic(tp, fn, tn, fp)`` on arrays.

    Returns
    -------
    (score, Literal) or (-inf, None)

    Notes
    -----
    One pass per column: weighted ``bincount`` of the value ranks of the positives and of the
    negatives, ``cumsum`` over the sorted values gives the confusion counts of every
    ``<= t`` / ``> t`` literal at once; category counts give every ``==`` / ``!=`` literal.
    Only values present in the current examples are candidates. Ties (relative difference
    below 1e-9) go to a categorical literal over a numeric one (see :func:`_better`), then to
    the first column, then the smallest threshold with ``<=`` before ``>``; for categories
    every ``==`` comes before every ``!=`` (``a == 'yes'`` rather than the equivalent
    ``a != 'no'``).
    """
    P, N = float(wpos.sum()), float(wneg.sum())
    best_score, best = -np.inf, None
    if P <= 0:
        return best_score, best
    for j, (fd, spec) in enumerate(zip(features, specs)):
        U, C = len(spec.thresholds), len(spec.categories)
        xp = xn = 0.0
        cands = []
        if U:
            cp = np.bincount(fd.ncode[pos], weights=wpos, minlength=U + 1)[:U]
            cn = np.bincount(fd.ncode[neg], weights=wneg, minlength=U + 1)[:U]
            Cp, Cn = np.cumsum(cp), np.cumsum(cn)
            xp, xn = float(Cp[-1]), float(Cn[-1])
            valid = (cp + cn) > 0
            for code in _excluded_codes(excluded, j, "num"):
                valid[code] = False
            tp = np.stack([Cp, xp - Cp], axis=1).ravel()  # interleave <=, >
            fp = np.stack([Cn, xn - Cn], axis=1).ravel()
            s = heuristic(tp, P - tp, N - fp, fp)
            s = np.where(np.repeat(valid, 2) & (tp > 0), s, -np.inf)
            k = int(np.argmax(s))
            cands.append((s[k], "num", k))
        if C:
            kp = np.bincount(fd.ccode[pos], weights=wpos, minlength=C + 1)
            kn = np.bincount(fd.ccode[neg], weights=wneg, minlength=C + 1)
            catp, catn = kp[:C], kn[:C]
            # non-missing examples: numbers + category labels
            pres_p = xp + float(catp.sum())
            pres_n = xn + float(catn.sum())
            valid = (catp + catn) > 0
            for code in _excluded_codes(excluded, j, "cat"):
                valid[code] = False
            tp = np.concatenate([catp, pres_p - catp])  # all ==, then all !=
            fp = np.concatenate([catn, pres_n - catn])
            s = heuristic(tp, P - tp, N - fp, fp)
            s = np.where(np.tile(valid, 2) & (tp > 0), s, -np.inf)
            k = int(np.argmax(s))
            which, code = divmod(k, C)
            cands.append((s[k], "cat", 2 * code + which))
        for score, kind, k in cands:
            if _better(score, kind, best_score, best):
                code, which = divmod(k, 2)
                if kind == "num":
                    op = NUMERIC_OPS[which]
                    value = float(spec.thresholds[code])
                else:
                    op = CATEGORICAL_OPS[which]
                    value = spec.categories[code]
                best_score, best = float(score), Literal(j, spec.name, op, value, code)
    return best_score, best
