"""A quick run of the API fuzz (benchmarks/api/run.py): 150 cases drawn from the server's
own OpenAPI schema against a real loopback `tunesmith serve` on the tiny run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

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


@pytest.mark.parametrize(
    ("temperature", "top_p"), [(1e-300, 1.0), (5e-324, 1.0), (1e-12, 1.0), (1.0, 1e-300)]
)
def test_a_tiny_temperature_or_top_p_is_answered_not_a_server_error(
    client: TestClient, temperature: float, top_p: float
) -> None:
    """Found by the API fuzz: logits divided by 1e-300 overflowed to inf - inf = NaN, and a
    top_p of 1e-300 (0 in float32) dropped every token; torch.multinomial's error became a
    500. The schema allows any temperature and top_p above 0."""
    body = {"run": "tiny", "bars": 2, "seed": 3, "score": False, "temperature": temperature}
    body["top_p"] = top_p
    response = client.post("/api/generate", json=body)
    assert response.status_code == 200, response.text
    again = client.post("/api/generate", json=body)  # as good as greedy: the same notes
    assert again.json()["notes"] == response.json()["notes"]
