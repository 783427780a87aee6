"""Per-feature scores from a :class:`PassResult` and the 3MR redundancy-aware ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._mi import conditional_entropy, entropy, mutual_information, pair_codes, xlogx_sum

__all__ = ["score_table", "three_mr", "pair_statistics"]


def _is_relabeling(joint):
    """True when the feature and the label determine each other (the self-MI case)."""
    nz = joint > 0
    return bool((nz.sum(axis=1) <= 1).all() and (nz.sum(axis=0) <= 1).all())


def score_table(res):
    """One row per feature: OutRank score, plain MI, cardinality and simple data statistics."""
    rows = []
    for name, role, joint, null in zip(res.names, res.roles, res.joints, res.nulls):
        counts = joint.sum(axis=1)
        mi = mutual_information(joint) if res.n_classes > 1 else 0.0
        if res.n_classes <= 1:
            score = 0.0
        elif _is_relabeling(joint):
            score = mi  # the feature is the label: no noise correction (as OutRank does)
        else:
            score = conditional_entropy(null) - conditional_entropy(joint)
        present = counts > 0
        rows.append(
            {
                "feature": name,
                "score": float(score),
                "mutual_info": float(mi),
                "cardinality": int(present.sum()),
                "role": role,
                "n_missing": int(counts[0]),
                "top_fraction": float(counts.max() / max(res.n_rows, 1)),
                "entropy": entropy(counts),
            }
        )
    return pd.DataFrame(rows)


def _redundancy_and_relation(a, b, n_b, y, y_null, b_null):
    """Scores of one feature pair on the row sample.

    Returns ``(S(a; b), S(a AND b; y))``: the cardinality-corrected information the pair shares
    (``b`` plays the label, ``b`` shuffled is its noise copy), and the OutRank score of the
    combined feature for the label.
    """
    n = len(a)
    c = pair_codes(a, b, n_b)
    n_ab = np.bincount(c)
    c_null = pair_codes(a, b_null, n_b)
    redundancy = (xlogx_sum(n_ab) - xlogx_sum(np.bincount(c_null))) / n
    if y is None:
        return redundancy, 0.0
    K = int(max(y.max(), y_null.max())) + 1
    V = len(n_ab)
    j = np.bincount(c * K + y, minlength=V * K).reshape(V, K)
    jn = np.bincount(c * K + y_null, minlength=V * K).reshape(V, K)
    relation = conditional_entropy(jn) - conditional_entropy(j)
    return redundancy, relation


def pair_statistics(codes, y, y_null, idx, seed=0):
    """Pairwise redundancy and relation scores among the columns ``idx`` of ``codes``.

    Returns two symmetric ``len(idx) x len(idx)`` matrices (diagonal NaN).
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(codes.shape[0])
    m = len(idx)
    red = np.full((m, m), np.nan)
    rel = np.full((m, m), np.nan)
    cols = [codes[:, i] for i in idx]
    n_vals = [int(c.max()) + 1 if len(c) else 1 for c in cols]
    for p in range(m):
        for q in range(p + 1, m):
            r, s = _redundancy_and_relation(
                cols[p], cols[q], n_vals[q], y, y_null, cols[q][perm]
            )
            red[p, q] = red[q, p] = r
            rel[p, q] = rel[q, p] = s
    return red, rel


def _minmax(values):
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return np.zeros_like(v)
    lo, hi = v[finite].min(), v[finite].max()
    out = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    return out


def three_mr(relevance, redundancy, relation, alpha=1.0, beta=1.0, aggregation="median"):
    """Greedy 3MR order: relevance - alpha * redundancy + beta * relations.

    Each score set is min-max normalised to ``[0, 1]``. Start with the most relevant feature;
    then repeatedly add the unranked feature maximising
    ``rel(f) - alpha * median_{s ranked} red(f, s) + beta * median_{s ranked} relat(f, s)``.
    Ties go to the earlier column. ``aggregation`` ("median", as OutRank, "mean" or "max")
    replaces the median; with the median a copy of one ranked feature stops being penalised
    once three or more features are ranked, "max" penalises it whatever was ranked before.

    Returns
    -------
    order : ndarray of int
        Positions into ``relevance`` in ranking order.
    objective : ndarray of float
        The greedy objective of each feature at the step it was picked (by position).
    """
    agg = {"median": np.median, "mean": np.mean, "max": np.max}.get(aggregation)
    if agg is None:
        raise ValueError(f"aggregation must be 'median', 'mean' or 'max', got {aggregation!r}.")
    m = len(relevance)
    rel = _minmax(relevance)
    red = _minmax(redundancy)
    rat = _minmax(relation)
    order = [int(np.argmax(rel))]
    objective = np.full(m, np.nan)
    objective[order[0]] = rel[order[0]]
    remaining = [i for i in range(m) if i != order[0]]
    while remaining:
        rem = np.asarray(remaining)
        ranked = np.asarray(order)
        med_red = agg(red[np.ix_(rem, ranked)], axis=1)
        med_rat = agg(rat[np.ix_(rem, ranked)], axis=1)
        value = rel[rem] - alpha * med_red + beta * med_rat
        best = int(np.argmax(value))
        objective[rem[best]] = value[best]
        order.append(int(rem[best]))
        remaining.pop(best)
    return np.asarray(order, dtype=np.int64), objective
