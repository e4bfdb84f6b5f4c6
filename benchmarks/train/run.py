"""Training tokens per second at the default shape: the bare model vs tunesmith's own loop.

For LSTM, GRU and Transformer (``ModelConfig()`` defaults otherwise: embedding 128, hidden
256, 2 layers, dropout 0.3; the Transformer 256 wide, 2 blocks, 4 heads; TrainConfig():
batch 16 x sequence 64):

- ceiling: forward + cross-entropy + backward + Adam step on eight fixed batches of the
  same stream and shape, read (with their form context) before timing; nothing else;
- pipeline: the training loop's step, written out: batches of window starts from
  ``dataset.train_batches`` over a real prepared Essen stream, ``dataset.windows``,
  forward, loss, ``zero_grad``, backward, ``clip_grad_norm_(1.0)``, Adam step, ``loss.item()``.

The ratio pipeline / ceiling is the share of the bare model's speed that tunesmith's loop
keeps (target >= 0.90). A third row, train_model, runs tunesmith's ``train_model`` itself
for a time limit and times its steps from its own per-batch events (warm-up steps,
validation between epochs and each epoch's partial last batch left out). Also: achieved
GFLOP/s of the training step, against this machine's float32 matmul rate (torch.mm of
1024 x 1024).

Run: ``python benchmarks/train/run.py`` or ``--quick``.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import torch
import torch.nn.functional as F
from torch import nn

from tunesmith.config import ModelConfig, TrainConfig
from tunesmith.corpus.dataset import Corpus, SplitStream, train_batches, window_context, windows
from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.learn.models import build_model, count_parameters
from tunesmith.learn.train import train_model


def flops_per_token(cfg: ModelConfig, vocab: int, seq: int = 64) -> dict[str, float]:
    """Multiply-adds x 2 of one token's forward pass; a training step is ~3x that.

    Transformer (Kaplan et al. 2020): 2 x (12 d^2 per layer) for the weights, plus
    2 x layers x window x d for attention over a window of ``seq``, plus the tied head.
    """
    if cfg.kind == "transformer":
        d, n = cfg.hidden_size, cfg.num_layers
        fwd = 2 * 12 * n * d * d + 2 * n * min(seq, cfg.context) * d + 2 * d * vocab
        return {"forward": fwd, "train": 3 * fwd}
    gates = 4 if cfg.kind == "lstm" else 3
    e, h = cfg.embedding_dim, cfg.hidden_size
    fwd = 2 * gates * h * (e + h) + (cfg.num_layers - 1) * 2 * gates * h * (h + h) + 2 * h * vocab
    return {"forward": fwd, "train": 3 * fwd}


class CeilingStep:
    """The bare model: forward, cross-entropy, backward, Adam step on a few fixed batches
    of the training stream (with their form context, as every model now reads it)."""

    def __init__(self, model: nn.Module, stream: SplitStream, batch: int, seq: int, lr: float):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        # A few fixed batches, read before timing so that reading is not measured.
        starts = train_batches(stream, seq, batch, 1, 0)[:8]
        self.batches = [(*windows(stream, s, seq), window_context(stream, s, seq)) for s in starts]
        self.i = 0
        self.tokens_per_step = batch * seq

    def __call__(self) -> None:
        x, y, context = self.batches[self.i % len(self.batches)]
        self.i += 1
        logits, _ = self.model(x, None, context)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


class PipelineStep:
    """train.py's inner loop body, over a real training stream, epoch after epoch."""

    def __init__(self, model: nn.Module, stream: SplitStream, cfg: TrainConfig) -> None:
        self.model = model
        self.cfg = cfg
        self.stream = stream
        self.opt = torch.optim.Adam(
            model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        self.epoch, self.b = 0, 0
        self.batches = train_batches(stream, cfg.sequence_length, cfg.batch_size, cfg.seed, 0)
        self.tokens = 0
        self.loss_sum = 0.0

    def __call__(self) -> None:
        cfg = self.cfg
        if self.b == len(self.batches):  # as train.py: a new epoch's batches
            self.epoch, self.b = self.epoch + 1, 0
            self.batches = train_batches(
                self.stream, cfg.sequence_length, cfg.batch_size, cfg.seed, self.epoch
            )
        x, y = windows(self.stream, self.batches[self.b], cfg.sequence_length)
        context = window_context(self.stream, self.batches[self.b], cfg.sequence_length)
        logits, _ = self.model(x, None, context)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        value = loss.item()
        if not math.isfinite(value):
            raise RuntimeError(f"loss became {value}")
        self.b += 1
        self.loss_sum += value
        self.tokens += y.numel()


def time_steps(step, steps: int) -> tuple[float, int]:
    """Seconds for ``steps`` calls, and the tokens they trained on."""
    tokens = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - t0
    if isinstance(step, PipelineStep):
        tokens = step.tokens
        step.tokens = 0
    else:
        tokens = steps * step.tokens_per_step
    return elapsed, tokens


def prepare_essen(tunes: int) -> tuple[Path, Corpus]:
    out = Path(tempfile.mkdtemp(prefix="tunesmith-bench-train-")) / "essen"
    common.progress(f"preparing the first {tunes} Essen tunes into {out}")
    report = prepare_corpus(["essen"], out, limit=tunes)
    common.progress(
        f"{report.kept} tunes, {report.tokens:,} tokens, vocabulary {report.vocab_size}"
    )
    return out, Corpus.open(out)


def time_train_model(data_dir: Path, run_dir: Path, kind: str, seconds: float, skip: int):
    """tunesmith's own ``train_model``, end to end, for ``seconds``; the step rate from the
    times of its "batch" events, leaving out the first ``skip`` steps (warm-up), the
    validation between epochs, and each epoch's last (partial) batch.

    :return: tokens per second, steps timed, seconds timed.
    """
    cfg = TrainConfig(time_limit=seconds, epochs=10_000, early_stopping=0)
    per_step = cfg.batch_size * cfg.sequence_length
    state = {"batches": 0, "last": None, "steps": 0, "timed_steps": 0, "timed": 0.0}

    def on_event(event: str, data: dict) -> None:
        now = time.perf_counter()
        if event == "epoch_start":
            state["batches"], state["last"] = data["batches"], None
        elif event == "batch":
            state["steps"] += 1
            full = data["batch"] < state["batches"]  # the epoch's last batch may be partial
            if state["last"] is not None and state["steps"] > skip and full:
                state["timed"] += now - state["last"]
                state["timed_steps"] += 1
            state["last"] = now

    result = train_model(
        data_dir, run_dir, ModelConfig(kind=kind), cfg, overwrite=True, on_event=on_event
    )
    n, t = state["timed_steps"], state["timed"]
    common.progress(
        f"{kind} train_model: {result.epochs_done} epochs, {state['steps']} steps in "
        f"{result.seconds:.1f} s; timed {n} steps in {t:.2f} s"
    )
    return (n * per_step / t if t else float("nan")), n, t


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tunes", type=int, default=None, help="Essen tunes to prepare (1000)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (10)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per round (40)")
    p.add_argument("--rounds", type=int, default=None, help="rounds, alternating modes (6)")
    p.add_argument(
        "--train-model-seconds",
        type=float,
        default=None,
        help="time limit of the end-to-end train_model row (60; 0 = leave it out)",
    )
    p.add_argument("--matmul-seconds", type=float, default=None, help="(4)")
    p.add_argument("--kinds", default="lstm,gru,transformer")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = p.parse_args()
    q = args.quick
    tunes = args.tunes or (100 if q else 1000)
    warmup = args.warmup if args.warmup is not None else (2 if q else 10)
    steps = args.steps or (3 if q else 40)
    rounds = args.rounds or (1 if q else 6)
    tm_seconds = args.train_model_seconds
    tm_seconds = (5.0 if q else 60.0) if tm_seconds is None else tm_seconds
    mm_seconds = args.matmul_seconds or (0.5 if q else 4.0)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if args.threads:
        torch.set_num_threads(args.threads)

    print(common.describe_machine())
    tcfg = TrainConfig()  # batch 16, sequence 64, lr 1e-3, clip 1.0, seed 0
    data_dir, corpus = prepare_essen(tunes)
    try:
        results, mm, stream, vocab = measure(
            corpus, data_dir, tcfg, kinds, warmup, steps, rounds, tm_seconds, mm_seconds
        )
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)

    common.print_table(
        f"training, batch {tcfg.batch_size} x sequence {tcfg.sequence_length}, vocabulary "
        f"{vocab}, {steps} steps x {rounds} rounds (median); matmul {mm:.1f} GFLOP/s",
        [
            "model",
            "mode",
            "tokens/s",
            "best tokens/s",
            "steps/s",
            "x ceiling",
            "(best/best)",
            "GFLOP/s (est.)",
            "of matmul",
        ],
        [
            [
                r["kind"],
                r["mode"],
                r["tokens_per_s"],
                r["tokens_per_s_best"],
                r["steps_per_s"],
                r["ratio_to_ceiling"],
                r["ratio_to_ceiling_best"],
                r["gflops"],
                r["share_of_matmul"],
            ]
            for r in results
        ],
    )
    for r in results:
        if r["mode"] == "pipeline":
            ok = "meets" if r["ratio_to_ceiling"] >= 0.90 else "BELOW"
            print(
                f"{r['kind']}: pipeline/ceiling = {r['ratio_to_ceiling']:.3f} of medians "
                f"({ok} 0.90), {r['ratio_to_ceiling_best']:.3f} of bests"
            )
    ceilings = [r for r in results if r["mode"] == "ceiling"]
    print(
        "FLOPs per token (training = 3 x forward): "
        + ", ".join(f"{r['kind']} {r['train_flops_per_token'] / 1e6:.2f} M" for r in ceilings)
    )
    common.write_results(
        __file__,
        "train",
        q,
        {
            "tunes": tunes,
            "stream_tokens": len(stream),
            "vocab_size": vocab,
            "batch_size": tcfg.batch_size,
            "sequence_length": tcfg.sequence_length,
            "warmup": warmup,
            "steps": steps,
            "rounds": rounds,
            "train_model_seconds": tm_seconds,
            "model": ModelConfig().to_dict(),
            "matmul_seconds": mm_seconds,
        },
        {"matmul_gflops": mm, "runs": results},
    )


def measure(corpus, data_dir, tcfg, kinds, warmup, steps, rounds, tm_seconds, mm_seconds):
    train_idx, _ = corpus.split(tcfg.val_fraction, tcfg.seed)
    stream = corpus.split_stream(train_idx, context=True)  # the form context, as train.py
    vocab = len(corpus.vocab)
    common.progress(f"training stream: {len(stream):,} tokens, vocabulary {vocab}")

    common.progress(f"float32 matmul rate (torch.mm 1024x1024, {mm_seconds} s)")
    mm = common.matmul_gflops(mm_seconds)
    common.progress(f"matmul: {mm:.1f} GFLOP/s")

    per_step = tcfg.batch_size * tcfg.sequence_length
    results = []
    for kind in kinds:
        mcfg = ModelConfig(kind=kind)
        runners = {}
        for mode in ("ceiling", "pipeline"):
            torch.manual_seed(0)
            model = build_model(mcfg, vocab)
            model.train()
            if mode == "ceiling":
                step = CeilingStep(model, stream, tcfg.batch_size, tcfg.sequence_length, 1e-3)
            else:
                step = PipelineStep(model, stream, tcfg)
            common.progress(f"{kind} {mode}: {warmup} warm-up steps")
            for _ in range(warmup):
                step()
            if isinstance(step, PipelineStep):
                step.tokens = 0
            runners[mode] = step
        rates: dict[str, list[float]] = {"ceiling": [], "pipeline": []}
        for r in range(rounds):
            # Alternate the two so a change in the machine's load hits both alike.
            order = ("ceiling", "pipeline") if r % 2 == 0 else ("pipeline", "ceiling")
            for mode in order:
                seconds, tokens = time_steps(runners[mode], steps)
                rates[mode].append(tokens / seconds)
                common.progress(
                    f"{kind} {mode} round {r + 1}/{rounds}: {steps} steps in {seconds:.2f} s "
                    f"= {tokens / seconds:,.0f} tokens/s"
                )
        modes = ["ceiling", "pipeline"]
        if tm_seconds > 0:
            common.progress(f"{kind} train_model, end to end, for {tm_seconds:g} s")
            with tempfile.TemporaryDirectory(prefix="tunesmith-bench-train-run-") as run_dir:
                rate, _, _ = time_train_model(data_dir, Path(run_dir), kind, tm_seconds, warmup)
            rates["train_model"] = [rate]
            modes.append("train_model")
        fl = flops_per_token(mcfg, vocab, tcfg.sequence_length)
        params = count_parameters(runners["ceiling"].model)
        ceiling = common.summary(rates["ceiling"])
        for mode in modes:
            s = common.summary(rates[mode])
            gflops = s["median"] * fl["train"] / 1e9
            results.append(
                {
                    "kind": kind,
                    "mode": mode,
                    "tokens_per_s": s["median"],
                    "tokens_per_s_best": s["max"],
                    "tokens_per_s_runs": rates[mode],
                    "steps_per_s": s["median"] / per_step,
                    "ratio_to_ceiling": s["median"] / ceiling["median"],
                    "ratio_to_ceiling_best": s["max"] / ceiling["max"],
                    "train_flops_per_token": fl["train"],
                    "gflops": gflops,
                    "share_of_matmul": gflops / mm,
                    "parameters": params,
                }
            )
    return results, mm, stream, vocab


if __name__ == "__main__":
    main()
