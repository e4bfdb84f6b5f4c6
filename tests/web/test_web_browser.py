"""The page in a real browser: Playwright drives Debian's Chromium against a real server.

Set ``TUNESMITH_WEB_SCREENSHOT=docs/web.png`` to keep the screenshot for README.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from symusic import Score

from tunesmith.shipped import shipped_models

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no browser at {CHROMIUM}: install it with 'apt-get install chromium' (.ci/run does)",
)


@contextlib.contextmanager
def serving(runs_dir: Path, out: Path, **options: object) -> Iterator[str]:
    """The studio served by uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    from tunesmith.web import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(runs_dir, out, **options)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(runs_dir, tmp_path_factory.mktemp("browser-out")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


#: The page's model choices: the test's run, then each shipped model.
RUN_OPTIONS = ["tiny", *(f"{name} (shipped)" for name in shipped_models())]


def test_generate_listen_look_download(server: str, browser: Any, tmp_path: Path) -> None:
    from playwright import sync_api

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    try:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server)

        # The runs are listed, the runs folder's first, then the shipped models; set a
        # length and seed notes from the on-screen keyboard.
        sync_api.expect(page.locator("#run option")).to_have_text(RUN_OPTIONS)
        page.fill("#bars", "4")
        for pitch in (60, 64, 67):
            page.click(f"#keyboard [data-pitch='{pitch}']")
        sync_api.expect(page.locator("#seed_notes")).to_have_value("C4 E4 G4")
        page.fill("#seed", "3")
        page.click("#generate")

        # A piano roll (a loaded PNG) and a player (the WAV, or the Web Audio button).
        sync_api.expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
        roll = page.locator("#pianoroll")
        sync_api.expect(roll).to_be_visible()
        page.wait_for_function(
            "document.getElementById('pianoroll').naturalWidth > 0", timeout=10_000
        )
        player = page.locator("#player audio, #player #play")
        sync_api.expect(player).to_have_count(1)
        if shutil.which("fluidsynth"):
            # The rendered WAV, loaded by the browser: its length is known.
            page.wait_for_function(
                "document.querySelector('#player audio').duration > 1", timeout=10_000
            )

        # The MIDI downloads and reads back, starting with the seed notes.
        with page.expect_download() as download:
            page.click("#download-midi")
        midi = tmp_path / download.value.suggested_filename
        download.value.save_as(midi)
        notes = Score(str(midi)).tracks[0].notes
        assert [n.pitch for n in notes][:3] == [60, 64, 67]

        # A bad value shows its one-line message on the page.
        page.fill("#seed_notes", "H9")
        page.click("#generate")
        sync_api.expect(page.locator("#status.error")).to_contain_text("seed note 'H9'")
        page.fill("#seed_notes", "C4 E4 G4")
        assert not errors, errors

        shot = os.environ.get("TUNESMITH_WEB_SCREENSHOT") or str(tmp_path / "web.png")
        page.click("#generate")
        sync_api.expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
        page.wait_for_function("document.getElementById('pianoroll').complete")
        page.screenshot(path=shot, full_page=True)
        assert Path(shot).stat().st_size > 10_000
    finally:
        page.close()


def test_without_a_wav_the_browser_plays_the_notes(
    runs_dir: Path, browser: Any, tmp_path: Path
) -> None:
    """No synthesizer (audio off): a Play button plays the notes with Web Audio."""
    from playwright import sync_api

    with serving(runs_dir, tmp_path, audio=False) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        sync_api.expect(page.locator("#run option")).to_have_text(RUN_OPTIONS)
        page.fill("#bars", "1")
        page.click("#generate")
        sync_api.expect(page.locator("#status")).to_contain_text("Done", timeout=60_000)
        sync_api.expect(page.locator("#player audio")).to_have_count(0)
        sync_api.expect(page.locator("#download-wav")).to_have_count(0)
        page.click("#play")
        # Oscillators were scheduled on a running AudioContext.
        page.wait_for_function("playing.length > 0 && audioContext.state === 'running'")
        page.close()
        assert not errors, errors
