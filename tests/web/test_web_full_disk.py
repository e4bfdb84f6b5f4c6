"""The web studio's output folder on a full disk (a real tmpfs, filled): the request gets
507 and a one-line detail, nothing half-written is left, earlier melodies stay served."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from fulldisk import Disk, snapshot

from tunesmith.web import create_app

GOOD = {"run": "tiny", "bars": 2, "seed": 5}


def test_generating_onto_a_full_disk_is_507_and_keeps_what_was_there(
    small_disk: Disk, runs_dir: Path
) -> None:
    out = small_disk.root / "out"
    with TestClient(create_app(runs_dir, out, audio=False)) as client:
        first = client.post("/api/generate", json=GOOD)
        assert first.status_code == 200, first.text
        before = snapshot(out)
        small_disk.fill()
        for body in (GOOD, {**GOOD, "score": False}):
            full = client.post("/api/generate", json=body)
            assert full.status_code == 507, full.text
            detail = full.json()["detail"]
            assert "No space left on device" in detail and "\n" not in detail
        assert snapshot(out) == before  # no half-written request folder left behind
        midi = client.get(first.json()["files"]["midi"])
        assert midi.status_code == 200 and midi.content.startswith(b"MThd")
        small_disk.empty()
        assert client.post("/api/generate", json=GOOD).status_code == 200
