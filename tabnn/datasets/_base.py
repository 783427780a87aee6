"""Data home, checked downloads and Bunch building shared by all loaders.

Every real data file is described once, in :data:`tabnn.datasets._registry.REGISTRY`, by a
:class:`RemoteFile` (its path relative to the data home, the public address it originally came
from, and the SHA-256 of its content).  :func:`fetch_file` returns the local path of such a
file: it looks in the data home first, checks the checksum, and downloads + verifies + caches
the file when it is missing (unless ``download_if_missing=False``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = [
    "get_data_home",
    "RemoteFile",
    "DataNotFoundError",
    "ChecksumError",
    "DownloadError",
    "fetch_file",
    "file_sha256",
]

ENV_VAR = "TABNN_DATA"


def get_data_home(data_home=None):
    """Return the folder where tabnn keeps its real data sets.

    The folder is, in order of precedence: ``data_home`` when given, the ``TABNN_DATA``
    environment variable when set, else ``$XDG_CACHE_HOME/tabnn`` (``~/.cache/tabnn`` when
    ``XDG_CACHE_HOME`` is not set).  Files inside it follow the layout ``<home>/<dataset>/<file>``
    (e.g. ``<home>/adult/adult.csv``), so pointing ``TABNN_DATA`` at a shared data folder with
    that layout makes every loader use it directly.  The folder is not created here; it is
    created when a file is first downloaded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit data folder; ``~`` is expanded.

    Returns
    -------
    data_home : str
        The absolute path of the data folder.
    """
    if data_home is None:
        data_home = os.environ.get(ENV_VAR) or None
    if data_home is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        data_home = os.path.join(cache, "tabnn")
    return str(Path(os.path.expanduser(str(data_home))).resolve())


class DataNotFoundError(FileNotFoundError):
    """A data file is missing from the data home and downloading was not allowed."""


class ChecksumError(OSError):
    """A data file does not have the SHA-256 recorded in the registry."""


class DownloadError(OSError):
    """A data file could not be downloaded (no network, server error)."""


@dataclass(frozen=True)
class RemoteFile:
    """One data file: where it lives in the data home and where it comes from.

    Parameters
    ----------
    path : str
        Path relative to the data home, with ``/`` separators (``"adult/adult.csv"``).
    url : str
        The original public address of the file.
    sha256 : str
        SHA-256 of the file's content.  For ``.gz`` files it is the digest of the
        *decompressed* content (gzip headers carry timestamps and differ between compressors).
    convert : str or None
        How the downloaded bytes become the stored file: ``None`` (stored as is),
        ``"zip:<member>"`` (extract the member of a zip archive, then gzip it) or
        ``"libsvm_csv:<header>"`` (libsvm ``label idx:1 ...`` lines to a CSV with the given
        comma-separated header, then gzip it).
    """

    path: str
    url: str
    sha256: str
    convert: str | None = None


def _content_bytes(path):
    data = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ChecksumError(
                f"Data file {path} is a corrupted or truncated gzip file ({exc}); delete it "
                "to download it again."
            ) from exc
    return data


def file_sha256(path):
    """SHA-256 hex digest of a data file's content (decompressed for ``.gz`` files).

    Parameters
    ----------
    path : str or path-like
        File to hash.

    Returns
    -------
    digest : str
    """
    return hashlib.sha256(_content_bytes(path)).hexdigest()


# (resolved path, size, mtime_ns) of files already verified in this process.
_VERIFIED: set = set()


def _verify(path: Path, remote: RemoteFile):
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _VERIFIED:
        return
    try:
        actual = file_sha256(path)
    except ChecksumError as exc:
        raise ChecksumError(f"{exc} It comes from {remote.url}") from exc.__cause__
    if actual != remote.sha256:
        raise ChecksumError(
            f"Checksum mismatch for {path}: expected SHA-256 {remote.sha256}, got {actual}. "
            f"The file is corrupted or is not the published version; delete it to download it "
            f"again from {remote.url}"
        )
    _VERIFIED.add(key)


def _convert(raw: bytes, convert: str | None) -> bytes:
    """Turn downloaded bytes into the stored file's *content* (before gzip)."""
    if convert is None:
        return raw
    kind, _, arg = convert.partition(":")
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            return zf.read(arg)
    if kind == "libsvm_csv":
        lines = [arg]
        for line in raw.decode("ascii").splitlines():
            parts = line.split()
            if not parts:
                continue
            label = str(int(float(parts[0]) > 0))
            lines.append(",".join([label] + [p.split(":")[0] for p in parts[1:]]))
        return ("\n".join(lines) + "\n").encode("ascii")
    raise ValueError(f"unknown conversion {convert!r}")


def _download(remote: RemoteFile, dest: Path, timeout: float = 60.0):
    try:
        with urllib.request.urlopen(remote.url, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
        raise DownloadError(
            f"Could not download {remote.url}: {exc}. Check the network connection, or "
            f"download the file yourself and save it as {dest} (the data home is set by "
            f"data_home= or the {ENV_VAR} environment variable)."
        ) from exc
    content = _convert(raw, remote.convert)
    actual = hashlib.sha256(content).hexdigest()
    if actual != remote.sha256:
        raise ChecksumError(
            f"Checksum mismatch for the file downloaded from {remote.url}: expected SHA-256 "
            f"{remote.sha256}, got {actual}. Nothing was written to {dest}."
        )
    payload = gzip.compress(content, mtime=0) if dest.name.endswith(".gz") else content
    dest.parent.mkdir(parents=True, exist_ok=True)  # only once there is a file to write
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def fetch_file(remote: RemoteFile, data_home=None, download_if_missing=True, verify=True):
    """Local path of a registered data file, downloading and checking it when needed.

    Parameters
    ----------
    remote : RemoteFile
        The file's registry entry.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        When False, a missing file raises :class:`DataNotFoundError` (a
        :class:`FileNotFoundError`) naming the expected path and the source address.
    verify : bool, default=True
        Check the SHA-256 of a file found in the data home (once per process and file
        version; downloads are always checked).

    Returns
    -------
    path : pathlib.Path
    """
    home = Path(get_data_home(data_home))
    path = home.joinpath(*remote.path.split("/"))
    if not path.exists():
        if not download_if_missing:
            raise DataNotFoundError(
                f"Data file {path} not found and download_if_missing=False. It would be "
                f"downloaded from {remote.url} (set the {ENV_VAR} environment variable or "
                f"data_home= to a folder that already holds it)."
            )
        _download(remote, path)
        st = path.stat()
        _VERIFIED.add((str(path.resolve()), st.st_size, st.st_mtime_ns))
        return path
    if verify:
        _verify(path, remote)
    return path


# --------------------------------------------------------------------------------------------
# Bunch building


def to_polars(frame: pd.DataFrame):
    """Convert a pandas frame to polars, keeping categoricals as ``pl.Categorical``."""
    import polars as pl

    out = {}
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype) and not all(
            isinstance(c, str) for c in s.cat.categories
        ):
            s = s.cat.rename_categories([str(c) for c in s.cat.categories])
        out[col] = pl.from_pandas(s.rename(None)).alias(str(col))
    return pl.DataFrame(out)


def make_bunch(frame, feature_names, target_name, as_frame, return_X_y, descr, **extra):
    """Assemble the sklearn-style return value of a loader.

    ``as_frame`` is True (pandas), ``"pandas"``, ``"polars"`` or False (numpy arrays).
    """
    target_names = extra.pop("target_names", None)
    if as_frame in (True, "pandas"):
        data = frame[feature_names]
        target = frame[target_name] if target_name is not None else None
        out_frame = frame
    elif as_frame == "polars":
        out_frame = to_polars(frame)
        data = out_frame.select(feature_names)
        target = out_frame.get_column(target_name) if target_name is not None else None
    elif as_frame is False:
        out_frame = None
        data = frame[feature_names].to_numpy()
        target = frame[target_name].to_numpy() if target_name is not None else None
    else:
        raise ValueError(f"as_frame must be True, False, 'pandas' or 'polars'; got {as_frame!r}")
    if return_X_y:
        return data, target
    if target_names is None and target_name is not None:
        t = frame[target_name].dropna()
        target_names = [_plain(v) for v in np.sort(t.unique())]
    return Bunch(
        frame=out_frame,
        data=data,
        target=target,
        feature_names=list(feature_names),
        target_names=target_names,
        DESCR=descr,
        **extra,
    )


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v

