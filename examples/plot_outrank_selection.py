"""
OutRank feature selection before a model
========================================

Plain mutual information favours id-like, high-cardinality columns; OutRank subtracts what a
noise column with the same value groups would score, so those columns drop down the ranking.
Here it picks columns for AutoInt on a table with planted signal, redundant copies, noise and
id-like columns.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from tabnn import AutoIntClassifier, OutRankSelector
from tabnn.datasets import make_ctr

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=2000 if SMALL else 40_000, n_categorical=10, n_numeric=4,
                cardinality=(5, 2000), interactions=[("C1", "C2"), ("C3", "I1")],
                main_effects=["C4", "I2"], random_state=0)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)

# %%
# The ranking: OutRank score next to plain mutual information.
selector = OutRankSelector(k=6, random_state=0).fit(X_train, y_train)
print(selector.ranking_[["feature", "score", "mutual_info", "cardinality"]].head(10))

fig, ax = plt.subplots(layout="constrained")
ranking = selector.ranking_.iloc[::-1]
ax.barh(ranking["feature"], ranking["mutual_info"], color="lightgray", label="mutual information")
ax.barh(ranking["feature"], ranking["score"], label="OutRank score")
ax.set_xlabel("nats")
ax.legend()
plt.show()

# %%
# The same model on all columns and on the 6 selected ones.
epochs = 1 if SMALL else 30
for name, model in [
    ("all columns", AutoIntClassifier(max_epochs=epochs, random_state=0)),
    ("OutRank top 6", make_pipeline(OutRankSelector(k=6, random_state=0),
                                    AutoIntClassifier(max_epochs=epochs, random_state=0))),
]:
    model.fit(X_train, y_train)
    print(f"{name:14s} test AUC {roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]):.4f}")
