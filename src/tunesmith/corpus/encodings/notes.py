"""The note encodings: one token per note (``notes``) or per note and chord (``events``).

A token is what sounds and for how long, in quarter notes: ``60:1/2`` is middle C as an
eighth note, ``60.64.67:1`` a C major triad for a quarter (events only), ``r:3/2`` a
dotted-quarter rest. Lengths are snapped to a set (``--durations``; by default sixteenth to
whole note with dotted and triplet values), so a note held longer than the longest length
becomes that length and a rest. ``--durations none`` is the seeds' note-number-only variant:
tokens are bare pitches (``60``, ``60.64.67``), rests are dropped and every note lasts a
quarter, so rhythm is lost by design.

Snapping aims every note's end and every rest's end at its true time on the grid, so errors
never add up, and a note never runs past the next onset (it is shortened and a rest fills
in): a melody whose lengths are all in the set comes back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

from tunesmith.config import DataConfig
from tunesmith.corpus.encodings.vocab import END
from tunesmith.errors import EncodingError
from tunesmith.melody import Melody, Note, new_note

REST = "r"


class NotesEncoding:
    """See the module docstring; ``chords`` turns the notes encoding into events."""

    name = "notes"
    chords = False

    def __init__(self, config: DataConfig) -> None:
        self.steps_per_quarter = config.steps_per_quarter
        self.durations = config.duration_set  # [] = no durations (all notes a quarter)
        spq = self.steps_per_quarter
        self._steps = [int(d * spq) for d in self.durations]
        self._names = {s: _fraction(d) for s, d in zip(self._steps, self.durations, strict=True)}
        self._lengths = {name: s for s, name in self._names.items()}
        # A corpus asks the same few questions hundreds of thousands of times: remember them.
        self._fill = lru_cache(maxsize=4096)(self._fill_exact)
        self._nearest = lru_cache(maxsize=8192)(self._nearest_length)
        self._parse = lru_cache(maxsize=8192)(self._parse_token)

    # ---- encode

    def encode(self, melody: Melody) -> list[str]:
        if self._steps and melody.steps_per_quarter != self.steps_per_quarter:
            msg = (
                f"{melody.source or melody.name}: melody on a grid of {melody.steps_per_quarter} "
                f"steps per quarter, the encoding expects {self.steps_per_quarter}"
            )
            raise EncodingError(msg)
        events = melody.events
        if not self.chords and any(len(p) > 1 for _, _, p in events):
            msg = f"{melody.source or melody.name}: the notes encoding needs one note at a time"
            raise EncodingError(msg)
        if not self._steps:
            return [".".join(map(str, p)) for _, _, p in events]
        tokens: list[str] = []
        cursor = 0  # where the tokens so far end
        for i, (start, duration, pitches) in enumerate(events):
            rests = self._fill(start - cursor) if start > cursor else ()
            tokens += [f"{REST}:{self._names[s]}" for s in rests]
            cursor += sum(rests)
            nxt = events[i + 1][0] if i + 1 < len(events) else None
            end = start + duration if nxt is None else min(start + duration, nxt)
            room = None if nxt is None else nxt - cursor
            length = self._nearest(end - cursor, room)
            tokens.append(f"{'.'.join(map(str, pitches))}:{self._names[length]}")
            cursor += length
        rests = self._fill(melody.length - cursor) if melody.length > cursor else ()
        return tokens + [f"{REST}:{self._names[s]}" for s in rests]

    def _nearest_length(self, target: int, room: int | None = None) -> int:
        """The note length closest to ``target`` steps (the shorter one on a tie), among
        those that end by the next onset ``room`` steps ahead where any does: onsets matter
        more than how long a note is held."""
        fits = [s for s in self._steps if room is None or s <= room] or self._steps[:1]
        return min(fits, key=lambda s: (abs(s - target), s))

    def _fill_exact(self, gap: int) -> tuple[int, ...]:
        """Rest lengths whose sum is closest to ``gap`` steps, fewest tokens among those.

        Whole longest lengths are taken first, so the search runs over less than two of them.
        """
        longest = self._steps[-1]
        whole = max(0, gap // longest - 1)
        rest = gap - whole * longest
        # best[a] = fewest lengths summing to exactly a steps (coin change), up to rest + shortest
        limit = rest + self._steps[0]
        best: list[tuple[int, ...] | None] = [None] * (limit + 1)
        best[0] = ()
        for a in range(1, limit + 1):
            for s in self._steps:
                prev = best[a - s] if s <= a else None
                if prev is not None and (best[a] is None or len(prev) + 1 < len(best[a])):
                    best[a] = (*prev, s)
        reachable = [a for a in range(limit + 1) if best[a] is not None]
        amount = min(reachable, key=lambda a: (abs(a - rest), a))
        chosen = best[amount] or ()
        return (longest,) * whole + tuple(sorted(chosen, reverse=True))

    # ---- decode

    def decode(self, tokens: Sequence[str]) -> Melody:
        notes: list[Note] = []
        cursor = 0
        for token in tokens:
            if token == END:
                break
            pitches, length = self._parse(token)
            notes.extend(new_note((p, cursor, length)) for p in pitches)
            cursor += length
        return Melody(notes, steps_per_quarter=self.steps_per_quarter, length=cursor)

    def _parse_token(self, token: str) -> tuple[tuple[int, ...], int]:
        head, sep, tail = token.partition(":")
        if bool(sep) != bool(self._steps):
            raise EncodingError(f"{token!r} is not a token of the {self.name} encoding")
        length = self._lengths.get(tail) if sep else self.steps_per_quarter
        if length is None:
            known = ", ".join(self._lengths)
            msg = f"{token!r}: length {tail} is not one of the encoding's ({known})"
            raise EncodingError(msg)
        if head == REST:
            return (), length
        try:
            pitches = tuple(int(p) for p in head.split("."))
        except ValueError:
            raise EncodingError(f"{token!r} is not a token of the {self.name} encoding") from None
        if len(pitches) > 1 and not self.chords:
            raise EncodingError(f"{token!r}: a chord, which the notes encoding does not hold")
        if not all(0 <= p <= 127 for p in pitches):
            raise EncodingError(f"{token!r}: a pitch outside MIDI's 0-127")
        return pitches, length

    # ---- the rest of the Encoding protocol

    def seed_tokens(self, pitches: Sequence[int]) -> list[str]:
        if not self._steps:
            return [str(p) for p in pitches]
        quarter = self._names[self._nearest(self.steps_per_quarter)]
        return [f"{p}:{quarter}" for p in pitches]

    def base_tokens(self) -> list[str]:
        return [END] + [f"{REST}:{self._names[s]}" for s in self._steps]

    def steps(self, tokens: Sequence[str]) -> int:
        total = 0
        for t in tokens:
            if t == END:
                continue
            if not self._steps:
                total += self.steps_per_quarter
                continue
            length = self._lengths.get(t.rpartition(":")[2])
            if length is None:
                raise EncodingError(f"{t!r} is not a token of the {self.name} encoding")
            total += length
        return total

    def max_tokens(self, steps: int) -> int:
        """At most this many tokens fill ``steps`` steps (every token at least the shortest)."""
        return -(-steps // (self._steps[0] if self._steps else self.steps_per_quarter))


class EventsEncoding(NotesEncoding):
    """Notes, chords and rests of the full texture (see the module docstring)."""

    name = "events"
    chords = True


def _fraction(value: Fraction) -> str:
    """``1/2``, ``1``, ``3/2``: a length in quarter notes as a token writes it."""
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )
