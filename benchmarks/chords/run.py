"""Chords: melodies written over the chords of held-out Nottingham tunes, and how well they fit.

The 1,034 Nottingham MIDI files in ../shared/data, prepared with ``--chords`` (each tune's
chords found beat by beat in its accompaniment track), train two models of the same shape
for the same time (``OMP_NUM_THREADS=1 tunesmith train DATA --time-limit SECONDS``, one per
core at once):

- ``chords``: the default LSTM with the chord input (on for a corpus prepared with chords);
- ``floor``: the same without it (``--no-chords``): what an unconditioned model does over
  the same bars.

Each then writes one melody over the chords of each of up to ``--pieces`` held-out tunes (the
tune's own metre, key mode and length, from silence, under the two-bar copy guard, at
``generate``'s temperature 0.9). The measure is the share of melody notes on a beat that are
tones of the chord sounding there, beside the same share of the held-out melodies themselves
over their chords (the reference).

Run: ``python benchmarks/chords/run.py [--seconds 1200] [--pieces 200] [--runs DIR]``;
``--quick``: 60 tunes, 20 s, 10 pieces.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.chords import ids_per_step
from tunesmith.corpus.context import trackers
from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.encodings import get_encoding
from tunesmith.corpus.encodings.base import max_tokens
from tunesmith.judge.harmonystats import chord_tone_share
from tunesmith.learn.checkpoint import Run, load_run
from tunesmith.make.copying import copy_guard
from tunesmith.make.sample import sample_ids
from tunesmith.melody import Melody

VARIANTS = {"chords": [], "floor": ["--no-chords"]}


def prepare(data: Path, limit: int) -> None:
    if (data / "manifest.json").exists():
        return
    extra = ["--limit", str(limit)] if limit else []
    cmd = [sys.executable, "-m", "tunesmith", "prepare", str(common.NOTTINGHAM_MIDI), "--chords"]
    subprocess.run([*cmd, "--out", str(data), *extra], check=True, stdout=subprocess.DEVNULL)


def held_out(corpus: Corpus, run: Run, count: int) -> list[tuple[Melody, dict[str, Any]]]:
    """Up to ``count`` held-out tunes (the run's own split), as melodies with their entries."""
    encoding = get_encoding(corpus.data_config)
    _, val_idx = corpus.split(run.train.val_fraction, run.train.seed)
    out = []
    for i in val_idx[:count]:
        p = corpus.pieces[i]
        ids = corpus.tokens[p["start"] : p["start"] + p["length"]]
        melody = encoding.decode(corpus.vocab.decode(int(x) for x in ids))
        melody.time_signature = tuple(p["time_signature"])
        out.append((melody, p))
    return out


def over_chords(run: Run, pieces: list[tuple[Melody, dict[str, Any]]], seed: int) -> list[Melody]:
    """One melody over each piece's chords, in its metre, mode and length."""
    encoding, vocab = get_encoding(run.data), run.vocab
    metres = [m.time_signature for m, _ in pieces]
    totals = [m.length for m, _ in pieces]
    chords = [ids_per_step(p["chords"], m.length) for m, p in pieces]
    keys = [p["key"] for _, p in pieces]
    form = trackers(vocab, run.data, metres, totals, keys, chords)
    rows = sample_ids(
        run.model, [[vocab.end_id]] * len(pieces), max_tokens(encoding, max(totals)),
        temperature=0.9, banned=[vocab.end_id], guard=copy_guard(run, 2.0, metres),
        form=form, ending=vocab.end_id, endings=8,
        generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip
    out = []
    for row, (m, _) in zip(rows, pieces, strict=True):
        tokens = [t for t in row[1:] if t != vocab.end_id]
        melody = encoding.decode(vocab.decode(tokens)).cut(m.length)
        melody.time_signature = m.time_signature
        out.append(melody)
    return out


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1200)
    p.add_argument("--pieces", type=int, default=200)
    p.add_argument("--runs", type=Path, default=common.REPO / "runs" / "chords-bench")
    args = p.parse_args()
    seconds, count, limit = (20, 10, 60) if args.quick else (args.seconds, args.pieces, 0)
    runs = args.runs / "quick" if args.quick else args.runs
    runs.mkdir(parents=True, exist_ok=True)
    data = runs / "data"
    prepare(data, limit)
    jobs = [(runs / name, flags) for name, flags in VARIANTS.items()]
    with ThreadPoolExecutor(max_workers=2) as pool:  # one training per core
        list(pool.map(lambda j: common.train_run(data, j[0], j[1], seconds), jobs))

    torch.set_num_threads(1)
    corpus = Corpus.open(data)
    results: dict[str, Any] = {}
    for name in VARIANTS:
        run = load_run(runs / name)
        pieces = held_out(corpus, run, count)
        rows = [p["chords"] for _, p in pieces]
        common.progress(f"{name}: {len(pieces)} melodies over held-out chords")
        with torch.backends.mkldnn.flags(enabled=False):  # single steps: see make/sample.py
            generated = over_chords(run, pieces, seed=0)
        results[name] = {
            "chord_tones_on_beats": chord_tone_share(generated, rows),
            "reference": chord_tone_share([m for m, _ in pieces], rows),
            "pieces": len(pieces),
            "loss": float(min(float(r.split(",")[3]) for r in _metrics(run.path))),
            "epochs": len(_metrics(run.path)),
        }
    ref = results["chords"]["reference"]
    table = [
        ["held-out melodies (reference)", ref, 100.0, "", ""],
        *[
            [name, r["chord_tones_on_beats"], 100 * r["chord_tones_on_beats"] / ref,
             r["loss"], r["epochs"]]
            for name, r in results.items()
        ],
    ]  # fmt: skip
    common.print_table(
        "on-beat melody notes that are chord tones, over held-out Nottingham chords",
        ["melodies", "share", "% of reference", "held-out loss", "epochs"],
        table,
    )
    params = {"seconds": seconds, "pieces": count, "threads": 1, "variants": VARIANTS}
    common.write_results(__file__, "chords", args.quick, params, results)


def _metrics(run: Path) -> list[str]:
    return (run / "metrics.csv").read_text().splitlines()[1:]


if __name__ == "__main__":
    main()
