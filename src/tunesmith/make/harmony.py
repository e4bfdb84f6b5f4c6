"""Melodies over given chords (``generate --chords``): the progression laid out in steps as
the chord-conditioned model's input, and the chords as a track of their own."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from tunesmith.chords import Chord, chord_steps, ids_per_step, parse_chord, parse_progression
from tunesmith.errors import ConfigError
from tunesmith.learn.checkpoint import Run
from tunesmith.melody import Melody, Note

Progression = list[tuple[Chord | None, Fraction | None]]


def read_progression(run: Run, text: str | None) -> Progression | None:
    """``--chords`` read for ``run``; ConfigError for a run without the chord input or a
    symbol that is not a chord."""
    if text is None:
        return None
    if not run.model_config.chords:
        raise ConfigError(
            f"--chords: {run.path} was trained without chords; train one on a corpus "
            "prepared with 'tunesmith prepare --chords'"
        )
    return parse_progression(text)


def lay_out(
    progression: Progression,
    total: int,
    time_signature: tuple[int, int],
    steps_per_quarter: int,
    into_model: int,
) -> tuple[np.ndarray, list[list]]:
    """The progression over ``total`` steps: the chord id at each step in the model's key
    (moved by ``into_model`` semitones, as the prime is), and ``[start, steps, name]`` rows
    as given, for the chord track."""
    laid = chord_steps(progression, total, time_signature, steps_per_quarter)
    rows = [[start, steps, chord.name] for start, steps, chord in laid if chord is not None]
    moved = [(s, n, c.transpose(into_model)) for s, n, c in laid if c is not None]
    return ids_per_step(moved, total), rows


def chord_track(melody: Melody, bass: int = 48) -> Melody | None:
    """The chords a melody was written over (``meta["chords"]``) as block chords in close
    position, a track to play beside it; None for a melody without chords."""
    rows = melody.meta.get("chords")
    if not rows:
        return None
    notes = []
    for start, steps, name in rows:
        chord = parse_chord(name)
        if chord is not None:
            notes.extend(Note(p, start, steps) for p in chord.voicing(bass))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return Melody(
        notes,
        melody.steps_per_quarter,
        length=melody.length,
        tempo=melody.tempo,
        time_signature=melody.time_signature,
        key=melody.key,
        name="chords",
    )
