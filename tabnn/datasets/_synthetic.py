"""Synthetic data with planted truth: CTR-like tables (:func:`make_ctr`) and rule programs
(:func:`make_rules`).  Everything is vectorised numpy, so millions of rows take seconds."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .._params import InstanceOf, Interval, Options, validate_function_params
from ._base import to_polars

__all__ = ["make_ctr", "make_rules", "apply_rules"]


def _rng(random_state):
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------------------------
# make_ctr


def _zipf_cdf_edges(k, s):
    """CDF of the bounded continuous power law x^-s on [1, k + 1] at the integers 1..k+1."""
    x = np.arange(1, k + 2, dtype=np.float64)
    if abs(s - 1.0) < 1e-9:
        return np.log(x) / np.log(k + 1.0)
    return (x ** (1.0 - s) - 1.0) / ((k + 1.0) ** (1.0 - s) - 1.0)


def _zipf_codes(rng, n, k, s):
    """``n`` codes in [0, k) with P(code = j) ~ (j + 1)^-s (discretised bounded power law),
    drawn by inverse-CDF sampling: one uniform and one power per row."""
    u = rng.random(n, dtype=np.float32)
    if abs(s - 1.0) < 1e-9:
        x = np.power(np.float32(k + 1.0), u)
    else:
        a = np.float32((k + 1.0) ** (1.0 - s) - 1.0)
        u *= a
        u += np.float32(1.0)
        x = np.power(u, np.float32(1.0 / (1.0 - s)))
    dtype = np.int8 if k < 127 else np.int16 if k < 32767 else np.int32
    codes = x.astype(dtype)  # pandas' own code dtype for k categories: no copy later
    codes -= 1
    np.minimum(codes, k - 1, out=codes)
    return codes


def _zipf_probs(k, s):
    return np.diff(_zipf_cdf_edges(k, s))


def _centered_group_scores(rng, probs):
    """Random +-1 group per category value, centred and scaled to mean 0 / variance 1 under
    the value distribution ``probs`` (so the factor has no main effect on its own)."""
    k = len(probs)
    sign = np.where(rng.random(k) < 0.5, -1.0, 1.0)
    # Balance the two groups by mass: greedy assignment of the most frequent values.
    order = np.argsort(-probs)
    head = order[: min(k, 64)]
    mass = 0.0
    for j in head:
        sign[j] = -1.0 if mass > 0 else 1.0
        mass += sign[j] * probs[j]
    mean = float(np.dot(probs, sign))
    sd = float(np.sqrt(max(np.dot(probs, (sign - mean) ** 2), 1e-12)))
    return ((sign - mean) / sd).astype(np.float32)


def _int_or_ints(value):
    """An int, or a list / tuple of ints (a count, or explicit entries)."""
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, numbers.Integral) for v in value)
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _list_or_int(value):
    return isinstance(value, (list, tuple)) or (
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)


_COUNT = [Interval("int", 0)]
_CTR_CONSTRAINTS = {
    "n_samples": [Interval("int", 1)],
    "n_categorical": _COUNT,
    "n_numeric": _COUNT,
    "cardinality": [InstanceOf(object, "an int >= 2, a (low, high) tuple of ints or a list of "
                               "ints", check=_int_or_ints)],
    "zipf_exponent": [Interval("real", 0)],
    "interactions": [InstanceOf(object, "an int >= 0 or a list of field-name tuples",
                                check=_list_or_int)],
    "interaction_strength": [Interval("real")],
    "main_effects": [InstanceOf(object, "an int >= 0 or a list of field names",
                                check=_list_or_int)],
    "main_effect_strength": [Interval("real")],
    "n_redundant": _COUNT,
    "n_noise": _COUNT,
    "noise": [Interval("real", 0, 0.5, closed="left")],
    "base_rate": [Interval("real", 0, 1, closed="neither"), Options(None)],
    "missing_rate": [Interval("real", 0, 1, closed="left")],
}
_RULES_CONSTRAINTS = {
    "n_samples": [Interval("int", 1)],
    "n_irrelevant": _COUNT,
    "noise": [Interval("real", 0, 0.5, closed="left")],
    "grid_step": [Interval("int", 1, 60)],
}


def _parse_cardinality(cardinality, n, rng):
    if isinstance(cardinality, numbers.Integral):
        if cardinality < 2:
            raise ValueError(f"cardinality must be >= 2; got {cardinality}")
        return np.full(n, int(cardinality), dtype=np.int64)
    if isinstance(cardinality, tuple) and len(cardinality) == 2:
        lo, hi = cardinality
        if lo < 2 or hi < lo:
            raise ValueError(f"cardinality range must satisfy 2 <= low <= high; got {cardinality}")
        return np.round(np.exp(rng.uniform(np.log(lo), np.log(hi), n))).astype(np.int64)
    card = np.asarray(list(cardinality), dtype=np.int64)
    if card.shape != (n,):
        raise ValueError(f"cardinality list must have n_categorical={n} entries")
    return card


def make_ctr(n_samples=100_000, n_categorical=26, n_numeric=13, *, cardinality=(10, 10_000),
             zipf_exponent=1.1, interactions=3, interaction_orders=(2, 2, 3),
             interaction_strength=2.0, main_effects=0, main_effect_strength=0.5,
             n_redundant=0, n_noise=0, id_like=False, noise=0.05, base_rate=0.25,
             missing_rate=0.0, random_state=None, as_frame=True, return_X_y=False):
    """Generate a CTR-like table whose click label follows planted feature interactions.

    Categorical fields ``C1..`` have Zipf-distributed values (value ``j`` has probability
    proportional to ``(j + 1) ** -zipf_exponent``), numeric fields ``I1..`` are heavy-tailed
    non-negative counts (floored log-normals, like Criteo's integer features).  The label is
    ``Bernoulli(p)`` with ``p = noise + (1 - 2 noise) sigmoid(logit)``, where ``logit`` is an
    intercept plus the planted effects:

    * a categorical field enters an effect through a random two-group split of its values
      (``+1`` / ``-1``, centred and scaled so that it has mean 0 under the Zipf distribution);
    * a numeric field enters through ``+1`` above / ``-1`` below its median (0 when missing);
    * an interaction of order ``k`` adds ``interaction_strength`` times the product of its
      fields' factors (an XOR of the groups: no single field of a pairwise interaction is
      informative on its own, and a linear model on one-hot columns cannot represent it);
    * a main effect adds ``main_effect_strength`` times one field's factor.

    Parameters
    ----------
    n_samples : int, default=100_000
        Number of rows.
    n_categorical, n_numeric : int, default=26, 13
        Number of base categorical (``C1..``) and numeric (``I1..``) fields.  Base fields that
        take part in no planted effect are uninformative (listed in ``noise_features``).
    cardinality : int, (low, high) tuple or list of int, default=(10, 10_000)
        Number of distinct values per categorical field: one value for all, a log-uniform
        range, or one value per field.
    zipf_exponent : float, default=1.1
        Exponent of the Zipf distribution of categorical values.
    interactions : int or list of tuple of str, default=3
        Planted interactions: either a count (fields drawn at random, orders taken cyclically
        from ``interaction_orders``; pairwise ones alternate categorical x categorical and
        categorical x numeric, higher orders mix both kinds) or explicit tuples of field names
        such as ``[("C1", "C2"), ("C3", "I1"), ("C4", "C5", "I2")]``.
    interaction_orders : tuple of int, default=(2, 2, 3)
        Orders used when ``interactions`` is a count.
    interaction_strength : float, default=2.0
        Logit weight of every interaction.
    main_effects : int or list of str, default=0
        Additional fields with a main effect (count of randomly chosen unused fields, or names).
    main_effect_strength : float, default=0.5
        Logit weight of every main effect.
    n_redundant : int, default=0
        Extra columns that are exact information-preserving copies of informative fields
        (categoricals with relabelled values, numerics through ``log1p``), named
        ``<field>_copy``; ``redundant_features`` maps each to its original.
    n_noise : int, default=0
        Extra pure-noise columns ``N1..`` (alternately categorical and numeric).
    id_like : bool, default=False
        Add a pure-noise categorical column ``id_like`` with about ``n_samples`` values.
    noise : float, default=0.05
        Probability that a label is flipped (included in ``oracle_proba``).
    base_rate : float or None, default=0.25
        Intercept chosen so that the mean click probability before flipping is about this;
        None uses intercept 0.
    missing_rate : float, default=0.0
        Fraction of numeric values replaced by NaN (independently per cell).
    random_state : int, numpy Generator or None, default=None
        Seed for reproducible output.
    as_frame : bool or {"pandas", "polars"}, default=True
        pandas (categoricals as ``category`` with integer values), polars
        (``pl.Categorical``) or numpy (False: a float64 matrix, categorical codes as floats).
    return_X_y : bool, default=False
        Return ``(data, target)`` only.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``frame`` (features + ``label``), ``data``, ``target``, ``feature_names``,
        ``categorical_features``, ``numeric_features``, ``cardinalities``,
        ``informative_features`` (fields used by a planted effect), ``interactions`` (tuples
        of field names; the order is the tuple's length), ``effects`` (one dict per planted
        term: ``fields``, ``order``, ``kind``, ``weight``), ``redundant_features`` (copy ->
        original), ``noise_features``, ``oracle_proba`` (true P(label = 1 | x)),
        ``intercept`` and ``DESCR``.
    (data, target) : tuple
        When ``return_X_y=True``.

    Examples
    --------
    >>> from tabnn.datasets import make_ctr
    >>> b = make_ctr(n_samples=1000, n_categorical=4, n_numeric=2, interactions=[("C1", "C2")],
    ...              random_state=0)
    >>> b.frame.shape, b.interactions
    ((1000, 7), [('C1', 'C2')])
    """
    validate_function_params("make_ctr", _CTR_CONSTRAINTS, locals())
    n = int(n_samples)
    rng = _rng(random_state)
    cat_names = [f"C{i + 1}" for i in range(n_categorical)]
    num_names = [f"I{i + 1}" for i in range(n_numeric)]
    cards = _parse_cardinality(cardinality, n_categorical, rng)
    num_mu = rng.uniform(0.5, 3.0, n_numeric)
    num_sigma = rng.uniform(1.0, 2.0, n_numeric)

    # ---- choose the planted structure -------------------------------------------------------
    if isinstance(interactions, numbers.Integral):
        free_c = list(rng.permutation(cat_names))
        free_n = list(rng.permutation(num_names))
        inter = []
        n_pairs = 0
        for i in range(int(interactions)):
            order = int(interaction_orders[i % len(interaction_orders)])
            if order < 2:
                raise ValueError("interaction orders must be >= 2")
            if order == 2:
                kinds = ["c", "c"] if n_pairs % 2 == 0 else ["c", "n"]
                n_pairs += 1
            else:
                kinds = ["c"] * (order - 1) + ["n"]
            if kinds.count("n") > len(free_n):
                kinds = ["c"] * order
            if kinds.count("c") > len(free_c):
                raise ValueError("not enough categorical fields for the requested interactions")
            inter.append(tuple(str(free_c.pop(0)) if k == "c" else str(free_n.pop(0))
                               for k in kinds))
    else:
        inter = [tuple(t) for t in interactions]
    all_names = set(cat_names) | set(num_names)
    for t in inter:
        bad = [f for f in t if f not in all_names]
        if bad:
            raise ValueError(f"unknown fields {bad} in interaction {t}")
        if len(t) < 2:
            raise ValueError(f"interaction {t} must have at least two fields")
    used = {f for t in inter for f in t}
    if isinstance(main_effects, numbers.Integral):
        pool = [f for f in cat_names + num_names if f not in used]
        pick = rng.permutation(len(pool))[: int(main_effects)]
        mains = [pool[i] for i in sorted(pick)]
    else:
        mains = list(main_effects)
    informative = [f for f in cat_names + num_names if f in used or f in mains]

    # ---- base fields --------------------------------------------------------------------------
    cat_codes = {}
    for name, k in zip(cat_names, cards):
        cat_codes[name] = _zipf_codes(rng, n, int(k), zipf_exponent)
    num_vals = {}
    for j, name in enumerate(num_names):
        x = rng.standard_normal(n, dtype=np.float32)
        x *= np.float32(num_sigma[j])
        x += np.float32(num_mu[j])
        v = np.floor(np.exp(x)).astype(np.float64)
        if missing_rate > 0:
            v[rng.random(n, dtype=np.float32) < missing_rate] = np.nan
        num_vals[name] = v
    card_of = dict(zip(cat_names, (int(k) for k in cards)))

    # ---- planted logit --------------------------------------------------------------------------
    factors = {}

    def factor(name):
        if name not in factors:
            if name in cat_codes:
                scores = _centered_group_scores(rng, _zipf_probs(card_of[name], zipf_exponent))
                factors[name] = scores[cat_codes[name]]
            else:
                v = num_vals[name]
                thr = np.floor(np.exp(num_mu[num_names.index(name)]))
                f = np.where(v > thr, np.float32(1), np.float32(-1))
                f[np.isnan(v)] = 0
                factors[name] = f
        return factors[name]

    logit = np.zeros(n, dtype=np.float32)
    effects = []
    for t in inter:
        term = np.float32(interaction_strength) * factor(t[0])
        for f in t[1:]:
            term = term * factor(f)
        logit += term
        kind = " x ".join("categorical" if f in cat_codes else "numeric" for f in t)
        effects.append({"fields": t, "order": len(t), "kind": kind,
                        "weight": float(interaction_strength)})
    for f in mains:
        logit += np.float32(main_effect_strength) * factor(f)
        effects.append({"fields": (f,), "order": 1, "kind": "main effect",
                        "weight": float(main_effect_strength)})

    if base_rate is None:
        intercept = 0.0
    else:
        if not 0.0 < base_rate < 1.0:
            raise ValueError("base_rate must be in (0, 1)")
        sub = logit[: min(n, 200_000)].astype(np.float64)
        lo, hi = -30.0, 30.0
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            if _sigmoid(sub + mid).mean() < base_rate:
                lo = mid
            else:
                hi = mid
        intercept = 0.5 * (lo + hi)
    logit += np.float32(intercept)
    proba = _sigmoid(logit.astype(np.float64))
    if noise > 0:
        proba = noise + (1.0 - 2.0 * noise) * proba
    y = (rng.random(n) < proba).astype(np.int64)

    # ---- redundant copies and pure noise ---------------------------------------------------
    redundant = {}
    for i in range(int(n_redundant)):
        if not informative:
            raise ValueError("n_redundant > 0 needs at least one informative field")
        orig = informative[i % len(informative)]
        name = f"{orig}_copy" if i < len(informative) else f"{orig}_copy{i // len(informative) + 1}"
        if orig in cat_codes:
            perm = rng.permutation(card_of[orig]).astype(cat_codes[orig].dtype)
            cat_codes[name] = perm[cat_codes[orig]]
            card_of[name] = card_of[orig]
        else:
            num_vals[name] = np.log1p(num_vals[orig])
        redundant[name] = orig
    extra_noise = []
    for i in range(int(n_noise)):
        name = f"N{i + 1}"
        if i % 2 == 0:
            k = int(_parse_cardinality(cardinality, 1, rng)[0])
            cat_codes[name] = _zipf_codes(rng, n, k, zipf_exponent)
            card_of[name] = k
        else:
            x = rng.standard_normal(n) * rng.uniform(1.0, 2.0) + rng.uniform(0.5, 3.0)
            num_vals[name] = np.floor(np.exp(x))
        extra_noise.append(name)
    if id_like:
        cat_codes["id_like"] = rng.integers(0, n, n, dtype=np.int32)
        card_of["id_like"] = n
        extra_noise.append("id_like")

    categorical = [c for c in cat_codes]
    numeric = [c for c in num_vals]
    order = cat_names + num_names + list(redundant) + extra_noise
    noise_features = [f for f in order if f not in informative and f not in redundant]

    if as_frame is False:
        data = np.empty((n, len(order)), dtype=np.float64)
        for j, f in enumerate(order):
            data[:, j] = cat_codes[f] if f in cat_codes else num_vals[f]
        target = y
        frame = None
    elif as_frame in (True, "pandas", "polars"):
        cols = {}
        for f in order:
            if f in cat_codes:
                dtype = pd.CategoricalDtype(pd.RangeIndex(card_of[f]))
                cols[f] = pd.Categorical.from_codes(cat_codes[f], dtype=dtype)
            else:
                cols[f] = num_vals[f]
        cols["label"] = y
        frame = pd.DataFrame(cols, copy=False)
        if as_frame == "polars":
            frame = to_polars(frame)
            data, target = frame.drop("label"), frame.get_column("label")
        else:
            data, target = frame[order], frame["label"]
    else:
        raise ValueError(f"as_frame must be True, False, 'pandas' or 'polars'; got {as_frame!r}")
    if return_X_y:
        return data, target

    descr = (
        "Synthetic CTR data (tabnn.datasets.make_ctr)\n"
        f"{n} rows, {len(order)} features ({len(categorical)} categorical, {len(numeric)} "
        f"numeric), positive rate {y.mean():.3f}.\n"
        "Planted logit terms:\n"
        + "\n".join(f"  {e['weight']:+.2f} * " + " * ".join(f"g[{f}]" for f in e["fields"])
                    + f"   (order {e['order']}, {e['kind']})" for e in effects)
        + f"\nIntercept {intercept:.3f}; labels flipped with probability {noise}.\n"
        f"Redundant copies: {redundant or 'none'}; pure-noise fields: "
        f"{len(noise_features)}."
    )
    return Bunch(
        frame=frame, data=data, target=target, feature_names=order,
        categorical_features=categorical, numeric_features=numeric,
        cardinalities={f: card_of[f] for f in categorical},
        informative_features=informative, interactions=inter, effects=effects,
        redundant_features=redundant, noise_features=noise_features, oracle_proba=proba,
        intercept=float(intercept), DESCR=descr,
    )


# --------------------------------------------------------------------------------------------
# make_rules

_OPS = {
    "<=": np.less_equal, ">": np.greater, "<": np.less, ">=": np.greater_equal,
    "==": None, "!=": None,
}

_RULE_CATS = {
    "color": ["red", "green", "blue", "yellow"],
    "shape": ["circle", "square", "triangle"],
    "size": ["small", "medium", "large"],
}


def _column(X, name):
    if isinstance(X, pd.DataFrame):
        s = X[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            return s.astype(object).to_numpy()
        return s.to_numpy()
    if hasattr(X, "get_column"):  # polars
        s = X.get_column(name)
        if s.dtype.is_numeric():
            return s.to_numpy()
        return np.asarray(s.cast(str).to_list(), dtype=object)
    return np.asarray(X[name])


def _literal(X, cond):
    col, op, value = cond["column"], cond["op"], cond["value"]
    v = _column(X, col)
    if op == "==":
        return v == value
    if op == "!=":
        return v != value
    vf = v.astype(np.float64)
    with np.errstate(invalid="ignore"):
        return _OPS[op](vf, float(value)) & ~np.isnan(vf)


def apply_rules(rules, X):
    """Evaluate a rule program (the structured ``rules`` of :func:`make_rules`) on a table.

    A rule fires when all its body literals hold and none of its exception predicates does;
    exception predicates (heads other than ``"label"``) are rules themselves.  The label is
    1 when any ``"label"`` rule fires (a default-negative program, as in FOLD-R++).

    Parameters
    ----------
    rules : list of dict
        Each rule has ``head`` (``"label"`` or an exception name such as ``"ab1"``), ``body``
        (list of ``{"column", "op", "value"}`` with ``op`` in ``<=, >, <, >=, ==, !=``) and
        ``exceptions`` (names of exception predicates negated in the body).
    X : pandas DataFrame, polars DataFrame or mapping of arrays
        Must hold every column named in the rules.  Missing numeric values never satisfy a
        comparison.

    Returns
    -------
    label : ndarray of int64
        0/1 prediction per row.
    """
    n = len(X) if not isinstance(X, dict) else len(next(iter(X.values())))
    by_head = {}
    for r in rules:
        by_head.setdefault(r["head"], []).append(r)
    cache = {}

    def holds(head, stack=()):
        if head in cache:
            return cache[head]
        if head in stack:
            raise ValueError(f"cyclic rule program at {head!r}")
        out = np.zeros(n, dtype=bool)
        for r in by_head.get(head, []):
            m = np.ones(n, dtype=bool)
            for cond in r["body"]:
                m &= _literal(X, cond)
            for ab in r.get("exceptions", []):
                m &= ~holds(ab, stack + (head,))
            out |= m
        cache[head] = out
        return out

    return holds("label").astype(np.int64)


def _fmt_value(v):
    return f"'{v}'" if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)


def rules_to_text(rules):
    """Readable one-line-per-rule text of a structured rule program (FOLD style)."""
    lines = []
    for r in rules:
        body = [f"{c['column']} {c['op']} {_fmt_value(c['value'])}" for c in r["body"]]
        body += [f"not {ab}(X)" for ab in r.get("exceptions", [])]
        lines.append(f"{r['head']}(X) :- " + ", ".join(body) + ".")
    return "\n".join(lines)


def make_rules(n_samples=1000, *, n_rules=2, exceptions=True, n_irrelevant=4, noise=0.0,
               grid_step=10, random_state=None, as_frame=True, return_X_y=False):
    """Generate a mixed table whose label follows a known default-rule program.

    Relevant columns: integer-valued numerics ``age``, ``income``, ``score``, ``hours``
    (uniform on 0..100) and categoricals ``color``, ``shape``, ``size``.  The program (its
    thresholds drawn from multiples of ``grid_step`` between 20 and 80, so a rule learner can
    recover them exactly) is, for ``n_rules=3, exceptions=True``::

        label(X) :- age <= T1, color == 'red', not ab1(X).
        label(X) :- income > T2, shape == 'square', not ab2(X).
        label(X) :- hours > T4, size == 'large'.
        ab1(X) :- score > T3.
        ab2(X) :- color == 'green'.

    Everything not covered by a ``label`` rule is negative (the default).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_rules : {1, 2, 3}, default=2
        Number of ``label`` rules.
    exceptions : bool, default=True
        Give the first (and second) rule an exception (a numeric, resp. categorical,
        abnormality predicate).
    n_irrelevant : int, default=4
        Extra columns unrelated to the label (``noise_num<i>`` uniform integers on 0..100 and
        ``noise_cat<i>`` with 5 values, alternating).
    noise : float, default=0.0
        Probability that a label is flipped.  With 0 the program reproduces the labels exactly.
    grid_step : int, default=10
        Thresholds are multiples of this.
    random_state : int, numpy Generator or None, default=None
        Seed.
    as_frame : bool or {"pandas", "polars"}, default=True
        Output container; categoricals are ``category`` (pandas) / ``Categorical`` (polars).
        False gives an object ndarray.
    return_X_y : bool, default=False
        Return ``(data, target)`` only.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``frame``, ``data``, ``target`` (0/1, column ``label``), ``feature_names``,
        ``categorical_features``, ``numeric_features``, ``relevant_features``, ``rules``
        (readable text, one rule per line), ``program`` (structured rules: list of dicts with
        ``head``, ``body`` = list of ``{"column", "op", "value"}``, ``exceptions``; evaluate
        with :func:`apply_rules`), ``thresholds`` (column -> planted threshold) and ``DESCR``.
    (data, target) : tuple
        When ``return_X_y=True``.

    Examples
    --------
    >>> from tabnn.datasets import make_rules, apply_rules
    >>> b = make_rules(n_samples=500, random_state=0)
    >>> bool((apply_rules(b.program, b.frame) == b.target).all())
    True
    """
    if n_rules not in (1, 2, 3):
        raise ValueError("n_rules must be 1, 2 or 3")
    validate_function_params("make_rules", _RULES_CONSTRAINTS, locals())
    rng = _rng(random_state)
    n = int(n_samples)
    grid = np.arange(20, 81, grid_step)
    if len(grid) == 0:
        raise ValueError("grid_step too large: no threshold between 20 and 80")
    t1, t2, t3, t4 = (int(v) for v in rng.choice(grid, 4))

    cols = {}
    for name in ("age", "income", "score", "hours"):
        cols[name] = rng.integers(0, 101, n).astype(np.int64)
    for name, levels in _RULE_CATS.items():
        cols[name] = pd.Categorical.from_codes(rng.integers(0, len(levels), n), levels)
    noise_names = []
    for i in range(int(n_irrelevant)):
        if i % 2 == 0:
            name = f"noise_num{i // 2 + 1}"
            cols[name] = rng.integers(0, 101, n).astype(np.int64)
        else:
            name = f"noise_cat{i // 2 + 1}"
            levels = [f"v{j}" for j in range(5)]
            cols[name] = pd.Categorical.from_codes(rng.integers(0, 5, n), levels)
        noise_names.append(name)

    program = [{"head": "label",
                "body": [{"column": "age", "op": "<=", "value": t1},
                         {"column": "color", "op": "==", "value": "red"}],
                "exceptions": ["ab1"] if exceptions else []}]
    if n_rules >= 2:
        program.append({"head": "label",
                        "body": [{"column": "income", "op": ">", "value": t2},
                                 {"column": "shape", "op": "==", "value": "square"}],
                        "exceptions": ["ab2"] if exceptions else []})
    if n_rules >= 3:
        program.append({"head": "label",
                        "body": [{"column": "hours", "op": ">", "value": t4},
                                 {"column": "size", "op": "==", "value": "large"}],
                        "exceptions": []})
    if exceptions:
        program.append({"head": "ab1", "body": [{"column": "score", "op": ">", "value": t3}],
                        "exceptions": []})
        if n_rules >= 2:
            program.append({"head": "ab2",
                            "body": [{"column": "color", "op": "==", "value": "green"}],
                            "exceptions": []})

    frame = pd.DataFrame(cols)
    y = apply_rules(program, frame)
    if noise > 0:
        flip = rng.random(n) < noise
        y = np.where(flip, 1 - y, y)
    frame["label"] = y
    features = [c for c in frame.columns if c != "label"]
    categorical = [c for c in features if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in features if c not in categorical]
    relevant = sorted({c["column"] for r in program for c in r["body"]}, key=features.index)
    thresholds = {c["column"]: c["value"] for r in program for c in r["body"]
                  if c["op"] not in ("==", "!=")}
    text = rules_to_text(program)

    if as_frame in (True, "pandas"):
        out_frame, data, target = frame, frame[features], frame["label"]
    elif as_frame == "polars":
        out_frame = to_polars(frame)
        data, target = out_frame.drop("label"), out_frame.get_column("label")
    elif as_frame is False:
        out_frame, data, target = None, frame[features].to_numpy(dtype=object), y
    else:
        raise ValueError(f"as_frame must be True, False, 'pandas' or 'polars'; got {as_frame!r}")
    if return_X_y:
        return data, target
    descr = ("Synthetic rule data (tabnn.datasets.make_rules)\n"
             f"{n} rows, positive rate {y.mean():.3f}, label noise {noise}.\n"
             "Planted program (default: label = 0):\n" + text)
    return Bunch(frame=out_frame, data=data, target=target, feature_names=features,
                 categorical_features=categorical, numeric_features=numeric,
                 relevant_features=relevant, irrelevant_features=noise_names, rules=text,
                 program=program, thresholds=thresholds, DESCR=descr)
