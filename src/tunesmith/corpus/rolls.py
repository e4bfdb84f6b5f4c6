"""Piano rolls for the chorale model: benchmark .mat files, padded batches, random keys.

The benchmark files are Boulanger-Lewandowski et al. (2012)'s: ``traindata``, ``validdata``
and ``testdata``, each a row of T x 88 binary piano rolls.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tunesmith.corpus.encodings.poly import KEYS
from tunesmith.errors import CorpusError, SourceError

SPLITS = ("traindata", "validdata", "testdata")
Roll = np.ndarray  # (T, 88) 0/1


def load_rolls(path: str | Path) -> dict[str, list[Roll]]:
    """The three splits of a benchmark .mat file, as lists of (T, 88) uint8 arrays."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file; give a .mat file of piano rolls")
    try:
        mat = scipy.io.loadmat(path)
    except (scipy.io.matlab.MatReadError, ValueError, OSError, TypeError) as exc:
        raise SourceError(f"{path}: not a readable .mat file ({exc})") from None
    missing = [name for name in SPLITS if name not in mat]
    if missing:
        raise SourceError(f"{path}: no {missing[0]!r} in the file; it needs {', '.join(SPLITS)}")
    splits: dict[str, list[Roll]] = {}
    for name in SPLITS:
        rolls = [np.asarray(r) for r in np.asarray(mat[name]).ravel()]
        for i, roll in enumerate(rolls):
            if roll.ndim != 2 or roll.shape[1] != KEYS or roll.shape[0] < 2:
                msg = f"{path}: {name}[{i}] has shape {roll.shape}; expected (T >= 2, {KEYS})"
                raise SourceError(msg)
        splits[name] = [(r > 0).astype(np.uint8) for r in rolls]
    return splits


def pad(rolls: Sequence[Roll]) -> tuple[torch.Tensor, torch.Tensor]:
    """A (batch, T, 88) float tensor of rolls padded with empty frames, and their lengths."""
    lengths = torch.tensor([len(r) for r in rolls])
    frames = torch.zeros(len(rolls), int(lengths.max()), rolls[0].shape[1])
    for i, r in enumerate(rolls):
        frames[i, : len(r)] = torch.from_numpy(r).float()
    return frames, lengths


@dataclass(frozen=True)
class Window:
    """Frames ``start .. start + length`` of a piece (``length`` predicted after the first),
    and whether it goes on from the lane's previous window, so that it starts from the frame
    model's state where that window ended (truncated back-propagation through time)."""

    roll: Roll
    carries: bool


def lanes_of_windows(rolls: Sequence[Roll], lanes: int, length: int) -> list[list[Window | None]]:
    """The pieces cut into windows of ``length`` predicted frames and laid out in ``lanes``
    side by side: batch b holds each lane's b-th window (None where a lane has run out).

    Each piece goes, whole, to a lane, longest first to the lane with the fewest windows so
    far, so that the lanes end together and batches are full (on a set of long pieces,
    ~25 % fewer steps than pieces taken in order); a lane then plays its pieces in the given
    order, each piece's windows one after another, each the continuation of the one before.
    """
    windows = [len(range(0, len(roll) - 1, length)) for roll in rolls]
    queue = [(0, lane) for lane in range(lanes)]
    owner = [0] * len(rolls)
    for i in sorted(range(len(rolls)), key=lambda i: -windows[i]):
        count, lane = heapq.heappop(queue)
        owner[i] = lane
        heapq.heappush(queue, (count + windows[i], lane))
    laid: list[list[Window]] = [[] for _ in range(lanes)]
    for roll, lane in zip(rolls, owner, strict=True):
        laid[lane] += [
            Window(roll[s : s + length + 1], s > 0) for s in range(0, len(roll) - 1, length)
        ]
    steps = max(len(lane) for lane in laid)
    return [[lane[b] if b < len(lane) else None for lane in laid] for b in range(steps)]


def transpose_randomly(rolls: Sequence[Roll], max_shift: int, rng: np.random.Generator):
    """Each roll moved by a random shift in -max_shift..max_shift-1 that stays on the keys."""
    out = []
    for r in rolls:
        sounding = np.nonzero(r.any(0))[0]
        low, high = (sounding.min(), sounding.max()) if len(sounding) else (0, KEYS - 1)
        shifts = [s for s in range(-max_shift, max_shift) if low + s >= 0 and high + s < KEYS]
        out.append(np.roll(r, int(rng.choice(shifts)), axis=1) if shifts else r)
    return out


def split_pieces(
    rolls: Sequence[Roll], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices of training and validation pieces: whole pieces held out, at random."""
    if len(rolls) < 2:
        raise CorpusError(f"{len(rolls)} piece(s): training needs at least 2 (one to validate)")
    order = np.random.default_rng(seed).permutation(len(rolls)).tolist()
    held = min(len(rolls) - 1, max(1, round(val_fraction * len(rolls))))
    return sorted(order[held:]), sorted(order[:held])
