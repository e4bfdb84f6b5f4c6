"""A vocabulary: token strings <-> integer ids, saved as JSON beside data and model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tunesmith.config import read_json, write_json
from tunesmith.errors import CheckpointError, EncodingError

#: Separates pieces in a token stream; a model primed with it starts a new piece.
END = "<end>"


class Vocab:
    """An ordered list of tokens; a token's id is its position."""

    def __init__(self, tokens: Sequence[str], encoding: str) -> None:
        if len(set(tokens)) != len(tokens):
            raise EncodingError("vocabulary holds a token twice")
        self.tokens = list(tokens)
        self.encoding = encoding
        self._ids = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    @property
    def end_id(self) -> int:
        return self._ids[END]

    def id(self, token: str) -> int:
        return self._ids[token]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Token strings to ids; an unknown token raises EncodingError naming it."""
        ids = self._ids
        try:
            return [ids[t] for t in tokens]
        except KeyError as exc:
            msg = f"token {exc.args[0]!r} is not in the model's vocabulary (it never occurs in "
            raise EncodingError(msg + "the data)") from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.tokens[i] for i in ids]

    def save(self, path: str | Path) -> None:
        write_json(path, {"encoding": self.encoding, "tokens": self.tokens})

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        try:
            data = read_json(path)
            return cls(data["tokens"], data["encoding"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{path}: not a tunesmith vocabulary ({exc})") from exc
