"""tunesmith serve: mistakes in its options are one line and a non-zero exit."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tunesmith.cli import app

runner = CliRunner()


def test_bad_options_are_one_line(tmp_path: Path, runs_dir: Path) -> None:
    for args, says in [
        (["--runs", str(runs_dir / "tiny")], "is a run itself; give the folder that holds runs"),
        (["--port", "0"], "--port must be between 1 and 65535 (got 0)"),
        (["--workers", "0"], "--workers must be between 1 and 64"),
        (["--keep", "3"], "--keep must be at least 16"),
        (["--host", "no-such-host.invalid"], "--host 'no-such-host.invalid' is not an address"),
        (["--runs", str(tmp_path / "missing")], "no such folder"),
    ]:
        result = runner.invoke(app, ["serve", "--out", str(tmp_path / "out"), *args])
        assert result.exit_code == 2, (args, result.output)
        assert says in result.output and len(result.output.strip().splitlines()) <= 2


def test_a_port_in_use_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(
            app, ["serve", "--runs", str(tmp_path), "--port", str(port), "--out", str(tmp_path)]
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_a_loopback_server_refuses_foreign_host_names(tmp_path: Path, runs_dir: Path) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 must not
    reach the studio's API, while the page's own loopback addresses are served."""
    from fastapi.testclient import TestClient

    from tunesmith.cli.serve import LOOPBACK_NAMES
    from tunesmith.web import create_app

    web_app = create_app(runs_dir, tmp_path / "out", allowed_hosts=LOOPBACK_NAMES)
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/api/runs").status_code == 200
        for host in ["localhost:8000", "[::1]:8000", "127.0.0.1"]:
            assert client.get("/api/runs", headers={"host": host}).status_code == 200, host
        for host in ["evil.example:8000", "127.0.0.1.evil.example", ""]:
            assert client.get("/api/runs", headers={"host": host}).status_code == 400, host


def test_the_server_imports_music21_before_it_serves(tmp_path: Path) -> None:
    """Worker threads importing music21 for the first time together can die of importlib's
    _DeadlockError (the soak met a 500 so); the server imports it once, at start-up. A fresh
    interpreter, since this one has music21 loaded by other tests already."""
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from tunesmith.web import create_app\n"
        f"app = create_app(None, {str(tmp_path / 'out')!r})\n"
        "assert 'music21.stream' not in sys.modules\n"
        "with TestClient(app):\n"
        "    print(sorted(m for m in ('music21.stream', 'verovio') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "['music21.stream', 'verovio']"
