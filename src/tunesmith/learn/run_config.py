"""The run format every model kind shares: a folder whose ``config.json`` names its kind.

``"kind": "melody"`` (an LSTM, GRU or Transformer over a melody encoding; see
:mod:`tunesmith.learn.checkpoint`) or ``"kind": "poly"`` (the chorale model; see
:mod:`tunesmith.learn.poly_run`), beside the versions that wrote it. ``info``, ``evaluate``,
``generate``, the API and the web ask :func:`run_kind` which loader to use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch

from tunesmith.config import read_json
from tunesmith.errors import CheckpointError
from tunesmith.version import __version__

RunKind = Literal["melody", "poly"]
MELODY: RunKind = "melody"
POLY: RunKind = "poly"
KINDS: tuple[RunKind, ...] = (MELODY, POLY)


def versions() -> dict[str, str]:
    """The versions a run's config.json records."""
    return {"tunesmith_version": __version__, "torch_version": torch.__version__}


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's config.json; CheckpointError names a missing folder, file or damage."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: no such run folder; train one with 'tunesmith train'")
    path = run_dir / "config.json"
    try:
        info = read_json(path)
    except FileNotFoundError:
        raise CheckpointError(f"{run_dir}: not a tunesmith run (no config.json)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged ({exc})") from exc
    if not isinstance(info, dict):
        raise CheckpointError(f"{path}: not a tunesmith run config")
    return info


def kind_of(info: dict[str, Any], where: str | Path = "config.json") -> RunKind:
    """The kind a run config names (one written before kinds were named is a melody run)."""
    kind = info.get("kind", MELODY)
    if kind not in KINDS:
        known = ", ".join(KINDS)
        raise CheckpointError(f"{where}: kind {kind!r} is not a run kind tunesmith knows ({known})")
    return kind


def run_kind(run_dir: str | Path) -> RunKind:
    """The kind of the run in ``run_dir``; CheckpointError when it is not a readable run."""
    return kind_of(read_config(run_dir), Path(run_dir) / "config.json")
