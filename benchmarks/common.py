"""Helpers shared by the benchmarks: arguments, the machine, tables, results.json, timing.

Every benchmark is a script, ``benchmarks/<name>/run.py``, that puts this folder on
``sys.path`` and imports this module. A real run writes ``results.json`` next to the
script; a ``--quick`` run (tiny sizes, only to check that the script works) writes
``results-quick.json`` instead, so it never overwrites real numbers.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tunesmith.learn.device import cpu_model

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SHARED_DATA = REPO.parent / "shared" / "data"
NOTTINGHAM_MIDI = SHARED_DATA / "nottingham" / "midi"


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ``--quick`` flag every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, finishes in under a minute; only checks that the benchmark runs",
    )
    return p


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "processor": platform.processor(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "load_average": load,
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def describe_machine(info: dict[str, Any] | None = None) -> str:
    """One line on the machine, and a warning when it is already busy."""
    m = info or machine()
    text = (
        f"{m['cpu_model']} ({m['machine']}), {m['cpu_count']} CPUs, torch {m['torch']} "
        f"with {m['torch_threads']} threads, load {m['load_average']}, {m['date']}"
    )
    load = m["load_average"]
    if load and m["cpu_count"] and load[0] > 0.5 * m["cpu_count"]:
        text += (
            f"\nWARNING: the machine is busy (load {load[0]} on {m['cpu_count']} CPUs): "
            "timings will be low and noisy; measure on an idle machine"
        )
    return text


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: thousands separators, ``digits`` significant-ish decimals."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:,.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table with rich when it is there, else plain text; numbers right-aligned."""
    cells = [[fmt(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

        def line(values: Sequence[str]) -> str:
            return "  ".join(
                v.rjust(w) if numeric[i] else v.ljust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            )

        print(f"\n{title}")
        print(line(columns))
        print("  ".join("-" * w for w in widths))
        for r in cells:
            print(line(r))
        print()
        return
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        table.add_column(c, justify="right" if numeric[i] else "left")
    for r in cells:
        table.add_row(*r)
    Console(width=max(100, min(160, _terminal_width()))).print(table)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120


def load_script(name: str) -> Any:
    """``benchmarks/NAME/run.py`` as a module (every script is called run.py)."""
    import importlib.util

    path = Path(__file__).resolve().parent / name / "run.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def progress(message: str) -> None:
    """A progress line with the time, to stderr so tables stay clean on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def train_run(
    data: Path, run: Path, flags: Sequence[str], seconds: float, threads: int = 1
) -> None:
    """``tunesmith train DATA --out RUN --time-limit SECONDS FLAGS`` with ``threads`` torch
    threads, its output in ``RUN.log``; a run already trained there is reused."""
    import subprocess

    if (run / "model.safetensors").exists():
        progress(f"reusing {run}")
        return
    progress(f"training {run} for {seconds:g} s")
    cmd = [sys.executable, "-m", "tunesmith", "train", str(data), "--out", str(run), "--overwrite"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with run.with_suffix(".log").open("w") as log:
        subprocess.run(
            [*cmd, "--time-limit", str(seconds), *flags],
            check=True, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def write_results(
    script: str | Path,
    benchmark: str,
    quick: bool,
    params: dict[str, Any],
    results: Any,
    *,
    quiet: bool = False,
) -> Path:
    """``results.json`` (or ``results-quick.json``) next to ``script``, with the machine."""
    folder = Path(script).resolve().parent
    path = folder / ("results-quick.json" if quick else "results.json")
    data = {
        "benchmark": benchmark,
        "quick": quick,
        "machine": machine(),
        "params": params,
        "results": results,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    if not quiet:
        print(f"wrote {path}")
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` took, and what it returned."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, best and worst of repeated measurements (rates: higher is better)."""
    vals = list(values)
    return {
        "median": statistics.median(vals),
        "max": max(vals),
        "min": min(vals),
        "runs": len(vals),
    }


def matmul_gflops(seconds: float = 3.0, n: int = 1024) -> float:
    """The float32 matrix-multiply rate of this machine: torch.mm of n x n, for ``seconds``."""
    import torch

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    c = torch.empty(n, n)
    for _ in range(3):
        torch.mm(a, b, out=c)
    count, t0 = 0, time.perf_counter()
    while True:
        torch.mm(a, b, out=c)
        count += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    return 2 * n**3 * count / elapsed / 1e9
