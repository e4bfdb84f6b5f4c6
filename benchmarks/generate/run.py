"""Generation steps per second: tunesmith's ``sample_ids`` against slower ways of sampling.

Default LSTM, GRU and Transformer (``ModelConfig(kind=...)``), random weights, vocabulary
40, 512 new tokens after a 16-token prime:

- ``sample_ids`` (one network step per token, oneDNN off) at batch 1, 16 and 64
  (tokens/s = batch x steps/s);
- the same one-step loop written plainly under ``torch.no_grad()`` with oneDNN left ON
  (torch's default), batch 1; and that plain loop with oneDNN off, as a control;
- "tutorial style": re-run the whole 64-token window for every new token, batch 1 (its
  prime is 64 tokens, so every step runs a full window; --quick times 16 steps);
- ``sample_ids`` under a copy guard of two bars over 1.47 M training tokens (Essen's size),
  as ``generate`` samples by default, at batch 1, 16 and 64;
- ``sample_ids`` of the model with form inputs (the default since form inputs exist: the
  rows above use ``--no-form`` models, the network alone), each row's context kept by its
  tracker, at batch 1, 16 and 64.

Target: >= 2,000 steps/s at batch 1 for ``sample_ids``.

Then the Transformer's key/value cache as the piece grows: steps/s at batch 1 once the
cache holds 64, 512 and 2,048 positions, with the default context (256: the cache stops
growing there and slides) and with a context of 2,048 (the cache holds everything); beside
it, the same step without a cache (re-running the last ``context`` tokens for each new one).

Run: ``python benchmarks/generate/run.py`` or ``--quick``.
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import torch
from torch import nn

from tunesmith.config import DataConfig, ModelConfig
from tunesmith.corpus.context import trackers
from tunesmith.corpus.encodings import END, Vocab
from tunesmith.learn.models import build_model
from tunesmith.make.copying import CopyGuard
from tunesmith.make.sample import sample_ids

VOCAB = 40
PRIME = 16
WINDOW = 64
GUARD_TOKENS = 1_470_000


def primes(batch: int, seed: int, length: int = PRIME) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(VOCAB, (batch, length), generator=g).tolist()


def guard() -> CopyGuard:
    """A copy guard of two bars (32 tokens) over a training stream as long as Essen's
    (1.47 M tokens); what it costs a step does not depend on what the tokens are."""
    g = torch.Generator().manual_seed(2)
    return CopyGuard(torch.randint(VOCAB, (GUARD_TOKENS,), generator=g).numpy(), 32)


#: A steps vocabulary of VOCAB tokens, for the form trackers.
STEPS_VOCAB = Vocab([END, "_", "r", *(str(p) for p in range(48, 48 + VOCAB - 3))], "steps")


def run_sample_ids(
    model: nn.Module, batch: int, steps: int, copy_guard: CopyGuard | None = None
) -> float:
    g = torch.Generator().manual_seed(0)
    p = primes(batch, 1)
    form = None
    if model.config.form:
        form = trackers(STEPS_VOCAB, DataConfig(), [(4, 4)] * batch, [PRIME + steps] * batch)
    with warnings.catch_warnings():
        # sample_ids toggles oneDNN before it filters torch's TF32 warning; keep output clean.
        warnings.filterwarnings("ignore", message="TF32 acceleration", category=UserWarning)
        t0 = time.perf_counter()
        out = sample_ids(model, p, steps, guard=copy_guard, form=form, generator=g)
        elapsed = time.perf_counter() - t0
    assert all(len(o) == PRIME + steps for o in out)
    return elapsed


def onednn_off():
    """oneDNN switched off, without torch's warning about Intel-GPU TF32."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.filterwarnings("ignore", message="TF32 acceleration", category=UserWarning)
    stack.enter_context(torch.backends.mkldnn.flags(enabled=False))
    return stack


@torch.no_grad()
def run_plain_loop(model: nn.Module, batch: int, steps: int, onednn: bool) -> float:
    """One network step per token, the state carried; sampling from the softmax."""
    model.eval()
    g = torch.Generator().manual_seed(0)
    ctx = contextlib.nullcontext() if onednn else onednn_off()
    t0 = time.perf_counter()
    with ctx:
        x = torch.tensor(primes(batch, 1))
        logits, state = model(x)
        out = [x]
        for _ in range(steps):
            probs = logits[:, -1].softmax(-1)
            nxt = torch.multinomial(probs, 1, generator=g)
            out.append(nxt)
            logits, state = model(nxt, state)
    elapsed = time.perf_counter() - t0
    assert torch.cat(out, 1).shape == (batch, PRIME + steps)
    return elapsed


@torch.no_grad()
def run_window_loop(model: nn.Module, steps: int) -> float:
    """Tutorial style: the last 64 tokens through the network, from scratch, per new token.

    The prime fills the window, so every step runs a full 64-token window."""
    model.eval()
    g = torch.Generator().manual_seed(0)
    seq = primes(1, 1, WINDOW)[0]
    t0 = time.perf_counter()
    for _ in range(steps):
        window = torch.tensor([seq[-WINDOW:]])
        logits, _ = model(window)
        probs = logits[0, -1].softmax(-1)
        seq.append(int(torch.multinomial(probs, 1, generator=g)))
    elapsed = time.perf_counter() - t0
    assert len(seq) == WINDOW + steps
    return elapsed


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=None, help="new tokens per run (512)")
    p.add_argument("--rounds", type=int, default=None, help="runs per case, median (5)")
    p.add_argument("--kinds", default="lstm,gru,transformer")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = p.parse_args()
    steps = args.steps or (64 if args.quick else 512)
    rounds = args.rounds or (1 if args.quick else 5)
    window_steps = max(16, steps // 4) if args.quick else steps
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(common.describe_machine())

    two_bars = guard()
    cases = [
        ("sample_ids (oneDNN off)", 1, lambda m: run_sample_ids(m[0], 1, steps), steps),
        ("sample_ids (oneDNN off)", 16, lambda m: run_sample_ids(m[0], 16, steps), steps),
        ("sample_ids (oneDNN off)", 64, lambda m: run_sample_ids(m[0], 64, steps), steps),
        ("sample_ids + copy guard", 1, lambda m: run_sample_ids(m[0], 1, steps, two_bars), steps),
        ("sample_ids + copy guard", 16, lambda m: run_sample_ids(m[0], 16, steps, two_bars), steps),
        ("sample_ids + copy guard", 64, lambda m: run_sample_ids(m[0], 64, steps, two_bars), steps),
        ("sample_ids, form inputs", 1, lambda m: run_sample_ids(m[1], 1, steps), steps),
        ("sample_ids, form inputs", 16, lambda m: run_sample_ids(m[1], 16, steps), steps),
        ("sample_ids, form inputs", 64, lambda m: run_sample_ids(m[1], 64, steps), steps),
        ("plain loop, oneDNN on", 1, lambda m: run_plain_loop(m[0], 1, steps, True), steps),
        ("plain loop, oneDNN off", 1, lambda m: run_plain_loop(m[0], 1, steps, False), steps),
        (
            "tutorial: re-run 64-window",
            1,
            lambda m: run_window_loop(m[0], window_steps),
            window_steps,
        ),
    ]
    results = []
    for kind in kinds:
        torch.manual_seed(0)
        # (the network alone, --no-form; with form inputs)
        model = tuple(
            build_model(ModelConfig(kind=kind, form=f), VOCAB).eval() for f in (False, True)
        )
        for name, batch, fn, n in cases:
            fn(model)  # warm-up, not timed
            rates = []
            for _ in range(rounds):
                rates.append(n / fn(model))
            s = common.summary(rates)
            results.append(
                {
                    "kind": kind,
                    "method": name,
                    "batch": batch,
                    "steps": n,
                    "steps_per_s": s["median"],
                    "steps_per_s_runs": rates,
                    "tokens_per_s": s["median"] * batch,
                    "ms_per_step": 1000 / s["median"],
                }
            )
            common.progress(
                f"{kind} {name} batch {batch}: {s['median']:,.0f} steps/s "
                f"({s['median'] * batch:,.0f} tokens/s)"
            )
        base = next(r for r in results if r["kind"] == kind and r["batch"] == 1)
        for r in results:
            if r["kind"] == kind:
                r["vs_sample_ids_b1"] = r["steps_per_s"] / base["steps_per_s"]

    common.print_table(
        f"generation, vocabulary {VOCAB}, prime {PRIME}, {steps} new tokens, median of {rounds}",
        ["model", "method", "batch", "steps/s", "tokens/s", "ms/step", "x sample_ids b1"],
        [
            [
                r["kind"],
                r["method"],
                r["batch"],
                r["steps_per_s"],
                r["tokens_per_s"],
                r["ms_per_step"],
                r["vs_sample_ids_b1"],
            ]
            for r in results
        ],
    )
    for r in results:
        if r["method"].startswith("sample_ids") and r["batch"] == 1:
            ok = "meets" if r["steps_per_s"] >= 2000 else "BELOW"
            print(f"{r['kind']}: sample_ids batch 1 = {r['steps_per_s']:,.0f} steps/s ({ok} 2,000)")
    cache_rows = []
    if "transformer" in kinds:
        cache_rows = measure_cache(rounds, 16 if args.quick else 64)
        common.print_table(
            "Transformer at batch 1 as the piece grows (steps/s after N positions)",
            ["context", "positions", "cached slots", "steps/s (cache)", "steps/s (no cache)"],
            [
                [r["context"], r["position"], r["slots"], r["steps_per_s"], r["no_cache"]]
                for r in cache_rows
            ],
        )
    common.write_results(
        __file__,
        "generate",
        args.quick,
        {
            "vocab_size": VOCAB,
            "prime": PRIME,
            "steps": steps,
            "window_steps": window_steps,
            "window": WINDOW,
            "rounds": rounds,
            "guard_tokens": GUARD_TOKENS,
            "model": ModelConfig().to_dict(),
            "transformer": ModelConfig(kind="transformer").to_dict(),
        },
        {"sampling": results, "transformer_cache": cache_rows},
    )


@torch.no_grad()
def measure_cache(rounds: int, steps: int) -> list[dict]:
    """Steps/s of one-token steps with a cache already holding ``position`` positions."""
    rows = []
    for context in (256, 2048):
        torch.manual_seed(0)
        config = ModelConfig(kind="transformer", context=context, form=False)
        model = build_model(config, VOCAB).eval()
        g = torch.Generator().manual_seed(0)
        for position in (64, 512, 2048):
            prefix = torch.randint(VOCAB, (1, position), generator=g)
            token = prefix[:, -1:]
            rates = []
            for _ in range(rounds):
                state = None
                for chunk in prefix.split(256, 1):
                    _, state = model(chunk, state)
                t0 = time.perf_counter()
                for _ in range(steps):
                    _, state = model(token, state)
                rates.append(steps / (time.perf_counter() - t0))
            window = prefix[:, -context:]
            n = max(2, steps // 16)
            t0 = time.perf_counter()
            for _ in range(n):
                model(window)
            no_cache = n / (time.perf_counter() - t0)
            rows.append(
                {
                    "context": context,
                    "position": position,
                    "slots": state.positions.numel(),
                    "steps_per_s": common.summary(rates)["median"],
                    "steps_per_s_runs": rates,
                    "no_cache": no_cache,
                }
            )
            common.progress(
                f"transformer context {context} at position {position}: "
                f"{rows[-1]['steps_per_s']:,.0f} steps/s (no cache {no_cache:,.1f})"
            )
    return rows


if __name__ == "__main__":
    main()
