"""Melodies over given chords (``generate --chords``): the progression laid out in steps as
the chord-conditioned model's input, and the chords as a track of their own."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from tunesmith.chords import (
    Chord,
    chord_steps,
    ids_per_step,
    parse_chord,
    parse_progression,
    progression_key,
)
from tunesmith.errors import ConfigError
from tunesmith.keys import Key
from tunesmith.learn.checkpoint import Run
from tunesmith.melody import Melody, Note

Progression = list[tuple[Chord | None, Fraction | None]]


def read_progression(
    run: Run, text: str | None, path: str | None = None
) -> tuple[Progression | None, tuple[int, int], Key | None]:
    """``--chords`` (or ``--chords-from``'s file) read for ``run``, with the metre to write
    in and the key they are in (the file's; for chords given as text 4/4 and the first
    chord's). ConfigError for a run without the chord
    input or a symbol that is not a chord; SourceError for a file without chords."""
    if text is None and path is None:
        return None, (4, 4), None
    flag = "--chords" if path is None else "--chords-from"
    if text is not None and path is not None:
        raise ConfigError("give --chords or --chords-from, not both")
    if not run.model_config.chords:
        raise ConfigError(
            f"{flag}: {run.path} was trained without chords; train one on a corpus "
            "prepared with 'tunesmith prepare --chords'"
        )
    if path is None:
        progression = parse_progression(text or "")
        return progression, (4, 4), progression_key([c for c, _ in progression])
    return chords_of_file(path)


def chords_of_file(path: str) -> tuple[Progression, tuple[int, int], Key | None]:
    """The chords under a file's melody (its chord symbols, else found in its other parts)
    as a progression in its own key, its metre and that key."""
    from tunesmith.config import DataConfig
    from tunesmith.errors import SourceError
    from tunesmith.read.extract import extract_melody
    from tunesmith.read.sources import find_items, read_item

    if not Path(path).is_file():
        raise SourceError(f"--chords-from {path}: no such file")
    config = DataConfig(chords=True, transpose=False)
    melody = extract_melody(read_item(find_items([path])[0]), config)
    metre = melody.time_signature
    beat = Fraction(4, metre[1]) * config.steps_per_quarter
    progression: Progression = []
    at = 0
    for start, steps, name in melody.meta["chords"]:
        if start > at:  # no chord sounds: a rest in the progression
            progression.append((None, Fraction(start - at) / beat))
        progression.append((parse_chord(name), Fraction(steps) / beat))
        at = start + steps
    return progression, metre, melody.key


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


#: The chords' track: an acoustic guitar, as folk tunes are accompanied.
CHORD_PROGRAM = 24


def midi_tracks(melody: Melody, program: int) -> tuple[list[Melody], list[int]]:
    """What a melody's MIDI file holds, with each track's program: the melody, and the
    chords it was written over (if any) on :data:`CHORD_PROGRAM`."""
    track = chord_track(melody)
    return ([melody, track], [program, CHORD_PROGRAM]) if track else ([melody], [program])


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
