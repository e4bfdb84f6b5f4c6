"""Old request folders are removed, never one whose generation is still running."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tunesmith.make.generate import Generated, GenerateOptions
from tunesmith.web.studio import Studio


def _files(result: Generated) -> list[Path]:
    return [p for p in (result.midi, result.pianoroll, result.musicxml) if p is not None]


def test_concurrent_generations_never_lose_a_folder_to_pruning(
    runs_dir: Path, tmp_path: Path
) -> None:
    """The soak's 507: 8 clients, and a request's prune removed a folder another request
    was still writing (or was looking at). 24 generations over 8 threads with keep=2, so
    nearly every prune has something to remove: every one succeeds and returns its files,
    whole, and afterwards no more than ``keep`` folders are left."""
    studio = Studio(runs_dir, tmp_path / "out", keep=2, audio=False)
    studio.load("tiny")  # loaded once, before the threads race

    def one(seed: int) -> tuple[str, list[Path], list[Path]]:
        job, result = studio.generate("tiny", GenerateOptions(bars=2, seed=seed, score=True))
        return job, _files(result), [p for p in _files(result) if not p.is_file()]

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(one, range(24)))
    assert [missing for _, _, missing in done if missing] == []
    assert all(len(files) == 3 for _, files, _ in done)
    left = sorted(p.name for p in studio.out_dir.iterdir())
    assert len(left) <= 2 and set(left) <= {job for job, _, _ in done}
    for job in left:  # what is left is whole: no folder half removed, nor made again
        names = {p.name for p in (studio.out_dir / job).iterdir()}
        assert names == {"melody-01.mid", "melody-01.png", "melody-01.musicxml"}, names


def test_a_folder_in_flight_survives_pruning_even_as_the_oldest(
    runs_dir: Path, tmp_path: Path
) -> None:
    """The race made deterministic: a folder a generation is still writing, older by mtime
    than everything else, is passed over by every prune, and counted on top of ``keep``;
    once finished it is pruned as any other."""
    studio = Studio(runs_dir, tmp_path / "out", keep=2, audio=False)
    running = studio.out_dir / "running"
    running.mkdir()
    os.utime(running, (0, 0))  # 1970: the oldest folder there is
    studio._in_flight.add(running)
    jobs = [studio.generate("tiny", GenerateOptions(bars=1, seed=i))[0] for i in range(3)]
    assert running.is_dir()
    assert sorted(p.name for p in studio.out_dir.iterdir()) == sorted([*jobs[1:], "running"])
    studio._in_flight.discard(running)
    last, _ = studio.generate("tiny", GenerateOptions(bars=1, seed=9))
    assert sorted(p.name for p in studio.out_dir.iterdir()) == sorted([jobs[2], last])
