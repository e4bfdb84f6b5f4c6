"""The notes and events encodings: exact examples, snapping, chords, and round trips over
every Nottingham tune and 300 Essen tunes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from testdata import ESSEN_SAMPLE

from tunesmith.config import DataConfig
from tunesmith.corpus.encodings import END, get_encoding
from tunesmith.corpus.encodings.notes import EventsEncoding, NotesEncoding
from tunesmith.errors import ConfigError, EncodingError
from tunesmith.melody import Melody, Note
from tunesmith.read.extract import extract_melody
from tunesmith.read.sources import find_items, read_item

Q = 12  # steps per quarter of the default duration set (sixteenths and triplets)


@pytest.fixture(scope="module")
def notes() -> NotesEncoding:
    enc = get_encoding(DataConfig(encoding="notes"))
    assert isinstance(enc, NotesEncoding) and enc.steps_per_quarter == Q
    return enc


@pytest.fixture(scope="module")
def events() -> EventsEncoding:
    enc = get_encoding(DataConfig(encoding="events"))
    assert isinstance(enc, EventsEncoding)
    return enc


def test_the_grid_holds_every_length_of_the_set() -> None:
    assert DataConfig(encoding="notes").steps_per_quarter == 12
    assert DataConfig(encoding="notes", durations="1/2,1,2").steps_per_quarter == 4
    assert DataConfig(encoding="notes", durations="1/8,1").steps_per_quarter == 8
    assert DataConfig(encoding="steps").steps_per_quarter == 4
    config = DataConfig(encoding="notes")
    assert DataConfig.from_dict(config.to_dict()) == config  # the refinement is stable
    with pytest.raises(ConfigError, match="--durations"):
        DataConfig.from_dict({"encoding": "notes", "durations": "half,quarter"})
    with pytest.raises(ConfigError, match="--encoding"):
        DataConfig.from_dict({"encoding": "midi-like"})


def test_exact_example(notes: NotesEncoding) -> None:
    # quarter, eighth, eighth rest, an eighth-note triplet, quarter rest, a long note
    melody = Melody(
        [Note(60, 0, Q), Note(62, Q, Q // 2), Note(64, 2 * Q, 4), Note(65, 28, 4),
         Note(67, 32, 4), Note(60, 4 * Q, 4 * Q)],
        steps_per_quarter=Q,
        length=10 * Q,
    )  # fmt: skip
    tokens = notes.encode(melody)
    assert tokens == [
        "60:1", "62:1/2", "r:1/2", "64:1/3", "65:1/3", "67:1/3", "r:1", "60:4", "r:2",
    ]  # fmt: skip
    back = notes.decode(tokens)
    assert back.notes == melody.notes and back.length == melody.length
    assert notes.steps(tokens) == 10 * Q


def test_lengths_snap_without_drift(notes: NotesEncoding) -> None:
    # a note a little short of a quarter, a note held 7 quarters, one between two lengths
    melody = Melody([Note(60, 0, 11), Note(62, Q, 7 * Q), Note(64, 8 * Q, 5)], steps_per_quarter=Q)
    tokens = notes.encode(melody)
    assert tokens == ["60:1", "62:4", "r:3", "64:1/3"]  # 7 quarters: a whole and a rest
    back = notes.decode(tokens)
    assert [n.start for n in back.notes] == [0, Q, 8 * Q]  # every onset where it was
    assert back.pitches == melody.pitches


def test_extraction_snaps_to_sixteenths_or_triplets() -> None:
    from tunesmith.read.extract import quantize

    times = [(0.02, 0.3, 60), (0.34, 0.3, 62), (0.65, 0.36, 64), (1.26, 0.2, 65)]
    got = quantize(times, Q, [1, 2, 3, 4])
    # late downbeat -> 0; triplet eighths stay triplets; a late sixteenth stays a sixteenth
    assert [(s, s + d) for _, s, d in got.tolist()] == [(0, 4), (4, 8), (8, Q), (15, 18)]


def test_rests_are_exact_sums_of_lengths(notes: NotesEncoding) -> None:
    # 7/12 of a quarter: no single length, but a triplet eighth plus a sixteenth
    melody = Melody([Note(60, 0, Q), Note(62, Q + 7, Q)], steps_per_quarter=Q)
    tokens = notes.encode(melody)
    assert tokens == ["60:1", "r:1/3", "r:1/4", "62:1"]
    assert notes.decode(tokens).notes == melody.notes


def test_notes_refuses_chords_events_keeps_them(
    notes: NotesEncoding, events: EventsEncoding
) -> None:
    chord = Melody(
        [Note(60, 0, Q), Note(64, 0, Q), Note(67, 0, Q), Note(72, Q, 2 * Q)], steps_per_quarter=Q
    )
    with pytest.raises(EncodingError, match="one note at a time"):
        notes.encode(chord)
    tokens = events.encode(chord)
    assert tokens == ["60.64.67:1", "72:2"]
    assert events.decode(tokens).notes == chord.notes
    with pytest.raises(EncodingError, match="a chord"):
        notes.decode(["60.64:1"])


def test_durations_none_is_pitches_only() -> None:
    """The seeds' variant: bare note numbers, no rests, every note a quarter."""
    enc = get_encoding(DataConfig(encoding="events", durations="none"))
    melody = Melody(
        [Note(60, 0, 2), Note(64, 0, 2), Note(62, 8, 16)], steps_per_quarter=4, length=32
    )
    tokens = enc.encode(melody)
    assert tokens == ["60.64", "62"]
    back = enc.decode(tokens)
    assert back.notes == [Note(60, 0, 4), Note(64, 0, 4), Note(62, 4, 4)]
    assert enc.base_tokens() == [END]
    assert enc.seed_tokens([60, 62]) == ["60", "62"]


def test_bad_tokens(notes: NotesEncoding) -> None:
    for token, message in (
        ("60:5/7", "not one of the encoding's"),
        ("C4:1", "not a token"),
        ("60", "not a token"),
        ("200:1", "outside MIDI"),
    ):
        with pytest.raises(EncodingError, match=message):
            notes.decode([token])


def test_protocol_parts(notes: NotesEncoding) -> None:
    assert notes.seed_tokens([60, 62]) == ["60:1", "62:1"]
    assert notes.base_tokens()[:3] == [END, "r:1/6", "r:1/4"]
    assert notes.decode(["60:1", END, "62:1"]).notes == [Note(60, 0, Q)]
    assert notes.max_tokens(4 * Q) == 24  # sixteenth-note triplets at most


def test_token_pitches_and_shift() -> None:
    from tunesmith.corpus.encodings.base import shift_token, token_pitches

    assert token_pitches("60:1/2") == [60] and token_pitches("60.64.67:1") == [60, 64, 67]
    assert token_pitches("62") == [62] and token_pitches("r:1") == token_pitches("_") == []
    assert shift_token("60.64:3/2", 2) == "62.66:3/2" and shift_token("r:1", 5) == "r:1"
    assert shift_token("60", -1) == "59" and shift_token(END, 3) == END


def _round_trip(enc: NotesEncoding, melodies: list[tuple[str, Melody]]) -> tuple[int, int]:
    """Every note comes back with its pitch, in order, its onset within a triplet
    sixteenth; a melody all of whose lengths are in the set comes back exactly.

    :return: melodies checked, melodies back exactly.
    """
    exact = 0
    tolerance = Q // 6  # a sixteenth-note triplet
    for label, melody in melodies:
        tokens = enc.encode(melody)
        back = enc.decode(tokens)
        assert [n.pitch for n in back.notes] == [n.pitch for n in melody.notes], label
        drift = max(abs(a.start - b.start) for a, b in zip(back.notes, melody.notes, strict=True))
        assert drift <= tolerance, label
        assert abs(back.length - melody.length) <= tolerance, label
        assert enc.decode(enc.encode(back)).notes == back.notes, label  # snapping is stable
        exact += back.notes == melody.notes
    return len(melodies), exact


@pytest.fixture(scope="module")
def nottingham_pieces(nottingham_midi: Path) -> list:
    items = find_items([str(nottingham_midi)])
    assert len(items) == 1034
    return [(it.label, read_item(it)) for it in items]


@pytest.mark.parametrize("encoding", ["notes", "events"])
def test_round_trip_every_nottingham_tune(encoding: str, nottingham_pieces: list) -> None:
    config = DataConfig(encoding=encoding)
    melodies = [(label, extract_melody(piece, config)) for label, piece in nottingham_pieces]
    checked, exact = _round_trip(get_encoding(config), melodies)
    assert checked == 1034
    assert exact / checked > 0.98  # the rest hold thirty-second-note ornaments


@pytest.mark.parametrize("encoding", ["notes", "events"])
def test_round_trip_essen_tunes(encoding: str, essen_pieces: list) -> None:
    config = DataConfig(encoding=encoding)
    melodies = [(label, extract_melody(piece, config)) for label, piece in essen_pieces]
    checked, exact = _round_trip(get_encoding(config), melodies)
    assert checked == ESSEN_SAMPLE
    assert exact / checked > 0.9


def test_events_read_the_chords_of_a_nottingham_tune(nottingham_pieces: list) -> None:
    label, piece = nottingham_pieces[0]
    melody = extract_melody(piece, DataConfig(encoding="events", transpose=False))
    tokens = get_encoding(DataConfig(encoding="events")).encode(melody)
    chords = [t for t in tokens if "." in t.split(":")[0]]
    assert chords, label  # the accompaniment's chords sound with the tune
    # the tune itself is the top of the texture: its pitches all appear
    tune = extract_melody(piece, DataConfig(transpose=False))
    assert set(tune.pitches) <= set(melody.pitches)
    lengths = {Fraction(t.split(":")[1]) for t in tokens}
    assert lengths <= set(DataConfig(encoding="events").duration_set)
