"""The studio offers the shipped models beside the runs folder's, and chorale runs too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from symusic import Score

from tunesmith.shipped import shipped_models
from tunesmith.web import create_app


def test_without_a_runs_folder_the_shipped_models_are_served(tmp_path: Path) -> None:
    with TestClient(create_app(None, tmp_path / "out")) as client:
        runs = client.get("/api/runs").json()
        assert [r["name"] for r in runs] == list(shipped_models())
        assert all(r["shipped"] for r in runs)
        missing = client.post("/api/generate", json={"run": "tiny", "bars": 2})
        assert missing.status_code == 404
        if "essen" in shipped_models():
            body = client.post("/api/generate", json={"run": "essen", "bars": 2, "seed": 1})
            assert body.status_code == 200, body.text
            assert body.json()["notes"] and body.json()["copy_guard"] == 2.0


@pytest.fixture(scope="module")
def chorale_client(tiny_poly_run: Path, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("web-chorale")
    shutil.copytree(tiny_poly_run, base / "runs" / "bach")
    with TestClient(create_app(base / "runs", base / "out", audio=False)) as client:
        yield client


def test_a_chorale_run_gives_all_its_voices(chorale_client: TestClient) -> None:
    (bach,) = [r for r in chorale_client.get("/api/runs").json() if r["name"] == "bach"]
    assert bach["model"] == "poly" and not bach["shipped"] and bach["best_val_loss"] > 0
    response = chorale_client.post(
        "/api/generate", json={"run": "bach", "bars": 2, "seed": 3, "score": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    score = Score.from_midi(chorale_client.get(body["files"]["midi"]).content)
    assert len(score.tracks) == 4
    assert sum(t.note_num() for t in score.tracks) == len(body["notes"])
    assert chorale_client.get(body["files"]["pianoroll"]).content.startswith(b"\x89PNG")
    assert body["files"]["musicxml"] is None  # a score of one staff would mislead
    refused = chorale_client.post(
        "/api/generate", json={"run": "bach", "bars": 2, "seed_notes": "C4 E4"}
    )
    assert refused.status_code == 422 and "chorale model" in refused.json()["detail"]


def test_a_chorale_honours_top_k_and_refuses_what_it_cannot(chorale_client: TestClient) -> None:
    """top_k and top_p were silently dropped for chorale runs; copy_guard and endings too."""

    def notes(**options: float) -> list[dict]:
        body = {"run": "bach", "bars": 2, "seed": 3, **options}
        response = chorale_client.post("/api/generate", json=body)
        assert response.status_code == 200, response.text
        return response.json()["notes"]

    assert notes(top_k=1, temperature=0.5) == notes(top_k=1, temperature=5.0)
    assert notes(temperature=0.5) != notes(temperature=5.0)
    for option in ({"copy_guard": 3}, {"endings": 4}):
        refused = chorale_client.post("/api/generate", json={"run": "bach", "bars": 2, **option})
        assert refused.status_code == 422, refused.text
        assert "\n" not in refused.json()["detail"]
