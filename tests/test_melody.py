"""The melody model: skyline reduction, transposition, serialisation."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from tunesmith.errors import EncodingError
from tunesmith.keys import Key
from tunesmith.melody import Melody, Note, monophonic


def make_monophonic(notes: list[Note]) -> list[Note]:
    """The skyline of notes given as Notes, back as Notes."""
    return [Note(*row) for row in monophonic(np.array(notes).reshape(-1, 3)).tolist()]


def test_chord_keeps_its_top_note() -> None:
    chord = [Note(60, 0, 4), Note(67, 0, 4), Note(64, 0, 4)]
    assert make_monophonic(chord) == [Note(67, 0, 4)]


def test_same_pitch_same_onset_keeps_the_longer() -> None:
    assert make_monophonic([Note(67, 0, 2), Note(67, 0, 6)]) == [Note(67, 0, 6)]


def test_lower_note_under_a_sounding_higher_note_is_dropped() -> None:
    notes = [Note(72, 0, 8), Note(60, 2, 2), Note(64, 4, 8)]
    # 64 outlasts the 72 but started under it: dropped whole, as documented
    assert make_monophonic(notes) == [Note(72, 0, 8)]


def test_higher_note_cuts_the_sounding_lower_note_short() -> None:
    notes = [Note(60, 0, 8), Note(72, 4, 4)]
    assert make_monophonic(notes) == [Note(60, 0, 4), Note(72, 4, 4)]


def test_same_pitch_restruck_under_itself_is_dropped() -> None:
    assert make_monophonic([Note(60, 0, 8), Note(60, 4, 4)]) == [Note(60, 0, 8)]


def test_zero_and_negative_length_notes_are_dropped() -> None:
    notes = [Note(80, 0, 0), Note(55, 0, 2), Note(90, 2, -1), Note(57, 2, 2)]
    assert make_monophonic(notes) == [Note(55, 0, 2), Note(57, 2, 2)]


def test_skyline_of_melody_over_accompaniment() -> None:
    melody = [Note(72, 0, 4), Note(74, 4, 2), Note(76, 6, 2), Note(77, 8, 8)]
    chords = [Note(p, s, 8) for s in (0, 8) for p in (48, 52, 55)]
    bass_under_rest = [Note(43, 16, 4)]  # sounds after the melody: kept
    line = make_monophonic(chords + bass_under_rest + list(reversed(melody)))
    assert line == [*melody, Note(43, 16, 4)]


def test_result_is_monophonic_and_sorted() -> None:
    notes = [Note(60 + (i * 7) % 13, (i * 5) % 23, 1 + i % 6) for i in range(60)]
    line = make_monophonic(notes)
    assert line
    for a, b in itertools.pairwise(line):
        assert a.end <= b.start
        assert a.duration >= 1


def test_melody_length_covers_its_notes() -> None:
    m = Melody([Note(60, 0, 4), Note(62, 6, 2)])
    assert m.length == 8
    assert Melody([Note(60, 0, 4)], length=16).length == 16  # a trailing rest survives
    assert Melody([]).length == 0


def test_steps_per_bar() -> None:
    assert Melody([], time_signature=(4, 4)).steps_per_bar == 16
    assert Melody([], time_signature=(3, 4)).steps_per_bar == 12
    assert Melody([], time_signature=(6, 8)).steps_per_bar == 12
    assert Melody([], time_signature=(2, 2), steps_per_quarter=2).steps_per_bar == 8


def test_transpose_shifts_pitches_and_key() -> None:
    m = Melody([Note(67, 0, 4), Note(71, 4, 4)], key=Key(7, "major"), name="tune")
    up = m.transpose(5)
    assert up.pitches == [72, 76]
    assert up.key == Key(0, "major")
    assert [(n.start, n.duration) for n in up.notes] == [(0, 4), (4, 4)]
    assert up.name == "tune" and up.length == m.length
    assert m.pitches == [67, 71] and m.key == Key(7, "major")  # the original is unchanged
    down = m.transpose(-7)
    assert down.pitches == [60, 64] and down.key == Key(0, "major")


def test_transpose_without_key_and_by_zero() -> None:
    m = Melody([Note(60, 0, 4)])
    assert m.transpose(3).key is None
    same = m.transpose(0)
    assert same.notes == m.notes and same.notes is not m.notes


@pytest.mark.parametrize(("pitch", "shift"), [(120, 8), (3, -4)])
def test_transpose_out_of_range(pitch: int, shift: int) -> None:
    m = Melody([Note(60, 0, 2), Note(pitch, 2, 2)])
    with pytest.raises(EncodingError, match="outside 0-127"):
        m.transpose(shift)


def test_transpose_to_range_edges_is_fine() -> None:
    m = Melody([Note(0, 0, 1), Note(120, 1, 1)])
    assert m.transpose(7).pitches == [7, 127]
    assert m.transpose(0).pitches == [0, 120]


def test_to_dict_from_dict_round_trip() -> None:
    m = Melody(
        [Note(62, 2, 3), Note(66, 5, 1), Note(69, 8, 4)],
        steps_per_quarter=4,
        length=16,
        tempo=96.5,
        time_signature=(6, 8),
        key=Key(6, "minor"),
        name="Reel #3",
        source="/tmp/reels.abc#3",
        meta={"melody": "part named 'Lead'", "transposed": 3},
    )
    data = json.loads(json.dumps(m.to_dict()))  # survives JSON, as the cache stores it
    back = Melody.from_dict(data)
    assert back == m
    assert back.time_signature == (6, 8)
    assert back.key == Key(6, "minor")


def test_from_dict_without_key() -> None:
    m = Melody([Note(60, 0, 4)])
    assert Melody.from_dict(m.to_dict()) == m


def test_events_group_chords_by_onset() -> None:
    m = Melody([Note(64, 0, 4), Note(60, 0, 4), Note(67, 0, 2), Note(62, 4, 2)])
    assert m.events == [(0, 4, (60, 64, 67)), (4, 2, (62,))]


def test_cut_shortens_the_note_sounding_at_the_cut() -> None:
    m = Melody([Note(60, 0, 4), Note(62, 4, 8), Note(64, 12, 4)], length=20)
    cut = m.cut(8)
    assert cut.notes == [Note(60, 0, 4), Note(62, 4, 4)] and cut.length == 8
    assert m.cut(100).notes == m.notes


def test_split_at_gaps_starts_each_part_on_its_bar() -> None:
    from tunesmith.melody import split_at_gaps

    notes = [Note(60, 0, 4), Note(62, 4, 4), Note(64, 40, 4), Note(65, 44, 4)]
    m = Melody(notes, name="tune")
    first, second = split_at_gaps(m, 32)  # 32 steps of silence: two bars of 4/4
    assert first.notes == notes[:2] and first.name == "tune (part 1)"
    assert second.notes == [Note(64, 8, 4), Note(65, 12, 4)]  # from bar 3, beat 3
    assert split_at_gaps(m, 33) == [m] and split_at_gaps(m, 0) == [m]
