"""The C kernel of 1.5-entmax against PyTorch's sort-based solution, alone and in ARM-Net.

Both paths run alternately in this one process (``tabnn.nn.entmax.fused`` switches between
them), float32 on the CPU:

* entmax alone: one forward and backward pass over the scores of a batch of ARM-Net's default
  size (batch x 4 heads x 32 neurons rows of F fields), median of the timed repeats, for a few
  field counts and score scales (small scales give dense supports, large ones sparse);
* ``ARMNetClassifier.fit`` with defaults for a fixed number of epochs on a real table
  (``heloc`` from ``$TABNN_DATA``, 23 fields), and on ``make_ctr`` data where that is absent.

Usage::

    TABNN_DATA=../shared/data python benchmarks/entmax.py            # 2 epochs, 2 alternations
    TABNN_DATA=../shared/data python benchmarks/entmax.py --full     # 5 epochs, 3 alternations
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from tabnn import ARMNetClassifier
from tabnn.datasets import load_dataset, make_ctr
from tabnn.nn import entmax as entmax_module


def entmax_ms(rows, n_fields, scale, repeats):
    """Median ms of one forward + backward pass of 1.5-entmax over [rows, n_fields]."""
    z = (torch.randn(rows, n_fields, generator=torch.Generator().manual_seed(0)) * scale)
    z.requires_grad_(True)
    grad = torch.randn(rows, n_fields)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        entmax_module.entmax(z, 1.5).backward(grad)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[1:])), float((entmax_module.entmax(z, 1.5) > 0).sum(-1)
                                                    .float().mean())


def table():
    try:
        data = load_dataset("heloc")
        return "heloc", data.data, data.target
    except (OSError, ValueError):
        X, y = make_ctr(n_samples=10_000, random_state=0)
        return "make_ctr", X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="5 epochs, 3 alternations")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs, epochs = (3, 5) if args.full else (2, 2)
    if entmax_module._KERNEL.library is None:
        raise SystemExit("the entmax kernel cannot be built here (no C compiler / OpenMP)")

    print(f"entmax alone: 1024 x 128 rows, {args.threads} threads, forward + backward")
    print("| fields | score scale | support | PyTorch ms | kernel ms | speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n_fields in (8, 23, 39):
        for scale in (0.3, 3.0):
            ms = {}
            for flag in (False, True) * runs:
                entmax_module.fused = flag
                ms.setdefault(flag, []).append(entmax_ms(1024 * 128, n_fields, scale, 3))
            best = {k: min(m for m, _ in v) for k, v in ms.items()}
            support = ms[True][0][1]
            print(f"| {n_fields} | {scale} | {support:.1f} | {best[False]:.1f} | "
                  f"{best[True]:.1f} | {best[False] / best[True]:.1f}x |")

    name, X, y = table()
    print(f"\nARMNetClassifier defaults, {epochs} epochs on {name} ({len(y)} rows), "
          f"{args.threads} threads")
    print("| path | fit s | rows/s |")
    print("| --- | --- | --- |")
    fit = {}
    for flag in (False, True) * runs:
        entmax_module.fused = flag
        model = ARMNetClassifier(max_epochs=epochs, n_iter_no_change=epochs, random_state=0)
        start = time.perf_counter()
        model.fit(X, y)
        fit.setdefault(flag, []).append(time.perf_counter() - start)
    entmax_module.fused = True
    n_rows = epochs * len(y) * 0.9  # the estimator's 10 % validation rows are not trained on
    for flag, label in ((False, "PyTorch"), (True, "kernel")):
        seconds = min(fit[flag])
        print(f"| {label} | {seconds:.1f} | {n_rows / seconds:,.0f} |")
    print(f"\nspeed-up of the fit: {min(fit[False]) / min(fit[True]):.2f}x")


if __name__ == "__main__":
    main()
