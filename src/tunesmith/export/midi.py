"""Writing melodies to Standard MIDI Files with symusic."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from symusic import KeySignature, Note, Score, Tempo, TimeSignature, Track

from tunesmith.errors import ConfigError
from tunesmith.files import write_atomically
from tunesmith.melody import Melody


def write_midi(
    melodies: Melody | Sequence[Melody],
    path: str | Path,
    *,
    program: int = 0,
    velocity: int = 90,
    ticks_per_quarter: int = 480,
    programs: Sequence[int] | None = None,
) -> Path:
    """Write one melody, or several as one track each, to a MIDI file.

    The first melody's tempo, time signature and key become the file's. A time signature
    whose denominator is not a power of two cannot be stored in MIDI and is left out.
    The file is written to a temporary name in the same folder and then moved into place,
    so a reader never sees half a file; missing parent folders are created.

    :param melodies: a melody or a sequence of melodies.
    :param path: where to write the ``.mid`` file.
    :param program: General MIDI program number 0-127 for every track.
    :param programs: instead, one program a track (a melody and its chords).
    :param velocity: MIDI velocity 1-127 for every note.
    :param ticks_per_quarter: the file's time resolution.
    :return: the path written.
    :raises ConfigError: for no melodies or an out-of-range program, velocity or resolution.
    """
    score = to_score(
        melodies, program=program, velocity=velocity, ticks_per_quarter=ticks_per_quarter,
        programs=programs,
    )  # fmt: skip
    # The bytes, written by Python: symusic's dump_midi() on a full disk leaves a
    # truncated file and reports nothing.
    return write_atomically(path, lambda tmp: tmp.write_bytes(score.dumps_midi()))


def to_score(
    melodies: Melody | Sequence[Melody],
    *,
    program: int = 0,
    velocity: int = 90,
    ticks_per_quarter: int = 480,
    programs: Sequence[int] | None = None,
) -> Score:
    """One melody, or several as one track each, as a symusic Score (what
    :func:`write_midi` writes; same parameters and errors)."""
    items = [melodies] if isinstance(melodies, Melody) else list(melodies)
    if not items:
        raise ConfigError("there are no melodies to write to a MIDI file")
    programs = list(programs) if programs is not None else [program] * len(items)
    if len(programs) != len(items):
        raise ConfigError(f"{len(programs)} MIDI programs for {len(items)} tracks")
    for program in programs:
        if not 0 <= program <= 127:
            raise ConfigError(f"MIDI program {program} is outside 0-127")
    if not 1 <= velocity <= 127:
        raise ConfigError(f"MIDI velocity {velocity} is outside 1-127")
    if ticks_per_quarter < 1:
        raise ConfigError(f"ticks per quarter must be positive, not {ticks_per_quarter}")

    score = Score(ticks_per_quarter)
    first = items[0]
    score.tempos.append(Tempo(0, qpm=float(first.tempo)))
    num, den = first.time_signature
    if num > 0 and den > 0 and den & (den - 1) == 0:
        score.time_signatures.append(TimeSignature(0, num, den))
    if first.key is not None:
        tonality = 0 if first.key.mode == "major" else 1
        score.key_signatures.append(KeySignature(0, first.key.sharps, tonality))
    for index, melody in enumerate(items):
        name = melody.name or f"melody {index + 1}"
        track = Track(name=name, program=programs[index], is_drum=False)
        spq = melody.steps_per_quarter
        for note in melody.notes:
            start = note.start * ticks_per_quarter // spq
            end = note.end * ticks_per_quarter // spq
            track.notes.append(Note(start, max(1, end - start), note.pitch, velocity))
        score.tracks.append(track)
    return score
