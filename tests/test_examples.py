"""Every script in examples/ runs, at the small size TABNN_EXAMPLES_SMALL=1 selects."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_small(path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")  # plt.show() is a no-op
    monkeypatch.setenv("TABNN_EXAMPLES_SMALL", "1")
    monkeypatch.setenv("TABNN_EXAMPLES_QUICK", "1")  # the name distributed_fit.py reads
    monkeypatch.setenv("MPLBACKEND", "Agg")
    source = path.read_text()
    assert source.startswith('"""') and "# %%" in source, "sphinx-gallery layout"
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip(), "an example prints what it shows"
    import matplotlib.pyplot as plt

    plt.close("all")
