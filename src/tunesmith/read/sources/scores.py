"""Read score formats with music21: MusicXML, Humdrum Kern and ABC (one tune at a time)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from tunesmith.errors import SourceError
from tunesmith.keys import Key
from tunesmith.read.sources.base import Part, Piece

_TUNE_START = re.compile(r"(?m)^(?=X:)")
_TITLE = re.compile(r"(?m)^T:\s*(.*)$")


def split_abc(text: str) -> list[str]:
    """Split an ABC tune book into tunes, each with the file header prepended.

    ABC 2.1 lets accidentals carry to the end of the bar; music21 applies that only when the
    text declares version 2.x, so every tune is marked ``%abc-2.1`` (abc2midi and
    EasyABC read tune books that way too).
    """
    chunks = _TUNE_START.split(text)
    header = "" if chunks[0].startswith("X:") else chunks[0]
    # The header's own version line would override ours; drop it.
    header = "\n".join(ln for ln in header.splitlines() if not ln.startswith("%abc"))
    return [f"%abc-2.1\n{header}\n{c}" for c in chunks if c.startswith("X:")]


def read_abc_tune(text: str, source: str, index: int) -> Piece:
    """Parse one ABC tune (as given by :func:`split_abc`)."""
    from music21 import converter

    title = _TITLE.search(text)
    name = f"{Path(source).stem} #{index + 1}" + (f" {title.group(1).strip()}" if title else "")
    try:
        score = converter.parse(text, format="abc")
    except Exception as exc:  # music21 raises many types on malformed ABC
        raise SourceError(f"{source} tune {index + 1}: ABC not readable ({exc})") from exc
    # ABC's K: field names a key signature; Essen's files use it for the tonic alone.
    piece = _to_piece(score, name, f"{source}#{index + 1}", trust_mode=False)
    return piece


def read_score_file(path: str | Path) -> Piece:
    """Parse a MusicXML (.xml, .mxl, .musicxml) or Kern (.krn) file."""
    from music21 import converter

    path = Path(path)
    try:
        score = converter.parse(str(path))
    except Exception as exc:
        raise SourceError(f"{path}: not a readable score ({type(exc).__name__}: {exc})") from exc
    return _to_piece(score, path.stem, str(path), trust_mode=True)


def _to_piece(score, name: str, source: str, *, trust_mode: bool) -> Piece:
    """Turn a music21 stream into a Piece: repeats expanded, ties merged, chords kept."""
    from music21 import bar, harmony, key, meter, stream, tempo

    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        if not scores:
            raise SourceError(f"{source}: holds no music")
        score = scores[0]
    if any(True for _ in score.recurse().getElementsByClass(bar.Repeat)):
        # Badly nested repeats cannot be expanded: keep the score as written.
        with contextlib.suppress(Exception):
            score = score.expandRepeats()

    parts = list(score.parts) if hasattr(score, "parts") and score.parts else [score]
    out = []
    for i, part in enumerate(parts):
        # A pickup bar starts at offset 0 in music21, its missing beats kept as paddingLeft;
        # shifting by them puts every note on its beat of the metre.
        first_bar = part.getElementsByClass(stream.Measure).first()
        pad = float(first_bar.paddingLeft) if first_bar is not None else 0.0
        notes: list[tuple[float, float, int]] = []
        symbols: list[tuple[float, list[int]]] = []
        part.stripTies(inPlace=True)  # the copying default costs a quarter of the parse
        for n in part.flatten().notes:
            if isinstance(n, harmony.ChordSymbol):  # "Am" above the staff: harmony, not notes
                symbols.append((float(n.offset) + pad, _voicing(n)))
                continue
            ql = float(n.quarterLength)
            if ql <= 0:  # grace notes have no time of their own
                continue
            onset = float(n.offset) + pad
            notes.extend((onset, ql, int(p.midi)) for p in n.pitches)
        out.append(Part(part.partName or f"part {i + 1}", notes))
        if symbols and notes:
            end = max(t + d for t, d, _ in notes)
            out.append(Part("chord symbols", _realize(symbols, end), is_chords=True))

    ts = next(iter(score.recurse().getElementsByClass(meter.TimeSignature)), None)
    mm = next(iter(score.recurse().getElementsByClass(tempo.MetronomeMark)), None)
    ks = next(iter(score.recurse().getElementsByClass(key.KeySignature)), None)
    piece = Piece(
        name,
        source,
        out,
        tempo=float(mm.getQuarterBPM()) if mm is not None and mm.number else 120.0,
        time_signature=(ts.numerator, ts.denominator) if ts is not None else (4, 4),
    )
    if isinstance(ks, key.Key):
        tonic = ks.tonic.pitchClass
        if trust_mode and ks.mode in ("major", "minor"):
            piece.key = Key(tonic, ks.mode)
        else:
            piece.tonic = tonic
    elif ks is not None:  # a signature without a mode: its major key or its relative minor
        piece.sharps = int(ks.sharps)
    return piece


def _voicing(symbol) -> list[int]:
    """A chord symbol's pitches in close position, its root between C3 and B3; none for
    "N.C."."""
    pitches = [int(p.midi) for p in symbol.pitches]
    if not pitches:
        return []
    shift = 48 + pitches[0] % 12 - pitches[0]
    return [p + shift for p in pitches]


def _realize(symbols: list[tuple[float, list[int]]], end: float) -> list[tuple[float, float, int]]:
    """Chord symbols as held chords: each sounds until the next symbol (or the last note)."""
    notes = []
    times = [t for t, _ in symbols[1:]] + [end]
    for (onset, pitches), until in zip(symbols, times, strict=True):
        if until > onset:
            notes.extend((onset, until - onset, p) for p in pitches)
    return notes
