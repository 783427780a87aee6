"""glibc heap settings for CPU training: :func:`heap_reuse`."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import sys
import threading

import torch

__all__ = ["heap_reuse"]


@functools.lru_cache(maxsize=1)
def _glibc():
    """The C library when it is glibc (for ``mallopt``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 -- raises AttributeError on other C libraries
        return libc
    except (OSError, AttributeError):
        return None


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's upper limit on 64-bit systems
_heap_reuse_depth = 0
_heap_reuse_lock = threading.Lock()


@contextlib.contextmanager
def heap_reuse(device):
    """Keep freed memory in the heap while a CPU network trains.

    A CPU step allocates tens of MiB of temporaries and frees them. glibc serves blocks above
    its mmap threshold with fresh ``mmap`` calls and trims freed memory at the top of the heap, so
    every step paid page faults on them. Inside this block, blocks up to 32 MiB come from the
    heap and freed memory stays there, and steps no longer fault on their temporaries
    (measured effect: ``docs/benchmarks.md``). On exit the heap is trimmed (once per fit: prediction
    does not use this, so that many small predict calls do not each walk the heap), and the
    thresholds are left where glibc's own adaptive rule takes them at most (32 MiB, trim at
    64 MiB). Blocks (threads) may nest; the outermost one restores. Nothing happens on GPUs or
    outside glibc.
    """
    global _heap_reuse_depth
    libc = _glibc() if torch.device(device).type == "cpu" else None
    if libc is None:
        yield
        return
    with _heap_reuse_lock:
        if _heap_reuse_depth == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, 2**30)
        _heap_reuse_depth += 1
    try:
        yield
    finally:
        with _heap_reuse_lock:
            _heap_reuse_depth -= 1
            if _heap_reuse_depth == 0:  # the outermost block (fits in several threads)
                libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)
                libc.malloc_trim(0)
