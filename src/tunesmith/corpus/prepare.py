"""Build a prepared corpus: read the sources (:mod:`tunesmith.read.reading`), filter, encode, save.

A prepared corpus is a folder:

- ``tokens.npy``: every piece's token ids, each piece preceded by the end token, one more
  end token last; memory-mapped when read, so a large corpus is never loaded whole;
- ``context-v2.npy``: every position's form context (:mod:`tunesmith.corpus.context`), memory-mapped
  the same way;
- ``vocab.json``: the vocabulary; ``manifest.json``: options, sources, every piece's
  offset and length, and every skipped file or tune with its reason.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from fractions import Fraction
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.config import DataConfig
from tunesmith.corpus.context import CONTEXT_FILE, corpus_context
from tunesmith.corpus.encodings import END, Vocab, get_encoding
from tunesmith.corpus.encodings.base import Encoding
from tunesmith.corpus.poly_prepare import prepare_poly
from tunesmith.corpus.store import (
    PrepareReport,
    corpus_key,
    is_prepared,
    manifest_header,
    previous_manifest,
    report_from_manifest,
    write_corpus,
)
from tunesmith.corpus.styles import style_items
from tunesmith.errors import ConfigError, CorpusError, EncodingError, SourceError
from tunesmith.melody import Melody
from tunesmith.read.cache import MelodyCache, default_cache_dir
from tunesmith.read.extract import augment_keys, filter_melodies
from tunesmith.read.reading import DEFAULT_TIME_LIMIT, ProgressFn, one_line, read_melodies
from tunesmith.read.sources import Item, find_items


def prepare_corpus(
    sources: list[str],
    out: str | Path,
    config: DataConfig | None = None,
    *,
    jobs: int = 0,
    strict: bool = False,
    use_cache: bool = True,
    limit: int = 0,
    time_limit: float = DEFAULT_TIME_LIMIT,
    on_progress: ProgressFn | None = None,
    styles: dict[str, list[str]] | None = None,
) -> PrepareReport:
    """Read ``sources`` and write a prepared corpus to ``out``.

    Nothing is parsed twice: melodies come from the cache when a file and the options are
    unchanged, and a corpus folder already built from the same input is left as it is.

    :param limit: use only the first ``limit`` files or tunes (0 = all).
    :param time_limit: seconds one file or tune may take before it is skipped (0 = none).
    :param styles: instead of ``sources``, style label -> its sources: each piece is
        labelled (see :mod:`tunesmith.corpus.styles`); ``limit`` then counts per style.
    :param memory_limit: bytes of address space each worker process may use (0 = no cap).
    :raise CorpusError: when no piece at all could be used.
    """
    config = config or DataConfig()
    config.validate()
    if styles and config.encoding == "poly":
        raise ConfigError("--style labels melodies; the poly encoding takes none")
    if config.encoding == "poly":  # every part's pitches, frame by frame: its own module
        return prepare_poly(
            sources, out, config, jobs=jobs, strict=strict, use_cache=use_cache, limit=limit,
            time_limit=time_limit, on_progress=on_progress,
        )  # fmt: skip
    started = time.perf_counter()
    out = Path(out)
    items, style_of, sources = _items(sources, styles, limit)
    cache = MelodyCache(default_cache_dir() if use_cache else None, _extraction_options(config))
    keys = [cache.key(it) for it in items]  # a stat and a path resolution each: once
    this_key = corpus_key(sources, config, keys, items)
    old = previous_manifest(out, this_key) if use_cache else None
    if old and strict and old.get("skipped"):
        first = old["skipped"][0]
        raise SourceError(f"{first['item']}: {first['reason']}")
    if old:
        report = report_from_manifest(old, out)
        report.up_to_date = True
        if on_progress:
            on_progress(len(items), len(items))
        return report

    melodies, skipped, from_cache = read_melodies(
        items,
        config,
        jobs=jobs,
        cache=cache,
        strict=strict,
        time_limit=time_limit,
        on_progress=on_progress,
        keys=keys,
    )
    cache.close()
    for m in melodies if style_of else ():
        m.meta["style"] = style_of[m.source]
    melodies, groups, more_skips = _filter_and_augment(melodies, config)
    skipped += more_skips
    encoding = get_encoding(config)
    melodies, groups, encoded, more_skips = _encode(melodies, groups, encoding)
    skipped += more_skips
    if not melodies:
        why = "; ".join(f"{label}: {reason}" for label, reason in skipped[:3])
        raise CorpusError(f"no usable melody in {', '.join(sources)} ({why})")

    token_counts = Counter(itertools.chain.from_iterable(encoded))
    durations, pitches = _distributions(melodies, encoding, token_counts)
    seen = set(token_counts) - set(encoding.base_tokens())
    vocab = Vocab(encoding.base_tokens() + sorted(seen, key=_token_order), config.encoding)
    tokens, pieces = _stream(melodies, encoded, groups, vocab, list(styles or ()))
    report = PrepareReport(
        out=str(out),
        items=len(items),
        kept=len(melodies),
        from_cache=from_cache,
        skipped=skipped,
        tokens=len(tokens),
        vocab_size=len(vocab),
        seconds=time.perf_counter() - started,
        augmented=sum(1 for m in melodies if m.meta.get("augmented")),
        durations=durations,
        pitches=pitches,
    )
    manifest = {
        **manifest_header(report, this_key, sources, config),
        "augmented": report.augmented,
        "durations": durations,
        "pitches": pitches,
        "skipped": report.skipped_entries(),
        **({"styles": list(styles)} if styles else {}),
        "pieces": pieces,
    }
    vocab_json = {"encoding": vocab.encoding, "tokens": vocab.tokens}
    contexts = {CONTEXT_FILE: corpus_context(tokens, pieces, vocab, config)}
    documents = {"vocab.json": vocab_json, "manifest.json": manifest}
    write_corpus(out, tokens, documents, contexts)
    return report


def _items(
    sources: list[str], styles: dict[str, list[str]] | None, limit: int
) -> tuple[list[Item], dict[str, str], list[str]]:
    """What to read, each item's style label (none without ``styles``), and the sources as
    the corpus key counts them (``label=source`` for a labelled one)."""
    if not styles:
        items = find_items(sources)
        return (items[:limit] if limit else items), {}, sources
    if sources:
        raise ConfigError("give every source under a --style label, or no --style")
    items, style_of = style_items(styles, limit)
    return items, style_of, [f"{label}={s}" for label, srcs in styles.items() for s in srcs]


def _encode(
    melodies: list[Melody], groups: list[int], encoding: Encoding
) -> tuple[list[Melody], list[int], list[list[str]], list[tuple[str, str]]]:
    """Encode each melody; one the encoding cannot hold is that file's skip, not the
    corpus's end. The melodies and groups kept, their tokens, and the skips."""
    kept, encoded, skipped = [], [], []
    for m, group in zip(melodies, groups, strict=True):
        try:
            encoded.append(encoding.encode(m))
            kept.append((m, group))
        except EncodingError as exc:
            reason = one_line(str(exc).removeprefix(f"{m.source or m.name}: "))
            skipped.append((m.source or m.name, f"cannot be encoded ({reason})"))
    return [m for m, _ in kept], [g for _, g in kept], encoded, skipped


def _stream(
    melodies: list[Melody],
    encoded: list[list[str]],
    groups: list[int],
    vocab: Vocab,
    styles: list[str],
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One token stream (END before and after every piece) and each piece's manifest entry
    (a labelled piece's style, and its id: 1 for the first of ``styles``)."""
    stream = [vocab.end_id]
    pieces = []
    for m, toks, group in zip(melodies, encoded, groups, strict=True):
        pieces.append(
            {
                "name": m.name,
                "source": m.source,
                "start": len(stream),
                "length": len(toks),
                "key": m.key.name if m.key else None,
                "transposed": m.meta.get("transposed", 0),
                "augmented": m.meta.get("augmented", 0),
                "group": group,  # copies of one piece share a group: never split across sets
                "tempo": m.tempo,
                "time_signature": list(m.time_signature),
                **({"chords": m.meta["chords"]} if "chords" in m.meta else {}),
                **(
                    {"style": m.meta["style"], "style_id": 1 + styles.index(m.meta["style"])}
                    if "style" in m.meta
                    else {}
                ),
            }
        )
        stream.extend(vocab.encode(toks))
        stream.append(vocab.end_id)
    dtype = np.uint16 if len(vocab) < 2**16 else np.int32
    return np.asarray(stream, dtype=dtype), pieces


#: Options that act after a melody is read (filters, augmentation, the token scheme's own
#: snapping): changing them reuses the cached melodies.
_AFTER_READING = ("min_bars", "min_pitches", "max_gap_bars", "augment_keys", "pitch_range")


def _extraction_options(config: DataConfig) -> dict[str, Any]:
    options = config.to_dict()
    for name in _AFTER_READING:
        options.pop(name)
    return options


def _filter_and_augment(
    melodies: list[Melody], config: DataConfig
) -> tuple[list[Melody], list[int], list[tuple[str, str]]]:
    """Split at long silences, filter, add other keys; with each piece its group (the index
    of the melody it came from, so that copies stay on one side of a train/validation
    split) and the parts dropped, as (label, reason)."""
    kept: list[Melody] = []
    groups: list[int] = []
    dropped: list[tuple[str, str]] = []
    for group, melody in enumerate(melodies):
        parts, rejected = filter_melodies(melody, config)
        dropped += [(f"{melody.source} ({name})", reason) for name, reason in rejected]
        for part in parts:
            copies = [part] + (
                augment_keys(part, config.pitch_range) if config.augment_keys else []
            )
            kept += copies
            groups += [group] * len(copies)
    return kept, groups, dropped


def _distributions(
    melodies: list[Melody], encoding: Encoding, token_counts: Counter[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Notes per length (in quarter notes, as ``1/2``) and per MIDI pitch, as encoded.

    The steps encoding is exact, so the melodies are what it encodes. A note or chord
    token of the other encodings holds its notes' lengths (snapped to ``--durations``)
    whatever surrounds it, so each distinct token is decoded once, not every piece.
    """
    lengths: Counter[int] = Counter()
    pitches: Counter[int] = Counter()
    spq = melodies[0].steps_per_quarter if melodies else 1
    if encoding.name == "steps":
        for melody in melodies:
            lengths.update(map(itemgetter(2), melody.notes))  # (pitch, start, duration)
            pitches.update(map(itemgetter(0), melody.notes))
    else:
        for token, count in token_counts.items():
            for note in encoding.decode([token]).notes:
                lengths[note.duration] += count
                pitches[note.pitch] += count
    durations = {str(Fraction(k, spq)): v for k, v in sorted(lengths.items())}
    return durations, {str(k): v for k, v in sorted(pitches.items())}


def _token_order(token: str) -> tuple[int, str]:
    """Numeric tokens (pitches) in pitch order, then the rest alphabetically."""
    return (int(token), "") if token.isdigit() else (10**6, token)


__all__ = ["END", "PrepareReport", "is_prepared", "prepare_corpus"]
