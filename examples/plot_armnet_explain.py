"""
ARM-Net: which fields each row's cross features multiply
========================================================

ARM-Net builds per-row multiplicative cross features ("exponential neurons") whose field
weights come from sparse attention. ``explain(X, summary=True)`` gives each row's field
importance; ``feature_importances_`` is their training-set average.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from tabnn import ARMNetClassifier
from tabnn.datasets import make_ctr
from tabnn.plot import plot_importance

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=2000 if SMALL else 40_000, n_categorical=6, n_numeric=3,
                cardinality=10, interactions=[("C1", "C2"), ("C3", "I1")], random_state=0)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
clf = ARMNetClassifier(max_epochs=1 if SMALL else 30, random_state=0).fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.4f}")

# %%
# Per-row field importance of the first test rows.
print(clf.explain(X_test.head(3), summary=True).round(3))

# %%
# Field importance over the training rows (tabnn.plot.FeatureImportanceDisplay).
plot_importance(clf)
plt.show()
