"""How much generated music copies its training data, and a guard that keeps it from copying.

Runs are compared as token sequences of their encoding (so pitch, onset and duration
must all agree), with 64-bit polynomial hashes of every window of a given length: the
hash of ``t[i:i+L]`` is ``(G[i+L] - G[i]) * B^(i+L-1)`` with ``G`` a prefix sum of
``t[j] * B^-j``, all modulo 2^64 (numpy's uint64 wraps), so each length costs one pass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tunesmith.encodings import Vocab, get_encoding
from tunesmith.encodings.base import Encoding
from tunesmith.errors import CheckpointError

if TYPE_CHECKING:
    from tunesmith.checkpoint import Run

_B = np.uint64(0x9E3779B97F4A7C15)  # odd, so it has an inverse modulo 2^64
_B_INV = np.uint64(pow(int(_B), -1, 2**64))


def _prefix(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(tokens)
    with np.errstate(over="ignore"):
        inv_pows = np.cumprod(np.full(n, _B_INV, dtype=np.uint64)) * _B  # B^-j for j = 0..n-1
        pows = np.cumprod(np.full(n + 1, _B, dtype=np.uint64)) * _B_INV  # B^k for k = 0..n
        g = np.zeros(n + 1, dtype=np.uint64)
        g[1:] = np.cumsum((tokens.astype(np.uint64) + np.uint64(1)) * inv_pows)
    return g, pows


def _window_hashes(prefix: tuple[np.ndarray, np.ndarray], length: int) -> np.ndarray:
    g, pows = prefix
    n = len(g) - 1
    if length > n:
        return np.zeros(0, dtype=np.uint64)
    i = np.arange(n - length + 1)
    with np.errstate(over="ignore"):
        return (g[i + length] - g[i]) * pows[i + length - 1]


class CopyDetector:
    """Answers: what is the longest run a sample shares with the training token stream?"""

    def __init__(self, training: np.ndarray) -> None:
        self._train = _prefix(np.asarray(training))
        self._sets: dict[int, np.ndarray] = {}

    def _known(self, length: int) -> np.ndarray:
        if length not in self._sets:
            self._sets[length] = np.unique(_window_hashes(self._train, length))
        return self._sets[length]

    def shares(self, sample: Sequence[int], length: int) -> bool:
        """Whether some run of ``length`` tokens of the sample occurs in the training data."""
        hashes = _window_hashes(_prefix(np.asarray(sample)), length)
        known = self._known(length)  # sorted: a binary search per window, not np.isin's sort
        if not len(hashes) or not len(known):
            return False
        at = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
        return bool((known[at] == hashes).any())

    def longest(self, sample: Sequence[int]) -> int:
        """Length of the longest run of the sample found verbatim in the training data."""
        low, high = 0, len(sample)  # shares(low) holds; find the largest such length
        while low < high:
            mid = (low + high + 1) // 2
            if self.shares(sample, mid):
                low = mid
            else:
                high = mid - 1
        return low


# ------------------------------------------------------------------------- the copy guard

#: The training tokens a run keeps for the copy guard (``RUN/train-tokens.npy``).
TRAIN_TOKENS = "train-tokens.npy"

#: A longer training stream is not kept in the run (2 bytes a token: 100 MB at most).
GUARD_MAX_TOKENS = 50_000_000


def save_training_tokens(run_dir: Path, tokens: np.ndarray, vocab_size: int) -> None:
    """Keep the training pieces' token stream in the run, for :class:`CopyGuard` (training
    does so up to :data:`GUARD_MAX_TOKENS`)."""
    dtype = np.uint16 if vocab_size < 2**16 else np.int32
    tmp = run_dir / f".{TRAIN_TOKENS}.tmp"
    with open(tmp, "wb") as f:
        np.save(f, np.asarray(tokens, dtype=dtype))
    os.replace(tmp, run_dir / TRAIN_TOKENS)


def load_training_tokens(run_dir: Path) -> np.ndarray | None:
    """The stream :func:`save_training_tokens` kept, or None (an older run, a huge corpus)."""
    try:
        return np.load(run_dir / TRAIN_TOKENS, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{run_dir / TRAIN_TOKENS}: damaged ({exc})") from exc


def tokens_per_bar(
    encoding: Encoding, vocab: Vocab, tokens: np.ndarray, steps_per_quarter: int
) -> float:
    """Mean tokens in a bar of 4/4 over a token stream (the steps encoding: the steps in a
    bar; the notes and events encodings: fewer, as a token spans several steps)."""
    steps = np.array([encoding.steps([t]) for t in vocab.tokens], dtype=np.float64)
    counts = np.bincount(np.asarray(tokens, dtype=np.int64), minlength=len(steps))
    total = float(counts @ steps)
    bar = 4 * steps_per_quarter
    return bar * float(counts[steps > 0].sum()) / total if total else float(bar)


def copy_guard(run: Run, bars: float) -> CopyGuard | None:
    """The guard against copying ``bars`` bars (4/4) from the run's training pieces, made
    once per run and kept; None when ``bars`` is 0 or the run keeps no training tokens."""
    if bars <= 0:
        return None
    if bars not in run.cache.setdefault("copy_guards", {}):
        tokens = load_training_tokens(run.path)
        guard = None
        if tokens is not None:
            encoding = get_encoding(run.data)
            per_bar = tokens_per_bar(encoding, run.vocab, tokens, run.data.steps_per_quarter)
            guard = CopyGuard(tokens, max(2, round(bars * per_bar)))
        run.cache["copy_guards"][bars] = guard
    return run.cache["copy_guards"][bars]


class CopyGuard:
    """Keeps sampling from copying: forbids every token that would complete a run of
    ``length`` tokens found verbatim in the training stream.

    This is the max-order constraint of Papadopoulos, Roy and Pachet ("Avoiding plagiarism
    in Markov sequence generation", AAAI 2014) for a neural model: the model's distribution
    is kept, minus the few continuations that would copy; a run of ``length - 1`` tokens may
    still match. The hashes are those of :class:`CopyDetector`, so what the guard forbids
    is exactly what the detector would count.
    """

    def __init__(self, training: np.ndarray, length: int) -> None:
        if length < 2:
            raise ValueError("a copy guard needs runs of at least two tokens")
        self.length = length
        self._known = np.unique(_window_hashes(_prefix(np.asarray(training)), length))
        with np.errstate(over="ignore"):  # B^(L-2-k) for the L-1 tokens before the next
            self._pows = np.cumprod(np.full(length - 1, _B, dtype=np.uint64))[::-1] * _B_INV

    def forbidden(self, histories: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
        """(rows, vocab) booleans: which next token would make each history end in a
        training run of ``length`` tokens."""
        out = np.zeros((len(histories), vocab_size), dtype=bool)
        rows = [i for i, h in enumerate(histories) if len(h) >= self.length - 1]
        if not rows or not len(self._known):
            return out
        context = np.array([histories[i][-(self.length - 1) :] for i in rows], dtype=np.uint64)
        with np.errstate(over="ignore"):
            head = ((context + np.uint64(1)) * self._pows).sum(axis=1, dtype=np.uint64)
            candidates = head[:, None] * _B + np.arange(1, vocab_size + 1, dtype=np.uint64)
        at = np.minimum(np.searchsorted(self._known, candidates), len(self._known) - 1)
        out[rows] = self._known[at] == candidates
        return out
