"""Keys: names, key signatures, transposition to C / A minor, key finding, pitch names."""

from __future__ import annotations

import pytest

from tunesmith.errors import ConfigError
from tunesmith.keys import Key, find_key, parse_pitch_name, pitch_name

ALL_KEYS = [Key(tonic, mode) for mode in ("major", "minor") for tonic in range(12)]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("G", Key(7, "major")),
        ("G major", Key(7, "major")),
        ("Gmaj", Key(7, "major")),
        ("Gm", Key(7, "minor")),
        ("G minor", Key(7, "minor")),
        ("F# minor", Key(6, "minor")),
        ("F#m", Key(6, "minor")),
        ("Bb", Key(10, "major")),
        ("Bbm", Key(10, "minor")),
        ("E-", Key(3, "major")),  # music21's spelling of a flat
        ("e", Key(4, "minor")),  # a lower-case tonic alone is minor, as in Humdrum
        ("e major", Key(4, "major")),
        ("  A  ", Key(9, "major")),
        ("Cb", Key(11, "major")),
    ],
)
def test_parse(text: str, key: Key) -> None:
    assert Key.parse(text) == key


@pytest.mark.parametrize("text", ["", "H", "Xm", "G dorian", "C##", "Gmajor7", "60", "m"])
def test_parse_rejects_bad_names(text: str) -> None:
    with pytest.raises(ConfigError, match="not a key name"):
        Key.parse(text)


def test_name_spelling() -> None:
    assert Key(10, "major").name == "Bb major"
    assert Key(6, "minor").name == "F# minor"
    assert Key(7, "minor").name == "G minor"  # relative Bb major: flats
    assert Key(2, "major").name == "D major"
    assert Key(3, "major").name == "Eb major"
    assert Key(1, "minor").name == "C# minor"  # relative E major: sharps


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.name)
def test_name_parses_back(key: Key) -> None:
    assert Key.parse(key.name) == key


@pytest.mark.parametrize(
    ("key", "sharps"),
    [
        (Key(0, "major"), 0),
        (Key(7, "major"), 1),
        (Key(2, "major"), 2),
        (Key(5, "major"), -1),
        (Key(10, "major"), -2),
        (Key(9, "minor"), 0),
        (Key(4, "minor"), 1),
        (Key(2, "minor"), -1),
        (Key(7, "minor"), -2),
    ],
)
def test_sharps(key: Key, sharps: int) -> None:
    assert key.sharps == sharps


def test_sharps_stay_in_signature_range() -> None:
    for key in ALL_KEYS:
        assert -6 <= key.sharps <= 6
        # a key and its relative share the signature
        if key.mode == "minor":
            assert key.sharps == Key((key.tonic + 3) % 12, "major").sharps


def _signature_agrees_with_name(key: Key) -> bool:
    tonic_name = key.name.split()[0]
    if tonic_name.endswith("b"):
        return key.sharps < 0
    if tonic_name.endswith("#"):
        return key.sharps > 0
    return True


# The tritone keys: the name is spelled with flats (Gb major, its relative Eb minor).
TRITONE_KEYS = [Key(6, "major"), Key(3, "minor")]


@pytest.mark.parametrize(
    "key", [k for k in ALL_KEYS if k not in TRITONE_KEYS], ids=lambda k: k.name
)
def test_sharps_agree_with_the_spelled_name(key: Key) -> None:
    assert _signature_agrees_with_name(key)


def test_sharps_of_flat_spelled_tritone_keys() -> None:
    assert [k.name for k in TRITONE_KEYS] == ["Gb major", "Eb minor"]
    assert [k.sharps for k in TRITONE_KEYS] == [-6, -6]


def test_shift_to_c() -> None:
    # G -> C: up a fourth (+5) is the smaller move than down a fifth (-7)
    assert Key(7, "major").shift_to_c() == 5
    # E minor -> A minor: up a fourth
    assert Key(4, "minor").shift_to_c() == 5
    # F# major: a tritone either way; the shift is -6 and lands on C
    assert Key(6, "major").shift_to_c() == -6
    assert Key(0, "major").shift_to_c() == 0
    assert Key(9, "minor").shift_to_c() == 0
    assert Key(2, "major").shift_to_c() == -2
    assert Key(11, "minor").shift_to_c() == -2


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.name)
def test_shift_to_c_lands_on_c_major_or_a_minor(key: Key) -> None:
    shift = key.shift_to_c()
    assert -6 <= shift <= 5
    target = Key(0, "major") if key.mode == "major" else Key(9, "minor")
    assert key.transpose(shift) == target


def test_find_key_c_major_scale() -> None:
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    assert find_key(scale, [1] * len(scale)) == Key(0, "major")


def test_find_key_a_harmonic_minor() -> None:
    melody = [69, 71, 72, 74, 76, 77, 80, 81, 80, 77, 76, 74, 72, 71, 69, 64, 69]
    durations = [1] * (len(melody) - 1) + [4]
    assert find_key(melody, durations) == Key(9, "minor")


def test_find_key_durations_weigh_pitches() -> None:
    # the same pitch classes; long Gs and Ds with short others make G major of a C scale
    pitches = [60, 62, 64, 65, 66, 67, 69, 71, 72]
    weights = [1, 8, 1, 0.1, 2, 8, 1, 4, 1]
    assert find_key(pitches, weights) == Key(7, "major")


def test_find_key_with_tonic_chooses_the_mode() -> None:
    # a G-minor tune whose source says only "K:G"
    g_minor = [67, 70, 74, 72, 70, 69, 67, 66, 67, 62, 67, 70, 69, 67]
    assert find_key(g_minor, [1] * len(g_minor), tonic=7) == Key(7, "minor")
    g_major = [67, 71, 74, 72, 71, 69, 67, 66, 67, 62, 67, 71, 69, 67]
    assert find_key(g_major, [1] * len(g_major), tonic=7) == Key(7, "major")
    # the tonic is kept even when another tonic would fit better
    c_scale = [60, 62, 64, 65, 67, 69, 71, 72]
    assert find_key(c_scale, [1] * 8, tonic=9).tonic == 9


def test_find_key_without_notes() -> None:
    assert find_key([], []) is None


def test_pitch_name_examples() -> None:
    assert pitch_name(60) == "C4"
    assert pitch_name(54) == "F#3"
    assert pitch_name(82) == "A#5"
    assert pitch_name(0) == "C-1"
    assert pitch_name(127) == "G9"
    assert parse_pitch_name("C4") == 60
    assert parse_pitch_name("F#3") == 54
    assert parse_pitch_name("Bb5") == 82
    assert parse_pitch_name("A#5") == 82
    assert parse_pitch_name("Eb-1") == 3
    assert parse_pitch_name("c4") == 60


def test_pitch_names_round_trip() -> None:
    for pitch in range(128):
        assert parse_pitch_name(pitch_name(pitch)) == pitch


@pytest.mark.parametrize("text", ["", "C", "H4", "C#", "4C", "C 4", "C##4"])
def test_parse_pitch_name_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="not a note name"):
        parse_pitch_name(text)


def test_find_key_with_a_signature_chooses_its_major_or_relative_minor() -> None:
    # a tune that leans on C, the dominant of F: alone, analysis says C major
    tune = [60, 64, 67, 72, 70, 69, 67, 65, 64, 60, 67, 72]
    assert find_key(tune, [1] * len(tune)) == Key(0, "major")
    assert find_key(tune, [1] * len(tune), sharps=-1) == Key(5, "major")  # one flat
    d_minor = [62, 65, 69, 62, 61, 62, 64, 65, 57, 62]
    assert find_key(d_minor, [1] * len(d_minor), sharps=-1) == Key(2, "minor")
    assert find_key([66, 68, 70], [1, 1, 1], sharps=6) == Key(6, "major")  # F# major


def test_a_piano_score_key_is_found_from_both_staves(tmp_path) -> None:
    """Chorale BWV 255 (C major) as a two-staff piano score, soprano and alto on the upper
    staff, tenor and bass on the lower, its key signature without a mode (as many MusicXML
    exports write it): the upper staff's line alone reads as A minor, both staves as C."""
    from music21 import corpus, key, stream

    from tunesmith.config import DataConfig
    from tunesmith.read.extract import extract_melody
    from tunesmith.read.sources.scores import read_score_file

    voices = {p.partName: p for p in corpus.parse("bach/bwv255").parts}
    piano = stream.Score()
    for pair in (("Soprano", "Alto"), ("Tenor", "Bass")):
        staff = stream.Score([voices[v] for v in pair]).chordify()
        for signature in list(staff.recurse().getElementsByClass(key.KeySignature)):
            signature.activeSite.replace(signature, key.KeySignature(signature.sharps))
        staff.partName = "Piano"
        piano.insert(0, staff)
    piano.write("musicxml", fp=tmp_path / "bwv255-piano.musicxml")
    piece = read_score_file(tmp_path / "bwv255-piano.musicxml")
    assert len(piece.parts) == 2 and piece.key is None and piece.sharps == 0
    melody = extract_melody(piece, DataConfig(transpose=False))
    line = [n.pitch for n in melody.notes], [n.duration for n in melody.notes]
    assert find_key(*line, sharps=0) == Key(9, "minor")  # what the line alone says
    assert melody.key == Key(0, "major")


def test_a_single_line_keeps_the_key_of_its_line(essen_pieces: list) -> None:
    """An Essen tune is its melody: the key (tonic from K:, mode from analysis) is the one
    its line gives."""
    from tunesmith.config import DataConfig
    from tunesmith.read.extract import extract_melody

    for _, piece in essen_pieces[:40]:
        melody = extract_melody(piece, DataConfig(transpose=False))
        line = [n.pitch for n in melody.notes], [n.duration for n in melody.notes]
        assert melody.key == find_key(*line, tonic=piece.tonic), piece.source
