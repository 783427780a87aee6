"""What a model's forward pass returns, and the loss the engine takes from it.

A model returns either a logits tensor ``[B, k]`` or a :class:`ModelOutput`: the logits plus
named auxiliary outputs (per-branch logits, attention weights, ...) and named penalty terms
(scalar tensors added to the training loss). A model may define
``loss(output, y, w, task_loss)``; without one, the loss is the task loss of the logits plus
the penalties. Everything is a tensor, so a training step stays capturable as a CUDA graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["ModelOutput", "as_output", "default_loss"]


@dataclass
class ModelOutput:
    """Logits with optional auxiliary outputs and penalty terms.

    Attributes
    ----------
    logits : Tensor of shape (B, k)
        The prediction the estimator turns into probabilities or values.
    aux : dict of str to Tensor
        Extra outputs a model's own loss or the user may read (not used for prediction).
    penalties : dict of str to Tensor
        Scalar terms added to the training loss (and only to it: validation and early
        stopping see the task loss alone).
    """

    logits: torch.Tensor
    aux: dict = field(default_factory=dict)
    penalties: dict = field(default_factory=dict)


def as_output(out):
    """A :class:`ModelOutput` from whatever a model returned (a tensor or a ModelOutput)."""
    return out if isinstance(out, ModelOutput) else ModelOutput(out)


def default_loss(output, y, w, task_loss):
    """``task_loss(output.logits, y, w)`` plus every penalty term."""
    loss = task_loss(output.logits, y, w)
    for term in output.penalties.values():
        loss = loss + term.to(loss.dtype)
    return loss
