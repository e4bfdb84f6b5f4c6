"""The poly encoding: exact spelling, the high-to-low rule, round trips on the JSB chorales."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.corpus.encodings.poly import (
    NO_KEY,
    STEP_END,
    allowed_next,
    decode_frames,
    encode_frame,
    encode_frames,
    frames_from_pitches,
    key_of,
)
from tunesmith.errors import EncodingError

JSB_JSON = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "jsb" / "jsb-chorales-quarter.json"
)


def test_exact_example() -> None:
    c_major = [60, 64, 67, 72]  # C4 E4 G4 C5
    frames = frames_from_pitches([c_major, [], [72]])
    assert frames == [[51, 46, 43, 39], [], [51]]
    assert encode_frames(frames) == [51, 46, 43, 39, STEP_END, STEP_END, 51, STEP_END]
    assert encode_frame([3, 1, 2, 3]) == [3, 2, 1, STEP_END]  # duplicates collapse


def test_allowed_next_is_the_high_to_low_rule() -> None:
    assert allowed_next(NO_KEY) == [*range(88), STEP_END]
    assert allowed_next(3) == [0, 1, 2, STEP_END]
    assert allowed_next(0) == [STEP_END]


def test_order_violations_and_bad_pitches_are_refused() -> None:
    with pytest.raises(EncodingError, match="position 1"):
        decode_frames([40, 45, STEP_END])
    with pytest.raises(EncodingError, match="position 1"):
        decode_frames([40, 40, STEP_END])
    with pytest.raises(EncodingError, match="outside the piano"):
        key_of(12)


@pytest.mark.skipif(not JSB_JSON.exists(), reason="needs ../shared/data/jsb")
def test_round_trip_on_every_jsb_chorale() -> None:
    splits = json.loads(JSB_JSON.read_text())
    pieces = [piece for split in splits.values() for piece in split]
    assert len(pieces) == 382
    for piece in pieces:
        frames = frames_from_pitches(piece)
        ids = encode_frames(frames)
        assert ids.count(STEP_END) == len(piece)
        assert decode_frames(ids) == frames
