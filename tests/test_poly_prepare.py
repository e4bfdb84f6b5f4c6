"""Poly corpora from real music: prepare, train the chorale model on one, generate from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from symusic import Score
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.config import DataConfig
from tunesmith.corpus.poly_prepare import load_poly_corpus, piece_frames
from tunesmith.export.midi import write_midi
from tunesmith.learn.poly_run import load_poly_run
from tunesmith.make.sample_poly import SATB, VOICE_NAMES
from tunesmith.melody import Melody, Note
from tunesmith.read.sources import Part, Piece, find_items, read_item

runner = CliRunner()
TINY_POLY = ["--hidden-size", "16", "--embedding-dim", "16", "--num-layers", "1"]


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def chorale_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven Bach chorales in the poly encoding, one frame a quarter note."""
    out = tmp_path_factory.mktemp("poly") / "chorales"
    result = invoke("prepare", "chorales", "--encoding", "poly", "--limit", 7, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def chorale_run(chorale_corpus: Path) -> Path:
    """The chorale model trained on them for a few seconds."""
    run = chorale_corpus.parent / "run"
    result = invoke("train", chorale_corpus, "--out", run, "--time-limit", 3, *TINY_POLY)
    assert result.exit_code == 0, result.output
    return run


def read_voices(path: Path) -> list[list[tuple[int, int, int]]]:
    """Each track's notes as (pitch, onset, duration) in quarter notes."""
    score = Score(str(path))
    tpq = score.ticks_per_quarter
    return [[(n.pitch, n.time // tpq, n.duration // tpq) for n in t.notes] for t in score.tracks]


def test_frames_hold_what_sounds_at_each_step() -> None:
    piece = Piece(
        "hand-made",
        "test",
        [
            Part("upper", [(1.0, 2.0, 72), (3.0, 0.5, 74), (3.5, 0.5, 76)]),
            Part("lower", [(1.0, 1.0, 60), (2.0, 2.0, 55), (2.5, 1.0, 130)]),
            Part("drums", [(1.0, 3.0, 38)], is_drum=True),
        ],
    )
    # Quarters: the silent first beat is dropped, the eighth on the off-beat is not seen.
    assert piece_frames(piece, 1) == [[72, 60], [72, 55], [74, 55]]
    assert piece_frames(piece, 2)[-2:] == [[74, 55], [76, 55]]


def test_chorales_become_four_voice_frames(chorale_corpus: Path) -> None:
    rolls, manifest = load_poly_corpus(chorale_corpus)
    assert manifest["data"]["encoding"] == "poly" and manifest["data"]["steps_per_quarter"] == 1
    assert len(rolls) == manifest["kept"] == 7
    # The frames are the parts' notes on the beats: the first chorale read again agrees.
    piece = read_item(find_items(["chorales"])[0])
    expected = piece_frames(piece, 1)
    assert [sorted((np.nonzero(f)[0] + 21).tolist(), reverse=True) for f in rolls[0]] == expected
    polyphony = np.concatenate(rolls).sum(1)
    assert (polyphony == 4).mean() > 0.6


def test_sixteenths_on_request(chorale_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "fine"
    result = invoke(
        "prepare", "chorales", "--encoding", "poly", "--limit", 2,
        "--steps-per-quarter", 4, "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    quarters = json.loads((chorale_corpus / "manifest.json").read_text())["pieces"][:2]
    sixteenths = json.loads((out / "manifest.json").read_text())["pieces"]
    for coarse, fine in zip(quarters, sixteenths, strict=True):
        assert 4 * coarse["frames"] - 3 <= fine["frames"] <= 4 * coarse["frames"]
    # A run trained on sixteenths generates on sixteenths, and harmonises on them.
    run = tmp_path / "run"
    result = invoke(
        "train", out, "--out", run, "--time-limit", 1, "--val-fraction", 0.5, *TINY_POLY
    )
    assert result.exit_code == 0, result.output
    assert load_poly_run(run).steps_per_quarter == 4
    tune = [60, 64, 62, 65]
    melody = Melody([Note(p, 2 * t, 2) for t, p in enumerate(tune)], steps_per_quarter=4)
    tune_file = write_midi(melody, tmp_path / "tune.mid")
    for extra in (["--bars", "1"], ["--harmonize", tune_file]):
        result = invoke("generate", run, "--num", 1, "--seed", 1, "--out", tmp_path, *extra)
        assert result.exit_code == 0, result.output
        score = Score(str(tmp_path / "chorale-01.mid"))
        sixteenth = score.ticks_per_quarter // 4
        ends = [n.end // sixteenth for t in score.tracks for n in t.notes]
        assert max(ends) == (17 if extra[0] == "--bars" else 8)
    top = [(n.pitch, n.time // sixteenth, n.duration // sixteenth) for n in score.tracks[0].notes]
    assert top == [(p, 2 * t, 2) for t, p in enumerate(tune)]


def test_nottingham_frames_hold_melody_and_chords(nottingham_midi: Path, tmp_path: Path) -> None:
    prepared = tmp_path / "nottingham"
    source = str(nottingham_midi / "ashover1.mid")
    result = invoke("prepare", source, "--encoding", "poly", "--out", prepared)
    assert result.exit_code == 0, result.output
    rolls, manifest = load_poly_corpus(prepared)
    assert manifest["pieces"][0]["parts"] == 2  # the melody track and the chord track
    piece = read_item(find_items([source])[0])
    melody, chords = sorted(piece.parts, key=lambda p: -p.mean_pitch)
    polyphony = rolls[0].sum(1)
    assert np.median(polyphony) >= 3  # a chord under the tune on most beats
    # On each beat where a melody note starts, the frame's top pitch is that note.
    first = min(t for t, _, _ in melody.notes + chords.notes)
    for onset, _, pitch in melody.notes[:20]:
        if onset == int(onset):
            assert int(np.nonzero(rolls[0][int(onset - first)])[0].max()) + 21 == pitch


def test_train_generate_four_voices(chorale_run: Path, tmp_path: Path) -> None:
    run = load_poly_run(chorale_run)
    assert run.voices == 4 and run.steps_per_quarter == 1
    info = json.loads((chorale_run / "config.json").read_text())["training"]
    assert info["pieces"] == {"train": 6, "valid": 1} and info["valid_nll"] > 0
    result = invoke(
        "generate", chorale_run, "--num", 2, "--bars", 2, "--seed", 1, "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    for name in ("chorale-01.mid", "chorale-02.mid"):
        assert [t.name for t in Score(str(tmp_path / name)).tracks] == list(VOICE_NAMES)
        for v, notes in enumerate(read_voices(tmp_path / name)):
            assert sum(d for _, _, d in notes) == 9  # the opening chord and 2 bars of 4/4
            low, high = SATB[v]
            assert all(low <= p <= high for p, _, _ in notes[1:])


def test_harmonize_a_melody(chorale_run: Path, tmp_path: Path) -> None:
    tune = [67, 69, 71, 72, 74, 72, 71, 69, 67]
    melody = Melody([Note(p, 4 * t, 4) for t, p in enumerate(tune)], steps_per_quarter=4)
    tune_file = write_midi(melody, tmp_path / "tune.mid")
    out = tmp_path / "out"
    result = invoke(
        "generate", chorale_run, "--harmonize", tune_file, "--num", 1, "--seed", 2, "--out", out
    )
    assert result.exit_code == 0, result.output
    voices = read_voices(out / "chorale-01.mid")
    assert len(voices) == 4
    assert [p for p, _, d in voices[0] for _ in range(d)] == tune
    for t in range(len(tune)):
        below = [p for notes in voices[1:] for p, on, d in notes if on <= t < on + d]
        assert len(below) == 3 and all(p < tune[t] for p in below)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prepare", "chorales", "--encoding", "poly", "--melody", "skyline"], "--melody"),
        (["prepare", "chorales", "--encoding", "poly", "--augment-keys"], "--augment-keys"),
        (["train", "chorales", "--encoding", "poly", "--model", "gru"], "--model"),
        (["train", "chorales", "--encoding", "poly", "--no-form"], "--form"),
        (["train", "chorales", "--encoding", "poly", "--device", "cuda:7"], "--device cuda:7"),
    ],
)
def test_misuse_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = invoke(*args, "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_poly_config_rejects_melody_options() -> None:
    from tunesmith.corpus.prepare import prepare_corpus
    from tunesmith.errors import ConfigError

    with pytest.raises(ConfigError, match="--durations"):
        prepare_corpus(["chorales"], "unused", DataConfig(encoding="poly", durations="1,2"))


def test_a_poly_run_is_checkpointed_and_resumed_from_the_command_line(
    chorale_corpus: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = ("train", chorale_corpus, "--out", run, "--epochs", 2, "--save-every", 1, *TINY_POLY)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert (run / "last" / "state.json").exists() and (run / "model.safetensors").exists()
    again = invoke("train", chorale_corpus, "--out", run, *TINY_POLY)
    assert again.exit_code == 1 and "--resume" in again.output  # a run is there
    changed = invoke("train", chorale_corpus, "--out", run, "--resume", "--hidden-size", 64)
    assert changed.exit_code == 2
    assert (
        "--hidden-size 64: a resumed run keeps the options it was started with (the run's is 16)"
        in " ".join(changed.output.split())
    )
    # the command that started the run, with --resume and a new budget, is accepted
    resume = ("--resume", "--epochs", 3, "--save-every", 1, *TINY_POLY)
    result = invoke("train", chorale_corpus, "--out", run, *resume)
    assert result.exit_code == 0, result.output
    training = json.loads((run / "config.json").read_text())["training"]
    assert [h["epoch"] for h in training["history"]] == [1, 2, 3]
    assert training["train"]["save_every"] == 1 and training["epochs"] == 3
    run_config = json.loads((run / "config.json").read_text())
    assert run_config["model"]["hidden_size"] == 16  # the options it was started with
    assert load_poly_run(run).voices == 4
