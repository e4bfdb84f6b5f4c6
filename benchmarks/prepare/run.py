"""Pieces per second for ``prepare_corpus``, per format: cold, from the cache, up to date.

For each corpus (format, and for MIDI each encoding):

1. cold: a fresh, empty ``TUNESMITH_CACHE`` and a fresh out dir; every item is parsed;
2. cached: a second, new out dir with the same cache; every item comes from the cache;
3. up to date: the second out dir again; the corpus key matches, nothing is read.

Corpora: the Nottingham MIDI folder (steps, notes, events), the Nottingham ABC tune books,
the bundled Essen ABC tunes, Bach chorales (MusicXML) and Palestrina masses (Kern), each up
to its default limit. ``--jobs 1`` (the default) gives pieces per second per core.

Run: ``python benchmarks/prepare/run.py`` or ``--quick`` (at most 40 items each).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.config import DataConfig
from tunesmith.corpus.prepare import prepare_corpus

MUSIC21_CORPUS = Path(__import__("music21").__file__).parent / "corpus"

#: label -> (source, encoding, default limit: 0 = all)
CORPORA = {
    "nottingham-midi": (str(common.NOTTINGHAM_MIDI), "steps", 0),
    "nottingham-midi-notes": (str(common.NOTTINGHAM_MIDI), "notes", 0),
    "nottingham-midi-events": (str(common.NOTTINGHAM_MIDI), "events", 0),
    "nottingham-abc": (str(common.NOTTINGHAM_MIDI.parent / "abc"), "steps", 400),
    "essen-abc": ("essen", "steps", 400),
    "chorales-musicxml": ("chorales", "steps", 100),
    "palestrina-kern": (str(MUSIC21_CORPUS / "palestrina"), "steps", 100),
}


def run_stage(name: str, source: str, out: Path, limit: int, jobs: int, config: DataConfig) -> dict:
    common.progress(f"{name}: prepare {source} -> {out.name} (limit {limit or 'all'})")
    before = os.times()
    seconds, report = common.timed(
        lambda: prepare_corpus([source], out, config, jobs=jobs, use_cache=True, limit=limit)
    )
    after = os.times()
    # CPU seconds of this process and of the worker processes it waited for: on a shared
    # machine, items per CPU second is the per-core rate that other jobs cannot lower.
    cpu = sum(
        getattr(after, k) - getattr(before, k)
        for k in ("user", "system", "children_user", "children_system")
    )
    row = {
        "stage": name,
        "items": report.items,
        "kept": report.kept,
        "skipped": len(report.skipped),
        "from_cache": report.from_cache,
        "up_to_date": report.up_to_date,
        "tokens": report.tokens,
        "vocab_size": report.vocab_size,
        "seconds": seconds,
        "items_per_s": report.items / seconds,
        "kept_per_s": report.kept / seconds,
        "cpu_seconds": cpu,
        "items_per_cpu_s": report.items / cpu if cpu > 0 else float("nan"),
    }
    common.progress(
        f"{name}: {report.items} items ({report.kept} kept) in {seconds:.2f} s "
        f"= {row['items_per_s']:.1f} items/s ({row['items_per_cpu_s']:.1f} per CPU second), "
        f"from cache {report.from_cache}"
    )
    return row


def bench_corpus(
    label: str, source: str, encoding: str, limit: int, jobs: int, keep: bool
) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix=f"tunesmith-bench-prepare-{label}-"))
    old_cache = os.environ.get("TUNESMITH_CACHE")
    os.environ["TUNESMITH_CACHE"] = str(tmp / "cache")  # fresh and empty
    config = DataConfig(encoding=encoding)
    try:
        rows = [
            run_stage("cold", source, tmp / "out1", limit, jobs, config),
            run_stage("cached", source, tmp / "out2", limit, jobs, config),
            run_stage("up to date", source, tmp / "out2", limit, jobs, config),
        ]
    finally:
        if old_cache is None:
            os.environ.pop("TUNESMITH_CACHE", None)
        else:
            os.environ["TUNESMITH_CACHE"] = old_cache
        if keep:
            common.progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    cold, cached, fresh = rows
    # Check that each stage did what it is meant to measure.
    if cached["from_cache"] != cached["items"]:
        common.progress(f"WARNING {label}: cached run read {cached['from_cache']} from cache")
    if not fresh["up_to_date"]:
        common.progress(f"WARNING {label}: third run was not 'up to date'")
    if cold["from_cache"]:
        common.progress(f"WARNING {label}: cold run found {cold['from_cache']} in the cache")
    for r in rows:
        r["corpus"] = label
        r["encoding"] = encoding
        r["per_core_items_per_s"] = r["items_per_s"] / jobs
        r["speedup_vs_cold"] = cold["seconds"] / r["seconds"]
    return rows


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="items per corpus (0 = all)")
    p.add_argument("--jobs", type=int, default=1, help="processes (1: per-core figures)")
    p.add_argument("--only", choices=list(CORPORA), action="append", default=None)
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (to inspect)")
    args = p.parse_args()

    print(common.describe_machine())
    # One-time costs paid by the first file of any run (imports, the key profiles) are not
    # a file's: pay them before the clock starts.
    from tunesmith.keys import find_key
    from tunesmith.read.sources.midi import read_midi  # noqa: F401 (imports symusic's reader)

    find_key([60, 64, 67], [1, 1, 1])
    rows = []
    for label in args.only or list(CORPORA):
        source, encoding, default_limit = CORPORA[label]
        if source.startswith("/") and not Path(source).is_dir():
            common.progress(f"skipping {label}: {source} is not a folder")
            continue
        limit = args.limit if args.limit is not None else (40 if args.quick else default_limit)
        rows += bench_corpus(label, source, encoding, limit, args.jobs, args.keep)

    common.print_table(
        f"prepare_corpus, jobs={args.jobs} (items = files or ABC tunes read)",
        ["corpus", "stage", "items", "kept", "from cache", "seconds", "items/s", "items/cpu-s"],
        [
            [
                r["corpus"],
                r["stage"],
                r["items"],
                r["kept"],
                r["from_cache"],
                r["seconds"],
                r["items_per_s"],
                r["items_per_cpu_s"],
            ]
            for r in rows
        ],
    )
    saved = Path(__file__).with_name("results.json")
    if args.only and not args.quick and saved.exists():
        # A run of some corpora replaces their rows and keeps the others' (with their machine).
        old = json.loads(saved.read_text())
        kept = [r for r in old["results"] if r["corpus"] not in args.only]
        for r in kept:
            r.setdefault("machine", old["machine"])
        rows = kept + rows
    common.write_results(
        __file__,
        "prepare",
        args.quick,
        {"jobs": args.jobs, "corpora": {k: CORPORA[k] for k in {r["corpus"] for r in rows}}},
        rows,
    )


if __name__ == "__main__":
    main()
