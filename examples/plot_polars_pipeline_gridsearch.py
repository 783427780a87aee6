"""
polars, Pipeline and GridSearchCV
=================================

tabnn estimators are ordinary scikit-learn estimators: they take a polars frame, sit in a
``Pipeline`` and are tuned by ``GridSearchCV`` like any other. Here an FCN (DCNv3) classifier is
tuned on a polars table with planted feature interactions.
"""

# %%
# A polars frame with string categorical columns (the ``C*`` columns) and numeric ones.
import os

import matplotlib.pyplot as plt
import polars as pl
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from tabnn import FCNClassifier, OutRankSelector
from tabnn.datasets import make_ctr

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=1500 if SMALL else 30_000, n_categorical=8, n_numeric=4,
                cardinality=(5, 200), interactions=[("C1", "C2"), ("C3", "I1")], random_state=0)
X = pl.from_pandas(data.data).with_columns(pl.col(f"C{i}").cast(pl.String) for i in range(1, 9))
X_train, X_test, y_train, y_test = train_test_split(X, data.target, random_state=0)
print(X.schema)

# %%
# A pipeline: keep the 8 most informative columns (OutRank), then FCN. The grid tunes the
# embedding size and the number of exponential cross layers.
pipe = Pipeline([
    ("select", OutRankSelector(k=8, random_state=0)),
    ("fcn", FCNClassifier(max_epochs=1 if SMALL else 20, random_state=0)),
])
grid = GridSearchCV(pipe, {"fcn__embedding_dim": [8, 16], "fcn__ecn_layers": [1, 2]},
                    scoring="roc_auc", cv=2 if SMALL else 3)
grid.fit(X_train, y_train)
print("best", grid.best_params_, f"cv AUC {grid.best_score_:.4f}",
      f"test AUC {grid.score(X_test, y_test):.4f}")

# %%
# Cross-validated AUC of every grid point.
results = grid.cv_results_
labels = [f"d={p['fcn__embedding_dim']}, ecn={p['fcn__ecn_layers']}" for p in results["params"]]
fig, ax = plt.subplots(layout="constrained")
ax.barh(labels, results["mean_test_score"], xerr=results["std_test_score"])
ax.set_xlabel("cross-validated AUC")
ax.set_xlim(min(results["mean_test_score"]) - 0.02, max(results["mean_test_score"]) + 0.01)
plt.show()
