"""Web studio under load: 50 generate requests from 8 concurrent clients on loopback.

The real server (``tunesmith serve`` in a subprocess, on a free 127.0.0.1 port, default
options: 2 generation workers) serves a run of the default model (``ModelConfig()``, an
LSTM of 2 x 256) trained for ``--train-seconds`` on the first 300 Essen tunes (or
``--run DIR``). Each request asks for 8 bars with its own random seed, seed notes on every
other one, and all files (MIDI, piano roll, MusicXML, and a WAV when FluidSynth is
installed). Every request must succeed, and every MIDI file it links must read back with
symusic holding the notes the answer lists.

Latency is the time from sending a request to its full JSON answer (files written).
Printed: p50/p90/p99/max, and requests per second over the whole run; first one request
at a time (``--single`` requests, after one warm-up) for comparison.

All traffic goes to 127.0.0.1; the run is bounded in requests and in time (120 s per
request).

Run: ``python benchmarks/web/run.py`` or ``--quick`` (10 requests, 4 clients, tiny model).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
from symusic import Score

TIMEOUT = 120.0


# --------------------------------------------------------------------------- the server


def train_run(folder: Path, seconds: float, quick: bool) -> Path:
    """A run to serve: the default model trained briefly (its weights' quality hardly
    changes the time a request takes)."""
    from tunesmith.config import ModelConfig, TrainConfig
    from tunesmith.corpus.prepare import prepare_corpus
    from tunesmith.learn.train import train_model

    data = folder / "data"
    prepare_corpus(["essen"], data, limit=100 if quick else 300)
    model = ModelConfig(hidden_size=32, embedding_dim=16, num_layers=1) if quick else ModelConfig()
    run = folder / "runs" / ("tiny" if quick else "essen")
    train_model(data, run, model, TrainConfig(epochs=1000, time_limit=seconds, early_stopping=0))
    return run


def describe_run(run: Path) -> dict[str, Any]:
    """The served run's model and training, from its own files."""
    info = json.loads((run / "config.json").read_text(encoding="utf-8"))
    state = json.loads((run / "last" / "state.json").read_text(encoding="utf-8"))
    return {
        "path": str(run),
        "model": info["model"],
        "parameters": info.get("parameters"),
        "train_pieces": info.get("train_pieces"),
        "epochs": state.get("epoch"),
        "train_seconds": state.get("seconds"),
        "best_val_loss": state.get("best_val_loss"),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    runs: Path, out: Path, port: int, *, cwd: Path | None = None, extra: tuple[str, ...] = ()
) -> subprocess.Popen:
    """``tunesmith serve`` on 127.0.0.1:``port`` (with ``extra`` options), once it answers.

    Its log goes to ``server.log`` beside ``out`` (a file: a pipe nobody reads would fill
    and stop the server)."""
    cmd = [sys.executable, "-m", "tunesmith", "serve", "--runs", str(runs), "--out", str(out)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), *extra]
    log = (out.parent / "server.log").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, text=True, cwd=cwd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (out.parent / "server.log").read_text()[-1000:]
            raise SystemExit(f"the server stopped (exit code {proc.returncode}): {tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not answer within 60 s")


# -------------------------------------------------------------------------- the clients


def generate(base: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One request; its latency, and its answer checked: the MIDI reads back with the notes."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/api/generate", data=data, headers={"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code}: {exc.read().decode()[:200]}") from exc
    latency = time.perf_counter() - t0
    with urllib.request.urlopen(base + answer["files"]["midi"], timeout=TIMEOUT) as response:
        score = Score.from_midi(response.read())
    # An all-rest melody (a weak model can sample one) is a MIDI file without tracks
    pitches = [n.pitch for track in score.tracks[:1] for n in track.notes]
    if pitches != [n["pitch"] for n in answer["notes"]]:
        raise RuntimeError(f"{answer['files']['midi']}: the MIDI does not hold the notes listed")
    for kind in ("pianoroll", "wav", "musicxml"):
        if answer["files"][kind]:
            with urllib.request.urlopen(base + answer["files"][kind], timeout=TIMEOUT) as r:
                if len(r.read()) < 100:
                    raise RuntimeError(f"{answer['files'][kind]}: nearly empty")
    return latency, answer


def bodies(run: str, count: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "run": run,
            "bars": 8,
            "seed": offset + i,
            "temperature": 0.9,
            **({"seed_notes": "C4 D4 E4"} if i % 2 else {}),
        }
        for i in range(count)
    ]


def percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "p50": statistics.median(latencies),
        "p90": cuts[89],
        "p99": cuts[98],
        "max": max(latencies),
        "mean": statistics.fmean(latencies),
    }


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="serve this run instead of training one")
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--single", type=int, default=5, help="requests one at a time first")
    p.add_argument("--train-seconds", type=float, default=60.0)
    args = p.parse_args()
    if args.quick:
        args.requests, args.clients, args.single, args.train_seconds = 10, 4, 2, 5.0
    if not 1 <= args.requests <= 1000 or not 1 <= args.clients <= 64:
        raise SystemExit("--requests must be 1-1000 and --clients 1-64")
    common.progress(common.describe_machine())

    with tempfile.TemporaryDirectory(prefix="tunesmith-web-bench-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("TUNESMITH_CACHE", str(folder / "cache"))
        if args.run:
            runs, name = args.run.resolve().parent, args.run.name
        else:
            common.progress(f"training a run for {args.train_seconds:g} s")
            run = train_run(folder, args.train_seconds, args.quick)
            runs, name = run.parent, run.name
        port = free_port()
        server = start_server(runs, folder / "out", port)
        base = f"http://127.0.0.1:{port}"
        try:
            common.progress(f"server on {base}; {args.single} requests one at a time")
            generate(base, bodies(name, 1, offset=10_000)[0])  # warm-up: loads the model
            single = [generate(base, b)[0] for b in bodies(name, args.single, offset=1000)]
            common.progress(f"{args.requests} requests from {args.clients} clients")
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                done = list(pool.map(lambda b: generate(base, b), bodies(name, args.requests)))
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            server.wait(timeout=30)
        answers = [a for _, a in done]
        folders = {a["files"]["midi"].split("/")[3] for a in answers}
        assert len(folders) == args.requests, "two requests shared an output folder"
        wavs = sum(1 for a in answers if a["files"]["wav"])

    loaded = percentiles([lat for lat, _ in done])
    alone = percentiles(single) if len(single) > 1 else {"p50": single[0], "max": single[0]}
    rows = [
        [
            f"1 client, {len(single)} requests",
            *(alone.get(k) for k in ("p50", "p90", "p99", "max")),
            None,
        ],
        [
            f"{args.clients} clients, {args.requests} requests",
            *(loaded[k] for k in ("p50", "p90", "p99", "max")),
            args.requests / wall,
        ],
    ]
    common.print_table(
        f"generate latency, seconds (8 bars; MIDI, PNG, MusicXML{', WAV' if wavs else ''})",
        ["load", "p50", "p90", "p99", "max", "requests/s"],
        rows,
    )
    print(f"all {args.requests} requests succeeded; every MIDI read back; {wavs} WAVs")
    common.write_results(
        __file__,
        "web",
        args.quick,
        {
            "requests": args.requests,
            "clients": args.clients,
            "single": args.single,
            "bars": 8,
            "server_workers": 2,
            "run": describe_run(args.run)
            if args.run
            else f"ModelConfig() trained {args.train_seconds:g} s",
            "wav": wavs > 0,
            "note": "2-core machine shared with other jobs; run under the heavy-job lock",
        },
        {
            "single": {"latency": alone, "all": single},
            "concurrent": {
                "latency": loaded,
                "all": [lat for lat, _ in done],
                "wall_seconds": wall,
                "requests_per_second": args.requests / wall,
                "succeeded": len(done),
            },
        },
    )


if __name__ == "__main__":
    main()
