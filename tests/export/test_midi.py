"""Tests for writing melodies to MIDI files and reading them back with symusic."""

from __future__ import annotations

from pathlib import Path

import pytest
from symusic import Score

from tunesmith.errors import ConfigError
from tunesmith.export import write_midi
from tunesmith.keys import Key
from tunesmith.melody import Melody, Note

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def scale_melody() -> Melody:
    """A C-major scale of eighth notes with a quarter rest after the fourth note."""
    notes = []
    start = 0
    for i, pitch in enumerate(SCALE):
        notes.append(Note(pitch, start, 2))
        start += 2
        if i == 3:
            start += 4
    return Melody(
        notes,
        steps_per_quarter=4,
        tempo=96,
        time_signature=(3, 4),
        key=Key(7, "major"),
        name="scale",
    )


def test_round_trip_notes_and_meta(tmp_path: Path) -> None:
    path = write_midi(scale_melody(), tmp_path / "out" / "scale.mid", program=73, velocity=80)
    assert path == tmp_path / "out" / "scale.mid"
    score = Score(path)
    assert score.ticks_per_quarter == 480
    assert len(score.tracks) == 1
    track = score.tracks[0]
    assert track.program == 73
    assert not track.is_drum
    assert track.name == "scale"
    notes = list(track.notes)
    assert len(notes) == 8
    assert [n.pitch for n in notes] == SCALE
    expected_starts = [0, 240, 480, 720, 1440, 1680, 1920, 2160]
    assert [n.time for n in notes] == expected_starts
    assert all(n.duration == 240 for n in notes)
    assert all(n.velocity == 80 for n in notes)
    assert len(score.tempos) == 1
    assert score.tempos[0].qpm == pytest.approx(96, abs=0.01)
    (ts,) = score.time_signatures
    assert (ts.numerator, ts.denominator) == (3, 4)
    (ks,) = score.key_signatures
    assert (ks.key, ks.tonality) == (1, 0)


def test_tick_resolution_and_minor_key(tmp_path: Path) -> None:
    melody = Melody(
        [Note(57, 0, 3), Note(60, 3, 1)],
        steps_per_quarter=12,
        key=Key.parse("D minor"),
    )
    score = Score(write_midi(melody, tmp_path / "m.mid", ticks_per_quarter=96))
    assert score.ticks_per_quarter == 96
    assert [(n.time, n.duration) for n in score.tracks[0].notes] == [(0, 24), (24, 8)]
    (ks,) = score.key_signatures
    assert (ks.key, ks.tonality) == (-1, 1)


def test_two_melodies_two_tracks(tmp_path: Path) -> None:
    first = scale_melody()
    second = Melody([Note(48, 0, 4), Note(55, 4, 4)], tempo=140, time_signature=(4, 4))
    score = Score(write_midi([first, second], tmp_path / "two.mid", program=40))
    assert len(score.tracks) == 2
    assert [t.program for t in score.tracks] == [40, 40]
    assert [len(t.notes) for t in score.tracks] == [8, 2]
    assert [n.pitch for n in score.tracks[1].notes] == [48, 55]
    # The first melody's tempo and meter are the file's.
    assert score.tempos[0].qpm == pytest.approx(96, abs=0.01)
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)


def test_no_key_no_key_signature(tmp_path: Path) -> None:
    score = Score(write_midi(Melody([Note(60, 0, 4)]), tmp_path / "k.mid"))
    assert len(score.key_signatures) == 0


def test_overwrites_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "again.mid"
    write_midi(Melody([Note(60, 0, 4)]), path)
    write_midi(scale_melody(), str(path))
    assert len(Score(path).tracks[0].notes) == 8
    assert [p.name for p in tmp_path.iterdir()] == ["again.mid"]


@pytest.mark.parametrize(
    "kwargs", [{"program": 128}, {"program": -1}, {"velocity": 0}, {"ticks_per_quarter": 0}]
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        write_midi(scale_melody(), tmp_path / "bad.mid", **kwargs)
    assert not (tmp_path / "bad.mid").exists()


def test_no_melodies(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no melodies"):
        write_midi([], tmp_path / "none.mid")
