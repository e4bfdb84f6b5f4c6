"""Styles: labelled sources, a corpus of several styles, a model that reads the label, and
melodies asked for in a style (a run on two bundled Essen collections)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from testdata import TINY_TRAIN_ARGS
from typer.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import app
from tunesmith.config import read_json
from tunesmith.corpus.context import STYLE
from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.styles import balanced, parse_styles
from tunesmith.errors import ConfigError
from tunesmith.read.sources import find_files

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_style_specs_are_read_or_refused_in_one_line(tmp_path: Path) -> None:
    assert parse_styles(["irish=oneills", "german=erk*.abc,boehme*", "irish=irl"]) == {
        "irish": ["oneills", "irl"],
        "german": ["erk*.abc", "boehme*"],
    }
    for sub in ("reels", "jigs"):
        (tmp_path / sub).mkdir()
    assert parse_styles([f"*={tmp_path}"]) == {
        "jigs": [str(tmp_path / "jigs")],
        "reels": [str(tmp_path / "reels")],
    }
    for bad, message in (
        ("irish", "write LABEL=SOURCE"),
        ("=oneills", "a label is a letter"),
        ("9lives=oneills", "a label is a letter"),
        (f"*={tmp_path / 'jigs'}", "not a folder of sub-folders"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_styles([bad])


def test_essen_collections_are_found_by_file_name() -> None:
    assert [p.name for p in find_files("erk*.abc")] == [
        "erk10.abc", "erk20.abc", "erk30.abc", "erk5.abc",
    ]  # fmt: skip
    assert [p.name for p in find_files("han1.abc")] == ["han1.abc"]
    assert [p.name for p in find_files("lux")] == ["lux.abc"]


def test_a_small_style_comes_round_more_often() -> None:
    pieces = [{"style": "big", "length": 100}] * 8 + [{"style": "small", "length": 50}] * 2
    out = balanced(pieces, list(range(10)))
    assert out.count(0) == 1 and out.count(8) == 4  # 100 tokens of it against 800: 4 times
    assert balanced([{"length": 5}] * 3, [0, 1, 2]) == [0, 1, 2]  # no styles: as is


@pytest.fixture(scope="module")
def style_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A style LSTM trained a few seconds on Chinese (han1) and German (erk5) Essen tunes."""
    base = tmp_path_factory.mktemp("styles")
    styles = ["--style", "chinese=han1.abc", "--style", "german=erk5.abc"]
    result = invoke("prepare", *styles, "--limit", 30, "--out", base / "data")
    assert result.exit_code == 0, result.output
    result = invoke("train", base / "data", "--out", base / "run", *TINY_TRAIN_ARGS, "--epochs", 2)
    assert result.exit_code == 0, result.output
    return base / "run"


def test_a_style_corpus_labels_every_piece_and_its_context(style_run: Path) -> None:
    corpus = Corpus.open(style_run.parent / "data")
    assert corpus.styles == ["chinese", "german"]
    assert {p["style"] for p in corpus.pieces} == {"chinese", "german"}
    for p in corpus.pieces[:: max(1, len(corpus.pieces) // 5)]:
        column = np.asarray(corpus.context[p["start"] : p["start"] + p["length"], STYLE])
        assert (column == 1 + corpus.styles.index(p["style"])).all()
    config = read_json(style_run / "config.json")
    assert config["styles"] == ["chinese", "german"] and config["model"]["styles"] == 2


def test_generate_in_a_style_and_refuse_an_unknown_one(style_run: Path, tmp_path: Path) -> None:
    result = invoke(
        "generate", style_run, "--style", "german", "--num", 2, "--bars", 4, "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*.mid"))) == 2
    result = invoke("generate", style_run, "--style", "irish", "--out", tmp_path)
    assert result.exit_code == 2
    assert "--style 'irish' is not one of the run's styles (chinese, german)" in result.output
    result = invoke("info", style_run)
    assert "chinese, german" in result.output
    model = ts.load(style_run)
    assert model.styles == ["chinese", "german"]
    melodies = model.generate(3, bars=4, style="chinese", seed=4)
    assert {m.meta["style"] for m in melodies} == {"chinese"}
    assert {m.meta["style"] for m in model.generate(6, bars=2, seed=1)} <= {"chinese", "german"}
    with pytest.raises(ts.ConfigError, match="trained without styles"):
        ts.load("essen").generate(1, bars=2, style="german")


def test_the_web_lists_a_runs_styles_and_takes_one(style_run: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tunesmith.web import create_app

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(style_run, runs / "styled")
    with TestClient(create_app(runs, tmp_path / "out", audio=False)) as client:
        (info,) = [r for r in client.get("/api/runs").json() if r["name"] == "styled"]
        assert info["styles"] == ["chinese", "german"]
        answer = client.post("/api/generate", json={"run": "styled", "bars": 2, "style": "german"})
        assert answer.status_code == 200, answer.text
        bad = client.post("/api/generate", json={"run": "styled", "bars": 2, "style": "x"})
        assert bad.status_code == 422 and "not one of the run's styles" in bad.json()["detail"]


def test_styles_that_cannot_be_used_are_refused(tmp_path: Path) -> None:
    result = invoke("prepare", "essen", "--style", "a=han1.abc", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "every source under a --style label" in result.output
    result = invoke("prepare", "--style", "a=han1.abc", "--style", "b=han1.abc", "--out", tmp_path)
    assert result.exit_code == 1 and "in two styles (a and b)" in result.output
    result = invoke("prepare", "--out", tmp_path)
    assert result.exit_code == 2 and "give SOURCES to read" in result.output
