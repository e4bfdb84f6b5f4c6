"""Run reading work in worker processes that no single file can take down.

A reader library may crash its process (a C++ abort, the kernel's out-of-memory killer) or
try to take all the machine's memory. Each worker therefore runs under an address-space cap,
so a runaway read fails with ``MemoryError`` inside the worker, and a crashed worker costs
only the file that crashed it: the work still outstanding is run again, split finer around
the break, and an item caught in two breaks is retried alone, where a crash names it for sure.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

try:
    import resource
except ImportError:  # not on Windows: there the cap is simply not applied
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Address space one reader process may use (bytes). Reading a large orchestral MusicXML
#: score with music21 peaks near 400 MB; 4 GiB leaves ten times that.
DEFAULT_MEMORY_LIMIT = 4 << 30

#: A task is a tuple of work items (hashable); ``work`` maps it to one result per item.
Task = tuple[Any, ...]
Work = Callable[[Task], list[Any]]
Done = Callable[[Task, "list[Any] | None"], None]


def limit_memory(limit: int) -> None:
    """Cap this process's address space at ``limit`` bytes (0 = no cap)."""
    if limit <= 0 or resource is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _pool(workers: int, memory_limit: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent may hold torch's thread pools, which fork copies unsafely.
    return ProcessPoolExecutor(
        workers,
        mp_context=get_context("spawn"),
        initializer=functools.partial(limit_memory, memory_limit),
    )


def run_tasks(
    work: Work, tasks: Sequence[Task], on_done: Done, *, jobs: int, memory_limit: int
) -> None:
    """Call ``on_done(task, work(task))`` for every task, computed in ``jobs`` processes.

    ``work`` must be picklable (a module-level function or a partial of one). A single-item
    task whose process crashed even when it ran alone is reported as ``on_done(task, None)``.
    An exception raised by ``on_done`` cancels the outstanding work and propagates.
    """
    pending = list(tasks)
    struck: set[Task] = set()  # single items that were running when a pool broke
    alone: set[Task] = set()  # ... and again after that: each now runs in its own process
    while pending:
        for task in [t for t in pending if t in alone]:
            with _pool(1, memory_limit) as pool:
                try:
                    result = pool.submit(work, task).result()
                except BrokenProcessPool:
                    result = None
            on_done(task, result)
        pending = [t for t in pending if t not in alone]
        if not pending:
            return
        unfinished = _run_pool(work, pending, on_done, jobs, memory_limit)
        # The tasks running when the pool broke are the first unfinished ones (the pool
        # starts tasks in order and queues one more than it has workers). A chunk among
        # them is split into single items; a single item struck twice is tried alone.
        pending = []
        for k, task in enumerate(unfinished):
            if k > jobs:
                pending.append(task)
            elif len(task) > 1 or task not in struck:
                singles = [(item,) for item in task]
                struck.update(singles)
                pending += singles
            else:
                alone.add(task)
                pending.append(task)


def _run_pool(
    work: Work, tasks: list[Task], on_done: Done, jobs: int, memory_limit: int
) -> list[Task]:
    """Run tasks in one pool; return those left unfinished when it broke (or none)."""
    with _pool(jobs, memory_limit) as pool:
        futures: list[Future] = [pool.submit(work, t) for t in tasks]
        try:
            for k, (task, fut) in enumerate(zip(tasks, futures, strict=True)):
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    log.warning("a reader process died; its unfinished work is run again")
                    rest = list(zip(tasks[k:], futures[k:], strict=True))
                    # Work that finished before the break is kept, not redone.
                    finished = [(t, f) for t, f in rest if f.done() and f.exception() is None]
                    for t, f in finished:
                        on_done(t, f.result())
                    return [t for t, f in rest if (t, f) not in finished]
                on_done(task, result)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return []
