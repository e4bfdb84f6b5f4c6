"""One run format: every run folder's config.json names its kind, and every reader asks it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import app
from tunesmith.config import read_json, write_json
from tunesmith.errors import CheckpointError
from tunesmith.learn.checkpoint import load_run
from tunesmith.learn.poly_run import load_poly_run
from tunesmith.learn.run_config import MELODY, POLY, run_kind
from tunesmith.shipped import resolve_run

runner = CliRunner()


def test_both_kinds_name_themselves_with_the_same_version_keys(
    tiny_run: Path, tiny_poly_run: Path
) -> None:
    assert run_kind(tiny_run) == MELODY and run_kind(tiny_poly_run) == POLY
    for path in (tiny_run, tiny_poly_run, resolve_run("essen"), resolve_run("chorales")):
        config = read_json(path / "config.json")
        assert {"kind", "tunesmith_version", "torch_version"} <= set(config), path


def test_each_loader_refuses_the_other_kind_in_one_line(
    tiny_run: Path, tiny_poly_run: Path
) -> None:
    with pytest.raises(CheckpointError, match="a poly run, not a melody run"):
        load_run(tiny_poly_run)
    with pytest.raises(CheckpointError, match="a melody run, not a poly run"):
        load_poly_run(tiny_run)


def test_a_run_saved_before_kinds_were_named_is_a_melody_run(
    tmp_path: Path, tiny_run: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old)
    config = read_json(old / "config.json")
    del config["kind"]
    write_json(old / "config.json", config)
    assert run_kind(old) == MELODY
    assert ts.load(old).generate(1, bars=2, seed=1)[0].notes


def test_an_unknown_kind_is_refused_in_one_line_by_every_reader(
    tmp_path: Path, tiny_run: Path
) -> None:
    odd = tmp_path / "odd"
    shutil.copytree(tiny_run, odd)
    config = read_json(odd / "config.json")
    write_json(odd / "config.json", {**config, "kind": "orchestra"})
    message = "kind 'orchestra' is not a run kind tunesmith knows (melody, poly)"
    with pytest.raises(CheckpointError, match=re.escape(message)):
        ts.load(odd)
    for command in (["info", odd], ["generate", odd, "--out", tmp_path / "out"]):
        result = runner.invoke(app, [str(a) for a in command])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), command
        assert message in " ".join(result.output.split()), command
