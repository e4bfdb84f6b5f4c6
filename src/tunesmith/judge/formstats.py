"""Form: how a melody's bars return, and how it ends, judged in the melody's own metre.

A bar is the notes that start in it, as (onset in the bar, length, pitch). Bar ``i`` at lag
``L`` is compared with bar ``i - L``:

- **exact**: the same notes;
- **transposed**: the same rhythm and intervals, moved by a non-zero interval;
- **rhythm**: the same onsets and lengths, other pitches.

A melody's share of each kind at each lag is over the bars that have notes and a bar with
notes ``L`` before them; each share is a histogram over melodies (as ``stats.repetition``
is), so a set of samples is compared with held-out pieces by the overlap of histograms.
How a melody ends: on its key's tonic or not (the key its notes are in, by analysis within
its key signature), on a strong beat or not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tunesmith.judge.stats import _hist, _line
from tunesmith.keys import Key, find_key
from tunesmith.melody import Melody

LAGS = (1, 2, 4, 8)
KINDS = ("exact", "transposed", "rhythm")
BINS = 10

Bar = tuple[tuple[int, int, int], ...]


def bars(m: Melody) -> list[Bar]:
    """The melody's bars of its own metre, each its notes as (onset in bar, length, pitch)."""
    size = m.steps_per_bar
    count = -(-m.length // size) if m.length else 0
    out: list[list[tuple[int, int, int]]] = [[] for _ in range(count)]
    for n in _line(m):
        out[n.start // size].append((n.start % size, n.duration, n.pitch))
    return [tuple(b) for b in out]


def relation(a: Bar, b: Bar) -> str | None:
    """How bar ``b`` repeats bar ``a``: one of :data:`KINDS`, or None."""
    if not a or not b or len(a) != len(b):
        return None
    if [(t, d) for t, d, _ in a] != [(t, d) for t, d, _ in b]:
        return None
    if a == b:
        return "exact"
    shifts = {pb - pa for (_, _, pa), (_, _, pb) in zip(a, b, strict=True)}
    return "transposed" if len(shifts) == 1 else "rhythm"


def repeat_shares(m: Melody, lag: int) -> dict[str, float] | None:
    """Per kind, the share of the melody's bars that repeat the bar ``lag`` before them
    (None if no bar with notes has one with notes that far back)."""
    bs = bars(m)
    pairs = [(bs[i - lag], bs[i]) for i in range(lag, len(bs)) if bs[i] and bs[i - lag]]
    if not pairs:
        return None
    found = [relation(a, b) for a, b in pairs]
    return {kind: found.count(kind) / len(pairs) for kind in KINDS}


def ending(m: Melody, key: Key | None) -> int | None:
    """0: ends on the tonic on a strong beat; 1: on the tonic off it; 2: elsewhere on a
    strong beat; 3: elsewhere off it (None: no notes or no key). Strong beats are the
    downbeat, and the half bar in a metre whose numerator is even."""
    line = _line(m)
    if not line or key is None:
        return None
    last = line[-1]
    size = m.steps_per_bar
    strong_every = size // 2 if m.time_signature[0] % 2 == 0 and size % 2 == 0 else size
    strong = last.start % size % strong_every == 0
    tonic = last.pitch % 12 == key.tonic
    return (0 if tonic else 2) + (0 if strong else 1)


def _share_hist(kind: str, lag: int) -> Callable[[Sequence[Melody]], np.ndarray]:
    def hist(ms: Sequence[Melody]) -> np.ndarray:
        shares = [repeat_shares(m, lag) for m in ms]
        return _hist([min(s[kind], 0.999999) * BINS for s in shares if s is not None], BINS)

    return hist


#: name -> histogram over a set of melodies, for each kind and lag.
FORM_FEATURES: dict[str, Callable[[Sequence[Melody]], np.ndarray]] = {
    f"{kind} repeats, lag {lag}": _share_hist(kind, lag) for lag in LAGS for kind in KINDS
}


def mean_share(ms: Sequence[Melody], kind: str, lag: int) -> float:
    """The share over all compared bars of all melodies (pooled)."""
    hits = total = 0
    for m in ms:
        bs = bars(m)
        pairs = [(bs[i - lag], bs[i]) for i in range(lag, len(bs)) if bs[i] and bs[i - lag]]
        hits += sum(relation(a, b) == kind for a, b in pairs)
        total += len(pairs)
    return hits / total if total else 0.0


def endings(ms: Sequence[Melody], keys: Sequence[Key | None]) -> np.ndarray:
    """Counts of the four endings of :func:`ending`."""
    found = [ending(m, k) for m, k in zip(ms, keys, strict=True)]
    return np.bincount([e for e in found if e is not None], minlength=4).astype(float)


def self_similarity(m: Melody, limit: int = 32) -> np.ndarray:
    """(bars, bars) similarity of the first ``limit`` bars: 1 exact, 0.75 transposed, 0.5
    the same rhythm, else the share of (onset, pitch) pairs the two bars share."""
    bs = bars(m)[:limit]
    score = {"exact": 1.0, "transposed": 0.75, "rhythm": 0.5}
    out = np.zeros((len(bs), len(bs)))
    for i, a in enumerate(bs):
        for j, b in enumerate(bs):
            kind = relation(a, b)
            if kind:
                out[i, j] = score[kind]
            elif a and b:
                sa, sb = {(t, p) for t, _, p in a}, {(t, p) for t, _, p in b}
                out[i, j] = 0.5 * len(sa & sb) / len(sa | sb)
    return out


def heard_key(m: Melody) -> Key | None:
    """The melody's key by analysis, within its key signature's two keys (C major or A
    minor in a transposed corpus). A generated melody's mode is its own, not its opening's:
    one bar rarely tells C major from A minor, so samples and held-out pieces are both
    judged by the key their notes are in."""
    if m.key is None or not m.notes:
        return m.key
    return find_key(m.pitches, [n.duration for n in m.notes], sharps=m.key.sharps)
