"""The fused CPU attention kernel against the same attention in PyTorch operations.

Two tables, both paths run alternately in this one process (``tabnn.nn.fused_attention.enabled``
switches between them; 2 torch threads, bfloat16 autocast as tabnn's CPU training uses it):

* interacting layers alone: 3 layers of AutoInt over F fields with H heads of size D, one
  forward and backward pass of a batch of random field embeddings (median of the timed
  repeats), for a grid of sizes. The kernel is forced on for every size here; the last column
  is the choice ``pays_off`` makes in training;
* ``AutoIntClassifier.fit`` / ``predict_proba``: deepctr-torch's sizes over the 26 categorical
  fields of the CTR benchmark table (``tabnn.comparison.ctr_benchmark_data``), one epoch.

Usage::

    python benchmarks/fused_attention.py          # batch 2048, 50k rows, 2 alternations
    python benchmarks/fused_attention.py --full   # batch 4096, 150k rows, 3 alternations
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tabnn import AutoIntClassifier
from tabnn._heap import heap_reuse
from tabnn.comparison import ctr_benchmark_data
from tabnn.nn import AutoInt, fused_attention

SIZES = [  # (fields, heads, head size)
    (26, 2, 8), (39, 2, 8), (60, 2, 8), (26, 4, 4), (26, 1, 16), (26, 2, 16), (39, 2, 16),
    (10, 2, 32), (26, 2, 32), (39, 2, 32),
]


def layer_ms(n_fields, n_heads, head_dim, batch, repeats):
    """Median ms of one forward + backward pass through 3 interacting layers."""
    torch.manual_seed(0)
    model = AutoInt(n_fields, 16, 1, attention_heads=n_heads, attention_head_dim=head_dim)
    emb = torch.randn(batch, n_fields, 16, requires_grad=True)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(emb)
        out.float().sum().backward()

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="batch 4096, 150k rows, 3 runs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not fused_attention.available():
        raise SystemExit("the fused attention kernel cannot be built here (no C compiler, or "
                         "PyTorch without OpenMP): nothing to compare")
    batch, rows, runs = (4096, 150_000, 3) if args.full else (2048, 50_000, 2)

    print(f"Interacting layers (3 x heads x size over F fields), forward + backward of {batch} "
          f"rows, {args.threads} threads, bf16 autocast: median ms")
    print(f"{'F':>4s} {'H':>3s} {'D':>4s} {'PyTorch':>9s} {'kernel':>8s} {'speed-up':>9s} "
          f"{'pays_off':>9s}")
    pays_off = fused_attention.pays_off
    fused_attention.pays_off = lambda *sizes: True  # measure the kernel at every size
    with heap_reuse("cpu"):
        for n_fields, n_heads, head_dim in SIZES:
            ms = {}
            for flag in (False, True, False, True):  # alternated: this VM drifts
                fused_attention.enabled = flag
                ms.setdefault(flag, []).append(layer_ms(n_fields, n_heads, head_dim, batch, 5))
            plain, fused = min(ms[False]), min(ms[True])
            decision = pays_off(n_fields, n_heads, head_dim)
            print(f"{n_fields:4d} {n_heads:3d} {head_dim:4d} {plain:9.1f} {fused:8.1f} "
                  f"{plain / fused:8.2f}x {str(decision):>9s}")

    fused_attention.pays_off = pays_off
    data = ctr_benchmark_data(rows)
    X, y = data.data, data.target
    print(f"\nAutoIntClassifier (2 heads x 8 + DNN 256-128, 26 attended fields), one epoch of "
          f"{rows:,} rows, batch 4096")
    print(f"{'run':>4s} {'path':8s} {'train rows/s':>13s} {'predict rows/s':>15s} "
          f"{'train loss':>11s}")
    for run in range(1, runs + 1):
        for flag in (False, True):
            fused_attention.enabled = flag
            clf = AutoIntClassifier(embedding_dim=16, batch_size=4096, max_epochs=1,
                                    early_stopping=False, attention_head_dim=8,
                                    attend_numeric=False, random_state=0)
            clf.fit(X, y)
            start = time.perf_counter()
            clf.predict_proba(X)
            predict_s = time.perf_counter() - start
            name = "kernel" if flag else "PyTorch"
            print(f"{run:4d} {name:8s} {rows / clf.history_[0]['seconds']:13,.0f} "
                  f"{rows / predict_s:15,.0f} {clf.history_[0]['train_loss']:11.5f}")
    fused_attention.enabled = True


if __name__ == "__main__":
    main()
