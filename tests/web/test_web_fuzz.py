"""A quick run of the API fuzz (benchmarks/api/run.py): 150 cases drawn from the server's
own OpenAPI schema against a real loopback `tunesmith serve` on the tiny run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "api" / "run.py"


def test_a_quick_api_fuzz_finds_no_server_error(tiny_run: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--run", str(tiny_run)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads((BENCH.parent / "results-quick.json").read_text())["results"]
    assert results["cases"] == 150 and results["server_errors"] == 0
    assert results["problem_count"] == 0 and results["outside_output_folder"] == []
    assert any(k.startswith("POST /api/generate 200") for k in results["statuses"])
