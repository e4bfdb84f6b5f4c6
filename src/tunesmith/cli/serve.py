"""The serve command: the web studio on a local port."""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import sys
from pathlib import Path

import typer

from tunesmith.cli.app import app, console, err_console, user_errors
from tunesmith.errors import ConfigError

# ------------------------------------------------------------------------------- serve

# Host headers a loopback server answers (browsers send the port too; the middleware
# compares the name alone). Any other name reaching it is a DNS-rebinding page.
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]

#: glibc's mallopt() parameter for the most malloc arenas (malloc.h).
M_ARENA_MAX = -8


@app.command()
def serve(
    runs: Path = typer.Option(
        None,
        help="Folder whose sub-folders are trained runs (the shipped models are offered too). "
        "\\[default: runs, if it exists]",
    ),
    out: Path = typer.Option(Path("out/web"), "--out", "-o", help="Folder for generated files."),
    host: str = typer.Option(
        "127.0.0.1", help="Address to listen on; 0.0.0.0 opens it to the network."
    ),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(2, help="Generations that may run at the same time."),
    keep: int = typer.Option(200, help="Generated melodies kept in --out; older ones go."),
) -> None:
    """Start the web studio: pick a run, generate, listen, look and download in a browser.

    Open the address it prints. The JSON API is documented at /docs. The shipped models
    (tunesmith models) are offered beside the runs; a run of the same name hides one.

    [bold]Examples[/]

      tunesmith serve
      tunesmith serve --runs runs --port 8080
    """
    limit_malloc_arenas()  # first, before any worker thread allocates
    with user_errors():
        if not 1 <= port <= 65535:
            raise ConfigError(f"--port must be between 1 and 65535 (got {port})")
        if not 1 <= workers <= 64:
            raise ConfigError(f"--workers must be between 1 and 64 (got {workers})")
        if keep < 16:
            raise ConfigError(f"--keep must be at least 16 (got {keep})")
        _check_port_free(host, port)
        if runs is None and Path("runs").is_dir():
            runs = Path("runs")
        import uvicorn

        from tunesmith.web import create_app

        hosts = LOOPBACK_NAMES if _is_loopback(host) else None
        web_app = create_app(runs, out, workers=workers, keep=keep, allowed_hosts=hosts)
    if not _is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: anyone who can reach this machine "
            "can generate and read generated files",
            highlight=False,
        )
    shown = f"[{host}]" if ":" in host else host
    console.print(f"tunesmith studio on [bold]http://{shown}:{port}/[/] (Ctrl-C stops it)")
    uvicorn.run(web_app, host=host, port=port, log_level="warning")


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` for this process; True when it did.

    glibc gives each thread that allocates an arena of its own, up to 8 a core, and rarely
    hands their freed memory back: in the soak (8 clients, 1,000 requests) the server's RSS
    grew 25 % with the default and 9.7 % with ``MALLOC_ARENA_MAX=2``. Call it before worker
    threads start, since arenas already made stay. A ``MALLOC_ARENA_MAX`` the user set is
    left to glibc, and other C libraries (macOS, musl) are left alone: False.
    """
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # not glibc: musl's mallopt() takes no M_ARENA_MAX
    return bool(libc.mallopt(M_ARENA_MAX, arenas) == 1)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line, before loading anything, when the port cannot be bound."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConfigError(f"--host {host!r} is not an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            msg = f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
            raise ConfigError(msg) from None
