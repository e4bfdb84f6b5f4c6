"""Polyphonic prepared corpora: every part's sounding pitches, frame by frame.

``tunesmith prepare SOURCES --encoding poly`` reads the same sources as the melody
encodings (in parallel, cached), but keeps the whole texture: at each grid step (a quarter
note by default, as in the JSB Chorales piano rolls, or finer with ``--steps-per-quarter``)
the frame is the set of pitches that every non-drum part (chord tracks and ABC chord symbols
included) has sounding at that instant. A note shorter than a step that falls between two
steps is not seen, as in JSB. The poly encoding marks no onsets, so a note held over two
steps and a note struck twice look alike.

The corpus folder holds ``tokens.npy`` (the pieces' frames in the poly encoding: keys high
to low, then a step-end token, uint8) and ``manifest.json`` (``"data": {"encoding":
"poly", ...}``, each piece's start, token count and frame count, skips with reasons).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.config import DataConfig, read_json
from tunesmith.corpus.encodings.poly import (
    KEYS,
    LOWEST_PITCH,
    VOCAB_SIZE,
    decode_frames,
    encode_frames,
)
from tunesmith.corpus.store import (
    PrepareReport,
    corpus_key,
    manifest_header,
    previous_manifest,
    report_from_manifest,
    write_corpus,
)
from tunesmith.errors import ConfigError, CorpusError, SourceError
from tunesmith.read.cache import MelodyCache, default_cache_dir
from tunesmith.read.reading import read_entries
from tunesmith.read.sources import Piece, find_items

#: Options of the melody encodings that have no meaning for the whole texture.
_MELODY_ONLY = ("durations", "melody", "augment_keys", "min_bars", "min_pitches", "max_gap_bars")


def check_poly_options(config: DataConfig) -> None:
    """ConfigError naming the first melody-only option given with ``--encoding poly``."""
    default = DataConfig(encoding="poly")
    for name in _MELODY_ONLY:
        if getattr(config, name) != getattr(default, name):
            flag = "--" + name.replace("_", "-")
            msg = f"{flag} is for melodies; --encoding poly keeps every part as it is: drop {flag}"
            raise ConfigError(msg)


def piece_frames(piece: Piece, steps_per_quarter: int, max_steps: int = 0) -> list[list[int]]:
    """The pitches sounding at each grid step (high to low), every non-drum part together.

    A note sounds at step t when ``onset <= t / steps_per_quarter < onset + duration``;
    pitches off the piano (MIDI 21..108) are left out; leading and trailing empty frames are
    dropped; ``max_steps`` (0 = none) cuts a run-away piece.
    """
    eps = 1e-6
    notes = [
        (onset, duration, pitch)
        for part in piece.parts
        if not part.is_drum
        for onset, duration, pitch in part.notes
        if LOWEST_PITCH <= pitch < LOWEST_PITCH + KEYS
    ]
    if not notes:
        return []
    end = max(math.ceil((t + d) * steps_per_quarter - eps) for t, d, _ in notes)
    roll = np.zeros((end, KEYS), dtype=bool)
    for onset, duration, pitch in notes:
        first = math.ceil(onset * steps_per_quarter - eps)
        last = math.ceil((onset + duration) * steps_per_quarter - eps)
        roll[max(first, 0) : last, pitch - LOWEST_PITCH] = True
    sounding = np.nonzero(roll.any(1))[0]
    roll = roll[sounding[0] : sounding[-1] + 1] if len(sounding) else roll[:0]
    if max_steps:
        roll = roll[:max_steps]
    return [[int(k) + LOWEST_PITCH for k in np.nonzero(f)[0][::-1]] for f in roll]


def _frames_entry(piece: Piece, config: DataConfig) -> dict[str, Any]:
    """A cache entry: the piece's frames, or why it is skipped."""
    frames = piece_frames(piece, config.steps_per_quarter, config.max_steps)
    notes = sum(len(f) for f in frames)
    if len(frames) < 2 or notes < config.min_notes:
        return {"skip": f"too little music ({len(frames)} steps, {notes} sounding pitches)"}
    parts = sum(1 for part in piece.parts if part.notes and not part.is_drum)
    meta = {"tempo": piece.tempo, "time_signature": list(piece.time_signature), "parts": parts}
    return {"frames": frames, "name": piece.name, "source": piece.source, **meta}


def prepare_poly(
    sources: list[str],
    out: str | Path,
    config: DataConfig,
    *,
    jobs: int = 0,
    strict: bool = False,
    use_cache: bool = True,
    limit: int = 0,
    time_limit: float = 0,
    on_progress: Any = None,
):
    """Read ``sources`` and write a poly corpus to ``out`` (see the module docstring).

    :return: a PrepareReport, as :func:`tunesmith.corpus.prepare.prepare_corpus` gives.
    :raise CorpusError: when no piece at all could be used.
    """

    check_poly_options(config)
    started = time.perf_counter()
    out = Path(out)
    items = find_items(sources)[: limit or None]
    options = {k: v for k, v in config.to_dict().items() if k not in _MELODY_ONLY}
    options["frames_entry"] = 2  # what _frames_entry stores: bump when that changes
    cache = MelodyCache(default_cache_dir() if use_cache else None, options)
    keys = [cache.key(it) for it in items]
    this_key = corpus_key(sources, config, keys, items)
    old = previous_manifest(out, this_key) if use_cache else None
    if old and not (strict and old.get("skipped")):  # strict: read again, to raise
        report = report_from_manifest(old, out)
        report.up_to_date = True
        return report

    entries, skipped, from_cache = read_entries(
        items, config, jobs=jobs, cache=cache, strict=strict, time_limit=time_limit,
        on_progress=on_progress, keys=keys, extract=_frames_entry,
    )  # fmt: skip
    if not entries:
        why = "; ".join(f"{label}: {reason}" for label, reason in skipped[:3])
        raise CorpusError(f"no usable piece in {', '.join(sources)} ({why})")
    stream: list[int] = []
    pieces = []
    pitches: dict[int, int] = {}
    for group, entry in enumerate(entries):
        ids = encode_frames([[p - LOWEST_PITCH for p in f] for f in entry["frames"]])
        pieces.append(
            {
                "name": entry["name"],
                "source": entry["source"],
                "start": len(stream),
                "length": len(ids),
                "frames": len(entry["frames"]),
                "group": group,
                "parts": entry["parts"],
                "tempo": entry["tempo"],
                "time_signature": entry["time_signature"],
            }
        )
        stream += ids
        for frame in entry["frames"]:
            for p in frame:
                pitches[p] = pitches.get(p, 0) + 1
    report = PrepareReport(
        out=str(out),
        items=len(items),
        kept=len(pieces),
        from_cache=from_cache,
        skipped=skipped,
        tokens=len(stream),
        vocab_size=VOCAB_SIZE,
        seconds=time.perf_counter() - started,
        pitches={str(p): n for p, n in sorted(pitches.items())},
    )
    write_corpus(
        out,
        np.asarray(stream, dtype=np.uint8),
        {
            "manifest.json": {
                **manifest_header(report, this_key, sources, config),
                "frames": sum(p["frames"] for p in pieces),
                "pitches": report.pitches,
                "skipped": report.skipped_entries(),
                "pieces": pieces,
            }
        },
    )
    return report


def is_poly_corpus(path: str | Path) -> bool:
    """Whether ``path`` is a prepared corpus in the poly encoding."""
    manifest = Path(path) / "manifest.json"
    try:
        data = read_json(manifest)
        return (Path(path) / "tokens.npy").is_file() and data["data"]["encoding"] == "poly"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def load_poly_corpus(path: str | Path) -> tuple[list[np.ndarray], dict[str, Any]]:
    """A poly corpus's pieces as (frames, 88) uint8 piano rolls, and its manifest."""
    path = Path(path)
    if not is_poly_corpus(path):
        msg = f"{path}: not a poly corpus; make one with 'tunesmith prepare ... --encoding poly'"
        raise SourceError(msg)
    manifest = read_json(path / "manifest.json")
    tokens = np.load(path / "tokens.npy", mmap_mode="r")
    rolls = []
    for piece in manifest["pieces"]:
        ids = tokens[piece["start"] : piece["start"] + piece["length"]].tolist()
        roll = np.zeros((piece["frames"], KEYS), dtype=np.uint8)
        for t, frame in enumerate(decode_frames(ids)):
            roll[t, frame] = 1
        rolls.append(roll)
    return rolls, manifest
