"""The poly encoding: each time step's sounding pitches high to low, then a step-end token.

A frame (the set of piano keys sounding at one time step) becomes its keys in descending
order followed by ``STEP_END``; an empty frame is ``STEP_END`` alone. Because the order is
fixed, every frame has exactly one spelling, so the probability a model gives a frame is the
product of its tokens' probabilities once the continuations the order forbids (a key at or
above the last one emitted in the frame) are masked out. ``allowed_next`` says which ids may
follow; models apply the same rule as a mask at training and evaluation.

Ids: 0..87 are piano keys (key 0 = MIDI pitch 21, A0; key 87 = MIDI 108, C8) and 88 is
``STEP_END``. Sources without onset information (the JSB .mat piano rolls) have nothing to
mark, so a key token means "sounding at this step".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tunesmith.errors import EncodingError

KEYS = 88  # piano keys
LOWEST_PITCH = 21  # MIDI pitch of key 0 (A0)
STEP_END = KEYS  # the token that closes a frame
VOCAB_SIZE = KEYS + 1
NO_KEY = KEYS  # "no key emitted yet in this frame": every key is still allowed


def key_of(pitch: int) -> int:
    """The piano key (0..87) of a MIDI pitch; EncodingError outside the piano."""
    key = pitch - LOWEST_PITCH
    if not 0 <= key < KEYS:
        raise EncodingError(f"pitch {pitch} is outside the piano (MIDI 21..108)")
    return key


def encode_frame(keys: Iterable[int]) -> list[int]:
    """Token ids of one frame: its distinct keys high to low, then STEP_END."""
    ordered = sorted(set(keys), reverse=True)
    if ordered and (ordered[-1] < 0 or ordered[0] >= KEYS):
        raise EncodingError(f"frame keys must lie in 0..87 (got {ordered})")
    return [*ordered, STEP_END]


def encode_frames(frames: Iterable[Iterable[int]]) -> list[int]:
    """Token ids of a sequence of frames, each given as the keys sounding in it."""
    ids: list[int] = []
    for frame in frames:
        ids += encode_frame(frame)
    return ids


def decode_frames(ids: Sequence[int]) -> list[list[int]]:
    """Frames (keys high to low) from token ids; a trailing unfinished frame is dropped."""
    frames: list[list[int]] = []
    current: list[int] = []
    last = NO_KEY
    for i, token in enumerate(ids):
        if token == STEP_END:
            frames.append(current)
            current, last = [], NO_KEY
        elif token in allowed_next(last):
            current.append(token)
            last = token
        else:
            raise EncodingError(f"token {token} at position {i} breaks the high-to-low order")
    return frames


def allowed_next(last_key: int) -> range | list[int]:
    """Ids that may follow when ``last_key`` was the last key emitted (NO_KEY at frame start).

    Keys strictly below the last one, and STEP_END. The model's mask is ``id < last_key``
    for keys, with STEP_END always open; this function is that rule in plain Python.
    """
    return [*range(last_key), STEP_END]


def frames_from_pitches(frames: Iterable[Iterable[int]]) -> list[list[int]]:
    """Frames of MIDI pitches as frames of piano keys (high to low)."""
    return [sorted({key_of(p) for p in frame}, reverse=True) for frame in frames]
