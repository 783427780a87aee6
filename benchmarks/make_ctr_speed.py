"""Time tabnn.datasets.make_ctr on one core (default: 5,000,000 rows x 39 columns).

Usage: OMP_NUM_THREADS=1 python benchmarks/make_ctr_speed.py [n_samples] [repeats]
"""

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from tabnn.datasets import make_ctr  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        b = make_ctr(n_samples=n, random_state=r)
        times.append(time.perf_counter() - t0)
        del b
    print(f"make_ctr(n_samples={n:,}) 26 categorical + 13 numeric, as pandas: "
          f"best {min(times):.2f} s, mean {sum(times) / len(times):.2f} s over {repeats} runs")


if __name__ == "__main__":
    main()
