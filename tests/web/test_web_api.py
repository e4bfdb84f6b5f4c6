"""The web API on a tiny trained run: runs, generation, files, and every bad input."""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from symusic import Score

from tunesmith.shipped import shipped_models

GOOD = {"run": "tiny", "bars": 2, "seed": 5, "score": False}


def post(client: TestClient, **changes: object):
    return client.post("/api/generate", json={**GOOD, **changes})


def fetch_midi(client: TestClient, url: str) -> Score:
    response = client.get(url)
    assert response.status_code == 200
    return Score.from_midi(response.content)


# ---------------------------------------------------------------------------- runs, page


def test_lists_good_runs_only(client: TestClient) -> None:
    """The damaged run and the symlink that leads out of the runs folder are not listed."""
    runs = client.get("/api/runs").json()
    assert [r["name"] for r in runs if not r["shipped"]] == ["tiny"]
    assert [r["name"] for r in runs if r["shipped"]] == list(shipped_models())
    assert runs[0]["model"] == "lstm" and runs[0]["hidden_size"] == 32
    assert runs[0]["epochs"] == 2 and runs[0]["best_val_loss"] > 0


def test_page_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "tunesmith studio" in page.text
    assert client.get("/static/studio.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/runs", "/api/generate", "/api/files/{path}"} <= set(paths)
    assert "Piano" in " ".join(client.get("/api/instruments").json())


def test_page_fetches_nothing_from_elsewhere() -> None:
    """The page must work offline: no CDN, no web fonts."""
    static = Path(__file__).resolve().parents[2] / "src" / "tunesmith" / "web" / "static"
    for f in static.iterdir():
        text = f.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, f.name


# ------------------------------------------------------------------------------ generate


def test_generate_returns_notes_and_working_links(client: TestClient) -> None:
    response = post(client, bars=4, score=True, instrument="flute", tempo=90)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["notes"] and body["tempo"] == 90 and body["seed"] == 5
    assert body["copy_guard"] == 2.0  # never two bars verbatim from a training piece
    num, den = body["time_signature"]  # the opening's metre: 4 bars of it after the opening
    assert body["seconds"] >= 4 * num * 4 / den * 60 / 90
    assert all(0 <= n["start"] < body["seconds"] and n["duration"] > 0 for n in body["notes"])
    score = fetch_midi(client, body["files"]["midi"])
    assert [n.pitch for n in score.tracks[0].notes] == [n["pitch"] for n in body["notes"]]
    assert score.tracks[0].program == 73  # flute
    assert client.get(body["files"]["pianoroll"]).content.startswith(b"\x89PNG")
    assert b"<score-partwise" in client.get(body["files"]["musicxml"]).content
    if body["files"]["wav"]:
        assert client.get(body["files"]["wav"]).content.startswith(b"RIFF")
    else:
        assert "FluidSynth" in body["warning"] or "SoundFont" in body["warning"]


def test_seed_notes_are_read_as_the_cli_reads_them(client: TestClient) -> None:
    for seed_notes in ("C4 E4 G4", "60,64,67", "60 64, 67"):
        body = post(client, seed_notes=seed_notes).json()
        assert [n["pitch"] for n in body["notes"][:3]] == [60, 64, 67], seed_notes
    blank = post(client, seed_notes="  ", key="").json()  # blank fields mean "not given"
    assert blank["notes"]


def test_a_seed_gives_the_same_melody(client: TestClient) -> None:
    a, b = post(client, seed=42).json(), post(client, seed=42).json()
    assert a["notes"] == b["notes"] and a["files"]["midi"] != b["files"]["midi"]


def test_concurrent_requests_do_not_mix(client: TestClient) -> None:
    """Six requests at once, same seed: six folders, six identical melodies and files."""
    with ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda _: post(client, seed=9, bars=4).json(), range(6)))
    assert len({b["files"]["midi"] for b in bodies}) == 6
    assert all(b["notes"] == bodies[0]["notes"] for b in bodies)
    midis = {client.get(b["files"]["midi"]).content for b in bodies}
    assert len(midis) == 1
    assert Score.from_midi(midis.pop()).note_num() == len(bodies[0]["notes"])


def test_too_many_waiting_is_503_not_a_hang(runs_dir: Path, tmp_path: Path) -> None:
    """With one worker and no room to wait, a second request at once is turned away."""
    from tunesmith.web import create_app

    with TestClient(create_app(runs_dir, tmp_path, workers=1, max_waiting=0)) as small:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, small, bars=64, score=True)
            while small.app.state.generating.value == 0 and not first.done():
                time.sleep(0.001)
            second = post(small)
            assert first.result().status_code == 200
        assert second.status_code == 503
        assert "busy" in second.json()["detail"]
        assert post(small).status_code == 200  # and it serves again once free


@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"bars": 0}, 422, "bars: Input should be greater than or equal to 1 (got 0)"),
        ({"bars": 65}, 422, "bars: Input should be less than or equal to 64"),
        ({"bars": "many"}, 422, "bars: Input should be a valid integer"),
        ({"temperature": 0}, 422, "temperature: Input should be greater than 0"),
        ({"temperature": 11}, 422, "temperature: Input should be less than or equal to 10"),
        ({"top_k": -1}, 422, "top_k: Input should be greater than or equal to 0"),
        ({"top_p": 0}, 422, "top_p: Input should be greater than 0"),
        ({"top_p": 1.5}, 422, "top_p: Input should be less than or equal to 1"),
        ({"tempo": 5}, 422, "tempo: Input should be greater than or equal to 10"),
        ({"seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
        ({"copy_guard": -1}, 422, "copy_guard: Input should be greater than or equal to 0"),
        ({"seed_notes": "H9"}, 422, "seed note 'H9' is neither a MIDI number"),
        ({"seed_notes": "60,200"}, 422, "seed note 200 is outside MIDI's 0-127"),
        ({"seed_notes": "C0"}, 422, "never occurs in the training data"),
        ({"seed_notes": "x" * 401}, 422, "seed_notes: String should have at most 400"),
        ({"key": "H major"}, 422, "H major"),
        ({"instrument": "kazoo"}, 422, "instrument 'kazoo' is not a General MIDI instrument"),
        ({"instrument": "200"}, 422, "instrument program 200 is outside 0-127"),
        ({"volume": 11}, 422, "volume: Extra inputs are not permitted"),
        # The API fuzz found a field name with a newline in it printed raw: two lines.
        ({"vol\nume": 11}, 422, "'vol\\nume': Extra inputs are not permitted"),
        ({"x": {str(i): i for i in range(500)}}, 422, "x: Extra inputs are not permitted"),
        ({"run": None}, 422, "run: Input should be a valid string"),
        ({"run": "nope"}, 404, "run 'nope' is not in the runs folder"),
        ({"run": "../tiny"}, 400, "run '../tiny' must be a folder name"),
        ({"run": "tiny/.."}, 400, "must be a folder name"),
        ({"run": "/etc"}, 400, "run '/etc' must be a folder name"),
        ({"run": "tiny/last"}, 400, "must be a folder name"),
        ({"run": "..\\tiny"}, 400, "must be a folder name"),
        ({"run": ""}, 400, "run '' must be a folder name"),
        ({"run": "escape"}, 400, "run 'escape' points outside its folder"),
        ({"run": "broken"}, 500, "config.json: damaged"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, int) else None,
)
def test_bad_input_is_refused_with_one_clear_line(
    client: TestClient, changes: dict, status: int, says: str
) -> None:
    response = post(client, **changes)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    assert says in detail
    assert "--" not in detail  # the API's names, not the CLI's flags


def test_a_body_that_is_not_json(client: TestClient) -> None:
    response = client.post(
        "/api/generate", content=b"run=tiny", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and "JSON" in response.json()["detail"]
    assert client.post("/api/generate", json={"bars": 2}).json()["detail"] == (
        "run: Field required"
    )


# --------------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def planted(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A secret outside the output folder, and symlinks to it planted inside."""
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text("SECRET", encoding="utf-8")
    out = client.app.state.studio.out_dir
    (out / "planted").mkdir()
    (out / "planted" / "leak.mid").symlink_to(secret)
    (out / "linked").symlink_to(secret.parent, target_is_directory=True)
    return secret


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/files/../../../etc/passwd", (400, 404)),  # the client may resolve the dots
        ("/api/files/%2e%2e/%2e%2e/etc/passwd", (400,)),
        ("/api/files/..%2F..%2Fetc%2Fpasswd", (400,)),
        ("/api/files//etc/passwd", (400,)),
        ("/api/files/%2Fetc%2Fpasswd", (400,)),
        ("/api/files/planted/..", (400, 404)),
        ("/api/files/planted/leak.mid", (400,)),  # a symlink out of the folder
        ("/api/files/linked/secret.txt", (400,)),  # a folder symlinked out
        ("/api/files/planted/missing.mid", (404,)),
        ("/api/files/planted", (400,)),
        ("/api/files/a/b/c", (400,)),
    ],
)
def test_files_never_come_from_outside_the_output_folder(
    client: TestClient, planted: Path, url: str, status: tuple[int, ...]
) -> None:
    response = client.get(url)
    assert response.status_code in status, response.text
    assert "SECRET" not in response.text and "root:" not in response.text


def test_old_request_folders_are_removed(runs_dir: Path, tmp_path: Path) -> None:
    from tunesmith.make.generate import GenerateOptions
    from tunesmith.web.studio import Studio

    studio = Studio(runs_dir, tmp_path / "out", keep=2, audio=False)
    jobs = [studio.generate("tiny", GenerateOptions(bars=1, seed=i))[0] for i in range(3)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(jobs[1:])


def test_a_model_is_loaded_once_and_again_when_it_changes(runs_dir: Path, tmp_path: Path) -> None:
    from tunesmith.web.studio import Studio

    run = tmp_path / "runs" / "copy"
    shutil.copytree(runs_dir / "tiny", run)
    studio = Studio(tmp_path / "runs", tmp_path / "out")
    first = studio.load("copy")
    assert studio.load("copy") is first
    weights = run / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert studio.load("copy") is not first
