"""The chords under a melody: a file's chord symbols where it has them (ABC's ``"Am"``), else
the harmony of its other parts (Nottingham's chord track), found one beat at a time."""

from __future__ import annotations

import numpy as np

from tunesmith.chords import find_chord
from tunesmith.read.sources import Part, Piece


def accompaniment(piece: Piece, melody: Part | None) -> list[tuple[float, float, int]]:
    """The notes the chords are found in: the chord-symbol part if the file has one, else
    every part but the melody and the drums."""
    symbols = [p for p in piece.parts if p.is_chords]
    parts = symbols or [p for p in piece.parts if p is not melody and not p.is_drum]
    return [n for p in parts for n in p.notes]


def chord_rows(grid: np.ndarray, offset: int, length: int, beat: int) -> list[list]:
    """Chords as ``[start, steps, name]`` rows over ``length`` steps, one found a beat from
    how long each pitch class sounds in it (the lowest note as a hint to the root), equal
    neighbours merged; a beat where nothing sounds is left out.

    :param grid: the accompaniment quantized as the melody is (pitch, start, steps rows).
    :param offset: the steps the melody's leading silence dropped (the chords move too).
    """
    beats = -(-length // beat) if length > 0 else 0
    if not len(grid) or not beats:
        return []
    weights = np.zeros((beats, 12))
    bass = np.full(beats, 1000)
    for pitch, start, steps in grid.tolist():
        start -= offset
        end = min(start + steps, length)
        for b in range(max(start, 0) // beat, min(-(-end // beat), beats)):
            overlap = min(end, (b + 1) * beat) - max(start, b * beat)
            if overlap > 0:
                weights[b, pitch % 12] += overlap
                bass[b] = min(bass[b], pitch)
    rows: list[list] = []
    for b in range(beats):
        chord = find_chord(weights[b], int(bass[b]) if bass[b] < 1000 else None)
        if chord is None:
            continue
        start, steps = b * beat, min(beat, length - b * beat)
        if rows and rows[-1][2] == chord.name and rows[-1][0] + rows[-1][1] == start:
            rows[-1][1] += steps
        else:
            rows.append([start, steps, chord.name])
    return rows
