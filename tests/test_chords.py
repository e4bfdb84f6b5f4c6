"""Chords: symbols and progressions read, chords found under real melodies, a chord-conditioned
model trained on Nottingham tunes, and melodies written over the chords asked for."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from symusic import Score
from test_extract import TUNE, write_midi
from testdata import NOTTINGHAM_MIDI, TINY_TRAIN_ARGS
from typer.testing import CliRunner

from tunesmith.chords import (
    CHORD_IDS,
    Chord,
    chord_steps,
    find_chord,
    ids_per_step,
    parse_chord,
    parse_progression,
)
from tunesmith.cli import app
from tunesmith.config import DataConfig, read_json
from tunesmith.corpus.context import CHORD
from tunesmith.corpus.dataset import Corpus
from tunesmith.errors import ConfigError
from tunesmith.judge.harmonystats import chord_tone_counts
from tunesmith.melody import Melody, Note
from tunesmith.read.extract import augment_keys, extract_melody
from tunesmith.read.sources import Item, read_item

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_chord_symbols_as_lead_sheets_write_them() -> None:
    assert parse_chord("C") == Chord(0, "")
    assert parse_chord("F#m7") == Chord(6, "m7")
    assert parse_chord("Bbmaj7") == Chord(10, "maj7")
    assert parse_chord("Ebmin") == Chord(3, "m")
    assert parse_chord("G7/B") == Chord(7, "7")  # the bass note is dropped
    assert parse_chord("N.C.") is None
    assert parse_chord("Am").pitch_classes == {9, 0, 4}
    assert parse_chord("Am").voicing() == [57, 60, 64]
    ids = {Chord(r, q).id for r in range(12) for q in ("", "m", "7", "m7", "maj7", "dim")}
    assert len(ids) == 72 and max(ids) < CHORD_IDS and min(ids) >= 1
    for bad in ("H", "Cmaj9", "c", "Am7b5x", ""):
        with pytest.raises(ConfigError, match="is not a chord symbol tunesmith reads"):
            parse_chord(bad)


def test_a_progression_fills_the_bars_asked_for_repeating() -> None:
    one_a_bar = parse_progression("C G Am F")
    laid = chord_steps(one_a_bar, 16 * 6, (4, 4), 4)  # six bars: the progression and a half
    assert [(s, n, c.name) for s, n, c in laid] == [
        (0, 16, "C"), (16, 16, "G"), (32, 16, "Am"), (48, 16, "F"), (64, 16, "C"), (80, 16, "G"),
    ]  # fmt: skip
    in_beats = parse_progression("C:2 G:2 | Am:3 F:1")
    assert in_beats[0] == (Chord(0, ""), Fraction(2))
    laid = chord_steps(in_beats, 32, (4, 4), 4)
    assert [(s, n) for s, n, _ in laid] == [(0, 8), (8, 8), (16, 12), (28, 4)]
    # in 6/8 a bar is six eighths, a beat an eighth
    assert [(s, n) for s, n, _ in chord_steps(parse_progression("D A:3"), 24, (6, 8), 4)] == [
        (0, 12), (12, 6), (18, 6),
    ]  # fmt: skip
    ids = ids_per_step([(0, 4, "C"), (8, 4, Chord(7, ""))], 16)
    assert ids[:4].tolist() == [Chord(0, "").id] * 4 and ids[4:8].tolist() == [0] * 4
    for text, message in (
        ("", "--chords is empty"),
        ("C:0", "the beats after ':' must be a number"),
        ("C Xm", "'Xm' is not a chord symbol"),
        ("C:1/3", None),
    ):
        with pytest.raises(ConfigError, match=message):
            chord_steps(parse_progression(text), 16, (4, 4), 4)


def test_a_chord_is_found_from_what_sounds() -> None:
    weights = np.zeros(12)
    weights[[7, 11, 2]] = 1.0  # G B D
    assert find_chord(weights).name == "G"
    weights[5] = 1.0  # and F: G7
    assert find_chord(weights).name == "G7"
    weights = np.zeros(12)
    weights[[9, 0, 4]] = [2, 1, 1]
    assert find_chord(weights, bass=45).name == "Am"
    assert find_chord(np.zeros(12)) is None


def test_the_chords_under_a_melody_come_from_its_accompaniment(tmp_path: Path) -> None:
    """C for two bars, G7 for one, then C, under a C major tune: found beat by beat, merged,
    and moved with the melody when it is transposed (here: the same tune in G)."""
    accompaniment = [(0.0, 8.0, p) for p in (48, 52, 55)]
    accompaniment += [(8.0, 4.0, p) for p in (43, 47, 50, 53)]
    accompaniment += [(12.0, 4.0, p) for p in (48, 52, 55)]
    path = write_midi(
        tmp_path / "tune.mid", [("melody", TUNE, False), ("chords", accompaniment, False)]
    )
    melody = extract_melody(read_item(Item(str(path))), DataConfig(chords=True))
    assert melody.meta["chords"] == [[0, 32, "C"], [32, 16, "G7"], [48, 16, "C"]]
    in_g = [(t, d, p + 7) for t, d, p in TUNE]
    moved = [(t, d, p + 7) for t, d, p in accompaniment]
    path = write_midi(tmp_path / "in-g.mid", [("melody", in_g, False), ("chords", moved, False)])
    melody = extract_melody(read_item(Item(str(path))), DataConfig(chords=True))
    assert melody.key.name == "C major"  # transposed to C, chords and all
    assert melody.meta["chords"] == [[0, 32, "C"], [32, 16, "G7"], [48, 16, "C"]]
    copies = augment_keys(melody, [24, 120])
    up_two = next(c for c in copies if c.meta["augmented"] == 2)
    assert [name for _, _, name in up_two.meta["chords"]] == ["D", "A7", "D"]
    # a melody alone has no chords under it: the piece is skipped, saying why
    lone = write_midi(tmp_path / "lone.mid", [("melody", TUNE, False)])
    from tunesmith.errors import SourceError

    with pytest.raises(SourceError, match="no chords under the melody"):
        extract_melody(read_item(Item(str(lone))), DataConfig(chords=True))


def test_chord_options_that_cannot_work_are_refused_in_one_line(tmp_path: Path) -> None:
    result = invoke(
        "prepare", NOTTINGHAM_MIDI, "--chords", "--melody", "skyline", "--out", tmp_path
    )
    assert result.exit_code == 2 and "--melody must be a part, not the skyline" in result.output
    result = invoke(
        "prepare", NOTTINGHAM_MIDI, "--chords", "--encoding", "events", "--out", tmp_path
    )
    assert result.exit_code == 2 and "--encoding must be steps or notes" in result.output


def test_chord_tones_on_the_beat_are_counted() -> None:
    # C E G C on the four beats of a C bar, then D F# A D (off the chord) over G
    notes = [Note(p, 4 * i, 4) for i, p in enumerate((60, 64, 67, 72, 62, 66, 69, 74))]
    melody = Melody(notes, 4, time_signature=(4, 4))
    assert chord_tone_counts(melody, [[0, 16, "C"], [16, 16, "G"]]) == (6, 8)  # D twice fits G
    assert chord_tone_counts(melody, [[0, 16, "C"]]) == (4, 4)  # no chord: not counted


@pytest.fixture(scope="module")
def chord_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chord-conditioned LSTM trained a few seconds on 30 Nottingham tunes."""
    base = tmp_path_factory.mktemp("chords")
    files = base / "in"
    files.mkdir()
    for path in sorted(NOTTINGHAM_MIDI.glob("*.mid"))[:30]:
        (files / path.name).symlink_to(path)
    result = invoke("prepare", files, "--chords", "--out", base / "data")
    assert result.exit_code == 0, result.output
    result = invoke("train", base / "data", "--out", base / "run", *TINY_TRAIN_ARGS, "--epochs", 2)
    assert result.exit_code == 0, result.output
    return base / "run"


def test_a_chord_corpus_carries_its_chords_into_the_context(chord_run: Path) -> None:
    corpus = Corpus.open(chord_run.parent / "data")
    assert corpus.data_config.chords and all(p["chords"] for p in corpus.pieces)
    first = corpus.pieces[0]
    column = np.asarray(corpus.context[first["start"] : first["start"] + first["length"], CHORD])
    assert column.any()  # the chord sounding at each token's onset
    assert read_json(chord_run / "config.json")["model"]["chords"] is True  # on by default


def test_generate_writes_the_melody_over_the_chords_asked_for(
    chord_run: Path, tmp_path: Path
) -> None:
    """Two tracks: the melody, and the chords asked for in the bars asked for (repeated),
    in MIDI and as chord symbols over the staff in MusicXML."""
    out = tmp_path / "out"
    result = invoke(
        "generate", chord_run, "--chords", "G C D G", "--bars", 8, "--num", 1, "--seed", 2,
        "--out", out, "--score",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    melody, chords = Score(str(out / "melody-01.mid")).tracks
    assert melody.notes and chords.name == "chords"
    tpq = 480
    by_bar: dict[int, set[int]] = {}
    for n in chords.notes:
        by_bar.setdefault(n.time // (4 * tpq), set()).add(n.pitch % 12)
    expected = [{7, 11, 2}, {0, 4, 7}, {2, 6, 9}, {7, 11, 2}] * 2
    assert [by_bar[b] for b in range(8)] == expected
    assert max(n.end for n in melody.notes) <= 8 * 4 * tpq  # the melody keeps to the bars
    assert "G major" in result.output  # the key of the chords
    xml = (out / "melody-01.musicxml").read_text()
    assert xml.count("<harmony") == 8


def test_chords_are_refused_where_they_cannot_be_honoured(
    chord_run: Path, tiny_run: Path, tmp_path: Path
) -> None:
    result = invoke("generate", chord_run, "--chords", "C Hm", "--out", tmp_path)
    assert result.exit_code == 2 and "chord 'Hm' is not a chord symbol" in result.output
    result = invoke("generate", tiny_run, "--chords", "C G", "--out", tmp_path)
    assert result.exit_code == 2 and "was trained without chords" in result.output
    result = invoke(
        "train", chord_run.parent / "data", "--out", tmp_path / "x", "--chords", "--no-form"
    )
    assert result.exit_code == 2 and "--chords must be off without --form" in result.output


def test_the_sampling_tracker_gives_the_chord_corpus_rows(chord_run: Path) -> None:
    """Sampling over a piece's own chords sees the rows training saw, chord column included."""
    from tunesmith.corpus import context as c
    from tunesmith.corpus.context import trackers

    corpus = Corpus.open(chord_run.parent / "data")
    for p in corpus.pieces[:10]:
        ids = [int(t) for t in corpus.tokens[p["start"] : p["start"] + p["length"]]]
        steps = int(c.token_steps(corpus.vocab, corpus.data_config)[ids].sum())
        chords = [ids_per_step(p["chords"], steps)]
        config = corpus.data_config
        (tracker,) = trackers(
            corpus.vocab, config, [p["time_signature"]], [steps], [p["key"]], chords
        )
        tracker.push(corpus.vocab.end_id)
        rows = []
        for token in ids:
            rows.append(tracker.row())
            tracker.push(token)
        rows.append(tracker.row())
        expected = corpus.context[p["start"] : p["start"] + p["length"] + 1]
        assert np.array_equal(np.array(rows), expected), p["name"]


def test_the_api_and_the_web_write_over_chords(chord_run: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    import tunesmith as ts
    from tunesmith.web import create_app

    (melody,) = ts.load(chord_run).generate(1, bars=4, chords="Am:2 E7:2", seed=1)
    assert melody.meta["chords"][:2] == [[0, 8, "Am"], [8, 8, "E7"]]
    assert melody.key.name == "A minor"
    assert [t.name for t in Score(str(melody.save_midi(tmp_path / "a.mid"))).tracks] == [
        "melody-01",
        "chords",
    ]
    with pytest.raises(ts.ConfigError, match="was trained without chords"):
        ts.load("essen").generate(1, bars=2, chords="C G")

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(chord_run, runs / "chordy")
    with TestClient(create_app(runs, tmp_path / "out", audio=False)) as client:
        (info,) = [r for r in client.get("/api/runs").json() if r["name"] == "chordy"]
        assert info["chords"] is True
        body = {"run": "chordy", "bars": 4, "chords": "C F G C", "seed": 3}
        answer = client.post("/api/generate", json=body)
        assert answer.status_code == 200, answer.text
        midi = client.get(answer.json()["files"]["midi"]).content
        (tmp_path / "web.mid").write_bytes(midi)
        assert len(Score(str(tmp_path / "web.mid")).tracks) == 2
        bad = client.post("/api/generate", json={**body, "chords": "C Q7"})
        assert bad.status_code == 422 and "'Q7' is not a chord symbol" in bad.json()["detail"]


def test_chords_from_a_file_and_moved_by_key(chord_run: Path, tmp_path: Path) -> None:
    """--chords-from takes a file's chords and metre (a Nottingham tune in 3/4); --key moves
    chords and melody together."""
    import tunesmith as ts

    model = ts.load(chord_run)
    tune = NOTTINGHAM_MIDI / "ashover1.mid"  # 3/4, in G
    (plain,) = model.generate(1, bars=4, seed=1)  # without chords it writes as any model
    assert plain.notes and "chords" not in plain.meta
    result = invoke(
        "generate", chord_run, "--chords-from", tune, "--bars", 4, "--num", 1, "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    assert "G major" in result.output
    score = Score(str(tmp_path / "melody-01.mid"))
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)
    (moved,) = model.generate(1, bars=4, chords="C G", key="D", seed=1)
    assert [name for _, _, name in moved.meta["chords"]][:2] == ["D", "A"]
    assert moved.key.name == "D major"
    result = invoke(
        "generate", chord_run, "--chords-from", tmp_path / "none.mid", "--out", tmp_path
    )
    assert result.exit_code == 1 and "none.mid: no such file" in result.output
