"""Rule objects, evaluation, simplification and printing of default-rule programs."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from ._literals import Literal


@dataclass
class Rule:
    """A default rule ``head :- literals, not ab_1, ..., not ab_k.``

    Attributes
    ----------
    literals : list of Literal
        The default part (all must hold).
    exceptions : list of Rule
        Exception ("abnormal") rules; the rule is blocked where any of them fires. Each may
        have its own exceptions.
    """

    literals: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)

    def body(self, features):
        """Mask of the rows where all literals hold (default part)."""
        n = len(features[0].num)
        m = np.ones(n, dtype=bool)
        for lit in self.literals:
            m &= lit.evaluate(features[lit.feature])
        return m

    def evaluate(self, features):
        """Mask of the rows where the rule fires (body holds and no exception fires)."""
        m = self.body(features)
        if not self.literals and not self.exceptions:
            return np.zeros_like(m)
        for ab in self.exceptions:
            if not m.any():
                break
            m &= ~ab.evaluate(features)
        return m

    def n_literals(self):
        return len(self.literals) + sum(ab.n_literals() for ab in self.exceptions)


@dataclass
class ProgramRule:
    """One line of the printed program (structured form of ``rules_``).

    Attributes
    ----------
    name : str
        ``"r<i>"`` for top-level rules, ``"ab<i>"`` for exception rules.
    head : object or None
        Class label predicted by a top-level rule; None for an exception rule.
    literals : list of Literal
    exceptions : list of str
        Names of the exception rules negated in the body.
    text : str
    """

    name: str
    head: object
    literals: list
    exceptions: list
    text: str = ""


# ----------------------------------------------------------------------------------------------
# simplification (semantics preserving)
# ----------------------------------------------------------------------------------------------
def _unite_bounds(literals):
    """Merge several plain ``<=`` (``>``) literals on one column into the tightest one."""
    out, seen = [], {}
    for lit in literals:
        if lit.negated or lit.kind != "num":
            if lit not in out:
                out.append(lit)
            continue
        key = (lit.feature, lit.op)
        if key in seen:
            i = seen[key]
            old = out[i]
            tighter = lit.value < old.value if lit.op == "<=" else lit.value > old.value
            if tighter:
                out[i] = lit
        else:
            seen[key] = len(out)
            out.append(lit)
    return out


def _implied(lit, other):
    """Whether plain literal ``other`` implies ``lit`` (both on the same column)."""
    if other.negated or other.feature != lit.feature or other is lit or other == lit:
        return False
    if other.op == "==":
        # A == c holds only on present cells with category c: A != d and not (A == d) follow
        return lit.kind == "cat" and lit.code != other.code and (
            (lit.op == "!=" and not lit.negated) or (lit.op == "==" and lit.negated)
        )
    if other.kind == "num" and lit.kind == "num":
        v, t = other.value, lit.value
        if other.op == "<=":  # A <= v gives A <= t (t >= v) and not (A > t) (t >= v)
            return t >= v and ((lit.op == "<=") != lit.negated)
        # A > v gives A > t (t <= v) and not (A <= t) (t <= v)
        return t <= v and ((lit.op == ">") != lit.negated)
    return False


def _drop_implied(literals):
    """Remove literals implied by another (plain) literal of the same rule on the same column."""
    # an implying literal is plain and never implied back by a literal it implies, so one
    # pass keeps every literal that is needed
    return [lit for lit in literals if not any(_implied(lit, o) for o in literals)]


def simplify(rule):
    """Fold one-literal exceptions without exceptions into the parent as negated literals
    (``not ab`` with ``ab :- A <= 3`` becomes ``not A <= 3``), merge numeric bounds and drop
    literals implied by another literal on the same column (``A != 'x'`` next to
    ``A == 'y'``; ``not (A > 5)`` next to ``A <= 3``). Semantics preserving."""
    exceptions, literals = [], list(rule.literals)
    for ab in rule.exceptions:
        ab = simplify(ab)
        if len(ab.literals) == 1 and not ab.exceptions:
            literals.append(ab.literals[0].negate())
        else:
            exceptions.append(ab)
    return Rule(_drop_implied(_unite_bounds(literals)), exceptions)


def _nodes(rules):
    """Every rule object of a program: top-level rules and their exceptions, depth first."""
    for rule in rules:
        yield rule
        yield from _nodes(rule.exceptions)


def prune(rules, features, target=None, weight=None, budget=0.0):
    """Drop the parts of a binary program that do not pay for themselves on the training rows.

    Two greedy passes over top-level rules and exception rules (at any depth):

    1. remove, one at a time, any part whose removal changes none of the program's training
       predictions, until none qualifies. Sequential covering leaves such parts behind: a
       rule whose positives later rules also cover, an exception whose negatives another
       exception already blocks;
    2. with ``budget > 0``: repeatedly remove the part whose removal adds the least weighted
       training error, as long as the error added since the start of this pass stays within
       ``budget``. This is FOLD-SE's ``tail`` applied to the finished program: a rule that
       covered enough rows when it was learned may, after the rules learned later, decide
       only a handful of rows of its own.

    Literals are kept: dropping those that are redundant on the training rows widens numeric
    ranges on new rows, where nothing checked that the wider range still holds.

    Parameters
    ----------
    rules : list of Rule
        Top-level rules; the program predicts positive where any of them fires.
    features : list of FeatureData
        Encoded training columns.
    target : ndarray of bool, optional
        Whether each training row is positive; needed for ``budget > 0``.
    weight : ndarray of float, optional
        Row weights (default 1).
    budget : float, default=0.0
        Weighted training errors the second pass may add in total (0: skip it).

    Returns
    -------
    list of Rule
        A pruned copy (the input is not modified).
    """
    # the top-level list held as an attribute, like exceptions: one removal path
    top = SimpleNamespace(rules=copy.deepcopy(rules))

    def fires():
        mask = np.zeros(len(features[0].num), dtype=bool)
        for rule in top.rules:
            mask |= rule.evaluate(features)
        return mask

    def removals():
        """Every (owner, attribute, index) whose removal drops one part."""
        for owner, attr in [(top, "rules")] + [(n, "exceptions") for n in _nodes(top.rules)]:
            for k in range(len(getattr(owner, attr))):
                yield owner, attr, k

    def without(owner, attr, k, score):
        """``score()`` of the program without that part (the program is left unchanged)."""
        items = getattr(owner, attr)
        setattr(owner, attr, items[:k] + items[k + 1:])
        try:
            return score()
        finally:
            setattr(owner, attr, items)

    def remove(owner, attr, k):
        items = getattr(owner, attr)
        setattr(owner, attr, items[:k] + items[k + 1:])

    before = fires()
    while True:
        same = next((r for r in removals() if np.array_equal(without(*r, fires), before)), None)
        if same is None:
            break
        remove(*same)

    if budget > 0 and target is not None:
        target = np.asarray(target, dtype=bool)
        w = np.ones(len(target)) if weight is None else np.asarray(weight, dtype=np.float64)

        def error():
            return float(w[fires() != target].sum())

        limit = error() + budget
        while True:
            costs = [(without(*r, error), i, r) for i, r in enumerate(removals())]
            cost, _, cheapest = min(costs, default=(np.inf, 0, None), key=lambda c: c[:2])
            if cheapest is None or cost > limit * (1 + 1e-12):
                break
            remove(*cheapest)
    return top.rules


# ----------------------------------------------------------------------------------------------
# printing
# ----------------------------------------------------------------------------------------------
def _label_text(v):
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def flatten(top_rules, heads, target_name="label"):
    """Flatten top-level rules and their exceptions into program lines.

    Identical exception rules are shared (printed once). Returns ``(lines, ab_names)``:
    ``lines`` is a list of :class:`ProgramRule` (top-level rules first, then ``ab`` rules in
    depth-first order), ``ab_names`` maps :func:`rule_key` of an exception rule to its name.
    """
    top_lines, ab_lines, ab_ids = [], [], {}

    key_of = rule_key

    def name_of(rule):
        k = key_of(rule)
        if k not in ab_ids:
            name = f"ab{len(ab_ids) + 1}"
            ab_ids[k] = name
            line = ProgramRule(name, None, list(rule.literals), [])
            ab_lines.append(line)
            line.exceptions = [name_of(ab) for ab in rule.exceptions]
        return ab_ids[k]

    for i, (rule, head) in enumerate(zip(top_rules, heads)):
        exc = [name_of(ab) for ab in rule.exceptions]
        top_lines.append(ProgramRule(f"r{i + 1}", head, list(rule.literals), exc))
    lines = top_lines + ab_lines
    for line in lines:
        body = [lit.text() for lit in line.literals] + [f"not {e}" for e in line.exceptions]
        head = line.name if line.head is None else f"{target_name} = {_label_text(line.head)}"
        line.text = f"{head} :- {', '.join(body) if body else 'true'}."
    return lines, ab_ids


def rule_key(rule):
    """Hashable structural identity of a rule (literals and, recursively, exceptions)."""
    return (tuple(rule.literals), tuple(rule_key(ab) for ab in rule.exceptions))
