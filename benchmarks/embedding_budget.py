"""Test AUC against embedding parameters: per-field tables, per-field hashing, Unified Embedding.

Protocol: per data set one stratified 80/20 split per seed; the backbone is ``FCNClassifier``
with default parameters (``embedding_dim=16``). The per-field size ``R`` is the number of rows of
the per-field tables (``embedding="field"``: the codes of every categorical field, with the
encoder's ``min_frequency``). At each budget fraction ``f`` of ``R * embedding_dim`` categorical
parameters, ``HashedEmbedding(table_size=f * R)`` (rows of width 16) and
``UnifiedEmbedding(table_size=f * R * n_probes, n_probes=2)`` (rows of width 8) get the same
number of table parameters; both add one missing-value vector per field, and every embedding
has the same numeric-field vectors (all counted in ``n_embedding_params_``).

Data: ``tabnn.comparison.ctr_benchmark_data`` (26 Zipf categorical fields, cardinalities 10 to
100,000) and the Criteo and Avazu samples from ``$TABNN_DATA``.

Usage::

    TABNN_DATA=../shared/data python benchmarks/embedding_budget.py            # quick
    TABNN_DATA=../shared/data python benchmarks/embedding_budget.py --full     # 3 seeds, more

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
from sklearn.model_selection import train_test_split

from tabnn import FCNClassifier, HashedEmbedding, UnifiedEmbedding
from tabnn.comparison import ctr_benchmark_data
from tabnn.datasets import load_dataset

BUDGETS = (0.01, 0.03, 0.1, 0.3, 1.0)
QUICK_BUDGETS = (0.01, 0.1, 1.0)
N_PROBES = 2


def _data(name, n_rows, seed):
    if name == "ctr_benchmark_data":
        data = ctr_benchmark_data(n_rows, random_state=0)
    else:
        data = load_dataset(name)
    X, y = data.data, np.asarray(data.target)
    if len(X) > n_rows:
        X, _, y, _ = train_test_split(X, y, train_size=n_rows, random_state=0, stratify=y)
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)


def _fit(embedding, X, y, Xt, yt, seed, max_epochs):
    model = FCNClassifier(embedding=embedding, max_epochs=max_epochs, random_state=seed)
    model.fit(X, y)
    return roc_auc_score(yt, model.predict_proba(Xt)[:, 1]), model


def run(datasets, n_rows, seeds, max_epochs, budgets):
    rows = []
    for name in datasets:
        for seed in seeds:
            X, Xt, y, yt = _data(name, n_rows[name], seed)
            auc, field = _fit("field", X, y, Xt, yt, seed, max_epochs)
            table_rows = field.module_.embedding.table.weight.shape[0]  # R
            numeric = sum(p.numel() for p in field.module_.embedding.numeric.parameters())
            full = field.n_embedding_params_
            rows.append(dict(data=name, seed=seed, embedding="per-field", budget=1.0,
                             table_size=table_rows, params=full, auc=auc))
            print(f"{name} seed {seed}: per-field R={table_rows} rows, {full} params, "
                  f"AUC {auc:.4f}", flush=True)
            for f in budgets:
                specs = {"hashed": HashedEmbedding(table_size=max(1, round(f * table_rows))),
                         "unified": UnifiedEmbedding(
                             table_size=max(1, round(f * table_rows * N_PROBES)),
                             n_probes=N_PROBES)}
                for kind, spec in specs.items():
                    auc, model = _fit(spec, X, y, Xt, yt, seed, max_epochs)
                    rows.append(dict(data=name, seed=seed, embedding=kind, budget=f,
                                     table_size=spec.table_size,
                                     params=model.n_embedding_params_, auc=auc))
                    print(f"  {kind:8s} budget {f:<5g} table_size {spec.table_size:>7d} "
                          f"params {model.n_embedding_params_:>8d} (numeric {numeric}) "
                          f"AUC {auc:.4f}", flush=True)
    return pd.DataFrame(rows)


def summary(results):
    """One row per (data set, budget): mean AUC (and parameters) of each embedding."""
    mean = results.groupby(["data", "embedding", "budget"], as_index=False)[
        ["auc", "params"]].mean()
    out = []
    for (name, budget), part in mean.groupby(["data", "budget"]):
        row = {"data set": name, "budget": budget}
        for kind in ("per-field", "hashed", "unified"):
            hit = part[part.embedding == kind]
            row[f"{kind} AUC"] = hit.auc.iloc[0] if len(hit) else np.nan
            row[f"{kind} params"] = int(hit.params.iloc[0]) if len(hit) else np.nan
        out.append(row)
    table = pd.DataFrame(out)
    table["unified - hashed"] = table["unified AUC"] - table["hashed AUC"]
    ref = table[table.budget == 1.0].set_index("data set")["per-field AUC"]
    table["unified - per-field(1x)"] = table["unified AUC"] - table["data set"].map(ref)
    return table.drop(columns=["per-field params"])


def markdown(table):
    """``table`` as a markdown table (AUCs to 4 decimals, parameters as integers)."""
    def cell(column, value):
        if isinstance(value, float) and np.isnan(value):
            return ""
        if column == "budget":
            return f"{value:g}"
        if column.endswith("params"):
            return str(int(value))
        return f"{value:+.4f}" if " - " in column else (
            f"{value:.4f}" if isinstance(value, float) else str(value))

    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join(" --- " for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(table.columns, row)) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def plot(results, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean = results.groupby(["data", "embedding", "budget"], as_index=False)[
        ["auc", "params"]].mean()
    names = list(dict.fromkeys(results.data))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    styles = {"hashed": ("tab:orange", "s--"), "unified": ("tab:blue", "o-")}
    for ax, name in zip(axes[0], names):
        part = mean[mean.data == name]
        for kind, (color, style) in styles.items():
            line = part[part.embedding == kind].sort_values("params")
            ax.plot(line.params, line.auc, style, color=color, label=kind)
        ref = part[part.embedding == "per-field"]
        ax.axhline(ref.auc.iloc[0], color="gray", lw=1, ls=":", label="per-field (1x)")
        ax.plot(ref.params, ref.auc, "k*", ms=10)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(name)
        ax.set_xlabel("embedding parameters")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test AUC")
    axes[0][0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="3 seeds, 200,000 rows of ctr_benchmark_data, 30 epochs, budgets "
                             "1/100, 3/100, 1/10, 3/10, 1 (quick: 1 seed, 10,000 rows, 5 "
                             "epochs, budgets 1/100, 1/10, 1)")
    parser.add_argument("--datasets", nargs="+",
                        default=["ctr_benchmark_data", "criteo_sample", "avazu_sample"])
    parser.add_argument("--out", default="docs/embedding_budget",
                        help="prefix of the .md, .csv and .png files written")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--combine", nargs="+", metavar="CSV",
                        help="no fits: the table and plot of the results in these CSV files "
                             "(e.g. one run per data set in parallel)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning)
    ctr_rows = 200_000 if args.full else 10_000
    n_rows = {"ctr_benchmark_data": ctr_rows, "criteo_sample": 10**9, "avazu_sample": 10**9}
    seeds = [0, 1, 2] if args.full else [0]
    if args.combine:
        results = pd.concat([pd.read_csv(path) for path in args.combine], ignore_index=True)
    else:
        results = run(args.datasets, n_rows, seeds, 30 if args.full else 5,
                      BUDGETS if args.full else QUICK_BUDGETS)
    table = summary(results)
    text = markdown(table)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(out.with_suffix(".csv"), index=False)
    out.with_suffix(".md").write_text(text + "\n")
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.md')}, {out.with_suffix('.csv')}, {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
