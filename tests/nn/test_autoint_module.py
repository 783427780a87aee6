import pytest
import torch

from tabnn.nn import AutoInt, FieldEmbedding, InteractingLayer, TabularNetwork


def test_interacting_layer_is_permutation_equivariant():
    torch.manual_seed(0)
    layer = InteractingLayer(in_dim=6, head_dim=4, n_heads=2)
    x = torch.randn(5, 7, 6)
    perm = torch.randperm(7)
    torch.testing.assert_close(layer(x)[:, perm], layer(x[:, perm]))


@pytest.mark.parametrize("n_fields", [1, 200])
def test_shapes_and_attention_normalised(n_fields):
    model = AutoInt(n_fields, 8, n_outputs=3, attention_layers=2, attention_heads=2,
                    attention_head_dim=4, dnn_hidden=(16,))
    logits, maps = model(torch.randn(4, n_fields, 8), return_attention=True)
    assert logits.shape == (4, 3)
    assert maps[1].shape == (4, 2, n_fields, n_fields)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(4, 2, n_fields))


def test_no_attention_layers_is_linear_in_the_embeddings():
    model = AutoInt(3, 4, n_outputs=1, attention_layers=0)
    a, b = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    bias = model(torch.zeros(1, 3, 4))
    torch.testing.assert_close(model(a + b) - bias, (model(a) - bias) + (model(b) - bias))


def test_field_embedding_offsets_and_missing_vector():
    emb = FieldEmbedding([3, 5], n_numeric=1, dim=2)
    codes = torch.tensor([[0, 4], [2, 0]])
    numeric = torch.tensor([[0.0], [1.5]])
    missing = torch.tensor([[1.0], [0.0]])
    out = emb(codes, numeric, missing)
    assert out.shape == (2, 3, 2)
    torch.testing.assert_close(out[0, 1], emb.table.weight[3 + 4])
    torch.testing.assert_close(out[0, 2], emb.numeric.missing[0])
    torch.testing.assert_close(out[1, 2], 1.5 * emb.numeric.weight[0] + emb.numeric.bias[0])
    net = TabularNetwork(emb, AutoInt(3, 2, 1, attention_layers=1, attention_head_dim=2))
    assert net(codes, numeric, missing).shape == (2, 1)


def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="head_dim=0"):
        InteractingLayer(4, 0, 1)
    with pytest.raises(ValueError, match="cardinalities"):
        FieldEmbedding([0], 0, 4)


def test_row_chunks_on_cpu_give_the_whole_batch_result():
    torch.manual_seed(0)
    model = AutoInt(6, 8, n_outputs=1, attention_layers=2, attention_heads=2,
                    attention_head_dim=4, dnn_hidden=(8,)).double()
    x = torch.randn(300, 6, 8, dtype=torch.float64)
    whole = model(x)
    model.chunk_size_per_thread = 8  # 64-row chunks (the floor): 5 chunks
    assert model._row_chunk() == 64
    torch.testing.assert_close(model(x), whole)


def test_fields_past_n_attended_skip_attention_and_enter_linearly():
    torch.manual_seed(0)
    model = AutoInt(5, 4, n_outputs=1, attention_layers=2, attention_heads=2,
                    attention_head_dim=3, n_attended=3).double()
    head = torch.randn(6, 3, 4, dtype=torch.float64)
    tail_a, tail_b = torch.randn(2, 6, 2, 4, dtype=torch.float64)

    def out(tail):
        return model(torch.cat([head, tail], dim=1))

    zero = out(torch.zeros_like(tail_a))
    torch.testing.assert_close(out(tail_a + tail_b) - zero,
                               (out(tail_a) - zero) + (out(tail_b) - zero))
    _, maps = model(torch.cat([head, tail_a], dim=1), return_attention=True)
    assert maps[0].shape == (6, 2, 3, 3)
    # nothing attended: a linear model on the flat embeddings, no interacting layers
    assert len(AutoInt(5, 4, 1, n_attended=0).layers) == 0
    with pytest.raises(ValueError, match="n_attended"):
        AutoInt(5, 4, 1, n_attended=6)
