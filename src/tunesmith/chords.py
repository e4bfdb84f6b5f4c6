"""Chords: symbols as musicians write them (``C``, ``Am``, ``G7``, ``F#m7``, ``Bbmaj7``), a
progression as ``generate --chords`` reads it, and chords found in an accompaniment.

A chord is a root pitch class and a quality; :data:`QUALITIES` are the ones a lead sheet
of folk or popular music needs (Nottingham's chord tracks and ABC chord symbols use no
others), each a set of intervals above the root. A chord-conditioned model reads a chord
as one id (:meth:`Chord.id`, 0 meaning no chord).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from tunesmith.errors import ConfigError
from tunesmith.keys import LETTER_PITCH_CLASSES, Key
from tunesmith.melody import steps_per_bar

#: Roots as lead sheets spell them (flats for Eb, Ab, Bb; sharps for C# and F#).
_ROOT_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]

#: Quality suffix -> intervals above the root (the first spelling is how a chord is named).
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus4": (0, 5, 7),
}
_QUALITY_INDEX = {q: i for i, q in enumerate(QUALITIES)}
#: Other spellings of the same qualities.
_ALIASES = {
    "maj": "", "M": "", "min": "m", "-": "m", "mi": "m", "dom7": "7", "min7": "m7",
    "-7": "m7", "M7": "maj7", "Δ": "maj7", "°": "dim", "o": "dim", "+": "aug", "sus": "sus4",
}  # fmt: skip
#: Chord ids a model embeds: 0 (no chord), then 12 roots x the qualities.
CHORD_IDS = 1 + 12 * len(QUALITIES)
_SYMBOL = re.compile(r"^([A-G])([#b♯♭]?)(.*)$")
_NO_CHORD = {"N.C.", "NC", "N.C", "-", "x"}
EXAMPLES = "C, Am, G7, F#m7, Bbmaj7, Edim, Caug, Dsus4 or N.C."


@dataclass(frozen=True, slots=True)
class Chord:
    """A root pitch class (0 = C) and a quality (a key of :data:`QUALITIES`)."""

    root: int
    quality: str = ""

    @property
    def name(self) -> str:
        return _ROOT_NAMES[self.root] + self.quality

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def id(self) -> int:
        """The id a chord-conditioned model reads (1..CHORD_IDS-1)."""
        return 1 + self.root * len(QUALITIES) + _QUALITY_INDEX[self.quality]

    def transpose(self, semitones: int) -> Chord:
        return Chord((self.root + semitones) % 12, self.quality)

    def voicing(self, bass: int = 48) -> list[int]:
        """Close position, the root between ``bass`` and an octave above it."""
        root = bass + (self.root - bass) % 12
        return [root + i for i in QUALITIES[self.quality]]


def parse_chord(symbol: str) -> Chord | None:
    """``"F#m7"`` -> Chord(6, "m7"); a no-chord symbol (``N.C.``) -> None.

    A bass note after a slash (``C/E``) is read and dropped: the model conditions on the
    harmony, not its inversion. ConfigError names a symbol that is not a chord.
    """
    text = symbol.strip()
    if text in _NO_CHORD:
        return None
    match = _SYMBOL.match(text.split("/", 1)[0])
    if match:
        letter, accidental, quality = match.groups()
        quality = _ALIASES.get(quality, quality)
        if quality in QUALITIES:
            shift = {"#": 1, "♯": 1, "b": -1, "♭": -1}.get(accidental, 0)
            return Chord((LETTER_PITCH_CLASSES[letter] + shift) % 12, quality)
    raise ConfigError(f"chord {symbol!r} is not a chord symbol tunesmith reads (e.g. {EXAMPLES})")


def parse_progression(text: str) -> list[tuple[Chord | None, Fraction | None]]:
    """``"C G Am F"`` (one chord a bar) or ``"C:2 G:2 | Am:4"`` (lengths in beats) as
    (chord, beats) pairs, beats None for a whole bar; bar lines (``|``) and commas are
    ignored. ConfigError names what cannot be read."""
    items = [t for t in re.split(r"[\s,|]+", text.strip()) if t]
    if not items:
        raise ConfigError("--chords is empty; give chords such as 'C G Am F'")
    out: list[tuple[Chord | None, Fraction | None]] = []
    for item in items:
        symbol, _, length = item.partition(":")
        beats = None
        if length:
            try:
                beats = Fraction(length)
            except (ValueError, ZeroDivisionError):
                beats = None
            if beats is None or beats <= 0 or beats > 64:
                msg = f"chord length {item!r}: the beats after ':' must be a number in (0, 64]"
                raise ConfigError(msg)
        out.append((parse_chord(symbol), beats))
    return out


def chord_steps(
    progression: Sequence[tuple[Chord | None, Fraction | None]],
    total: int,
    time_signature: tuple[int, int],
    steps_per_quarter: int,
) -> list[tuple[int, int, Chord | None]]:
    """The progression laid out over ``total`` steps, repeated as often as it takes, as
    (start, steps, chord); a length in beats counts beats of the metre (a quarter in 4/4,
    an eighth in 6/8), a chord without one fills a bar. ConfigError for a length that
    does not fall on the grid."""
    bar = steps_per_bar(time_signature, steps_per_quarter)
    beat = Fraction(4, time_signature[1]) * steps_per_quarter  # steps a beat
    lengths = []
    for chord, beats in progression:
        steps = Fraction(bar) if beats is None else beats * beat
        if steps.denominator != 1:
            name = chord.name if chord else "N.C."
            raise ConfigError(f"chord {name}:{beats}: shorter than the grid allows")
        lengths.append(int(steps))
    out, at = [], 0
    while at < total:
        for (chord, _), steps in zip(progression, lengths, strict=True):
            if at >= total:
                break
            out.append((at, min(steps, total - at), chord))
            at += steps
    return out


def ids_per_step(chords: Sequence[tuple[int, int, str | Chord | None]], total: int) -> np.ndarray:
    """(total,) chord id sounding at each step (0: none); chords given by name or Chord."""
    out = np.zeros(total, dtype=np.int64)
    for start, steps, chord in chords:
        if isinstance(chord, str):
            chord = parse_chord(chord)
        if chord is not None and start < total:
            out[max(start, 0) : start + steps] = chord.id
    return out


def find_chord(weights: np.ndarray, bass: int | None = None) -> Chord | None:
    """The chord whose tones best cover ``weights`` (12 pitch-class weights, e.g. seconds
    sounding): each chord tone's weight counts, each other pitch class's counts against it
    half; the bass note as root breaks ties. None when nothing sounds."""
    total = float(np.sum(weights))
    if total <= 0:
        return None
    best, best_score = None, -np.inf
    for quality, intervals in QUALITIES.items():
        for root in range(12):
            tones = [(root + i) % 12 for i in intervals]
            inside = float(np.sum(weights[tones]))
            # a triad's extension must be heard to be chosen: fewer tones are preferred
            score = inside - 0.5 * (total - inside) - 0.05 * total * (len(tones) - 3)
            if bass is not None and bass % 12 == root:
                score += 0.1 * total
            if score > best_score:
                best, best_score = Chord(root, quality), score
    return best


def progression_key(chords: Sequence[Chord | None]) -> Key | None:
    """The key a progression is in: the first chord's root, major or minor as that chord is
    (a lead sheet almost always opens on its tonic)."""
    first = next((c for c in chords if c is not None), None)
    if first is None:
        return None
    return Key(first.root, "minor" if first.quality in ("m", "m7", "dim") else "major")
