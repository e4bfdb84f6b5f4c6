"""What generation starts from: seed notes typed by a user, or a primer file's melody."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tunesmith.config import DataConfig
from tunesmith.errors import ConfigError, EncodingError, SourceError
from tunesmith.keys import parse_pitch_name
from tunesmith.melody import Melody


@dataclass(frozen=True)
class Seed:
    """Seed notes as bare pitches (each becomes a quarter note) or as encoded tokens."""

    pitches: tuple[int, ...] = ()
    tokens: tuple[str, ...] = ()


def parse_seed(text: str, structural: set[str]) -> Seed:
    """Read ``"60,62,64"``, ``"C4 D4 E4"`` or an encoded string like ``"60 _ _ _ 62 _"``.

    :param structural: the encoding's non-pitch tokens (``_``, ``r``); a seed holding any
        of them, or a token with a length (``60:1/2``), is taken as an encoded string and
        passed through as it is.
    :raise EncodingError: naming the first part that is not a note, with what to write.
    """
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise EncodingError("--seed-notes is empty; give e.g. '60,62,64' or 'C4 D4 E4'")
    if any(p in structural or ":" in p for p in parts):  # "_", "r", "60:1/2", "r:1"
        return Seed(tokens=tuple(parts))
    pitches = []
    for p in parts:
        if re.fullmatch(r"-?\d+", p):
            pitch = int(p)
            if not 0 <= pitch <= 127:
                raise EncodingError(f"seed note {pitch} is outside MIDI's 0-127")
        else:
            try:
                pitch = parse_pitch_name(p)
            except ConfigError:
                msg = (
                    f"seed note {p!r} is neither a MIDI number (0-127) nor a note name "
                    "like C4 or F#3"
                )
                raise EncodingError(msg) from None
            if not 0 <= pitch <= 127:
                raise EncodingError(f"seed note {p} (MIDI {pitch}) is outside MIDI's 0-127")
        pitches.append(pitch)
    return Seed(pitches=tuple(pitches))


def read_primer(path: str | Path, data: DataConfig) -> Melody:
    """The melody of a primer file (MIDI, MusicXML, Kern or ABC; an ABC book's first tune),
    extracted as the training data was but left in its own key."""
    from dataclasses import replace

    from tunesmith.read.extract import extract_melody
    from tunesmith.read.sources import find_items, read_item

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"--primer {path}: no such file")
    items = find_items([str(path)])
    options = replace(data, transpose=False, min_notes=1)
    return extract_melody(read_item(items[0]), options)
