"""Melody extraction: choose the melody part of a Piece, quantize it and make it monophonic."""

from __future__ import annotations

import math
import re

from tunesmith.config import DataConfig
from tunesmith.errors import EncodingError, SourceError
from tunesmith.keys import find_key
from tunesmith.melody import Melody, Note, make_monophonic
from tunesmith.sources.base import Part, Piece

# A part named like this is the melody whatever its pitch (a chorale's soprano, a vocal track).
_MELODY_NAME = re.compile(
    r"\b(melody|melodie|vocals?|voice|lead|soprano|sopran|canto|tune)\b", re.I
)


def choose_part(piece: Piece) -> tuple[Part, str]:
    """The melody part and why: a part named as the melody, else the highest mean pitch.

    Drum tracks and empty parts are never chosen.
    """
    candidates = [p for p in piece.parts if p.notes and not p.is_drum]
    if not candidates:
        reason = "only drum tracks" if any(p.notes for p in piece.parts) else "no notes"
        raise SourceError(f"{piece.source}: {reason}")
    named = [p for p in candidates if _MELODY_NAME.search(p.name)]
    if named:
        return named[0], f"part named {named[0].name!r}"
    best = max(candidates, key=lambda p: p.mean_pitch)
    return best, f"highest mean pitch ({best.mean_pitch:.1f}) of {len(candidates)} parts"


def quantize(notes: list[tuple[float, float, int]], steps_per_quarter: int) -> list[Note]:
    """Snap onsets and ends to the grid; a note shorter than a step keeps one step."""
    out = []
    for onset, duration, pitch in notes:
        # Halves round up (floor of x + 0.5): Python's round() would round them to even.
        start = math.floor(onset * steps_per_quarter + 0.5)
        end = math.floor((onset + duration) * steps_per_quarter + 0.5)
        out.append(Note(pitch, start, max(1, end - start)))
    return out


def extract_melody(piece: Piece, config: DataConfig) -> Melody:
    """Turn a piece into a quantized monophonic melody, key found, optionally in C / A minor.

    :raise SourceError: when there is no usable melody; the message says why.
    """
    spq = config.steps_per_quarter
    if config.melody == "skyline":
        pool = [n for p in piece.parts if not p.is_drum for n in p.notes]
        if not pool:
            raise SourceError(f"{piece.source}: no notes outside drum tracks")
        notes, why = quantize(pool, spq), "skyline over all non-drum parts"
    else:
        part, why = choose_part(piece)
        notes = quantize(part.notes, spq)
    line = make_monophonic(notes)
    if line:
        # Leading silence carries no information: drop whole bars of it, keeping the metre.
        num, den = piece.time_signature
        bar = max(1, round(num * 4 / den * spq))
        first = line[0].start - line[0].start % bar
        line = [Note(n.pitch, n.start - first, n.duration) for n in line]
    line = [n for n in line if n.start < config.max_steps]
    if line and line[-1].end > config.max_steps:
        last = line[-1]
        line[-1] = Note(last.pitch, last.start, config.max_steps - last.start)
    if len(line) < config.min_notes:
        msg = f"{piece.source}: too short ({len(line)} notes, at least {config.min_notes} needed)"
        raise SourceError(msg)

    key = piece.key or find_key(
        [n.pitch for n in line], [n.duration for n in line], tonic=piece.tonic
    )
    melody = Melody(
        notes=line,
        steps_per_quarter=spq,
        tempo=piece.tempo if math.isfinite(piece.tempo) and piece.tempo > 0 else 120.0,
        time_signature=piece.time_signature,
        key=key,
        name=piece.name,
        source=piece.source,
        meta={"melody": why},
    )
    if config.transpose and key is not None:
        shift = key.shift_to_c()
        try:
            melody = melody.transpose(shift)
        except EncodingError as exc:
            raise SourceError(f"{piece.source}: {exc}") from exc
        melody.meta["transposed"] = shift
    return melody
