"""Melody extraction from MIDI files written here with symusic, and from real scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from symusic import Note as MidiNote
from symusic import Score, Tempo, TimeSignature, Track

from tunesmith.config import DataConfig
from tunesmith.errors import SourceError
from tunesmith.keys import Key
from tunesmith.melody import Note
from tunesmith.read.extract import extract_melody
from tunesmith.read.sources import Item, find_files, find_items, read_item

TPQ = 480  # ticks per quarter of the files written here

# (onset in quarters, length in quarters, pitch)
Line = list[tuple[float, float, int]]


def write_midi(
    path: Path,
    tracks: list[tuple[str, Line, bool]],
    *,
    time_signature: tuple[int, int] = (4, 4),
    qpm: float = 100.0,
) -> Path:
    """A type-1 MIDI file with the given tracks of (name, notes, is_drum)."""
    score = Score(TPQ)
    score.tempos.append(Tempo(0, qpm))
    score.time_signatures.append(TimeSignature(0, *time_signature))
    for name, notes, is_drum in tracks:
        track = Track(name, 0, is_drum)
        for onset, length, pitch in notes:
            track.notes.append(MidiNote(round(onset * TPQ), round(length * TPQ), pitch, 90))
        score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def extract(path: Path, **options) -> object:
    return extract_melody(read_item(Item(str(path))), DataConfig(**options))


# A C-major tune in quarters and eighths, well above the accompaniment.
TUNE: Line = [
    (0, 1, 72), (1, 1, 74), (2, 1, 76), (3, 1, 72),
    (4, 0.5, 79), (4.5, 0.5, 77), (5, 1, 76), (6, 2, 74),
    (8, 1, 72), (9, 1, 76), (10, 1, 79), (11, 1, 84),
    (12, 2, 79), (14, 2, 72),
]  # fmt: skip
CHORDS: Line = [(bar * 4.0, 4.0, p) for bar in range(4) for p in (48, 52, 55)]
DRUMS: Line = [(i * 0.5, 0.25, 81) for i in range(32)]  # open triangle: high "pitches"


def steps(line: Line, spq: int = 4) -> list[Note]:
    return [Note(p, round(t * spq), round(d * spq)) for t, d, p in line]


def test_melody_is_the_highest_track_never_the_drums(tmp_path: Path) -> None:
    path = write_midi(
        tmp_path / "band.mid",
        [("", DRUMS, True), ("", CHORDS, False), ("", TUNE, False)],
    )
    piece = read_item(Item(str(path)))
    assert [p.is_drum for p in piece.parts] == [True, False, False]
    assert piece.parts[0].mean_pitch > piece.parts[2].mean_pitch  # drums are "higher"
    melody = extract(path, transpose=False, melody="highest-mean")
    assert melody.notes == steps(TUNE)
    assert melody.meta["melody"].startswith("highest mean pitch")
    assert "of 2 parts" in melody.meta["melody"]  # the drum track is not a candidate
    assert melody.time_signature == (4, 4)
    assert melody.tempo == pytest.approx(100.0)
    assert melody.key == Key(0, "major")
    assert melody.source == str(path) and melody.name == "band"


def test_a_named_lead_wins_over_a_higher_track(tmp_path: Path) -> None:
    lead = [(t, d, p - 12) for t, d, p in TUNE]
    descant = [(t, 1.0, 88) for t in range(16)]
    path = write_midi(
        tmp_path / "named.mid",
        [("", descant, False), ("Lead Vocal", lead, False), ("Bass", CHORDS, False)],
    )
    melody = extract(path, transpose=False, melody="highest-mean")
    assert melody.meta["melody"] == "part named 'Lead Vocal'"
    assert melody.notes == steps(lead)
    assert extract(path, transpose=False).notes == steps(lead)  # auto weighs the name too


def test_skyline_takes_the_top_note_across_tracks(tmp_path: Path) -> None:
    high = [(0, 1, 76), (1, 1, 77), (4, 1, 79), (5, 1, 81)]
    low = [(0, 4, 60), (2, 1, 64), (3, 1, 65), (6, 1, 67), (7, 1, 69)]
    path = write_midi(
        tmp_path / "duet.mid", [("", high, False), ("", low, False), ("", DRUMS, True)]
    )
    melody = extract(path, melody="skyline", transpose=False, min_notes=1)
    assert melody.meta["melody"] == "skyline over all non-drum parts"
    # the 60 starts under the 76 and is dropped; the 64 and 65 fill the gap of the top part
    assert melody.notes == steps(
        [(0, 1, 76), (1, 1, 77), (2, 1, 64), (3, 1, 65), (4, 1, 79), (5, 1, 81),
         (6, 1, 67), (7, 1, 69)]
    )  # fmt: skip
    # the default takes one part whole
    assert extract(path, transpose=False, min_notes=1).notes == steps(high)


def test_only_drums_is_an_error(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "drums.mid", [("Drums", DRUMS, True)])
    with pytest.raises(SourceError, match="only drum tracks"):
        extract(path)
    with pytest.raises(SourceError, match="no notes outside drum tracks"):
        extract(path, melody="skyline")


def test_onsets_snap_to_the_sixteenth_grid(tmp_path: Path) -> None:
    jitter = [7, -5, 11, -9, 3, -14, 0, 6, -3, 10]
    # eighth notes, each played a few ticks early or late and a little short
    line = [((i * TPQ // 2 + j) / TPQ, 220 / TPQ, 60 + i) for i, j in enumerate(jitter)]
    path = write_midi(tmp_path / "sloppy.mid", [("", line, False)])
    melody = extract(path, transpose=False)
    assert [n.start for n in melody.notes] == [2 * i for i in range(10)]
    assert [n.duration for n in melody.notes] == [2] * 10
    assert melody.pitches == [60 + i for i in range(10)]


def test_finer_grid(tmp_path: Path) -> None:
    line = [(i / 3, 1 / 3, 60 + i % 5) for i in range(12)]  # triplet eighths
    path = write_midi(tmp_path / "triplets.mid", [("", line, False)])
    melody = extract(path, transpose=False, steps_per_quarter=12)
    assert [n.start for n in melody.notes] == [4 * i for i in range(12)]
    assert all(n.duration == 4 for n in melody.notes)
    assert melody.steps_per_quarter == 12


def test_notes_shorter_than_a_step_keep_one_step(tmp_path: Path) -> None:
    line = [(i * 1.0, 20 / TPQ, 64 + i % 3) for i in range(10)]  # staccatissimo: 1/24 quarter
    path = write_midi(tmp_path / "short.mid", [("", line, False)])
    melody = extract(path, transpose=False)
    assert [(n.start, n.duration) for n in melody.notes] == [(4 * i, 1) for i in range(10)]
    assert melody.length == 37


def test_too_short_melody(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "motif.mid", [("", TUNE[:5], False)])
    with pytest.raises(SourceError, match="too short") as info:
        extract(path)
    assert str(path) in str(info.value)
    assert "5 notes" in str(info.value)
    assert len(extract(path, min_notes=5).notes) == 5


def test_long_melody_is_cut_at_max_steps(tmp_path: Path) -> None:
    line = [(i * 1.5, 1.5, 60 + i % 7) for i in range(40)]
    path = write_midi(tmp_path / "long.mid", [("", line, False)])
    melody = extract(path, transpose=False, max_steps=64)
    assert melody.length == 64
    assert melody.notes[-1].end == 64  # the last note is shortened, not dropped
    assert len(melody.notes) == 11  # onsets 0, 6, ..., 60


# A G-major tune that ends on its tonic.
G_TUNE: Line = [
    (0, 1, 67), (1, 1, 71), (2, 1, 74), (3, 1, 71),
    (4, 1, 72), (5, 1, 69), (6, 1, 66), (7, 1, 62),
    (8, 1, 67), (9, 0.5, 69), (9.5, 0.5, 71), (10, 1, 72), (11, 1, 74),
    (12, 1, 66), (13, 1, 69), (14, 2, 67),
]  # fmt: skip


def test_transposition_of_a_g_major_tune_to_c(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "g.mid", [("", G_TUNE, False)])
    plain = extract(path, transpose=False)
    assert plain.key == Key(7, "major")
    melody = extract(path)
    assert melody.key == Key(0, "major")
    assert melody.meta["transposed"] == 5
    assert melody.pitches == [p + 5 for p in plain.pitches]
    assert melody.pitches[0] % 12 == 0 and melody.pitches[-1] % 12 == 0  # tonic is C
    assert [(n.start, n.duration) for n in melody.notes] == [
        (n.start, n.duration) for n in plain.notes
    ]


def test_essen_tune_in_g_minor_goes_to_a_minor() -> None:
    item = find_items(["essen"])[0]  # altdeu10.abc #1, "Das Hildebrandslied", K:G
    piece = read_item(item)
    assert piece.tonic == 7 and piece.key is None
    plain = extract_melody(piece, DataConfig(transpose=False))
    assert plain.key == Key(7, "minor")  # the header's tonic, with the mode analysed
    melody = extract_melody(piece, DataConfig())
    assert melody.key == Key(9, "minor")
    assert melody.meta["transposed"] == 2
    assert melody.pitches == [p + 2 for p in plain.pitches]
    assert melody.pitches[-1] % 12 == 9  # ends on its tonic, now A
    assert melody.time_signature == (4, 2)


def test_chorale_soprano_by_name_and_stated_key() -> None:
    piece = read_item(Item(str(find_files("chorales")[0])))
    named = extract_melody(piece, DataConfig(melody="highest-mean"))
    assert named.meta["melody"] == "part named 'Soprano'"
    melody = extract_melody(piece, DataConfig())  # auto: the soprano too, by its scores
    assert melody.notes == named.notes
    assert melody.key == Key(0, "major")  # F major, as the file states, moved to C
    assert melody.meta["transposed"] == -5
    soprano = next(p for p in piece.parts if p.name == "Soprano")
    assert len(melody.notes) == len(soprano.notes)


def test_leading_silence_of_whole_bars_is_dropped(tmp_path: Path) -> None:
    late = [(t + 9.0, d, p) for t, d, p in TUNE]  # starts on beat 2 of bar 3
    path = write_midi(tmp_path / "late.mid", [("", late, False)])
    melody = extract(path, transpose=False)
    assert melody.notes[0].start == 4  # two empty bars gone, the beat kept
    assert melody.notes == [Note(n.pitch, n.start + 4, n.duration) for n in steps(TUNE)]


def test_leading_silence_in_three_four(tmp_path: Path) -> None:
    waltz = [(7.5 + i, 1.0, 67 + i % 5) for i in range(12)]  # bar 3, beat 2 and a half
    path = write_midi(tmp_path / "waltz.mid", [("", waltz, False)], time_signature=(3, 4))
    melody = extract(path, transpose=False)
    assert melody.time_signature == (3, 4) and melody.steps_per_bar == 12
    assert melody.notes[0].start == 6


def test_rests_inside_the_melody_are_kept(tmp_path: Path) -> None:
    line = [(0, 1, 60), (1, 1, 62), (4, 1, 64), (5, 1, 65), (6, 1, 67), (8, 1, 69),
            (9, 1, 71), (10, 2, 72)]  # fmt: skip
    path = write_midi(tmp_path / "rests.mid", [("", line, False)])
    melody = extract(path, transpose=False)
    assert [n.start for n in melody.notes] == [0, 4, 16, 20, 24, 32, 36, 40]


def test_nottingham_melody_is_the_upper_track(nottingham_midi: Path) -> None:
    path = nottingham_midi / "ashover1.mid"
    piece = read_item(Item(str(path)))
    melody = extract_melody(piece, DataConfig(transpose=False))
    assert len(melody.notes) == len(piece.parts[0].notes)
    assert melody.pitches == [p for _, _, p in piece.parts[0].notes]
    # the tune starts on beat 3 of a 3/4 bar: the pickup stays off the downbeat
    assert melody.notes[0].start == 8 and melody.steps_per_bar == 12


def test_abc_pickup_stays_on_its_beat(tmp_path: Path) -> None:
    path = tmp_path / "pickup.abc"
    path.write_text("X:1\nM:4/4\nL:1/4\nK:C\nG | c d e f | g4 |]\n")
    (item,) = find_items([str(path)])
    melody = extract_melody(read_item(item), DataConfig(transpose=False, min_notes=1))
    assert melody.pitches == [67, 72, 74, 76, 77, 79]
    assert melody.notes[0].start % 16 == 12  # beat 4
    assert melody.notes[1].start % 16 == 0  # c on the downbeat


def test_chorale_pickup_stays_on_its_beat() -> None:
    piece = read_item(Item(str(find_files("chorales")[0])))
    melody = extract_melody(piece, DataConfig(transpose=False))
    assert melody.notes[0].start % 16 == 12
    assert melody.notes[1].start % 16 == 0


# --- --melody track: (auto on arrangements: test_melody_choice.py) ---------------------


def test_track_by_name_or_number(tmp_path: Path) -> None:
    path = write_midi(tmp_path / "band.mid", [("Strings", CHORDS, False), ("Fiddle", TUNE, False)])
    assert extract(path, melody="track:fiddle", transpose=False).notes == steps(TUNE)
    assert extract(path, melody="track:1", transpose=False, min_notes=1).notes[0].pitch == 55
    assert extract(path, melody="track:2", transpose=False).notes == steps(TUNE)
    with pytest.raises(SourceError, match=r"no part 'Banjo'.*1 'Strings', 2 'Fiddle'"):
        extract(path, melody="track:Banjo")


def test_events_read_chords_from_every_part(tmp_path: Path) -> None:
    path = write_midi(
        tmp_path / "band.mid",
        [("Drums", DRUMS, True), ("Strings", CHORDS, False), ("Fiddle", TUNE, False)],
    )
    melody = extract(path, encoding="events", transpose=False, steps_per_quarter=4)
    first = [n for n in melody.notes if n.start == 0]
    assert sorted(n.pitch for n in first) == [48, 52, 55, 72]  # chord and tune, no drums
    assert {n.duration for n in first} == {12}  # until the tune's next note, a quarter
    only = extract(path, encoding="events", melody="track:Strings", transpose=False, min_notes=1)
    assert only.events[0][2] == (48, 52, 55) and only.events[0][1] == 4 * 12  # whole note


def test_chords_cut_at_the_next_onset_and_end_with_their_notes() -> None:
    import numpy as np

    from tunesmith.read.extract import chords

    rows = [
        (60, 0, 8), (64, 0, 8), (64, 0, 2),  # a chord; its E struck twice: the longer kept
        (67, 4, 2),  # strikes while the chord sounds: the chord is cut at step 4
        (72, 12, 2), (76, 12, 2),  # after a rest: a chord of two that ends with its notes
        (50, 14, 0),  # a note of no length sounds nothing
    ]  # fmt: skip
    line = chords(np.array(rows))
    assert line.tolist() == [
        [60, 0, 4], [64, 0, 4],  # until the G starts
        [67, 4, 4],  # the C-E chord still sounds until 8: the G's event lasts to it
        [72, 12, 2], [76, 12, 2],
    ]  # fmt: skip
    assert chords(np.zeros((0, 3), dtype=np.int64)).shape == (0, 3)


# --- filters: length in bars, distinct pitches, silent gaps; key augmentation -------------


def test_filters_split_at_long_silences_and_skip_short_parts(tmp_path: Path) -> None:
    from tunesmith.read.extract import filter_melodies

    # the tune, three bars of silence, then two bars of one repeated note
    line = TUNE + [(28 + i, 1.0, 67) for i in range(8)]
    path = write_midi(tmp_path / "gap.mid", [("", line, False)])
    melody = extract(path, transpose=False)
    config = DataConfig(max_gap_bars=2, min_pitches=2, min_bars=2)
    kept, dropped = filter_melodies(melody, config)
    assert [m.notes for m in kept] == [steps(TUNE)]
    ((name, reason),) = dropped
    assert "part 2" in name and reason.startswith("too few distinct pitches (1")
    # no gap rule: one melody; a longer minimum drops it whole
    assert len(filter_melodies(melody, DataConfig())[0]) == 1
    ((_, reason),) = filter_melodies(melody, DataConfig(min_bars=12))[1]
    assert reason.startswith("shorter than --min-bars (9.0 bars")


def test_augment_keys_stays_in_range() -> None:
    from tunesmith.melody import Melody
    from tunesmith.read.extract import augment_keys

    melody = Melody([Note(60, 0, 4), Note(79, 4, 4)])
    copies = augment_keys(melody, [55, 84])
    shifts = sorted(m.meta["augmented"] for m in copies)
    assert shifts == [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]  # +6 would reach 85
    assert all(55 <= p <= 84 for m in copies for p in m.pitches)
    assert augment_keys(melody, [60, 79]) == []
