"""Where the tests' music lies and how much of it they take; imported by tests and conftest.

A module of its own rather than names in conftest.py: ``from conftest import ...`` finds
whichever conftest.py pytest put first on the path (tests/web has one too).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
NOTTINGHAM_MIDI = SHARED / "nottingham" / "midi"
NOTTINGHAM_ABC = SHARED / "nottingham" / "abc"

#: Essen tunes the round-trip tests read: a few hundred, spread over every Essen file.
ESSEN_SAMPLE = 300

#: `tunesmith train` flags for a model small enough to train in a second or two.
TINY_TRAIN_ARGS = [
    "--hidden-size",
    "32",
    "--embedding-dim",
    "16",
    "--num-layers",
    "1",
    "--sequence-length",
    "32",
]


def random_context(batch: int, time: int, vocab_size: int, seed: int = 0):
    """A (batch, time, WIDTH) form context of valid random values, for model-level tests."""
    import torch

    from tunesmith.chords import CHORD_IDS
    from tunesmith.corpus import context as c

    g = torch.Generator().manual_seed(seed)
    sizes = {c.POS: c.POS_SIZE, c.METRE: len(c.METRES), c.PHRASE: c.PHRASE_BARS}
    sizes |= {c.LEFT: c.LEFT_SIZE, c.REPEATS: 2 ** len(c.LAGS)}
    sizes |= {c.LOOKBACK + k: vocab_size + 1 for k in range(len(c.LAGS))}
    sizes |= {c.TIME_LEFT: c.FAR + 1, c.MODE: len(c.MODES), c.CHORD: CHORD_IDS, c.STYLE: 1}
    return torch.stack(
        [torch.randint(sizes[i], (batch, time), generator=g) for i in range(c.WIDTH)], -1
    )
