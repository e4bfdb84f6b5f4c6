"""The internal music model: a melody (or a line of chords) of notes on an integer time grid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from tunesmith.errors import EncodingError
from tunesmith.keys import Key

#: MIDI's pitch range.
MIN_PITCH, MAX_PITCH = 0, 127


def steps_per_bar(time_signature: tuple[int, int] | list[int], steps_per_quarter: int) -> int:
    """Grid steps in a bar of ``num/den`` (at least one): 16 for 4/4 at sixteenths."""
    num, den = time_signature
    return max(1, round(num * 4 / den * steps_per_quarter))


def steps_per_beat(time_signature: tuple[int, int] | list[int], steps_per_quarter: int) -> int:
    """Grid steps in a beat: a quarter in 4/4, a dotted quarter in 6/8, 9/8 and 12/8."""
    num = time_signature[0]
    beats = num // 3 if num in (6, 9, 12) else num
    return max(1, steps_per_bar(time_signature, steps_per_quarter) // max(beats, 1))


class Note(NamedTuple):
    """A note on the grid: MIDI pitch, onset step and length in steps (at least 1).

    A named tuple rather than a frozen dataclass: reading a corpus makes millions of notes,
    and a tuple is made four times faster.
    """

    pitch: int
    start: int
    duration: int

    @property
    def end(self) -> int:
        return self.start + self.duration


#: Note from a (pitch, start, duration) tuple, without the keyword-argument machinery of
#: ``Note(...)``: a third of the time, for the hundreds of thousands a corpus makes.
new_note = partial(tuple.__new__, Note)


@dataclass(slots=True)
class Melody:
    """A line of notes sorted by onset (then pitch); gaps are rests.

    Extracted melodies are monophonic: notes never overlap. A line read from the full
    texture (the events encoding) may hold chords: notes that share an onset and a duration.
    ``length`` is the total number of steps, so a trailing rest survives a round trip.
    """

    notes: list[Note]
    steps_per_quarter: int = 4
    length: int = 0
    tempo: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    key: Key | None = None
    name: str = ""
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        last_end = max([s + d for _, s, d in self.notes], default=0)
        self.length = max(self.length, last_end)

    @property
    def steps_per_bar(self) -> int:
        return steps_per_bar(self.time_signature, self.steps_per_quarter)

    @property
    def pitches(self) -> list[int]:
        return [n.pitch for n in self.notes]

    @property
    def events(self) -> list[tuple[int, int, tuple[int, ...]]]:
        """Notes grouped by onset: (start, duration, pitches low to high); a chord's duration
        is its longest note's."""
        groups: dict[int, list[Note]] = {}
        for n in self.notes:
            groups.setdefault(n.start, []).append(n)
        return [
            (start, max(n.duration for n in ns), tuple(sorted({n.pitch for n in ns})))
            for start, ns in sorted(groups.items())
        ]

    def cut(self, steps: int) -> Melody:
        """The first ``steps`` steps: later notes dropped, a note sounding at the cut shortened."""
        notes = [
            n._replace(duration=min(n.duration, steps - n.start))
            for n in self.notes
            if n.start < steps
        ]
        return replace(self, notes=notes, length=min(self.length, steps))

    def transpose(self, semitones: int) -> Melody:
        """Return a copy shifted by ``semitones``; raise if a pitch leaves MIDI's range."""
        if semitones == 0:
            return replace(self, notes=list(self.notes))
        notes = list(map(new_note, [(p + semitones, s, d) for p, s, d in self.notes]))
        bad = [n.pitch for n in notes if not MIN_PITCH <= n.pitch <= MAX_PITCH]
        if bad:
            msg = f"transposing by {semitones} semitones puts pitch {bad[0]} outside 0-127"
            raise EncodingError(msg)
        key = self.key.transpose(semitones) if self.key else None
        return replace(self, notes=notes, key=key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "notes": [[n.pitch, n.start, n.duration] for n in self.notes],
            "steps_per_quarter": self.steps_per_quarter,
            "length": self.length,
            "tempo": self.tempo,
            "time_signature": list(self.time_signature),
            "key": self.key.name if self.key else None,
            "name": self.name,
            "source": self.source,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Melody:
        return cls(
            notes=[Note(int(p), int(s), int(d)) for p, s, d in data["notes"]],
            steps_per_quarter=int(data["steps_per_quarter"]),
            length=int(data["length"]),
            tempo=float(data["tempo"]),
            time_signature=(int(data["time_signature"][0]), int(data["time_signature"][1])),
            key=Key.parse(data["key"]) if data.get("key") else None,
            name=data.get("name", ""),
            source=data.get("source", ""),
            meta=dict(data.get("meta", {})),
        )


def monophonic(grid: np.ndarray) -> np.ndarray:
    """Skyline: where notes overlap keep the highest, so at most one note sounds at a time.

    Of notes starting together the highest wins. A lower note that starts while a higher
    one still sounds is dropped; a higher note that starts cuts the sounding one short.

    :param grid: an (n, 3) array of pitch, start, duration rows; the line comes back so,
        sorted by onset. Reading a corpus calls this for every piece, so the common case,
        a part that is already one note at a time once each onset keeps its top note,
        costs a few array operations; only a part with overlaps left is walked note by note.
    """
    grid = grid[grid[:, 2] > 0]
    pitch, start, end = grid[:, 0], grid[:, 1], grid[:, 1] + grid[:, 2]
    # by onset; at each onset the highest pitch first, of equal pitches the longest
    grid = grid[np.lexsort((-end, -pitch, start))]
    first = np.ones(len(grid), dtype=bool)
    first[1:] = grid[1:, 1] != grid[:-1, 1]
    grid = grid[first]
    if (grid[1:, 1] >= (grid[:-1, 1] + grid[:-1, 2])).all():
        return grid
    line: list[list[int]] = []
    for p, s, d in grid.tolist():
        if line and s < line[-1][1] + line[-1][2]:
            if p <= line[-1][0]:
                continue
            line[-1][2] = s - line[-1][1]
        line.append([p, s, d])
    return np.array(line, dtype=grid.dtype).reshape(-1, 3)


def split_at_gaps(melody: Melody, gap: int) -> list[Melody]:
    """Split where no note sounds for at least ``gap`` steps (Magenta's melody extractor
    does the same); each part starts at the bar its first note falls in."""
    if gap <= 0 or not melody.notes:
        return [melody]
    parts: list[list[Note]] = [[]]
    sounding_until = melody.notes[0].start
    for n in melody.notes:
        if parts[-1] and n.start - sounding_until >= gap:
            parts.append([])
        parts[-1].append(n)
        sounding_until = max(sounding_until, n.end)
    if len(parts) == 1:
        return [melody]
    bar = melody.steps_per_bar
    out = []
    for i, notes in enumerate(parts, start=1):
        first = notes[0].start - notes[0].start % bar
        shifted = [n._replace(start=n.start - first) for n in notes]
        name = f"{melody.name} (part {i})"
        out.append(replace(melody, notes=shifted, length=0, name=name, meta=dict(melody.meta)))
    return out


def pickup_steps(opening: Melody, bar: int) -> int:
    """Steps of the pickup a piece's opening bar holds: a bar that starts on a rest and
    ends with notes (0 when it starts on its downbeat). A tune with a pickup of one beat
    has a last bar one beat short, so the two make a whole bar."""
    first = opening.notes[0].start if opening.notes else 0
    return bar - first if 0 < first < bar else 0
