"""FCN (DCNv3): Exponential and Linear Cross Networks with Self-Mask, fused, trained with Tri-BCE.

Li et al., "FCN: Fusing Exponential and Linear Cross Network for Click-Through Rate
Prediction" (arXiv 2407.13349; earlier versions "DCNv3"). The forward pass follows the
authors' code: field vectors are split into halves, every cross layer computes a half-size
cross vector ``c = W x`` and its Self-Mask view ``c * ReLU(LayerNorm(c))``, the Exponential
Cross Network (ECN) multiplies the current representation by that gate (the interaction order
doubles per layer), the Linear Cross Network (LCN) multiplies the input by it (the order grows
by one per layer); the fused logit is the mean of the two branch logits.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import at_least_float32
from .output import ModelOutput

__all__ = ["FCN", "CrossNetwork", "SelfMaskCrossLayer", "dropout", "split_halves"]

BRANCHES = ("both", "ecn", "lcn")


def split_halves(emb, n_heads=1):
    """Lay field embeddings out as the cross networks read them.

    ``[B, F, H * d]`` -> ``[B, H, F * d]``: the last axis is cut into ``H`` heads of width
    ``d``; within a head, the first halves of all field vectors come first, then all second
    halves. The first half of the representation then meets the plain cross vector and the
    second half its masked view, for every field alike.
    """
    B, n_fields, width = emb.shape
    d = width // n_heads
    return (emb.reshape(B, n_fields, n_heads, 2, d // 2)
            .permute(0, 2, 3, 1, 4).reshape(B, n_heads, n_fields * d))


def dropout(x, p):
    """Training-mode dropout of ``x`` with rate ``p``; on the CPU from random bytes.

    torch's CPU dropout draws one Mersenne-Twister number per element, which costs as much as
    a cross layer's matrix product; here one 64-bit draw serves eight elements, each kept when
    its byte is at or above ``round(256 * p)``: the rate is rounded to a multiple of 1/256
    (0.1 -> 0.1016). Other devices use :func:`torch.nn.functional.dropout`.
    """
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    threshold = round(256 * p)
    if threshold <= 0:
        return x
    if threshold >= 256:
        return x * 0.0
    n = x.numel()
    draws = torch.empty(-(-n // 8), dtype=torch.int64, device=x.device)
    draws.random_(-2**63, 2**63 - 1)
    keep = draws.view(torch.uint8)[:n].view(x.shape) >= threshold
    scale = 256.0 / (256 - threshold)
    return x * torch.where(keep, scale, 0.0).to(x.dtype)


class SelfMaskCrossLayer(nn.Module):
    """One cross layer with the Self-Mask; returns the gate ``[c, c * m] + b``.

    ``c = W x`` (``W`` of shape ``(D/2, D)``, no bias), ``m = ReLU(LayerNorm(c))`` and the gate
    ``z + b`` with ``z = concat(c, c * m)``: the second half of the gate costs no weights, so
    the layer has ``D*D/2 + 2*D`` parameters (``W``, ``b`` and the LayerNorm's scale and
    shift), half of a DCNv2 cross layer. LayerNorm centres ``c``, so about half of the mask is
    zero: the mask filters the weaker half of the interactions of each row.

    Parameters
    ----------
    dim : int
        Size ``D`` of the representation (even).
    layer_norm : bool, default=True
        Mask with ``ReLU(LayerNorm(c))``; False: with ``ReLU(c)`` (then ``D*D/2 + D``
        parameters).
    batch_norm : bool, default=False
        Batch normalisation of ``c`` over the head axis (as in the authors' code).
    n_heads : int, default=1
        Number of heads (channels of the batch normalisation).
    self_mask : bool, default=True
        False replaces the mask by ones (``z = [c, c]``), for ablations and tests.
    """

    def __init__(self, dim, layer_norm=True, batch_norm=False, n_heads=1, self_mask=True):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even number >= 2, however: dim={dim}")
        self.dim, self.self_mask = dim, self_mask
        self.weight = nn.Parameter(torch.empty(dim // 2, dim))
        self.bias = nn.Parameter(torch.empty(dim))
        self.norm = nn.LayerNorm(dim // 2) if layer_norm and self_mask else None
        self.batch_norm = nn.BatchNorm1d(n_heads) if batch_norm else None
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.xavier_normal_(self.weight)
        nn.init.uniform_(self.bias)  # U(0, 1) as in the authors' code
        if self.norm is not None:
            self.norm.reset_parameters()

    def forward(self, x, shift=0.0, return_mask=False):
        """Gate ``concat(c, c * m) + b + shift`` for ``x`` of shape ``[B, H, D]``.

        ``shift`` (a number) is folded into the small bias rather than added to the gate:
        ``x * (gate + 1)`` then costs one pass instead of two.
        """
        c = F.linear(x, self.weight)
        if self.batch_norm is not None:
            c = self.batch_norm(c)
        bias = self.bias + shift if shift else self.bias
        b_plain, b_masked = bias.to(c.dtype).chunk(2)
        if self.self_mask:
            # autocast runs layer_norm in float32; keep the gate in c's dtype
            mask = torch.relu(self.norm(c) if self.norm is not None else c).to(c.dtype)
            masked = torch.addcmul(b_masked, c, mask)
        else:
            mask = None
            masked = c + b_masked
        gate = torch.cat([c + b_plain, masked], dim=-1)
        return (gate, mask) if return_mask else gate


class CrossNetwork(nn.Module):
    """A stack of Self-Mask cross layers, exponential (ECN) or linear (LCN).

    ECN: ``x_{l+1} = x_l * (z_l + b_l) + x_l``, so layer ``l`` is a polynomial of degree
    ``2**l`` in the input. LCN: ``x_{l+1} = x_1 * (z_l + b_l) + x_l``, degree ``l + 1``.
    Dropout follows every layer.

    Parameters
    ----------
    dim : int
        Representation size ``D`` (even).
    n_layers : int
        Number of cross layers (0: the input itself).
    kind : {"exponential", "linear"}
        ECN or LCN.
    dropout : float, default=0.0
        Dropout on each layer's output.
    layer_norm, batch_norm, n_heads, self_mask
        See :class:`SelfMaskCrossLayer`.
    """

    def __init__(self, dim, n_layers, kind, dropout=0.0, layer_norm=True, batch_norm=False,
                 n_heads=1, self_mask=True):
        super().__init__()
        if kind not in ("exponential", "linear"):
            raise ValueError(f"kind must be 'exponential' or 'linear', however: kind={kind!r}")
        self.kind, self.dropout = kind, float(dropout)
        self.layers = nn.ModuleList(
            SelfMaskCrossLayer(dim, layer_norm, batch_norm, n_heads, self_mask)
            for _ in range(n_layers))

    def forward(self, x, return_masks=False):
        x0, masks = x, []
        for layer in self.layers:
            if self.kind == "exponential":
                gate, mask = layer(x, shift=1.0, return_mask=True)
                x = x * gate  # = x * (z + b) + x
            else:
                gate, mask = layer(x, return_mask=True)
                x = torch.addcmul(x, x0, gate)
            if self.dropout > 0 and self.training:
                x = dropout(x, self.dropout)
            masks.append(mask)
        return (x, masks) if return_masks else x


class FCN(nn.Module):
    """FCN / DCNv3 on field embeddings ``[B, F, d]``: ECN and LCN branches, mean of logits.

    Returns a :class:`~tabnn.nn.output.ModelOutput` whose logits are the fused prediction and
    whose ``aux`` holds the logits of each branch (``"ecn"``, ``"lcn"``; without the output
    bias a :class:`~tabnn.nn.network.TabularNetwork` adds to the fused logits, see
    :meth:`branch_logits`). Its :meth:`loss` is Tri-BCE.

    Parameters
    ----------
    n_fields : int
        Number of fields ``F``.
    embedding_dim : int
        Width of each field vector; ``embedding_dim / n_heads`` must be even (field vectors
        are split into halves).
    n_outputs : int
        Number of logits.
    branches : {"both", "ecn", "lcn"}, default="both"
        Both branches fused, or one alone.
    ecn_layers, lcn_layers : int, default=3, 4
        Depth of each branch.
    ecn_dropout, lcn_dropout : float, default=0.1, 0.2
        Dropout after each cross layer of each branch.
    layer_norm, batch_norm, self_mask : bool
        See :class:`SelfMaskCrossLayer`.
    n_heads : int, default=1
        The field vectors are cut into ``n_heads`` chunks, each crossed separately with
        shared weights; the head logits are averaged.
    tri_bce : bool, default=True
        Train with Tri-BCE (the fused loss plus adaptively weighted branch losses); False:
        the fused loss alone.
    detach_tri_bce_weights : bool, default=False
        Treat the adaptive weights ``max(0, L_branch - L)`` as constants in the gradient
        (the authors' code lets the gradient flow through them).
    """

    def __init__(self, n_fields, embedding_dim, n_outputs, branches="both", ecn_layers=3,
                 lcn_layers=4, ecn_dropout=0.1, lcn_dropout=0.2, layer_norm=True,
                 batch_norm=False, n_heads=1, self_mask=True, tri_bce=True,
                 detach_tri_bce_weights=False):
        super().__init__()
        if branches not in BRANCHES:
            raise ValueError(f"branches must be one of {BRANCHES}, however: {branches!r}")
        if n_heads < 1 or embedding_dim % n_heads or (embedding_dim // n_heads) % 2:
            raise ValueError(
                "FCN splits every field vector into n_heads chunks and each chunk into two "
                "halves, so embedding_dim must be a multiple of 2 * n_heads; however: "
                f"embedding_dim={embedding_dim}, n_heads={n_heads}"
            )
        self.n_fields, self.n_heads, self.branches = n_fields, n_heads, branches
        self.dim = n_fields * embedding_dim // n_heads
        self.tri_bce, self.detach_tri_bce_weights = tri_bce, detach_tri_bce_weights
        common = dict(layer_norm=layer_norm, batch_norm=batch_norm, n_heads=n_heads,
                      self_mask=self_mask)
        self.ecn = self.lcn = self.ecn_head = self.lcn_head = None
        if branches in ("both", "ecn"):
            self.ecn = CrossNetwork(self.dim, ecn_layers, "exponential", ecn_dropout, **common)
            self.ecn_head = nn.Linear(self.dim, n_outputs)
        if branches in ("both", "lcn"):
            self.lcn = CrossNetwork(self.dim, lcn_layers, "linear", lcn_dropout, **common)
            self.lcn_head = nn.Linear(self.dim, n_outputs)
        for head in (self.ecn_head, self.lcn_head):
            if head is not None:
                nn.init.xavier_normal_(head.weight)
                nn.init.zeros_(head.bias)

    def _branches(self):
        return [(name, net, head) for name, net, head in (
            ("ecn", self.ecn, self.ecn_head), ("lcn", self.lcn, self.lcn_head))
            if net is not None]

    def forward(self, emb, return_masks=False):
        x = split_halves(emb, self.n_heads)
        logits, masks = {}, {}
        for name, net, head in self._branches():
            out, masks[name] = net(x, return_masks=True)
            # at least float32 under autocast: bfloat16 means would round the fused logit
            # 2^-9 away from the mean of the branches
            logits[name] = at_least_float32(head(out)).mean(dim=1)  # mean over heads
        fused = sum(logits.values()) * (1.0 / len(logits))
        output = ModelOutput(fused, aux=logits)
        return (output, masks) if return_masks else output

    def branch_logits(self, output):
        """Logits of each branch on the scale of ``output.logits``.

        ``output.logits`` may carry an output bias added after the model (the base-rate
        log-odds of :class:`~tabnn.nn.network.TabularNetwork`); the same offset is added to
        each branch, as the fused logit is the mean of the branch logits.
        """
        aux = output.aux
        fused = sum(aux.values()) * (1.0 / len(aux))  # as in forward: the same rounding
        offset = output.logits - fused
        return {name: logit + offset for name, logit in aux.items()}

    def loss(self, output, y, w, task_loss):
        """Tri-BCE: ``L + w_ecn * L_ecn + w_lcn * L_lcn`` with ``w = max(0, L_branch - L)``.

        ``L`` is the task loss of the fused logits (binary cross-entropy, cross-entropy or
        squared error), ``L_branch`` that of a branch's logits. A branch already better than
        the fusion gets no extra push; a lagging one is pulled by its own loss.
        """
        loss = task_loss(output.logits, y, w)
        if not self.tri_bce or len(output.aux) < 2:
            return loss
        total = loss
        for logit in self.branch_logits(output).values():
            branch = task_loss(logit, y, w)
            weight = torch.relu(branch - loss)
            if self.detach_tri_bce_weights:
                weight = weight.detach()
            total = total + weight * branch
        return total
