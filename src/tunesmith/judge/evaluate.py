"""Judging a run: held-out prediction by token class, musical statistics, copying.

Accuracy alone misleads for the steps encoding (most tokens are holds), so the report sets
the model beside two references on the same held-out tokens: always predicting a hold,
and a bigram model counted on the training data. Token classes: onsets are tokens that
start notes (a pitch; in the notes and events encodings a note or chord with its length),
rests are ``r`` / ``r:LENGTH``, holds ``_`` exist only in the steps encoding. Copying is
measured in tokens; two bars are the held-out pieces' mean tokens per two bars. Generated
melodies are compared with held-out melodies feature by feature; the held-out set compared
with the training set is the figure a perfect model would reach.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tunesmith.config import read_json
from tunesmith.corpus.context import trackers
from tunesmith.corpus.dataset import Corpus, SplitStream
from tunesmith.corpus.encodings import get_encoding
from tunesmith.corpus.encodings.base import max_tokens
from tunesmith.corpus.encodings.steps import HOLD, REST
from tunesmith.errors import CheckpointError
from tunesmith.judge.formstats import (
    FORM_FEATURES,
    endings,
    heard_key,
    mean_share,
    self_similarity,
)
from tunesmith.judge.stats import FEATURES, kl_divergence, overlap
from tunesmith.keys import Key
from tunesmith.learn.checkpoint import Run, load_run
from tunesmith.learn.heldout import predict_lanes
from tunesmith.learn.run_config import POLY, run_kind
from tunesmith.make.choose import check_sampling
from tunesmith.make.copying import (
    CopyDetector,
    check_copy_guard,
    copy_guard,
    guard_length,
    tokens_per_bar,
)
from tunesmith.make.sample import check_endings, sample_ids
from tunesmith.make.styles import style_ids
from tunesmith.melody import Melody, pickup_steps, steps_per_bar

ProgressFn = Callable[[str], None]


@torch.no_grad()
def token_losses(
    run: Run, stream: torch.Tensor | SplitStream, seq_len: int = 64
) -> tuple[np.ndarray, ...]:
    """Per held-out token: cross-entropy, whether the argmax was right, and the target id,
    read as training's validation reads them, so the figures match ``metrics.csv``."""
    losses, correct, targets = [], [], []
    for logits, target in predict_lanes(run.model, stream, seq_len, 64):
        losses.append(F.cross_entropy(logits.transpose(1, 2), target, reduction="none").flatten())
        correct.append((logits.argmax(-1) == target).flatten())
        targets.append(target.flatten())
    return tuple(torch.cat(a).numpy() for a in (losses, correct, targets))


def _bigram_accuracy(train: np.ndarray, held_out: np.ndarray, vocab_size: int) -> float:
    counts = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    np.add.at(counts, (train[:-1], train[1:]), 1)
    guess = counts.argmax(1)
    return float((guess[held_out[:-1]] == held_out[1:]).mean())


def prediction_metrics(run: Run, corpus: Corpus, train_idx, val_idx) -> dict[str, Any]:
    """Held-out loss, perplexity, accuracy; per class of target (onset, hold, rest); refs."""
    val = corpus.split_stream(val_idx, context=run.model_config.form)
    loss, correct, target = token_losses(run, val)
    vocab = run.vocab
    is_onset = np.array([t[:1].isdigit() for t in vocab.tokens])  # notes and chords
    is_rest = np.array([t == REST or t.startswith(f"{REST}:") for t in vocab.tokens])
    hold_id = vocab.id(HOLD) if HOLD in vocab else -1
    out: dict[str, Any] = {
        "tokens": len(target),
        "loss": float(loss.mean()),
        "perplexity": float(math.exp(loss.mean())),
        "accuracy": float(correct.mean()),
    }
    for name, mask in (
        ("onset", is_onset[target]),
        ("hold", target == hold_id),
        ("rest", is_rest[target]),
    ):
        if mask.any():
            out[f"{name}_share"] = float(mask.mean())
            out[f"{name}_loss"] = float(loss[mask].mean())
            out[f"{name}_accuracy"] = float(correct[mask].mean())
    train = corpus.stream(train_idx).numpy()
    out["always_hold_accuracy"] = float((target == hold_id).mean())
    out["bigram_accuracy"] = _bigram_accuracy(train, val[:].numpy(), len(vocab))
    return out


def _first_steps(encoding, vocab, ids: list[int], steps: int) -> list[int]:
    """The leading ids that fit in ``steps`` grid steps (at least one)."""
    total = 0
    for n, token in enumerate(vocab.decode(ids)):
        total += encoding.steps([token])
        if total > steps:
            return ids[: max(1, n)]
    return ids


def _metre(opening: dict) -> tuple[int, int]:
    return tuple(opening.get("time_signature") or (4, 4))


def _pickup(opening: dict, encoding, spq: int) -> int:
    return pickup_steps(encoding.decode(opening["tokens"]), steps_per_bar(_metre(opening), spq))


def _openings_like(openings: list[dict], encoding, spq: int):
    """For a held-out piece, a function drawing a random opening in its time signature and
    with its pickup (any in its time signature if none has that pickup; any at all if none
    is in it). Each opening's metre and pickup are found once, not once a sample."""
    kinds = [(_metre(o), _pickup(o, encoding, spq)) for o in openings]

    def draw(held: Melody, rng: np.random.Generator) -> dict:
        kind = (held.time_signature, pickup_steps(held, held.steps_per_bar))
        alike = [o for o, k in zip(openings, kinds, strict=True) if k == kind]
        same = alike or [o for o, k in zip(openings, kinds, strict=True) if k[0] == kind[0]]
        pool = same or openings
        return pool[int(rng.integers(len(pool)))]

    return draw


def sample_length(held: Melody, opening: dict, encoding, steps_per_quarter: int) -> int:
    """Steps for a sample that ``opening`` starts, to end as the held-out piece ``held``
    ends. An opening in its metre and with its pickup takes its length as it is, so the
    sample's last bar is as long as the piece's (a short last bar after a pickup, or a final
    note shorter than the bar); any other takes as many whole bars of its own metre, short
    by its pickup, as tunes are written. A length in sixteenths from a piece in another
    metre would end most samples mid-bar, where no real tune ends."""
    bar = steps_per_bar(_metre(opening), steps_per_quarter)
    pickup = _pickup(opening, encoding, steps_per_quarter)
    if (_metre(opening), pickup) == (held.time_signature, pickup_steps(held, held.steps_per_bar)):
        return max(held.length, 2 * bar - pickup)
    bars = int(np.clip(round(held.length / held.steps_per_bar), 2, 2048 // bar))
    return bars * bar - pickup


def _melodies(corpus: Corpus, indices: list[int], limit: int) -> list[Melody]:
    """Up to ``limit`` of the pieces, spread over them, in their metre and key."""
    encoding = get_encoding(corpus.data_config)
    chosen = indices[:: max(1, len(indices) // limit)][:limit]
    out = []
    for i in chosen:
        p = corpus.pieces[i]
        ids = corpus.tokens[p["start"] : p["start"] + p["length"]]
        melody = encoding.decode(corpus.vocab.decode(int(x) for x in ids))
        out.append(_placed(melody, p.get("time_signature"), p.get("key")))
    return out


def _placed(melody: Melody, time_signature, key: str | None) -> Melody:
    return replace(
        melody,
        time_signature=tuple(time_signature or (4, 4)),
        key=Key.parse(key) if key else None,
    )


def _compare(hist, generated, held_out, training) -> dict[str, Any]:
    """A feature's histograms for the three sets, their overlaps and KL divergences."""
    g, h, t = hist(generated), hist(held_out), hist(training)
    ref = overlap(h, t)
    return {
        "overlap": overlap(g, h),
        "reference_overlap": ref,
        "kl": kl_divergence(h, g),
        "reference_kl": kl_divergence(h, t),
        "generated": g.tolist(),
        "held_out": h.tolist(),
        "share_of_reference": overlap(g, h) / ref if ref else 0.0,
    }


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    samples: int = 100,
    length: int = 0,
    seed: int = 0,
    reference_pieces: int = 2000,
    copy_guard_bars: float = 2.0,
    temperature: float = 0.9,
    endings: int | None = None,
    on_progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Measure a run on its held-out pieces and on melodies it generates.

    :param data_dir: the prepared corpus (default: the one the run was trained on).
    :param samples: melodies to generate, each starting from a training piece's first bar.
    :param length: steps per sample, opening included; 0 = the lengths of held-out pieces
        (each sample opened in a held-out piece's metre and pickup, see :func:`sample_length`).
    :param reference_pieces: at most this many training pieces for the statistics.
    :param copy_guard_bars: sample as ``generate`` does, under its copy guard (0 = off).
    :param temperature: sample at this temperature, as ``generate --temperature`` does.
    :param endings: the best of this many endings, as ``generate --endings``.
    """
    say = on_progress or (lambda _: None)
    check_copy_guard(copy_guard_bars)  # before minutes of held-out prediction
    check_sampling(temperature, 0, 1.0)
    if run_kind(run_dir) == POLY:
        raise CheckpointError(
            f"{run_dir}: a poly run (the chorale model); evaluate judges melody runs. "
            "Measure a poly model with 'tunesmith bench poly' (NLL per frame)"
        )
    run = load_run(run_dir)
    endings = check_endings(endings, run.model_config.form)  # before minutes of prediction
    data_dir = Path(data_dir or run.info.get("corpus", ""))
    corpus = Corpus.open(data_dir)
    if corpus.vocab.tokens != run.vocab.tokens:
        raise CheckpointError(
            f"{data_dir}: its vocabulary is not the run's; pass the corpus "
            "the run was trained on with --data"
        )
    train_idx, val_idx = corpus.split(run.train.val_fraction, run.train.seed)

    say("held-out prediction")
    report: dict[str, Any] = {
        "run": str(run_dir),
        "data": str(data_dir),
        "prediction": prediction_metrics(run, corpus, train_idx, val_idx),
    }

    held_out = _melodies(corpus, val_idx, reference_pieces)
    say(f"generating {samples} melodies")
    drawn = _sample_like(
        run, held_out, samples, length, seed, copy_guard_bars, temperature, endings
    )

    say("musical statistics")
    training = _melodies(corpus, train_idx, reference_pieces)
    report["features"] = {
        name: _compare(hist, drawn.generated, held_out, training) for name, hist in FEATURES.items()
    }
    report["form"] = form_report(drawn.generated, held_out, training)

    say("copying")
    report["copying"] = copying_report(
        run, corpus, (train_idx, val_idx), drawn.rows, drawn.primes, drawn.metres,
        reference_pieces,
    )  # fmt: skip
    report["settings"] = {
        "samples": samples,
        "length": length,
        "seed": seed,
        "copy_guard_bars": copy_guard_bars if drawn.guard else 0.0,
        "temperature": temperature,
        "endings": endings,
        "held_out_pieces": len(held_out),
        "training_pieces": len(training),
    }
    return report


@dataclass
class _Drawn:
    """Melodies sampled for evaluation: token rows (cut to length, end token dropped), their
    primes and metres, the melodies decoded and placed, and whether a copy guard was on."""

    rows: list[list[int]]
    primes: list[list[str]]
    metres: list[tuple[int, int]]
    generated: list[Melody]
    guard: bool


def _sample_like(
    run: Run,
    held_out: list[Melody],
    samples: int,
    length: int,
    seed: int,
    copy_guard_bars: float,
    temperature: float,
    endings: int,
) -> _Drawn:
    """Sample as ``generate`` does, from training pieces' openings.

    Per-melody features (range, distinct pitches, repetition) grow with length, so unless a
    length is given the samples take the lengths of held-out pieces drawn at random.
    """
    rng = np.random.default_rng(seed)
    openings = read_json(run.path / "openings.json")
    encoding = get_encoding(run.data)
    if length:
        lengths = [length] * samples
        chosen = [openings[int(rng.integers(len(openings)))] for _ in range(samples)]
    else:
        drawn = [held_out[int(i)] for i in rng.integers(len(held_out), size=samples)]
        spq = run.data.steps_per_quarter
        like = _openings_like(openings, encoding, spq)
        chosen = [like(m, rng) for m in drawn]
        lengths = [sample_length(m, o, encoding, spq) for m, o in zip(drawn, chosen, strict=True)]
    primes = [o["tokens"] for o in chosen]
    metres = [_metre(o) for o in chosen]
    totals = [max(n, encoding.steps(p)) for n, p in zip(lengths, primes, strict=True)]
    generator = torch.Generator().manual_seed(seed)
    end = run.vocab.end_id
    guard = copy_guard(run, copy_guard_bars, metres)
    keys = [o["key"] for o in chosen]
    _, styles = style_ids(run, [o.get("style") for o in chosen], random.Random(seed))
    form = None
    if run.model_config.form:  # each sample in its opening's style, as generate writes
        form = trackers(run.vocab, run.data, metres, totals, keys, styles=styles)
    rows = sample_ids(
        run.model,
        [[end, *run.vocab.encode(p)] for p in primes],
        max_tokens(encoding, max(lengths)),
        temperature=temperature,
        banned=[end],
        guard=guard,
        form=form,
        ending=end,
        endings=endings,
        generator=generator,
    )
    # The end token that closes a melody is not music: kept, it made the copying measure
    # count a training piece's last bar and end as a run the guard never saw.
    rows = [
        [end, *_first_steps(encoding, run.vocab, r[1:-1] if r[-1] == end else r[1:], n)]
        for r, n in zip(rows, totals, strict=True)
    ]
    generated = [
        _placed(encoding.decode(run.vocab.decode(r[1:])), o.get("time_signature"), o["key"])
        for r, o in zip(rows, chosen, strict=True)
    ]
    return _Drawn(rows, primes, metres, generated, guard is not None)


def form_report(
    generated: list[Melody], held_out: list[Melody], training: list[Melody]
) -> dict[str, Any]:
    """Bar repeats at each lag and kind, and endings, beside the held-out reference; the
    self-similarity of one sample and one held-out piece of at least 16 bars."""
    out: dict[str, Any] = {
        name: _compare(hist, generated, held_out, training) for name, hist in FORM_FEATURES.items()
    }
    for name, entry in out.items():
        kind, lag = name.split(" repeats, lag ")
        entry["means"] = [mean_share(ms, kind, int(lag)) for ms in (generated, held_out, training)]

    def end_hist(ms: list[Melody]) -> np.ndarray:
        return endings(ms, [heard_key(m) for m in ms])

    out["endings"] = _compare(end_hist, generated, held_out, training)
    out["endings"]["on_tonic"] = [
        float(h[:2].sum() / max(h.sum(), 1)) for h in map(end_hist, (generated, held_out))
    ]
    out["endings"]["on_tonic_strong"] = [
        float(h[0] / max(h.sum(), 1)) for h in map(end_hist, (generated, held_out))
    ]
    long_enough = [
        next((m for m in ms if m.length >= 16 * m.steps_per_bar), ms[0] if ms else None)
        for ms in (generated, held_out)
    ]
    out["self_similarity"] = {
        name: self_similarity(m).tolist()
        for name, m in zip(("generated", "held out"), long_enough, strict=True)
        if m is not None
    }
    return out


def copying_report(
    run: Run,
    corpus: Corpus,
    split: tuple[list[int], list[int]],
    rows: list[list[int]],
    primes: list[list[str]],
    metres: list[tuple[int, int]],
    reference_pieces: int = 2000,
) -> dict[str, Any]:
    """The longest run each sample (after its prime) shares with the training pieces, in
    bars of the sample's own metre; the same for held-out pieces after their first bar."""
    train_idx, val_idx = split
    train_stream = corpus.stream(train_idx).numpy()
    detector = CopyDetector(train_stream)
    encoding = get_encoding(run.data)
    # tokens in a bar of 4/4 (the steps encoding: steps), as the copy guard counts them
    per_bar = tokens_per_bar(encoding, run.vocab, train_stream, run.data.steps_per_quarter)
    longest = [detector.longest(r[1 + len(p) :]) for r, p in zip(rows, primes, strict=True)]
    bars = [n / (guard_length(per_bar, 1, m) or 1) for n, m in zip(longest, metres, strict=True)]
    two_bars = [guard_length(per_bar, 2, m) for m in metres]
    reference = []
    for p in (corpus.pieces[i] for i in val_idx[:reference_pieces]):
        metre = p.get("time_signature") or (4, 4)
        first = p["start"] + guard_length(per_bar, 1, metre)
        ids = np.asarray(corpus.tokens[first : p["start"] + p["length"]], np.int64)
        reference.append(detector.shares(ids, guard_length(per_bar, 2, metre)))
    return {
        "longest_tokens": longest,
        "max_bars": max(bars),
        "mean_bars": float(np.mean(bars)),
        "share_two_bars": float(np.mean([n >= t for n, t in zip(longest, two_bars, strict=True)])),
        "reference_share_two_bars": float(np.mean(reference)) if reference else 0.0,
    }
