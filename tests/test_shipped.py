"""Shipped models: found by name, listed, generated from with no training (skipped when this
checkout holds none yet), and a run folder of the same name wins."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from symusic import Score
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.learn.checkpoint import load_run
from tunesmith.shipped import SHIPPED_DIR, UnknownModel, resolve_run, shipped_models

SHIPPED = shipped_models()
needs_essen = pytest.mark.skipif("essen" not in SHIPPED, reason="shipped essen model absent")
needs_chorales = pytest.mark.skipif("chorales" not in SHIPPED, reason="shipped chorales absent")


def test_models_lists_what_is_shipped() -> None:
    result = CliRunner().invoke(app, ["models"], terminal_width=200)
    assert result.exit_code == 0, result.output
    if not SHIPPED:
        assert "no shipped models" in result.output
    for name in SHIPPED:
        assert name in result.output
    for name, folder in SHIPPED.items():
        card = json.loads((folder / "about.json").read_text())
        assert card["name"] == name and card["commands"] and card["seconds"]
        assert card["held_out_loss"] > 0
        size = sum(p.stat().st_size for p in folder.iterdir())
        assert size < 8e6, f"{name} is {size / 1e6:.1f} MB"
        assert not (folder / "last").exists()


@needs_essen
def test_generate_essen_with_no_training(tmp_path: Path) -> None:
    started = time.perf_counter()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["generate", "essen", "--out", str(out), "--seed", "7"])
    assert result.exit_code == 0, result.output
    print(f"generate essen (in-process): {time.perf_counter() - started:.1f} s")
    mids = sorted(out.glob("*.mid"))
    assert len(mids) == 4 and len(list(out.glob("*.png"))) == 4
    for mid in mids:
        notes = Score(str(mid)).tracks[0].notes
        assert len(notes) > 8 and all(36 <= n.pitch <= 96 for n in notes)
    assert "no copy guard" not in result.output  # the shipped run keeps its tokens
    run = load_run(SHIPPED["essen"])  # a plain run folder; float16 weights load as float32
    assert next(run.model.parameters()).dtype.is_floating_point


@needs_chorales
def test_generate_chorales_with_no_training(tmp_path: Path) -> None:
    args = ["generate", "chorales", "--out", str(tmp_path), "--num", "1", "--bars", "4"]
    result = CliRunner().invoke(app, [*args, "--seed", "1"])
    assert result.exit_code == 0, result.output
    tracks = Score(str(tmp_path / "chorale-01.mid")).tracks
    assert len(tracks) == 4 and all(t.notes for t in tracks)


def test_unknown_name_lists_the_shipped_models(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["generate", "nosuch", "--out", "out"])
    assert result.exit_code == 1
    known = ", ".join(SHIPPED) or "none installed"
    assert f"nosuch: no run folder of that name and no shipped model (shipped: {known})" in (
        " ".join(result.output.split())
    )


def test_a_run_folder_wins_over_a_shipped_name(tiny_run, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_run, tmp_path / "essen")
    assert resolve_run("essen") == Path("essen")
    assert resolve_run(tiny_run) == tiny_run
    (tmp_path / "data").mkdir()  # a folder that is no run is left to the loaders to judge
    assert resolve_run("data") == Path("data")
    with pytest.raises(UnknownModel):
        resolve_run("nothing-here")
    assert SHIPPED_DIR.is_dir()
