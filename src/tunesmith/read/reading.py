"""Read items (files, ABC tunes) into what a corpus is built from: in parallel, cached.

Every item is read and extracted in a worker process under a time limit and a memory cap
(:mod:`tunesmith.read.workers`); a failure of any kind becomes a skip with its reason, never an
exception, and a finished item is cached (:mod:`tunesmith.read.cache`), so nothing is read twice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from tunesmith.config import DataConfig
from tunesmith.errors import SourceError
from tunesmith.melody import Melody
from tunesmith.read.cache import MelodyCache
from tunesmith.read.extract import extract_melody
from tunesmith.read.sources import Item, Piece, read_item
from tunesmith.read.workers import DEFAULT_MEMORY_LIMIT, run_tasks

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

#: Seconds one file or tune may take to read; music21 needs well under one for most.
DEFAULT_TIME_LIMIT = 60.0


class _TimeUp(BaseException):
    """Raised by the alarm; a BaseException so that a reader's ``except Exception`` cannot
    swallow it."""


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (in a process's main thread on Unix; elsewhere
    the block simply runs to its end).

    The alarm repeats until the block ends: an alarm that lands in a garbage collector's
    callback is printed and swallowed by Python ("Exception ignored in ..."), and a single
    shot would then let a slow file run unbounded.
    """
    usable = seconds > 0 and hasattr(signal, "setitimer")
    usable = usable and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, min(seconds, 0.1))
    try:
        yield
    finally:
        while True:  # a repeat may land here too: disarm until it sticks
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except _TimeUp:
                continue


def _melody_entry(piece: Piece, config: DataConfig) -> dict[str, Any]:
    melody = extract_melody(piece, config)
    return {"melody": melody.to_dict(), "object": melody}


#: What a cache entry holds for a piece read (a module-level function: workers pickle it).
#: An "object" key carries the parsed result to a reader in the same process, never cached.
Extract = Callable[[Piece, DataConfig], dict[str, Any]]


#: Longest skip reason kept: a reader's message may quote the whole bad input.
MAX_REASON = 240


def one_line(reason: str, limit: int = MAX_REASON) -> str:
    """``reason`` on one line (whitespace runs become one space), cut to ``limit``."""
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 1].rstrip() + "…"


def _read_one(
    item: Item,
    config: DataConfig,
    time_limit: float = 0,
    extract: Extract = _melody_entry,
    keep: bool = False,
) -> dict[str, Any]:
    """Read and extract one item; a failure becomes a skip entry (with a reason of one
    short line), never an exception.

    A reader's warnings (music21's MusicXMLWarning on an overfull bar) come back in the
    entry's ``warnings``, to be logged by the parent: printed from a worker they would cut
    through the progress bar.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entry = _try_read(item, config, time_limit, extract, keep)
    if caught:
        entry["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    if "skip" in entry:
        entry["skip"] = one_line(entry["skip"])
    return entry


def _try_read(
    item: Item, config: DataConfig, time_limit: float, extract: Extract, keep: bool
) -> dict[str, Any]:
    try:
        with _deadline(time_limit):
            entry = extract(read_item(item), config)
        if not keep:  # from a worker: the JSON form alone crosses the process boundary
            entry.pop("object", None)
        return entry
    except _TimeUp:
        # Marked to be tried again next time: a busy machine is no fault of the file.
        msg = f"took longer than {time_limit:g} s to read (--time-limit-per-file)"
        return {"skip": msg, "retry": True}
    except SourceError as exc:
        reason = str(exc)
        prefix = f"{item.label}: "
        return {"skip": reason[len(prefix) :] if reason.startswith(prefix) else reason}
    except MemoryError:
        # Marked to be tried again: the cap, not only the file, decides this one.
        return {"skip": "needed more memory than a reader may use", "retry": True}
    except RecursionError:
        return {"skip": "too deeply nested to read"}
    except Exception as exc:  # a reader library's own bug must not stop a corpus
        log.debug("unexpected error reading %s", item.label, exc_info=True)
        return {"skip": f"unreadable ({type(exc).__name__}: {exc})"}


def _read_task(
    task: tuple[tuple[int, Item], ...], config: DataConfig, time_limit: float, extract: Extract
) -> list[dict[str, Any]]:
    return [_read_one(item, config, time_limit, extract) for _, item in task]


def _read_in_workers(
    items: list[Item],
    todo: list[int],
    config: DataConfig,
    store: Callable[[int, dict[str, Any]], None],
    jobs: int,
    time_limit: float,
    memory_limit: int,
    extract: Extract,
) -> None:
    # Small chunks keep the progress bar moving and the two cores evenly loaded.
    size = max(1, min(32, len(todo) // (jobs * 8)))
    tasks = [tuple((i, items[i]) for i in todo[k : k + size]) for k in range(0, len(todo), size)]

    def task_done(task: tuple[tuple[int, Item], ...], results: list | None) -> None:
        for k, (i, _) in enumerate(task):
            store(i, results[k] if results is not None else {"skip": "crashed the reader"})

    work = functools.partial(_read_task, config=config, time_limit=time_limit, extract=extract)
    run_tasks(work, tasks, task_done, jobs=jobs, memory_limit=memory_limit)


def read_melodies(
    items: list[Item], config: DataConfig, **kwargs: Any
) -> tuple[list[Melody], list[tuple[str, str]], int]:
    """Read every item's melody, in parallel processes, taking what the cache already holds.

    Keyword arguments as for :func:`read_entries`.

    :return: melodies in item order, skips as (item label, reason), count served from cache.
    :raise SourceError: with ``strict``, at the first item that cannot be used.
    """
    entries, skipped, from_cache = read_entries(items, config, **kwargs)
    melodies = [e.get("object") or Melody.from_dict(e["melody"]) for e in entries]
    return melodies, skipped, from_cache


def read_entries(
    items: list[Item],
    config: DataConfig,
    *,
    jobs: int = 0,
    cache: MelodyCache | None = None,
    strict: bool = False,
    time_limit: float = 0,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    on_progress: ProgressFn | None = None,
    keys: list[str | None] | None = None,
    extract: Extract = _melody_entry,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], int]:
    """Read every item and ``extract`` what it holds, in parallel, taking what the cache holds.

    :param time_limit: seconds one file or tune may take before it is skipped (0 = none).
    :param memory_limit: bytes of address space each worker process may use (0 = no cap).

    :return: the entries of items read, in item order; skips as (item label, reason); the
        count served from cache.
    :raise SourceError: with ``strict``, at the first item that cannot be used.
    """
    cache = cache or MelodyCache(None, {})
    keys = keys or [cache.key(it) for it in items]
    entries: list[dict[str, Any] | None] = [cache.get(k) for k in keys]
    if strict:  # a skip remembered from an earlier, lenient run fails a strict one too
        for item, entry in zip(items, entries, strict=True):
            if entry is not None and "skip" in entry:
                raise SourceError(f"{item.label}: {entry['skip']}")
    todo = [i for i, e in enumerate(entries) if e is None]
    done = len(items) - len(todo)
    if on_progress:
        on_progress(done, len(items))

    def store(i: int, entry: dict[str, Any]) -> None:
        nonlocal done
        for warning in entry.pop("warnings", ()):  # shown with -v, never over the progress bar
            log.info("%s: %s", items[i].label, warning)
        entries[i] = entry
        if not entry.get("retry"):
            cache.put(keys[i], {k: v for k, v in entry.items() if k != "object"})
        done += 1
        if strict and "skip" in entry:
            raise SourceError(f"{items[i].label}: {entry['skip']}")
        if on_progress:
            on_progress(done, len(items))

    jobs = jobs or os.cpu_count() or 1
    try:
        if jobs == 1 or len(todo) < 8:
            for i in todo:
                store(i, _read_one(items[i], config, time_limit, extract, keep=True))
        else:
            _read_in_workers(items, todo, config, store, jobs, time_limit, memory_limit, extract)
    finally:
        cache.flush()  # even when interrupted: what was read is not read again

    kept, skipped = [], []
    for item, entry in zip(items, entries, strict=True):
        assert entry is not None
        if "skip" in entry:
            skipped.append((item.label, entry["skip"]))
        else:
            kept.append(entry)
    return kept, skipped, len(items) - len(todo)
