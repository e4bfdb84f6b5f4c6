"""How much generated music copies its training data, and a guard that keeps it from copying.

Runs are compared as token sequences of their encoding (so pitch, onset and duration
must all agree), with 64-bit polynomial hashes of every window of a given length: the
hash of ``t[i:i+L]`` is ``(G[i+L] - G[i]) * B^(i+L-1)`` with ``G`` a prefix sum of
``t[j] * B^-j``, all modulo 2^64 (numpy's uint64 wraps), so each length costs one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tunesmith.corpus.encodings import Vocab, get_encoding
from tunesmith.corpus.encodings.base import Encoding
from tunesmith.errors import ConfigError
from tunesmith.learn.checkpoint import load_training_tokens

if TYPE_CHECKING:
    from tunesmith.learn.checkpoint import Run

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


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by a sort: numpy 2's np.unique takes 15 times as long on a million
    64-bit hashes (1.3 s against 0.09 s here)."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


class CopyDetector:
    """Answers: what is the longest run a sample shares with the training token stream?"""

    def __init__(self, training: np.ndarray) -> None:
        self._train = _prefix(np.asarray(training))
        self._sets: dict[int, np.ndarray] = {}

    def _known(self, length: int) -> np.ndarray:
        if length not in self._sets:
            self._sets[length] = _sorted_unique(_window_hashes(self._train, length))
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


#: The longest copy guard asked for, in bars.
MAX_GUARD_BARS = 64


def check_copy_guard(bars: float) -> None:
    if not 0 <= bars <= MAX_GUARD_BARS:
        msg = f"--copy-guard must be between 0 (off) and {MAX_GUARD_BARS} bars (got {bars:g})"
        raise ConfigError(msg)


def guard_length(per_bar: float, bars: float, time_signature: Sequence[int] = (4, 4)) -> int:
    """Tokens in ``bars`` bars of a metre, from the mean tokens in a bar of 4/4."""
    quarters = time_signature[0] * 4 / time_signature[1]
    return max(2, round(bars * per_bar * quarters / 4))


def copy_guard(
    run: Run, bars: float, metres: Sequence[Sequence[int]] | None = None
) -> CopyGuard | RowGuards | None:
    """The guard against copying ``bars`` bars from the run's training pieces; None when
    ``bars`` is 0 or the run keeps no training tokens. Without ``metres``, bars of 4/4;
    with them (one time signature per row sampled), each row is guarded over bars of its
    own metre. The guards are made once per length and kept with the run."""
    check_copy_guard(bars)
    if bars <= 0:
        return None
    cache = run.cache.setdefault("copy_guards", {})
    if "per_bar" not in cache:
        tokens = load_training_tokens(run.path)
        if tokens is None:
            tokens = np.zeros(0, dtype=np.int64)
        cache["tokens"] = tokens
        encoding, spq = get_encoding(run.data), run.data.steps_per_quarter
        cache["per_bar"] = tokens_per_bar(encoding, run.vocab, tokens, spq) if len(tokens) else None
    if cache["per_bar"] is None:
        return None

    def guard(length: int) -> CopyGuard:
        if length not in cache:
            cache[length] = CopyGuard(cache["tokens"], length)
        return cache[length]

    if metres is None:
        return guard(guard_length(cache["per_bar"], bars))
    return RowGuards([guard(guard_length(cache["per_bar"], bars, m)) for m in metres])


class RowGuards:
    """Rows sampled in several metres, each under the copy guard of its own run length."""

    def __init__(self, guards: Sequence[CopyGuard]) -> None:
        self.guards = list(guards)

    def of_rows(self, rows: Sequence[int]) -> RowGuards:
        """The guards of these rows (a row may come more than once), in that order."""
        return RowGuards([self.guards[r] for r in rows])

    def start(self, histories: Sequence[Sequence[int]]) -> MixedRows:
        if len(histories) != len(self.guards):
            raise ValueError(f"{len(histories)} rows for the guards of {len(self.guards)}")
        groups: dict[int, list[int]] = {}
        for row, g in enumerate(self.guards):
            groups.setdefault(id(g), []).append(row)
        return MixedRows(
            [
                (rows, self.guards[rows[0]].start([histories[r] for r in rows]))
                for rows in groups.values()
            ],
            len(histories),
        )


class MixedRows:
    """:class:`GuardedRows` for groups of rows, answered as one batch."""

    def __init__(self, groups: list[tuple[list[int], GuardedRows]], rows: int) -> None:
        self._groups, self._rows = groups, rows

    def forbidden(self, vocab_size: int) -> np.ndarray:
        out = np.zeros((self._rows, vocab_size), dtype=bool)
        for rows, guarded in self._groups:
            out[rows] = guarded.forbidden(vocab_size)
        return out

    def push(self, tokens: Sequence[int]) -> None:
        for rows, guarded in self._groups:
            guarded.push([tokens[r] for r in rows])


class CopyGuard:
    """Keeps sampling from copying: forbids every token that would complete a run of
    ``length`` tokens found verbatim in the training stream.

    This is the max-order constraint of Papadopoulos, Roy and Pachet ("Avoiding plagiarism
    in Markov sequence generation", AAAI 2014) for a neural model: the model's distribution
    is kept, minus the few continuations that would copy; a run of ``length - 1`` tokens may
    still match. Each training run is kept as one sorted key: the hash of its first
    ``length - 1`` tokens (:class:`CopyDetector`'s) shifted left, with its last token in
    the low bits, so the continuations of a context lie side by side and one pair of binary
    searches finds them all.
    """

    def __init__(self, training: np.ndarray, length: int) -> None:
        if length < 2:
            raise ValueError("a copy guard needs runs of at least two tokens")
        self.length = length
        training = np.asarray(training, dtype=np.int64)
        self._bits = max(1, int(training.max(initial=0)).bit_length())
        heads = _window_hashes(_prefix(training), length - 1)[: max(0, len(training) - length + 1)]
        with np.errstate(over="ignore"):
            keys = (heads << np.uint64(self._bits)) | training[length - 1 :].astype(np.uint64)
        self._keys = _sorted_unique(keys)

    def start(self, histories: Sequence[Sequence[int]]) -> GuardedRows:
        """Follow these sequences as sampling extends them, a token a row at a time."""
        return GuardedRows(self._keys, self._bits, self.length - 1, histories)

    def forbidden(self, histories: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
        """(rows, vocab) booleans: which next token would make each history end in a
        training run of ``length`` tokens."""
        return self.start(histories).forbidden(vocab_size)


class GuardedRows:
    """The last ``context`` tokens of each row and their hash, kept up to date in O(1) a
    token: sampling asks for the forbidden tokens at every step of every row.

    Tokens are stored plus one, so an empty slot (0) adds nothing to a hash, and a row
    shorter than the context is hashed over what it has.
    """

    def __init__(
        self, keys: np.ndarray, bits: int, context: int, histories: Sequence[Sequence[int]]
    ) -> None:
        self._keys, self._bits = keys, np.uint64(bits)
        self._recent = np.zeros((len(histories), context), dtype=np.uint64)
        for row, history in zip(self._recent, histories, strict=True):
            tail = list(history[-context:])
            if tail:
                row[context - len(tail) :] = np.asarray(tail, dtype=np.uint64) + np.uint64(1)
        self._count = np.array([min(len(h), context) for h in histories])
        with np.errstate(over="ignore"):  # B^(context-1-k) for column k
            pows = np.cumprod(np.full(context, _B, dtype=np.uint64))[::-1] * _B_INV
            self._head = (self._recent * pows).sum(axis=1, dtype=np.uint64)
        self._oldest_pow = pows[0]

    def forbidden(self, vocab_size: int) -> np.ndarray:
        """(rows, vocab) booleans: the tokens that would complete a training run."""
        out = np.zeros((len(self._head), vocab_size), dtype=bool)
        full = np.flatnonzero(self._count == self._recent.shape[1])
        if not len(full) or not len(self._keys):
            return out
        low_bits = (np.uint64(1) << self._bits) - np.uint64(1)
        with np.errstate(over="ignore"):
            base = self._head[full] << self._bits
        lo = np.searchsorted(self._keys, base)
        hi = np.searchsorted(self._keys, base | low_bits, side="right")
        counts = hi - lo
        if not counts.any():
            return out
        # every key of every row's range, flattened: row r takes keys lo[r] .. hi[r] - 1
        at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        tokens = (self._keys[at] & low_bits).astype(np.int64)
        rows = np.repeat(full, counts)
        keep = tokens < vocab_size
        out[rows[keep], tokens[keep]] = True
        return out

    def push(self, tokens: Sequence[int]) -> None:
        """Each row goes on by one token."""
        new = np.asarray(tokens, dtype=np.uint64) + np.uint64(1)
        with np.errstate(over="ignore"):
            self._head = (self._head - self._recent[:, 0] * self._oldest_pow) * _B + new
        self._recent[:, :-1] = self._recent[:, 1:]
        self._recent[:, -1] = new
        self._count = np.minimum(self._count + 1, self._recent.shape[1])
