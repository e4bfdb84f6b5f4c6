"""How well a melody fits its chords: the share of its notes on the beat that are chord tones
(a passing note off the beat is fine; on the beat a non-chord tone is heard as a clash)."""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.chords import parse_chord
from tunesmith.melody import Melody, steps_per_beat


def chord_tone_counts(melody: Melody, rows: Sequence[Sequence]) -> tuple[int, int]:
    """(chord tones, notes) among the melody's notes that start on a beat of its metre
    while a chord sounds; ``rows`` are ``[start, steps, name]`` as ``meta["chords"]``."""
    beat = steps_per_beat(melody.time_signature, melody.steps_per_quarter)
    sounding: dict[int, frozenset[int]] = {}
    for start, steps, name in rows:
        chord = parse_chord(name)
        if chord is not None:
            for step in range(start - start % beat, start + steps, beat):
                if start <= step:
                    sounding[step] = chord.pitch_classes
    hits = total = 0
    for note in melody.notes:
        tones = sounding.get(note.start) if note.start % beat == 0 else None
        if tones is not None:
            total += 1
            hits += note.pitch % 12 in tones
    return hits, total


def chord_tone_share(melodies: Sequence[Melody], rows: Sequence[Sequence[Sequence]]) -> float:
    """The share of on-beat notes that are chord tones, over all the melodies."""
    counts = [chord_tone_counts(m, r) for m, r in zip(melodies, rows, strict=True)]
    total = sum(t for _, t in counts)
    return sum(h for h, _ in counts) / total if total else 0.0
