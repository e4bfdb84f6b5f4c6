"""The poly run folder: ``model.safetensors`` and ``config.json`` (``"kind": "poly"`` and the
versions, the model config, the number of voices, opening chords of training pieces); saved by
training, loaded by sampling, evaluation and the web."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from tunesmith.config import write_json
from tunesmith.errors import CheckpointError
from tunesmith.learn.models.poly import PolyModel, PolyModelConfig
from tunesmith.learn.run_config import MELODY, POLY, kind_of, read_config, versions


@dataclass
class PolyRun:
    """A loaded poly run: the model in eval mode and what config.json says."""

    path: Path
    model: PolyModel
    voices: int  # 4: four notes a frame in SATB ranges; 0: as many as the model likes
    openings: list[list[int]]  # first frames of training pieces, as MIDI pitches
    steps_per_quarter: int = 1  # frames per quarter note


def save_poly_run(
    path: str | Path, model: PolyModel, voices: int, openings: list[list[int]], info: dict
) -> Path:
    """Write a poly run folder (weights in safetensors, the rest JSON)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    write_json(
        path / "config.json",
        {
            "kind": POLY,
            **versions(),
            "model": model.config.to_dict(),
            "voices": voices,
            "openings": openings,
            **info,
        },
    )
    return path


def load_poly_run(path: str | Path) -> PolyRun:
    """A poly run folder, loaded; CheckpointError names what is missing or damaged."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: not a poly run (no config.json with kind 'poly')")
    meta = read_config(path)
    if kind_of(meta, path / "config.json") != POLY:
        raise CheckpointError(f"{path}: a {meta.get('kind', MELODY)} run, not a poly run")
    model = PolyModel(PolyModelConfig.from_dict(meta["model"]))
    try:
        model.load_state_dict(load_file(str(path / "model.safetensors")))
    except (OSError, SafetensorError, RuntimeError) as exc:
        raise CheckpointError(f"{path / 'model.safetensors'}: cannot load ({exc})") from None
    model.eval()
    return PolyRun(
        path,
        model,
        int(meta.get("voices", 0)),
        meta.get("openings") or [[]],
        int(meta.get("steps_per_quarter", 1)),
    )
