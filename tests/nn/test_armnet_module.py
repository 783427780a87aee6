import itertools

import numpy as np
import pytest
import torch

from tabnn.nn import ARMNet, ExponentialNeurons
from tabnn.nn.entmax import entmax, entmax15, entmax_bisect, sparsemax


def _entmax15_reference(z):
    """1.5-entmax of one vector by enumerating supports: p = (z/2 - tau)_+^2 with the support
    S = the k largest entries, tau solving sum_S (x - tau)^2 = 1 (smaller root), and S
    consistent (tau below every entry in S, above every entry outside)."""
    x = np.sort(np.asarray(z, dtype=np.float64) / 2)[::-1]
    for k in range(1, len(x) + 1):
        s = x[:k]
        # k tau^2 - 2 tau sum(s) + sum(s^2) - 1 = 0
        disc = s.sum() ** 2 - k * (np.sum(s * s) - 1)
        if disc < 0:
            continue
        tau = (s.sum() - np.sqrt(disc)) / k
        if tau < s[-1] and (k == len(x) or tau >= x[k]):
            return np.clip(np.asarray(z) / 2 - tau, 0, None) ** 2
    raise AssertionError("no consistent support")


def _sparsemax_reference(z):
    """Euclidean projection of z onto the simplex (Held et al.'s sort-based algorithm)."""
    u = np.sort(z)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, len(z) + 1)
    rho = k[u - (css - 1) / k > 0][-1]
    return np.clip(z - (css[rho - 1] - 1) / rho, 0, None)


@pytest.mark.parametrize("alpha", [1.5, 2.0, 1.3, 1.7])
def test_entmax_sums_to_one_and_matches_the_exact_solution(alpha):
    torch.manual_seed(0)
    z = torch.randn(200, 9, dtype=torch.float64) * 2
    p = entmax(z, alpha, dim=-1)
    torch.testing.assert_close(p.sum(-1), torch.ones(200, dtype=torch.float64))
    assert (p >= 0).all()
    assert (p == 0).any()  # sparse
    if alpha == 1.5:
        ref = np.stack([_entmax15_reference(r) for r in z.numpy()])
        np.testing.assert_allclose(p.numpy(), ref, atol=1e-6, rtol=0)
    if alpha == 2.0:
        ref = np.stack([_sparsemax_reference(r) for r in z.numpy()])
        np.testing.assert_allclose(p.numpy(), ref, atol=1e-6, rtol=0)
    # bisection on the threshold agrees with the exact sort-based solvers (and with itself)
    np.testing.assert_allclose(entmax_bisect(z, alpha, n_iter=80).numpy(), p.numpy(),
                               atol=1e-6, rtol=0)
    # another axis, float32
    q = entmax(z.T.float().contiguous(), alpha, dim=0)
    np.testing.assert_allclose(q.T.numpy(), p.numpy(), atol=1e-5)


def test_entmax_is_exactly_sparse_on_peaked_inputs_and_softmax_at_alpha_one():
    z = torch.tensor([[5.0, 0.1, 0.0, -1.0], [3.0, 2.9, -4.0, -4.0]])
    p15, p2 = entmax15(z), sparsemax(z)
    torch.testing.assert_close(p15[0], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert (p15[1, 2:] == 0).all() and (p15[1, :2] > 0.4).all()
    assert (p2[1, 2:] == 0).all()
    torch.testing.assert_close(entmax(z, 1.0), torch.softmax(z, -1))
    # invariant to adding a constant; ordered like the scores
    torch.testing.assert_close(entmax15(z + 100.0), p15)
    with pytest.raises(ValueError, match="alpha"):
        entmax(z, 0.5)


@pytest.mark.parametrize("alpha", [1.5, 2.0, 1.6])
def test_entmax_gradcheck_float64(alpha):
    torch.manual_seed(1)
    z = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    # a fixed random readout so the check covers the whole Jacobian, not just sums
    assert torch.autograd.gradcheck(lambda x: entmax(x, alpha, dim=-1), (z,))
    assert torch.autograd.gradcheck(lambda x: entmax(x, alpha, dim=0), (z,))


def test_exponential_neuron_is_a_product_of_powers():
    # exp(sum_f w_f ln e_f) = prod_f e_f ^ w_f for positive "raw" embeddings e
    torch.manual_seed(0)
    layer = ExponentialNeurons(n_fields=4, dim=3, n_heads=2, n_neurons=3).double()
    raw = torch.rand(5, 4, 3, dtype=torch.float64) + 0.1
    y, attention, weights = layer(raw.log())
    product = (raw.unsqueeze(1) ** weights.unsqueeze(-1)).prod(dim=2)
    torch.testing.assert_close(y, product)
    assert attention.shape == weights.shape == (5, 6, 4)
    torch.testing.assert_close(attention.sum(-1), torch.ones(5, 6, dtype=torch.float64))
    torch.testing.assert_close(weights, attention * layer.value)


def test_output_shapes_aux_and_inputs_untouched():
    torch.manual_seed(0)
    model = ARMNet(6, 4, n_outputs=3, attention_heads=2, neurons_per_head=5, mlp_hidden=(8,),
                   dnn_hidden=(8,))
    emb = torch.randn(16, 6, 4) * 5
    before = emb.clone()
    out = model(emb)
    assert out.logits.shape == (16, 3)
    assert out.aux["attention"].shape == (16, 10, 6)
    assert out.aux["interaction_weights"].shape == (16, 10, 6)
    assert (out.aux["attention"] == 0).float().mean() > 0.1  # sparse from the start
    torch.testing.assert_close(emb, before, rtol=0, atol=0)
    out.logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    # ARM-Net+ mixing starts as the average of the two branches
    torch.testing.assert_close(model.mix.weight, 0.5 * torch.cat([torch.eye(3)] * 2, dim=1))


def test_exponential_block_stays_float32_under_bf16_autocast_and_large_inputs_stay_finite():
    torch.manual_seed(0)
    model = ARMNet(5, 4, n_outputs=1, attention_heads=1, neurons_per_head=4, mlp_hidden=(8,))
    emb = torch.randn(32, 5, 4) * 1000  # exponents far past float32's range are clipped
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, attention, _ = model.neurons(emb)
        out = model(emb)
    assert y.dtype == attention.dtype == torch.float32
    assert torch.isfinite(y).all() and torch.isfinite(out.logits).all()
    out.logits.float().sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("normalization", ["batch", "layer"])
def test_one_row_training_batch_and_row_independence(normalization):
    torch.manual_seed(0)
    model = ARMNet(3, 2, n_outputs=1, attention_heads=1, neurons_per_head=2, mlp_hidden=(4,),
                   normalization=normalization).double().train()
    assert model(torch.randn(1, 3, 2, dtype=torch.float64)).logits.shape == (1, 1)
    if normalization == "layer":  # no batch statistics: a row's output ignores the others
        x = torch.randn(8, 3, 2, dtype=torch.float64)
        torch.testing.assert_close(model(x).logits[:2], model(x[:2]).logits)


def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="n_neurons=0"):
        ExponentialNeurons(3, 2, 1, 0)
    with pytest.raises(ValueError, match="alpha"):
        ExponentialNeurons(3, 2, 1, 1, alpha=0.9)
    with pytest.raises(ValueError, match="normalization"):
        ARMNet(3, 2, 1, normalization="group")


def test_one_field():
    model = ARMNet(1, 3, n_outputs=1, attention_heads=2, neurons_per_head=2, mlp_hidden=())
    out = model(torch.randn(4, 1, 3))
    torch.testing.assert_close(out.aux["attention"], torch.ones(4, 4, 1))
