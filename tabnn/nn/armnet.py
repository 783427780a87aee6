"""ARM-Net: exponential neurons over field embeddings, gated by sparse per-row attention.

Cai et al., "ARM-Net: Adaptive Relation Modeling Network for Structured Data", SIGMOD 2021.
Each exponential neuron computes ``exp(sum_f w_f E_f)``: with the embeddings read as logs
(``E = ln e``) this is the multiplicative cross feature ``prod_f e_f ^ w_f`` whose orders
``w_f`` are chosen per row by multi-head attention with an α-entmax normalisation over the
fields, so each neuron multiplies only a few fields (most ``w_f`` are exactly 0). ARM-Net+
adds a parallel feed-forward network on the flat embeddings.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .entmax import entmax
from .output import ModelOutput

__all__ = ["ARMNet", "ExponentialNeurons"]


class _BatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation that normalises a one-row training batch with the running
    statistics (the last batch of an epoch can hold one row, which has no batch variance)."""

    def forward(self, x):
        if self.training and x.numel() == x.shape[1]:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                            self.bias, False, 0.0, self.eps)
        return super().forward(x)


def _norm(kind, size):
    return _BatchNorm1d(size) if kind == "batch" else nn.LayerNorm(size)


class _NormMLP(nn.Module):
    """``[Linear -> norm -> ReLU -> Dropout] * len(hidden) -> Linear``."""

    def __init__(self, in_features, hidden, out_features, dropout, norm):
        super().__init__()
        layers, size = [], in_features
        for h in hidden:
            layers += [nn.Linear(size, h), _norm(norm, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = h
        layers.append(nn.Linear(size, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class ExponentialNeurons(nn.Module):
    """Sparse gated attention over fields and the exponential neurons it weights.

    Per head ``k`` and neuron ``o``: scores ``z_f = <E_f W_k, q_ko> / sqrt(d)``, attention
    ``a = entmax_α(z)`` over the fields, interaction weights ``w_f = a_f v_kof`` and output
    ``exp(clip(sum_f w_f E_f))``. Computed in at least float32 with autocast off: ``exp`` of a
    bfloat16 sum loses every digit that matters and overflows early.

    Parameters
    ----------
    n_fields : int
        Number of fields ``F``.
    dim : int
        Field embedding size ``d`` (also the key size, as in the paper).
    n_heads : int
        Attention heads ``K``.
    n_neurons : int
        Exponential neurons per head ``O``.
    alpha : float
        entmax α (1: softmax, dense; 1.5: exact entmax; 2: sparsemax).
    exponent_clip : float
        The exponent is clipped to ``[-exponent_clip, exponent_clip]`` (no overflow in float32).

    Notes
    -----
    Forward: ``E [B, F, d]`` -> ``(y [B, K*O, d], attention [B, K*O, F],
    weights [B, K*O, F])``, neurons ordered head-major.
    """

    def __init__(self, n_fields, dim, n_heads, n_neurons, alpha=1.5, exponent_clip=20.0):
        super().__init__()
        if min(n_fields, dim, n_heads, n_neurons) < 1:
            raise ValueError(
                "n_fields, dim, n_heads and n_neurons must be >= 1, however: "
                f"n_fields={n_fields}, dim={dim}, n_heads={n_heads}, n_neurons={n_neurons}")
        if alpha < 1:
            raise ValueError(f"alpha must be >= 1, however: alpha={alpha}")
        self.n_fields, self.dim, self.n_heads, self.n_neurons = n_fields, dim, n_heads, n_neurons
        self.alpha, self.exponent_clip = float(alpha), float(exponent_clip)
        self.normalize_keys = True
        self.key = nn.Parameter(torch.empty(n_heads, dim, dim))
        self.query = nn.Parameter(torch.empty(n_heads, n_neurons, dim))
        self.value = nn.Parameter(torch.empty(n_heads * n_neurons, n_fields))
        self.reset_parameters()

    @property
    def n_outputs(self):
        """Number of exponential neurons ``K * O``."""
        return self.n_heads * self.n_neurons

    def reset_parameters(self):
        # per head, as matrices: xavier on the 3-d tensors would count the heads as fan-in
        for k in range(self.n_heads):
            nn.init.xavier_uniform_(self.key.data[k], gain=1.414)
            nn.init.xavier_uniform_(self.query.data[k], gain=1.414)
        nn.init.xavier_uniform_(self.value, gain=1.414)

    def forward(self, emb):
        dtype = torch.promote_types(emb.dtype, torch.float32)
        with torch.autocast(emb.device.type, enabled=False):
            e = emb.to(dtype)
            # <E_f W_k, q_ko> = <E_f, W_k q_ko>: fold key and query into one [K*O, d] matrix
            # (a product of two tiny tensors) instead of transforming every field of every row
            q = torch.einsum("kde,koe->kod", self.key.to(dtype), self.query.to(dtype))
            q = q.reshape(self.n_outputs, self.dim) / math.sqrt(self.dim)
            # scores from layer-normalised fields: how sharp the attention can be must not
            # hinge on the embeddings' scale (small at init, kept small by their L2 penalty)
            keys = nn.functional.layer_norm(e, (self.dim,)) if self.normalize_keys else e
            scores = torch.matmul(q, keys.transpose(1, 2))  # [B, K*O, F]
            attention = entmax(scores, self.alpha, dim=-1)
            weights = attention * self.value.to(dtype)
            exponent = torch.bmm(weights, e).clamp(-self.exponent_clip, self.exponent_clip)
            return torch.exp(exponent), attention, weights


class ARMNet(nn.Module):
    """ARM-Net / ARM-Net+ head on top of field embeddings ``[B, F, d]``.

    Parameters
    ----------
    n_fields : int
        Number of fields ``F``.
    embedding_dim : int
        Field embedding size ``d``.
    n_outputs : int
        Number of logits.
    attention_heads : int, default=4
        Attention heads ``K``.
    neurons_per_head : int, default=32
        Exponential neurons per head ``O``.
    alpha : float, default=1.5
        entmax α of the attention over fields.
    mlp_hidden : sequence of int, default=(256, 256)
        Hidden sizes of the prediction MLP on the flat neuron outputs.
    dnn_hidden : sequence of int, default=()
        Hidden sizes of the parallel DNN of ARM-Net+ on the flat embeddings (empty: plain
        ARM-Net); its logits and ARM-Net's are mixed by a learned linear layer that starts
        as their average.
    dropout : float, default=0.0
        Dropout in the MLP and the DNN.
    normalization : {"batch", "layer"}, default="batch"
        Normalisation of the neuron outputs and in the MLPs. ``"batch"`` (the paper's) keeps
        every neuron's scale in check across rows; ``"layer"`` normalises each row alone, so
        training does not depend on which rows share a batch (and sample weights act exactly).
    exponent_clip : float, default=20.0
        See :class:`ExponentialNeurons`.

    Notes
    -----
    Forward returns a :class:`~tabnn.nn.output.ModelOutput` whose ``aux`` holds
    ``attention`` (entmax weights ``[B, K*O, F]``, rows sum to one) and
    ``interaction_weights`` (``attention * value``: the per-row exponent of every field in
    every neuron).
    """

    def __init__(self, n_fields, embedding_dim, n_outputs, attention_heads=4, neurons_per_head=32,
                 alpha=1.5, mlp_hidden=(256, 256), dnn_hidden=(), dropout=0.0,
                 normalization="batch", exponent_clip=20.0):
        super().__init__()
        if normalization not in ("batch", "layer"):
            raise ValueError(
                f"normalization must be 'batch' or 'layer', however: {normalization!r}")
        self.neurons = ExponentialNeurons(n_fields, embedding_dim, attention_heads,
                                          neurons_per_head, alpha, exponent_clip)
        n_neurons = self.neurons.n_outputs
        self.normalization = normalization
        # batch norm per neuron channel over rows and embedding positions, as in the paper
        self.neuron_norm = (_BatchNorm1d(n_neurons) if normalization == "batch"
                            else nn.LayerNorm(n_neurons * embedding_dim))
        self.mlp = _NormMLP(n_neurons * embedding_dim, tuple(mlp_hidden), n_outputs, dropout,
                            normalization)
        if dnn_hidden:
            self.dnn = _NormMLP(n_fields * embedding_dim, tuple(dnn_hidden), n_outputs, dropout,
                                normalization)
            self.mix = nn.Linear(2 * n_outputs, n_outputs, bias=False)
            with torch.no_grad():
                eye = torch.eye(n_outputs)
                self.mix.weight.copy_(0.5 * torch.cat([eye, eye], dim=1))
        else:
            self.dnn = self.mix = None

    def forward(self, emb):
        y, attention, weights = self.neurons(emb)
        if self.normalization == "batch":
            # channels = neurons; statistics over rows and embedding positions
            h = self.neuron_norm(y).flatten(1)
        else:
            h = self.neuron_norm(y.flatten(1))
        logits = self.mlp(h.to(emb.dtype))
        if self.dnn is not None:
            deep = self.dnn(emb.flatten(1))
            logits = self.mix(torch.cat([logits, deep.to(logits.dtype)], dim=1))
        return ModelOutput(logits, aux={"attention": attention, "interaction_weights": weights})
