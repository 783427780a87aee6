"""
FCN (DCNv3): the exponential and the linear cross network
=========================================================

FCN fuses two cross networks: the Exponential Cross Network (interaction order doubles per
layer) and the Linear Cross Network (one more order per layer). Each branch predicts on its
own (``predict_proba(X, branch=...)``), which shows what each contributes.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from tabnn import FCNClassifier
from tabnn.datasets import make_ctr

SMALL = os.environ.get("TABNN_EXAMPLES_SMALL") == "1"

data = make_ctr(n_samples=2000 if SMALL else 50_000, n_categorical=8, n_numeric=4,
                cardinality=(5, 500), interactions=[("C1", "C2"), ("C3", "C4", "I1")],
                random_state=0)
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, random_state=0)
clf = FCNClassifier(max_epochs=1 if SMALL else 30, random_state=0).fit(X_train, y_train)

aucs = {branch: roc_auc_score(y_test, clf.predict_proba(X_test, branch=branch)[:, 1])
        for branch in ("fused", "ecn", "lcn")}
print({k: round(v, 4) for k, v in aucs.items()})

# %%
# Share of cross-vector entries the Self-Mask zeroes, per layer and branch.
activity = clf.mask_activity(X_test)
fig, ax = plt.subplots(layout="constrained")
for branch, share in activity.items():
    ax.plot(range(1, len(share) + 1), share, marker="o", label=branch)
ax.set_xlabel("cross layer")
ax.set_ylabel("share masked")
ax.legend()
plt.show()
