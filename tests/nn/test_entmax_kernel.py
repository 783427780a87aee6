"""The C kernel of 1.5-entmax against the PyTorch path, and the shared kernel loader."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from tabnn.nn import ARMNet
from tabnn.nn import entmax as entmax_module
from tabnn.nn._cpu_kernel import FLAG_SETS
from tabnn.nn.entmax import _KERNEL, _kernel_agrees, entmax

can_build = (sys.platform.startswith("linux") and torch.backends.openmp.is_available()
             and bool(os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")))
needs_kernel = pytest.mark.skipif(not can_build, reason="no C compiler / OpenMP build of torch")


def _pair(z, grad):
    """(float64 PyTorch, float32 kernel, float32 PyTorch): outputs and input gradients."""
    out = []
    for dtype, fused in [(torch.float64, False), (torch.float32, True), (torch.float32, False)]:
        entmax_module.fused = fused
        try:
            x = z.to(dtype).clone().requires_grad_(True)
            p = entmax(x, 1.5, dim=-1)
            p.backward(grad.to(dtype))
        finally:
            entmax_module.fused = True
        out.append((p.detach().double(), x.grad.double()))
    return out


@needs_kernel
def test_kernel_is_built_where_a_compiler_exists():
    assert _KERNEL.library is not None


@needs_kernel
@pytest.mark.parametrize("shape, scale", [((7, 1), 1.0), ((50, 2), 1.0), ((64, 9), 0.1),
                                          ((64, 9), 5.0), ((3, 40, 23), 1.0),
                                          ((5, 300), 1.0), ((4, 300), 0.01)])
def test_matches_pytorch_entmax(shape, scale):
    # one field, two, dense and sparse supports, a 3-d batch, rows longer than the stack buffer
    gen = torch.Generator().manual_seed(0)
    z = (torch.randn(*shape, generator=gen) * scale).double()
    grad = torch.randn(*shape, generator=gen).double()
    (ref, ref_grad), (got, got_grad), (f32, f32_grad) = _pair(z, grad)
    torch.testing.assert_close(got.sum(-1), torch.ones(shape[:-1], dtype=torch.float64))
    for a, b, c in [(got, ref, f32), (got_grad, ref_grad, f32_grad)]:
        err, f32_err = (a - b).abs().max().item(), (c - b).abs().max().item()
        assert err <= 4 * f32_err + 1e-6, (err, f32_err)
    assert torch.equal(got == 0, ref == 0) or (got - ref).abs().max() < 1e-6


@needs_kernel
def test_ties_and_constant_rows():
    z = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, -5.0, -5.0], [0.0, 0.0, 0.0, 9.0]])
    p = entmax(z, 1.5)
    torch.testing.assert_close(p, torch.tensor([[0.25] * 4, [0.5, 0.5, 0, 0], [0, 0, 0, 1.0]]))


@needs_kernel
def test_result_does_not_depend_on_thread_count():
    z = torch.randn(1000, 17, generator=torch.Generator().manual_seed(2))
    before = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            x = z.clone().requires_grad_(True)
            p = entmax(x, 1.5)
            p.backward(torch.ones_like(p) * torch.arange(17.0))
            outs.append((p.detach(), x.grad))
    finally:
        torch.set_num_threads(before)
    for p, g in outs[1:]:
        assert torch.equal(p, outs[0][0]) and torch.equal(g, outs[0][1])


@needs_kernel
def test_armnet_trains_the_same_with_and_without_the_kernel():
    torch.manual_seed(0)
    net = ARMNet(n_fields=6, embedding_dim=4, n_outputs=1, attention_heads=2,
                 neurons_per_head=3, mlp_hidden=(8,))
    emb = torch.randn(32, 6, 4)
    grads = []
    for fused in (True, False):
        entmax_module.fused = fused
        try:
            net.zero_grad()
            out = net(emb)
            out.logits.square().sum().backward()
        finally:
            entmax_module.fused = True
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_pytorch_path_where_the_kernel_does_not_apply(monkeypatch):
    # float64, another axis, alpha other than 1.5, or switched off: the PyTorch solvers
    calls = []
    monkeypatch.setattr(entmax_module, "_kernel_forward",
                        lambda *a: calls.append(a) or pytest.fail("kernel used"))
    z = torch.randn(4, 5)
    entmax(z.double(), 1.5)
    entmax(z, 1.5, dim=0)
    entmax(z, 2.0)
    monkeypatch.setattr(entmax_module, "fused", False)
    entmax(z, 1.5)
    assert not calls


@pytest.mark.skipif(not can_build, reason="no C compiler / OpenMP build of torch")
@pytest.mark.parametrize("flags", FLAG_SETS)
def test_every_build_variant_is_right(flags, tmp_path):
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    target = tmp_path / "kernel.so"
    if not _KERNEL.compile(compiler, flags, target):
        pytest.skip(f"this compiler does not take {flags}")
    assert _kernel_agrees(_KERNEL.load(target))


@pytest.mark.skipif(not can_build, reason="no C compiler / OpenMP build of torch")
def test_first_use_under_inference_mode_builds_both_kernels(tmp_path):
    # a process that loads a model and predicts first meets the kernels' checks (which run
    # autograd) under inference mode: they must still pass there
    code = ("import torch\n"
            "from tabnn.nn import entmax, fused_attention\n"
            "with torch.inference_mode():\n"
            "    assert fused_attention.available()\n"
            "    p = entmax.entmax(torch.randn(3, 5), 1.5)\n"
            "assert entmax._KERNEL.library is not None\n")
    env = dict(os.environ, TABNN_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_environment_switch_keeps_pytorch():
    code = "from tabnn.nn import entmax; assert not entmax.fused"
    env = dict(os.environ, TABNN_FUSED_ENTMAX="0")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
