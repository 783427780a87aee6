"""Embedding + interaction model glued into one module the training engine can call, and the
split of its parameters into weight-decay groups."""

from __future__ import annotations

import torch
from torch import nn

from .output import as_output, default_loss

__all__ = ["TabularNetwork", "weight_decay_groups"]

#: layers whose parameters are scales and shifts of normalised activations: never decayed
_NORM_LAYERS = tuple(layer for layer in (
    nn.LayerNorm, nn.GroupNorm, getattr(nn, "RMSNorm", None), nn.BatchNorm1d, nn.BatchNorm2d,
    nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d) if layer is not None)


class TabularNetwork(nn.Module):
    """``model(embedding(codes, numeric, numeric_missing))`` plus a learned output bias.

    Parameters
    ----------
    embedding : Embedding
        Maps ``(codes, numeric, numeric_missing)`` to ``[B, F, d]``
        (see :class:`~tabnn.nn.embedding.Embedding`).
    model : nn.Module
        Maps ``[B, F, d]`` to logits ``[B, k]`` or to a
        :class:`~tabnn.nn.output.ModelOutput`; may define ``loss(output, y, w, task_loss)``.
    output_bias : Tensor or None
        Initial value of a learned bias added to the logits (e.g. the log-odds of the base
        rate, so training does not spend its first steps learning the prior).
    """

    def __init__(self, embedding, model, output_bias=None):
        super().__init__()
        self.embedding = embedding
        self.model = model
        self.output_bias = (
            nn.Parameter(torch.as_tensor(output_bias, dtype=torch.float32).clone())
            if output_bias is not None
            else None
        )

    def embedding_tables(self):
        return self.embedding.embedding_tables()

    def no_weight_decay(self):
        return [] if self.output_bias is None else [self.output_bias]

    def forward(self, codes, numeric, numeric_missing):
        out = self.model(self.embedding(codes, numeric, numeric_missing))
        if self.output_bias is None:
            return out
        if isinstance(out, torch.Tensor):
            return out + self.output_bias
        out = as_output(out)
        return type(out)(out.logits + self.output_bias, out.aux, out.penalties)

    def loss(self, output, y, w, task_loss):
        """The model's own loss if it defines one, else the task loss plus penalties."""
        own = getattr(self.model, "loss", None)
        output = as_output(output)
        return own(output, y, w, task_loss) if own is not None else default_loss(
            output, y, w, task_loss)


def weight_decay_groups(network):
    """Split the trainable parameters of ``network`` into ``(decayed, not_decayed)`` lists.

    Modules declare what weight decay must not touch: any module's ``no_weight_decay()``
    (embeddings return all their parameters, whose size is governed by ``embedding_l2``),
    normalisation layers, and every parameter registered under the name ``bias``. The rest
    (the weights of linear, convolution and attention layers) is decayed.
    """
    skip = set()
    for module in network.modules():
        if isinstance(module, (*_NORM_LAYERS, nn.Embedding)):
            skip.update(id(p) for p in module.parameters(recurse=False))
        declared = getattr(module, "no_weight_decay", None)
        if callable(declared):
            skip.update(id(p) for p in declared())
        for name, p in module.named_parameters(recurse=False):
            if name == "bias":
                skip.add(id(p))
    decay, no_decay = [], []
    for p in network.parameters():
        if p.requires_grad:
            (no_decay if id(p) in skip else decay).append(p)
    return decay, no_decay
