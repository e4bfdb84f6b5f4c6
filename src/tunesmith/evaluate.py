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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tunesmith.checkpoint import Run, load_run
from tunesmith.config import read_json, write_json
from tunesmith.copying import CopyDetector, check_copy_guard, copy_guard, tokens_per_bar
from tunesmith.dataset import Corpus
from tunesmith.encodings import get_encoding
from tunesmith.encodings.base import max_tokens
from tunesmith.encodings.steps import HOLD, REST
from tunesmith.errors import CheckpointError
from tunesmith.heldout import predict_lanes
from tunesmith.melody import Melody
from tunesmith.sample import sample_ids
from tunesmith.stats import FEATURES, kl_divergence, overlap

ProgressFn = Callable[[str], None]


@torch.no_grad()
def token_losses(run: Run, stream: torch.Tensor, seq_len: int = 64) -> tuple[np.ndarray, ...]:
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
    val = corpus.stream(val_idx)
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
    out["bigram_accuracy"] = _bigram_accuracy(train, val.numpy(), len(vocab))
    return out


def _first_steps(encoding, vocab, ids: list[int], steps: int) -> list[int]:
    """The leading ids that fit in ``steps`` grid steps (at least one)."""
    total = 0
    for n, token in enumerate(vocab.decode(ids)):
        total += encoding.steps([token])
        if total > steps:
            return ids[: max(1, n)]
    return ids


def _melodies(corpus: Corpus, indices: list[int], limit: int) -> list[Melody]:
    encoding = get_encoding(corpus.data_config)
    chosen = indices[:: max(1, len(indices) // limit)][:limit]
    out = []
    for i in chosen:
        p = corpus.pieces[i]
        ids = corpus.tokens[p["start"] : p["start"] + p["length"]]
        out.append(encoding.decode(corpus.vocab.decode(int(x) for x in ids)))
    return out


def evaluate_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    samples: int = 100,
    length: int = 0,
    seed: int = 0,
    reference_pieces: int = 2000,
    copy_guard_bars: float = 2.0,
    on_progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Measure a run on its held-out pieces and on melodies it generates.

    :param data_dir: the prepared corpus (default: the one the run was trained on).
    :param samples: melodies to generate, each starting from a training piece's first bar.
    :param length: steps per sample, opening included; 0 = lengths of held-out pieces.
    :param reference_pieces: at most this many training pieces for the statistics.
    :param copy_guard_bars: sample as ``generate`` does, under its copy guard (0 = off).
    """
    from tunesmith.sample_poly import is_poly_run

    say = on_progress or (lambda _: None)
    check_copy_guard(copy_guard_bars)  # before minutes of held-out prediction
    if is_poly_run(run_dir):
        raise CheckpointError(
            f"{run_dir}: a poly run (the chorale model); evaluate judges melody runs. "
            "Measure a poly model with 'tunesmith bench poly' (NLL per frame)"
        )
    run = load_run(run_dir)
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

    # Per-melody features (range, distinct pitches, repetition) grow with length, so unless
    # a length is given the samples take the lengths of held-out pieces drawn at random.
    rng = np.random.default_rng(seed)
    held_out = _melodies(corpus, val_idx, reference_pieces)
    if length:
        lengths = [length] * samples
    else:
        drawn = rng.integers(len(held_out), size=samples)
        lengths = [int(np.clip(held_out[int(i)].length, 32, 2048)) for i in drawn]
    say(f"generating {samples} melodies")
    openings = read_json(run.path / "openings.json")
    primes = [openings[int(rng.integers(len(openings)))]["tokens"] for _ in range(samples)]
    generator = torch.Generator().manual_seed(seed)
    end = run.vocab.end_id
    encoding = get_encoding(run.data)
    guard = copy_guard(run, copy_guard_bars)
    rows = sample_ids(
        run.model,
        [[end, *run.vocab.encode(p)] for p in primes],
        max_tokens(encoding, max(lengths)),
        banned=[end],
        guard=guard,
        generator=generator,
    )
    rows = [
        [end, *_first_steps(encoding, run.vocab, r[1:], max(n, encoding.steps(p)))]
        for r, n, p in zip(rows, lengths, primes, strict=True)
    ]
    generated = [encoding.decode(run.vocab.decode(r[1:])) for r in rows]

    say("musical statistics")
    training = _melodies(corpus, train_idx, reference_pieces)
    features = {}
    for name, hist in FEATURES.items():
        g, h, t = hist(generated), hist(held_out), hist(training)
        features[name] = {
            "overlap": overlap(g, h),
            "reference_overlap": overlap(h, t),
            "kl": kl_divergence(h, g),
            "reference_kl": kl_divergence(h, t),
            "generated": g.tolist(),
            "held_out": h.tolist(),
        }
        ref = features[name]["reference_overlap"]
        features[name]["share_of_reference"] = features[name]["overlap"] / ref if ref else 0.0
    report["features"] = features

    say("copying")
    train_stream = corpus.stream(train_idx).numpy()
    detector = CopyDetector(train_stream)
    # tokens per bar (the steps encoding: steps), as the copy guard counts them
    per_bar = tokens_per_bar(encoding, run.vocab, train_stream, run.data.steps_per_quarter)
    bar = max(1, round(per_bar))
    two_bars = max(2, round(2 * per_bar))
    longest = [detector.longest(r[1 + len(p) :]) for r, p in zip(rows, primes, strict=True)]
    # The reference: how often real, unseen music of the same style shares two bars with
    # the training pieces (held-out pieces after their first bar, as samples after theirs).
    held_out_ids = [
        corpus.tokens[p["start"] + bar : p["start"] + p["length"]]
        for p in (corpus.pieces[i] for i in val_idx[:reference_pieces])
    ]
    report["copying"] = {
        "longest_steps": longest,
        "max_bars": max(longest) / per_bar,
        "mean_bars": float(np.mean(longest)) / per_bar,
        "share_two_bars": float(np.mean([n >= two_bars for n in longest])),
        "reference_share_two_bars": float(
            np.mean([detector.shares(np.asarray(t, np.int64), two_bars) for t in held_out_ids])
        ),
    }
    report["settings"] = {
        "samples": samples,
        "length": length,
        "seed": seed,
        "copy_guard_bars": copy_guard_bars if guard else 0.0,
        "held_out_pieces": len(held_out),
        "training_pieces": len(training),
    }
    return report


def write_report(report: dict[str, Any], out: str | Path) -> Path:
    """``report.json``, ``report.md`` and ``features.png`` in ``out``."""
    from tunesmith.export.plots import plot_features

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    plot_features(
        {k: (v["generated"], v["held_out"]) for k, v in report["features"].items()},
        out / "features.png",
    )
    (out / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return out


def report_markdown(report: dict[str, Any]) -> str:
    p = report["prediction"]
    lines = [
        f"# Evaluation of {report['run']}",
        "",
        f"Held-out data: {p['tokens']:,} tokens of {report['data']}.",
        "",
        "| | loss (nats) | accuracy | share of tokens |",
        "|---|---|---|---|",
        f"| all tokens | {p['loss']:.4f} (perplexity {p['perplexity']:.3f}) | "
        f"{p['accuracy']:.3f} | 1.000 |",
    ]
    for name in ("onset", "hold", "rest"):
        if f"{name}_loss" in p:
            lines.append(
                f"| {name}s | {p[f'{name}_loss']:.4f} | {p[f'{name}_accuracy']:.3f} | "
                f"{p[f'{name}_share']:.3f} |"
            )
    lines += [
        f"| reference: always hold | | {p['always_hold_accuracy']:.3f} | |",
        f"| reference: bigram | | {p['bigram_accuracy']:.3f} | |",
        "",
        "Generated vs held-out melodies (overlap of histograms; 1 = identical). The "
        "reference is held-out vs training, what a perfect model would reach.",
        "",
        "| feature | overlap | reference | share of reference | KL(held-out ‖ generated) |",
        "|---|---|---|---|---|",
    ]
    for name, f in report["features"].items():
        lines.append(
            f"| {name} | {f['overlap']:.3f} | {f['reference_overlap']:.3f} | "
            f"{f['share_of_reference']:.0%} | {f['kl']:.3f} |"
        )
    c = report["copying"]
    guard = report.get("settings", {}).get("copy_guard_bars", 0)
    how = f"sampled under a copy guard of {guard:g} bars" if guard else "no copy guard"
    lines += [
        "",
        f"Copying ({how}): longest run shared with a training piece {c['max_bars']:.1f} bars "
        f"(mean {c['mean_bars']:.2f}); samples copying two bars or more: "
        f"{c['share_two_bars']:.0%}; held-out pieces doing the same (the reference): "
        f"{c['reference_share_two_bars']:.0%}.",
        "",
        "![features](features.png)",
        "",
    ]
    return "\n".join(lines)
