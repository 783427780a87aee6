"""Sparse normalisations of scores onto the probability simplex: α-entmax.

``entmax_α(z) = argmax_{p in simplex} <p, z> + H_α(p)`` with the Tsallis entropy ``H_α``
(Peters, Niculae and Martins, ACL 2019). The solution is
``p_i = [(α - 1) z_i - τ]_+ ^ (1 / (α - 1))`` with the threshold ``τ`` that makes ``p`` sum to
one, so scores far enough below the maximum get exactly zero. α = 1 is softmax (dense),
α = 2 sparsemax (Euclidean projection onto the simplex), α = 1.5 in between.

α = 1.5 and α = 2 are solved exactly by sorting (``τ`` follows in closed form from the size of
the support); other α > 1 by bisection on ``τ``. All share one backward pass: with
``g = p ^ (2 - α)`` on the support (0 off it), ``dz = g * dp - g * <g, dp> / sum(g)``.

On the CPU, float32 1.5-entmax over the last axis (ARM-Net's attention) runs in a small C
kernel, ``entmax15.c``, where one can be built (see :mod:`tabnn.nn._cpu_kernel`): the sort and
the dozen passes of PyTorch operations over the scores were most of ARM-Net's training time on
the CPU (``benchmarks/entmax.py``). It solves each row in the core's cache and agrees with the
PyTorch path to float32 rounding. ``TABNN_FUSED_ENTMAX=0`` in the environment, or the module
attribute ``fused`` set to False, keeps the PyTorch path.
"""

from __future__ import annotations

import ctypes

import torch

from ._cpu_kernel import CpuKernel, switched_on

__all__ = ["entmax", "entmax15", "entmax_bisect", "sparsemax"]

#: use the C kernel where it can be built (``TABNN_FUSED_ENTMAX=0`` sets this to False)
fused = switched_on("TABNN_FUSED_ENTMAX")


def _sorted_cumulants(z, dim):
    """``z`` sorted decreasingly along ``dim``, its cumulative sums and the support sizes
    ``1..n`` shaped to broadcast along ``dim``."""
    z_sorted, _ = torch.sort(z, dim=dim, descending=True)
    n = z.shape[dim]
    shape = [1] * z.dim()
    shape[dim] = n
    rho = torch.arange(1, n + 1, device=z.device, dtype=z.dtype).view(shape)
    return z_sorted, rho


def _entmax15_forward(z, dim):
    # p_i = (z_i / 2 - τ)_+^2; with the k largest entries in the support, τ solves
    # sum_{i<=k} (x_i - τ)^2 = 1, a quadratic: τ = mean_k - sqrt((1 - ss_k) / k), where ss_k is
    # the k-sum of squared deviations from the mean. The support is the largest k whose τ
    # is still below the k-th entry.
    x = z / 2
    x = x - x.amax(dim=dim, keepdim=True)
    x_sorted, rho = _sorted_cumulants(x, dim)
    mean = x_sorted.cumsum(dim) / rho
    mean_sq = (x_sorted * x_sorted).cumsum(dim) / rho
    ss = rho * (mean_sq - mean * mean)
    tau = mean - torch.sqrt(torch.clamp((1 - ss) / rho, min=0))
    k = (tau <= x_sorted).sum(dim=dim, keepdim=True)
    tau_star = tau.gather(dim, k - 1)
    return torch.clamp(x - tau_star, min=0) ** 2


def _sparsemax_forward(z, dim):
    # p = (z - τ)_+, support = largest k with 1 + k z_(k) > sum_{i<=k} z_(i)
    z = z - z.amax(dim=dim, keepdim=True)
    z_sorted, rho = _sorted_cumulants(z, dim)
    cumsum = z_sorted.cumsum(dim)
    k = (1 + rho * z_sorted > cumsum).sum(dim=dim, keepdim=True)
    tau = (cumsum.gather(dim, k - 1) - 1) / k.to(z.dtype)
    return torch.clamp(z - tau, min=0)


def _bisect_forward(z, alpha, dim, n_iter):
    # sum_i [(α-1) z_i - τ]_+^(1/(α-1)) decreases in τ; it is >= 1 at τ = max - 1 and <= 1 at
    # τ = max - n^(1-α)
    x = (alpha - 1) * z
    x = x - x.amax(dim=dim, keepdim=True)
    n = z.shape[dim]
    lo = torch.full_like(x.narrow(dim, 0, 1), -1.0)
    hi = torch.full_like(lo, -(n ** (1 - alpha)))
    power = 1 / (alpha - 1)
    for _ in range(n_iter):
        tau = (lo + hi) / 2
        above = torch.clamp(x - tau, min=0).pow(power).sum(dim=dim, keepdim=True) >= 1
        lo = torch.where(above, tau, lo)
        hi = torch.where(above, hi, tau)
    p = torch.clamp(x - (lo + hi) / 2, min=0).pow(power)
    return p / p.sum(dim=dim, keepdim=True)


def _bind(lib):
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    lib.tabnn_entmax15_forward.argtypes = [ptr, ptr] + [i64] * 3
    lib.tabnn_entmax15_backward.argtypes = [ptr, ptr, ptr] + [i64] * 3
    lib.tabnn_entmax15_forward.restype = ctypes.c_int
    lib.tabnn_entmax15_backward.restype = ctypes.c_int
    return lib


def _kernel_forward(lib, z):
    p = torch.empty_like(z)
    if lib.tabnn_entmax15_forward(z.data_ptr(), p.data_ptr(), z.numel() // z.shape[-1],
                                  z.shape[-1], torch.get_num_threads()):
        raise MemoryError("entmax kernel: out of memory for its row buffers")
    return p


def _kernel_backward(lib, p, grad):
    dz = torch.empty_like(p)
    lib.tabnn_entmax15_backward(p.data_ptr(), grad.data_ptr(), dz.data_ptr(),
                                p.numel() // p.shape[-1], p.shape[-1], torch.get_num_threads())
    return dz


def _kernel_agrees(lib):
    # ties, a one-field row, a dense and a sparse row, through forward and backward
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(37, 9, generator=gen, dtype=torch.float64) * torch.tensor(
        [0.1, 1.0, 5.0]).repeat(13)[:37, None].double()
    z[0] = 1.0
    grad = torch.randn(37, 9, generator=gen, dtype=torch.float64)
    ref_in = z.clone().requires_grad_(True)
    ref = _Entmax.apply(ref_in, 1.5, 1, 0, False)
    ref.backward(grad)
    p = _kernel_forward(lib, z.float().contiguous())
    dz = _kernel_backward(lib, p, grad.float().contiguous())
    one = _kernel_forward(lib, torch.tensor([[3.0]]))
    return bool(torch.allclose(p.double(), ref, atol=1e-6)
                and torch.allclose(dz.double(), ref_in.grad, atol=1e-5)
                and float(one) == 1.0)


_KERNEL = CpuKernel("entmax15.c", _bind, _kernel_agrees)


def _use_kernel(z, alpha, dim, bisect):
    return (fused and alpha == 1.5 and not bisect and z.dtype == torch.float32
            and z.device.type == "cpu" and dim == z.dim() - 1 and z.numel() > 0
            and _KERNEL.library is not None)


class _Entmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, alpha, dim, n_iter, bisect):
        ctx.kernel = _use_kernel(z, alpha, dim, bisect)
        if ctx.kernel:
            p = _kernel_forward(_KERNEL.library, z.contiguous())
        elif alpha == 1.5 and not bisect:
            p = _entmax15_forward(z, dim)
        elif alpha == 2.0 and not bisect:
            p = _sparsemax_forward(z, dim)
        else:
            p = _bisect_forward(z, alpha, dim, n_iter)
        ctx.alpha, ctx.dim = alpha, dim
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        alpha, dim = ctx.alpha, ctx.dim
        if ctx.kernel:
            return _kernel_backward(_KERNEL.library, p, grad.contiguous()), None, None, None, None
        if alpha == 2.0:
            g = (p > 0).to(p.dtype)
        elif alpha == 1.5:
            g = torch.sqrt(p)
        else:
            g = torch.where(p > 0, p, torch.ones_like(p)).pow(2 - alpha) * (p > 0)
        gd = g * grad
        dz = gd - g * (gd.sum(dim=dim, keepdim=True) / g.sum(dim=dim, keepdim=True))
        return dz, None, None, None, None


def entmax(z, alpha=1.5, dim=-1, n_iter=50):
    """α-entmax of ``z`` along ``dim`` (nonnegative, sums to one, sparse for α > 1).

    Parameters
    ----------
    z : Tensor
        Scores.
    alpha : float, default=1.5
        α >= 1: 1 is softmax, 1.5 and 2 (sparsemax) are solved exactly by sorting, other
        values by bisection.
    dim : int, default=-1
        Axis to normalise over.
    n_iter : int, default=50
        Bisection steps (only for α other than 1, 1.5 and 2); each halves the bracket of the
        threshold, whose width starts below 1.

    Returns
    -------
    Tensor
        Same shape and dtype as ``z``.
    """
    alpha = float(alpha)
    if alpha < 1:
        raise ValueError(f"alpha must be >= 1, however: alpha={alpha}")
    if alpha == 1.0:
        return torch.softmax(z, dim=dim)
    dim = dim % z.dim()
    return _Entmax.apply(z, alpha, dim, int(n_iter), False)


def entmax15(z, dim=-1):
    """Exact 1.5-entmax of ``z`` along ``dim`` (see :func:`entmax`)."""
    return entmax(z, 1.5, dim)


def sparsemax(z, dim=-1):
    """Sparsemax (Euclidean projection onto the simplex) of ``z`` along ``dim``."""
    return entmax(z, 2.0, dim)


def entmax_bisect(z, alpha, dim=-1, n_iter=50):
    """α-entmax by bisection for any α > 1 (the exact solvers are used for 1.5 and 2 by
    :func:`entmax`; this one always bisects, e.g. to check them)."""
    alpha = float(alpha)
    if alpha <= 1:
        raise ValueError(f"alpha must be > 1, however: alpha={alpha}")
    dim = dim % z.dim()
    return _Entmax.apply(z, alpha, dim, int(n_iter), True)
