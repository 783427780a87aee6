"""
Reading FOLD-SE rules and ``explain``
=====================================

:class:`tabnn.FoldSEClassifier` learns a short program of default rules with exceptions. The
program is the model: ``rules_`` prints it, ``explain(X)`` says which rule (and which exception)
decided each row, and the rule-coverage plot shows how many rows each rule decides and how
often it is right.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from tabnn import FoldSEClassifier
from tabnn.datasets import load_dataset
from tabnn.plot import plot_rule_coverage

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

X, y = load_dataset("adult", return_X_y=True)
if SMALL:
    X, y = X.iloc[:2000], y[:2000]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

clf = FoldSEClassifier().fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.4f} with {clf.n_rules_} rules")
print(clf.rules_)

# %%
# Why was each row decided the way it was?
explanation = clf.explain(X_test.head(5))
print(explanation[["prediction", "rule", "exception"]])
print(explanation["rule_text"].iloc[0])

# %%
# Rows decided by each rule, right and wrong.
plot_rule_coverage(clf, X_test, y_test)
plt.show()
