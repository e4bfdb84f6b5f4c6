"""LSTM, GRU and Transformer on the same prepared Essen corpus for the same wall-clock time.

Each model is trained by ``train_model`` with its defaults (``ModelConfig(kind=...)``,
``TrainConfig()``; the Transformer with windows as long as its context, as the CLI does)
under ``--seconds`` of time limit, on all 8,514 Essen tunes prepared with the default
options (the same split for every model). Reported: the best validation loss (nats per
token; the stateful evaluation of ``train.evaluate_loss``: every token predicted from all
the music before it, the Transformer from up to ``context`` tokens), accuracy, epochs and
steps done, parameters, and generation speed of the trained model with ``sample_ids``
(batch 1 and 16, 512 new tokens after a 16-token prime).

Run: ``flock /tmp/tunesmith-heavy.lock python benchmarks/compare/run.py`` or ``--quick``.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import torch

from tunesmith.config import ModelConfig, TrainConfig
from tunesmith.corpus.context import trackers
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.learn.checkpoint import load_run
from tunesmith.learn.train import train_model
from tunesmith.make.sample import sample_ids

#: (label, ModelConfig overrides, TrainConfig overrides)
MODELS = [
    ("lstm", {"kind": "lstm"}, {}),
    ("gru", {"kind": "gru"}, {}),
    ("transformer", {"kind": "transformer"}, {"sequence_length": 256}),
    ("transformer ctx 64", {"kind": "transformer", "context": 64}, {"sequence_length": 64}),
]


def generation_speed(run_dir: Path, batch: int, steps: int) -> float:
    run = load_run(run_dir)
    g = torch.Generator().manual_seed(0)
    primes = torch.randint(4, len(run.vocab), (batch, 16), generator=g).tolist()

    def form(length: int):  # each row's context tracker, for a model with form inputs
        if not run.model_config.form:
            return None
        return trackers(run.vocab, run.data, [(4, 4)] * batch, [16 + length] * batch)

    sample_ids(run.model, primes, 16, form=form(16), generator=g)  # warm-up
    t0 = time.perf_counter()
    sample_ids(run.model, primes, steps, form=form(steps), generator=g)
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=None, help="training time per model (300)")
    p.add_argument("--tunes", type=int, default=0, help="Essen tunes (0 = all)")
    p.add_argument("--only", default="", help="comma-separated labels to run")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    seconds = args.seconds or (10.0 if args.quick else 300.0)
    tunes = args.tunes or (200 if args.quick else 0)
    steps = 64 if args.quick else 512
    models = [m for m in MODELS if not args.only or m[0] in args.only.split(",")]
    print(common.describe_machine())

    work = Path(tempfile.mkdtemp(prefix="tunesmith-bench-compare-"))
    data = work / "essen"
    common.progress(f"preparing Essen ({tunes or 'all'} tunes) into {data}")
    report = prepare_corpus(["essen"], data, limit=tunes)
    common.progress(f"{report.kept} tunes, {report.tokens:,} tokens")

    results = []
    for label, mkw, tkw in models:
        mcfg = ModelConfig(**mkw)
        tcfg = TrainConfig(**{"time_limit": seconds, "device": "cpu", **tkw})
        run_dir = work / label.replace(" ", "-")
        common.progress(f"{label}: training for {seconds:g} s")
        res = train_model(data, run_dir, mcfg, tcfg)
        with (run_dir / "metrics.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        best = min(rows, key=lambda r: float(r["val_loss"]))
        speed1 = generation_speed(run_dir, 1, steps)
        speed16 = generation_speed(run_dir, 16, steps)
        results.append(
            {
                "model": label,
                "model_config": mcfg.to_dict(),
                "sequence_length": tcfg.sequence_length,
                "parameters": res.parameters,
                "epochs": res.epochs_done,
                "steps": int(rows[-1]["step"]),
                "seconds": res.seconds,
                "best_val_loss": res.best_val_loss,
                "best_val_accuracy": float(best["val_accuracy"]),
                "train_tokens_per_s": float(rows[0]["tokens_per_s"]),
                "generate_tokens_per_s_b1": speed1,
                "generate_tokens_per_s_b16": speed16,
            }
        )
        common.progress(
            f"{label}: best val {res.best_val_loss:.4f} after {res.epochs_done} epochs; "
            f"generation {speed1:,.0f} tokens/s (batch 1)"
        )

    common.print_table(
        f"Essen ({report.kept} tunes), {seconds:g} s of training each",
        [
            "model",
            "parameters",
            "window",
            "epochs",
            "steps",
            "val loss",
            "val acc",
            "train tok/s",
            "gen tok/s b1",
            "gen tok/s b16",
        ],
        [
            [
                r["model"],
                r["parameters"],
                r["sequence_length"],
                r["epochs"],
                r["steps"],
                r["best_val_loss"],
                r["best_val_accuracy"],
                r["train_tokens_per_s"],
                r["generate_tokens_per_s_b1"],
                r["generate_tokens_per_s_b16"],
            ]
            for r in results
        ],
    )
    common.write_results(
        __file__,
        "compare",
        args.quick,
        {
            "seconds": seconds,
            "tunes": report.kept,
            "tokens": report.tokens,
            "steps": steps,
            "threads": torch.get_num_threads(),
        },
        results,
    )


if __name__ == "__main__":
    main()
