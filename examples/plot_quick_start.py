"""
Quick start: does a tabnn model beat LightGBM on my data?
==========================================================

A pandas frame in, one call to :func:`tabnn.compare`: every tabnn estimator that applies to the
task, at its defaults, next to LightGBM, scikit-learn's HistGradientBoosting, a linear model and
the base rate, all cross-validated on the same folds. The same run from a shell::

    python -m tabnn compare --dataset adult --cv 3 --plot adult.png
    python -m tabnn compare --csv my.csv --target label
"""

# %%
# The data: the UCI adult census table (income above 50k), read from ``$TABNN_DATA`` or
# downloaded once. Categorical columns are pandas ``category``; tabnn also reads strings,
# booleans and polars frames.
import os

import matplotlib.pyplot as plt

import tabnn
from tabnn.comparison import format_leaderboard, plot_leaderboard
from tabnn.datasets import load_dataset

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"  # the test suite runs a tiny version

X, y = load_dataset("adult", return_X_y=True)
if SMALL:
    X, y = X.iloc[:1500], y[:1500]
print(X.shape, X.dtypes.value_counts().to_dict())

# %%
# Compare. ``time_budget`` caps each neural fit (seconds); models it stopped are marked in
# the ``note`` column. ``params`` sets parameters by model name or by kind.
table = tabnn.compare(
    X, y, cv=2 if SMALL else 3, time_budget=5 if SMALL else 60,
    params={"neural": {"max_epochs": 1}} if SMALL else None, verbose=1,
)
print(format_leaderboard(table, "text"))

# %%
# The leaderboard is a DataFrame: one row per model, mean and spread over the folds.
print(table[["model", "auc", "auc_std", "fit_seconds"]].head())

# %%
# Score against fit time, one point per model, error bars over the folds.
plot_leaderboard(table)
plt.show()
