"""AutoInt training throughput on a GPU: tabnn's engine against a bare loop and deepctr-torch.

The bar for the training engine on CUDA is a bare training loop over the same network and
the same GPU-resident tensors (random permutation, gather, bf16 autocast forward, loss,
backward, fused AdamW step, nothing else): the engine adds early-stopping bookkeeping, the
embedding L2 gradient, gradient clipping and the running loss, and should stay within 20% of
it. The engine replays its step from a CUDA graph; it is also timed with graphs off. Each configuration runs a warm-up epoch first; rows/s is the median over the timed
epochs. The estimator's whole ``fit`` (encoding on the CPU, transfer, warm-up epoch, timed
epochs) and ``predict_proba`` are timed too, and, when installed, deepctr-torch's AutoInt with
the same sizes on the same GPU (its own DataLoader-based loop).

Data: ``tabnn.comparison.ctr_benchmark_data`` (26 Zipf categorical fields up to 100k values, 13
numeric), as in ``train_speed.py``.

Usage::

    python benchmarks/gpu_speed.py                  # 1M training rows, batch 4096 and 65536
    python benchmarks/gpu_speed.py --quick          # 200k rows
    python benchmarks/gpu_speed.py --save-model m.pkl   # also pickle a CUDA-fitted model
"""

from __future__ import annotations

import argparse
import copy
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tabnn import AutoIntClassifier
from tabnn.comparison import ctr_benchmark_data
from tabnn.training import SingleDevice


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_loop(network, inputs, y, batch_size, epochs, device):
    """Seconds per epoch of the plainest loop over GPU-resident tensors (first is warm-up)."""
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-3, fused=device.type == "cuda")
    n, times = y.shape[0], []
    network.train()
    for _ in range(epochs):
        _sync(device)
        start = time.perf_counter()
        order = torch.randperm(n, device=device)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = network(*(t[idx] for t in inputs))
            loss = F.binary_cross_entropy_with_logits(logits.squeeze(-1).float(), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def deepctr_rows_per_s(X_train, y_train, X_test, batch_size, device):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_speed import deepctr_autoint

    fit_s, pred_s, _ = deepctr_autoint(X_train, X_test, y_train, batch_size, 16,
                                       device=str(device))
    return len(X_train) / fit_s, len(X_test) / pred_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows")
    parser.add_argument("--quick", action="store_true", help="200k training rows")
    parser.add_argument("--batch-sizes", default="4096,65536")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (after a warm-up)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--deepctr-rows", type=int, default=300_000,
                        help="training rows for deepctr-torch (its loop is much slower)")
    parser.add_argument("--save-model", default=None,
                        help="pickle a fitted model and its test probabilities to this path")
    args = parser.parse_args()
    device = torch.device(args.device)
    n_train = 200_000 if args.quick else args.rows
    n_test = 100_000
    data = ctr_benchmark_data(n_train + n_test, random_state=0)
    X, y = data.data, np.asarray(data.target)
    X_train, X_test, y_train = X.iloc[:n_train], X.iloc[n_train:], y[:n_train]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}, torch {torch.__version__}, {n_train:,} train rows, {X.shape[1]} fields")

    models = {"defaults (3x2x32 + DNN)": {}, "deepctr sizes (3x2x8 + DNN)": {"attention_head_dim": 8}}
    rows = []
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        for label, extra in models.items():
            def estimator(cuda_graphs=True):
                return AutoIntClassifier(embedding_dim=16, batch_size=bs,
                                         max_epochs=1 + args.epochs, early_stopping=False,
                                         random_state=0, **extra,
                                         device=SingleDevice(device, cuda_graphs=cuda_graphs))

            eager = estimator(cuda_graphs=False).fit(X_train, y_train)
            eager_s = float(np.median([h["seconds"] for h in eager.history_[1:]]))
            del eager
            clf = estimator()
            _sync(device)
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            _sync(device)
            fit_s = time.perf_counter() - start
            engine_s = float(np.median([h["seconds"] for h in clf.history_[1:]]))
            start = time.perf_counter()
            proba = clf.predict_proba(X_test)[:, 1]
            pred_s = time.perf_counter() - start
            if args.save_model and bs == 4096 and not extra:
                with open(args.save_model, "wb") as f:
                    pickle.dump({"model": clf, "X_test": X_test.iloc[:1000],
                                 "proba": proba[:1000]}, f)
            # a copy of the same network, over the same tensors, through the bare loop
            encoded = clf.encoder_.encode(X_train)
            inputs = clf._to_tensors(encoded, device)
            y_t = torch.tensor(y_train, device=device, dtype=torch.float32)
            bare_s = float(np.median(bare_loop(copy.deepcopy(clf.module_), inputs, y_t, bs,
                                               1 + args.epochs, device)[1:]))
            rows.append((f"{label}, batch {bs}", n_train / bare_s, n_train / eager_s,
                         n_train / engine_s, n_train * (1 + args.epochs) / fit_s,
                         n_test / pred_s))
            del clf, inputs
            if device.type == "cuda":
                torch.cuda.empty_cache()

    deepctr = {}
    try:
        m = min(args.deepctr_rows, n_train)
        for bs in [4096]:
            deepctr[bs] = deepctr_rows_per_s(X_train.iloc[:m], y_train[:m], X_test, bs, device)
    except ImportError:
        print("deepctr-torch not installed: its row is skipped")

    print(f"\n{'model':40s} {'bare loop':>10s} {'no graph':>10s} {'engine':>10s} "
          f"{'engine/bare':>11s} {'fit rows/s':>11s} {'predict rows/s':>15s}")
    for label, bare, eager, engine, fit, pred in rows:
        print(f"{label:40s} {bare:>10,.0f} {eager:>10,.0f} {engine:>10,.0f} "
              f"{engine / bare:>11.2f} {fit:>11,.0f} {pred:>15,.0f}")
    for bs, (train, pred) in deepctr.items():
        print(f"{'deepctr-torch AutoInt, batch ' + str(bs):40s} {'-':>10s} {'-':>10s} "
              f"{train:>10,.0f} {'-':>11s} {train:>11,.0f} {pred:>15,.0f}")
    print("(bare loop, no graph (the engine with CUDA graphs off), engine: training rows/s, "
          "median of the timed epochs; fit rows/s: all epochs incl. encoding and the warm-up "
          "epoch; predict: predict_proba incl. encoding)")


if __name__ == "__main__":
    main()
