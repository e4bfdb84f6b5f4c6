"""Melody extraction: choose the melody part of a Piece, quantize it and make it monophonic."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

import numpy as np

from tunesmith.chords import parse_chord
from tunesmith.config import DataConfig
from tunesmith.errors import SourceError
from tunesmith.keys import Key, find_key
from tunesmith.melody import (
    MAX_PITCH,
    MIN_PITCH,
    Melody,
    monophonic,
    new_note,
    split_at_gaps,
    steps_per_bar,
    steps_per_beat,
)
from tunesmith.read.harmony import accompaniment, chord_rows
from tunesmith.read.sources.base import Part, Piece

# A part named like this is the melody whatever its pitch (a chorale's soprano, a vocal track).
_MELODY_NAME = re.compile(
    r"\b(melody|melodie|vocals?|voice|lead|soprano|sopran|canto|tune)\b", re.I
)


def choose_part(piece: Piece, rule: str = "auto") -> tuple[Part, str]:
    """The melody part and why, by ``rule``: ``auto`` (the best :func:`melody_scores`; the
    default, since a pad, a held line or a piano often lies above the tune:
    ``benchmarks/melody``), ``highest-mean`` (a part named as the melody, else the highest
    mean pitch) or ``track:NAME`` / ``track:N`` (a part by name or 1-based number).

    Drum tracks, chord symbols and empty parts are never chosen by a rule, only by
    ``track:``.
    """
    if rule.startswith("track:"):
        return _named_track(piece, rule.removeprefix("track:")), f"asked for ({rule})"
    candidates = [p for p in piece.parts if p.notes and not (p.is_drum or p.is_chords)]
    if not candidates:
        reason = "only drum tracks" if any(p.notes for p in piece.parts) else "no notes"
        raise SourceError(f"{piece.source}: {reason}")
    if rule == "auto":
        scores = melody_scores(piece)
        best = max(candidates, key=lambda p: scores[id(p)]["total"])
        return (
            best,
            f"best melody score ({scores[id(best)]['total']:.2f}) of {len(candidates)} parts",
        )
    named = [p for p in candidates if _MELODY_NAME.search(p.name)]
    if named:
        return named[0], f"part named {named[0].name!r}"
    best = max(candidates, key=lambda p: p.mean_pitch)
    return best, f"highest mean pitch ({best.mean_pitch:.1f}) of {len(candidates)} parts"


def _named_track(piece: Piece, which: str) -> Part:
    parts = piece.parts
    if which.isdigit() and 1 <= int(which) <= len(parts):
        return parts[int(which) - 1]
    exact = [p for p in parts if p.name.lower() == which.lower()]
    near = exact or [p for p in parts if which.lower() in p.name.lower()]
    if near:
        return near[0]
    names = ", ".join(f"{i} {p.name!r}" for i, p in enumerate(parts, start=1))
    raise SourceError(f"{piece.source}: no part {which!r} (--melody track:); parts: {names}")


#: Weights of the melody features in ``--melody auto`` (each feature scores 0 to 1).
MELODY_WEIGHTS = {
    "monophony": 2.0,
    "range": 1.0,
    "density": 1.0,
    "stepwise": 1.0,
    "off_chord": 0.5,
    "top": 1.0,
    "name": 2.0,
}


def melody_scores(piece: Piece) -> dict[int, dict[str, float]]:
    """What marks each non-drum part as a melody, keyed by ``id(part)``, each 0 to 1:

    - ``monophony``: share of notes that start alone and under no other note of the part;
    - ``range``: a singable span (an octave and a fifth or less scores 1, two octaves 0)
      around a singable centre (G3 to G5);
    - ``density``: notes per quarter between 1/2 and 4 score 1 (pads and drones score less);
    - ``stepwise``: share of moves of a second or less (2/3 or more scores 1);
    - ``off_chord``: share of onsets where no other part strikes a chord (two notes or more);
    - ``top``: share of its sounding time in which it is the highest of the moving lines
      (parts with monophony 3/4 or more and density above 1/2): a melody lies above the
      other voices, though a pad, a drone or a piano may lie above it;
    - ``name``: 1 when the name says melody, vocal, voice, lead, soprano...

    ``total`` is their sum weighted by :data:`MELODY_WEIGHTS`.
    """
    parts = [p for p in piece.parts if p.notes and not (p.is_drum or p.is_chords)]
    starts: dict[int, Counter[float]] = {
        id(p): Counter(round(t * 8) / 8 for t, _, _ in p.notes) for p in parts
    }
    everyone: Counter[float] = sum(starts.values(), Counter())
    out = {}
    for part in parts:
        notes = sorted(part.notes)
        pitches = sorted(p for _, _, p in notes)
        own = starts[id(part)]
        # monophony: alone at its onset and not under a still-sounding note of the part
        alone, sounding_until = 0, -1.0
        for t, d, _ in notes:
            if own[round(t * 8) / 8] == 1 and t >= sounding_until - 1 / 16:
                alone += 1
            sounding_until = max(sounding_until, t + d)
        lo, hi = pitches[len(pitches) // 20], pitches[-1 - len(pitches) // 20]
        centre = (lo + hi) / 2
        span_score = _ramp(hi - lo, 19, 24)
        centre_score = _ramp(max(55 - centre, centre - 79, 0), 0, 12)
        active = max(notes[-1][0] + notes[-1][1] - notes[0][0], 1e-6)
        density = len(own) / active
        density_score = min(_ramp(-math.log2(max(density, 1e-6)), 1, 2), _ramp(density, 4, 8))
        tops: dict[float, int] = {}
        for t, _, p in notes:
            key = round(t * 8) / 8
            tops[key] = max(tops.get(key, p), p)
        top = [tops[t] for t in sorted(tops)]
        moves = [abs(b - a) for a, b in itertools.pairwise(top)]
        stepwise = sum(0 < m <= 2 for m in moves) / len(moves) if moves else 0.0
        chord_onsets = sum(everyone[t] - own[t] >= 2 for t in own)
        scores = {
            "monophony": alone / len(notes),
            "range": span_score * centre_score,
            "density": density_score,
            "stepwise": min(1.0, stepwise * 1.5),
            "off_chord": 1 - chord_onsets / len(own),
            "top": 0.0,
            "name": 1.0 if _MELODY_NAME.search(part.name) else 0.0,
        }
        out[id(part)] = scores
    lines = [p for p in parts if out[id(p)]["monophony"] >= 0.75 and out[id(p)]["density"] > 0.5]
    for part, share in zip(lines, _top_shares(lines), strict=True):
        out[id(part)]["top"] = share
    for scores in out.values():
        scores["total"] = sum(MELODY_WEIGHTS[k] * v for k, v in scores.items())
    return out


def _top_shares(parts: list[Part], per_quarter: int = 4) -> list[float]:
    """For each part, the share of its sounding sixteenths in which no other part sounds
    higher."""
    if not parts:
        return []
    end = max(t + d for p in parts for t, d, _ in p.notes)
    sounding = np.full((len(parts), int(end * per_quarter) + 1), -1, dtype=np.int16)
    for row, part in zip(sounding, parts, strict=True):
        for t, d, pitch in part.notes:
            a = int(t * per_quarter)
            row[a : max(a + 1, int((t + d) * per_quarter))] = pitch
    top = sounding.max(axis=0)
    shares = []
    for row in sounding:
        on = row >= 0
        shares.append(float((row[on] >= top[on]).mean()) if on.any() else 0.0)
    return shares


def _ramp(x: float, full: float, zero: float) -> float:
    """1 up to ``full``, falling linearly to 0 at ``zero``."""
    return 1.0 if x <= full else max(0.0, 1 - (x - full) / (zero - full))


#: Latest time in quarters a note may reach: far past any piece, far below int64's limit.
MAX_QUARTERS = float(2**40)


def quantize(
    notes: list[tuple[float, float, int]], steps_per_quarter: int, divisors: list[int] | None = None
) -> np.ndarray:
    """Snap onsets and ends to the grid; a note shorter than a step keeps one step.

    :param divisors: snap each time to the nearest multiple of 1/d quarter for any d given
        (4 and 3: sixteenths or triplet eighths, as music21's ``quantize`` does), so a
        triplet stays a triplet and a slightly late sixteenth a sixteenth; each d divides
        ``steps_per_quarter``. Default: the grid itself.
    :return: an (n, 3) int64 array of pitch, start step, length in steps, one row a note.
    """
    if not notes:
        return np.zeros((0, 3), dtype=np.int64)
    onset, duration, pitch = np.array(notes, dtype=np.float64).T
    # A time no grid can hold (a note 1e308 quarters long in a damaged ABC tune, NaN) drops
    # its note: cast to int64 it would become a step near -2**63.
    held = np.isfinite(onset + duration) & (np.abs(onset) + np.abs(duration) < MAX_QUARTERS)
    if not held.all():
        onset, duration, pitch = onset[held], duration[held], pitch[held]
    start = _snap(onset, steps_per_quarter, divisors)
    end = _snap(onset + duration, steps_per_quarter, divisors)
    return np.stack([pitch.astype(np.int64), start, np.maximum(1, end - start)], axis=1)


def _snap(times: np.ndarray, steps_per_quarter: int, divisors: list[int] | None) -> np.ndarray:
    """Times in quarters to grid steps, each at the nearest multiple of 1/d for a divisor d."""
    # Halves round up (floor of x + 0.5): numpy's round() would round them to even.
    if not divisors:
        return np.floor(times * steps_per_quarter + 0.5).astype(np.int64)
    options = np.stack(
        [np.floor(times * d + 0.5) * (steps_per_quarter // d) for d in divisors]
    ).astype(np.int64)
    best = np.abs(options - times * steps_per_quarter).argmin(axis=0)
    return options[best, np.arange(len(times))]


def chords(grid: np.ndarray) -> np.ndarray:
    """The full texture as a line of chords: the notes starting at an onset form its chord,
    which lasts until the next onset, or until every note struck so far has ended.

    :param grid: (n, 3) rows of pitch, start, duration (as :func:`quantize` gives them).
    :return: the same kind of rows, by onset and then pitch, one row per pitch of a chord.
    """
    grid = grid[grid[:, 2] > 0]
    if not len(grid):
        return grid
    pitch, start, end = grid[:, 0], grid[:, 1], grid[:, 1] + grid[:, 2]
    # one row per (onset, pitch), the one that ends last
    order = np.lexsort((-end, pitch, start))
    pitch, start, end = pitch[order], start[order], end[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (start[1:] != start[:-1]) | (pitch[1:] != pitch[:-1])
    pitch, start, end = pitch[first], start[first], end[first]
    onsets, at, which = np.unique(start, return_index=True, return_inverse=True)
    sounding_until = np.maximum.accumulate(np.maximum.reduceat(end, at))
    chord_end = sounding_until.copy()
    chord_end[:-1] = np.minimum(onsets[1:], sounding_until[:-1])
    return np.stack([pitch, start, chord_end[which] - start], axis=1)


def extract_melody(piece: Piece, config: DataConfig) -> Melody:
    """Turn a piece into a quantized melody, key found, optionally in C / A minor.

    The line is monophonic, from the part ``config.melody`` chooses (or the skyline over all
    parts); for the events encoding it is the full texture of every non-drum part (or of
    the ``track:`` asked for) as chords.

    :raise SourceError: when there is no usable melody; the message says why.
    """
    spq = config.steps_per_quarter
    part: Part | None = None  # the melody's own part, when one is chosen
    texture = config.encoding == "events"  # a line of chords from every part
    divisors = None
    if config.encoding in ("notes", "events") and config.duration_set:
        divisors = sorted({d.denominator for d in config.duration_set})
    if texture and not config.melody.startswith("track:"):
        pool = [n for p in piece.parts if not p.is_drum for n in p.notes]
        if not pool:
            raise SourceError(f"{piece.source}: no notes outside drum tracks")
        grid, why = quantize(pool, spq, divisors), "full texture of all non-drum parts"
    elif config.melody == "skyline":
        pool = [n for p in piece.parts if not (p.is_drum or p.is_chords) for n in p.notes]
        if not pool:
            raise SourceError(f"{piece.source}: no notes outside drum tracks")
        grid, why = quantize(pool, spq, divisors), "skyline over all non-drum parts"
    else:
        part, why = choose_part(piece, config.melody)
        grid = quantize(part.notes, spq, divisors)
    offset = 0
    # The line as rows of pitch, start, duration: every step below is an array operation,
    # and the notes are made once, at the end (a corpus makes millions of them).
    line = chords(grid) if texture else monophonic(grid)
    pitch, start, duration = line[:, 0], line[:, 1], line[:, 2]
    if len(line):
        # Leading silence carries no information: drop whole bars of it, keeping the metre.
        bar = steps_per_bar(piece.time_signature, spq)
        offset = int(start.min() - start.min() % bar)
        start -= offset
    cap = config.max_steps
    np.minimum(duration, cap - start, out=duration)
    line = line[start < cap]
    pitch, start, duration = line[:, 0], line[:, 1], line[:, 2]
    onsets = len(set(start.tolist()))
    if onsets < config.min_notes:
        msg = f"{piece.source}: too short ({onsets} notes, at least {config.min_notes} needed)"
        raise SourceError(msg)

    key = piece.key or texture_key(piece)
    meta: dict[str, object] = {"melody": why}
    if config.transpose and key is not None:
        shift = key.shift_to_c()
        moved = pitch + shift
        if moved.min() < MIN_PITCH or moved.max() > MAX_PITCH:
            bad = int(moved[(moved < MIN_PITCH) | (moved > MAX_PITCH)][0])
            msg = f"transposing by {shift} semitones puts pitch {bad} outside 0-127"
            raise SourceError(f"{piece.source}: {msg}")
        line[:, 0] = moved
        key = key.transpose(shift)
        meta["transposed"] = shift
    if config.chords:
        end = int((line[:, 1] + line[:, 2]).max()) if len(line) else 0
        accompanying = quantize(accompaniment(piece, part), spq, divisors)
        rows = chord_rows(accompanying, offset, end, steps_per_beat(piece.time_signature, spq))
        if not rows:
            raise SourceError(f"{piece.source}: no chords under the melody (--chords)")
        moved_by = int(meta.get("transposed", 0))
        meta["chords"] = [[s, n, _moved(name, moved_by)] for s, n, name in rows]
    return Melody(
        notes=list(map(new_note, line.tolist())),
        steps_per_quarter=spq,
        tempo=piece.tempo if math.isfinite(piece.tempo) and piece.tempo > 0 else 120.0,
        time_signature=piece.time_signature,
        key=key,
        name=piece.name,
        source=piece.source,
        meta=meta,
    )


def _moved(chord: str, semitones: int) -> str:
    found = parse_chord(chord)
    return found.transpose(semitones).name if found else chord


def texture_key(piece: Piece) -> Key | None:
    """The key found from every pitched part (drums aside, chord symbols included), with
    what the file says of it (a tonic, a signature): the melody's key in its texture. A
    melody line alone misleads: the upper staff of a C-major piano score reads as A minor
    (``benchmarks/keys`` measures both ways on known keys)."""
    notes = [n for p in piece.parts if not p.is_drum for n in p.notes]
    if not notes:
        return None
    _, duration, pitch = np.array(notes, dtype=np.float64).T
    return find_key(pitch.astype(np.int64), duration, tonic=piece.tonic, sharps=piece.sharps)


def check_melody(melody: Melody, config: DataConfig) -> str | None:
    """Why a melody fails the filters (too few bars or distinct pitches), or None."""
    bars = melody.length / melody.steps_per_bar
    if bars < config.min_bars:
        return f"shorter than --min-bars ({bars:.1f} bars, at least {config.min_bars:g} needed)"
    distinct = len(set(melody.pitches))
    if distinct < config.min_pitches:
        return (
            f"too few distinct pitches ({distinct}, at least {config.min_pitches} needed "
            "by --min-pitches)"
        )
    onsets = len({n.start for n in melody.notes})
    if onsets < config.min_notes:
        return f"too short ({onsets} notes, at least {config.min_notes} needed)"
    return None


def filter_melodies(
    melody: Melody, config: DataConfig
) -> tuple[list[Melody], list[tuple[str, str]]]:
    """Split a melody at long silences (``max_gap_bars``) and keep the parts that pass the
    filters; the others come back as (name, reason)."""
    gap = round(config.max_gap_bars * melody.steps_per_bar)
    kept, dropped = [], []
    for part in split_at_gaps(melody, gap):
        reason = check_melody(part, config)
        if reason:
            dropped.append((part.name, reason))
        else:
            kept.append(part)
    return kept, dropped


def augment_keys(melody: Melody, pitch_range: list[int]) -> list[Melody]:
    """Copies of the melody in the other keys (shifts -5 to +6) that keep every pitch within
    ``pitch_range``; each copy records its shift in ``meta["augmented"]``."""
    if not melody.notes:
        return []
    lo, hi = min(melody.pitches), max(melody.pitches)
    out = []
    for shift in range(-5, 7):
        if shift and pitch_range[0] <= lo + shift and hi + shift <= pitch_range[1]:
            copy = melody.transpose(shift)
            copy.meta = {**melody.meta, "augmented": shift}
            if "chords" in melody.meta:
                copy.meta["chords"] = [
                    [s, n, _moved(c, shift)] for s, n, c in melody.meta["chords"]
                ]
            out.append(copy)
    return out
