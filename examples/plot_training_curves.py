"""
Training curves from ``history_``
=================================

Every neural estimator records one entry per epoch in ``history_``: training and validation
loss, the validation metric (AUC for binary targets), the learning rate and the seconds it took.
Early stopping keeps the weights of the best epoch.
"""

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import train_test_split

from tabnn import FCNClassifier
from tabnn.datasets import make_ctr
from tabnn.plot import plot_training_curves

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=2000 if SMALL else 50_000, n_categorical=8, n_numeric=4,
                cardinality=(5, 500), interactions=[("C1", "C2"), ("C3", "I1")], random_state=0)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)

clf = FCNClassifier(max_epochs=2 if SMALL else 50, random_state=0).fit(X_train, y_train)
history = pd.DataFrame(clf.history_)
print(history[["epoch", "train_loss", "valid_loss", "valid_metric", "seconds"]])
print(f"{clf.n_iter_} epochs; test accuracy {clf.score(X_test, y_test):.4f}")

# %%
# The curves (tabnn.plot.TrainingCurveDisplay).
plot_training_curves(clf)
plt.show()
