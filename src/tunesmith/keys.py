"""Musical keys: parsing names, key finding from pitch content, transposition to C / A minor."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from tunesmith.errors import ConfigError

#: Note letters and their pitch classes.
LETTER_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAMES_SHARP = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_NAMES_FLAT = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
# Keys conventionally spelled with flats (major tonics; minor tonics are checked by relative).
_FLAT_MAJORS = {5, 10, 3, 8, 1, 6}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭s-]?)\s*(m|min|minor|maj|major|M)?\s*$")


@dataclass(frozen=True, slots=True)
class Key:
    """A tonic pitch class (0 = C) and a mode, ``major`` or ``minor``."""

    tonic: int
    mode: str = "major"

    @property
    def name(self) -> str:
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        names = _NAMES_FLAT if major_tonic in _FLAT_MAJORS else _NAMES_SHARP
        return f"{names[self.tonic]} {self.mode}"

    @property
    def sharps(self) -> int:
        """Signed count of sharps (negative: flats) of the key signature, -6..6."""
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        fifths = (major_tonic * 7) % 12
        # Spelled as the name is: Gb major has six flats, F# major six sharps.
        return fifths - 12 if major_tonic in _FLAT_MAJORS else fifths

    def transpose(self, semitones: int) -> Key:
        return Key((self.tonic + semitones) % 12, self.mode)

    def shift_to(self, other: Key) -> int:
        """Smallest shift in semitones (-6..5) that moves this key's tonic onto ``other``'s."""
        diff = (other.tonic - self.tonic) % 12
        return diff - 12 if diff > 5 else diff

    def shift_to_c(self) -> int:
        """Shift that moves a major key to C major and a minor key to A minor."""
        return self.shift_to(Key(0 if self.mode == "major" else 9, self.mode))

    @classmethod
    def of_signature(cls, sharps: int) -> tuple[Key, Key]:
        """The major key and the relative minor a signature of ``sharps`` (flats < 0) has."""
        major = (7 * sharps) % 12
        return cls(major, "major"), cls((major + 9) % 12, "minor")

    @classmethod
    def parse(cls, text: str) -> Key:
        """Read ``G``, ``G major``, ``Gm``, ``F# minor``, ``Bb``, ``e minor``.

        A lower-case tonic alone (``e``) means minor, as in Humdrum.
        """
        m = _KEY_RE.match(text)
        if not m:
            msg = f"key {text!r} is not a key name; use e.g. 'G', 'F# minor', 'Bbm'"
            raise ConfigError(msg)
        letter, accidental, mode_word = m.groups()
        tonic = LETTER_PITCH_CLASSES[letter.upper()]
        tonic += {"#": 1, "♯": 1, "s": 1, "b": -1, "♭": -1, "-": -1}.get(accidental, 0)
        if mode_word in ("m", "min", "minor"):
            mode = "minor"
        elif mode_word in ("maj", "major", "M"):
            mode = "major"
        else:
            mode = "minor" if letter.islower() else "major"
        return cls(tonic % 12, mode)


@cache
def _profiles() -> np.ndarray:
    """Krumhansl-Schmuckler key profiles as music21 ships them, rotated to all 24 keys,
    each centred and scaled to unit length (what the correlation in :func:`find_key` needs).

    Row ``mode * 12 + tonic`` (mode 0 = major, 1 = minor), column = pitch class.
    """
    from music21.analysis.discrete import KrumhanslSchmuckler

    ks = KrumhanslSchmuckler()
    rows = []
    for mode in ("major", "minor"):
        base = np.asarray(ks.getWeights(mode), dtype=np.float64)
        rows.extend(np.roll(base, tonic) for tonic in range(12))
    profiles = np.stack(rows)
    profiles -= profiles.mean(axis=1, keepdims=True)
    return profiles / np.linalg.norm(profiles, axis=1, keepdims=True)


def find_key(
    pitches: Sequence[int] | np.ndarray,
    durations: Sequence[float] | np.ndarray,
    tonic: int | None = None,
    sharps: int | None = None,
) -> Key | None:
    """Estimate the key from duration-weighted pitch classes (Krumhansl-Schmuckler).

    :param tonic: if the source names only a tonic (Essen's ``K:G`` for a G-minor tune),
        choose only the mode for that tonic.
    :param sharps: if the source gives only a key signature (a Kern ``*k[b-]``, a MusicXML
        key without a mode), choose between its major key and its relative minor.
    :return: the best key, or None when there are no notes.
    """
    pcs, weights = np.asarray(pitches), np.asarray(durations, dtype=np.float64)
    if len(pcs) != len(weights):
        raise ValueError(f"{len(pcs)} pitches but {len(weights)} durations")
    if not len(pcs):
        return None
    hist = np.bincount(pcs.astype(np.int64) % 12, np.maximum(weights, 1e-3), minlength=12)
    h = hist - hist.mean()
    scores = _profiles() @ h / (np.sqrt(h @ h) + 1e-12)
    if tonic is not None:
        major, minor = scores[tonic % 12], scores[12 + tonic % 12]
        return Key(tonic % 12, "major" if major >= minor else "minor")
    if sharps is not None:
        major, minor = Key.of_signature(sharps)
        return major if scores[major.tonic] >= scores[12 + minor.tonic] else minor
    best = int(np.argmax(scores))
    return Key(best % 12, "major" if best < 12 else "minor")


def pitch_name(pitch: int) -> str:
    """MIDI pitch to a name with octave, e.g. 60 -> C4, 61 -> C#4."""
    return f"{_NAMES_SHARP[pitch % 12]}{pitch // 12 - 1}"


def parse_pitch_name(text: str) -> int:
    """Note name with octave to MIDI pitch: ``C4`` = 60, ``F#3``, ``Bb5``, ``Eb-1``."""
    m = re.fullmatch(r"([A-Ga-g])([#♯b♭s]?)(-?\d+)", text.strip())
    if not m:
        msg = f"{text!r} is not a note name; use a letter, an optional # or b, and an octave (C4)"
        raise ConfigError(msg)
    letter, accidental, octave = m.groups()
    pitch = 12 * (int(octave) + 1) + LETTER_PITCH_CLASSES[letter.upper()]
    return pitch + {"#": 1, "♯": 1, "s": 1, "b": -1, "♭": -1}.get(accidental, 0)
