"""Tests for piano-roll pictures."""

from __future__ import annotations

from pathlib import Path

from tunesmith.export import write_pianoroll
from tunesmith.keys import Key
from tunesmith.melody import Melody, Note

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_writes_png(tmp_path: Path) -> None:
    notes = [Note(p, 2 * i, 2) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    melody = Melody(notes, time_signature=(3, 4), key=Key(7), tempo=96, name="scale")
    path = write_pianoroll(melody, tmp_path / "rolls" / "scale.png")
    assert path == tmp_path / "rolls" / "scale.png"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 5_000
    width, height = png_size(path)
    assert (width, height) == (1200, 420)
    assert [p.name for p in path.parent.iterdir()] == ["scale.png"]


def test_long_melody_is_wider_but_capped(tmp_path: Path) -> None:
    long = Melody([Note(50 + i % 20, 4 * i, 4) for i in range(500)], name="long")
    path = write_pianoroll(long, tmp_path / "long.png", title="A long one")
    assert path.read_bytes().startswith(PNG_MAGIC)
    width, _ = png_size(path)
    assert 1200 < width <= 24 * 120


def test_empty_melody(tmp_path: Path) -> None:
    path = write_pianoroll(Melody([], name="nothing"), tmp_path / "empty.png")
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1_000
