"""OptFS feature-value gates (Lyu et al., WWW 2023) as embedding wrappers.

:class:`GatedEmbedding` wraps any :class:`~tabnn.nn.embedding.Embedding` and multiplies the
vector of every categorical (field, code) by its own learnable gate
``g = sigmoid(T * m) / sigmoid(m0)``; the temperature ``T`` is raised during the search
(learning by continuation) so the gates tend to a step function of the logits ``m``.
:class:`PrunedEmbedding` is the model retrained on the kept values: the codes of pruned values
are mapped to their field's unknown code and the inner embedding is built for the kept codes
only, so its table really is smaller. Gates are keyed by the encoder's code space (field offset
+ code), whatever the inner embedding does with the codes (hashing, sharing).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .embedding import Embedding, value_offsets

__all__ = ["GatedEmbedding", "PrunedEmbedding", "value_offsets"]

#: the encoder's reserved code of unknown / rare values (``tabnn.encoding.UNKNOWN``)
_UNKNOWN = 1


class _Wrapper(Embedding):
    """An embedding around ``inner``: the sizes and tables are the inner embedding's."""

    @property
    def n_categorical(self):
        return self.inner.n_categorical

    @property
    def n_numeric(self):
        return self.inner.n_numeric

    @property
    def dim(self):
        return self.inner.dim

    def embedding_tables(self):
        return self.inner.embedding_tables()


class GatedEmbedding(_Wrapper):
    """An embedding whose categorical field vectors are scaled by one gate per value.

    Parameters
    ----------
    inner : Embedding
        The wrapped embedding; its output ``[B, Fc + Fn, d]`` is gated on the first ``Fc``
        (categorical) fields. Numeric fields are not gated.
    cardinalities : sequence of int
        Codes per categorical field (the encoder's, reserved codes included): one gate each.
    mask_init : float, default=0.5
        Initial gate logit ``m0``. Gates are divided by ``sigmoid(m0)``, so at temperature 1
        every gate is exactly 1 and the gated model equals the wrapped one.
    strength : float, default=0.0
        ``lambda`` of the penalty ``lambda * sum_i sigmoid(T * m_i)`` over all gates, added to
        the (batch-mean) task loss by :meth:`gate_step`.

    Attributes
    ----------
    gate_params : Parameter of shape (n_values,)
        The gate logits ``m``; a value is kept when ``m > 0``.
    temperature : Tensor (buffer)
        Current temperature ``T`` (set in place by the search schedule).

    Notes
    -----
    The logits are meant to be updated by :meth:`gate_step` (plain gradient descent) after
    each optimiser step, which replaces whatever the optimiser did to them: an adaptive
    optimiser (Adam) moves a parameter by about its learning rate whatever the size of its
    gradient, so the gate of a value absent from a batch would move on the penalty (or on
    momentum) alone, and a rare value's gate could move at most about one learning rate per
    occurrence -- too little to decide in a short search.
    """

    def __init__(self, inner, cardinalities, mask_init=0.5, strength=0.0):
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        if len(cardinalities) != inner.n_categorical:
            raise ValueError(
                f"GatedEmbedding needs one cardinality per categorical field of the inner "
                f"embedding ({inner.n_categorical}); however: {len(cardinalities)} given")
        self.inner, self.cardinalities = inner, cardinalities
        self.mask_init, self.strength = float(mask_init), float(strength)
        self.register_buffer("offsets", torch.as_tensor(value_offsets(cardinalities)))
        self.gate_params = torch.nn.Parameter(torch.full((sum(cardinalities),), self.mask_init))
        self.register_buffer("temperature", torch.ones(()))
        # the logits after the last gate step: the optimiser's move of them is undone
        self.register_buffer("before", self.gate_params.detach().clone(), persistent=False)

    @property
    def n_values(self):
        return sum(self.cardinalities)

    def value_ids(self, codes):
        return codes + self.offsets

    @property
    def gate_logits(self):
        """The logits ``m`` of every value (a tensor of shape (n_values,))."""
        return self.gate_params

    def gates(self, ids):
        """Gate values of the global value ids ``ids`` at the current temperature."""
        return self._gate(self.gate_params[ids])

    def _gate(self, logits):
        # divided by the initial gate, so every gate is 1 at the start (temperature 1)
        return torch.sigmoid(self.temperature * logits) / _sigmoid(self.mask_init)

    def forward(self, codes, numeric, numeric_missing):
        out = self.inner(codes, numeric, numeric_missing)
        if not self.cardinalities:
            return out
        gates = self._gate(self.gate_params[self.value_ids(codes)])
        fc = self.n_categorical
        gated = out[:, :fc] * gates.unsqueeze(-1).to(out.dtype)
        return gated if fc == out.shape[1] else torch.cat([gated, out[:, fc:]], dim=1)

    @torch.no_grad()
    def penalty_gradient(self, logits=None):
        """Gradient of ``strength * sum_i sigmoid(T * m_i)`` with respect to the logits."""
        logits = self.gate_params if logits is None else logits
        s = torch.sigmoid(self.temperature * logits)
        return (self.strength * self.temperature) * s * (1 - s)

    @torch.no_grad()
    def gate_step(self, learning_rate):
        """One gradient-descent step of the logits on the task loss's gradient (left in
        ``gate_params.grad`` by the last backward pass) plus the penalty's, from the logits
        after the previous gate step (whatever the optimiser did to them is undone)."""
        grad = self.gate_params.grad
        step = self.penalty_gradient(self.before)
        if grad is not None and torch.isfinite(grad).all():
            step = step + grad
        self.gate_params.copy_(self.before - learning_rate * step)
        self.before.copy_(self.gate_params)

    @torch.no_grad()
    def kept(self):
        """Boolean numpy mask over the global value ids: ``m > 0``."""
        return (self.gate_params > 0).cpu().numpy()


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


class PrunedEmbedding(_Wrapper):
    """The embedding of the kept values only: pruned codes are mapped to their field's unknown
    code, the rest renumbered densely, and ``inner`` is built for the kept codes.

    Parameters
    ----------
    inner : Embedding
        Built for :func:`pruned_cardinalities` of the kept mask.
    cardinalities : sequence of int
        The encoder's codes per categorical field (what the input ``codes`` index).
    kept : array-like of bool of shape (sum(cardinalities),)
        Which (field, code) values keep their own vector.

    Attributes
    ----------
    remap : Tensor of int32 (buffer)
        New code of every encoder (field, code): its rank among the kept codes of the field,
        or the unknown code.
    """

    def __init__(self, inner, cardinalities, kept):
        super().__init__()
        remap, new_cards = prune_codes(cardinalities, kept)
        if list(new_cards) != [int(c) for c in getattr(inner, "cardinalities", new_cards)]:
            raise ValueError("inner must be built for pruned_cardinalities(cardinalities, kept)")
        self.inner, self.cardinalities = inner, [int(c) for c in cardinalities]
        self.register_buffer("offsets", torch.as_tensor(value_offsets(cardinalities)))
        self.register_buffer("remap", torch.as_tensor(remap, dtype=torch.int32))

    @property
    def n_values(self):
        return self.inner.n_values

    def pruned_codes(self, codes):
        """The inner embedding's codes of encoder codes ``[B, Fc]``."""
        return self.remap[codes + self.offsets].long()

    def value_ids(self, codes):
        return self.inner.value_ids(self.pruned_codes(codes))

    def forward(self, codes, numeric, numeric_missing):
        if self.cardinalities:
            codes = self.pruned_codes(codes)
        return self.inner(codes, numeric, numeric_missing)


def prune_codes(cardinalities, kept):
    """``(remap, new_cardinalities)`` for the kept mask over the global value ids.

    Per field, the unknown code keeps code 1 (it receives every pruned value); the reserved
    missing code keeps code 0 when it is kept and is mapped to unknown otherwise; kept
    vocabulary values are renumbered from 2 in their original order. ``remap`` maps every
    global value id to its new code within its field.
    """
    kept = np.asarray(kept, dtype=bool)
    remap = np.empty(len(kept), dtype=np.int64)
    new_cards = []
    for start, card in zip(value_offsets(cardinalities), cardinalities):
        field = kept[start : start + card].copy()
        codes = np.full(card, _UNKNOWN, dtype=np.int64)
        if card > 0 and field[0]:
            codes[0] = 0
        vocab = np.flatnonzero(field[2:]) + 2
        codes[vocab] = 2 + np.arange(len(vocab))
        if card > _UNKNOWN:
            codes[_UNKNOWN] = _UNKNOWN
        remap[start : start + card] = codes
        new_cards.append(max(2 + len(vocab), min(card, 2)))
    return remap, new_cards


def pruned_cardinalities(cardinalities, kept):
    """Codes per field after pruning (reserved missing and unknown codes plus kept values)."""
    return prune_codes(cardinalities, kept)[1]
