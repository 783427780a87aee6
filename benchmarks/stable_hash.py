"""Speed of :func:`tabnn.encoding.stable_hash` against the 0.1.0 implementation.

The 0.1.0 hash was a numpy FNV-1a loop over byte positions: its time was the number of
values times the length of the longest one. The current one is XXH3-64 (``xxhash``), linear
in the total text. Cases: 200,000 unique short ids alone, and with one 5,000-character value.

    OMP_NUM_THREADS=1 python benchmarks/stable_hash.py [--skip-old]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tabnn.encoding import stable_hash

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def fnv1a_numpy(values):
    """The tabnn 0.1.0 implementation (baseline only)."""
    text = np.asarray([str(v) for v in np.asarray(values, dtype=object).ravel()], dtype=str)
    if text.size == 0:
        return np.zeros(0, dtype=np.uint64)
    raw = np.char.encode(text, "utf-8")
    width = max(raw.dtype.itemsize, 1)
    byte_matrix = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(len(raw), width)
    lengths = np.char.str_len(raw)
    h = np.full(len(raw), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(width):
            active = lengths > j
            hj = (h ^ byte_matrix[:, j].astype(np.uint64)) * _FNV_PRIME
            h = np.where(active, hj, h)
    return h


def _time(fn, values):
    start = time.perf_counter()
    fn(values)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-old", action="store_true", help="do not time the 0.1.0 hash")
    args = parser.parse_args()
    ids = np.array([f"user_{i}" for i in range(200_000)], dtype=object)
    long = np.append(ids, "x" * 5_000)
    print("case                                     xxh3 (s)   0.1.0 FNV-1a (s)")
    for name, values in [("200k unique ids", ids), ("200k unique ids + one 5,000-char", long)]:
        new = _time(stable_hash, values)
        old = "-" if args.skip_old else f"{_time(fnv1a_numpy, values):.2f}"
        print(f"{name:40s} {new:8.3f}   {old}")


if __name__ == "__main__":
    main()
