"""The fused CPU attention kernel against the same attention in PyTorch operations."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

from tabnn.nn import InteractingLayer, fused_attention
from tabnn.nn._cpu_kernel import FLAG_SETS
from tabnn.nn.fused_attention import _KERNEL, _agrees_with_torch, _reference

can_build = sys.platform.startswith("linux") and bool(
    os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc"))
needs_kernel = pytest.mark.skipif(not fused_attention.available(),
                                  reason="no C compiler / OpenMP build of torch here")


@pytest.mark.skipif(not can_build or not torch.backends.openmp.is_available(),
                    reason="no C compiler / OpenMP build of torch here")
def test_kernel_is_built_where_a_compiler_exists():
    # CI runs on Linux with gcc: the tests below must run the kernel, not skip
    assert fused_attention.available()


def _attention_pair(n, n_fields, n_heads, head_dim, scale=1.0, seed=0):
    """(float64 reference, float32 kernel, float32 PyTorch) outputs and input gradients."""
    gen = torch.Generator().manual_seed(seed)
    qkv = torch.randn(n, n_fields, 3 * n_heads * head_dim, generator=gen)
    # the reference sees exactly the float32 inputs, in float64 arithmetic
    qkv = (qkv * scale).double()
    grad = torch.randn(n, n_fields, n_heads * head_dim, generator=gen).double()
    results = []
    for dtype, fn in [(torch.float64, _reference), (torch.float32, fused_attention.fused_attention),
                      (torch.float32, _reference)]:
        x = qkv.to(dtype).clone().requires_grad_(True)
        out = fn(x, n_heads, head_dim)
        out.backward(grad.to(dtype))
        results.append((out.detach().double(), x.grad.double()))
    return results


def _assert_float32_accurate(results):
    """The kernel's error is that of PyTorch's own float32 computation, or less."""
    (ref, ref_grad), (got, got_grad), (f32, f32_grad) = results
    assert got.shape == ref.shape and got_grad.shape == ref_grad.shape
    for a, b, c in [(got, ref, f32), (got_grad, ref_grad, f32_grad)]:
        err, f32_err = (a - b).abs().max().item(), (c - b).abs().max().item()
        assert err <= 4 * f32_err + 1e-6 * b.abs().max().item(), (err, f32_err)


@needs_kernel
@pytest.mark.parametrize(
    "n, n_fields, n_heads, head_dim",
    [(1, 1, 1, 1), (15, 3, 2, 8), (16, 26, 2, 8), (17, 7, 3, 5), (100, 26, 2, 8),
     (40, 39, 2, 32), (33, 20, 1, 16)],
)
def test_matches_pytorch_attention(n, n_fields, n_heads, head_dim):
    # row counts around the 16-row groups, field counts around the 16-wide blocks
    _assert_float32_accurate(_attention_pair(n, n_fields, n_heads, head_dim))


@needs_kernel
def test_saturated_scores_stay_finite_and_right():
    # scores in the hundreds: softmax is one-hot, exponentials underflow
    results = _attention_pair(50, 12, 2, 4, scale=12.0)
    assert all(torch.isfinite(t).all() for t in results[1])
    _assert_float32_accurate(results)


@needs_kernel
def test_result_does_not_depend_on_thread_count():
    qkv = torch.randn(333, 26, 48, generator=torch.Generator().manual_seed(1))
    before = torch.get_num_threads()
    try:
        outs = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            x = qkv.clone().requires_grad_(True)
            out = fused_attention.fused_attention(x, 2, 8)
            out.backward(torch.ones_like(out))
            outs.append((out.detach(), x.grad))
    finally:
        torch.set_num_threads(before)
    for out, grad in outs[1:]:
        assert torch.equal(out, outs[0][0]) and torch.equal(grad, outs[0][1])


@needs_kernel
@pytest.mark.parametrize("in_dim, head_dim", [(16, 8), (12, 16)])
def test_layer_gives_the_pytorch_path_result(in_dim, head_dim, monkeypatch):
    torch.manual_seed(0)
    layer = InteractingLayer(in_dim, head_dim, 1 if head_dim > 8 else 2)
    x = torch.randn(70, 26, in_dim)

    def run():
        inp = x.clone().requires_grad_(True)
        out = layer(inp)
        out.square().sum().backward()
        grads = [inp.grad] + [p.grad.clone() for p in layer.parameters()]
        layer.zero_grad(set_to_none=True)
        return out.detach(), grads

    assert layer._fused(x, False)
    fused_out, fused_grads = run()
    monkeypatch.setattr(InteractingLayer, "_fused", lambda self, x, r: False)
    torch_out, torch_grads = run()
    torch.testing.assert_close(fused_out, torch_out, atol=1e-5, rtol=1e-5)
    for a, b in zip(fused_grads, torch_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@needs_kernel
def test_bfloat16_input_under_autocast():
    layer = InteractingLayer(16, 8, 2)
    x = torch.randn(64, 10, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    out.float().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_layer_uses_pytorch_where_the_kernel_does_not_apply():
    layer = InteractingLayer(8, 4, 2, dropout=0.5)
    x = torch.randn(5, 6, 8)
    assert not layer._fused(x, return_attention=True)  # attention maps are asked for
    assert not layer._fused(x.double(), False)  # float64: the kernel is float32
    assert not layer.train()._fused(x, False)  # dropout on the attention weights
    # the paper's 2 x 32 heads over 39 fields: PyTorch's bfloat16 products are faster there
    assert not fused_attention.pays_off(39, 2, 32)
    assert not InteractingLayer(16, 32, 2)._fused(torch.randn(4, 39, 16), False)
    assert fused_attention.pays_off(26, 2, 8) and fused_attention.pays_off(100, 2, 8)
    out, maps = layer.eval()(x, return_attention=True)
    torch.testing.assert_close(maps.sum(-1), torch.ones(5, 2, 6))


@pytest.mark.skipif(not can_build or not torch.backends.openmp.is_available(),
                    reason="no C compiler / OpenMP build of torch here")
@pytest.mark.parametrize("flags", FLAG_SETS)
def test_every_build_variant_is_right(flags, tmp_path):
    # the portable builds are the fallbacks on CPUs where -march=native fails
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    target = tmp_path / "kernel.so"
    if not _KERNEL.compile(compiler, flags, target):
        pytest.skip(f"this compiler does not take {flags}")
    assert _agrees_with_torch(_KERNEL.load(target))


def test_enabled_switch_turns_the_kernel_off(monkeypatch):
    x = torch.randn(3, 4, 8)
    monkeypatch.setattr(fused_attention, "enabled", False)
    assert not fused_attention.available()
    assert not InteractingLayer(8, 4, 2)._fused(x, False)


def test_environment_switch_turns_the_kernel_off():
    code = ("from tabnn.nn import fused_attention, InteractingLayer; import torch; "
            "assert not fused_attention.available(); "
            "assert not InteractingLayer(8, 4, 2)._fused(torch.randn(3, 4, 8), False)")
    env = dict(os.environ, TABNN_FUSED_ATTENTION="0")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_failed_build_is_tried_once_per_machine(tmp_path):
    # a "compiler" that always fails and counts its calls; a fresh process per attempt
    calls = tmp_path / "calls"
    cc = tmp_path / "cc"
    cc.write_text(f"#!/bin/sh\necho x >> {calls}\nexit 1\n")
    cc.chmod(0o755)
    env = dict(os.environ, CC=str(cc), TABNN_CACHE_DIR=str(tmp_path / "cache"))
    code = "from tabnn.nn import fused_attention; assert not fused_attention.available()"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
    if not sys.platform.startswith("linux") or not torch.backends.openmp.is_available():
        assert not calls.exists()  # never tried there
        return
    assert len(calls.read_text().split()) == len(FLAG_SETS)  # first process only
    assert len(list((tmp_path / "cache").glob("*.failed"))) == len(FLAG_SETS)
