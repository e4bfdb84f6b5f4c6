"""Inputs the fuzz campaign (benchmarks/fuzz) found bugs with, and a quick campaign itself.

Every file in ``tests/data/fuzz/`` once broke a promise: a skip reason over several lines
(or holding the whole tune), a crash, a lost file. Each must now be read, or skipped with
a reason of one short line, through the real reading path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tunesmith.corpus.prepare import prepare_corpus
from tunesmith.read.sources import bundled_files
from tunesmith.read.sources.scores import split_abc

FOUND = Path(__file__).resolve().parent / "data" / "fuzz"
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz" / "run.py"


@pytest.mark.parametrize("path", sorted(FOUND.iterdir()), ids=lambda p: p.name)
def test_found_inputs_are_read_or_skipped_in_one_short_line(path: Path, tmp_path: Path) -> None:
    """Through prepare (reading, extraction, encoding), beside a good Essen tune."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    (folder / "good.abc").write_text(split_abc(bundled_files("essen")[0].read_text())[0])
    report = prepare_corpus([str(folder)], tmp_path / "out", jobs=1, time_limit=30)
    assert report.kept + len(report.skipped) == report.items >= 2
    assert not [label for label, _ in report.skipped if "good.abc" in label]
    for _, reason in report.skipped:
        assert reason and "\n" not in reason and len(reason) <= 300, reason


def test_a_quick_campaign_loses_nothing_and_crashes_nothing() -> None:
    """300 inputs of every format through `tunesmith prepare` with its workers (one killed)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((BENCH.parent / "results-quick.json").read_text())["results"]
    assert results["inputs"] >= 300
    assert results["parent_crashes"] == results["hangs"] == results["lost"] == 0
    for suffix, row in results["formats"].items():
        assert row["inputs"] > 0 and row["multiline_reasons"] == 0, suffix
