"""Score formats with more than one voice, and ABC's chord symbols and tuplets."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import music21
import pytest

from tunesmith.config import DataConfig
from tunesmith.corpus.encodings import get_encoding
from tunesmith.keys import Key
from tunesmith.read.extract import choose_part, extract_melody
from tunesmith.read.sources import Item, find_items, read_item

CORPUS = Path(music21.__file__).parent / "corpus"


@pytest.mark.parametrize("name", ["Agnus_01.krn", "Benedictus_00.krn", "Agnus_02.krn"])
def test_palestrina_kern_spines_are_parts(name: str) -> None:
    path = CORPUS / "palestrina" / name
    if not path.exists():
        pytest.skip(f"{path} not in this music21")
    piece = read_item(Item(str(path)))
    assert len(piece.parts) >= 3 and all(p.notes for p in piece.parts)
    top = max(piece.parts, key=lambda p: p.mean_pitch)
    for rule in ("highest-mean", "auto"):  # a top voice (Agnus_02 has two sopranos)
        assert choose_part(piece, rule)[0].name == top.name == "Soprano", rule
    chosen = choose_part(piece)[0]
    melody = extract_melody(piece, DataConfig(transpose=False))
    assert len(melody.notes) == len(chosen.notes)  # the voice whole, its ties merged
    texture = extract_melody(piece, DataConfig(encoding="events", transpose=False))
    assert 3 <= max(len(p) for _, _, p in texture.events) <= len(piece.parts)  # chords


def test_bach_kern_four_spines() -> None:
    piece = read_item(Item(str(CORPUS / "bach" / "bwv277.krn")))
    assert [len(p.notes) for p in piece.parts] == [51, 59, 66, 61]
    assert choose_part(piece, "auto")[0] is piece.parts[0]
    config = DataConfig(encoding="events", transpose=False)
    texture = extract_melody(piece, config)
    enc = get_encoding(config)
    tokens = enc.encode(texture)
    assert sum("." in t for t in tokens) > 40  # mostly four-part chords
    assert enc.decode(tokens).notes == texture.notes


def test_beethoven_quartet_kern_movement() -> None:
    """A string quartet in Kern: four spines, first violin the melody, double stops as
    chords, and the key from its signature (one flat, no key token): F major, not the C
    major that analysis alone finds in the violin's dominant-heavy scherzo tune."""
    path = CORPUS / "beethoven" / "opus18no1" / "movement3.krn"
    if not path.exists():
        pytest.skip(f"{path} not in this music21")
    piece = read_item(Item(str(path)))
    assert [p.name for p in piece.parts] == ["Violin", "Violin", "Viola", "Violoncello"]
    assert piece.key is None and piece.sharps == -1 and piece.time_signature == (3, 4)
    for rule in ("highest-mean", "auto"):
        assert choose_part(piece, rule)[0] is piece.parts[0], rule
    melody = extract_melody(piece, DataConfig(transpose=False))
    assert melody.key == Key(5, "major")
    assert 600 < len(melody.notes) < len(piece.parts[0].notes)  # double stops: the top note
    texture = extract_melody(piece, DataConfig(encoding="events", transpose=False))
    assert max(len(p) for _, _, p in texture.events) == 4
    enc = get_encoding(DataConfig(encoding="events"))
    assert [p for _, _, p in enc.decode(enc.encode(texture)).events] == [
        p for _, _, p in texture.events
    ]


ABC = """X:1
T:Chords and triplets
M:4/4
L:1/8
K:G
"G"G2 (3ABc d2 B2 | "C"c2 (3efg "D7"a4 | "G"g8 |]
X:2
T:Second tune
M:3/4
L:1/4
K:D
"D"d f a | "A"(3gfe d2 | d3 |]
"""


def test_abc_chord_symbols_are_harmony_and_triplets_stay(tmp_path: Path) -> None:
    path = tmp_path / "book.abc"
    path.write_text(ABC)
    items = find_items([str(path)])
    assert len(items) == 2
    piece = read_item(items[0])
    tune, harmony = piece.parts
    notes = sorted(tune.notes)
    # the tune holds the written notes only; "G", "C", "D7" become held chords of their own
    assert [p for _, _, p in notes] == [67, 69, 71, 72, 74, 71, 72, 76, 78, 79, 81, 79]
    assert harmony.is_chords and harmony.name == "chord symbols"
    chords = {}
    for t, d, p in harmony.notes:
        chords.setdefault((t, d), []).append(p)
    assert chords == {
        (0.0, 4.0): [55, 59, 62],  # G until the C
        (4.0, 2.0): [48, 52, 55],  # C until the D7
        (6.0, 2.0): [50, 54, 57, 60],  # D7 until the G
        (8.0, 4.0): [55, 59, 62],  # G to the end
    }
    assert choose_part(piece, "auto")[0] is tune and choose_part(piece)[0] is tune
    texture = extract_melody(piece, DataConfig(encoding="events", transpose=False, min_notes=1))
    assert texture.events[0] == (0, 12, (55, 59, 62, 67))  # G chord with the first G (a quarter)
    assert [Fraction(d).limit_denominator(12) for _, d, _ in notes[1:4]] == [Fraction(1, 3)] * 3
    config = DataConfig(encoding="notes", transpose=False, min_notes=1)
    tokens = get_encoding(config).encode(extract_melody(piece, config))
    assert tokens[:5] == ["67:1", "69:1/3", "71:1/3", "72:1/3", "74:1"]
    steps = extract_melody(piece, DataConfig(transpose=False, min_notes=1))
    assert [n.start for n in steps.notes[:5]] == [0, 4, 5, 7, 8]  # sixteenth grid: rounded
    second = extract_melody(read_item(items[1]), config)
    assert second.time_signature == (3, 4)
    assert get_encoding(config).encode(second)[3:6] == [
        "79:2/3",
        "78:2/3",
        "76:2/3",
    ]  # quarter triplets
