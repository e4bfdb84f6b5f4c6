"""Models that install with the package: plain run folders beside this file.

Each sub-folder is a run folder ``load_run`` (or, for the chorale model, ``load_poly_run``)
reads as it is, plus ``about.json``: what it was trained on, the commands and seconds that
made it (``make models``), its held-out loss and evaluation summary. A name given to
``generate``, ``serve`` or ``tunesmith.load`` is a run folder when such a folder exists,
else a shipped model's name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunesmith.errors import CheckpointError

SHIPPED_DIR = Path(__file__).parent


class UnknownModel(CheckpointError):
    """Neither a run folder nor the name of a shipped model."""


def shipped_models() -> dict[str, Path]:
    """The shipped models by name (the folder's), those whose files are present."""
    return {
        folder.name: folder
        for folder in sorted(SHIPPED_DIR.iterdir())
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    }


def about(folder: Path) -> dict[str, Any]:
    """A shipped model's ``about.json`` ({} when it has none), with its size on disk."""
    try:
        card = json.loads((folder / "about.json").read_text())
    except (OSError, ValueError):
        card = {}
    card["name"] = folder.name
    card["bytes"] = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return card


def resolve_run(run: str | Path) -> Path:
    """The run folder ``run`` names: a folder holding a run, else a shipped model.

    A path that is not a plain name (it has a separator) is returned as it is, for the
    loaders to report what is missing.

    :raise UnknownModel: for a plain name that is neither, listing the shipped names.
    """
    path = Path(run)
    if (path / "config.json").is_file():
        return path
    models = shipped_models()
    if str(run) in models:
        return models[str(run)]
    if path.exists() or len(path.parts) != 1:
        return path
    known = ", ".join(models) or "none installed"
    raise UnknownModel(
        f"{run}: no run folder of that name and no shipped model (shipped: {known}); "
        "'tunesmith models' lists them"
    )


__all__ = ["SHIPPED_DIR", "UnknownModel", "about", "resolve_run", "shipped_models"]
