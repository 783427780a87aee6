import pytest
import torch
from torch import nn

from tabnn.nn import AutoInt, FieldEmbedding, TabularNetwork
from tabnn.training import (
    SingleDevice,
    TrainingConfig,
    _add_embedding_l2_gradient,
    _scale_learning_rate,
    train_network,
)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


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


def test_learning_rate_decay_works_in_place_on_a_tensor_rate():
    # a replayed CUDA graph reads the learning rate from its tensor: decay must not rebind it
    p, q = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    lr = torch.tensor(0.5)
    opt = torch.optim.AdamW([{"params": [p]}, {"params": [q]}], lr=lr)  # one shared tensor
    _scale_learning_rate(opt, 0.1)
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.05)
    opt = torch.optim.AdamW([{"params": [p], "lr": torch.tensor(0.5)},
                             {"params": [q], "lr": torch.tensor(0.5)}])
    _scale_learning_rate(opt, 0.1)
    assert [float(g["lr"]) for g in opt.param_groups] == pytest.approx([0.05, 0.05])
    opt = torch.optim.AdamW([p], lr=0.5)
    _scale_learning_rate(opt, 0.1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def _cuda_run(network, cuda_graphs, n=16 * 9 + 5, epochs=4, valid=False, tol=1e-4):
    inputs, y, w = (tuple(t.cuda() for t in part) if isinstance(part, tuple) else part.cuda()
                    for part in _data(n))
    config = TrainingConfig(task="binary", max_epochs=epochs, batch_size=16,
                            learning_rate=1e-2, weight_decay=1e-4, embedding_l2=1e-3,
                            mixed_precision=False, n_iter_no_change=10, tol=tol)
    network = network.cuda()
    history, _ = train_network(network, inputs, y, w, config, seed=5,
                               valid=(inputs, y, w) if valid else None,
                               strategy=SingleDevice("cuda", cuda_graphs=cuda_graphs))
    return history, network


@cuda
def test_cuda_graph_training_matches_eager_training():
    # 9 full batches (3 warm-up, 1 capture, replays) and a partial one per epoch
    # tol=10: no epoch counts as an improvement, so the learning rate decays after each one
    h_graph, net_graph = _cuda_run(_network(), cuda_graphs=True, valid=True, tol=10.0)
    h_eager, net_eager = _cuda_run(_network(), cuda_graphs=False, valid=True, tol=10.0)
    assert [r["learning_rate"] for r in h_eager] == pytest.approx([1e-2, 1e-2, 1e-3, 1e-4])
    for a, b in zip(h_graph, h_eager):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["valid_loss"] == pytest.approx(b["valid_loss"], rel=1e-4)
        assert a["learning_rate"] == pytest.approx(b["learning_rate"])
    for pa, pb in zip(net_graph.parameters(), net_eager.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-4, atol=1e-5)


class _HostSync(nn.Module):
    """A network whose forward reads a value back to the host: it cannot be captured."""

    def __init__(self):
        super().__init__()
        self.inner = _network()

    def embedding_tables(self):
        return self.inner.embedding_tables()

    def forward(self, *inputs):
        out = self.inner(*inputs)
        return out * 1.0 if float(out.detach().abs().max()) >= 0 else out


@cuda
def test_cuda_graph_capture_failure_falls_back_to_eager_training():
    with pytest.warns(RuntimeWarning, match="CUDA graph capture"):
        h_graph, net_graph = _cuda_run(_HostSync(), cuda_graphs=True)
    h_eager, _ = _cuda_run(_HostSync(), cuda_graphs=False)
    assert [r["train_loss"] for r in h_graph] == pytest.approx(
        [r["train_loss"] for r in h_eager], rel=1e-4)


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, option, value):
        self.calls.append(("mallopt", option, value))

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))


def test_heap_reuse_tunes_glibc_once_for_nested_blocks_and_trims_on_exit(monkeypatch):
    from tabnn import _heap

    fake = _FakeLibc()
    monkeypatch.setattr(_heap, "_glibc", lambda: fake)
    with _heap.heap_reuse("cpu"):
        assert [c[1] for c in fake.calls] == [_heap._M_MMAP_THRESHOLD, _heap._M_TRIM_THRESHOLD]
        with _heap.heap_reuse("cpu"):  # another fit, in another thread
            pass
        assert len(fake.calls) == 2  # the inner block neither re-tunes nor trims
    assert fake.calls[2:] == [("mallopt", _heap._M_TRIM_THRESHOLD,
                               2 * _heap._MMAP_THRESHOLD_MAX), ("malloc_trim", 0)]
    fake.calls.clear()
    with _heap.heap_reuse("cuda"):  # GPU memory is not malloc's
        pass
    assert fake.calls == []


def test_training_leaves_the_heap_settings_once_done(monkeypatch):
    from tabnn import _heap

    fake = _FakeLibc()
    monkeypatch.setattr(_heap, "_glibc", lambda: fake)
    inputs, y, w = _data()
    config = TrainingConfig(task="binary", max_epochs=2, batch_size=16, learning_rate=1e-2,
                            weight_decay=0.0)
    train_network(_network(), inputs, y, w, config, seed=0, valid=(inputs, y, w))
    assert fake.calls[-1] == ("malloc_trim", 0)
    assert sum(c[0] == "malloc_trim" for c in fake.calls) == 1
    assert _heap._heap_reuse_depth == 0
