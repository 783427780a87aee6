"""Small C kernels for the CPU, compiled with the system's compiler on first use and cached.

A kernel is one C source next to this file. It is compiled with ``$CC`` (else ``cc`` or
``gcc``) the first time it is needed and cached in ``$TABNN_CACHE_DIR`` (default
``~/.cache/tabnn``), one build per source, compiler and CPU; a failed build is remembered there
too (an empty ``.failed`` file: delete it, or the cache, to retry after installing a compiler).
Its threads are OpenMP threads, the pool PyTorch itself runs on, so kernels are used only where
PyTorch was built with OpenMP (Linux). Every build is checked against PyTorch on a small case
before it is trusted; where none can be had, the callers compute the same with PyTorch
operations.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

__all__ = ["CpuKernel", "FLAG_SETS", "switched_on"]

#: tried in order: tuned for this CPU, then portable
FLAG_SETS = (
    ["-march=native", "-mprefer-vector-width=512"],
    ["-march=native"],
    [],
)

logger = logging.getLogger("tabnn")


def switched_on(variable):
    """False where the environment variable ``variable`` says 0, false or no (default on)."""
    return os.environ.get(variable, "1").strip().lower() not in {"0", "false", "no"}


def _cache_dir():
    root = os.environ.get("TABNN_CACHE_DIR")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tabnn"


def _cpu_identity():
    # -march=native builds only run on the CPU they were built on: the cache key names it
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags"))][:2]
    except OSError:
        lines = []
    return platform.machine() + "".join(lines)


class CpuKernel:
    """One C source compiled into a shared library on first use.

    Parameters
    ----------
    source : str
        File name of the C source, next to this module.
    bind : callable
        ``bind(ctypes.CDLL) -> CDLL``: declares the argument and return types.
    check : callable
        ``check(lib) -> bool``: whether a build computes what PyTorch does.
    """

    def __init__(self, source, bind, check):
        self.source = Path(__file__).with_name(source)
        self.bind, self.check = bind, check

    def compile(self, compiler, flags, target):
        """Build the library at ``target``; False (and a log line) where the compiler fails."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        cmd = [compiler, "-O3", "-fopenmp", "-fPIC", "-shared", *flags, str(self.source),
               "-o", tmp, "-lm"]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=300)
            if done.returncode != 0:
                logger.info("%s: %s failed, PyTorch is used: %s", self.source.name,
                            " ".join(cmd), done.stderr.decode(errors="replace")[-500:])
                return False
            os.replace(tmp, target)  # atomic: concurrent processes may build at once
            return True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def load(self, path):
        """The library at ``path`` with its functions' types declared."""
        return self.bind(ctypes.CDLL(str(path)))

    @functools.cached_property
    def library(self):
        """The compiled and checked library, or None where it cannot be had here."""
        name = self.source.name
        if not sys.platform.startswith("linux") or not torch.backends.openmp.is_available():
            logger.info("%s: needs Linux and OpenMP; PyTorch is used", name)
            return None
        compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if not compiler:
            logger.info("%s: no C compiler (set CC); PyTorch is used", name)
            return None
        source = self.source.read_bytes()
        for flags in FLAG_SETS:
            key = hashlib.sha256(
                b"\0".join([source, compiler.encode(), " ".join(flags).encode(),
                            _cpu_identity().encode()])
            ).hexdigest()[:20]
            path = _cache_dir() / f"{self.source.stem}-{key}.so"
            # a build that failed once fails again: remembered, so that a process without a
            # working toolchain pays the failed compiler runs only once per machine
            failed = path.with_suffix(".failed")
            if failed.exists():
                logger.info("%s: the build with %s failed before (%s)", name, flags, failed)
                continue
            try:
                if not path.exists() and not self.compile(compiler, flags, path):
                    failed.touch()
                    continue
                lib = self.load(path)
            except (OSError, subprocess.SubprocessError) as exc:
                logger.info("%s: %s with %s: %s", name, path, flags, exc)
                continue
            # the check runs autograd; the first use may come under no_grad or inference mode
            with torch.inference_mode(False), torch.enable_grad():
                agrees = self.check(lib)
            if agrees:
                logger.debug("%s: %s", name, path)
                return lib
            warnings.warn(f"tabnn's CPU kernel {name} built with {flags} gave wrong results "
                          "and is not used", RuntimeWarning, stacklevel=2)
        return None
