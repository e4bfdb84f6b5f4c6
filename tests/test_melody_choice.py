"""Which part is the melody: ``--melody auto`` (the default) and ``highest-mean`` on
arrangements whose melody is known (benchmarks/melody measures them on whole corpora)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.config import read_json
from tunesmith.read.sources import Item, find_files, read_item


def _anonymous_chorale(index: int = 0):
    """A chorale's four voices named 'part 1'..'part 4' (soprano first): no name helps."""
    from tunesmith.read.sources.base import Part

    piece = read_item(Item(str(find_files("chorales")[index])))
    voices = {p.name: p for p in piece.parts}
    satb = [voices[name] for name in ("Soprano", "Alto", "Tenor", "Bass")]
    parts = [Part(f"part {i}", p.notes) for i, p in enumerate(satb, start=1)]
    return piece, parts


def _with(piece, parts):
    from dataclasses import replace

    return replace(piece, parts=parts)


@pytest.mark.parametrize("index", [0, 5, 12])
def test_auto_finds_the_soprano_under_a_higher_sustained_pad(index: int) -> None:
    from tunesmith.read.extract import choose_part
    from tunesmith.read.sources.base import Part

    piece, parts = _anonymous_chorale(index)
    soprano, alto, tenor = parts[0], parts[1], parts[2]
    end = max(t + d for t, d, _ in soprano.notes)

    # a pad: the alto's and tenor's notes at each downbeat, two octaves up, held a bar
    def at(part, t):
        return next((p for s, d, p in part.notes if s <= t < s + d), 60)

    pad = [(float(b), 4.0, at(v, b) + 24) for b in range(0, int(end), 4) for v in (alto, tenor)]
    arrangement = _with(piece, [Part("part 0", pad), *parts])
    assert Part("", pad).mean_pitch > soprano.mean_pitch
    assert choose_part(arrangement, "highest-mean")[0].notes == pad  # the pad is higher
    chosen, why = choose_part(arrangement, "auto")
    assert chosen is arrangement.parts[1], why


def test_auto_finds_the_soprano_under_a_higher_held_line() -> None:
    from tunesmith.read.extract import choose_part, melody_scores
    from tunesmith.read.sources.base import Part

    piece, parts = _anonymous_chorale(3)
    soprano = parts[0]
    # one held note a bar, an octave above the soprano's downbeat note: monophonic and high
    line = [(t, 4.0, p + 12) for t, _, p in soprano.notes if t % 4 == 0]
    arrangement = _with(piece, [*parts, Part("part 5", line)])
    chosen, _ = choose_part(arrangement, "auto")
    assert chosen is arrangement.parts[0]
    scores = melody_scores(arrangement)
    held = scores[id(arrangement.parts[4])]
    assert held["density"] < scores[id(chosen)]["density"]  # what gives the held line away


def test_auto_finds_the_tune_under_a_higher_piano(nottingham_midi: Path) -> None:
    """A Nottingham tune with its chord track, and a pedalled piano arpeggio above it."""
    from tunesmith.read.extract import choose_part
    from tunesmith.read.sources.base import Part

    for name in ("ashover1.mid", "jigs269.mid", "reelsd-g29.mid", "waltzes37.mid"):
        piece = read_item(Item(str(nottingham_midi / name)))
        tune, chords = piece.parts[0], piece.parts[1]
        arpeggio = []
        for t, d, p in chords.notes:  # each chord note struck in turn, held a half note
            for k in range(int(d * 2)):
                arpeggio.append((t + k * 0.5 + (p % 3) / 6, 2.0, p + 36))
        piano = Part("Piano", arpeggio)
        arrangement = _with(piece, [piano, Part("", tune.notes), chords])
        assert piano.mean_pitch > tune.mean_pitch, name
        assert choose_part(arrangement, "highest-mean")[0] is piano
        assert choose_part(arrangement, "auto")[0] is arrangement.parts[1], name


def test_auto_agrees_with_the_upper_track_on_nottingham(nottingham_midi: Path) -> None:
    from tunesmith.read.extract import choose_part

    files = sorted(nottingham_midi.glob("*.mid"))[::20]
    for path in files:
        piece = read_item(Item(str(path)))
        assert choose_part(piece, "auto")[0] is piece.parts[0], path.name


def test_prepare_takes_the_tune_under_a_higher_pad_by_default(
    tmp_path: Path, nottingham_midi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Nottingham tune and its chords, under a string pad of the chords three octaves up,
    in a MIDI file whose tracks have no names: ``prepare`` with no --melody keeps the tune
    (the highest mean pitch, the default once, took the pad)."""
    from symusic import Note, Score, Track
    from typer.testing import CliRunner

    from tunesmith.cli import app

    monkeypatch.setenv("TUNESMITH_CACHE", str(tmp_path / "cache"))
    song = Score(str(nottingham_midi / "ashover1.mid"))
    tune, chords = (list(t.notes) for t in song.tracks)
    pad = Track("", 48)
    bar = 3 * song.ticks_per_quarter  # a bar of 3/4
    for n in chords:
        for start in range(n.time - n.time % bar, n.end, bar):
            pad.notes.append(Note(start, bar, n.pitch + 36, 60))
    song.tracks.append(pad)
    song.dump_midi(str(tmp_path / "song.mid"))
    out = tmp_path / "d"
    r = CliRunner().invoke(app, ["prepare", str(tmp_path / "song.mid"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    manifest = read_json(out / "manifest.json")
    assert manifest["data"]["melody"] == "auto"
    shift = manifest["pieces"][0]["transposed"]
    assert sorted(int(p) for p in manifest["pitches"]) == sorted({n.pitch + shift for n in tune})
