"""Sampling and generation: state carried step by step, files that read back right."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from symusic import Score
from testdata import random_context

from tunesmith.corpus.context import trackers
from tunesmith.errors import ConfigError, EncodingError
from tunesmith.learn.checkpoint import load_run
from tunesmith.make.choose import filter_logits
from tunesmith.make.generate import GenerateOptions, generate
from tunesmith.make.sample import sample_ids


def test_stepping_matches_a_full_forward_pass(tiny_run: Path) -> None:
    """One step at a time with the state carried gives the logits of the whole sequence."""
    model = load_run(tiny_run).model
    vocab = len(load_run(tiny_run).vocab)
    ids = torch.randint(vocab, (2, 20), generator=torch.Generator().manual_seed(0))
    context = random_context(2, 20, vocab)
    with torch.no_grad():
        full, _ = model(ids, None, context)
        state, steps = None, []
        for t in range(ids.size(1)):
            logits, state = model(ids[:, t : t + 1], state, context[:, t : t + 1])
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=1e-4, atol=1e-5)


def test_filter_logits_top_k_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = filter_logits(logits.clone(), top_k=2).isfinite()
    assert kept.tolist() == [[True, True, False, False]]
    kept = filter_logits(logits.clone(), top_p=0.7).isfinite()
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.7, 0.5 + 0.3 reaches it
    kept = filter_logits(logits.clone(), top_p=0.5).isfinite()
    assert kept.tolist() == [[True, False, False, False]]
    assert filter_logits(logits.clone()).isfinite().all()


def test_sample_ids_batch_lengths_and_banned(tiny_run: Path) -> None:
    run = load_run(tiny_run)
    end = run.vocab.end_id
    out = sample_ids(
        run.model,
        [[end, 5], [end, 5, 6, 7]],
        30,
        banned=[end],
        form=trackers(run.vocab, run.data, [(4, 4), (3, 4)], [40, 40]),
        generator=torch.Generator().manual_seed(0),
    )
    assert [len(r) for r in out] == [32, 34]
    assert out[1][:4] == [end, 5, 6, 7]
    assert end not in out[0][1:] and end not in out[1][1:]


def test_sampling_is_reproducible_with_a_seed(tiny_run: Path, tmp_path: Path) -> None:
    a = generate(tiny_run, tmp_path / "a", GenerateOptions(num=2, length=48, seed=11))
    b = generate(tiny_run, tmp_path / "b", GenerateOptions(num=2, length=48, seed=11))
    assert [g.melody.notes for g in a] == [g.melody.notes for g in b]


def test_the_best_of_several_endings_keeps_the_bars_asked(tiny_run: Path, tmp_path: Path) -> None:
    """--endings N changes only each melody's last two bars: the same seed gives the same
    melody before them, and as many bars."""
    one = generate(tiny_run, tmp_path / "a", GenerateOptions(num=3, bars=6, seed=4, endings=1))
    best = generate(tiny_run, tmp_path / "b", GenerateOptions(num=3, bars=6, seed=4, endings=8))
    for a, b in zip(one, best, strict=True):
        assert a.melody.length == b.melody.length
        cut = a.melody.length - 2 * 16  # the opening's pickup shortens the last bar only
        early = [n for n in a.melody.notes if n.start + n.duration <= cut - 16]
        assert b.melody.notes[: len(early)] == early
        assert Score(str(b.midi)).tracks[0].notes


def test_generated_midi_reads_back(tiny_run: Path, tmp_path: Path) -> None:
    options = GenerateOptions(num=3, length=96, tempo=100, instrument="flute", seed=5)
    results = generate(tiny_run, tmp_path, options)
    vocab_pitches = [int(t) for t in load_run(tiny_run).vocab.tokens if t.isdigit()]
    assert len(results) == 3
    for r in results:
        assert r.midi.exists() and r.pianoroll.read_bytes()[:4] == b"\x89PNG"
        score = Score(str(r.midi))
        notes = score.tracks[0].notes
        assert len(notes) == len(r.melody.notes) > 0
        assert score.tempos[0].qpm == pytest.approx(100, abs=0.01)
        assert score.tracks[0].program == 73  # flute
        # The result is moved only by whole keys, so it stays near the data's range.
        assert min(n.pitch for n in notes) >= min(vocab_pitches) - 12
        assert max(n.pitch for n in notes) <= max(vocab_pitches) + 12


def test_seed_notes_open_the_melody_in_the_asked_key(tiny_run: Path, tmp_path: Path) -> None:
    for seed_notes in ("C4 D4 E4", "60,62,64", "60 _ _ _ 62 _ _ _ 64 _ _ _"):
        [g] = generate(
            tiny_run,
            tmp_path,
            GenerateOptions(num=1, bars=2, seed_notes=seed_notes, key="C", seed=1),
        )
        assert g.melody.pitches[:3] == [60, 62, 64]
        assert g.melody.notes[1].start == 4  # quarter notes on a sixteenth grid
        assert g.melody.length == 12 + 32  # the seed, then two bars of 4/4


def test_key_moves_the_tonic(tiny_run: Path, tmp_path: Path) -> None:
    [g] = generate(tiny_run, tmp_path, GenerateOptions(num=1, length=128, key="G", seed=2))
    assert g.melody.key is not None and g.melody.key.tonic == 7


@pytest.mark.parametrize(
    ("seed_notes", "match"),
    [("60,abc", "'abc'"), ("60,200", "200"), ("C-1", "never occurs"), ("", "empty")],
)
def test_bad_seed_notes(tiny_run: Path, tmp_path: Path, seed_notes: str, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        generate(tiny_run, tmp_path, GenerateOptions(num=1, seed_notes=seed_notes))


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": 0},
        {"top_p": 1.5},
        {"top_k": -1},
        {"num": 0},
        {"length": 0},
        {"tempo": 1000},
        {"instrument": "kazoo-bagpipe"},
        {"key": "H"},
    ],
)
def test_bad_options(tiny_run: Path, tmp_path: Path, options: dict) -> None:
    with pytest.raises(ConfigError):
        generate(tiny_run, tmp_path, GenerateOptions(**options))


def test_primer_file(tiny_run: Path, tmp_path: Path, midi_sample: Path) -> None:
    primer = sorted(midi_sample.glob("*.mid"))[0]
    [g] = generate(tiny_run, tmp_path, GenerateOptions(num=1, length=32, primer=str(primer)))
    assert len(g.melody.notes) > 8


def test_a_melody_goes_on_in_the_metre_it_opens_in(tiny_run: Path, tmp_path: Path) -> None:
    """A tune that opens in 3/4 goes on in 3/4: --bars counts its bars, and the MIDI says so
    (every melody was once written, and counted, as 4/4)."""
    results = generate(tiny_run, tmp_path, GenerateOptions(num=12, bars=3, seed=2))
    assert len({r.melody.time_signature for r in results}) > 2  # openings of several metres
    for r in results:
        num, den = r.melody.time_signature
        bar = round(num * 4 / den * r.melody.steps_per_quarter)
        opening = min(bar, 4 * r.melody.steps_per_quarter)
        # three bars after the opening; the last may end early, where the melody cadences
        assert opening + 2 * bar < r.melody.length <= opening + 3 * bar, r.melody.time_signature
        signature = Score(str(r.midi)).time_signatures[0]
        assert (signature.numerator, signature.denominator) == (num, den)
    [seeded] = generate(tiny_run, tmp_path, GenerateOptions(num=1, bars=2, seed_notes="C4 E4"))
    assert seeded.melody.time_signature == (4, 4) and 8 + 16 < seeded.melody.length <= 8 + 32


def test_a_primer_gives_its_metre(tiny_run: Path, tmp_path: Path) -> None:
    from symusic import Note as MidiNote
    from symusic import TimeSignature, Track

    score = Score(480)
    score.time_signatures.append(TimeSignature(0, 3, 4))
    track = Track("tune", 0, False)
    for i, pitch in enumerate([67, 69, 71, 72, 71, 69, 67, 64, 62, 60, 62, 64]):
        track.notes.append(MidiNote(i * 480, 480, pitch, 80))  # four bars of quarters
    score.tracks.append(track)
    score.dump_midi(str(tmp_path / "waltz.mid"))
    options = GenerateOptions(num=1, bars=2, primer=str(tmp_path / "waltz.mid"), seed=1)
    [g] = generate(tiny_run, tmp_path / "out", options)
    assert g.melody.time_signature == (3, 4)
    assert g.melody.length == 4 * 12 + 2 * 12  # the primer's four bars, then two of 3/4


def test_seed_notes_report_the_key_the_melody_was_generated_in(
    tiny_run: Path, tmp_path: Path
) -> None:
    """The model writes in C major / A minor; seed notes are moved into that frame by their
    own key and the melody back out, so the key reported, engraved and shown is the seed's
    frame moved back: never a key analysed from the sampled notes alone (C4 E4 G4 once came
    back as E minor, a melody full of F naturals)."""
    from music21 import converter

    options = GenerateOptions(num=8, bars=4, seed_notes="C4 E4 G4", seed=3, score=True)
    results = generate(tiny_run, tmp_path / "c", options)
    for g in results:
        assert g.melody.pitches[:3] == [60, 64, 67]
        assert g.melody.key is not None and g.melody.key.name in ("C major", "A minor")
        written = converter.parse(str(g.musicxml)).recurse().getElementsByClass("KeySignature")
        assert next(iter(written)).sharps == 0
    options = replace(options, seed_notes="D4 F#4 A4", score=False)
    for g in generate(tiny_run, tmp_path / "d", options):
        assert g.melody.pitches[:3] == [62, 66, 69]  # the seed as typed, in D
        assert g.melody.key is not None and g.melody.key.name in ("D major", "B minor")
