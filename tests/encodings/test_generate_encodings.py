"""Runs trained on the notes and events encodings generate MIDI of the length asked, in bars,
with chords written back as chords; evaluate works on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from music21 import converter
from symusic import Score

from tunesmith.config import DataConfig, ModelConfig, TrainConfig, read_json
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.judge.evaluate import evaluate_run
from tunesmith.learn.train import train_model
from tunesmith.make.generate import GenerateOptions, generate
from tunesmith.melody import pickup_steps


@pytest.fixture(scope="module", params=["notes", "events"])
def run(request, tmp_path_factory: pytest.TempPathFactory, midi_sample: Path) -> Path:
    encoding = request.param
    base = tmp_path_factory.mktemp(f"run-{encoding}")
    prepare_corpus(
        [str(midi_sample)], base / "data", DataConfig(encoding=encoding), jobs=1, limit=12
    )
    train_model(
        base / "data",
        base / "run",
        ModelConfig(embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0),
        TrainConfig(epochs=1, batch_size=16, sequence_length=32, seed=1),
    )
    return base / "run"


def test_vocab_beside_the_model_names_the_encoding(run: Path) -> None:
    vocab = read_json(run / "vocab.json")
    encoding = read_json(run / "config.json")["data"]["encoding"]
    assert vocab["encoding"] == encoding
    assert all(":" in t for t in vocab["tokens"][1:])  # every token carries its length


def test_generate_bars_mean_bars(run: Path, tmp_path: Path) -> None:
    results = generate(run, tmp_path, GenerateOptions(num=2, bars=4, seed=3))
    opening = read_json(run / "openings.json")[0]["tokens"]
    assert len(opening) < 32  # an opening is one bar of notes, not 48 tokens
    for r in results:
        score = Score(str(r.midi), ttype="quarter")
        notes = score.tracks[0].notes
        end = max(n.time + n.duration for n in notes)
        num, den = r.melody.time_signature
        bar = num * 4 / den  # quarters in a bar of the opening's metre
        # the opening (a bar, at most four quarters) plus the four bars asked for, the last
        # one short by the opening's pickup, as a tune with a pickup is written
        q = r.melody.steps_per_quarter
        pickup = pickup_steps(r.melody, round(bar * q))
        assert end <= min(bar, 4) + 4 * bar - pickup / q + 1e-6, r.midi
        assert r.melody.length == (min(bar, 4) + 4 * bar) * q - pickup


def test_seed_notes_start_the_melody(run: Path, tmp_path: Path) -> None:
    results = generate(run, tmp_path, GenerateOptions(num=1, bars=2, seed_notes="C5 D5", seed=1))
    melody = results[0].melody
    q = melody.steps_per_quarter
    assert [(n.pitch, n.start, n.duration) for n in melody.notes[:2]] == [(72, 0, q), (74, q, q)]


def test_typed_note_tokens_start_the_melody(run: Path, tmp_path: Path) -> None:
    """Note tokens without a rest among them were once read as note names and refused."""
    options = GenerateOptions(num=1, bars=2, seed_notes="72:1 74:1/2", seed=1)
    melody = generate(run, tmp_path, options)[0].melody
    q = melody.steps_per_quarter
    assert [(n.pitch, n.start, n.duration) for n in melody.notes[:2]] == [
        (72, 0, q),
        (74, q, q // 2),
    ]


def test_events_write_chords(run: Path, tmp_path: Path) -> None:
    if read_json(run / "config.json")["data"]["encoding"] != "events":
        pytest.skip("chords belong to the events encoding")
    results = generate(run, tmp_path, GenerateOptions(num=4, bars=8, seed=5, score=True))
    onsets = [n.time for r in results for n in Score(str(r.midi)).tracks[0].notes]
    assert len(onsets) > len(set(onsets))  # notes that start together: chords
    for r in results:  # the score writes them as chords too
        parsed = converter.parse(r.musicxml).stripTies().flatten().notes
        chords = [tuple(sorted(p.midi for p in n.pitches)) for n in parsed]
        assert chords == [pitches for _, _, pitches in r.melody.events]


def test_evaluate_counts_notes_and_rests(run: Path) -> None:
    report = evaluate_run(run, samples=4, length=64, seed=0)
    p = report["prediction"]
    assert p["onset_share"] > 0.5 and "hold_share" not in p
    assert 0 < p["onset_share"] + p.get("rest_share", 0) <= 1.0 + 1e-9
    assert report["copying"]["max_bars"] >= 0
