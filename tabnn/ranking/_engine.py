"""From a finished pass to the ranking table (optionally 3MR) and the data-quality report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._mi import entropy, pair_codes
from ._rank import pair_statistics, score_table, three_mr

__all__ = ["ranking_from_pass", "quality_from_pass"]


def ranking_from_pass(
    res, *, redundancy=False, alpha=1.0, beta=1.0, max_candidates=30, aggregation="median",
    seed=0,
):
    """The ranking DataFrame, one row per feature, sorted by rank (1 = best).

    Without redundancy the rank orders the OutRank score (ties: earlier column first). With
    redundancy the ``max_candidates`` most relevant features are re-ordered by the greedy 3MR
    rule using pairwise scores computed on the row sample of the pass; the others follow in
    score order.
    """
    table = score_table(res)
    scores = table["score"].to_numpy()
    by_score = np.lexsort((np.arange(len(scores)), -scores))
    table["mrmr"] = np.nan
    if redundancy and len(scores) > 1:
        cand = by_score[: max(2, int(max_candidates))]
        red, rel = pair_statistics(
            res.sample_codes, res.sample_y, res.sample_y_null, cand, seed=seed
        )
        order, objective = three_mr(scores[cand], red, rel, alpha=alpha, beta=beta,
                                    aggregation=aggregation)
        final = np.concatenate([cand[order], by_score[len(cand):]])
        table.loc[cand, "mrmr"] = objective
    else:
        final = by_score
    rank = np.empty(len(scores), dtype=np.int64)
    rank[final] = np.arange(1, len(scores) + 1)
    table["rank"] = rank
    cols = ["feature", "score", "mutual_info", "cardinality", "rank", "role", "mrmr"]
    return table[cols].sort_values("rank", kind="stable").reset_index(drop=True)


def _duplicates(res, card_full, counts_profiles, entropies, tol):
    """``duplicate_of`` / ``near_duplicate_of`` for each feature (earlier column wins)."""
    codes = res.sample_codes
    n_s = codes.shape[0]
    F = codes.shape[1]
    dup = [None] * F
    near = [None] * F
    if n_s == 0:
        return dup, near
    s_card = [len(np.unique(codes[:, j])) for j in range(F)]
    s_ent = [entropy(np.bincount(codes[:, j])) for j in range(F)]
    for g in range(F):
        for f in range(g):
            if dup[f] is not None or near[f] is not None:
                continue  # compare with the first representative only
            exact_candidate = card_full[f] == card_full[g] and np.array_equal(
                counts_profiles[f], counts_profiles[g]
            )
            hf, hg = s_ent[f], s_ent[g]
            hmax = max(hf, hg)
            if not exact_candidate and (hmax <= 0 or abs(hf - hg) > tol * hmax):
                continue
            c = pair_codes(codes[:, f], codes[:, g], int(codes[:, g].max()) + 1)
            n_pairs = int(c.max()) + 1
            if exact_candidate and n_pairs == s_card[f] == s_card[g]:
                dup[g] = res.names[f]
                break
            # near duplicate: variation of information small relative to the joint entropy,
            # only meaningful when the sample holds repeated values of both columns
            if max(s_card[f], s_card[g]) > 0.5 * n_s or hmax <= 0:
                continue
            h_joint = entropy(np.bincount(c))
            vi = 2 * h_joint - hf - hg
            if h_joint > 0 and vi <= tol * h_joint:
                near[g] = res.names[f]
                break
    return dup, near


def quality_from_pass(
    res,
    *,
    missing_threshold=0.5,
    near_constant_threshold=0.99,
    id_fraction=0.5,
    duplicate_tol=0.05,
):
    """The data-quality report DataFrame (one row per feature, input order)."""
    table = score_table(res)
    n = max(res.n_rows, 1)
    counts = [j.sum(axis=1) for j in res.joints]
    profiles = [np.sort(c[c > 0]) for c in counts]
    card = table["cardinality"].to_numpy()
    dup, near = _duplicates(res, card, profiles, table["entropy"].to_numpy(), duplicate_tol)
    missing_fraction = table["n_missing"].to_numpy() / n
    non_missing = np.maximum(n - table["n_missing"].to_numpy(), 1)
    # distinct non-missing values relative to non-missing rows
    distinct = card - (table["n_missing"].to_numpy() > 0)
    scores = table["score"].to_numpy()
    top = float(np.max(scores)) if len(scores) else 0.0
    score_small = scores <= max(0.05 * top, 1e-3) if res.n_classes > 1 else np.ones(len(card), bool)
    report = pd.DataFrame(
        {
            "feature": table["feature"],
            "role": table["role"],
            "cardinality": card,
            "missing_fraction": missing_fraction,
            "top_fraction": table["top_fraction"],
            "unique_fraction": distinct / non_missing,
            "score": scores if res.n_classes > 1 else np.nan,
            "mutual_info": table["mutual_info"] if res.n_classes > 1 else np.nan,
        }
    )
    report["constant"] = card <= 1
    report["near_constant"] = (~report["constant"]) & (
        report["top_fraction"] >= near_constant_threshold
    )
    is_id = (distinct >= id_fraction * non_missing) & (distinct > 1) & score_small
    report["id_like"] = is_id & (report["role"] == "categorical").to_numpy()
    report["high_missing"] = missing_fraction >= missing_threshold
    report["duplicate_of"] = pd.Series(dup, dtype=object)
    report["near_duplicate_of"] = pd.Series(near, dtype=object)
    flags = ["constant", "near_constant", "id_like", "high_missing"]
    issues = []
    for i in range(len(report)):
        found = [f for f in flags if report[f].iat[i]]
        if dup[i] is not None:
            found.append(f"duplicate of {dup[i]}")
        elif near[i] is not None:
            found.append(f"near-duplicate of {near[i]}")
        issues.append(", ".join(found))
    report["issues"] = issues
    return report
