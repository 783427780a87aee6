"""Saving and loading fitted estimators without executing code on load.

:func:`save` writes one `safetensors <https://huggingface.co/docs/safetensors>`_ file: every
numeric array and network weight is a tensor, and a JSON description of the estimator (its
class, parameters and learned attributes, the tabnn / scikit-learn / torch versions) sits in
the file's metadata. :func:`load` rebuilds the estimator from that description alone: it only
creates classes registered in :mod:`tabnn.estimators._registry`, dataclasses defined in tabnn
and plain-data objects of tabnn's own classes (created without calling them; never a network
or anything callable), and rebuilds networks from the estimator's own parameters before
copying the weights in, so a file from an untrusted source cannot run code (unlike a pickle, which stays
supported for trusted files).

Weights are stored device-free: a model trained on a GPU loads and predicts on a CPU-only
machine.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import types
import warnings

import numpy as np
import pandas as pd

__all__ = ["FORMAT_VERSION", "VersionWarning", "load", "save"]

#: Version of the file layout; :func:`load` refuses files with a newer one.
FORMAT_VERSION = 1
_KEY = "tabnn"


class VersionWarning(UserWarning):
    """A saved model is loaded by another tabnn version than the one that saved it."""


def _tabnn_version():
    from . import __version__

    return __version__


def _registered_classes():
    from .estimators._registry import all_estimators

    return {f"{cls.__module__}:{cls.__qualname__}": cls for _, cls in all_estimators()}


class _Writer:
    """Turns an object tree into JSON-able values, collecting arrays as tensors."""

    def __init__(self):
        self.tensors = {}
        self.path = []

    def tensor(self, array):
        key = f"t{len(self.tensors)}"
        self.tensors[key] = np.ascontiguousarray(array)
        return key

    def encode(self, obj, where):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if np.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, np.generic):
            return {"scalar": obj.dtype.str if obj.dtype.kind != "U" else "U",
                    "value": self.encode(obj.item(), where)}
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            return {"dict": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                             for k, v in obj.items()]}
        if isinstance(obj, np.ndarray):
            return self.array(obj, where)
        if isinstance(obj, pd.Categorical):
            return {"categorical": self.array(np.asarray(obj.categories, dtype=object), where),
                    "codes": self.array(obj.codes, where), "ordered": bool(obj.ordered)}
        if isinstance(obj, pd.Series):
            return {"series": self.array(obj.to_numpy(), where),
                    "index": self.array(obj.index.to_numpy(), where),
                    "name": self.encode(obj.name, where)}
        if isinstance(obj, pd.DataFrame):
            return {"dataframe": [[self.encode(c, where), self.array(obj[c].to_numpy(), where)]
                                  for c in obj.columns],
                    "index": self.array(obj.index.to_numpy(), where)}
        torch = _torch_if_imported()
        if torch is not None and isinstance(obj, torch.Tensor):
            value = obj.detach().cpu()
            dtype = str(value.dtype).removeprefix("torch.")
            if value.dtype == torch.bfloat16:  # numpy has no bfloat16
                value = value.float()
            return {"tensor": self.tensor(value.numpy()), "dtype": dtype}
        if _is_torch_module(obj):
            state = obj.state_dict()
            return {"network": {k: self.tensor(v.detach().cpu().numpy())
                                for k, v in state.items()}}
        name = f"{type(obj).__module__}:{type(obj).__qualname__}"
        if dataclasses.is_dataclass(obj) and name.startswith("tabnn."):
            return {"dataclass": name,
                    "fields": {f.name: self.encode(getattr(obj, f.name), f"{where}.{f.name}")
                               for f in dataclasses.fields(obj)}}
        if name in _registered_classes():
            return {"estimator": name, "state": self.encode(_state(obj), where)}
        if name.startswith("tabnn.") and hasattr(obj, "__dict__") and not callable(obj):
            # a plain-data object of tabnn's own (e.g. an embedding specification)
            return {"object": name, "state": self.encode(dict(obj.__dict__), where)}
        raise TypeError(
            f"Cannot save {where}: a {type(obj).__module__}.{type(obj).__qualname__} is not "
            "one of the types tabnn.persistence stores (numbers, strings, arrays, frames, "
            "tabnn estimators and networks). Pickle the estimator instead (pickle.dump) if you "
            "trust everyone who will load the file."
        )

    def array(self, a, where):
        a = np.asarray(a)
        if a.dtype.kind in "biuf":
            return {"array": self.tensor(a)}
        if a.dtype.kind in "OUS":
            flat = [self.encode(v, f"{where}[*]") for v in a.ravel(order="C")]
            return {"objects": flat, "shape": list(a.shape), "dtype": a.dtype.str}
        raise TypeError(f"Cannot save {where}: arrays of dtype {a.dtype} are not supported.")


def _is_torch_module(obj):
    torch = _torch_if_imported()
    return torch is not None and isinstance(obj, torch.nn.Module)


def _torch_if_imported():
    import sys

    return sys.modules.get("torch")


def _state(est):
    state = est.__getstate__() if hasattr(est, "__getstate__") else dict(est.__dict__)
    state = dict(state)
    state.pop("_sklearn_version", None)
    return state


class _Reader:
    def __init__(self, tensors):
        self.tensors = tensors
        self.networks = []

    def decode(self, obj):
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self.decode(v) for v in obj]
        if "float" in obj:
            return float(obj["float"])
        if "scalar" in obj:
            value = self.decode(obj["value"])
            return np.str_(value) if obj["scalar"] == "U" else np.dtype(obj["scalar"]).type(value)
        if "tuple" in obj:
            return tuple(self.decode(v) for v in obj["tuple"])
        if "dict" in obj:
            return {self.decode(k): self.decode(v) for k, v in obj["dict"]}
        if "array" in obj:
            return self.tensors[obj["array"]].copy()
        if "objects" in obj:
            out = np.empty(len(obj["objects"]), dtype=object)
            out[:] = [self.decode(v) for v in obj["objects"]]
            dtype = np.dtype(obj["dtype"])
            return out.astype(dtype).reshape(obj["shape"])
        if "categorical" in obj:
            return pd.Categorical.from_codes(self.decode(obj["codes"]),
                                             self.decode(obj["categorical"]),
                                             ordered=obj["ordered"])
        if "series" in obj:
            return pd.Series(self.decode(obj["series"]), index=self.decode(obj["index"]),
                             name=self.decode(obj["name"]))
        if "dataframe" in obj:
            data = {self.decode(c): self.decode(v) for c, v in obj["dataframe"]}
            return pd.DataFrame(data, index=self.decode(obj["index"]))
        if "tensor" in obj:
            import torch

            value = torch.from_numpy(self.tensors[obj["tensor"]].copy())
            return value.to(getattr(torch, obj["dtype"]))
        if "network" in obj:
            return _PendingNetwork({k: self.tensors[v] for k, v in obj["network"].items()})
        if "dataclass" in obj:
            cls = _tabnn_class(obj["dataclass"], dataclass=True)
            return cls(**{k: self.decode(v) for k, v in obj["fields"].items()})
        if "object" in obj:  # created without running its __init__
            cls = _tabnn_class(obj["object"], dataclass=False)
            out = cls.__new__(cls)
            out.__dict__.update(self.decode(obj["state"]))
            return out
        if "estimator" in obj:
            cls = _registered_classes().get(obj["estimator"])
            if cls is None:
                raise ValueError(f"The file names an estimator tabnn does not register: "
                                 f"{obj['estimator']!r}.")
            est = cls.__new__(cls)
            est.__dict__.update(self.decode(obj["state"]))
            for key, value in list(est.__dict__.items()):
                if isinstance(value, _PendingNetwork):
                    est.__dict__[key] = _rebuild_network(est, value.state)
            return est
        raise ValueError(f"Unreadable entry in the model file: {sorted(obj)[:3]}")


@dataclasses.dataclass
class _PendingNetwork:
    state: dict


def _tabnn_class(name, dataclass):
    """The class ``module:qualname``, which must be defined in tabnn (a data class when
    ``dataclass``; never a torch module or a callable object)."""
    module, _, qualname = name.partition(":")
    if not (module == "tabnn" or module.startswith("tabnn.")):
        raise ValueError(f"The file names a class outside tabnn: {name!r}.")
    cls = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    ok = isinstance(cls, type) and cls.__module__ == module
    if ok and dataclass:
        ok = dataclasses.is_dataclass(cls)
    elif ok:
        torch = _torch_if_imported()
        ok = not any("__call__" in k.__dict__ for k in cls.__mro__[:-1]) and not (
            torch is not None and issubclass(cls, torch.nn.Module))
    if not ok:
        raise ValueError(f"The file names {name!r}, which is not a tabnn data class.")
    return cls


def _rebuild_network(est, state):
    """The estimator's network, built from its parameters and fitted encoder, with ``state``
    copied in (on the CPU whatever device it was trained on)."""
    import torch

    from .nn.network import TabularNetwork

    schema = est.encoder_.schema_
    encoded = types.SimpleNamespace(
        categorical_fields=[s for s in schema if s.role == "categorical"],
        numeric_fields=[s for s in schema if s.role == "numeric"],
    )
    with torch.random.fork_rng(devices=[]):
        embedding = est._build_embedding(encoded)
        model = est._build_model(embedding, est._n_outputs)
        bias = np.zeros(est._n_outputs) if "output_bias" in state else None
        network = TabularNetwork(embedding, model, bias)
    network = network.to(dtype=getattr(torch, est.dtype))
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    try:
        network.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The saved weights do not fit the {type(est).__name__} network this tabnn version "
            f"builds from the saved parameters: {exc}"
        ) from exc
    return network.eval()


def save(estimator, path):
    """Save a fitted tabnn estimator to ``path`` (a safetensors file).

    Parameters
    ----------
    estimator : estimator
        A registered tabnn estimator (fitted or not).
    path : str or path-like
        File to write (conventionally ending in ``.safetensors``).

    Raises
    ------
    TypeError
        When the estimator holds an object the format cannot store without code (for
        example user callbacks or a custom embedding object); pickle it instead.

    Examples
    --------
    >>> from tabnn import TabularEncoder
    >>> from tabnn.persistence import save, load
    >>> import pandas as pd, tempfile, os
    >>> enc = TabularEncoder().fit(pd.DataFrame({"city": ["a", "b", "a"]}))
    >>> path = os.path.join(tempfile.mkdtemp(), "enc.safetensors")
    >>> save(enc, path)
    >>> load(path).transform(pd.DataFrame({"city": ["b", "z"]})).ravel().tolist()
    [3.0, 1.0]
    """
    from safetensors.numpy import save_file

    name = f"{type(estimator).__module__}:{type(estimator).__qualname__}"
    if name not in _registered_classes():
        raise TypeError(f"save() stores registered tabnn estimators, not {type(estimator)}.")
    import sklearn

    writer = _Writer()
    body = writer.encode(estimator, type(estimator).__name__)
    versions = {"tabnn": _tabnn_version(), "scikit-learn": sklearn.__version__}
    torch = _torch_if_imported()
    if torch is not None:
        versions["torch"] = torch.__version__
    header = {"format": FORMAT_VERSION, "versions": versions, "estimator": body}
    save_file(writer.tensors, os.fspath(path), metadata={_KEY: json.dumps(header)})


def load(path, *, check_version=True):
    """Load an estimator written by :func:`save`, without executing code from the file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    check_version : bool, default=True
        Warn (:class:`VersionWarning`) when the file was written by another tabnn version:
        its predictions may differ. A file in a newer format than this version reads is
        refused in any case.

    Returns
    -------
    estimator : estimator
        The estimator, its networks on the CPU (moved to the GPU on the first prediction
        when it was trained there and one is available).

    Raises
    ------
    ValueError
        When the file is not a tabnn model file, is of a newer format, or names classes
        outside tabnn.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    path = os.fspath(path)
    try:
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
        tensors = load_file(path)
    except (SafetensorError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path!r} is not a model file written by tabnn.persistence.save: "
                         f"{exc}") from exc
    if _KEY not in metadata:
        raise ValueError(f"{path!r} is a safetensors file without a tabnn description; it "
                         "was not written by tabnn.persistence.save.")
    header = json.loads(metadata[_KEY])
    saved = header.get("versions", {}).get("tabnn", "unknown")
    if header.get("format", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by tabnn {saved} in file format {header['format']}; this "
            f"tabnn ({_tabnn_version()}) reads formats up to {FORMAT_VERSION}. Upgrade tabnn."
        )
    if check_version and saved != _tabnn_version():
        warnings.warn(
            f"{path!r} was saved by tabnn {saved} and is loaded by tabnn "
            f"{_tabnn_version()}: predictions may differ. Refit, or check them on data you "
            "know.",
            VersionWarning,
            stacklevel=2,
        )
    return _Reader(tensors).decode(header["estimator"])
