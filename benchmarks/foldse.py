"""FOLD-SE benchmark on the UCI data sets of the FOLD papers.

Protocol: stratified-free random 80/20 train/test splits (``train_test_split``, seeds 0..k-1),
the same splits for every method, all methods run in this process. ``--full`` uses seeds 0-9
on every data set under 10,000 rows (their test sets have 24-1,600 rows, so one seed's
accuracy moves by up to 4 points per test row pair and 3 seeds do not separate methods) and
seeds 0-2 on the sets of 10,000+ rows. ``foldrpp`` iterates Python ``set``s of
category strings, so its results depend on ``PYTHONHASHSEED``; set it for reproducible rows.

Binary sets: the 15 of the FOLD-R++ paper, whose configuration fixes the head (the class the
rules describe), and every other binary table of the data home with at least 1,000 rows
(heloc, bank_marketing, intention, eeg, titanic; no configured head). F1 is that of the
paper's head, or of the minority class on the new sets. Multi-class sets report weighted F1
(FOLD-RM convention). The click logs (criteo / avazu samples, frappe) are left out: ids with
tens of thousands of values, not the mixed tables rule learners are for.

Methods: ``foldse`` (tabnn FoldSEClassifier with its defaults: ratio=0.5, tail=0.005,
criterion='auto', prune=True, positive_class='auto', i.e. the head chosen from the training
data), ``foldse_paper`` (the same with the paper's head; FOLD sets only), ``foldrpp_min`` /
``foldrpp_maj`` (official FOLD-R++ package, PyPI ``foldrpp``, ratio=0.5, with the head on the
training split's minority / majority class; binary only; ``foldrpp`` is the paper's head),
``ripper`` (PyPI
``wittgenstein``; binary only), ``dtree`` (scikit-learn DecisionTreeClassifier, default
parameters, categoricals ordinal-encoded) and ``lgbm`` (LightGBM, default parameters, native
categoricals). Missing baselines (package not installed) are skipped.

Rules / literals: FOLD-SE and foldrpp count the lines of the flattened program (top-level
rules + exception rules) and the comparison literals in them; ``top`` is the number of
top-level rules. RIPPER: rules and conditions. Trees: leaves, and "literals" = internal nodes.

Usage::

    python benchmarks/foldse.py                 # quick: a few sets, 1 seed
    python benchmarks/foldse.py --full          # all sets, seeds 0-9 (large sets: 0-2)
    PYTHONHASHSEED=0 python benchmarks/foldse.py --full --methods foldse foldse_paper \
        foldrpp_min foldrpp_maj --csv foldse.csv  # the FOLD-SE table of docs/benchmarks.md
    python benchmarks/foldse.py --datasets adult credit_card --seeds 3 --methods foldse foldrpp
    python benchmarks/foldse.py --datasets cars --seeds 10 --methods foldse foldrpp --diagnose-foldrpp
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from tabnn.datasets import load_dataset
from tabnn.estimators.foldse import FoldSEClassifier

DATA = Path(os.environ.get("TABNN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
os.environ.setdefault("TABNN_DATA", str(DATA))

# FOLD-R++ configuration (hwd404/FOLD-R-PP datasets.py): positive value per binary data set
BINARY = {
    "acute": "yes", "autism": "NO", "breastw": "malignant", "cars": "negative",
    "credit_a": "-", "ecoli": "cp", "heart": "absent", "ionosphere": "g", "kidney": "ckd",
    "krkp": "won", "mushroom": "p", "voting": "republican", "adult": "<=50K",
    "credit_card": "0", "rain_australia": "No",
}
# binary tables of the data home with 1,000+ rows that have no FOLD-R++ configuration
NEW_BINARY = ["heloc", "bank_marketing", "intention", "eeg", "titanic"]
MULTICLASS = ["anneal", "ecoli", "nursery", "page_blocks", "pendigits", "wine", "dry_bean"]
LARGE = {"adult", "credit_card", "rain_australia"}
QUICK = ["acute", "heart", "credit_a", "mushroom", "adult", "wine"]
PUBLISHED_NAMES = {
    "breast-w": "breastw", "credit-a": "credit_a", "kr vs. kp": "krkp",
    "credit card": "credit_card", "rain in aus": "rain_australia", "pageblocks": "page_blocks",
    "dry-bean": "dry_bean",
}


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def load(name):
    """(X DataFrame, y Series of str, list of categorical column names)."""
    b = load_dataset(name)
    X, y = b.data, b.target
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    return X, y.astype(str), cats


def published():
    root = DATA / "published_results" / "fold"
    out = {}
    try:
        t = pd.read_csv(root / "foldrpp_paper_table5_ripper_vs_foldrpp.csv")
        for _, r in t.iterrows():
            name = PUBLISHED_NAMES.get(r["dataset"], r["dataset"])
            out[("bin", name)] = [
                ("FOLD-R++ (paper)", r["foldrpp_acc"], r["foldrpp_f1"], r["foldrpp_rules"],
                 np.nan, r["foldrpp_time_ms"] / 1000),
                ("RIPPER (paper)", r["ripper_acc"], r["ripper_f1"], r["ripper_rules"], np.nan,
                 r["ripper_time_ms"] / 1000),
            ]
        t = pd.read_csv(root / "foldrm_paper_table6_foldrm_vs_xgboost.csv")
        for _, r in t.iterrows():
            name = PUBLISHED_NAMES.get(r["dataset"], r["dataset"])
            out[("multi", name)] = [
                ("FOLD-RM (paper)", r["foldrm_acc"], r["foldrm_f1"], r["foldrm_rules"], np.nan,
                 r["foldrm_time_ms"] / 1000),
            ]
    except (FileNotFoundError, KeyError):
        pass
    return out


# ----------------------------------------------------------------------------------------------
# methods: each returns (predictions, n_rules, n_literals, n_top)
# ----------------------------------------------------------------------------------------------
def run_foldse(Xtr, ytr, Xte, pos, cats):
    clf = FoldSEClassifier().fit(Xtr, ytr)
    run_foldse.head = clf.positive_class_
    return clf.predict(Xte), clf.n_rules_, clf.n_literals_, clf.n_top_rules_


def run_foldse_paper(Xtr, ytr, Xte, pos, cats):
    if pos is None:
        raise LookupError("no configured head")
    clf = FoldSEClassifier(positive_class=pos).fit(Xtr, ytr)
    return clf.predict(Xte), clf.n_rules_, clf.n_literals_, clf.n_top_rules_


def _head(ytr, which):
    counts = pd.Series(np.asarray(ytr)).value_counts()
    return counts.index[-1] if which == "min" else counts.index[0]


def _to_fold_records(X, y, pos, cats):
    names = [str(c).lower().replace(" ", "_") for c in X.columns]
    cols = []
    for c in X.columns:
        s = X[c]
        if c in cats:
            v = s.astype(object).where(s.notna(), "?").map(str).to_numpy()
        else:
            f = s.astype(float).to_numpy()
            v = np.where(np.isnan(f), "?", f.astype(object))
        cols.append(v)
    yy = (np.asarray(y) == pos).astype(int)
    recs = []
    for i in range(len(X)):
        d = {n: col[i] for n, col in zip(names, cols)}
        d["label"] = int(yy[i])
        recs.append(d)
    return recs


def run_foldrpp(Xtr, ytr, Xte, pos, cats):
    import foldrpp

    str_attrs = [c for c in Xtr.columns if c in cats]
    num_attrs = [c for c in Xtr.columns if c not in cats]
    model = foldrpp.Foldrpp(str_attrs, num_attrs, "label", pos)
    tr = _to_fold_records(Xtr, ytr, pos, cats)
    te = _to_fold_records(Xte, np.full(len(Xte), "x"), pos, cats)
    model.fit(tr, ratio=0.5)
    pred = np.asarray(model.predict(te), dtype=bool)
    flat = foldrpp.flatten_rules(model.rules, model.rule_head)
    n_lit = sum(len(r[1]) for r in flat)
    other = [c for c in np.unique(ytr) if c != pos][0]
    return np.where(pred, pos, other), len(flat), n_lit, len(model.rules)


def run_foldrpp_min(Xtr, ytr, Xte, pos, cats):
    return run_foldrpp(Xtr, ytr, Xte, _head(ytr, "min"), cats)


def run_foldrpp_maj(Xtr, ytr, Xte, pos, cats):
    return run_foldrpp(Xtr, ytr, Xte, _head(ytr, "maj"), cats)


def foldrpp_stop(Xtr, ytr, pos, cats):
    """Why ``foldrpp`` stopped: (positives left uncovered, literals of the rule it stopped on).

    Replays the top-level loop of ``foldrpp.learn_rule_set`` (its ``learn_rule`` and
    ``evaluate``, ratio 0.5). FOLD-R++ stops as soon as a learned rule covers no remaining
    positive example. Its literal search scores every literal, including ones that cover
    only negatives (the heuristic is symmetric in the two classes), so on data where no
    literal separates the remaining positives well it can pick such a literal, and the
    positives still uncovered are left to the default class.
    """
    import foldrpp.foldrpp as F

    data = _to_fold_records(Xtr, ytr, pos, cats)
    attrs = [str(c).lower().replace(" ", "_") for c in Xtr.columns]
    left, neg = F.split_index_by_label(data)
    while left:
        rule = F.learn_rule(data, left, neg, attrs, [], 0.5)
        rest = [i for i in left if not F.evaluate(rule, data[i])]
        if len(rest) == len(left):
            return len(left), rule[1]
        left = rest
    return 0, None


def run_ripper(Xtr, ytr, Xte, pos, cats):
    import wittgenstein as lw

    clf = lw.RIPPER(random_state=0)
    Xa = Xtr.copy()
    Xb = Xte.copy()
    for c in cats:
        Xa[c] = Xa[c].astype(object)
        Xb[c] = Xb[c].astype(object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xa, (np.asarray(ytr) == pos).astype(int), pos_class=1)
        pred = np.asarray(clf.predict(Xb), dtype=bool)
    rules = clf.ruleset_.rules
    other = [c for c in np.unique(ytr) if c != pos][0]
    return np.where(pred, pos, other), len(rules), sum(len(r.conds) for r in rules), len(rules)


def _ordinal(Xtr, Xte, cats):
    from sklearn.preprocessing import OrdinalEncoder

    A, B = Xtr.copy(), Xte.copy()
    if cats:
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                             encoded_missing_value=np.nan)
        A[cats] = enc.fit_transform(Xtr[cats].astype(object))
        B[cats] = enc.transform(Xte[cats].astype(object))
    return A.astype(float), B.astype(float)


def run_dtree(Xtr, ytr, Xte, pos, cats):
    from sklearn.tree import DecisionTreeClassifier

    A, B = _ordinal(Xtr, Xte, cats)
    clf = DecisionTreeClassifier(random_state=0).fit(A, ytr)
    leaves = clf.get_n_leaves()
    return clf.predict(B), leaves, clf.tree_.node_count - leaves, leaves


def run_lgbm(Xtr, ytr, Xte, pos, cats):
    import lightgbm as lgb

    n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    clf = lgb.LGBMClassifier(verbose=-1, n_jobs=n_jobs, random_state=0).fit(Xtr, ytr)
    return clf.predict(Xte), np.nan, np.nan, np.nan


METHODS = {
    "foldse": run_foldse, "foldse_paper": run_foldse_paper, "foldrpp": run_foldrpp,
    "foldrpp_min": run_foldrpp_min, "foldrpp_maj": run_foldrpp_maj, "ripper": run_ripper,
    "dtree": run_dtree, "lgbm": run_lgbm,
}
BINARY_ONLY = {"foldse_paper", "foldrpp", "foldrpp_min", "foldrpp_maj", "ripper"}


def available(method):
    mod = {"foldrpp": "foldrpp", "foldrpp_min": "foldrpp", "foldrpp_maj": "foldrpp",
           "ripper": "wittgenstein", "lgbm": "lightgbm"}.get(method)
    if mod is None:
        return True
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


# ----------------------------------------------------------------------------------------------
def evaluate(task, name, methods, seeds, max_rows_slow, large_seeds=None, diagnose=False):
    X, y, cats = load(name)
    if large_seeds is not None and len(X) >= 10000:
        seeds = large_seeds
    pos = None
    if task == "bin":
        pos = BINARY.get(name)
        if name == "ecoli":
            y = y.where(y == pos, "not_cp")
        assert pos is None or pos in set(y), (name, pos, set(y))
    f1_label = pos if pos is not None else y.value_counts().index[-1]
    rows = []
    for seed in seeds:
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=seed)
        for m in methods:
            if task == "multi" and m in BINARY_ONLY:
                continue
            if m in ("foldse_paper", "foldrpp") and pos is None:
                continue
            if m == "ripper" and len(Xtr) > max_rows_slow:
                continue
            t0 = time.perf_counter()
            try:
                pred, nr, nl, top = METHODS[m](Xtr, ytr, Xte, pos, cats)
            except Exception as e:  # keep the table going; report the failure
                print(f"  {name} seed {seed} {m}: failed: {type(e).__name__}: {e}")
                continue
            dt = time.perf_counter() - t0
            pred = np.asarray(pred).astype(str)
            yt = np.asarray(yte).astype(str)
            acc = accuracy_score(yt, pred)
            if task == "bin":
                f1 = f1_score(yt, pred, pos_label=str(f1_label))
            else:
                f1 = f1_score(yt, pred, average="weighted")
            head = str(run_foldse.head) if m == "foldse" and task == "bin" else ""
            rows.append(dict(dataset=name, task=task, method=m, seed=seed, acc=acc, f1=f1,
                             rules=nr, top=top, literals=nl, fit_s=dt, head=head))
            print(f"  {name:15s} seed {seed} {m:12s} acc {acc:.4f} f1 {f1:.4f} rules {nr} "
                  f"lits {nl} fit {dt:.2f}s {head}", flush=True)
        if diagnose and task == "bin" and pos is not None and available("foldrpp"):
            left, lits = foldrpp_stop(Xtr, ytr, pos, cats)
            n_pos = int((np.asarray(ytr) == pos).sum())
            if left:
                print(f"  {name:15s} seed {seed} foldrpp stopped with {left} of {n_pos} training "
                      f"positives uncovered, on a rule that covers none of them: {lits}",
                      flush=True)
            else:
                print(f"  {name:15s} seed {seed} foldrpp covered all {n_pos} training positives",
                      flush=True)
    return rows


def summary(res):
    """Markdown table: FOLD-SE (head by "auto") against foldrpp with its better head."""
    res = res[res.task == "bin"]
    if not len(res) or "foldse" not in set(res.method):
        return
    print()
    print("| set | FOLD-SE acc (head taken) | FOLD-SE paper head | foldrpp minority head | "
          "foldrpp majority head | vs foldrpp's better head | literals FOLD-SE / foldrpp "
          "better head |")
    print("|---|---|---|---|---|---|---|")
    for name, g in res.groupby("dataset", sort=False):
        mean = g.groupby("method").mean(numeric_only=True)
        heads = g[g.method == "foldse"]["head"].value_counts()
        taken = ", ".join(f"{h} x{k}" for h, k in heads.items())

        def acc(m):
            return f"{mean.acc[m]:.3f}" if m in mean.index else "-"

        a = mean.loc["foldse"]
        rpp = [m for m in ("foldrpp_min", "foldrpp_maj") if m in mean.index]
        if rpp:
            best = max(rpp, key=lambda m: mean.acc[m])
            diff = f"{100 * (a.acc - mean.acc[best]):+.2f} pts"
            lits = f"{a.literals:.1f} / {mean.literals[best]:.1f}"
        else:
            diff = lits = "-"
        print(f"| {name} | {a.acc:.3f} ({taken}) | {acc('foldse_paper')} | "
              f"{acc('foldrpp_min')} | {acc('foldrpp_maj')} | {diff} | {lits} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true",
                    help="all data sets, seeds 0-9 (0-2 on sets of 10,000+ rows)")
    ap.add_argument("--datasets", nargs="*", help="data set names (binary or multi-class)")
    ap.add_argument("--multiclass", nargs="*", help="multi-class data set names")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds")
    ap.add_argument("--methods", nargs="*",
                    default=["foldse", "foldse_paper", "foldrpp_min", "foldrpp_maj", "ripper",
                             "dtree", "lgbm"])
    ap.add_argument("--ripper-max-rows", type=int, default=40000,
                    help="skip RIPPER above this many training rows")
    ap.add_argument("--csv", default=None, help="write per-seed results to this CSV")
    ap.add_argument("--diagnose-foldrpp", action="store_true",
                    help="binary sets: also print how many training positives foldrpp leaves "
                         "uncovered when it stops, and the rule it stopped on")
    args = ap.parse_args(argv)

    if args.datasets is not None or args.multiclass is not None:
        binary = [d for d in (args.datasets or []) if d in BINARY or d in NEW_BINARY]
        multi = [d for d in (args.datasets or []) if d in MULTICLASS and d not in BINARY]
        multi += list(args.multiclass or [])
    elif args.full:
        binary, multi = list(BINARY) + NEW_BINARY, list(MULTICLASS)
    else:
        binary = [d for d in QUICK if d in BINARY]
        multi = [d for d in QUICK if d in MULTICLASS and d not in BINARY]
    n_seeds = args.seeds or (10 if args.full else 1)
    seeds = list(range(n_seeds))
    large_seeds = list(range(min(n_seeds, 3))) if args.full and not args.seeds else None
    methods = [m for m in args.methods if available(m)]
    skipped = [m for m in args.methods if m not in methods]
    if skipped:
        print(f"skipping baselines that are not installed: {skipped}")

    # warm-up (imports, first-call overheads) so that fit times compare algorithms
    Xw = pd.DataFrame({"a": np.arange(20.0), "b": pd.Categorical(list("xy") * 10)})
    yw = pd.Series(np.where(np.arange(20) < 12, "p", "n"))
    for m in methods:
        try:
            METHODS[m](Xw, yw, Xw, "p", ["b"])
        except Exception:
            pass

    rows = []
    for task, names in (("bin", binary), ("multi", multi)):
        for name in names:
            rows += evaluate(task, name, methods, seeds, args.ripper_max_rows, large_seeds,
                             args.diagnose_foldrpp)
            if args.csv:  # after every set: a long run keeps what it has
                pd.DataFrame(rows).to_csv(args.csv, index=False)
    res = pd.DataFrame(rows)
    pub = published()
    print()
    print(f"80/20 splits, seeds {seeds}" + (f" ({large_seeds} on sets of 10,000+ rows)"
          if large_seeds else "") + "; mean over seeds (time: fit seconds on this machine; "
          "paper rows: 10-fold CV, time on an i5-10400)")
    header = f"{'dataset':15s} {'method':17s} {'acc':>6s} {'f1':>6s} {'rules':>6s} " \
             f"{'top':>5s} {'lits':>6s} {'fit s':>8s}"
    print(header)
    print("-" * len(header))
    for (task, name), g in res.groupby(["task", "dataset"], sort=False):
        for m, h in g.groupby("method", sort=False):
            mean = h[["acc", "f1", "rules", "top", "literals", "fit_s"]].mean()
            print(f"{name:15s} {m:17s} {mean.acc:6.3f} {mean.f1:6.3f} {mean.rules:6.1f} "
                  f"{mean.top:5.1f} {mean.literals:6.1f} {mean.fit_s:8.3f}")
        for label, acc, f1, nr, nl, ts in pub.get((task, name), []):
            print(f"{name:15s} {label:17s} {acc:6.2f} {f1:6.2f} {nr:6.1f} {'':5s} "
                  f"{'':6s} {ts:8.3f}")
    summary(res)
    return res


if __name__ == "__main__":
    main()
