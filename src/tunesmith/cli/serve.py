"""The serve command: the web studio on a local port."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import typer

from tunesmith.cli.app import app, console, err_console, user_errors
from tunesmith.errors import ConfigError

# ------------------------------------------------------------------------------- serve

# Host headers a loopback server answers (browsers send the port too; the middleware
# compares the name alone). Any other name reaching it is a DNS-rebinding page.
LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"]


@app.command()
def serve(
    runs: Path = typer.Option(
        None,
        help="Folder whose sub-folders are trained runs (the shipped models are offered too). "
        "[default: runs, if it exists]",
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
