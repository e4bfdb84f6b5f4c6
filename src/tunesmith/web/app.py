"""The FastAPI app: one page, and a JSON API to list runs, generate and fetch files.

Generation is blocking work (torch, matplotlib, FluidSynth), so it runs in worker threads,
at most ``workers`` at a time; a request that would queue behind more than
``max_waiting`` others is turned away with 503 rather than left to time out.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from tunesmith.errors import TunesmithError, WriteError, write_failed
from tunesmith.export.instruments import GM_PROGRAMS
from tunesmith.keys import pitch_name
from tunesmith.make.generate import Generated, GenerateOptions
from tunesmith.version import __version__
from tunesmith.web.paths import OutsideFolder
from tunesmith.web.schemas import Files, GenerateRequest, GenerateResponse, NoteOut, RunInfo
from tunesmith.web.studio import Studio, UnknownFile, UnknownRun

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger(__name__)


# What the generation path imports lazily (scores, key finding, engraving), so that the CLI
# starts fast. Two worker threads importing music21 at once for the first time can stop
# one of them with importlib's _DeadlockError (music21's modules import each other); the
# soak met it as a 500 on a fresh server. The server imports them once, before it serves.
LAZY_IMPORTS = ("music21.analysis.discrete", "music21.stream", "music21.scale", "verovio")


def import_lazy_modules() -> None:
    for name in LAZY_IMPORTS:
        importlib.import_module(name)


class Busy(TunesmithError):
    """Too many generations already waiting."""


def create_app(
    runs_dir: str | Path | None,
    out_dir: str | Path,
    *,
    workers: int = 2,
    max_waiting: int = 32,
    keep: int = 200,
    audio: bool = True,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The web studio for the runs in ``runs_dir`` (None: none) and the shipped models,
    writing generated files to ``out_dir``.

    :param workers: generations that may run at once (default: 2).
    :param max_waiting: generations that may wait for a worker before 503 (default: 32).
    :param keep: request folders kept in ``out_dir``; older ones are removed (default: 200).
    :param audio: render WAVs when FluidSynth is installed (default: on).
    :param allowed_hosts: Host headers served (others get 400), so that a web page on another
        site cannot reach a loopback server through a DNS name it rebinds to 127.0.0.1;
        ``None`` serves any (for a server deliberately opened to the network).
    """
    runs = Path(runs_dir) if runs_dir is not None else None
    studio = Studio(runs, Path(out_dir), keep=keep, audio=audio)
    limiter = anyio.CapacityLimiter(workers)
    waiting = _Counter()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The server only samples, one token per step, where oneDNN's LSTM is slow (see
        # sample.py). sample.py switches it off around each call, but threads that enter
        # and leave that switch out of order could leave it on; off for the server's life
        # makes every call agree.
        await anyio.to_thread.run_sync(import_lazy_modules)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="TF32 acceleration", category=UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                yield

    app = FastAPI(
        title="tunesmith studio",
        version=__version__,
        description="Generate melodies from trained tunesmith runs: listen, look, download.",
        lifespan=lifespan,
    )
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.state.studio = studio
    app.state.generating = waiting

    _answer_errors_in_one_line(app)

    # ------------------------------------------------------------------------- routes

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/runs", response_model=list[RunInfo], summary="List the trained runs")
    async def list_runs() -> list[dict]:
        return await anyio.to_thread.run_sync(studio.list_runs)

    @app.get("/api/instruments", response_model=list[str], summary="General MIDI instruments")
    async def instruments() -> list[str]:
        return list(GM_PROGRAMS)

    @app.post(
        "/api/generate",
        response_model=GenerateResponse,
        summary="Generate one melody",
        responses={
            404: {"description": "No such run"},
            422: {"description": "A value out of range or seed notes that cannot be read"},
            503: {"description": "Too many generations waiting"},
            507: {"description": "The output folder's disk is full"},
        },
    )
    async def generate(body: GenerateRequest) -> GenerateResponse:
        options = GenerateOptions(**body.model_dump(exclude={"run"}))
        with waiting.hold(workers + max_waiting):
            job, result = await anyio.to_thread.run_sync(
                studio.generate, body.run, options, limiter=limiter
            )
        return _response(body.run, job, result)

    @app.get(
        "/api/files/{path:path}",
        summary="Fetch a generated file",
        response_class=FileResponse,
        responses={400: {"description": "A path outside the output folder"}, 404: {}},
    )
    async def fetch_file(path: str) -> FileResponse:
        return FileResponse(studio.file_path(path))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _answer_errors_in_one_line(app: FastAPI) -> None:
    """Every error a JSON ``detail`` of one line, with the status its cause calls for."""

    @app.exception_handler(TunesmithError)
    async def _user_error(request: Request, exc: TunesmithError) -> JSONResponse:
        if isinstance(exc, UnknownRun | UnknownFile):
            status = 404
        elif isinstance(exc, OutsideFolder):
            status = 400
        elif isinstance(exc, Busy):
            status = 503
        elif isinstance(exc, WriteError):  # a full disk: 507 Insufficient Storage
            status = 507
        elif exc.exit_code == 2:  # a bad option or value
            status = 422
        else:  # a run the server cannot use (damaged, incomplete)
            status = 500
        return JSONResponse({"detail": _field_names(str(exc))}, status_code=status)

    @app.exception_handler(OSError)
    async def _cannot_write(request: Request, exc: OSError) -> JSONResponse:
        """A write outside tunesmith's own writers (a folder made on a full disk)."""
        return await _user_error(request, write_failed(Path(exc.filename or "output"), exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        """A bug: logged in full, answered as the API's other errors are, in one line."""
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        detail = f"internal error ({type(exc).__name__}); the server's log has the details"
        return JSONResponse({"detail": detail}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        lines = []
        for error in exc.errors():
            where = ".".join(_printable(p) for p in error["loc"] if p != "body") or "body"
            got = f" (got {_shorten(repr(error['input']))})" if error["type"] != "missing" else ""
            lines.append(f"{where}: {error['msg']}{got}")
        return JSONResponse({"detail": _shorten("; ".join(lines), 1000)}, status_code=422)


def _response(run: str, job: str, result: Generated) -> GenerateResponse:
    """What /api/generate answers: the melody's notes in seconds and links to its files."""
    melody = result.melody
    seconds_per_step = 60.0 / melody.tempo / melody.steps_per_quarter

    def link(path: Path | None) -> str | None:
        return f"/api/files/{job}/{path.name}" if path else None

    return GenerateResponse(
        run=run,
        seed=melody.meta["seed"],
        summary=result.summary,
        key=melody.key.name if melody.key else None,
        tempo=melody.tempo,
        time_signature=melody.time_signature,
        seconds=round(melody.length * seconds_per_step, 3),
        notes=[
            NoteOut(
                pitch=n.pitch,
                name=pitch_name(n.pitch),
                start=round(n.start * seconds_per_step, 4),
                duration=round(n.duration * seconds_per_step, 4),
            )
            for n in melody.notes
        ],
        files=Files(
            midi=link(result.midi),
            pianoroll=link(result.pianoroll),
            wav=link(result.wav),
            musicxml=link(result.musicxml),
        ),
        warning=result.warning,
        copy_guard=result.guard_bars,
    )


class _Counter:
    """Requests waiting for or holding a worker, refused past a limit.

    Only the event loop's thread touches it, so it needs no lock.
    """

    def __init__(self) -> None:
        self.value = 0

    @contextlib.contextmanager
    def hold(self, limit: int) -> Iterator[None]:
        if self.value >= limit:
            raise Busy(f"the studio is busy ({self.value} generations under way); try again")
        self.value += 1
        try:
            yield
        finally:
            self.value -= 1


def _printable(part: str | int) -> str:
    """A field name as a detail shows it: quoted and escaped if it holds a newline or such."""
    return str(part) if str(part).isprintable() else repr(part)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_names(message: str) -> str:
    """The library's messages name CLI flags (--top-k); the API's fields are top_k."""
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), message)
