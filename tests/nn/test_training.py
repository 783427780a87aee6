import torch

from tabnn.nn import AutoInt, FieldEmbedding, TabularNetwork
from tabnn.training import TrainingConfig, _add_embedding_l2_gradient, train_network


def _network(seed=0):
    torch.manual_seed(seed)
    emb = FieldEmbedding([5, 7], n_numeric=1, dim=4)
    return TabularNetwork(emb, AutoInt(3, 4, 1, attention_layers=1, attention_head_dim=2))


def _data(n=64):
    g = torch.Generator().manual_seed(1)
    codes = torch.stack([torch.randint(0, 5, (n,), generator=g),
                         torch.randint(0, 7, (n,), generator=g)], dim=1)
    numeric = torch.randn(n, 1, generator=g)
    return (codes, numeric, torch.zeros(n, 1)), (codes[:, 0] > 2).float(), torch.ones(n)


def test_in_place_l2_gradient_equals_the_penalty_in_the_loss():
    inputs, y, w = _data()
    l2 = 0.3
    a, b = _network(), _network()
    loss_a = torch.nn.functional.binary_cross_entropy_with_logits(a(*inputs).squeeze(-1), y)
    penalty = sum((t ** 2).sum() for t in a.embedding_tables()) * 0.5
    (loss_a + l2 * penalty).backward()
    loss_b = torch.nn.functional.binary_cross_entropy_with_logits(b(*inputs).squeeze(-1), y)
    loss_b.backward()
    _add_embedding_l2_gradient(b.embedding_tables(), l2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad)


def test_embedding_l2_shrinks_the_table_and_training_is_reproducible():
    inputs, y, w = _data()
    norms, states = [], []
    for l2 in (0.0, 1.0, 1.0):
        net = _network()
        config = TrainingConfig(task="binary", max_epochs=20, batch_size=16,
                                learning_rate=1e-2, weight_decay=0.0, embedding_l2=l2)
        train_network(net, inputs, y, w, config, seed=3)
        norms.append(float(net.embedding.table.weight.norm()))
        states.append(net.state_dict())
    assert norms[1] < 0.5 * norms[0]
    for key in states[1]:
        torch.testing.assert_close(states[1][key], states[2][key], rtol=0, atol=0)


def test_auto_batch_size_gives_at_least_64_steps_and_a_larger_cap_on_gpus():
    from tabnn.estimators._base import _auto_batch_size

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert _auto_batch_size(100, cpu) == 64
    assert _auto_batch_size(69_000, cpu) == 1024
    assert _auto_batch_size(69_000, gpu) == 1024
    assert _auto_batch_size(300_000, cpu) == 4096 and _auto_batch_size(300_000, gpu) == 4096
    assert _auto_batch_size(2_000_000, cpu) == 4096
    assert _auto_batch_size(2_000_000, gpu) == 16384
    for n in (4_096, 50_000, 1_000_000, 5_000_000):
        assert n // _auto_batch_size(n, gpu) >= 64
