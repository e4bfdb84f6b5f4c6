"""The web studio's work, without HTTP: list runs, keep models loaded, generate, find files.

The runs are the runs folder's and the shipped models (``tunesmith models``), a run of the
same name in the runs folder hiding a shipped one. A chorale (poly) run gives one piece in
all its voices: one MIDI track a voice, and one piano roll and note list for them all.

Each generation writes into its own new folder under the output folder, so requests that
run at the same time never touch each other's files; old folders beyond ``keep`` are
removed, never one whose generation is still running. Runs are loaded once and kept (a few
at a time), and loaded again when their weights change on disk. Nothing here imports
fastapi: ``app.py`` puts HTTP around it.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.config import read_json
from tunesmith.errors import CheckpointError, ConfigError
from tunesmith.export.score import write_musicxml
from tunesmith.learn.checkpoint import Run, load_run, read_run_info
from tunesmith.learn.poly_run import PolyRun, load_poly_run
from tunesmith.learn.run_config import POLY, run_kind
from tunesmith.make.generate import Generated, GenerateOptions, generate
from tunesmith.shipped import shipped_models
from tunesmith.web.chorale import generate_chorale
from tunesmith.web.paths import confine

log = logging.getLogger(__name__)

#: Longest melody a request may ask for, in bars.
MAX_BARS = 64


class UnknownRun(CheckpointError):
    """The runs folder holds no run of that name."""


class UnknownFile(CheckpointError):
    """No generated file of that name (it never existed, or was removed as old)."""


@dataclass
class Studio:
    """Runs in ``runs_dir`` (None: the shipped models alone) and the shipped models;
    generated files under ``out_dir``, one folder per request.

    :param keep: how many request folders to keep; older ones are removed (default: 200).
    :param cached_runs: how many loaded models to keep in memory (default: 4).
    :param audio: render a WAV of each melody when FluidSynth is there (default: on).
    """

    runs_dir: Path | None
    out_dir: Path
    keep: int = 200
    cached_runs: int = 4
    audio: bool = True
    _runs: OrderedDict[Path, tuple[int, Run | PolyRun]] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Request folders whose generation is running, and the lock around them and pruning.
    _in_flight: set[Path] = field(default_factory=set, repr=False)
    _prune_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if self.keep < 1 or self.cached_runs < 1:
            raise ConfigError("keep and cached_runs must be at least 1")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.runs_dir is None:
            return
        self.runs_dir = Path(self.runs_dir)
        if not self.runs_dir.is_dir():
            msg = (
                f"--runs {self.runs_dir}: no such folder; train a run into it first "
                f"('tunesmith train DATA --out {self.runs_dir}/NAME')"
            )
            raise ConfigError(msg)
        if (self.runs_dir / "config.json").is_file():
            msg = (
                f"--runs {self.runs_dir} is a run itself; give the folder that holds runs: "
                f"--runs {self.runs_dir.parent}"
            )
            raise ConfigError(msg)

    # ------------------------------------------------------------------------- runs

    def list_runs(self) -> list[dict[str, Any]]:
        """The runs in the runs folder (folders with a config.json), newest first, then the
        shipped models that no run of the same name hides.

        A folder that is a symlink pointing outside the runs folder is left out.
        """
        found = []
        folders = list(self.runs_dir.iterdir()) if self.runs_dir else []
        base = self.runs_dir.resolve() if self.runs_dir else None
        for folder in folders:
            if not (folder / "config.json").is_file() or not folder.resolve().is_relative_to(base):
                continue
            try:
                found.append((folder.stat().st_mtime, describe_run(folder)))
            except CheckpointError:
                log.warning("skipping %s: not a readable run", folder)
        runs = [d for _, d in sorted(found, key=lambda item: item[0], reverse=True)]
        names = {r["name"] for r in runs}
        for name, folder in shipped_models().items():
            if name not in names:
                runs.append({**describe_run(folder), "shipped": True})
        return runs

    def run_path(self, name: str) -> Path:
        """The folder of run ``name``, confined to the runs folder.

        :raise OutsideFolder: for ``..``, an absolute path or a symlink out.
        :raise UnknownRun: when there is no such run.
        """
        if self.runs_dir is not None:
            path = confine(self.runs_dir, name, what="run")
            if (path / "config.json").is_file():
                return path
        shipped = shipped_models()
        if name in shipped:
            return shipped[name]
        raise UnknownRun(f"run {name!r} is not in the runs folder; GET /api/runs lists them")

    def load(self, name: str) -> Run | PolyRun:
        """Run ``name`` with its model, loaded once and kept until its weights change."""
        path = self.run_path(name)
        weights = path / "model.safetensors"
        stamp = weights.stat().st_mtime_ns if weights.is_file() else -1
        # One lock around look-up and load: a model loads in well under a second, and two
        # requests for a run not yet loaded must not load it twice.
        with self._lock:
            cached = self._runs.get(path)
            if cached and cached[0] == stamp:
                self._runs.move_to_end(path)
                return cached[1]
            run = load_poly_run(path) if run_kind(path) == POLY else load_run(path, device="cpu")
            self._runs[path] = (stamp, run)
            self._runs.move_to_end(path)
            while len(self._runs) > self.cached_runs:
                self._runs.popitem(last=False)
            return run

    # --------------------------------------------------------------------- generate

    def generate(self, name: str, options: GenerateOptions) -> tuple[str, Generated]:
        """Generate one melody from run ``name`` into a new request folder.

        Blocking: call it from a worker thread. ``options.num`` is forced to 1 and the
        files are named ``melody-01.*``.

        :return: the request folder's name and what was written.
        """
        if not 1 <= options.bars <= MAX_BARS:
            raise ConfigError(f"bars must be between 1 and {MAX_BARS} (got {options.bars})")
        run = self.load(name)
        job = uuid.uuid4().hex
        folder = self.out_dir / job
        with self._prune_lock:
            self._in_flight.add(folder)
        # The page offers MusicXML but shows no engraving: write the MusicXML alone
        # rather than have generate() engrave an SVG nobody fetches.
        musicxml = options.score
        options = GenerateOptions(
            **{**vars(options), "num": 1, "prefix": "melody", "audio": self.audio, "score": False}
        )
        try:
            if isinstance(run, PolyRun):
                result = generate_chorale(run, folder, options)
            else:
                (result,) = generate(run, folder, options)
            if musicxml and not isinstance(run, PolyRun):
                path = folder / f"{result.melody.name}.musicxml"
                result.musicxml = write_musicxml(result.melody, path)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            with self._prune_lock:
                self._in_flight.discard(folder)
            raise
        # Finished and pruned in one step: a prune between the two would skip this folder
        # as running and this one would not count it, leaving more than ``keep`` behind.
        with self._prune_lock:
            self._in_flight.discard(folder)
            self._prune(keep_also=folder)
        return job, result

    def _prune(self, keep_also: Path) -> None:
        """Remove the oldest finished request folders, keeping ``keep_also`` and the newest
        others up to ``keep`` in all. Call it holding ``_prune_lock``.

        Folders still being written are skipped: one can be older, by mtime, than ``keep``
        folders finished since, and removing it under its generation failed that request.
        So at most ``keep`` finished folders are left, plus those in flight. Prunes run one
        at a time, so none stats a folder another is removing (the soak's 507 named such a
        folder); one removed by hand meanwhile is passed by.
        """
        finished = []
        for path in self.out_dir.iterdir():
            if path in self._in_flight or path == keep_also or path.is_symlink():
                continue
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if path.is_dir():
                finished.append((mtime, path))
        finished.sort(key=lambda item: item[0], reverse=True)
        for _, old in finished[self.keep - 1 :]:
            shutil.rmtree(old, ignore_errors=True)

    # ------------------------------------------------------------------------ files

    def file_path(self, relative: str) -> Path:
        """A generated file, ``JOB/NAME``, confined to the output folder.

        :raise OutsideFolder: for ``..``, an absolute path or a symlink out.
        :raise UnknownFile: when no such file exists.
        """
        path = confine(self.out_dir, relative, what="file", shape="FOLDER/NAME", parts=2)
        if not path.is_file():
            raise UnknownFile(f"file {relative!r} does not exist (or was removed as old)")
        return path


def describe_run(folder: Path) -> dict[str, Any]:
    """What the page shows about a run: its config.json, and its training state if readable.

    :raise CheckpointError: when config.json is not a run's.
    """
    if run_kind(folder) == POLY:
        meta = read_json(folder / "config.json")
        training, model = meta.get("training", {}), meta.get("model", {})
        return {
            "name": folder.name,
            "encoding": "poly",
            "model": "poly",
            "hidden_size": model.get("hidden_size"),
            "num_layers": model.get("num_layers"),
            "parameters": training.get("parameters"),
            "train_pieces": training.get("pieces", {}).get("train"),
            "epochs": training.get("epochs"),
            "best_val_loss": training.get("valid_nll"),
        }
    info = read_run_info(folder)
    model, data = info.get("model", {}), info.get("data", {})
    try:
        state = read_json(folder / "last" / "state.json")
    except (OSError, ValueError):
        state = {}
    return {
        "name": folder.name,
        "encoding": data.get("encoding"),
        "model": model.get("kind"),
        "chords": bool(model.get("chords")),
        "styles": list(info.get("styles") or []) if model.get("styles") else [],
        "hidden_size": model.get("hidden_size"),
        "num_layers": model.get("num_layers"),
        "parameters": info.get("parameters"),
        "train_pieces": info.get("train_pieces"),
        "epochs": state.get("epoch"),
        "best_val_loss": state.get("best_val_loss"),
    }
