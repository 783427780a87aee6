"""FGCNN: convolutional feature generation with an IPNN classifier.

Liu et al., "Feature Generation by Convolutional Neural Network for Click-Through Rate
Prediction", WWW 2019. A stack of convolution + pooling stages over the field axis, each
followed by a fully connected "recombination" layer that turns the feature maps into new field
embeddings; raw and generated embeddings then go to an IPNN (flat embeddings plus every
pairwise inner product, into an MLP).
"""

from __future__ import annotations

import torch
from torch import nn

from .embedding import Embedding
from .layers import MLP

__all__ = ["EmbeddingPair", "FGCNN", "FeatureGeneration", "pairwise_inner_products",
           "stage_sizes"]


def stage_sizes(n_fields, pooling_sizes):
    """Field-axis height after each pooling and the pooling size actually used.

    ``H_i = ceil(H_{i-1} / p_i)`` with ``p_i`` clamped to ``H_{i-1}``: a pooling window larger
    than what is left of the field axis would shrink it below one field (the "negative
    dimension" crash of public implementations on tables with few fields); clamped, a stage
    on a single remaining field keeps it.

    Returns
    -------
    heights : list of int
        ``H_1 .. H_n`` (``H_0 = n_fields``).
    pools : list of int
        The clamped pooling sizes.
    """
    heights, pools, h = [], [], int(n_fields)
    for p in pooling_sizes:
        p = max(1, min(int(p), h))
        h = -(-h // p)
        heights.append(h)
        pools.append(p)
    return heights, pools


class EmbeddingPair(Embedding):
    """Two embeddings of the same fields, one for feature generation, one for the classifier.

    Follows the :class:`~tabnn.nn.embedding.Embedding` protocol (sizes of one of them; both
    tables for the embedding penalty; every parameter outside weight decay), but its forward
    returns the pair ``(generation [B, F, d], classifier [B, F, d])`` that :class:`FGCNN`
    takes.

    Parameters
    ----------
    generation, classifier : Embedding
        Two embeddings with the same fields and width.
    """

    def __init__(self, generation, classifier):
        super().__init__()
        sizes = [(e.n_categorical, e.n_numeric, e.dim) for e in (generation, classifier)]
        if sizes[0] != sizes[1]:
            raise ValueError(
                "both embeddings must report the same (n_categorical, n_numeric, dim), "
                f"however: generation={sizes[0]}, classifier={sizes[1]}"
            )
        self.generation = generation
        self.classifier = classifier

    @property
    def n_categorical(self):
        return self.generation.n_categorical

    @property
    def n_numeric(self):
        return self.generation.n_numeric

    @property
    def dim(self):
        return self.generation.dim

    @property
    def n_values(self):
        return self.generation.n_values

    @property
    def uses_value_hashes(self):
        return self.generation.uses_value_hashes

    def embedding_tables(self):
        return [*self.generation.embedding_tables(), *self.classifier.embedding_tables()]

    def value_ids(self, codes):
        return self.generation.value_ids(codes)

    def forward(self, codes, numeric, numeric_missing):
        return (self.generation(codes, numeric, numeric_missing),
                self.classifier(codes, numeric, numeric_missing))


class _IPNNInputs(torch.autograd.Function):
    """``[B, M, k]`` -> ``[B, M*k + M(M-1)/2]``: flat embeddings, then the strict upper
    triangle of every row's Gram matrix ``E E^T`` (row-major pair order).

    Rows go through in chunks whose ``M x M`` products stay in cache and in reused heap
    blocks: one batched product over the whole batch writes (and autograd keeps) a
    ``[B, M, M]`` tensor twice the size of what is used, and its index-select backward is an
    element-wise scatter. Here the backward gathers the symmetric gradient matrix in one
    index-select (each off-diagonal position reads its pair's gradient, the diagonal a zero)
    and needs one batched product instead of two.
    """

    @staticmethod
    def forward(ctx, emb, upper, symmetric, chunk):
        B, M, k = emb.shape
        n_flat = M * k
        out = emb.new_empty(B, n_flat + upper.numel())
        out[:, :n_flat].copy_(emb.reshape(B, n_flat))
        gram = emb.new_empty(min(chunk, B), M, M)
        for start in range(0, B, chunk):
            part = emb[start : start + chunk]
            n = part.shape[0]
            torch.bmm(part, part.transpose(1, 2), out=gram[:n])
            torch.index_select(gram[:n].view(n, M * M), 1, upper,
                               out=out[start : start + n, n_flat:])
        ctx.save_for_backward(emb, symmetric)
        ctx.chunk = chunk
        return out

    @staticmethod
    def backward(ctx, grad):
        emb, symmetric = ctx.saved_tensors
        B, M, k = emb.shape
        n_flat, chunk = M * k, ctx.chunk
        grad = grad.to(emb.dtype)
        d_emb = grad[:, :n_flat].reshape(B, M, k).clone()
        # the pair gradients plus one zero column that the diagonal positions read
        padded = grad.new_zeros(min(chunk, B), grad.shape[1] - n_flat + 1)
        for start in range(0, B, chunk):
            g = grad[start : start + chunk, n_flat:]
            n = g.shape[0]
            padded[:n, :-1].copy_(g)
            full = torch.index_select(padded[:n], 1, symmetric).view(n, M, M)
            d_emb[start : start + n].baddbmm_(full, emb[start : start + n])
        return d_emb, None, None, None


def pairwise_inner_products(emb, chunk=None):
    """``concat(flatten(emb), [<e_a, e_b> for a < b])`` of ``emb [B, M, k]``, per row.

    The inner products are the strict upper triangle of ``emb @ emb^T`` in row-major order
    ``(0,1), (0,2), .., (1,2), ..``. Under autocast the products run in its dtype.

    Parameters
    ----------
    emb : Tensor of shape (B, M, k)
    chunk : int or None
        Rows per batched product (None: cache-sized on the CPU, the whole batch on a GPU).

    Returns
    -------
    Tensor of shape (B, M*k + M*(M-1)/2)
    """
    M = emb.shape[1]
    upper, symmetric = _pair_index(M, emb.device)
    if chunk is None:
        chunk = emb.shape[0] if emb.is_cuda else max(8, (1 << 19) // (M * M))
    device_type = emb.device.type
    if torch.is_autocast_enabled(device_type):
        emb = emb.to(torch.get_autocast_dtype(device_type))
    with torch.autocast(device_type, enabled=False):
        return _IPNNInputs.apply(emb, upper, symmetric, max(1, int(chunk)))


_PAIR_INDEX = {}


def _pair_index(M, device):
    """Fixed index buffers of the pair layout: ``upper`` (flat positions of the strict upper
    triangle, row-major) and ``symmetric`` (for every flat position its pair's index, the
    diagonal pointing at the extra zero column ``M(M-1)/2``)."""
    key = (M, str(device))
    if key not in _PAIR_INDEX:
        rows, cols = torch.triu_indices(M, M, 1)
        upper = rows * M + cols
        pair = torch.full((M, M), rows.numel(), dtype=torch.int64)
        pair[rows, cols] = torch.arange(rows.numel())
        pair[cols, rows] = torch.arange(rows.numel())
        _PAIR_INDEX[key] = (upper.to(device), pair.flatten().to(device))
    return _PAIR_INDEX[key]


def _pool_fields(maps, pool, height):
    """Max over ``pool`` neighbouring fields of channels-last maps ``[B, C, H, k]`` ->
    ``[B, C, height, k]``, ``height = ceil(H / pool)``; the last window may be shorter.

    A max over a reshaped axis of the memory order ``[B, H, k, C]``: several times faster on
    the CPU than ``max_pool2d`` on these maps, and the same values.
    """
    B, C, H, k = maps.shape
    x = maps.permute(0, 2, 3, 1)  # [B, H, k, C], contiguous
    extra = height * pool - H
    if extra:  # padded with -inf, which never wins: every window holds a real field
        x = nn.functional.pad(x, (0, 0, 0, 0, 0, extra), value=float("-inf"))
    x = x.reshape(B, height, pool, k, C).amax(2)
    return x.permute(0, 3, 1, 2)


class FeatureGeneration(nn.Module):
    """The convolutional feature generator of FGCNN.

    Each stage: convolution over ``h_i`` neighbouring fields (a ``h_i x 1`` kernel, shared
    across the embedding coordinates, "same" padding), optional batch normalisation, tanh,
    max-pooling of ``p_i`` neighbouring fields, then a fully connected recombination layer
    with tanh that maps the pooled maps to ``H_i * r_i`` new field embeddings (so new
    features combine all positions and channels, not only a neighbourhood). The next stage
    convolves the pooled maps.

    Parameters
    ----------
    n_fields : int
        Number of input fields ``F``.
    embedding_dim : int
        Field embedding size ``k``.
    channels : sequence of int
        Output channels of each stage (empty: no generation).
    kernel_heights, pooling_sizes, recombined_channels : sequence of int
        Per stage; pooling sizes are clamped to the remaining field count
        (:func:`stage_sizes`).
    batch_norm : bool, default=True
        Batch normalisation after each convolution (the convolution then has no bias).
    """

    def __init__(self, n_fields, embedding_dim, channels, kernel_heights, pooling_sizes,
                 recombined_channels, batch_norm=True):
        super().__init__()
        n = len(channels)
        if not (len(kernel_heights) == len(pooling_sizes) == len(recombined_channels) == n):
            raise ValueError(
                "channels, kernel_heights, pooling_sizes and recombined_channels need one "
                f"value per stage, however: channels={tuple(channels)}, "
                f"kernel_heights={tuple(kernel_heights)}, pooling_sizes={tuple(pooling_sizes)}, "
                f"recombined_channels={tuple(recombined_channels)}"
            )
        values = (*channels, *kernel_heights, *pooling_sizes, *recombined_channels)
        if n_fields < 1 or embedding_dim < 1 or any(int(v) < 1 for v in values):
            raise ValueError(
                "n_fields, embedding_dim and every stage size must be >= 1, however: "
                f"n_fields={n_fields}, embedding_dim={embedding_dim}, "
                f"channels={tuple(channels)}, kernel_heights={tuple(kernel_heights)}, "
                f"pooling_sizes={tuple(pooling_sizes)}, "
                f"recombined_channels={tuple(recombined_channels)}"
            )
        self.embedding_dim = k = int(embedding_dim)
        self.heights, self.pools = stage_sizes(n_fields, pooling_sizes)
        self.recombined = [int(r) for r in recombined_channels]
        convs, norms, recombine = [], [], []
        c_in = 1
        for c, h, height, r in zip(channels, kernel_heights, self.heights, self.recombined):
            convs.append(nn.Conv2d(c_in, int(c), (int(h), 1), padding="same",
                                   bias=not batch_norm))
            norms.append(nn.BatchNorm2d(int(c)) if batch_norm else nn.Identity())
            recombine.append(nn.Linear(int(c) * height * k, height * r * k))
            c_in = int(c)
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norms)
        self.recombine = nn.ModuleList(recombine)

    @property
    def n_generated(self):
        """Number of generated feature embeddings ``N = sum_i H_i r_i``."""
        return sum(h * r for h, r in zip(self.heights, self.recombined))

    def forward(self, emb):
        """``[B, F, k]`` -> generated embeddings ``[B, N, k]`` (stage by stage)."""
        B, k = emb.shape[0], self.embedding_dim
        # channels-last maps [B, C, H, k] (memory order B, H, k, C): oneDNN's convolution is
        # about twice as fast on them, and they flatten for the recombination without a copy
        maps = emb.unsqueeze(1).contiguous(memory_format=torch.channels_last)
        new = []
        for conv, norm, recombine, pool, height in zip(
                self.convs, self.norms, self.recombine, self.pools, self.heights):
            maps = torch.tanh(norm(conv(maps)))
            if pool > 1:
                maps = _pool_fields(maps, pool, height)
            flat = maps.permute(0, 2, 3, 1).reshape(B, -1)
            new.append(torch.tanh(recombine(flat)).view(B, -1, k))
        if not new:
            return emb.new_zeros(B, 0, k)
        return new[0] if len(new) == 1 else torch.cat(new, dim=1)


class FGCNN(nn.Module):
    """FGCNN: feature generation (:class:`FeatureGeneration`) plus the IPNN classifier.

    The classifier sees the ``M = F + N`` raw and generated embeddings:
    ``MLP(concat(flatten(E), [<e_a, e_b>]_{a<b}))``, an input of ``M k + M (M-1) / 2``
    values (:func:`pairwise_inner_products`). With no stages (``channels=()``) it is IPNN.

    Field order matters: the convolution slides over neighbouring fields in the order of
    the embedding's output (categorical fields first, then numeric, in the encoder's column
    order).

    Parameters
    ----------
    n_fields : int
        Number of fields ``F``.
    embedding_dim : int
        Field embedding size ``k``.
    n_outputs : int
        Number of logits.
    channels : sequence of int, default=(14, 16, 18, 20)
        Convolution channels per stage.
    kernel_heights : int or sequence of int, default=7
        Kernel height (fields) per stage; an int applies to every stage.
    pooling_sizes : int or sequence of int, default=2
        Max-pooling size (fields) per stage.
    recombined_channels : int or sequence of int, default=2
        New features per remaining field per stage (``r_i``).
    dnn_hidden : sequence of int, default=(256, 128)
        Hidden sizes of the classifier MLP.
    dropout : float, default=0.0
        Dropout in the MLP.
    conv_batch_norm : bool, default=True
        Batch normalisation after each convolution.

    Notes
    -----
    Forward takes ``[B, F, k]`` (one embedding for both parts) or a pair
    ``(generation [B, F, k], classifier [B, F, k])`` (see :class:`EmbeddingPair`).
    """

    def __init__(self, n_fields, embedding_dim, n_outputs, channels=(14, 16, 18, 20),
                 kernel_heights=7, pooling_sizes=2, recombined_channels=2,
                 dnn_hidden=(256, 128), dropout=0.0, conv_batch_norm=True):
        super().__init__()
        n_stages = len(channels)

        def per_stage(value):
            return [int(value)] * n_stages if isinstance(value, int) else [int(v) for v in value]

        self.generation = FeatureGeneration(
            n_fields, embedding_dim, [int(c) for c in channels], per_stage(kernel_heights),
            per_stage(pooling_sizes), per_stage(recombined_channels), conv_batch_norm)
        self.n_fields, self.embedding_dim = int(n_fields), int(embedding_dim)
        self.n_total = M = self.n_fields + self.generation.n_generated
        self.n_inputs = M * self.embedding_dim + M * (M - 1) // 2
        self.mlp = MLP(self.n_inputs, tuple(dnn_hidden), n_outputs, dropout=dropout)

    @property
    def n_generated(self):
        """Number of generated features ``N``."""
        return self.generation.n_generated

    def features(self, emb):
        """Raw and generated embeddings ``[B, F + N, k]`` (the classifier's fields)."""
        generation, classifier = emb if isinstance(emb, (tuple, list)) else (emb, emb)
        new = self.generation(generation)
        if new.shape[1] == 0:
            return classifier
        return torch.cat([classifier.to(new.dtype), new], dim=1)

    def forward(self, emb):
        return self.mlp(pairwise_inner_products(self.features(emb)))
