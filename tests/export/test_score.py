"""Scores: MusicXML that parses back with the same notes, and an engraved SVG."""

from __future__ import annotations

from pathlib import Path

from music21 import converter, key, meter, tempo

from tunesmith.export.score import write_musicxml, write_svg
from tunesmith.keys import Key
from tunesmith.make.generate import GenerateOptions, generate
from tunesmith.melody import Melody, Note


def test_musicxml_round_trip(tmp_path: Path) -> None:
    # A note across the bar line (tied in the score), a rest, a dotted note, 3/4 in G.
    notes = [Note(67, 0, 4), Note(69, 4, 2), Note(71, 6, 10), Note(74, 20, 6), Note(72, 26, 2)]
    melody = Melody(notes, length=32, key=Key(7, "major"), time_signature=(3, 4), tempo=96)
    path = write_musicxml(melody, tmp_path / "m.musicxml")
    score = converter.parse(path).stripTies()
    got = [
        (n.pitch.midi, float(n.offset) * 4, float(n.quarterLength) * 4)
        for n in score.flatten().notes
    ]
    assert got == [(n.pitch, n.start, n.duration) for n in notes]
    flat = score.flatten()
    assert flat.getElementsByClass(key.KeySignature)[0].sharps == 1
    assert flat.getElementsByClass(meter.TimeSignature)[0].ratioString == "3/4"
    assert flat.getElementsByClass(tempo.MetronomeMark)[0].number == 96
    svg = write_svg(path, tmp_path / "m.svg")
    assert "<svg" in svg.read_text()[:500]


def test_generate_with_score(tiny_run: Path, tmp_path: Path) -> None:
    [g] = generate(tiny_run, tmp_path, GenerateOptions(num=1, bars=2, key="F", score=True))
    parsed = converter.parse(g.musicxml).stripTies()
    assert [n.pitch.midi for n in parsed.flatten().notes] == g.melody.pitches
    assert g.svg is not None and g.svg.exists()


def test_chords_are_written_as_chords(tmp_path: Path) -> None:
    """An events melody's chords come back as chords, not as notes one after another."""
    notes = [
        Note(48, 0, 4), Note(55, 0, 4), Note(64, 0, 4),  # a C chord of a quarter
        Note(67, 4, 2),  # a single note
        Note(53, 8, 8), Note(57, 8, 8), Note(65, 8, 8),  # an F chord of a half, after a rest
    ]  # fmt: skip
    melody = Melody(notes, length=16, key=Key(0, "major"))
    score = converter.parse(write_musicxml(melody, tmp_path / "c.musicxml")).stripTies()
    got = [
        (sorted(p.midi for p in n.pitches), float(n.offset) * 4, float(n.quarterLength) * 4)
        for n in score.flatten().notes
    ]
    assert got == [([48, 55, 64], 0, 4), ([67], 4, 2), ([53, 57, 65], 8, 8)]


def test_notes_are_spelt_in_the_key(tmp_path: Path) -> None:
    """No naturals on a key's own notes (music21 marks every MIDI-made white key natural),
    and black keys spelt as the key writes them: Ab major's Db, D minor's C#."""

    def spelt(pitches: list[int], tonality: Key) -> tuple[list[str], int]:
        notes = [Note(p, 4 * i, 4) for i, p in enumerate(pitches)]
        path = write_musicxml(Melody(notes, key=tonality), tmp_path / "s.musicxml")
        text = path.read_text()
        parsed = converter.parse(path).flatten().notes
        assert [n.pitch.midi for n in parsed] == pitches
        return [n.pitch.name for n in parsed], text.count("<accidental>")

    names, shown = spelt([67, 69, 71, 72, 74, 76, 78, 79], Key(7, "major"))
    assert names == ["G", "A", "B", "C", "D", "E", "F#", "G"] and shown == 0
    names, shown = spelt([68, 70, 72, 73, 75, 77, 79, 80], Key(8, "major"))
    assert names == ["A-", "B-", "C", "D-", "E-", "F", "G", "A-"] and shown == 0
    names, shown = spelt([62, 64, 65, 67, 69, 70, 73, 74], Key(2, "minor"))
    assert names[-2] == "C#" and shown == 1  # the leading note, sharpened against the key
    names, shown = spelt([67, 65, 67], Key(7, "major"))
    assert names == ["G", "F", "G"] and shown == 1  # F natural in G major is marked


def test_engraving_works_in_any_thread(tmp_path: Path) -> None:
    """verovio's default resource path is per thread (the one that imported it): the web
    studio engraves in worker threads, where scores came out as "verovio could not read it"
    whenever another thread had imported verovio first."""
    import threading

    import verovio  # noqa: F401  (imported here, in this thread, first)

    melody = Melody([Note(60, 0, 4), Note(64, 4, 4), Note(67, 8, 8)], 4, key=Key(0))
    xml = write_musicxml(melody, tmp_path / "m.musicxml")
    errors: list[BaseException] = []

    def engrave() -> None:
        try:
            write_svg(xml, tmp_path / "m.svg")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=engrave)
    worker.start()
    worker.join()
    assert not errors, errors
    assert (tmp_path / "m.svg").read_text().startswith("<svg")
