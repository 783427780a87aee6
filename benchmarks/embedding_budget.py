"""Test AUC against embedding parameters: per-field tables, per-field hashing, Unified Embedding.

Protocol: per data set one fixed stratified split (data seed 0) into training, validation and
test rows (1/6 of the rows each for validation and test); every model is ``FCNClassifier``
(``--model AutoInt``: ``AutoIntClassifier``) with default parameters (``embedding_dim=16``;
``--params key=value ...`` changes some) and ``max_epochs=20``, early-stopped on the fixed
validation rows (``X_val``: validation loss, the model's patience, best weights restored), fitted
with several ``random_state`` values (seeds change the initialisation and the batch order,
never the rows). The table gives the mean test AUC, its standard deviation over seeds, and the
paired differences (same seed) with their standard deviation.

The per-field size ``R`` is the number of rows of the per-field tables (``embedding="field"``:
the codes of every categorical field, with the encoder's ``min_frequency``). At each budget
fraction ``f`` of ``R * embedding_dim`` categorical parameters, ``HashedEmbedding(table_size=f
* R)`` (rows of width 16) and ``UnifiedEmbedding(table_size=f * R * n_probes, n_probes=2)``
(rows of width 8; ``--probes K``: K probes of width 16 / K) get the same number of table
parameters; both add one missing-value vector
per field, and every embedding has the same numeric-field vectors (all counted in
``n_embedding_params_``).

Data: ``tabnn.comparison.ctr_benchmark_data`` (26 Zipf categorical fields, cardinalities 10 to
100,000; 60,000 rows) and the Criteo and Avazu samples from ``$TABNN_DATA``.

Usage::

    TABNN_DATA=../shared/data python benchmarks/embedding_budget.py            # 3 seeds
    TABNN_DATA=../shared/data python benchmarks/embedding_budget.py --full     # 5 budgets
    python benchmarks/embedding_budget.py --datasets ctr_benchmark_data --seeds 0 \
        --out out/ctr0                         # one seed; then --combine out/ctr*.csv
    python benchmarks/embedding_budget.py --datasets ctr_benchmark_data --ctr-rows 300000 \
        --budgets 0.1 --probes 16 --seeds 0    # one budget on the 300k-row table
    python benchmarks/embedding_budget.py --datasets avazu_sample --folds 6 --budgets 0.1 \
        --probes 16                            # 6-fold cross-validation: every row tested
    python benchmarks/embedding_budget.py --datasets ctr_benchmark_data --folds 6 --budgets 0.1 \
        --probes 16 --model AutoInt --params embedding_l2=0.01   # another model and parameter

Writes the table (markdown, stdout and ``--out``.md), a CSV and the plot (``--out``.png).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from real_data import parse_params  # the same key=value parsing
from tabnn import AutoIntClassifier, FCNClassifier, HashedEmbedding, UnifiedEmbedding
from tabnn.comparison import ctr_benchmark_data
from tabnn.datasets import load_dataset

BUDGETS = (0.01, 0.03, 0.1, 0.3, 1.0)
QUICK_BUDGETS = (0.01, 0.1, 1.0)
N_PROBES = 2
CTR_ROWS = 60_000


def _load(name, n_rows):
    if name == "ctr_benchmark_data":
        data = ctr_benchmark_data(n_rows, random_state=0)
    else:
        data = load_dataset(name)
    X, y = data.data, np.asarray(data.target)
    if len(X) > n_rows:
        X, _, y, _ = train_test_split(X, y, train_size=n_rows, random_state=0, stratify=y)
    return X, y


def _splits(name, n_rows, folds=None):
    """``(fold, (X, X_val, X_test, y, y_val, y_test))`` per split. Without ``folds`` one
    fixed stratified split, 1/6 of the rows each for validation and test; with ``folds=K``
    every row is a test row once (stratified K-fold) and each fold's validation rows are
    1/(K-1) of the others, so a small data set's whole sample is tested."""
    X, y = _load(name, n_rows)
    if folds is None:
        part = len(X) // 6
        X, Xt, y, yt = train_test_split(X, y, test_size=part, random_state=0, stratify=y)
        X, Xv, y, yv = train_test_split(X, y, test_size=part, random_state=0, stratify=y)
        yield 0, (X, Xv, Xt, y, yv, yt)
        return
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    for fold, (rest, test) in enumerate(cv.split(np.zeros(len(y)), y)):
        Xr, yr = X.iloc[rest], y[rest]
        Xf, Xv, yf, yv = train_test_split(Xr, yr, test_size=1 / (folds - 1),
                                          random_state=fold, stratify=yr)
        yield fold, (Xf, Xv, X.iloc[test], yf, yv, y[test])


MODELS = {"FCN": FCNClassifier, "AutoInt": AutoIntClassifier}


def _fit(embedding, data, seed, max_epochs, model="FCN", params=None):
    X, Xv, Xt, y, yv, yt = data
    model = MODELS[model](embedding=embedding, max_epochs=max_epochs, random_state=seed,
                          **(params or {}))
    model.fit(X, y, X_val=Xv, y_val=yv)
    return roc_auc_score(yt, model.predict_proba(Xt)[:, 1]), model


def run(datasets, n_rows, seeds, max_epochs, budgets, n_probes=N_PROBES, folds=None,
        model="FCN", params=None):
    rows = []
    for name in datasets:
        # another size of the CTR table, or cross-validation, is another data set in the
        # tables and plots
        label = (f"{name}_{n_rows[name] // 1000}k"
                 if name == "ctr_benchmark_data" and n_rows[name] != CTR_ROWS else name)
        if folds:
            label += f"_cv{folds}"
        if model != "FCN":  # another model: another row of the tables and plots
            label += f"_{model}"
        for key, value in (params or {}).items():  # and other parameters too
            label += f"_{key}={value}"
        for fold, data in _splits(name, n_rows[name], folds):
            for seed in seeds:
                rows += _fit_all(label, fold, data, seed, max_epochs, budgets, n_probes,
                                 model, params)
    return pd.DataFrame(rows)


def _fit_all(label, fold, data, seed, max_epochs, budgets, n_probes, model="FCN",
             params=None):
    """Per-field tables, then hashed and unified tables at every budget, on one split."""
    auc, field = _fit("field", data, seed, max_epochs, model, params)
    table_rows = field.module_.embedding.table.weight.shape[0]  # R
    numeric = sum(p.numel() for p in field.module_.embedding.numeric.parameters())
    full = field.n_embedding_params_
    rows = [dict(data=label, fold=fold, seed=seed, embedding="per-field", budget=1.0,
                 table_size=table_rows, params=full, auc=auc,
                 best_epoch=field.best_iteration_)]
    print(f"{label} fold {fold} seed {seed}: per-field R={table_rows} rows, {full} params, "
          f"AUC {auc:.4f} (best epoch {field.best_iteration_})", flush=True)
    for f in budgets:
        specs = {"hashed": HashedEmbedding(table_size=max(1, round(f * table_rows))),
                 "unified": UnifiedEmbedding(
                     table_size=max(1, round(f * table_rows * n_probes)),
                     n_probes=n_probes)}
        for kind, spec in specs.items():
            auc, fitted = _fit(spec, data, seed, max_epochs, model, params)
            rows.append(dict(data=label, fold=fold, seed=seed, embedding=kind, budget=f,
                             table_size=spec.table_size,
                             params=fitted.n_embedding_params_, auc=auc,
                             best_epoch=fitted.best_iteration_))
            print(f"  {kind:8s} budget {f:<5g} table_size {spec.table_size:>7d} "
                  f"params {fitted.n_embedding_params_:>8d} (numeric {numeric}) "
                  f"AUC {auc:.4f} (best epoch {fitted.best_iteration_})", flush=True)
    return rows


KINDS = ("per-field", "hashed", "unified")


def _mean_sd(values):
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return ""
    sd = values.std(ddof=1) if len(values) > 1 else np.nan
    return f"{values.mean():.4f}" + ("" if np.isnan(sd) else f" ± {sd:.4f}")


def _signed_mean_sd(values):
    text = _mean_sd(values)
    return text if not text or text.startswith("-") else "+" + text


def summary(results):
    """One row per (data set, budget): test AUC of each embedding (mean ± standard deviation
    over seeds), its parameters, and the paired (same seed) differences of unified against
    hashed at that budget and against per-field tables (1x)."""
    if "fold" not in results:  # written before --folds existed: one fixed split
        results = results.assign(fold=0)
    auc = results.pivot_table(index=["data", "budget", "fold", "seed"], columns="embedding",
                              values="auc")
    params = results.groupby(["data", "embedding", "budget"]).params.mean()
    ref = results[results.embedding == "per-field"].set_index(["data", "fold", "seed"]).auc
    out = []
    for (name, budget), part in auc.groupby(level=["data", "budget"]):
        part = part.droplevel(["data", "budget"])
        n_folds = part.index.get_level_values("fold").nunique()
        seeds = part.index.get_level_values("seed").nunique()
        row = {"data set": name, "budget": f"{budget:g}",
               "seeds": f"{n_folds} folds x {seeds}" if n_folds > 1 else len(part)}
        for kind in KINDS:
            values = part[kind].dropna() if kind in part else []
            row[f"{kind} AUC"] = _mean_sd(values)
            if kind != "per-field":
                row[f"{kind} params"] = (str(int(params[name, kind, budget]))
                                         if len(values) else "")
        if "unified" in part and "hashed" in part:
            row["unified - hashed"] = _signed_mean_sd((part.unified - part.hashed).dropna())
        if "unified" in part:
            per_field = ref.loc[name].reindex(part.index)
            row["unified - per-field(1x)"] = _signed_mean_sd((part.unified - per_field).dropna())
        out.append(row)
    return pd.DataFrame(out).fillna("")


def markdown(table):
    """``table`` (cells already formatted) as a markdown table."""
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join(" --- " for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def plot(results, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = results.groupby(["data", "embedding", "budget"]).agg(
        auc=("auc", "mean"), sd=("auc", "std"), params=("params", "mean")).reset_index()
    stats["sd"] = stats.sd.fillna(0.0)
    names = list(dict.fromkeys(results.data))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    styles = {"hashed": ("tab:orange", "s--"), "unified": ("tab:blue", "o-")}
    for ax, name in zip(axes[0], names):
        part = stats[stats.data == name]
        for kind, (color, style) in styles.items():
            line = part[part.embedding == kind].sort_values("params")
            ax.errorbar(line.params, line.auc, yerr=line.sd, fmt=style, color=color,
                        capsize=3, label=kind)
        ref = part[part.embedding == "per-field"]
        ax.axhline(ref.auc.iloc[0], color="gray", lw=1, ls=":", label="per-field (1x)")
        ax.errorbar(ref.params, ref.auc, yerr=ref.sd, fmt="k*", ms=10, capsize=3)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(name)
        ax.set_xlabel("embedding parameters")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"test AUC (mean ± sd, {results.seed.nunique()} seeds)")
    axes[0][0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="budgets 1/100, 3/100, 1/10, 3/10, 1 (default: 1/100, 1/10, 1)")
    parser.add_argument("--budgets", nargs="+", type=float,
                        help="budget fractions to run (overrides --full)")
    parser.add_argument("--datasets", nargs="+",
                        default=["ctr_benchmark_data", "criteo_sample", "avazu_sample"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="random_state values of the models (the split stays fixed)")
    parser.add_argument("--folds", type=int,
                        help="K-fold cross-validation instead of the one fixed split: every "
                             "row is a test row once (labelled <data>_cvK)")
    parser.add_argument("--ctr-rows", type=int, default=CTR_ROWS,
                        help="rows of ctr_benchmark_data (split 4:1:1)")
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--probes", type=int, default=N_PROBES,
                        help="n_probes of the unified tables (rows of width 16 / probes)")
    parser.add_argument("--out", default="docs/embedding_budget",
                        help="prefix of the .md, .csv and .png files written")
    parser.add_argument("--model", default="FCN", choices=MODELS,
                        help="the neural model of every fit (another than FCN is labelled "
                             "<data>_<model>)")
    parser.add_argument("--params", nargs="+", default=(), metavar="key=value",
                        help="other parameters of the model (labelled <data>_<key>=<value>)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--combine", nargs="+", metavar="CSV",
                        help="no fits: the table and plot of the results in these CSV files "
                             "(e.g. one run per data set or seed in parallel)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    n_rows = {"ctr_benchmark_data": args.ctr_rows, "criteo_sample": 10**9,
              "avazu_sample": 10**9}
    if args.combine:
        results = pd.concat([pd.read_csv(path) for path in args.combine], ignore_index=True)
    else:
        results = run(args.datasets, n_rows, args.seeds, args.max_epochs,
                      args.budgets or (BUDGETS if args.full else QUICK_BUDGETS), args.probes,
                      args.folds, args.model, parse_params(args.params))
    text = markdown(summary(results))
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(out.with_suffix(".csv"), index=False)
    out.with_suffix(".md").write_text(text + "\n")
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.md')}, {out.with_suffix('.csv')}, {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
