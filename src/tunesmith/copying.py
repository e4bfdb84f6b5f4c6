"""How much generated music copies its training data: longest shared run of tokens.

Runs are compared as token sequences of the steps encoding (so pitch, onset and duration
must all agree), with 64-bit polynomial hashes of every window of a given length: the
hash of ``t[i:i+L]`` is ``(G[i+L] - G[i]) * B^(i+L-1)`` with ``G`` a prefix sum of
``t[j] * B^-j``, all modulo 2^64 (numpy's uint64 wraps), so each length costs one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
