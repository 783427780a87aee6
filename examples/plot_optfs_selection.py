"""
OptFS: keep only the feature values that help
=============================================

:class:`tabnn.OptFSClassifier` wraps a neural classifier and learns a gate on the embedding of
every value of every categorical field; values whose gate closes are mapped to the unknown code
and their embeddings dropped. On a table with noise fields, most of their values go.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from tabnn import AutoIntClassifier, OptFSClassifier
from tabnn.datasets import make_ctr

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=2000 if SMALL else 40_000, n_categorical=8, n_numeric=2,
                cardinality=50, interactions=[("C1", "C2")], main_effects=["C3"],
                random_state=0)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
clf = OptFSClassifier(AutoIntClassifier(max_epochs=1 if SMALL else 30, random_state=0),
                      search_epochs=2 if SMALL else 10)
clf.fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.4f}; kept {clf.kept_ratio_:.0%} of the "
      f"values, {clf.embedding_memory_saved_:,} bytes of embeddings saved")

# %%
# Share of each field's values that were kept (the planted fields are C1, C2 and C3).
fig, ax = plt.subplots(layout="constrained")
ax.bar(list(clf.support_), list(clf.support_.values()))
ax.set_ylabel("share of values kept")
plt.show()
