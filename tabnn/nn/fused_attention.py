"""Fused field attention for the CPU: a small C kernel, compiled on first use.

On the CPU, the multi-head attention of :class:`~tabnn.nn.InteractingLayer` spends most of its
time on the per-row ``F x F`` score matrices: written, cast, normalised and read again by
separate PyTorch operations. ``fused_attention.c`` computes scores, softmax and the weighted
values of 16 rows at a time in vector registers, and recomputes the scores in the backward
pass instead of storing them, so small-headed models train and predict markedly faster on
the CPU (measurements: ``docs/benchmarks.md``, ``benchmarks/fused_attention.py``); see
:func:`pays_off` for the sizes where it is used.

It is compiled on first use and cached (see :mod:`tabnn.nn._cpu_kernel`). Where it cannot be
built, or with ``TABNN_FUSED_ATTENTION=0`` in the environment, the layers compute the same
attention with PyTorch operations: the two agree to float32 rounding. Setting the module
attribute ``enabled`` to False does the same within a running process
(``benchmarks/fused_attention.py`` compares the two paths that way).
"""

from __future__ import annotations

import ctypes

import torch

from ._cpu_kernel import CpuKernel, switched_on

__all__ = ["available", "fused_attention", "pays_off"]

#: use the kernel where it can be built (``TABNN_FUSED_ATTENTION=0`` sets this to False)
enabled = switched_on("TABNN_FUSED_ATTENTION")
_ROWS_PER_GROUP = 16


def _bind(lib):
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.tabnn_attention_forward.argtypes = [ptr, ptr, ptr] + [i64] * 5
    lib.tabnn_attention_backward.argtypes = [ptr, ptr, ptr, ptr] + [i64] * 5
    lib.tabnn_attention_forward.restype = ctypes.c_int
    lib.tabnn_attention_backward.restype = ctypes.c_int
    return lib


def _library():
    """The compiled kernel, or None where it cannot be had here."""
    return _KERNEL.library


def available():
    """Whether the fused CPU kernel is enabled and can be used in this process."""
    return enabled and _library() is not None


def pays_off(n_fields, n_heads, head_dim):
    """Whether the kernel is expected to beat PyTorch's batched products for these sizes.

    The kernel computes in float32; PyTorch's products run in bfloat16 under autocast. It wins
    where the ``F x F`` softmax dominates (small heads) and loses where the per-head products
    do and its per-thread buffer of 16 rows outgrows the core's cache. The line below follows
    ``benchmarks/fused_attention.py`` (table in ``docs/benchmarks.md``): heads of size 8 or
    less, or a 16-row buffer that stays within a core's cache.
    """
    width = 3 * n_heads * head_dim
    buffer_bytes = 64 * n_fields * (2 * width + n_heads * head_dim + 2 * n_fields)
    return head_dim <= 8 or buffer_bytes <= 320 * 1024


def _reference(qkv, n_heads, head_dim):
    """The same attention with PyTorch operations (float64 in tests)."""
    parts = qkv.split(head_dim, dim=-1)
    heads = []
    for h in range(n_heads):
        q, k, v = parts[h], parts[n_heads + h], parts[2 * n_heads + h]
        heads.append(torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v)
    return torch.cat(heads, dim=-1)


def _agrees_with_torch(lib):
    # one small case through forward and backward before the kernel is trusted
    gen = torch.Generator().manual_seed(0)
    qkv = torch.randn(21, 5, 18, generator=gen, dtype=torch.float64)
    grad = torch.randn(21, 5, 6, generator=gen, dtype=torch.float64)
    ref_in = qkv.clone().requires_grad_(True)
    ref = _reference(ref_in, 2, 3)
    ref.backward(grad)
    out, stats = _forward(lib, qkv.float(), 2, 3)
    dqkv = _backward(lib, qkv.float(), stats, grad.float(), 2, 3)
    return bool(torch.allclose(out.double(), ref, atol=1e-5)
                and torch.allclose(dqkv.double(), ref_in.grad, atol=1e-4))


_KERNEL = CpuKernel("fused_attention.c", _bind, _agrees_with_torch)


def _forward(lib, qkv, n_heads, head_dim):
    n, n_fields, _ = qkv.shape
    groups = -(-n // _ROWS_PER_GROUP)
    out = qkv.new_empty(n, n_fields, n_heads * head_dim)
    stats = qkv.new_empty(groups, n_heads, n_fields, 2, _ROWS_PER_GROUP)
    status = lib.tabnn_attention_forward(qkv.data_ptr(), out.data_ptr(), stats.data_ptr(), n,
                                         n_fields, n_heads, head_dim, torch.get_num_threads())
    if status:
        raise MemoryError("fused attention: out of memory for its row buffers")
    return out, stats


def _backward(lib, qkv, stats, grad_out, n_heads, head_dim):
    n, n_fields, _ = qkv.shape
    dqkv = torch.empty_like(qkv)
    status = lib.tabnn_attention_backward(qkv.data_ptr(), stats.data_ptr(), grad_out.data_ptr(),
                                          dqkv.data_ptr(), n, n_fields, n_heads, head_dim,
                                          torch.get_num_threads())
    if status:
        raise MemoryError("fused attention: out of memory for its row buffers")
    return dqkv


class _FusedAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qkv, n_heads, head_dim):
        qkv = qkv.float().contiguous()
        out, stats = _forward(_library(), qkv, n_heads, head_dim)
        ctx.save_for_backward(qkv, stats)
        ctx.heads = (n_heads, head_dim)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        qkv, stats = ctx.saved_tensors
        grad = grad_out.float().contiguous()
        return _backward(_library(), qkv, stats, grad, *ctx.heads), None, None


def fused_attention(qkv, n_heads, head_dim):
    """Multi-head softmax attention of each row's fields over its fields, on the CPU.

    Parameters
    ----------
    qkv : Tensor of shape (n, F, 3 * n_heads * head_dim)
        Queries (already scaled), keys and values side by side; head ``h`` is the ``h``-th
        block of ``head_dim`` columns in each third. float32 or bfloat16 (computed in float32).
    n_heads, head_dim : int
        Heads and size per head.

    Returns
    -------
    Tensor of shape (n, F, n_heads * head_dim), float32
        The heads' outputs side by side. Differentiable (once) with respect to ``qkv``.
    """
    if not available():
        raise RuntimeError("the fused attention kernel is not available here")
    return _FusedAttention.apply(qkv, n_heads, head_dim)
