import functools

import numpy as np
import pytest
import torch

from tabnn.nn import FCN, CrossNetwork, SelfMaskCrossLayer
from tabnn.nn.fcn import dropout, split_halves
from tabnn.nn.output import ModelOutput
from tabnn.training import task_loss


def _growth(net, x, scales=(1e3, 1e3 * 10**0.5, 1e4)):
    """Slope of log max|out(t x)| against log t: the degree of the leading term."""
    with torch.no_grad():
        logs = [torch.log10(net(t * x).abs().max()).item() for t in scales]
    return np.polyfit(np.log10(scales), logs, 1)[0]


@pytest.mark.parametrize("self_mask", [False, True])
@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_ecn_order_doubles_and_lcn_order_grows_by_one(n_layers, self_mask):
    # mask removed (or LayerNorm-masked, which is scale invariant), no dropout, float64
    torch.manual_seed(0)
    D = 16
    x = torch.randn(5, 1, D, dtype=torch.float64)
    ecn = CrossNetwork(D, n_layers, "exponential", self_mask=self_mask).double().eval()
    lcn = CrossNetwork(D, n_layers, "linear", self_mask=self_mask).double().eval()
    assert _growth(ecn, x) == pytest.approx(2**n_layers, abs=0.05)
    assert _growth(lcn, x) == pytest.approx(n_layers + 1, abs=0.05)


def test_relu_mask_without_layer_norm_breaks_the_order():
    # ReLU(c) grows with the input: the masked half adds one degree per layer
    torch.manual_seed(0)
    x = torch.randn(5, 1, 16, dtype=torch.float64)
    lcn = CrossNetwork(16, 2, "linear", layer_norm=False).double().eval()
    assert _growth(lcn, x) > 3.5


@pytest.mark.parametrize("D", [8, 16, 624])
def test_self_mask_layer_has_half_the_parameters_of_a_dcnv2_layer(D):
    layer = SelfMaskCrossLayer(D)
    assert sum(p.numel() for p in layer.parameters()) == D * D // 2 + 2 * D
    assert layer.weight.shape == (D // 2, D)
    plain = SelfMaskCrossLayer(D, layer_norm=False)
    assert sum(p.numel() for p in plain.parameters()) == D * D // 2 + D  # (D*D + D) / 2 + D/2
    with pytest.raises(ValueError, match="dim=7"):
        SelfMaskCrossLayer(7)


def test_gate_is_cross_vector_and_its_masked_view_plus_bias():
    torch.manual_seed(0)
    layer = SelfMaskCrossLayer(8).double()
    x = torch.randn(3, 1, 8, dtype=torch.float64)
    gate, mask = layer(x, return_mask=True)
    c = x @ layer.weight.T
    expected_mask = torch.relu(torch.nn.functional.layer_norm(c, (4,)))
    torch.testing.assert_close(mask, expected_mask)
    torch.testing.assert_close(gate, torch.cat([c, c * expected_mask], -1) + layer.bias)
    # LayerNorm centres c: about half of the mask is zero
    assert 0.2 < (mask == 0).double().mean() < 0.8


def test_split_halves_layout():
    emb = torch.arange(2 * 3 * 4, dtype=torch.float64).reshape(2, 3, 4)  # B=2, F=3, d=4
    x = split_halves(emb)
    assert x.shape == (2, 1, 12)
    # first halves of fields 1..3, then second halves
    torch.testing.assert_close(x[0, 0], torch.tensor(
        [0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11], dtype=torch.float64))
    heads = split_halves(emb, n_heads=2)  # per head d=2: halves of size 1
    torch.testing.assert_close(heads[0, 1], torch.tensor([2, 6, 10, 3, 7, 11],
                                                         dtype=torch.float64))


def test_cross_layer_recurrences_match_the_definitions():
    torch.manual_seed(0)
    x0 = torch.randn(4, 1, 8, dtype=torch.float64)
    ecn = CrossNetwork(8, 2, "exponential").double()
    lcn = CrossNetwork(8, 2, "linear").double()
    x = x0
    for layer in ecn.layers:
        x = x * layer(x) + x
    torch.testing.assert_close(ecn(x0), x)
    x = x0
    for layer in lcn.layers:
        x = x0 * layer(x) + x
    torch.testing.assert_close(lcn(x0), x)


def test_fused_logit_is_the_mean_of_branch_logits_and_heads_average():
    torch.manual_seed(0)
    model = FCN(5, 8, 3, n_heads=2, ecn_dropout=0, lcn_dropout=0).double().eval()
    out = model(torch.randn(6, 5, 8, dtype=torch.float64))
    assert isinstance(out, ModelOutput) and out.logits.shape == (6, 3)
    assert model.dim == 20  # 5 fields x 4 values per head
    torch.testing.assert_close(out.logits, (out.aux["ecn"] + out.aux["lcn"]) / 2)
    # an output bias added after the model is carried over to the branches
    shifted = ModelOutput(out.logits + 0.7, out.aux)
    branch = model.branch_logits(shifted)
    torch.testing.assert_close(branch["ecn"], out.aux["ecn"] + 0.7)
    alone = FCN(5, 8, 1, branches="lcn")
    assert alone.ecn is None and set(alone(torch.randn(2, 5, 8)).aux) == {"lcn"}


def test_odd_width_is_a_clear_error_naming_embedding_dim():
    with pytest.raises(ValueError, match="embedding_dim=7, n_heads=1"):
        FCN(3, 7, 1)
    with pytest.raises(ValueError, match="embedding_dim=6, n_heads=2"):
        FCN(3, 6, 1, n_heads=2)  # 3 values per head: no halves
    with pytest.raises(ValueError, match="branches"):
        FCN(3, 4, 1, branches="dnn")


def _tri_bce_case(fused, ecn, lcn, y):
    out = ModelOutput(torch.tensor([[fused]] * len(y), dtype=torch.float64),
                      aux={"ecn": torch.tensor([[ecn]] * len(y), dtype=torch.float64),
                           "lcn": torch.tensor([[lcn]] * len(y), dtype=torch.float64)})
    y = torch.tensor(y, dtype=torch.float64)
    return out, y, torch.ones_like(y)


def _bce(p, y):
    return -np.mean([np.log(p) if t else np.log(1 - p) for t in y])


def test_tri_bce_by_hand():
    loss_fn = functools.partial(task_loss, "binary")
    model = FCN(2, 4, 1)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    y = [1, 1, 0]
    # the raw logits are those of the branches; the fused one is their mean (+ no bias)
    out, yt, w = _tri_bce_case(0.5, 0.2, 0.8, y)
    L, Ld, Ls = _bce(sig(0.5), y), _bce(sig(0.2), y), _bce(sig(0.8), y)
    expected = L + max(0, Ld - L) * Ld + max(0, Ls - L) * Ls
    assert model.loss(out, yt, w, loss_fn).item() == pytest.approx(expected, rel=1e-12)
    assert (Ld > L) != (Ls > L)  # one branch lags, the other gets weight 0
    # both branches better than the fusion: plain BCE (impossible with a mean of logits on
    # one row, so the example uses two rows with opposite labels)
    out = ModelOutput(torch.tensor([[0.0], [0.0]], dtype=torch.float64),
                      aux={"ecn": torch.tensor([[2.0], [-2.0]], dtype=torch.float64),
                           "lcn": torch.tensor([[-2.0], [2.0]], dtype=torch.float64)})
    yt = torch.tensor([1.0, 0.0], dtype=torch.float64)
    # ecn right on both rows, lcn wrong: ecn gets weight 0, lcn is pushed
    L, Ld, Ls = np.log(2), -np.log(sig(2.0)), -np.log(sig(-2.0))
    assert model.loss(out, yt, torch.ones(2, dtype=torch.float64), loss_fn).item() == \
        pytest.approx(L + (Ls - L) * Ls, rel=1e-12)
    model.tri_bce = False
    assert model.loss(out, yt, torch.ones(2, dtype=torch.float64), loss_fn).item() == \
        pytest.approx(L, rel=1e-12)


def test_detached_weights_change_only_the_gradient():
    loss_fn = functools.partial(task_loss, "binary")
    grads = []
    for detach in (False, True):
        model = FCN(2, 4, 1, detach_tri_bce_weights=detach)
        lcn = torch.tensor([[0.8]] * 3, dtype=torch.float64, requires_grad=True)
        ecn = torch.tensor([[0.2]] * 3, dtype=torch.float64, requires_grad=True)
        out = ModelOutput((ecn + lcn) / 2, aux={"ecn": ecn, "lcn": lcn})
        yt = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
        loss = model.loss(out, yt, torch.ones(3, dtype=torch.float64), loss_fn)
        loss.backward()
        grads.append((loss.item(), ecn.grad.sum().item(), lcn.grad.sum().item()))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-12)
    assert grads[0][1] != pytest.approx(grads[1][1], rel=1e-3)


@pytest.mark.parametrize("task, n_outputs", [("multiclass", 3), ("regression", 1)])
def test_same_three_term_loss_for_multiclass_and_regression(task, n_outputs):
    loss_fn = functools.partial(task_loss, task)
    torch.manual_seed(0)
    model = FCN(3, 4, n_outputs)
    out = model(torch.randn(10, 3, 4))
    y = torch.randint(0, 3, (10,)) if task == "multiclass" else torch.randn(10)
    w = torch.ones(10)
    L = loss_fn(out.logits, y, w)
    parts = [loss_fn(out.aux[b], y, w) for b in ("ecn", "lcn")]
    expected = L + sum(torch.relu(p - L) * p for p in parts)
    torch.testing.assert_close(model.loss(out, y, w, loss_fn), expected)


def test_cpu_dropout_rate_and_scale():
    torch.manual_seed(0)
    x = torch.ones(200, 500)
    out = dropout(x, 0.2)
    kept = out != 0
    assert kept.double().mean().item() == pytest.approx(1 - 51 / 256, abs=0.005)
    assert out[kept].unique().tolist() == [pytest.approx(256 / 205)]
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)
    torch.testing.assert_close(dropout(x, 0.001), x)  # rounds to 0
    net = CrossNetwork(8, 2, "linear", dropout=0.5)
    z = torch.randn(4, 1, 8)
    net.eval()
    torch.testing.assert_close(net(z), net(z))


def test_bfloat16_autocast_forward_and_backward():
    torch.manual_seed(0)
    model = FCN(6, 8, 1)
    emb = (0.1 * torch.randn(32, 6, 8)).requires_grad_()  # embedding-sized values
    ref = model.eval()(emb).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(emb)
    torch.testing.assert_close(out.logits.float(), ref, atol=0.05, rtol=0.05)
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(emb)
    loss = model.loss(out, torch.ones(32), torch.ones(32), functools.partial(task_loss, "binary"))
    loss.backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0
