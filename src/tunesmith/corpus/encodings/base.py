"""The Encoding interface and the registry of schemes, chosen by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tunesmith.config import DataConfig
from tunesmith.errors import ConfigError
from tunesmith.melody import Melody


class Encoding(Protocol):
    """Turns a melody into token strings and back. Pure: no I/O, no torch."""

    name: str

    def encode(self, melody: Melody) -> list[str]:
        """Tokens of one melody (no piece separators)."""
        ...

    def decode(self, tokens: Sequence[str]) -> Melody:
        """A melody from tokens; piece separators end it."""
        ...

    def seed_tokens(self, pitches: Sequence[int]) -> list[str]:
        """Tokens for seed notes given as bare pitches (each a quarter note long)."""
        ...

    def base_tokens(self) -> list[str]:
        """Tokens every vocabulary of this scheme holds, whatever the data."""
        ...

    def steps(self, tokens: Sequence[str]) -> int:
        """Length in grid steps of a token sequence."""
        ...


def max_tokens(encoding: Encoding, steps: int) -> int:
    """How many tokens to sample to fill ``steps`` grid steps: the encoding's bound where it
    has one (a note token spans several steps), else one token per step."""
    bound = getattr(encoding, "max_tokens", None)
    return bound(steps) if bound else steps


def get_encoding(config: DataConfig) -> Encoding:
    """The encoding a config names."""
    from tunesmith.corpus.encodings.notes import EventsEncoding, NotesEncoding
    from tunesmith.corpus.encodings.steps import StepsEncoding

    schemes = {"steps": StepsEncoding, "notes": NotesEncoding, "events": EventsEncoding}
    if config.encoding not in schemes:
        raise ConfigError(f"unknown encoding {config.encoding!r}; choose one of {list(schemes)}")
    return schemes[config.encoding](config)


def token_pitches(token: str) -> list[int]:
    """The pitches a token strikes: ``60`` (steps), ``60:1/2`` (notes), ``60.64.67:1``
    (events); none for holds, rests and separators."""
    head = token.partition(":")[0]
    parts = head.split(".")
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else []


def shift_token(token: str, semitones: int) -> str:
    """The token transposed by ``semitones`` (holds, rests and separators unchanged)."""
    pitches = token_pitches(token)
    if not pitches:
        return token
    _, sep, length = token.partition(":")
    return ".".join(str(p + semitones) for p in pitches) + sep + length
