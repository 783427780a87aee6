"""The training engine's CPU data parallelism: batches split by rows over worker threads."""

import threading
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from tabnn import AutoIntClassifier
from tabnn.datasets import make_ctr
from tabnn.nn import AutoInt
from tabnn.training import MIN_SHARD_ROWS, cpu_workers


@contextmanager
def torch_threads(n):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ctr():
    data = make_ctr(n_samples=3000, n_categorical=5, n_numeric=3, cardinality=20,
                    interactions=[("C1", "C2")], random_state=0)
    return data.data, data.target


def _fit(X, y, **params):
    base = dict(embedding_dim=8, attention_layers=2, attention_head_dim=8, dnn_hidden=(16,),
                batch_size=1024, max_epochs=2, early_stopping=False, random_state=0)
    return AutoIntClassifier(**{**base, **params}).fit(X, y)


def test_cpu_workers_policy():
    cpu = torch.device("cpu")
    with torch_threads(2):
        assert cpu_workers(cpu, 4096) == 2
        assert cpu_workers(cpu, 2 * MIN_SHARD_ROWS - 1) == 1
        assert cpu_workers(cpu, 4096, AutoInt(4, 8, 1, dropout=0.1).train()) == 1
        assert cpu_workers(cpu, 4096, AutoInt(4, 8, 1)) == 2
    with torch_threads(1):
        assert cpu_workers(cpu, 4096) == 1


def test_sharded_training_matches_single_thread_and_is_deterministic(ctr):
    X, y = ctr
    exact = dict(dtype="float64", mixed_precision=False)
    with torch_threads(2):
        a = _fit(X, y, **exact)
        b = _fit(X, y, **exact)
        assert torch.get_num_threads() == 2
        seen = []
        thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert seen == [2], "worker threads must not change the thread count of new threads"
        pa = a.predict_proba(X)
    with torch_threads(1):
        c = _fit(X, y, **exact)
        pc = c.predict_proba(X)
    # the same seed gives bit-identical models whatever the thread timing
    np.testing.assert_array_equal(pa, b.predict_proba(X))
    # shards sum to the whole-batch gradient: the same model up to float64 rounding
    np.testing.assert_allclose(pa, pc, rtol=0, atol=1e-9)
    assert a.history_[0]["train_loss"] == pytest.approx(c.history_[0]["train_loss"], rel=1e-12)


def test_sharded_prediction_matches_single_thread(ctr):
    X, y = ctr
    clf = _fit(X, y, max_epochs=1)
    big = X.sample(9000, replace=True, random_state=0)  # three 4096-row batches
    with torch_threads(1):
        single = clf.predict_proba(big)
    with torch_threads(2):
        parallel = clf.predict_proba(big)
    np.testing.assert_allclose(parallel, single, rtol=0, atol=1e-6)
