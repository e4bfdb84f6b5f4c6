"""The time-step encoding and the vocabulary, checked on every Nottingham tune."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from testdata import ESSEN_SAMPLE

from tunesmith.config import DataConfig
from tunesmith.corpus.encodings import END, Vocab, get_encoding
from tunesmith.corpus.encodings.steps import HOLD, REST, StepsEncoding
from tunesmith.errors import CheckpointError, ConfigError, EncodingError
from tunesmith.melody import Melody, Note
from tunesmith.read.extract import extract_melody
from tunesmith.read.sources import find_items, read_item


@pytest.fixture(scope="module")
def enc() -> StepsEncoding:
    encoding = get_encoding(DataConfig())
    assert isinstance(encoding, StepsEncoding)
    return encoding


def test_exact_example(enc: StepsEncoding) -> None:
    melody = Melody([Note(60, 0, 4), Note(62, 6, 2)], length=8)
    assert enc.encode(melody) == ["60", "_", "_", "_", "r", "_", "62", "_"]
    assert enc.steps(enc.encode(melody)) == 8


def test_leading_and_trailing_rests(enc: StepsEncoding) -> None:
    melody = Melody([Note(67, 3, 2)], length=8)
    tokens = enc.encode(melody)
    assert tokens == ["r", "_", "_", "67", "_", "r", "_", "_"]
    back = enc.decode(tokens)
    assert back.notes == melody.notes and back.length == 8


def test_repeated_notes_stay_separate(enc: StepsEncoding) -> None:
    melody = Melody([Note(64, 0, 2), Note(64, 2, 2), Note(64, 4, 1)])
    tokens = enc.encode(melody)
    assert tokens == ["64", "_", "64", "_", "64"]
    assert enc.decode(tokens).notes == melody.notes


def test_empty_melody(enc: StepsEncoding) -> None:
    assert enc.encode(Melody([])) == []
    back = enc.decode([])
    assert back.notes == [] and back.length == 0


def test_overlapping_notes_cannot_be_encoded(enc: StepsEncoding) -> None:
    melody = Melody([Note(60, 0, 4), Note(62, 2, 4)], name="clash")
    with pytest.raises(EncodingError, match="overlap at step 2"):
        enc.encode(melody)


def test_decode_stops_at_end(enc: StepsEncoding) -> None:
    tokens = ["60", "_", "62", "_", END, "64", "_", "_"]
    melody = enc.decode(tokens)
    assert melody.notes == [Note(60, 0, 2), Note(62, 2, 2)]
    assert melody.length == 4
    assert enc.steps(tokens) == 7  # steps counts every non-end token
    assert enc.decode([END, "60"]).notes == []


def test_decode_leading_hold_is_a_rest(enc: StepsEncoding) -> None:
    melody = enc.decode(["_", "_", "60", "_", "r", "_", "_", "62"])
    assert melody.notes == [Note(60, 2, 2), Note(62, 7, 1)]
    assert melody.length == 8
    assert melody.steps_per_quarter == 4


@pytest.mark.parametrize("token", ["x", "C4", "128", "-1", "<pad>", "6 0", ""])
def test_unknown_tokens(enc: StepsEncoding, token: str) -> None:
    with pytest.raises(EncodingError):
        enc.decode(["60", "_", token, "_"])


def test_seed_tokens() -> None:
    enc = get_encoding(DataConfig(steps_per_quarter=4))
    assert enc.seed_tokens([60, 62]) == ["60", "_", "_", "_", "62", "_", "_", "_"]
    assert enc.decode(enc.seed_tokens([60, 62])).notes == [Note(60, 0, 4), Note(62, 4, 4)]
    assert get_encoding(DataConfig(steps_per_quarter=2)).seed_tokens([67]) == ["67", "_"]
    assert enc.seed_tokens([]) == []


def test_base_tokens(enc: StepsEncoding) -> None:
    assert enc.base_tokens() == [END, HOLD, REST]
    assert enc.name == "steps"


def test_unknown_encoding_name() -> None:
    config = DataConfig()
    config.encoding = "midi-like"
    with pytest.raises(ConfigError, match="unknown encoding"):
        get_encoding(config)


def _round_trip(enc: StepsEncoding, pieces, config: DataConfig) -> int:
    checked = 0
    for label, piece in pieces:
        melody = extract_melody(piece, config)
        tokens = enc.encode(melody)
        assert len(tokens) == melody.length, label
        back = enc.decode(tokens)
        assert back.notes == melody.notes, label
        assert back.length == melody.length, label
        # a corpus stream: the piece between end tokens decodes the same
        assert enc.decode([*tokens, END, "60", "_"]).notes == melody.notes, label
        checked += 1
    return checked


def test_round_trip_every_nottingham_tune(enc: StepsEncoding, nottingham_midi: Path) -> None:
    items = find_items([str(nottingham_midi)])
    assert len(items) == 1034
    pieces = [(it.label, read_item(it)) for it in items]
    assert _round_trip(enc, pieces, DataConfig()) == 1034


def test_round_trip_essen_tunes(enc: StepsEncoding, essen_pieces: list) -> None:
    assert _round_trip(enc, essen_pieces, DataConfig()) == ESSEN_SAMPLE


# --- the vocabulary ---------------------------------------------------------------------


def test_vocab_encode_decode() -> None:
    vocab = Vocab([END, HOLD, REST, "60", "62", "64"], "steps")
    assert len(vocab) == 6
    assert vocab.end_id == 0
    assert "62" in vocab and "65" not in vocab
    tokens = ["60", "_", "62", "r", END, "64"]
    ids = vocab.encode(tokens)
    assert ids == [3, 1, 4, 2, 0, 5]
    assert vocab.decode(ids) == tokens
    assert vocab.id("64") == 5


def test_vocab_unknown_token() -> None:
    vocab = Vocab([END, HOLD, REST, "60"], "steps")
    with pytest.raises(EncodingError, match="'61'"):
        vocab.encode(["60", "61"])


def test_vocab_rejects_duplicates() -> None:
    with pytest.raises(EncodingError, match="twice"):
        Vocab([END, HOLD, HOLD], "steps")


def test_vocab_save_load(tmp_path: Path) -> None:
    vocab = Vocab([END, HOLD, REST, "55", "60", "72"], "steps")
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert json.loads(path.read_text()) == {"encoding": "steps", "tokens": vocab.tokens}
    back = Vocab.load(path)
    assert back.tokens == vocab.tokens and back.encoding == "steps"
    assert back.encode(["72", "_"]) == vocab.encode(["72", "_"])


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"tokens": ["a"]}', ""])
def test_vocab_load_bad_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "vocab.json"
    path.write_text(content)
    with pytest.raises(CheckpointError, match="not a tunesmith vocabulary"):
        Vocab.load(path)


def test_vocab_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError):
        Vocab.load(tmp_path / "nope.json")
