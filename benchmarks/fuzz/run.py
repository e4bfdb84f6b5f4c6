"""Fuzz campaign: thousands of bad files of every format through the real `tunesmith prepare`.

Inputs (``inputs.py``): real files mutated (``mutate.py``: bit flips, truncation, splicing,
huge counts, deep nesting, odd encodings, broken and bombed .mxl archives) and files drawn
from grammars (``grammar.py``: hypothesis strategies for ABC, MIDI chunks, MusicXML, Kern).
They are read in batches, each by ``python -m tunesmith prepare BATCH --jobs 2`` in its own
process (the "parent") with its reader workers, a fresh cache and ``--time-limit-per-file``.
Each batch also holds three good Essen tunes, so that a corpus is always made, and in every
``--kill-every``-th batch one reader worker is killed with SIGKILL mid-batch.

Per format: inputs, items (ABC files may hold several tunes), files read (a melody kept),
items skipped by reason, crashes of the parent (a non-zero exit or a traceback: must be 0),
hangs (a batch past its watchdog: must be 0), worker deaths survived, inputs unaccounted
for (in neither the corpus nor its skip list: must be 0), skip reasons longer than one line
(must be 0), and the peak memory of any one process. An input that finds a bug is saved to
``found/`` (then copied into ``tests/data/fuzz/`` with a regression test).

Run: ``python benchmarks/fuzz/run.py`` (10,200 inputs) or ``--quick`` (300).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import inputs

HERE = Path(__file__).resolve().parent

#: Share of the campaign each format gets (.xml and .musicxml are the same reader).
SHARES = {".mid": 0.40, ".abc": 0.18, ".krn": 0.12, ".xml": 0.07, ".musicxml": 0.07, ".mxl": 0.16}
DIED = "a reader process died"


def controls(folder: Path) -> list[Path]:
    """Three good Essen tunes, one file each: every batch then makes a corpus."""
    from tunesmith.read.sources import bundled_files
    from tunesmith.read.sources.scores import split_abc

    tunes = split_abc(bundled_files("essen")[0].read_text(encoding="latin-1"))[:3]
    paths = []
    for i, tune in enumerate(tunes):
        paths.append(folder / f"control-{i}.abc")
        paths[-1].write_text(tune, encoding="utf-8")
    return paths


def _workers_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def run_batch(folder: Path, time_limit: float, watchdog: float, kill: bool) -> dict[str, Any]:
    """``tunesmith prepare`` on one batch folder; how it ended and what it cost."""
    out, cache = folder.parent / "corpus", folder.parent / "cache"
    cmd = [sys.executable, "-m", "tunesmith", "prepare", str(folder), "--out", str(out)]
    cmd += ["--jobs", "2", "--time-limit-per-file", f"{time_limit:g}"]
    env = {**os.environ, "TUNESMITH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    log = (folder.parent / "stderr.txt").open("w+")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True
    )
    hung = threading.Event()

    def stop() -> None:
        hung.set()
        os.killpg(proc.pid, signal.SIGKILL)  # the batch's own process group, started above

    timer = threading.Timer(watchdog, stop)
    timer.daemon = True
    timer.start()
    killed = 0
    while True:  # wait4, not Popen.wait: it gives the peak memory of the batch's processes
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.2)
        if kill and not killed and time.monotonic() - t0 > 4:  # a worker killed mid-read
            workers = _workers_of(proc.pid)
            if len(workers) == 2:
                os.kill(workers[0], signal.SIGKILL)
                killed = 1
    proc.returncode = os.waitstatus_to_exitcode(status)
    timer.cancel()
    log.seek(0)
    stderr = log.read()
    log.close()
    manifest = (
        json.loads((out / "manifest.json").read_text())
        if (out / "manifest.json").exists()
        else None
    )
    return {
        "code": proc.returncode,
        "seconds": time.monotonic() - t0,
        "hung": hung.is_set(),
        "traceback": "Traceback" in stderr,
        "stderr": stderr[-2000:],
        "killed": killed,
        "died": stderr.count(DIED),
        "peak_mb": usage.ru_maxrss / 1024,
        "manifest": manifest,
    }


def reason_kind(reason: str) -> str:
    """A skip reason without its particulars: its first clause, numbers as N."""
    head = reason.split(" (")[0].split(": ")[-1]
    return re.sub(r"\d+(\.\d+)?", "N", head)[:80]


def account(names: list[str], batch: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Which inputs were read, skipped (and why), or lost."""
    manifest = batch["manifest"] or {"pieces": [], "skipped": [], "items": 0}
    file_of = lambda label: Path(label.split("#")[0]).name  # noqa: E731
    kept = {file_of(p["source"]) for p in manifest["pieces"]}
    reasons: Counter[str] = Counter()
    skipped_files, multiline = set(), []
    for s in manifest["skipped"]:
        name = file_of(s["item"])
        if name.startswith("control-"):
            continue
        skipped_files.add(name)
        reasons[reason_kind(s["reason"])] += 1
        if "\n" in s["reason"] or "Traceback" in s["reason"] or len(s["reason"]) > 400:
            multiline.append(name)
    lost = [n for n in names if n not in kept and n not in skipped_files]
    return {
        "read": sum(1 for n in names if n in kept),
        "items": manifest["items"] - 3,
        "skipped_items": sum(reasons.values()),
        "reasons": reasons,
        "lost": lost,
        "multiline": multiline,
        "controls_kept": sum(1 for n in kept if n.startswith("control-")),
    }


def campaign(args: Any, work: Path, save: Callable[[dict], object]) -> dict[str, Any]:
    found = HERE / "found"
    totals: dict[str, dict[str, Any]] = {}
    number = 0
    for suffix, share in SHARES.items():
        count = round(args.inputs * share)
        made = inputs.make_inputs(suffix, count, args.seed, bomb_size=args.bomb_mb << 20)
        row = totals[suffix] = {
            "inputs": 0,
            "items": 0,
            "read": 0,
            "skipped_items": 0,
            "reasons": Counter(),
            "kinds": Counter(),
            "parent_crashes": 0,
            "hangs": 0,
            "worker_deaths_survived": 0,
            "workers_killed": 0,
            "lost": 0,
            "multiline_reasons": 0,
            "peak_mb": 0.0,
            "seconds": 0.0,
            "batches": 0,
            "longest_batch_seconds": 0.0,
        }
        for start in range(0, len(made), args.batch):
            number += 1
            shutil.rmtree(work, ignore_errors=True)
            folder = work / "in"
            folder.mkdir(parents=True)
            controls(folder)
            names = []
            for k, item in enumerate(made[start : start + args.batch], start):
                names.append(f"{item.kind}-{k:05d}{suffix}")
                (folder / names[-1]).write_bytes(item.data)
                row["kinds"][item.kind] += 1
            kill = args.kill_every > 0 and number % args.kill_every == 1
            batch = run_batch(folder, args.time_limit, args.watchdog, kill)
            got = account(names, batch, folder)
            crashed = batch["code"] != 0 or batch["traceback"]
            row["inputs"] += len(names)
            row["parent_crashes"] += int(crashed and not batch["hung"])
            row["hangs"] += int(batch["hung"])
            row["workers_killed"] += batch["killed"]
            if not crashed and not batch["hung"]:
                row["worker_deaths_survived"] += batch["died"]
            for key in ("items", "read", "skipped_items"):
                row[key] += got[key]
            row["reasons"].update(got["reasons"])
            row["lost"] += len(got["lost"])
            row["multiline_reasons"] += len(got["multiline"])
            row["peak_mb"] = max(row["peak_mb"], batch["peak_mb"])
            row["seconds"] += batch["seconds"]
            row["batches"] += 1
            row["longest_batch_seconds"] = max(row["longest_batch_seconds"], batch["seconds"])
            bad = got["lost"] + got["multiline"] if not crashed else names
            if bad or crashed or batch["hung"]:
                found.mkdir(exist_ok=True)
                for n in bad:
                    shutil.copy(folder / n, found / n)
                (found / f"batch-{number:03d}.txt").write_text(
                    f"code {batch['code']} hung {batch['hung']}\n{batch['stderr']}"
                )
            common.progress(
                f"{suffix} batch {row['batches']}: {len(names)} inputs, {got['read']} read, "
                f"{batch['seconds']:.0f} s, code {batch['code']}, killed {batch['killed']}, "
                f"died {batch['died']}, lost {len(got['lost'])}"
            )
            save(totals)
    return totals


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=10_200, help="inputs in all (default 10,200)")
    p.add_argument("--batch", type=int, default=300, help="inputs per prepare run")
    p.add_argument("--time-limit", type=float, default=20.0, help="--time-limit-per-file")
    p.add_argument("--watchdog", type=float, default=1800.0, help="seconds before a batch hangs")
    p.add_argument("--kill-every", type=int, default=3, help="kill a worker in every Nth batch")
    p.add_argument("--bomb-mb", type=int, default=512, help="what an .mxl zip bomb inflates to")
    p.add_argument("--seed", type=int, default=20261202)
    p.add_argument("--note", default="", help="how the machine was shared, for results.json")
    args = p.parse_args()
    if args.quick:
        args.inputs, args.batch, args.bomb_mb, args.kill_every = 300, 60, 64, 2
    common.progress(common.describe_machine())
    t0 = time.monotonic()

    def save(totals: dict[str, dict[str, Any]], complete: bool) -> dict[str, int]:
        """results.json as it stands (after every batch: a stopped campaign keeps its
        figures, marked incomplete)."""
        all_inputs = sum(r["inputs"] for r in totals.values())
        keys = ("parent_crashes", "hangs", "lost", "multiline_reasons")
        sums = {k: sum(r[k] for r in totals.values()) for k in keys}
        params = {
            "inputs": args.inputs, "batch": args.batch, "time_limit_per_file": args.time_limit,
            "watchdog_seconds": args.watchdog, "kill_every": args.kill_every,
            "bomb_mb": args.bomb_mb, "seed": args.seed, "jobs": 2,
            "note": args.note,
        }  # fmt: skip
        wall = time.monotonic() - t0
        results = {"complete": complete, "inputs": all_inputs, "wall_seconds": wall, **sums}
        formats = {
            s: {**r, "reasons": dict(Counter(r["reasons"]).most_common())}
            for s, r in totals.items()
        }
        common.write_results(
            __file__, "fuzz", args.quick, params, {**results, "formats": formats}, quiet=True
        )
        return {"inputs": all_inputs, "wall": int(wall), **sums}

    with tempfile.TemporaryDirectory(prefix="tunesmith-fuzz-") as tmp:
        totals = campaign(args, Path(tmp) / "batch", lambda t: save(t, False))
    sums = save(totals, True)
    rows = []
    for suffix, r in totals.items():
        top = ", ".join(f"{k} {v}" for k, v in Counter(r["reasons"]).most_common(2))
        rows.append(
            [suffix, r["inputs"], r["read"], r["skipped_items"], r["parent_crashes"], r["hangs"],
             r["worker_deaths_survived"], r["lost"], r["multiline_reasons"], r["peak_mb"], top]
        )  # fmt: skip
    common.print_table(
        f"fuzz campaign: {sums['inputs']} inputs in {sums['wall'] / 60:.1f} min",
        ["format", "inputs", "read", "skipped", "parent crashes", "hangs", "worker deaths",
         "unaccounted", "multi-line", "peak MB", "top reasons"],
        rows,
    )  # fmt: skip
    print(
        f"{sums['inputs']} inputs; parent crashes {sums['parent_crashes']}, hangs "
        f"{sums['hangs']}, unaccounted {sums['lost']}, multi-line reasons "
        f"{sums['multiline_reasons']}"
    )
    if any(v for k, v in sums.items() if k not in ("inputs", "wall")):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
