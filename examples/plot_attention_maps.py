"""
AutoInt attention maps with field names
=======================================

AutoInt's interacting layers attend from every field to every other. With a planted interaction
between ``C1`` and ``C2``, the attention of the first layer shows which fields look at which.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from tabnn import AutoIntClassifier
from tabnn.datasets import make_ctr
from tabnn.plot import plot_attention

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=2000 if SMALL else 40_000, n_categorical=6, n_numeric=2,
                cardinality=8, interactions=[("C1", "C2")], interaction_strength=3.0,
                random_state=0)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
clf = AutoIntClassifier(max_epochs=1 if SMALL else 30, random_state=0).fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.4f}")

# %%
# Mean attention over the test rows, per layer: ``maps[l]`` has shape (rows, heads, F, F).
# By default only the categorical fields are attended (``attend_numeric=False``); the
# numeric ones go to the DNN branch.
maps, fields = clf.attention_maps(X_test, return_fields=True)
print("attended fields:", fields)
print("layer 0, mean over rows and heads, row C1:", maps[0].mean(axis=(0, 1))[0].round(3))

# %%
# The heat map of layer 0, averaged over heads (tabnn.plot.AttentionMapDisplay).
plot_attention(clf, X_test, layer=0)
plt.show()
