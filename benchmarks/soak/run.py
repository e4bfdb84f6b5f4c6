"""Soak: the web server under 1,000 generate requests from 8 loopback clients.

The real server (``tunesmith serve --keep 50`` in a subprocess on a free 127.0.0.1 port, 2
generation workers) serves a run (``--run DIR``, else a small LSTM, 1 x 64, trained
``--train-seconds`` on 300 Essen tunes). After ``--warmup`` requests, ``--requests`` more
come from ``--clients`` threads, each 8 bars with its own seed, seed notes on every other
one, MusicXML on every fourth; every tenth client call also lists the runs. Every answer is
checked as benchmarks/web does (the MIDI it links reads back with the notes it lists, every
linked file is served). Sampled each second: the server's resident memory (``VmRSS``) and
the request folders in the output folder.

Reported: latency p50/p90/p99/max, requests per second, failures (must be 0), the
server's memory at the start and end of the measured requests (medians of the first and
last tenth; growth must be under 10 %), and the most request folders seen (``--keep`` plus
at most the generations under way) and at the end (at most ``--keep``).

All traffic goes to 127.0.0.1; bounded in requests and in time (``--time-limit``).

Run: ``python benchmarks/soak/run.py`` or ``--quick`` (60 requests, 4 clients).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

web = common.load_script("web")  # the server, the checked request, the run to serve


def small_run(folder: Path, seconds: float) -> Path:
    from tunesmith.config import ModelConfig, TrainConfig
    from tunesmith.corpus.prepare import prepare_corpus
    from tunesmith.learn.train import train_model

    data = folder / "data"
    prepare_corpus(["essen"], data, limit=300)
    run = folder / "runs" / "small"
    model = ModelConfig(hidden_size=64, embedding_dim=32, num_layers=1)
    train_model(data, run, model, TrainConfig(epochs=1000, time_limit=seconds, early_stopping=0))
    return run


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="serve this run instead of training one")
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--keep", type=int, default=50)
    p.add_argument("--train-seconds", type=float, default=30.0)
    p.add_argument("--time-limit", type=float, default=5400.0, help="seconds for all requests")
    args = p.parse_args()
    if args.quick:
        args.requests, args.clients, args.warmup, args.train_seconds = 60, 4, 10, 5.0
        args.keep = 16
    common.progress(common.describe_machine())
    with tempfile.TemporaryDirectory(prefix="tunesmith-soak-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("TUNESMITH_CACHE", str(folder / "cache"))
        run = args.run.resolve() if args.run else small_run(folder, args.train_seconds)
        out = folder / "out"
        out.mkdir()
        port = web.free_port()
        server = web.start_server(run.parent, out, port, extra=("--keep", str(args.keep)))
        base = f"http://127.0.0.1:{port}"
        samples: list[tuple[float, int, float, int]] = []  # time, done, RSS MB, folders
        done = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                folders = sum(1 for q in out.iterdir() if q.is_dir())
                samples.append((time.monotonic(), done[0], rss_mb(server.pid), folders))

        def one(i: int) -> float:
            body = {
                "run": run.name,
                "bars": 8,
                "seed": i,
                "temperature": 0.9,
                "score": i % 4 == 0,
                **({"seed_notes": "C4 D4 E4"} if i % 2 else {}),
            }
            if time.monotonic() > deadline:
                raise TimeoutError("the soak's time limit passed")
            latency, _ = web.generate(base, body)
            if i % 10 == 0:
                with urllib.request.urlopen(base + "/api/runs", timeout=60) as r:
                    assert r.status == 200
            done[0] += 1
            return latency

        deadline = time.monotonic() + args.time_limit
        failures: list[str] = []
        try:
            common.progress(f"server on {base}; {args.warmup} warm-up requests")
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(one, range(100_000, 100_000 + args.warmup)))
            done[0] = 0
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            common.progress(f"{args.requests} requests from {args.clients} clients")
            t0 = time.perf_counter()
            latencies = []
            with ThreadPoolExecutor(args.clients) as pool:
                for fut in [pool.submit(one, i) for i in range(args.requests)]:
                    try:
                        latencies.append(fut.result())
                    except Exception as exc:
                        failures.append(f"{type(exc).__name__}: {exc}"[:300])
                    if len(latencies) % 100 == 0 and latencies:
                        common.progress(f"{len(latencies)} done, RSS {rss_mb(server.pid):.0f} MB")
            wall = time.perf_counter() - t0
            stop.set()
            sampler.join()
            final_folders = sum(1 for q in out.iterdir() if q.is_dir())
        finally:
            stop.set()
            server.terminate()
            server.wait(timeout=30)

    tenth = max(1, len(samples) // 10)
    start_mb = statistics.median(s[2] for s in samples[:tenth]) if samples else 0.0
    end_mb = statistics.median(s[2] for s in samples[-tenth:]) if samples else 0.0
    growth = end_mb / start_mb - 1 if start_mb else 0.0
    lat = web.percentiles(latencies) if len(latencies) > 1 else {}
    max_folders = max((s[3] for s in samples), default=0)
    rows = [
        [f"{args.clients} clients, {len(latencies)} requests"]
        + [lat.get(k) for k in ("p50", "p90", "p99", "max")]
        + [len(latencies) / wall if wall else None]
    ]
    common.print_table(
        "soak: generate latency, seconds", ["load", "p50", "p90", "p99", "max", "req/s"], rows
    )
    print(
        f"{len(latencies)} answers valid, {len(failures)} failures; server memory "
        f"{start_mb:.0f} -> {end_mb:.0f} MB ({growth:+.1%}); request folders at most "
        f"{max_folders}, at the end {final_folders} (--keep {args.keep})"
    )
    common.write_results(
        __file__,
        "soak",
        args.quick,
        {
            "requests": args.requests,
            "clients": args.clients,
            "warmup": args.warmup,
            "keep": args.keep,
            "bars": 8,
            "server_workers": 2,
            "run": str(args.run) if args.run else f"LSTM 1 x 64 trained {args.train_seconds:g} s",
            "note": "2-core machine shared with other jobs; run under nice -n 19",
        },
        {
            "answered": len(latencies),
            "failures": failures[:20],
            "failure_count": len(failures),
            "latency": lat,
            "wall_seconds": wall,
            "requests_per_second": len(latencies) / wall if wall else None,
            "memory_mb": {"start": start_mb, "end": end_mb, "growth": growth},
            "folders": {"max": max_folders, "final": final_folders, "keep": args.keep},
            "samples": [{"t": round(t, 1), "done": d, "rss_mb": m, "folders": f}
                        for t, d, m, f in samples],
        },
    )  # fmt: skip
    if failures or growth >= 0.10 or final_folders > args.keep:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
