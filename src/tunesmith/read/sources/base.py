"""What a reader hands on: a piece as parts of timed notes, before any melody is chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

from tunesmith.keys import Key


@dataclass(slots=True)
class Part:
    """One part or track: notes as (onset, duration, pitch), times in quarter notes.

    ``is_chords`` marks a part made from a score's chord symbols (ABC's ``"Am"``): harmony
    for the events encoding, never a melody.
    """

    name: str
    notes: list[tuple[float, float, int]]
    is_drum: bool = False
    program: int = 0
    is_chords: bool = False

    @property
    def mean_pitch(self) -> float:
        return sum(map(itemgetter(2), self.notes)) / len(self.notes) if self.notes else 0.0


@dataclass(slots=True)
class Piece:
    """A whole piece as read from a file, with what the file says about key and metre.

    ``key`` is a full key the file states (tonic and mode); ``tonic`` a tonic alone, as
    Essen's ABC headers give it; ``sharps`` a key signature alone (negative: flats), as
    Kern's ``*k[...]`` gives it. What is missing is found by analysis.
    """

    name: str
    source: str
    parts: list[Part]
    tempo: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: Key | None = None
    tonic: int | None = None
    sharps: int | None = None
    meta: dict[str, str] = field(default_factory=dict)
