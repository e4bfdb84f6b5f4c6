"""Training tokens per second with 1 and 2 processes (torchrun, gloo on the CPU).

The same command, ``tunesmith train`` on the first ``--tunes`` Essen tunes for one epoch,
the same global batch (16 windows of 64 tokens: 8 per process with two), launched as
``torchrun --standalone --nproc-per-node N -m tunesmith train ...`` with one thread per
process (``OMP_NUM_THREADS=1``), so that N processes use N cores. Beside them, one plain
process with N threads, torch's own way of using the cores. The rate is the epoch's
tokens/s from the run's ``metrics.csv`` (validation excluded).

On a GPU machine, the same script with ``--device cuda`` measures one process per GPU.

Run: ``flock /tmp/tunesmith-heavy.lock python benchmarks/scaling/run.py`` or ``--quick``.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.corpus.prepare import prepare_corpus


def train(data: Path, out: Path, procs: int, threads: int, kind: str, device: str, torchrun: bool):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable]
    if torchrun:
        cmd += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs)]
    cmd += ["-m", "tunesmith", "train", str(data), "--out", str(out), "--epochs", "1"]
    cmd += ["--model", kind, "--sequence-length", "64", "--device", device, "--overwrite"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    with (out / "metrics.csv").open(newline="") as f:
        row = list(csv.DictReader(f))[-1]
    return float(row["tokens_per_s"]), float(row["val_loss"])


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tunes", type=int, default=None, help="Essen tunes (1000)")
    p.add_argument("--kinds", default="lstm,transformer")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=None, help="runs per case, median (2)")
    args = p.parse_args()
    tunes = args.tunes or (100 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 2)
    print(common.describe_machine())
    work = Path(tempfile.mkdtemp(prefix="tunesmith-bench-scaling-"))
    try:
        data = work / "essen"
        report = prepare_corpus(["essen"], data, limit=tunes)
        common.progress(f"{report.kept} tunes, {report.tokens:,} tokens")
        cases = [
            ("1 process, 1 thread", 1, 1, True),
            ("2 processes, 1 thread each", 2, 1, True),
            ("1 process, 2 threads (no torchrun)", 1, 2, False),
        ]
        results = []
        for kind in args.kinds.split(","):
            base = None
            for label, procs, threads, torchrun in cases:
                rates, loss = [], 0.0
                for _ in range(rounds):
                    rate, loss = train(
                        data, work / "run", procs, threads, kind, args.device, torchrun
                    )
                    rates.append(rate)
                rate = common.summary(rates)["median"]
                base = base or rate
                results.append(
                    {
                        "kind": kind,
                        "case": label,
                        "processes": procs,
                        "threads_per_process": threads,
                        "tokens_per_s": rate,
                        "tokens_per_s_runs": rates,
                        "speedup": rate / base,
                        "val_loss": loss,
                    }
                )
                common.progress(f"{kind} {label}: {rate:,.0f} tokens/s, val loss {loss:.4f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    common.print_table(
        f"one epoch of {report.kept} Essen tunes, global batch 16 x 64, median of {rounds}",
        ["model", "case", "tokens/s", "x 1 process", "val loss after 1 epoch"],
        [[r["kind"], r["case"], r["tokens_per_s"], r["speedup"], r["val_loss"]] for r in results],
    )
    common.write_results(
        __file__,
        "scaling",
        args.quick,
        {"tunes": report.kept, "tokens": report.tokens, "rounds": rounds, "device": args.device},
        results,
    )


if __name__ == "__main__":
    main()
