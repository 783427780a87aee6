import pytest
import torch
import torch.nn.functional as F

from tabnn.nn import FGCNN, EmbeddingPair, FieldEmbedding, TabularNetwork
from tabnn.nn.fgcnn import _pool_fields, pairwise_inner_products, stage_sizes
from tabnn.nn.network import weight_decay_groups


def _ipnn_inputs_by_loops(emb):
    B, M, k = emb.shape
    pairs = [(emb[:, a] * emb[:, b]).sum(-1) for a in range(M) for b in range(a + 1, M)]
    return torch.cat([emb.reshape(B, M * k), torch.stack(pairs, 1)], 1)


@pytest.mark.parametrize("chunk", [None, 1, 3, 64])
def test_pairwise_products_and_gradient_match_a_double_loop(chunk):
    torch.manual_seed(0)
    emb = torch.randn(10, 7, 3, dtype=torch.float64, requires_grad=True)
    out = pairwise_inner_products(emb, chunk=chunk)
    ref = _ipnn_inputs_by_loops(emb)
    assert out.shape == (10, 7 * 3 + 21)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    torch.testing.assert_close(torch.autograd.grad(out, emb, g)[0],
                               torch.autograd.grad(ref, emb, g)[0])
    assert torch.autograd.gradcheck(lambda e: pairwise_inner_products(e, chunk=chunk),
                                    (emb[:4].detach().requires_grad_(),))


def test_pairwise_products_under_bfloat16_autocast():
    torch.manual_seed(0)
    emb = torch.randn(33, 12, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pairwise_inner_products(emb)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), _ipnn_inputs_by_loops(emb.detach()),
                               atol=0.1, rtol=0.02)
    out.float().sum().backward()
    assert emb.grad.dtype == torch.float32 and torch.isfinite(emb.grad).all()


def test_stage_sizes_ceil_and_clamped_pooling():
    assert stage_sizes(39, [2, 2, 2, 2]) == ([20, 10, 5, 3], [2, 2, 2, 2])
    # few fields: windows shrink to what is left, the field axis never drops below 1
    assert stage_sizes(2, [2, 2, 2, 2]) == ([1, 1, 1, 1], [2, 1, 1, 1])
    assert stage_sizes(1, [3, 3]) == ([1, 1], [1, 1])
    assert stage_sizes(7, [3, 4]) == ([3, 1], [3, 3])


@pytest.mark.parametrize("height, pool", [(1, 1), (2, 2), (5, 2), (7, 3), (39, 2)])
def test_field_pooling_equals_max_pool2d_ceil_mode(height, pool):
    x = torch.randn(3, 4, height, 5, dtype=torch.float64).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    out_height = -(-height // pool)
    ours, ref = _pool_fields(x, pool, out_height), F.max_pool2d(x, (pool, 1), ceil_mode=True)
    torch.testing.assert_close(ours, ref)
    g = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(ours, x, g)[0],
                               torch.autograd.grad(ref, x, g)[0])


def _formula(F_, k, n_out, channels, kernels, pools, recombined, hidden, batch_norm=True):
    """Parameter count from the layer sizes: conv (+BN scale/shift, or conv bias),
    recombination FC, IPNN MLP over M k + M(M-1)/2 inputs."""
    heights, h = [], F_
    for p in pools:
        h = -(-h // min(p, h))
        heights.append(h)
    total, c_in = 0, 1
    for c, kh, H, r in zip(channels, kernels, heights, recombined):
        total += c_in * c * kh + 2 * c if batch_norm else c_in * c * kh + c
        total += (c * H * k) * (H * r * k) + H * r * k
        c_in = c
    M = F_ + sum(H * r for H, r in zip(heights, recombined))
    size = M * k + M * (M - 1) // 2
    for width in (*hidden, n_out):
        total += size * width + width
        size = width
    return total, M


@pytest.mark.parametrize("n_fields", [2, 60])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_shapes_and_parameter_count_follow_the_formula(n_fields, batch_norm):
    k, channels, kernels, pools, rec, hidden = 4, (3, 5, 6), (3, 2, 5), (2, 3, 2), (2, 1, 3), (16, 8)
    model = FGCNN(n_fields, k, 3, channels=channels, kernel_heights=kernels,
                  pooling_sizes=pools, recombined_channels=rec, dnn_hidden=hidden,
                  conv_batch_norm=batch_norm)
    expected, M = _formula(n_fields, k, 3, channels, kernels, pools, rec, hidden, batch_norm)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.n_total == M and model.n_generated == M - n_fields
    x = torch.randn(5, n_fields, k)
    assert model.features((x, x)).shape == (5, M, k)
    assert model((x, torch.randn(5, n_fields, k))).shape == (5, 3)
    assert model(x).shape == (5, 3)


def test_method_note_size_example():
    # Criteo: F = 39, k = 20, FuxiCTR's default configuration
    model = FGCNN(39, 20, 1, channels=(38, 40, 42, 44), kernel_heights=9,
                  recombined_channels=3, dnn_hidden=())
    assert model.generation.heights == [20, 10, 5, 3]
    assert model.n_generated == 114
    assert model.n_inputs == 14_688


def test_without_stages_it_is_ipnn():
    torch.manual_seed(0)
    model = FGCNN(5, 3, 1, channels=(), dnn_hidden=(4,)).double()
    x = torch.randn(6, 5, 3, dtype=torch.float64)
    first, out = model.mlp.net[0], model.mlp.net[2]
    by_hand = out(torch.relu(first(_ipnn_inputs_by_loops(x))))
    torch.testing.assert_close(model(x), by_hand)
    assert model.n_generated == 0


def test_generation_and_classifier_embeddings_play_their_roles():
    torch.manual_seed(0)
    model = FGCNN(6, 4, 1, channels=(3,), kernel_heights=3, recombined_channels=1,
                  dnn_hidden=(8,)).double().eval()
    gen, cls = torch.randn(2, 4, 6, 4, dtype=torch.float64)
    feats = model.features((gen, cls))
    # the raw part of the classifier's fields is the classifier embedding; generated
    # features depend only on the generation embedding
    torch.testing.assert_close(feats[:, :6], cls)
    torch.testing.assert_close(model.features((gen, cls * 2))[:, 6:], feats[:, 6:])
    assert not torch.allclose(model.features((gen * 2, cls))[:, 6:], feats[:, 6:])


def test_embedding_pair_protocol_penalty_and_weight_decay():
    torch.manual_seed(0)
    a, b = FieldEmbedding([3, 4], 2, 5), FieldEmbedding([3, 4], 2, 5)
    pair = EmbeddingPair(a, b)
    assert (pair.n_fields, pair.n_categorical, pair.n_numeric, pair.dim) == (4, 2, 2, 5)
    assert [t is u for t, u in zip(pair.embedding_tables(), [a.table.weight, b.table.weight])] \
        == [True, True]
    net = TabularNetwork(pair, FGCNN(4, 5, 1, channels=(2,), kernel_heights=3,
                                     recombined_channels=1, dnn_hidden=(4,)))
    assert len(net.embedding_tables()) == 2
    decay, no_decay = weight_decay_groups(net)
    no_decay_ids = {id(p) for p in no_decay}
    assert all(id(p) in no_decay_ids for p in pair.parameters())
    assert not any(id(p) in no_decay_ids for p in net.model.mlp.parameters()
                   if p.dim() == 2)
    codes = torch.tensor([[0, 3], [2, 1]])
    num, miss = torch.randn(2, 2), torch.zeros(2, 2)
    gen, cls = pair(codes, num, miss)
    torch.testing.assert_close(gen, a(codes, num, miss))
    torch.testing.assert_close(cls, b(codes, num, miss))
    assert net(codes, num, miss).shape == (2, 1)
    with pytest.raises(ValueError, match="same"):
        EmbeddingPair(a, FieldEmbedding([3, 4], 2, 6))


def test_constructor_errors_name_the_sizes():
    with pytest.raises(ValueError, match="one value per stage"):
        FGCNN(5, 4, 1, channels=(2, 3), kernel_heights=(3,))
    with pytest.raises(ValueError, match="kernel_heights"):
        FGCNN(5, 4, 1, channels=(2,), kernel_heights=0)
