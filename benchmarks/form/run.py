"""Form A/B: the old default model, the new one with form inputs, and the Transformer.

For each corpus (``essen``: all of music21's Essen folk songs; ``nottingham``: the melodies of
the 1,034 Nottingham MIDI files in ../shared/data), prepared with the defaults:

- ``old``: the default LSTM without form inputs (``tunesmith train DATA --no-form``), the
  default before form inputs existed;
- ``form``: the default LSTM, which now has them (``tunesmith train DATA``);
- ``transformer``: the default Transformer with them (``--model transformer``; Essen only).

Each is trained as ``OMP_NUM_THREADS=1 tunesmith train DATA --out RUN --time-limit SECONDS``
(one core each, two trainings at a time on a 2-core machine), then judged (two processes of
one thread) with
``evaluate_run(RUN, samples=500, seed=0)``: 500 melodies from training openings, of held-out
pieces' lengths, under the two-bar copy guard, set beside the held-out reference. A run
folder that already holds a trained run of that name is reused (``--retrain`` trains again).

Run: ``python benchmarks/form/run.py [--seconds 1800] [--samples 500] [--runs DIR]
[--temperature 0.9] [--endings 8]``;
``--quick``: 300 Essen tunes, 30 s, 20 samples.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.judge.evaluate import evaluate_run
from tunesmith.judge.report import write_report

VARIANTS = {
    "old": ["--no-form"],
    "form": [],
    "transformer": ["--model", "transformer"],
}
CORPORA = {"essen": ["essen"], "nottingham": [str(common.NOTTINGHAM_MIDI)]}
SHOWN = ("pitch classes", "intervals", "note lengths", "repetition")


def prepare(name: str, data: Path, limit: int) -> None:
    if (data / "manifest.json").exists():
        return
    extra = ["--limit", str(limit)] if limit else []
    cmd = [sys.executable, "-m", "tunesmith", "prepare", *CORPORA[name], "--out", str(data), *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def train(data: Path, run: Path, flags: list[str], seconds: float, retrain: bool) -> None:
    if (run / "model.safetensors").exists() and not retrain:
        common.progress(f"reusing {run}")
        return
    common.progress(f"training {run} for {seconds:g} s")
    cmd = [sys.executable, "-m", "tunesmith", "train", str(data), "--out", str(run), "--overwrite"]
    cmd += ["--time-limit", str(seconds), *flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = run.with_suffix(".log")
    with log.open("w") as out:
        subprocess.run(cmd, check=True, env=env, stdout=out, stderr=subprocess.STDOUT)


def judge(run: Path, samples: int, temperature: float, endings: int) -> dict[str, Any]:
    common.progress(
        f"evaluating {run} ({samples} samples at temperature {temperature:g}, "
        f"the best of {endings} endings)"
    )
    report = evaluate_run(run, samples=samples, seed=0, temperature=temperature, endings=endings)
    write_report(report, run / ("evaluation" + _suffix(temperature, endings)))
    p, f, form = report["prediction"], report["features"], report["form"]
    return {
        "loss": p["loss"],
        "features": {k: f[k]["share_of_reference"] for k in SHOWN},
        "form": {k: v["share_of_reference"] for k, v in form.items() if "overlap" in v},
        "form_means": {k: v["means"] for k, v in form.items() if "means" in v},
        "on_tonic": form["endings"]["on_tonic"],
        "on_tonic_strong": form["endings"]["on_tonic_strong"],
        "copying": report["copying"]["share_two_bars"],
        "copying_reference": report["copying"]["reference_share_two_bars"],
        "epochs": _epochs(run),
        "temperature": temperature,
        "endings": report["settings"]["endings"],
    }


def _suffix(temperature: float, endings: int) -> str:
    return ("" if temperature == 1.0 else f"-t{temperature:g}") + (
        f"-e{endings}" if endings > 1 else ""
    )


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _epochs(run: Path) -> int:
    lines = (run / "metrics.csv").read_text().splitlines()
    return max(0, len(lines) - 1)


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1800)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--runs", type=Path, default=common.REPO / "runs" / "form-bench")
    p.add_argument("--only", choices=sorted(CORPORA), help="one corpus")
    p.add_argument("--retrain", action="store_true", help="train again where runs exist")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    p.add_argument("--endings", type=int, default=1, help="the best of N endings (generate's)")
    p.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(VARIANTS),
        default=sorted(VARIANTS),
        help="train and judge only these (the other rows of results.json are kept)",
    )
    args = p.parse_args()
    seconds, samples, limit = (30, 20, 300) if args.quick else (args.seconds, args.samples, 0)
    runs = args.runs / "quick" if args.quick else args.runs
    runs.mkdir(parents=True, exist_ok=True)

    jobs = []
    for corpus in [args.only] if args.only else list(CORPORA):
        data = runs / f"data-{corpus}"
        prepare(corpus, data, limit)
        for variant, flags in VARIANTS.items():
            if variant not in args.variants or (variant == "transformer" and corpus != "essen"):
                continue
            jobs.append((corpus, variant, data, runs / f"{corpus}-{variant}", flags))
    with ThreadPoolExecutor(max_workers=2) as pool:  # one training per core
        list(pool.map(lambda j: train(j[2], j[3], j[4], seconds, args.retrain), jobs))
    os.environ["OMP_NUM_THREADS"] = "1"  # the judges: one process per core, one thread each
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        t, e, n = args.temperature, args.endings, len(jobs)
        judged = pool.map(judge, [j[3] for j in jobs], [samples] * n, [t] * n, [e] * n)
        results = {
            f"{c}-{v}{_suffix(t, e)}": {"corpus": c, "variant": v, "measured": _today(), **r}
            for (c, v, *_), r in zip(jobs, judged, strict=True)
        }

    for corpus in dict.fromkeys(r["corpus"] for r in results.values()):  # this run's corpora
        names = [k for k, r in results.items() if r["corpus"] == corpus]
        rows: list[list[Any]] = [
            ["held-out loss (nats/token)", *[results[n]["loss"] for n in names]],
            ["epochs in the budget", *[results[n]["epochs"] for n in names]],
        ]
        for key in SHOWN:
            rows.append([f"{key} (% of ref.)", *[100 * results[n]["features"][key] for n in names]])
        for key in results[names[0]]["form"]:
            rows.append([f"{key} (% of ref.)", *[100 * results[n]["form"][key] for n in names]])
        rows.append(["ends on the tonic", *[results[n]["on_tonic"][0] for n in names]])
        rows.append(["  (held-out pieces)", *[results[n]["on_tonic"][1] for n in names]])
        rows.append(["samples copying 2 bars", *[results[n]["copying"] for n in names]])
        common.print_table(f"form A/B on {corpus}", ["statistic", *names], rows)
    params = {"seconds": seconds, "samples": samples, "threads": 1, "variants": VARIANTS}
    kept = Path(__file__).with_name("results.json")
    partial = args.only or set(args.variants) != set(VARIANTS)
    if partial and not args.quick and kept.exists():  # keep the rows not measured now
        results = {**json.loads(kept.read_text())["results"], **results}
    common.write_results(__file__, "form", args.quick, params, results)


if __name__ == "__main__":
    main()
