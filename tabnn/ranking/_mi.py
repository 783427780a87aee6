"""Count-based information measures behind OutRank.

Everything here is a function of joint histograms (non-negative integer counts), so it works the
same on one in-memory table and on histograms accumulated over streamed chunks. Natural logs
(nats) throughout.

The OutRank score of a feature ``X`` for a label ``Y`` is

    S(X; Y) = I(X; Y) - I(X~; Y) = H(Y | X~) - H(Y | X)

where ``X~`` is a *noise feature with the same value groups as X*: the same column paired with a
scrambled copy of the labels (see :class:`NullLabels`). High-cardinality, id-like columns get a
large plain mutual information purely from their many small groups; the noise feature has the
same small groups, so that excess cancels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "xlogx_sum",
    "conditional_entropy",
    "entropy",
    "joint_histogram",
    "mutual_information",
    "outrank_score",
    "NullLabels",
    "pair_codes",
]


def xlogx_sum(counts):
    """``sum(c * ln c)`` over the non-zero entries of ``counts`` (0 ln 0 = 0)."""
    c = np.asarray(counts, dtype=np.float64).ravel()
    c = c[c > 1]  # 1 ln 1 = 0 as well
    if c.size == 0:
        return 0.0
    return float(np.dot(c, np.log(c)))


def entropy(counts):
    """Entropy (nats) of a histogram of counts."""
    n = float(np.sum(counts))
    if n <= 0:
        return 0.0
    return float(np.log(n) - xlogx_sum(counts) / n)


def conditional_entropy(joint):
    """``H(Y | X)`` in nats from a joint histogram ``joint[x, y]``."""
    joint = np.asarray(joint)
    n = float(joint.sum())
    if n <= 0:
        return 0.0
    return (xlogx_sum(joint.sum(axis=1)) - xlogx_sum(joint)) / n


def mutual_information(joint):
    """Plain (plug-in) mutual information ``I(X; Y)`` in nats from ``joint[x, y]``."""
    joint = np.asarray(joint)
    return max(entropy(joint.sum(axis=0)) - conditional_entropy(joint), 0.0)


def outrank_score(joint, joint_null):
    """Cardinality-corrected score ``H(Y | X~) - H(Y | X)`` from two joint histograms.

    ``joint`` counts (value, label) pairs with the real labels, ``joint_null`` with the scrambled
    labels; both have the same value counts, so ``H(Y)`` cancels. The score can be slightly
    negative for pure noise.
    """
    return conditional_entropy(joint_null) - conditional_entropy(joint)


def joint_histogram(codes, labels, n_values, n_classes):
    """``joint[v, c]`` = number of rows with ``codes == v`` and ``labels == c`` (one bincount).

    ``codes`` must be non-negative integers below ``n_values``; ``labels`` in ``[0, n_classes)``.
    """
    flat = codes.astype(np.int64, copy=False) * n_classes + labels
    return np.bincount(flat, minlength=n_values * n_classes).reshape(n_values, n_classes)


def pair_codes(a, b, n_b):
    """Dense codes of the combined feature ``(a, b)`` (the row-wise pair of two code columns)."""
    combined = a.astype(np.int64, copy=False) * np.int64(n_b) + b
    codes, _ = pd.factorize(combined, sort=False)
    return codes.astype(np.int64, copy=False)


class NullLabels:
    """A seeded, uniformly random arrangement of a multiset of labels, drawn block by block.

    This is the label column of the noise baseline: every row gets a label drawn *without
    replacement* from the observed labels, independently of the features. Pairing any feature
    with these labels gives a random feature with exactly the same value groups (same
    cardinality and value-frequency profile) -- what OutRank's cyclic label shift approximates.
    Blocks are generated with a fixed size whatever the consumer's chunking, so the sequence
    depends only on ``(class_counts, seed)``: an in-memory and a streamed pass over the same
    rows in the same order see identical noise labels.

    Parameters
    ----------
    class_counts : array-like of int
        Number of rows of each class (over the whole data).
    seed : int or numpy Generator seed material
    block_size : int, default=65536
    """

    def __init__(self, class_counts, seed, block_size=65536):
        self._remaining = np.asarray(class_counts, dtype=np.int64).copy()
        self._rng = np.random.default_rng(seed)
        self._block_size = int(block_size)
        self._buffer = np.zeros(0, dtype=np.int64)

    def _block(self):
        m = int(min(self._block_size, self._remaining.sum()))
        if m <= 0:
            raise ValueError("NullLabels exhausted: more rows than labels were requested.")
        drawn = self._rng.multivariate_hypergeometric(self._remaining, m)
        self._remaining -= drawn
        labels = np.repeat(np.arange(len(drawn), dtype=np.int64), drawn)
        self._rng.shuffle(labels)
        return labels

    def take(self, m):
        """The next ``m`` noise labels."""
        parts, have = [self._buffer], len(self._buffer)
        while have < m:
            block = self._block()
            parts.append(block)
            have += len(block)
        allv = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._buffer = allv[m:]
        return allv[:m]
