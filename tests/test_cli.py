"""The command line: each command end to end, and every user mistake as one line, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from testdata import TINY_TRAIN_ARGS
from typer.testing import CliRunner

from tunesmith.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_prepare_train_generate_info(midi_sample: Path, tmp_path: Path) -> None:
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "out"
    r = _run("prepare", midi_sample, "--out", data, "--jobs", "1")
    assert r.exit_code == 0, r.output
    assert "pieces kept" in r.output and "24" in r.output
    r = _run("train", data, "--out", run, "--epochs", "1", *TINY_TRAIN_ARGS)
    assert r.exit_code == 0, r.output
    assert "best validation loss" in r.output
    r = _run(
        "generate",
        run,
        "--out",
        out,
        "--num",
        "2",
        "--bars",
        "2",
        "--seed",
        "3",
        "--tempo",
        "90",
        "--key",
        "D",
        "--instrument",
        "violin",
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "melody-01.mid",
        "melody-01.png",
        "melody-02.mid",
        "melody-02.png",
    ]
    r = _run("info", run)
    assert r.exit_code == 0 and "parameters" in r.output and "resumable" in r.output
    assert "copy guard" in r.output and "train-tokens.npy" in r.output
    r = _run("info", data)
    assert r.exit_code == 0 and "pieces kept" in r.output


def test_train_reads_a_config_file(tiny_corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text(
        "[model]\nkind = 'gru'\nhidden_size = 24\nembedding_dim = 8\n"
        "num_layers = 1\n[train]\nepochs = 1\nsequence_length = 32\n"
    )
    r = _run(
        "train", tiny_corpus, "--out", tmp_path / "run", "--config", config, "--hidden-size", "20"
    )
    assert r.exit_code == 0, r.output
    r = _run("info", tmp_path / "run")
    assert "kind=gru" in r.output and "hidden_size=20" in r.output  # the flag wins


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["prepare", "/no/such/folder", "--out", "{tmp}/d"], 1, "no such file or folder"),
        (["prepare", "{tmp}", "--out", "{tmp}/d"], 1, "holds no music"),
        (["prepare", "essen", "--out", "{tmp}/d", "--melody", "loudest"], 2, "--melody"),
        (["train", "{tmp}/nothing", "--out", "{tmp}/r"], 1, "no such file"),
        (["train", "{corpus}", "--out", "{tmp}/r", "--model", "mamba"], 2, "--model"),
        (["train", "{corpus}", "--out", "{tmp}/r", "--dropout", "1.5"], 2, "--dropout"),
        (["train", "{corpus}", "--out", "{tmp}/r", "--config", "{tmp}/none.toml"], 2, "none.toml"),
        (["train", "{corpus}", "--out", "{tmp}/r", "--device", "cuda:7"], 2, "--device"),
        (["generate", "{tmp}", "--out", "{tmp}/o"], 1, "not a tunesmith run"),
        (["generate", "{run}", "--out", "{tmp}/o", "--seed-notes", "60,abc"], 2, "'abc'"),
        (["generate", "{run}", "--out", "{tmp}/o", "--seed-notes", "60,200"], 2, "0-127"),
        (["generate", "{run}", "--out", "{tmp}/o", "--temperature", "-1"], 2, "--temperature"),
        (["generate", "{run}", "--out", "{tmp}/o", "--endings", "0"], 2, "--endings"),
        (["generate", "{run}", "--out", "{tmp}/o", "--primer", "{tmp}/x.mid"], 1, "no such file"),
        (["info", "{tmp}/nothing"], 1, "no such run"),
    ],
)
def test_user_mistakes_give_one_line_and_an_exit_code(
    args: list[str], code: int, message: str, tmp_path: Path, tiny_corpus: Path, tiny_run: Path
) -> None:
    args = [a.format(tmp=tmp_path, corpus=tiny_corpus, run=tiny_run) for a in args]
    r = runner.invoke(app, args)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert lines[-1].startswith("error:") and message in r.output, r.output


def test_corrupt_weights_are_reported(tiny_run: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 100)
    r = _run("generate", broken, "--out", tmp_path / "o")
    assert r.exit_code == 1 and "damaged" in r.output


@pytest.mark.parametrize(
    "command", ["prepare", "inspect", "train", "generate", "render", "evaluate", "info"]
)
def test_every_command_has_help_with_examples(command: str) -> None:
    r = _run(command, "--help")
    assert r.exit_code == 0 and "Examples" in r.output


def test_help_shows_square_brackets_that_are_not_markup() -> None:
    """rich read "[model] and [train]" in --config's help, and every hand-written
    "[default: ...]", as markup and printed nothing of them."""
    r = _run("train", "--help")
    assert "[model]" in r.output and "[train]" in r.output, r.output
    r = _run("bench", "poly", "--help")
    assert "[default: 500]" in r.output and "[default: 8]" in r.output, r.output


def test_python_dash_m_works() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tunesmith", "--help"], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0 and "prepare" in r.stdout


def test_resume_keeps_the_run_options(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["--hidden-size", "24", "--embedding-dim", "8", "--num-layers", "1"]
    r = _run("train", tiny_corpus, "--out", run, "--epochs", "1", "--sequence-length", "32", *args)
    assert r.exit_code == 0, r.output
    r = _run("train", tiny_corpus, "--out", run, "--resume", "--epochs", "2", "--lr", "0.01")
    assert r.exit_code == 2  # a resumed run keeps its options: a change is refused, not ignored
    assert (
        "--learning-rate 0.01: a resumed run keeps the options it was started with "
        "(the run's is 0.001)" in " ".join(r.output.split())
    )
    r = _run("train", tiny_corpus, "--out", run, "--resume", "--epochs", "2", *args)
    assert r.exit_code == 0, r.output
    r = _run("info", run)
    assert "hidden_size=24" in r.output and "sequence_length=32" in r.output
    assert "epochs=2" in r.output
    assert [ln.split("│")[2].strip() for ln in r.output.splitlines() if "epochs trained" in ln] == [
        "2"
    ]


def test_inspect_shows_parts_key_and_tokens(nottingham_midi: Path) -> None:
    r = _run("inspect", nottingham_midi / "ashover1.mid", "--bars", "2")
    assert r.exit_code == 0, r.output
    assert "track 0" in r.output and "←" in r.output and "3/4" in r.output
    assert "bar   2:" in r.output and "G major" in r.output  # ashover1 is in G
    r = _run("inspect", nottingham_midi / "ashover1.mid", "--tune", "5")
    assert r.exit_code == 2 and "--tune 5" in r.output


def test_a_grid_asked_for_is_used_or_refused_never_changed(tmp_path: Path) -> None:
    """--steps-per-quarter 4 cannot hold triplets: refused (it used to become 12 silently)."""
    r = _run(
        "prepare", "essen", "--encoding", "notes", "--steps-per-quarter", "4", "--out", tmp_path
    )
    assert r.exit_code == 2
    assert "--steps-per-quarter 4 cannot hold the note lengths of --durations" in r.output
    assert "use 12 or leave it out" in " ".join(r.output.split())
    r = _run("prepare", "essen", "--encoding", "notes", "--steps-per-quarter", "24", "--limit", "5",
             "--out", tmp_path / "fine")  # fmt: skip
    assert r.exit_code == 0, r.output
    import json

    manifest = json.loads((tmp_path / "fine" / "manifest.json").read_text())
    assert manifest["data"]["steps_per_quarter"] == 24
    import tunesmith as ts

    with pytest.raises(ts.ConfigError, match="cannot hold the note lengths"):
        ts.prepare("essen", tmp_path / "api", encoding="notes", steps_per_quarter=8)
