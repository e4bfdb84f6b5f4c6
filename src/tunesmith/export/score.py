"""Scores: a melody as MusicXML (music21) and the first page engraved as SVG (verovio)."""

from __future__ import annotations

import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from tunesmith.errors import TunesmithError, write_failed
from tunesmith.keys import Key
from tunesmith.melody import Melody


def speller(tonality: Key | None) -> Callable[[int], Any]:
    """MIDI pitch -> a music21 Pitch spelt as the key writes it: its scale's notes by the
    scale (Ab major's Db, D minor's C# leading note), others by the signature's side
    (sharps in sharp keys, flats in flat keys). White keys carry no accidental object, so
    the score shows only the accidentals the key signature does not."""
    from music21 import pitch, scale

    names: dict[int, str] = {}
    sharp_side: bool | None = None  # no key: music21's own spelling
    if tonality is not None:
        tonic = tonality.name.split()[0].replace("b", "-")
        scales = (
            [scale.MajorScale(tonic)]
            if tonality.mode == "major"
            else [scale.HarmonicMinorScale(tonic), scale.MinorScale(tonic)]
        )
        for sc in scales:
            for p in sc.getPitches():
                names.setdefault(p.pitchClass, p.name)
        sharp_side = tonality.sharps >= 0

    def spell(midi: int) -> Any:
        p = pitch.Pitch()
        p.midi = midi  # music21's default spelling: C#, E-, F#, G#, B-
        name = names.get(midi % 12)
        if name is None and p.accidental is not None and sharp_side is not None:
            name = p.name if (p.accidental.alter > 0) == sharp_side else p.getEnharmonic().name
        if name is not None and name != p.name:
            for octave in (p.octave - 1, p.octave, p.octave + 1):  # B#3 is C4, C-5 is B4
                spelt = pitch.Pitch(f"{name}{octave}")
                if spelt.midi == midi:
                    return spelt
        return p

    return spell


def melody_to_stream(melody: Melody):
    """A music21 Score with one part: key, time signature, tempo, notes, chords (the
    notes that start together, as the events encoding writes them) and rests, spelt in
    the key."""
    from music21 import chord, harmony, key, metadata, meter, note, stream, tempo

    spq = melody.steps_per_quarter
    spell = speller(melody.key)
    part = stream.Part()
    if melody.key is not None:
        tonic = melody.key.name.split()[0].replace("b", "-")
        part.append(
            key.Key(tonic if melody.key.mode == "major" else tonic.lower(), melody.key.mode)
        )
    part.append(meter.TimeSignature(f"{melody.time_signature[0]}/{melody.time_signature[1]}"))
    part.append(tempo.MetronomeMark(number=round(melody.tempo)))
    cursor = 0
    for start, duration, pitches in melody.events:
        if start > cursor:
            part.append(note.Rest(quarterLength=Fraction(start - cursor, spq)))
        length = Fraction(duration, spq)
        if len(pitches) == 1:
            part.append(note.Note(spell(pitches[0]), quarterLength=length))
        else:
            part.append(chord.Chord([spell(p) for p in pitches], quarterLength=length))
        cursor = start + duration
    if melody.length > cursor:
        part.append(note.Rest(quarterLength=Fraction(melody.length - cursor, spq)))
    for start, _, name in melody.meta.get("chords", []):  # written over: symbols above it
        figure = name[0] + name[1:].replace("b", "-", 1) if name[1:2] == "b" else name
        part.insert(Fraction(start, spq), harmony.ChordSymbol(figure))
    score = stream.Score([part])
    score.metadata = metadata.Metadata(
        title=melody.name or "tunesmith melody", composer="tunesmith"
    )
    return score.makeNotation()


def write_musicxml(melody: Melody, path: str | Path) -> Path:
    """Write the melody as MusicXML; ties, bars and beams are made by music21."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.musicxml")
    try:
        melody_to_stream(melody).write("musicxml", fp=str(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        raise write_failed(path, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_svg(musicxml: str | Path, path: str | Path, *, page: int = 1) -> Path:
    """Engrave a page of a MusicXML file as SVG with verovio."""
    try:
        import verovio
    except ImportError as exc:  # pragma: no cover - verovio is a dependency
        raise TunesmithError("engraving needs verovio: pip install verovio") from exc
    from importlib.resources import files

    toolkit = verovio.toolkit()
    # verovio keeps its default resource path per thread, set only in the thread that first
    # imported it: a toolkit made in another (a web worker) found no fonts and read nothing.
    toolkit.setResourcePath(str(files("verovio") / "data"))
    toolkit.setOptions(
        {
            "pageWidth": 2100,
            "pageHeight": 2970,
            "scale": 40,
            "adjustPageHeight": True,
            "footer": "none",
        }
    )
    if not toolkit.loadFile(str(musicxml)):
        raise TunesmithError(f"{musicxml}: verovio could not read it")
    svg = toolkit.renderToSVG(page)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(svg, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failed(path, exc) from exc
    return path
