"""tunesmith serve: mistakes in its options are one line and a non-zero exit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import pytest
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


# A fresh interpreter runs STEP, then 8 threads that allocate at once, and prints how many
# malloc arenas ("heaps") glibc's malloc_info() reports: one a thread unless capped.
ARENAS = """
import ctypes, re, sys, tempfile, threading
from pathlib import Path
{step}
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
together = threading.Barrier(8)
def work():
    together.wait()
    held = [bytearray(100_000) for _ in range(20)]
    together.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
report = Path(tempfile.mkdtemp()) / "malloc.xml"
stream = libc.fopen(str(report).encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(len(re.findall("<heap nr=", report.read_text())))
"""

SERVE_ON_A_BUSY_PORT = """
import socket
from typer.testing import CliRunner
from tunesmith.cli import app
with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = str(busy.getsockname()[1])
    done = CliRunner().invoke(app, ["serve", "--runs", sys.argv[1], "--port", port])
    assert done.exit_code == 2 and "cannot listen" in done.output, done.output
"""

glibc_only = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only"
)


def arenas(step: str, tmp_path: Path, **env: str) -> int:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run(
        [sys.executable, "-c", ARENAS.format(step=step), str(tmp_path)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


@glibc_only
def test_serve_caps_malloc_arenas_at_two(tmp_path: Path) -> None:
    """The soak's RSS grew 25 % with an arena a thread, 9.7 % with MALLOC_ARENA_MAX=2: serve
    sets that itself, before its checks and threads. Without it the 8 threads make 9."""
    assert arenas("", tmp_path) > 2
    assert arenas(SERVE_ON_A_BUSY_PORT, tmp_path) == 2


@glibc_only
def test_the_arena_cap_leaves_a_users_setting_alone(tmp_path: Path) -> None:
    step = (
        "from tunesmith.cli.serve import limit_malloc_arenas\n"
        "assert limit_malloc_arenas() is {expected}\n"
    )
    assert arenas(step.format(expected=True), tmp_path) == 2
    assert arenas(step.format(expected=False), tmp_path, MALLOC_ARENA_MAX="4") == 4
