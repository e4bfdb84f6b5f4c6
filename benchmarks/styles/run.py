"""Styles: does ``generate --style`` write in the style asked for? A classifier says.

One corpus of four bundled styles (``prepare --style irish=oneills --style chinese=han*.abc
--style german=erk*.abc --style chorale=chorales``: 2,009 / 1,224 / 1,781 / 410 tunes, so
the chorales are the small style the epoch mix must not drown) trains the default LSTM with
the style input (``OMP_NUM_THREADS=2 tunesmith train DATA --time-limit SECONDS``).

The judge is a classifier trained only on real pieces the model never trained on: a
multinomial logistic regression on each melody's histograms of pitch classes, intervals and
note lengths (and its range, mean pitch and density), fitted on the model's held-out pieces
with each style weighted by the inverse of its count; its accuracy on real music is measured
by 5-fold cross-validation over those pieces (each named by a classifier that did not see
it). The classifier fitted on them all then names the style of ``--samples``
melodies generated per style, each from silence (no training opening: the style label and
the metre are all the model is told), 16 bars in a metre drawn from the style's own training
pieces (as ``generate --style`` takes one of its openings'; the classifier never sees the
metre), under the two-bar copy guard at temperature 0.9. Chance is 25 %.

Run: ``python benchmarks/styles/run.py [--seconds 1200] [--samples 200] [--runs DIR]``;
``--quick``: 40 tunes a style, 20 s, 10 samples.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.corpus.context import trackers
from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.encodings import get_encoding
from tunesmith.corpus.encodings.base import max_tokens
from tunesmith.learn.checkpoint import Run, load_run
from tunesmith.make.copying import copy_guard
from tunesmith.make.sample import sample_ids
from tunesmith.melody import Melody, steps_per_bar

STYLES = {
    "irish": ["oneills"],
    "chinese": ["han*.abc"],
    "german": ["erk*.abc"],
    "chorale": ["chorales"],
}
LENGTH_BINS = (1, 2, 3, 4, 6, 8, 12, 16)  # in sixteenths, one bin more for longer


def prepare(data: Path, limit: int) -> None:
    if (data / "manifest.json").exists():
        return
    flags = [f"--style={label}={','.join(srcs)}" for label, srcs in STYLES.items()]
    cmd = [sys.executable, "-m", "tunesmith", "prepare", *flags, "--out", str(data)]
    extra = ["--limit", str(limit)] if limit else []
    subprocess.run([*cmd, *extra], check=True, stdout=subprocess.DEVNULL)


def features(m: Melody) -> np.ndarray:
    """Normalised histograms of pitch classes, intervals (-12..12) and note lengths, and the
    melody's range, mean pitch and notes per quarter."""
    pitches = np.array(m.pitches) if m.notes else np.zeros(1, int)
    pc = np.bincount(pitches % 12, minlength=12).astype(float)
    steps = np.clip(np.diff(pitches), -12, 12) + 12
    iv = np.bincount(steps, minlength=25).astype(float) if len(steps) else np.zeros(25)
    sixteenths = [n.duration * 4 / m.steps_per_quarter for n in m.notes]
    lengths = np.bincount(np.searchsorted(LENGTH_BINS, sixteenths), minlength=9).astype(float)
    parts = [h / max(h.sum(), 1.0) for h in (pc, iv, lengths[:9])]
    quarters = max(m.length / m.steps_per_quarter, 1.0)
    shape = [np.ptp(pitches) / 24, (pitches.mean() - 66) / 12, len(m.notes) / quarters / 4]
    return np.concatenate([*parts, shape])


def fit_classifier(x: np.ndarray, y: np.ndarray, classes: int) -> torch.nn.Linear:
    """Multinomial logistic regression (L2), fitted with L-BFGS on standardised features,
    each style weighted by the inverse of its pieces (so that a small style is not named
    less often only for being small: the samples come 200 a style)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], classes)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    counts = torch.bincount(yt, minlength=classes).clamp(min=1).float()
    weight = counts.sum() / (classes * counts)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=500)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt, weight=weight)
        loss = loss + 1e-3 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def cross_validated(x: np.ndarray, y: np.ndarray, classes: int, folds: int = 5) -> np.ndarray:
    """Each real piece's style as named by a classifier fitted on the other folds."""
    named = np.empty_like(y)
    fold = np.arange(len(y)) % folds
    for k in range(folds):
        fit = fold != k
        named[~fit] = predict(fit_classifier(x[fit], y[fit], classes), x[~fit])
    return named


def predict(model: torch.nn.Linear, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor(x, dtype=torch.float32)).argmax(-1).numpy()


def real_pieces(corpus: Corpus, indices: list[int]) -> list[tuple[Melody, int]]:
    encoding = get_encoding(corpus.data_config)
    out = []
    for i in indices:
        p = corpus.pieces[i]
        ids = corpus.tokens[p["start"] : p["start"] + p["length"]]
        out.append((encoding.decode(corpus.vocab.decode(int(t) for t in ids)), p["style_id"] - 1))
    return out


def in_style(run: Run, style_id: int, metres: list[tuple[int, int]], seed: int) -> list[Melody]:
    """Melodies of 16 bars from silence, in the given metres, told only their style."""
    encoding, vocab = get_encoding(run.data), run.vocab
    spq = run.data.steps_per_quarter
    totals = [16 * steps_per_bar(m, spq) for m in metres]
    n = len(metres)
    form = trackers(vocab, run.data, metres, totals, ["C major"] * n, styles=[style_id] * n)
    rows = sample_ids(
        run.model, [[vocab.end_id]] * n, max_tokens(encoding, max(totals)), temperature=0.9,
        banned=[vocab.end_id], guard=copy_guard(run, 2.0, metres), form=form,
        ending=vocab.end_id, endings=8, generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    return [
        encoding.decode(vocab.decode(t for t in row[1:] if t != vocab.end_id)).cut(total)
        for row, total in zip(rows, totals, strict=True)
    ]


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1200)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--runs", type=Path, default=common.REPO / "runs" / "styles-bench")
    args = p.parse_args()
    seconds, samples, limit = (20, 10, 40) if args.quick else (args.seconds, args.samples, 0)
    runs = args.runs / "quick" if args.quick else args.runs
    runs.mkdir(parents=True, exist_ok=True)
    data, run_dir = runs / "data", runs / "styles"
    prepare(data, limit)
    common.train_run(data, run_dir, [], seconds, threads=2)

    torch.set_num_threads(2)
    corpus, run = Corpus.open(data), load_run(run_dir)
    labels = corpus.styles
    train_idx, val_idx = corpus.split(run.train.val_fraction, run.train.seed)
    held = real_pieces(corpus, val_idx)
    random.Random(0).shuffle(held)
    x = np.stack([features(m) for m, _ in held])
    y = np.array([s for _, s in held])
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    classifier = fit_classifier(x, y, len(labels))
    real_named = cross_validated(x, y, len(labels))

    def named(melodies: list[Melody]) -> np.ndarray:
        return predict(classifier, (np.stack([features(m) for m in melodies]) - mean) / std)

    rng = random.Random(0)
    results: dict[str, Any] = {}
    for style, label in enumerate(labels):
        real = real_named[y == style]
        seen = [corpus.pieces[i]["time_signature"] for i in train_idx]
        seen = [
            tuple(m)
            for m, i in zip(seen, train_idx, strict=True)
            if corpus.pieces[i]["style_id"] == style + 1
        ]
        metres = [rng.choice(seen) for _ in range(samples)]
        common.progress(f"{label}: {samples} melodies")
        with torch.backends.mkldnn.flags(enabled=False):  # single steps: see make/sample.py
            generated = in_style(run, style + 1, metres, seed=style)
        names = named(generated)
        results[label] = {
            "generated_named_right": float((names == style).mean()),
            "generated_named_as": {
                other: int((names == k).sum()) for k, other in enumerate(labels)
            },
            "real_named_right": float((real == style).mean()) if len(real) else None,
            "real_pieces": len(real),
            "training_pieces": sum(
                1 for i in train_idx if corpus.pieces[i]["style_id"] == style + 1
            ),
        }
    results["mean"] = {
        "generated_named_right": float(
            np.mean([r["generated_named_right"] for r in results.values()])
        ),
        "real_named_right": float(
            np.mean([r["real_named_right"] or 0 for k, r in results.items()])
        ),
    }
    rows = [
        [k, r["generated_named_right"] * 100, (r["real_named_right"] or 0) * 100,
         r.get("training_pieces", ""), r.get("real_pieces", "")]
        for k, r in results.items()
    ]  # fmt: skip
    common.print_table(
        f"style named right by a classifier of real pieces ({samples} samples a style)",
        ["style", "generated (%)", "real held-out (%)", "training pieces", "real pieces"],
        rows,
    )
    params = {"seconds": seconds, "samples": samples, "threads": 2, "styles": STYLES}
    common.write_results(__file__, "styles", args.quick, params, results)


if __name__ == "__main__":
    main()
