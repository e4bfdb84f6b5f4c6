"""Worker processes: a crash costs only the item that caused it."""

from __future__ import annotations

import os

from tunesmith.read.workers import run_tasks

CRASHER = 17


def _double_or_crash(task: tuple[int, ...]) -> list[int]:
    if CRASHER in task:
        os._exit(3)  # what a segfaulting C library or the OOM killer does to a worker
    return [2 * x for x in task]


def test_a_crashing_item_is_named_and_every_other_result_kept() -> None:
    tasks = [tuple(range(k, k + 5)) for k in range(0, 40, 5)]
    results: dict[int, int | None] = {}

    def done(task: tuple[int, ...], out: list[int] | None) -> None:
        for k, x in enumerate(task):
            assert x not in results, "an item was reported twice"
            results[x] = out[k] if out is not None else None

    run_tasks(_double_or_crash, tasks, done, jobs=2, memory_limit=0)
    assert results == {x: (None if x == CRASHER else 2 * x) for x in range(40)}
