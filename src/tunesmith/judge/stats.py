"""Musical statistics of melodies, and how far two sets of melodies are from each other.

Each feature is a histogram over a set of melodies (after Yang & Lerch 2018, "On the
evaluation of generative models in music"); two sets are compared by the overlap of their
normalised histograms (1 = the same distribution, 0 = disjoint) and by KL divergence.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from tunesmith.melody import Melody, Note

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor; harmonic/melodic differ by notes
LENGTH_BINS = [1, 2, 3, 4, 6, 8, 12, 16]  # in sixteenths; one more bin for anything longer


def _hist(values: Sequence[float], bins: int, low: float = 0) -> np.ndarray:
    h = np.zeros(bins)
    for v in values:
        h[int(min(max(v - low, 0), bins - 1))] += 1
    return h


def _length_bin(steps: int, steps_per_quarter: int) -> int:
    sixteenths = steps * 4 / steps_per_quarter
    for i, edge in enumerate(LENGTH_BINS):
        if sixteenths <= edge + 1e-9:
            return i
    return len(LENGTH_BINS)


def _line(m: Melody) -> list[Note]:
    """The melodic line: at each onset its highest note. A monophonic melody is its notes;
    a line of chords (the events encoding) moves by its top notes, so intervals, onset
    intervals and repetition are never measured between the notes of one chord."""
    if all(a.start < b.start for a, b in itertools.pairwise(m.notes)):
        return m.notes
    return [Note(pitches[-1], start, duration) for start, duration, pitches in m.events]


def pitch_classes(ms: Sequence[Melody]) -> np.ndarray:
    """Notes per pitch class (C = 0)."""
    return _hist([n.pitch % 12 for m in ms for n in m.notes], 12)


def intervals(ms: Sequence[Melody]) -> np.ndarray:
    """Melodic intervals between consecutive notes (of a line of chords, between their top
    notes), -12..+12 semitones (wider ones clipped)."""
    steps = [b.pitch - a.pitch for m in ms for a, b in itertools.pairwise(_line(m))]
    return _hist([max(-12, min(12, s)) for s in steps], 25, low=-12)


def note_lengths(ms: Sequence[Melody]) -> np.ndarray:
    """Note durations in bins of 1, 2, 3, 4, 6, 8, 12, 16 and more sixteenths."""
    return _hist([_length_bin(n.duration, m.steps_per_quarter) for m in ms for n in m.notes], 9)


def onset_intervals(ms: Sequence[Melody]) -> np.ndarray:
    """Inter-onset intervals (a note's duration plus the rest after it), binned as lengths."""
    return _hist(
        [
            _length_bin(b.start - a.start, m.steps_per_quarter)
            for m in ms
            for a, b in itertools.pairwise(_line(m))
        ],
        9,
    )


def pitch_ranges(ms: Sequence[Melody]) -> np.ndarray:
    """Per melody: highest minus lowest pitch, 0..36 semitones."""
    return _hist([max(m.pitches) - min(m.pitches) for m in ms if m.notes], 37)


def distinct_pitches(ms: Sequence[Melody]) -> np.ndarray:
    """Per melody: how many different pitches it uses, 1..24."""
    return _hist([len(set(m.pitches)) for m in ms if m.notes], 24, low=1)


def scale_consistency(m: Melody) -> float:
    """Largest share of notes inside one major or natural-minor scale (of any tonic)."""
    if not m.notes:
        return 0.0
    pcs = np.array(m.pitches) % 12
    best = 0.0
    for tonic in range(12):
        for scale in (_MAJOR, _MINOR):
            best = max(best, float(np.isin(pcs, (scale + tonic) % 12).mean()))
    return best


def repetition(m: Melody, n: int = 4) -> float:
    """Share of the melody's n-note figures (pitch intervals and durations) heard before in it."""
    notes = _line(m)
    figures = [
        tuple(
            (b.pitch - a.pitch, a.duration)
            for a, b in zip(notes[i : i + n], notes[i + 1 : i + n + 1], strict=False)
        )
        for i in range(len(notes) - n)
    ]
    if not figures:
        return 0.0
    seen: set[tuple] = set()
    repeated = 0
    for f in figures:
        repeated += f in seen
        seen.add(f)
    return repeated / len(figures)


def _per_melody(
    fn: Callable[[Melody], float], bins: int
) -> Callable[[Sequence[Melody]], np.ndarray]:
    def hist(ms: Sequence[Melody]) -> np.ndarray:
        return _hist([min(fn(m), 0.999999) * bins for m in ms if m.notes], bins)

    return hist


#: The features a report compares: name -> histogram of a set of melodies.
FEATURES: dict[str, Callable[[Sequence[Melody]], np.ndarray]] = {
    "pitch classes": pitch_classes,
    "intervals": intervals,
    "note lengths": note_lengths,
    "onset intervals": onset_intervals,
    "pitch range": pitch_ranges,
    "distinct pitches": distinct_pitches,
    "scale consistency": _per_melody(scale_consistency, 10),
    "repetition": _per_melody(repetition, 10),
}


def overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Histogram intersection of the normalised histograms: 1 = identical, 0 = disjoint."""
    if p.sum() == 0 or q.sum() == 0:
        return 0.0
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def kl_divergence(p: np.ndarray, q: np.ndarray, eps: float = 1e-6) -> float:
    """KL(p || q) in nats, both normalised and smoothed by ``eps`` so empty bins stay finite."""
    p = (p + eps) / (p + eps).sum()
    q = (q + eps) / (q + eps).sum()
    return float((p * np.log(p / q)).sum())
