"""Quality per minute: tunesmith's default model vs a tutorial-style baseline, same data, same time.

Data: the first 300 Essen tunes, prepared with the defaults (steps encoding, transposed to
C major / A minor), split by piece with ``corpus.split(0.1, 0)`` as train.py does.

For each wall-clock budget T (``--budgets 120,600``; ``--quick``: 20):

a) tunesmith: ``train_model`` with ``TrainConfig(time_limit=T, epochs=10_000,
   early_stopping=0)`` and the default ``ModelConfig``; the best validation loss in
   ``metrics.csv``. train.py's validation loss runs the held-out pieces as contiguous
   lanes with the recurrent state carried, so every token is predicted from all the music
   before it. (Its clock includes validation, checkpoints and plots.)
b) tutorial baseline, written here as the seeds' tutorials have it: one-hot inputs (no
   embedding), one LSTM layer of 256, dropout 0.2, a linear head; windows of 64 tokens
   at stride 1 with ONE target per window (the token after it); Adam 1e-3, batch 64,
   shuffled windows; trained on the same training pieces for T seconds of training
   (its validation passes are not counted against the budget). Its validation loss is
   the tutorial's: the last-step prediction over every stride-1 64-token window of the
   held-out pieces.

Both models are also scored on the other's yardstick (tunesmith's best weights on the
held-out windows; the baseline over the held-out stream with the state carried), and
both are timed sampling at batch 1: ``sample_ids`` (one step per token) vs the
tutorial's re-run of the whole 64-token window per generated token.

Run: ``python benchmarks/quality/run.py [--budgets 120,600]`` or ``--quick``.
"""

from __future__ import annotations

import csv
import math
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.config import ModelConfig, TrainConfig
from tunesmith.corpus.dataset import Corpus
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.learn.checkpoint import load_run
from tunesmith.learn.heldout import evaluate_loss
from tunesmith.learn.train import train_model
from tunesmith.make.sample import sample_ids

WINDOW = 64
BATCH = 64
VAL_FRACTION, SEED = 0.1, 0


# ------------------------------------------------------------------ the tutorial baseline


class TutorialLSTM(nn.Module):
    """One-hot in, LSTM(256), Dropout(0.2), Dense: the tutorials' network."""

    def __init__(self, vocab: int, hidden: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        self.vocab = vocab
        self.lstm = nn.LSTM(vocab, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor, state=None):
        x = F.one_hot(ids, self.vocab).float()
        y, state = self.lstm(x, state)
        return self.head(self.drop(y)), state


def window_starts(stream: torch.Tensor, limit: int = 0) -> torch.Tensor:
    """Every stride-1 window of WINDOW tokens that has a token after it; with ``limit``,
    that many of them, evenly spread."""
    starts = torch.arange(max(0, len(stream) - WINDOW))
    if limit and len(starts) > limit:
        starts = starts[torch.linspace(0, len(starts) - 1, limit).long()]
    return starts


def window_batch(stream: torch.Tensor, starts: torch.Tensor):
    x = stream[starts[:, None] + torch.arange(WINDOW)]
    return x, stream[starts + WINDOW]


@torch.no_grad()
def last_step_loss(model: nn.Module, stream: torch.Tensor, limit: int = 0, batch: int = 512):
    """The tutorial's validation: cross-entropy and accuracy of the token after each
    held-out window, predicted from that window alone (fresh state)."""
    was = model.training
    model.eval()
    starts = window_starts(stream, limit)
    total, correct = 0.0, 0
    for s in starts.split(batch):
        x, y = window_batch(stream, s)
        logits, _ = model(x)
        last = logits[:, -1]
        total += F.cross_entropy(last, y, reduction="sum").item()
        correct += (last.argmax(-1) == y).sum().item()
    model.train(was)
    n = max(len(starts), 1)
    return total / n, correct / n


def train_tutorial(
    train_stream: torch.Tensor,
    val_stream: torch.Tensor,
    vocab: int,
    budget: float,
    evals: int,
    val_windows: int = 0,
) -> tuple[TutorialLSTM, dict]:
    """Train the baseline for ``budget`` seconds of training; validate ``evals`` times."""
    torch.manual_seed(SEED)
    model = TutorialLSTM(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    starts_all = window_starts(train_stream)
    g = torch.Generator().manual_seed(SEED)
    next_eval = budget / evals
    curve = []
    best = {"val_loss": math.inf}
    best_state = None
    trained, steps, epoch, loss_sum, loss_n = 0.0, 0, 0, 0.0, 0
    model.train()
    done = False
    while not done:
        order = starts_all[torch.randperm(len(starts_all), generator=g)]
        for s in order.split(BATCH):
            t0 = time.perf_counter()
            x, y = window_batch(train_stream, s)
            logits, _ = model(x)
            loss = F.cross_entropy(logits[:, -1], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            loss_n += 1
            steps += 1
            trained += time.perf_counter() - t0
            if trained >= next_eval or trained >= budget:
                val_loss, val_acc = last_step_loss(model, val_stream, val_windows)
                point = {
                    "seconds": round(trained, 2),
                    "step": steps,
                    "epochs": round(steps * BATCH / len(starts_all), 4),
                    "train_loss": loss_sum / loss_n,
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                }
                curve.append(point)
                loss_sum, loss_n = 0.0, 0
                common.progress(
                    f"  tutorial: {trained:6.1f} s, step {steps}, "
                    f"epoch {point['epochs']:.2f}: train {point['train_loss']:.3f}, "
                    f"val (last step) {val_loss:.4f}, accuracy {val_acc:.3f}"
                )
                if val_loss < best["val_loss"]:
                    best = point
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
                while next_eval <= trained:  # a slow step may pass several eval points
                    next_eval += budget / evals
                if trained >= budget:
                    done = True
                    break
        epoch += 1
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, {
        "best": best,
        "curve": curve,
        "steps": steps,
        "train_seconds": trained,
        "windows_per_epoch": len(starts_all),
        "targets_per_step": BATCH,
    }


# ---------------------------------------------------------------------------- sampling


@torch.no_grad()
def window_sampling_rate(model: nn.Module, prime: list[int], steps: int) -> float:
    """Steps per second, re-running the last 64 tokens from scratch per new token (batch 1).

    The prime fills the window, so every step has the same shape, and a few untimed steps
    come first: oneDNN builds a kernel per new shape, which is a start-up cost only.
    """
    model.eval()
    g = torch.Generator().manual_seed(0)
    seq = list(prime)
    for timed in (False, True):
        n = steps if timed else 4
        t0 = time.perf_counter()
        for _ in range(n):
            logits, _ = model(torch.tensor([seq[-WINDOW:]]))
            seq.append(int(torch.multinomial(logits[0, -1].softmax(-1), 1, generator=g)))
    return steps / (time.perf_counter() - t0)


def sample_ids_rate(model: nn.Module, prime: list[int], steps: int) -> float:
    """Steps per second of ``sample_ids`` at batch 1, after an untimed short call."""
    g = torch.Generator().manual_seed(0)
    with warnings.catch_warnings():
        # sample_ids toggles oneDNN before it filters torch's TF32 warning; keep output clean.
        warnings.filterwarnings("ignore", message="TF32 acceleration", category=UserWarning)
        sample_ids(model, [prime], 8, generator=g)
        t0 = time.perf_counter()
        sample_ids(model, [prime], steps, generator=g)
        return steps / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- tunesmith


def read_metrics(path: Path) -> list[dict[str, float]]:
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def run_tunesmith(data_dir: Path, run_dir: Path, budget: float) -> dict:
    def on_event(kind: str, data: dict) -> None:
        if kind == "epoch_end":
            common.progress(
                f"  tunesmith: {data['seconds']:6.1f} s, epoch {data['epoch']}, "
                f"step {data['step']}: train {data['train_loss']:.3f}, "
                f"val {data['val_loss']:.4f}, accuracy {data['val_accuracy']:.3f}"
            )

    cfg = TrainConfig(time_limit=budget, epochs=10_000, early_stopping=0)
    t0 = time.perf_counter()
    # The network without form inputs (--no-form): this benchmark's yardsticks (last-step
    # windows, re-run windows) feed bare token windows; benchmarks/form judges form inputs.
    model = ModelConfig(form=False)
    result = train_model(data_dir, run_dir, model, cfg, overwrite=True, on_event=on_event)
    wall = time.perf_counter() - t0
    rows = read_metrics(run_dir / "metrics.csv")
    best = min(rows, key=lambda r: r["val_loss"])
    return {
        "best": best,
        "curve": rows,
        "epochs": result.epochs_done,
        "steps": int(rows[-1]["step"]),
        "stopped": result.stopped,
        "seconds": result.seconds,
        "wall_seconds": wall,
        "parameters": result.parameters,
        "targets_per_step": cfg.batch_size * cfg.sequence_length,
    }


# ---------------------------------------------------------------------------------- main


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--budgets", default=None, help="seconds, comma-separated (120,600)")
    p.add_argument("--tunes", type=int, default=300, help="first N Essen tunes (300)")
    p.add_argument("--evals", type=int, default=None, help="baseline validations per budget")
    p.add_argument("--sample-steps", type=int, default=None, help="tokens to time (512)")
    p.add_argument(
        "--val-windows",
        type=int,
        default=None,
        help="held-out windows for the last-step loss, evenly spread (0 = all, the default)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp corpus and runs")
    args = p.parse_args()
    q = args.quick
    budgets = [float(b) for b in (args.budgets or ("20" if q else "120,600")).split(",")]
    evals = args.evals or (1 if q else 8)
    sample_steps = args.sample_steps or (32 if q else 512)
    window_steps = max(16, sample_steps // 4)
    val_windows = args.val_windows if args.val_windows is not None else (256 if q else 0)
    print(common.describe_machine())

    tmp = Path(tempfile.mkdtemp(prefix="tunesmith-bench-quality-"))
    try:
        data_dir = tmp / "essen"
        common.progress(f"preparing the first {args.tunes} Essen tunes into {data_dir}")
        report = prepare_corpus(["essen"], data_dir, limit=args.tunes)
        corpus = Corpus.open(data_dir)
        vocab = len(corpus.vocab)
        train_idx, val_idx = corpus.split(VAL_FRACTION, SEED)
        train_stream, val_stream = corpus.stream(train_idx), corpus.stream(val_idx)
        common.progress(
            f"{report.kept} tunes ({len(train_idx)} train, {len(val_idx)} validation), "
            f"{len(train_stream):,} + {len(val_stream):,} tokens, vocabulary {vocab}"
        )
        prime = val_stream[:WINDOW].tolist()  # the end token, then a held-out opening

        results = []
        for budget in budgets:
            common.progress(f"budget {budget:g} s: tunesmith train_model")
            run_dir = tmp / f"run-{budget:g}"
            ts = run_tunesmith(data_dir, run_dir, budget)
            ts_model = load_run(run_dir).model
            ts["last_step_val_loss"], ts["last_step_val_accuracy"] = last_step_loss(
                ts_model, val_stream, val_windows
            )
            ts["sample_steps_per_s"] = sample_ids_rate(ts_model, prime, sample_steps)
            ts["window_sampling_steps_per_s"] = window_sampling_rate(ts_model, prime, window_steps)

            common.progress(f"budget {budget:g} s: tutorial baseline")
            tut_model, tut = train_tutorial(
                train_stream, val_stream, vocab, budget, evals, val_windows
            )
            tut["carried_state_val_loss"], tut["carried_state_val_accuracy"] = evaluate_loss(
                tut_model, val_stream, WINDOW, BATCH, torch.device("cpu")
            )
            tut["parameters"] = sum(w.numel() for w in tut_model.parameters())
            tut["window_sampling_steps_per_s"] = window_sampling_rate(
                tut_model, prime, window_steps
            )
            tut["sample_steps_per_s"] = sample_ids_rate(tut_model, prime, sample_steps)
            results.append({"budget": budget, "tunesmith": ts, "tutorial": tut})
            print_budget(budget, ts, tut)
    finally:
        if args.keep:
            common.progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print_summary(results)
    common.write_results(
        __file__,
        "quality",
        q,
        {
            "tunes": args.tunes,
            "kept": report.kept,
            "train_pieces": len(train_idx),
            "val_pieces": len(val_idx),
            "train_tokens": len(train_stream),
            "val_tokens": len(val_stream),
            "vocab_size": vocab,
            "budgets": budgets,
            "tutorial_evals": evals,
            "sample_steps": sample_steps,
            "window_sampling_steps": window_steps,
            "val_windows": val_windows or "all",
            "tunesmith_model": ModelConfig(form=False).to_dict(),
            "tunesmith_train": TrainConfig(epochs=10_000, early_stopping=0).to_dict(),
            "tutorial_model": {"input": "one-hot", "lstm": 256, "layers": 1, "dropout": 0.2},
        },
        results,
    )


def print_budget(budget: float, ts: dict, tut: dict) -> None:
    common.print_table(
        f"budget {budget:g} s",
        ["", "tunesmith (default LSTM)", "tutorial baseline"],
        [
            ["parameters", ts["parameters"], tut["parameters"]],
            ["optimiser steps", ts["steps"], tut["steps"]],
            ["targets per step", ts["targets_per_step"], tut["targets_per_step"]],
            ["training seconds", ts["seconds"], tut["train_seconds"]],
            ["own val loss, nats/token", ts["best"]["val_loss"], tut["best"]["val_loss"]],
            ["  (own yardstick)", "all tokens, carried state", "last step of 64-windows"],
            ["  reached at second", ts["best"]["seconds"], tut["best"]["seconds"]],
            [
                "val loss, last step of 64-windows",
                ts["last_step_val_loss"],
                tut["best"]["val_loss"],
            ],
            ["val loss, carried state", ts["best"]["val_loss"], tut["carried_state_val_loss"]],
            [
                "sampling steps/s, one step per token",
                ts["sample_steps_per_s"],
                tut["sample_steps_per_s"],
            ],
            [
                "sampling steps/s, re-run 64-window",
                ts["window_sampling_steps_per_s"],
                tut["window_sampling_steps_per_s"],
            ],
        ],
    )


def print_summary(results: list[dict]) -> None:
    common.print_table(
        "quality per minute: best validation loss (nats/token, lower is better)",
        [
            "budget s",
            "tunesmith (own: carried state)",
            "tunesmith (last step)",
            "tutorial (own: last step)",
            "tutorial (carried state)",
            "tutorial model, re-run window: steps/s",
            "tunesmith model, sample_ids: steps/s",
        ],
        [
            [
                r["budget"],
                r["tunesmith"]["best"]["val_loss"],
                r["tunesmith"]["last_step_val_loss"],
                r["tutorial"]["best"]["val_loss"],
                r["tutorial"]["carried_state_val_loss"],
                r["tutorial"]["window_sampling_steps_per_s"],
                r["tunesmith"]["sample_steps_per_s"],
            ]
            for r in results
        ],
    )


if __name__ == "__main__":
    main()
