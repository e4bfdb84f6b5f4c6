"""The time-step encoding: one token per grid step (``"60 _ _ _ r _ 62 _"``).

A step holds the MIDI pitch of a note that starts there, ``_`` while the previous note or
rest goes on, or ``r`` where a rest starts. With four steps per quarter a step is a
sixteenth. Durations are exact on the grid, so decode(encode(m)) gives m back.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.config import DataConfig
from tunesmith.corpus.encodings.vocab import END
from tunesmith.errors import EncodingError
from tunesmith.melody import Melody, Note

HOLD = "_"
REST = "r"


class StepsEncoding:
    """See the module docstring."""

    name = "steps"

    def __init__(self, config: DataConfig) -> None:
        self.steps_per_quarter = config.steps_per_quarter

    def encode(self, melody: Melody) -> list[str]:
        tokens = [HOLD] * melody.length
        cursor = 0
        for note in melody.notes:
            if note.start < cursor:
                msg = f"{melody.source or melody.name}: notes overlap at step {note.start}"
                raise EncodingError(msg)
            if note.start > cursor:
                tokens[cursor] = REST
            tokens[note.start] = str(note.pitch)
            cursor = note.end
        if cursor < melody.length:
            tokens[cursor] = REST
        return tokens

    def decode(self, tokens: Sequence[str]) -> Melody:
        notes: list[Note] = []
        pitch: int | None = None  # the note sounding now; None in a rest
        start = 0
        step = 0
        for step, token in enumerate(tokens):
            if token == END:
                break
            if token == HOLD:
                continue
            if pitch is not None:
                notes.append(Note(pitch, start, step - start))
            if token == REST:
                pitch = None
            else:
                pitch = _pitch(token)
                start = step
        else:
            step = len(tokens)
        if pitch is not None and step > start:
            notes.append(Note(pitch, start, step - start))
        return Melody(notes, steps_per_quarter=self.steps_per_quarter, length=step)

    def seed_tokens(self, pitches: Sequence[int]) -> list[str]:
        tokens: list[str] = []
        for p in pitches:
            tokens += [str(p)] + [HOLD] * (self.steps_per_quarter - 1)
        return tokens

    def base_tokens(self) -> list[str]:
        return [END, HOLD, REST]

    def steps(self, tokens: Sequence[str]) -> int:
        return sum(1 for t in tokens if t != END)

    def max_tokens(self, steps: int) -> int:
        return steps


def _pitch(token: str) -> int:
    try:
        pitch = int(token)
    except ValueError:
        raise EncodingError(f"{token!r} is not a token of the steps encoding") from None
    if not 0 <= pitch <= 127:
        raise EncodingError(f"pitch {pitch} is outside MIDI's 0-127")
    return pitch
