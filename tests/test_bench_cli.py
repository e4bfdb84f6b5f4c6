"""`tunesmith bench poly` on a small .mat of the benchmark's form, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.corpus.rolls import load_rolls

JSB_MAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsb" / "JSB_Chorales.mat"
runner = CliRunner()


def write_mat(path: Path, splits: dict[str, list[np.ndarray]]) -> None:
    """A .mat in the Boulanger-Lewandowski form: each split a 1 x n cell row of T x 88 rolls."""
    cells = {}
    for name, rolls in splits.items():
        row = np.empty((1, len(rolls)), dtype=object)
        for i, r in enumerate(rolls):
            row[0, i] = r.astype(np.float64)
        cells[name] = row
    scipy.io.savemat(path, cells)


@pytest.mark.skipif(not JSB_MAT.exists(), reason="needs ../shared/data/jsb")
def test_bench_poly_writes_results(tmp_path: Path) -> None:
    jsb = load_rolls(JSB_MAT)
    small = tmp_path / "small.mat"
    write_mat(small, {name: rolls[:6] for name, rolls in jsb.items()})
    out = tmp_path / "results.json"
    args = ["bench", "poly", "--data", str(small), "--out", str(out), "--max-epochs", "2"]
    args += ["--hidden-size", "16", "--decoder-size", "16", "--batch-size", "3"]
    args += ["--keep", "2", "--shifts", "1", "--lr-schedule", "cosine", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trivial (independent keys)" in result.output
    results = json.loads(out.read_text())
    assert results["pieces"] == {"traindata": 6, "validdata": 6, "testdata": 6}
    assert results["epochs"] == 2 and len(results["history"]) == 2
    assert results["parameters"] > 0 and results["train_seconds"] > 0
    assert 0 < results["test_nll"] < 100 and 0 < results["trivial"]["test_nll"] < 100
    assert results["train"]["keep"] == 2 and 0 < results["single"]["test_nll"] < 100
    assert results["machine"]["cores"] >= 1
    assert results["train"]["device"] == "cpu"
    # A device the machine lacks is one line (CUDA paths exist; this machine has no GPU).
    result = runner.invoke(app, [*args[:-2], "--device", "cuda:7"])
    assert result.exit_code == 2 and "--device cuda:7" in result.output
    assert "Traceback" not in result.output


def test_bench_poly_user_mistakes(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "poly", "--data", str(tmp_path / "none.mat")])
    assert result.exit_code == 1
    assert "none.mat: no such file" in result.output
    result = runner.invoke(app, ["bench", "poly", "--data", "x.mat", "--transpose", "20"])
    assert result.exit_code == 2
    assert "--transpose must be in 0..12 (got 20)" in result.output


def test_bench_poly_help_has_examples() -> None:
    result = runner.invoke(app, ["bench", "poly", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output
