"""Finding music in sources and reading it: MIDI, MusicXML, Kern and ABC, and bad files."""

from __future__ import annotations

import re
from pathlib import Path

import music21
import pytest

from tunesmith.errors import SourceError
from tunesmith.keys import Key
from tunesmith.read.sources import BUNDLED, Item, find_files, find_items, read_item
from tunesmith.read.sources.scores import split_abc

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NOTTINGHAM_ABC = SHARED / "nottingham" / "abc"
M21_CORPUS = Path(music21.__file__).parent / "corpus"


def _touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- find_files -------------------------------------------------------------------------


def test_find_files_in_a_folder(tmp_path: Path) -> None:
    wanted = [
        _touch(tmp_path / "b.mid"),
        _touch(tmp_path / "a.abc"),
        _touch(tmp_path / "sub" / "deeper" / "c.krn"),
        _touch(tmp_path / "sub" / "UPPER.MID"),
        _touch(tmp_path / "sub" / "d.musicxml"),
        _touch(tmp_path / "e.mxl"),
        _touch(tmp_path / "f.midi"),
        _touch(tmp_path / "g.xml"),
    ]
    for junk in ("notes.txt", "cover.png", "sub/readme.md", "tune.mid.bak", "mid"):
        _touch(tmp_path / junk)
    found = find_files(str(tmp_path))
    assert set(found) == set(wanted)
    assert found == sorted(found)
    assert find_files(str(tmp_path)) == found  # stable


def test_find_files_single_file(tmp_path: Path) -> None:
    f = _touch(tmp_path / "one.mid")
    _touch(tmp_path / "two.mid")
    assert find_files(str(f)) == [f]


def test_find_files_single_file_of_unknown_kind(tmp_path: Path) -> None:
    f = _touch(tmp_path / "notes.txt", b"C D E")
    with pytest.raises(SourceError, match=r"notes\.txt: not a music file"):
        find_files(str(f))


def test_find_files_bundled_corpus() -> None:
    files = find_files("essen")
    assert len(files) > 20
    assert files == sorted(files)
    assert all(f.suffix == ".abc" and f.parent.name == "essenFolksong" for f in files)
    chorales = find_files("chorales")
    assert len(chorales) > 300
    assert all(f.name.startswith("bwv") and f.suffix in (".mxl", ".xml") for f in chorales)
    assert set(BUNDLED) >= {"essen", "chorales", "oneills"}


def test_find_files_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(SourceError, match=re.escape(str(missing))) as info:
        find_files(str(missing))
    assert "no such file or folder" in str(info.value)


def test_find_files_empty_folder(tmp_path: Path) -> None:
    _touch(tmp_path / "readme.txt", b"nothing to see")
    with pytest.raises(SourceError, match="holds no music files") as info:
        find_files(str(tmp_path))
    assert str(tmp_path) in str(info.value)


# --- find_items and ABC tune books ------------------------------------------------------


def test_find_items_splits_a_tune_book() -> None:
    book = NOTTINGHAM_ABC / "waltzes.abc"
    if not book.is_file():
        pytest.skip(f"{book} not present")
    text = book.read_text(encoding="utf-8")
    n_tunes = len(re.findall(r"(?m)^X:", text))
    items = find_items([str(book)])
    assert n_tunes > 40
    assert len(items) == n_tunes
    assert [it.tune for it in items] == list(range(n_tunes))
    assert {it.path for it in items} == {str(book)}
    assert items[2].label == f"{book}#3"
    for it in items:
        assert it.text is not None
        assert it.text.startswith("%abc-2.1\n")
        assert len(re.findall(r"(?m)^X:", it.text)) == 1  # exactly its own tune


def test_find_items_mixes_files_and_tunes(tmp_path: Path) -> None:
    book = tmp_path / "book.abc"
    book.write_text("X:1\nT:One\nK:C\nCDEF|\n\nX:2\nT:Two\nK:G\nGABc|\n")
    midi = _touch(tmp_path / "z.mid")
    items = find_items([str(tmp_path)])
    assert [it.label for it in items] == [f"{book}#1", f"{book}#2", str(midi)]
    assert items[2].tune is None and items[2].text is None


def test_split_abc_keeps_the_file_header_and_replaces_its_version() -> None:
    text = "%abc-2.0\n%%scale 0.8\nM:6/8\n\nX:1\nT:A\nK:D\nDFA|\n\nX:2\nT:B\nK:G\nGBd|\n"
    tunes = split_abc(text)
    assert len(tunes) == 2
    for tune in tunes:
        assert tune.startswith("%abc-2.1\n")
        assert "%abc-2.0" not in tune
        assert "%%scale 0.8" in tune and "M:6/8" in tune
    assert "T:A" in tunes[0] and "T:B" not in tunes[0]
    assert "T:B" in tunes[1] and "T:A" not in tunes[1]


def test_split_abc_with_byte_order_mark(tmp_path: Path) -> None:
    book = tmp_path / "bom.abc"
    book.write_bytes("X:1\nT:One\nK:C\nCDEF|\n\nX:2\nT:Two\nK:G\nGABc|\n".encode("utf-8-sig"))
    items = find_items([str(book)])
    assert len(items) == 2
    assert "T:Two" not in items[0].text
    assert "T:One" not in items[1].text


# --- reading real music -----------------------------------------------------------------


def test_read_nottingham_midi(nottingham_midi: Path) -> None:
    path = nottingham_midi / "ashover1.mid"
    piece = read_item(Item(str(path)))
    assert piece.name == "ashover1" and piece.source == str(path)
    assert len(piece.parts) == 2
    melody, chords = piece.parts
    assert melody.mean_pitch > chords.mean_pitch + 12
    assert not melody.is_drum and not chords.is_drum
    assert piece.time_signature == (3, 4)
    assert piece.tempo > 0
    assert piece.key is None  # MIDI key signatures are left to analysis
    onsets = [n[0] for n in melody.notes]
    assert onsets == sorted(onsets)
    assert melody.notes[:3] == [(2.0, 1.0, 76), (3.0, 2.0, 74), (5.0, 1.0, 71)]
    # the accompaniment plays chords: notes that start together
    assert len({n[0] for n in chords.notes}) < len(chords.notes)


def test_read_chorale() -> None:
    path = find_files("chorales")[0]
    piece = read_item(Item(str(path)))
    names = [p.name for p in piece.parts]
    assert "Soprano" in names and "Bass" in names
    soprano = piece.parts[names.index("Soprano")]
    bass = piece.parts[names.index("Bass")]
    assert len(soprano.notes) > 30
    assert soprano.mean_pitch > bass.mean_pitch
    assert piece.key == Key(5, "major")  # MusicXML states the full key: F major
    assert piece.time_signature == (4, 4)


def test_read_essen_tune() -> None:
    items = find_items(["essen"])
    assert len(items) > 8000
    piece = read_item(items[0])
    assert "Hildebrandslied" in piece.name
    assert len(piece.parts) == 1
    assert piece.time_signature == (4, 2)
    # Essen's K: names only the tonic; the mode is left to analysis
    assert piece.key is None and piece.tonic == 7
    pitches = [p for _, _, p in piece.parts[0].notes]
    assert pitches[:3] == [67, 70, 70]  # G, then _B B: the flat carries through the bar
    assert any(p % 12 == 10 for p in pitches)  # B-flat occurs


def test_read_kern_file() -> None:
    path = M21_CORPUS / "bach" / "bwv277.krn"
    piece = read_item(Item(str(path)))
    assert piece.source == str(path)
    assert len(piece.parts) == 4
    assert all(len(p.notes) > 40 for p in piece.parts)
    means = [p.mean_pitch for p in piece.parts]
    assert means == sorted(means, reverse=True)  # soprano first, bass last
    assert piece.time_signature == (4, 4)


def test_read_oneills_tune() -> None:
    items = find_items(["oneills"])
    assert len(items) > 1500
    piece = read_item(items[0])
    assert "Enchanted Valley" in piece.name
    assert piece.source == items[0].label
    assert len(piece.parts) == 1 and len(piece.parts[0].notes) > 50
    assert piece.tonic is not None and piece.key is None


def test_abc_accidentals_carry_through_the_bar(tmp_path: Path) -> None:
    path = tmp_path / "flats.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\n_B B c B | B4|\n")
    (item,) = find_items([str(path)])
    piece = read_item(item)
    notes = piece.parts[0].notes
    assert [p for _, _, p in notes] == [70, 70, 72, 70, 71]
    assert [(t, d) for t, d, _ in notes] == [
        (0.0, 1.0),
        (1.0, 1.0),
        (2.0, 1.0),
        (3.0, 1.0),
        (4.0, 4.0),
    ]


def test_abc_ties_are_merged(tmp_path: Path) -> None:
    path = tmp_path / "ties.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:G\nG2 A2- | A B c d|\n")
    (item,) = find_items([str(path)])
    notes = read_item(item).parts[0].notes
    assert notes[:2] == [(0.0, 2.0, 67), (2.0, 3.0, 69)]


# --- unreadable files -------------------------------------------------------------------


def test_truncated_midi(tmp_path: Path, nottingham_midi: Path) -> None:
    path = tmp_path / "cut.mid"
    path.write_bytes((nottingham_midi / "ashover1.mid").read_bytes()[:40])
    with pytest.raises(SourceError, match=re.escape(str(path))) as info:
        read_item(Item(str(path)))
    assert "not a readable MIDI file" in str(info.value)


def test_garbage_midi(tmp_path: Path) -> None:
    path = tmp_path / "noise.mid"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SourceError, match=re.escape(str(path))):
        read_item(Item(str(path)))


def test_garbage_abc(tmp_path: Path) -> None:
    path = tmp_path / "prose.abc"
    path.write_text("This is a letter, not a tune.\nT: no tune number here\n")
    items = find_items([str(path)])
    assert items == [Item(str(path))]  # still one item, so the skip is counted
    with pytest.raises(SourceError, match=re.escape(str(path))) as info:
        read_item(items[0])
    assert "no ABC tune" in str(info.value)


def test_broken_musicxml(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text('<?xml version="1.0"?>\n<score-partwise><part id="P1"><measure number="1">')
    with pytest.raises(SourceError, match=re.escape(str(path))) as info:
        read_item(Item(str(path)))
    assert "not a readable score" in str(info.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "gone.krn"
    with pytest.raises(SourceError, match=re.escape(str(missing))):
        read_item(Item(str(missing)))
