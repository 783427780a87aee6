"""AutoInt: multi-head self-attentive interacting layers over field embeddings.

Song et al., "AutoInt: Automatic Feature Interaction Learning via Self-Attentive Neural
Networks", CIKM 2019. AutoInt+ adds a parallel feed-forward network on the flat embeddings.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import fused_attention as _kernel
from .layers import MLP, at_least_float32

__all__ = ["InteractingLayer", "AutoInt"]


class InteractingLayer(nn.Module):
    """One multi-head self-attention layer over fields, with a residual projection.

    ``X_next = ReLU(concat_h softmax(Q_h K_h^T / s) V_h + X W_res)``, with linear (bias-free)
    projections as in the paper. On the CPU, for the sizes where it is faster (small heads), the
    attention runs in a fused kernel (:mod:`tabnn.nn.fused_attention`) where one can be built;
    otherwise, on GPUs, and when the attention weights are returned or dropped out, with plain
    batched matrix products, which are fastest for the few dozen fields of a tabular row.

    Parameters
    ----------
    in_dim : int
        Size of each field vector at the input.
    head_dim : int
        Per-head size ``d'``.
    n_heads : int
        Number of heads ``H``; the output size is ``H * d'``.
    use_scale : bool, default=True
        Divide attention scores by ``sqrt(d')``.
    layer_norm : bool, default=False
        Apply layer normalisation to the output.
    dropout : float, default=0.0
        Dropout on the attention weights.
    """

    def __init__(self, in_dim, head_dim, n_heads, use_scale=True, layer_norm=False, dropout=0.0):
        super().__init__()
        if in_dim < 1 or head_dim < 1 or n_heads < 1:
            raise ValueError(
                "in_dim, head_dim and n_heads must be >= 1, however: "
                f"in_dim={in_dim}, head_dim={head_dim}, n_heads={n_heads}"
            )
        self.n_heads, self.head_dim = n_heads, head_dim
        out_dim = n_heads * head_dim
        self.qkv = nn.Linear(in_dim, 3 * out_dim, bias=False)
        self.residual = nn.Linear(in_dim, out_dim, bias=False) if in_dim != out_dim else None
        self.scale = 1.0 / math.sqrt(head_dim) if use_scale else 1.0
        self.norm = nn.LayerNorm(out_dim) if layer_norm else None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.out_dim = out_dim

    def _projection_weight(self):
        # the 1/sqrt(d') score scale folded into the (tiny) query weight: one pass less over
        # the [B, F, H*d'] queries, forward and backward
        weight = self.qkv.weight
        if self.scale == 1.0:
            return weight
        n_q = self.n_heads * self.head_dim
        return torch.cat([weight[:n_q] * self.scale, weight[n_q:]])

    def _fused(self, x, return_attention):
        """Whether this call runs the fused CPU kernel."""
        return (x.device.type == "cpu" and not return_attention
                and x.dtype in (torch.float32, torch.bfloat16)
                and (self.dropout is None or not self.training)
                and _kernel.pays_off(x.shape[1], self.n_heads, self.head_dim)
                and _kernel.available())

    def forward(self, x, return_attention=False):
        H, D = self.n_heads, self.head_dim
        if self._fused(x, return_attention):
            qkv = nn.functional.linear(x, self._projection_weight())
            return self._finish(_kernel.fused_attention(qkv, H, D), x)
        # one projection; heads are column slices of it. bmm copies the strided slices
        # internally, which still measured faster than one heads-first permute of the whole
        # projection at head size 8 (equal at 32). Plain batched matmuls:
        # scaled_dot_product_attention is 5-9x slower on CPU for a few dozen fields and fails
        # on GPUs past 65535 batch x heads.
        parts = nn.functional.linear(x, self._projection_weight()).split(D, dim=-1)
        heads, maps = [], []
        for h in range(H):
            q, k, v = parts[h], parts[H + h], parts[2 * H + h]
            scores = torch.bmm(q, k.transpose(1, 2))
            # softmax at least in float32: more accurate than in bfloat16 and, cast first,
            # 1.5x faster on CPU than softmax(..., dtype=float32)
            attn = torch.softmax(at_least_float32(scores), -1)
            if return_attention:
                maps.append(attn)
            if self.dropout is not None:
                attn = self.dropout(attn)
            heads.append(torch.bmm(attn.to(v.dtype), v))
        out = self._finish(torch.cat(heads, dim=-1) if H > 1 else heads[0], x)
        if return_attention:
            return out, torch.stack(maps, dim=1)
        return out

    def _finish(self, attended, x):
        out = attended + (x if self.residual is None else self.residual(x))
        out = torch.relu(out)
        if self.norm is not None:
            out = self.norm(out)
        return out


class AutoInt(nn.Module):
    """AutoInt / AutoInt+ head on top of field embeddings ``[B, F, d]``.

    Parameters
    ----------
    n_fields : int
        Number of fields ``F``.
    embedding_dim : int
        Field embedding size ``d``.
    n_outputs : int
        Number of logits.
    attention_layers : int, default=3
        Number of interacting layers (0 gives a linear model on the flat embeddings).
    attention_heads : int, default=2
        Heads per layer.
    attention_head_dim : int, default=32
        Size per head.
    use_scale, layer_norm : bool
        See :class:`InteractingLayer`.
    dnn_hidden : sequence of int, default=()
        Hidden sizes of the parallel DNN of AutoInt+ (empty: plain AutoInt).
    dropout : float, default=0.0
        Dropout in attention and DNN.
    n_attended : int or None, default=None
        Attend over the first ``n_attended`` fields only (None: all). The other fields skip
        the interacting layers: their embeddings go straight to the output layer and the DNN
        (how deepctr-torch treats numeric columns). Attention cost grows with the square of
        the number of attended fields.
    """

    def __init__(
        self,
        n_fields,
        embedding_dim,
        n_outputs,
        attention_layers=3,
        attention_heads=2,
        attention_head_dim=32,
        use_scale=True,
        layer_norm=False,
        dnn_hidden=(),
        dropout=0.0,
        n_attended=None,
    ):
        super().__init__()
        n_attended = n_fields if n_attended is None else int(n_attended)
        if not 0 <= n_attended <= n_fields:
            raise ValueError(
                f"n_attended must be in [0, n_fields={n_fields}], got {n_attended}"
            )
        self.n_fields, self.n_attended = n_fields, n_attended
        layers, dim = [], embedding_dim
        for _ in range(attention_layers if n_attended else 0):
            layer = InteractingLayer(
                dim, attention_head_dim, attention_heads, use_scale, layer_norm, dropout
            )
            layers.append(layer)
            dim = layer.out_dim
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(n_attended * dim + (n_fields - n_attended) * embedding_dim,
                              n_outputs)
        self.dnn = (
            MLP(n_fields * embedding_dim, dnn_hidden, n_outputs, dropout=dropout)
            if dnn_hidden
            else None
        )

    #: on CPU, rows x attention width (heads x head size) per thread pushed through the
    #: interacting layers at a time: the chunk's intermediates stay in cache. Measured on
    #: 2 cores, 3 layers x 2 heads, fwd+bwd: head size 8 runs best at 1024-row chunks (1.5x
    #: a 256-row chunk), head size 32 at 256 (1.2x 1024). Rows are independent: same result.
    chunk_size_per_thread = 8192

    def _row_chunk(self):
        width = self.layers[0].out_dim
        rows = self.chunk_size_per_thread * torch.get_num_threads() // width
        return int(min(max(rows, 64), 8192))

    def _interact(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, emb, return_attention=False):
        # split rather than slice: a slice's backward zero-fills a tensor of emb's full size
        n_rest = self.n_fields - self.n_attended
        x, rest = emb.split([self.n_attended, n_rest], dim=1) if n_rest else (emb, None)
        maps = []
        if return_attention:
            for layer in self.layers:
                x, a = layer(x, return_attention=True)
                maps.append(a)
        elif self.layers:
            chunk = self._row_chunk()
            # the fused kernel keeps its intermediates in cache by itself
            if emb.is_cuda or emb.shape[0] <= chunk or self.layers[0]._fused(x, False):
                x = self._interact(x)
            else:
                x = torch.cat([self._interact(part) for part in x.split(chunk)])
        x = x.flatten(1)
        if rest is not None:
            x = torch.cat([x, rest.flatten(1)], dim=1)
        logits = self.head(x)
        if self.dnn is not None:
            logits = logits + self.dnn(emb.flatten(1))
        if return_attention:
            return logits, maps
        return logits
