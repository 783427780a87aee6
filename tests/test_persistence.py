"""Saving and loading: golden files of every registered estimator, save/load round trips,
versions, files that must not load, and a model trained on a GPU predicting on a CPU."""

import json
import os
import pickle
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.numpy import save_file

import tabnn
from tabnn import AutoIntClassifier, FoldSEClassifier, TabularEncoder
from tabnn.callbacks import TimeLimit
from tabnn.estimators import all_estimators
from tabnn.persistence import VersionWarning, load, save

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
sys.path.insert(0, GOLDEN)
from make_golden import golden_frame, golden_output, golden_targets  # noqa: E402

REGENERATE = "python tests/golden/make_golden.py"


@pytest.mark.parametrize("name", [name for name, _ in all_estimators()])
def test_golden_file_reproduces_its_predictions(name):
    model, expected = (os.path.join(GOLDEN, f"{name}{ext}") for ext in (".safetensors", ".npy"))
    if not (os.path.exists(model) and os.path.exists(expected)):
        pytest.fail(f"No golden file for {name} (a newly registered estimator?): run "
                    f"`{REGENERATE} {name}` and commit tests/golden/{name}.*")
    X = pd.read_parquet(os.path.join(GOLDEN, "X.parquet"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VersionWarning)  # a later version loads old files
        est = load(model)
    np.testing.assert_allclose(golden_output(est, X), np.load(expected), rtol=1e-5, atol=1e-6,
                               err_msg=f"{name} no longer reproduces its golden predictions")


def test_golden_frame_unchanged():
    """The stored input is the one the script makes (else regenerate the golden files)."""
    pd.testing.assert_frame_equal(pd.read_parquet(os.path.join(GOLDEN, "X.parquet")),
                                  golden_frame())


@pytest.fixture(scope="module")
def data():
    X = golden_frame()
    return X, golden_targets(X)[0]


@pytest.fixture(scope="module")
def autoint(data):
    X, y = data
    return AutoIntClassifier(embedding_dim=4, attention_layers=1, attention_heads=1,
                             attention_head_dim=4, dnn_hidden=(8,), max_epochs=2,
                             random_state=0).fit(X, y)


def test_round_trip_keeps_parameters_attributes_and_predictions(autoint, data, tmp_path):
    X, _ = data
    path = tmp_path / "model.safetensors"
    save(autoint, path)
    loaded = load(path)
    assert type(loaded) is AutoIntClassifier
    assert loaded.get_params() == autoint.get_params()
    np.testing.assert_array_equal(loaded.classes_, autoint.classes_)
    assert loaded.history_ == autoint.history_
    np.testing.assert_array_equal(loaded.predict_proba(X), autoint.predict_proba(X))
    # the loaded model trains on: refitting gives the same as a fresh fit
    np.testing.assert_array_equal(loaded.fit(X, data[1]).predict_proba(X),
                                  autoint.predict_proba(X))


def test_unfitted_estimator_and_pickle_still_work(data, tmp_path):
    X, y = data
    save(FoldSEClassifier(ratio=0.6), tmp_path / "unfitted.safetensors")
    est = load(tmp_path / "unfitted.safetensors")
    assert est.get_params()["ratio"] == 0.6 and not hasattr(est, "classes_")
    fitted = est.fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(X), fitted.predict(X))


def test_another_version_warns_and_a_newer_format_is_refused(monkeypatch, tmp_path):
    enc = TabularEncoder().fit(pd.DataFrame({"a": ["x", "y"]}))
    path = tmp_path / "enc.safetensors"
    monkeypatch.setattr(tabnn, "__version__", "0.0.1")
    save(enc, path)
    monkeypatch.undo()
    with pytest.warns(VersionWarning, match=r"saved by tabnn 0\.0\.1 .* predictions may differ"):
        load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(path, check_version=False)
    save(enc, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same version: no warning
        load(path)

    header = json.loads(_metadata(path))
    header["format"] = 99
    _rewrite(path, header)
    with pytest.raises(ValueError, match="file format 99.*Upgrade tabnn"):
        load(path)


def _metadata(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return f.metadata()["tabnn"]


def _rewrite(path, header):
    from safetensors.numpy import load_file

    save_file(load_file(str(path)), str(path), metadata={"tabnn": json.dumps(header)})


@pytest.mark.parametrize("target", ["os:system", "subprocess:Popen", "builtins:eval",
                                    "tabnn.encoding:TabularEncoder.fit"])
def test_a_file_naming_code_outside_tabnn_is_refused(tmp_path, target):
    path = tmp_path / "evil.safetensors"
    save(TabularEncoder(), path)
    header = json.loads(_metadata(path))
    header["estimator"] = {"dataclass": target, "fields": {}}
    _rewrite(path, header)
    with pytest.raises(ValueError, match="outside tabnn|not a tabnn data class"):
        load(path)
    header["estimator"] = {"estimator": target, "state": {"dict": []}}
    _rewrite(path, header)
    with pytest.raises(ValueError, match="does not register"):
        load(path)
    header["estimator"] = {"object": target, "state": {"dict": []}}
    _rewrite(path, header)
    with pytest.raises(ValueError, match="outside tabnn|not a tabnn data class"):
        load(path)


@pytest.mark.parametrize("target", ["tabnn.nn.network:TabularNetwork",
                                    "tabnn.estimators._registry:all_estimators",
                                    "tabnn.persistence:load"])
def test_networks_and_callables_are_never_created_from_a_file(tmp_path, target):
    path = tmp_path / "evil.safetensors"
    save(TabularEncoder(), path)
    header = json.loads(_metadata(path))
    header["estimator"] = {"object": target, "state": {"dict": []}}
    _rewrite(path, header)
    with pytest.raises(ValueError, match="not a tabnn data class"):
        load(path)


def test_files_that_are_not_models(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="junk.safetensors.*not a model file"):
        load(junk)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3)}, str(plain))
    with pytest.raises(ValueError, match="without a tabnn description"):
        load(plain)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.safetensors")


def test_objects_without_a_safe_form_name_the_attribute_and_pickle(data, tmp_path):
    class MyLogger(TimeLimit):  # the user's own class: no safe form
        pass

    est = AutoIntClassifier(callbacks=[MyLogger(60)])
    with pytest.raises(TypeError, match=r"\['callbacks'\]\[0\].*MyLogger.*Pickle"):
        save(est, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="registered tabnn estimators"):
        save(object(), tmp_path / "x.safetensors")


def test_a_model_trained_on_a_gpu_predicts_on_a_cpu_only_machine(autoint, data, tmp_path,
                                                                  monkeypatch):
    """The weights are stored without a device; a model whose ``device_`` says CUDA (as after
    a fit on a GPU) loads and predicts on the CPU of a machine without one."""
    X, _ = data
    expected = autoint.predict_proba(X)
    gpu_fitted = pickle.loads(pickle.dumps(autoint))
    gpu_fitted.device_ = "cuda:0"
    path = tmp_path / "gpu.safetensors"
    save(gpu_fitted, path)
    assert "cuda" not in json.dumps(json.loads(_metadata(path))["estimator"].get("network", ""))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for loaded in (load(path), pickle.loads(pickle.dumps(gpu_fitted))):
        assert loaded.device_ == "cuda:0"
        assert {p.device.type for p in loaded.module_.parameters()} == {"cpu"}
        np.testing.assert_array_equal(loaded.predict_proba(X), expected)


def test_weights_from_a_foreign_device_are_mapped_to_the_cpu(autoint, data, tmp_path,
                                                            monkeypatch):
    """``save`` maps every weight to the CPU before writing it: weights living on another
    device (here a fake one, readable only after ``.cpu()``) become plain CPU data."""

    class OnFakeDevice:
        device = torch.device("cuda", 0)

        def __init__(self, tensor):
            self.tensor = tensor

        def detach(self):
            return self

        def cpu(self):
            return self.tensor.detach().clone()

    X, _ = data
    est = pickle.loads(pickle.dumps(autoint))
    state = {k: OnFakeDevice(v) for k, v in est.module_.state_dict().items()}
    monkeypatch.setattr(est.module_, "state_dict", lambda: state)
    save(est, tmp_path / "fake.safetensors")
    loaded = load(tmp_path / "fake.safetensors")
    assert {p.device.type for p in loaded.module_.parameters()} == {"cpu"}
    np.testing.assert_array_equal(loaded.predict_proba(X), autoint.predict_proba(X))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_fit_loads_on_cpu(data, tmp_path):
    import subprocess

    X, y = data
    est = AutoIntClassifier(embedding_dim=4, max_epochs=2, random_state=0, device="cuda")
    est.fit(X, y)
    save(est, tmp_path / "cuda.safetensors")
    np.save(tmp_path / "expected.npy", est.predict_proba(X))
    code = (
        "import sys, numpy as np, pandas as pd, torch; sys.path.insert(0, %r);"
        "from make_golden import golden_frame; from tabnn.persistence import load;"
        "assert not torch.cuda.is_available();"
        "p = load(%r).predict_proba(golden_frame());"
        "np.testing.assert_allclose(p, np.load(%r), atol=1e-4)"
    ) % (GOLDEN, str(tmp_path / "cuda.safetensors"), str(tmp_path / "expected.npy"))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
