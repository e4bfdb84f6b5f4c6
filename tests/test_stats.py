"""Musical statistics and copying, on hand-made melodies whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.judge.stats import (
    FEATURES,
    distinct_pitches,
    intervals,
    kl_divergence,
    note_lengths,
    onset_intervals,
    overlap,
    pitch_classes,
    pitch_ranges,
    repetition,
    scale_consistency,
)
from tunesmith.make.copying import CopyDetector
from tunesmith.melody import Melody, Note


def line(pitches: list[int], duration: int = 4, gap: int = 0) -> Melody:
    notes, t = [], 0
    for p in pitches:
        notes.append(Note(p, t, duration))
        t += duration + gap
    return Melody(notes)


C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def test_pitch_classes_of_a_scale() -> None:
    assert pitch_classes([line(C_MAJOR)]).tolist() == [2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]


def test_intervals_are_counted_and_clipped() -> None:
    h = intervals([line([60, 62, 64, 60, 84])])
    assert h[12 + 2] == 2 and h[12 - 4] == 1 and h[24] == 1 and h.sum() == 4


def test_note_lengths_and_onset_intervals() -> None:
    m = Melody([Note(60, 0, 1), Note(62, 1, 4), Note(64, 8, 16), Note(65, 24, 40)])
    assert note_lengths([m]).tolist() == [1, 0, 0, 1, 0, 0, 0, 1, 1]
    # onsets 0, 1, 8, 24: gaps of 1, 7 (binned with 8) and 16 sixteenths
    assert onset_intervals([m]).tolist() == [1, 0, 0, 0, 0, 1, 0, 1, 0]


def test_range_and_distinct_pitches() -> None:
    m = line([60, 67, 72, 60])
    assert pitch_ranges([m]).argmax() == 12
    assert distinct_pitches([m]).argmax() == 3 - 1


def test_scale_consistency() -> None:
    assert scale_consistency(line(C_MAJOR)) == 1.0
    assert scale_consistency(line(list(range(60, 72)))) == pytest.approx(7 / 12)
    a_minor = [69, 71, 72, 74, 76, 77, 79, 81]
    assert scale_consistency(line(a_minor)) == 1.0


def test_repetition() -> None:
    assert repetition(line(C_MAJOR)) == 0.0  # eight different notes: no figure comes back
    figure = [60, 64, 67, 72]
    # 12 four-note figures, of which only the first 4 are new: the arpeggio comes back
    assert repetition(line(figure * 4)) == pytest.approx(8 / 12)
    assert repetition(line([60, 62])) == 0.0


def test_overlap_and_kl() -> None:
    p, q = np.array([1.0, 1, 0, 0]), np.array([0.0, 0, 2, 2])
    assert overlap(p, p * 3) == pytest.approx(1.0)
    assert overlap(p, q) == 0.0
    assert overlap(p, np.array([1.0, 0, 0, 1])) == pytest.approx(0.5)
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-9)
    assert kl_divergence(p, q) > 5


def test_every_feature_gives_a_histogram() -> None:
    ms = [line(C_MAJOR), line([69, 72, 76, 72, 69], duration=2, gap=2)]
    for name, fn in FEATURES.items():
        h = fn(ms)
        assert h.sum() > 0, name


def test_copy_detector_finds_the_longest_shared_run() -> None:
    rng = np.random.default_rng(1)
    training = rng.integers(0, 40, 50_000)
    copied = training[1000:1048]
    sample = np.concatenate([[41, 42], copied, [43, 44]])  # 41+ never occur in training
    detector = CopyDetector(training)
    assert detector.longest(sample) == 48
    assert detector.shares(sample, 48) and not detector.shares(sample, 49)
    assert detector.longest([41, 42, 43]) == 0


def test_a_line_of_chords_moves_by_its_top_notes() -> None:
    """The events encoding's chords: intervals and onset intervals between the chords' top
    notes, never between the notes inside one chord."""
    notes = [
        Note(60, 0, 4), Note(64, 0, 4), Note(67, 0, 4),  # C E G
        Note(62, 4, 4),  # D
        Note(65, 8, 8), Note(69, 8, 8),  # F A
    ]  # fmt: skip
    chords = Melody(notes)
    assert intervals([chords]).nonzero()[0].tolist() == [12 - 5, 12 + 7]  # G->D, D->A
    assert onset_intervals([chords]).tolist() == onset_intervals([line([67, 62, 69])]).tolist()
    assert pitch_classes([chords]).sum() == 6  # every note still counts for pitch classes
    assert repetition(chords) == repetition(Melody([Note(67, 0, 4), Note(62, 4, 4)]))
