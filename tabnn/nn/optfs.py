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


class _GatePenalty(torch.autograd.Function):
    """Identity on the gathered gate logits whose backward adds the gradient of
    ``strength / B * sum over rows and fields of sigmoid(T * m)``.

    The penalty is charged per occurrence of a value in the batch (a mean over rows), so a
    value that is absent from a batch gets no gradient at all, and a gate closes when the
    loss reduction it brings per occurrence is below ``strength``, however rare the value.
    """

    @staticmethod
    def forward(ctx, logits, temperature, strength):
        ctx.save_for_backward(logits, temperature)
        ctx.strength = strength
        return logits.clone()

    @staticmethod
    def backward(ctx, grad):
        logits, temperature = ctx.saved_tensors
        s = torch.sigmoid(temperature * logits)
        scale = ctx.strength / max(logits.shape[0], 1)
        return grad + (scale * temperature) * s * (1 - s), None, None


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
    strength : float, default=1e-3
        Penalty per occurrence of a value (see :class:`_GatePenalty`), pushing gates closed.
    logit_scale : float, default=1.0
        The logits are stored divided by this factor (``m = logit_scale * gate_params``): an
        optimiser whose steps are about its learning rate (Adam) then moves the logits
        ``logit_scale`` times faster than the other weights.

    Attributes
    ----------
    gate_params : Parameter of shape (n_values,)
        Learnable ``m / logit_scale``; a value is kept when ``m > 0``.
    temperature : Tensor (buffer)
        Current temperature ``T`` (set in place, e.g. by a per-epoch schedule).
    """

    def __init__(self, inner, cardinalities, mask_init=0.5, strength=1e-3, logit_scale=1.0):
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        if len(cardinalities) != inner.n_categorical:
            raise ValueError(
                f"GatedEmbedding needs one cardinality per categorical field of the inner "
                f"embedding ({inner.n_categorical}); however: {len(cardinalities)} given")
        self.inner, self.cardinalities = inner, cardinalities
        self.mask_init, self.strength = float(mask_init), float(strength)
        self.logit_scale = float(logit_scale)
        self.register_buffer("offsets", torch.as_tensor(value_offsets(cardinalities)))
        self.gate_params = torch.nn.Parameter(
            torch.full((sum(cardinalities),), self.mask_init / self.logit_scale))
        self.register_buffer("temperature", torch.ones(()))
        # values seen by the current training step, and the logits before it: gates of absent
        # values are put back after the step (Adam's momentum would move them otherwise)
        self.register_buffer("seen", torch.zeros(sum(cardinalities), dtype=torch.bool),
                             persistent=False)
        self.register_buffer("before", self.gate_params.detach().clone(), persistent=False)

    @property
    def n_values(self):
        return sum(self.cardinalities)

    def value_ids(self, codes):
        return codes + self.offsets

    @property
    def gate_logits(self):
        """The logits ``m`` of every value (a tensor of shape (n_values,))."""
        return self.gate_params * self.logit_scale

    def gates(self, ids):
        """Gate values of the global value ids ``ids`` at the current temperature."""
        return self._gate(self.gate_logits[ids])

    def _gate(self, logits):
        # divided by the initial gate, so every gate is 1 at the start (temperature 1)
        return torch.sigmoid(self.temperature * logits) / _sigmoid(self.mask_init)

    def forward(self, codes, numeric, numeric_missing):
        out = self.inner(codes, numeric, numeric_missing)
        if not self.cardinalities:
            return out
        ids = self.value_ids(codes)
        logits = self.gate_params[ids] * self.logit_scale
        if self.training and torch.is_grad_enabled():
            self.seen.index_fill_(0, ids.reshape(-1), True)
            logits = _GatePenalty.apply(logits, self.temperature, self.strength)
        gates = self._gate(logits)
        fc = self.n_categorical
        gated = out[:, :fc] * gates.unsqueeze(-1).to(out.dtype)
        return gated if fc == out.shape[1] else torch.cat([gated, out[:, fc:]], dim=1)

    @torch.no_grad()
    def restore_unseen(self):
        """Put back the logits of the values absent from the last step(s); start a new step."""
        self.gate_params.copy_(torch.where(self.seen, self.gate_params, self.before))
        self.before.copy_(self.gate_params)
        self.seen.zero_()

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
