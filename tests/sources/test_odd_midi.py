"""MIDI files written byte by byte with the odd features real files have: type 0 with
several channels, running status, tempo and metre changes, drums, overlapping and
zero-length notes."""

from __future__ import annotations

import struct
from pathlib import Path

from symusic import Score

from tunesmith.config import DataConfig
from tunesmith.corpus.encodings import get_encoding
from tunesmith.read.extract import extract_melody
from tunesmith.read.sources import Item, read_item

TPQ = 96
TUNE = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74]  # one quarter each

Event = tuple[int, bytes]  # absolute tick, message (status byte first)


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack(">I", len(data)) + data


def _track(events: list[Event]) -> bytes:
    """A track chunk; channel messages use running status wherever the status repeats."""
    data, now, status = b"", 0, None
    for tick, message in sorted(events, key=lambda e: e[0]):  # stable: ties keep order
        if message[0] < 0xF0 and message[0] == status:
            message = message[1:]
        else:
            status = message[0] if message[0] < 0xF0 else None
        data += _vlq(tick - now) + message
        now = tick
    return _chunk(b"MTrk", data + b"\x00\xff\x2f\x00")


def _tempo(bpm: float) -> bytes:
    return b"\xff\x51\x03" + round(60_000_000 / bpm).to_bytes(3, "big")


def _events() -> list[Event]:
    """A flute tune (channel 1, note-offs as velocity 0), low chords (channel 2), a kick
    (channel 10); tempo 120 then 90 and 3/4 then 4/4 from beat 7; an E5 struck again
    while it sounds; a zero-length E7 that must not become the melody's top note."""
    ev: list[Event] = [
        (0, _tempo(120)),
        (0, b"\xff\x58\x04\x03\x02\x18\x08"),
        (0, b"\xc0\x49"),
        (6 * TPQ, _tempo(90)),
        (6 * TPQ, b"\xff\x58\x04\x04\x02\x18\x08"),
    ]
    for i, p in enumerate(TUNE):
        ev += [(i * TPQ, bytes([0x90, p, 80])), ((i + 1) * TPQ, bytes([0x90, p, 0]))]
    for bar in range(4):
        for p in (48, 52, 55):
            ev += [
                (bar * 3 * TPQ, bytes([0x91, p, 60])),
                ((bar + 1) * 3 * TPQ, bytes([0x81, p, 0])),
            ]
    for beat in range(12):
        ev += [(beat * TPQ, b"\x99\x24\x64"), (beat * TPQ + 10, b"\x89\x24\x00")]
    ev += [(2 * TPQ + 48, b"\x90\x4c\x50"), (2 * TPQ + 72, b"\x90\x4c\x00")]
    ev += [(5 * TPQ, b"\x90\x64\x50"), (5 * TPQ, b"\x90\x64\x00")]
    return ev


def test_type0_with_every_oddity(tmp_path: Path) -> None:
    path = tmp_path / "odd0.mid"
    path.write_bytes(_chunk(b"MThd", struct.pack(">HHH", 0, 1, TPQ)) + _track(_events()))
    piece = read_item(Item(str(path)))
    drums = [p for p in piece.parts if p.is_drum]
    assert len(drums) == 1 and {n[2] for n in drums[0].notes} == {36}
    assert piece.time_signature == (3, 4) and piece.tempo == 120
    assert all(d > 0 for p in piece.parts for _, d, _ in p.notes)  # the zero-length E7 is gone
    melody = extract_melody(piece, DataConfig(transpose=False))
    # a quarter a note whatever the tempo does; the E5 struck again under itself is dropped,
    # and the first note-off closes the first E5 (symusic pairs notes first in, first out)
    assert melody.pitches == TUNE and 100 not in melody.pitches
    assert [n.start for n in melody.notes] == [4 * i for i in range(12)]
    assert melody.notes[2].duration == 3
    for encoding in ("steps", "notes", "events"):
        config = DataConfig(encoding=encoding, transpose=False)
        m = extract_melody(piece, config)
        enc = get_encoding(config)
        assert enc.decode(enc.encode(m)).notes == m.notes, encoding


def test_type1_with_the_same_music_reads_the_same(tmp_path: Path) -> None:
    events = _events()
    meta = [e for e in events if e[1][0] == 0xFF]
    by_channel: dict[int, list[Event]] = {}
    for e in events:
        if e[1][0] != 0xFF:
            by_channel.setdefault(e[1][0] & 0x0F, []).append(e)
    tracks = [_track(meta)] + [_track(by_channel[c]) for c in sorted(by_channel)]
    path = tmp_path / "odd1.mid"
    path.write_bytes(_chunk(b"MThd", struct.pack(">HHH", 1, len(tracks), TPQ)) + b"".join(tracks))
    type0 = tmp_path / "odd0.mid"
    type0.write_bytes(_chunk(b"MThd", struct.pack(">HHH", 0, 1, TPQ)) + _track(events))
    assert Score(str(path)).note_num() == Score(str(type0)).note_num()
    one = extract_melody(read_item(Item(str(path))), DataConfig(transpose=False))
    zero = extract_melody(read_item(Item(str(type0))), DataConfig(transpose=False))
    assert one.notes == zero.notes
