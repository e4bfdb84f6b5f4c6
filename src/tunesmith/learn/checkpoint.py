"""A run folder: weights in safetensors, everything else JSON. Loading never unpickles.

::

    RUN/config.json        data, model and training configs; versions; best epoch
    RUN/vocab.json         the vocabulary
    RUN/model.safetensors  the best weights (lowest validation loss): what generate uses
    RUN/openings.json      openings of training pieces, to start generation from
    RUN/train-tokens.npy   the training pieces' tokens, for generation's copy guard
    RUN/last/              the latest state, for --resume: model.safetensors,
                           optimizer.safetensors (Adam moments and RNG states), state.json
    RUN/metrics.csv, RUN/loss.png
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from tunesmith.config import DataConfig, ModelConfig, TrainConfig, read_json, write_json
from tunesmith.corpus.encodings import Vocab
from tunesmith.errors import (
    CheckpointError,
    ConfigError,
    TunesmithError,
    WriteError,
    write_failed,
)
from tunesmith.learn.models import build_model
from tunesmith.learn.run_config import MELODY, kind_of, read_config, versions


@dataclass
class Run:
    """A trained run, loaded: model in eval mode, its configs and vocabulary."""

    path: Path
    model: nn.Module
    vocab: Vocab
    data: DataConfig
    model_config: ModelConfig
    train: TrainConfig
    info: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict)  # things made from the run, kept


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
        os.replace(tmp, path)
    except (SafetensorError, OSError) as exc:  # a full disk: the old file stays whole
        tmp.unlink(missing_ok=True)
        raise write_failed(path, exc) from exc


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Weights by name, without the wrappers' prefixes (DDP's ``module.``, compile's)."""
    state = {}
    for k, v in model.state_dict().items():
        for prefix in ("module.", "_orig_mod."):
            k = k.removeprefix(prefix)
        state[k] = v
    return state


def save_weights(model: nn.Module, path: str | Path) -> None:
    _save_tensors(model_state(model), Path(path))


def write_run_files(run_dir: Path, info: dict[str, Any], vocab: Vocab) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", info)
    vocab.save(run_dir / "vocab.json")


def run_info(data: DataConfig, model: ModelConfig, train: TrainConfig, **extra: Any) -> dict:
    import symusic

    return {
        "kind": MELODY,
        **versions(),
        "symusic_version": getattr(symusic, "__version__", "unknown"),
        "data": data.to_dict(),
        "model": model.to_dict(),
        "train": train.to_dict(),
        **extra,
    }


def read_run_info(run_dir: str | Path) -> dict[str, Any]:
    """A melody run's config.json; CheckpointError for anything else, a poly run included."""
    run_dir = Path(run_dir)
    info = read_config(run_dir)
    path = run_dir / "config.json"
    if kind_of(info, path) != MELODY:
        raise CheckpointError(f"{path}: a {info['kind']} run, not a melody run")
    if not {"data", "model", "train"} <= set(info):
        raise CheckpointError(f"{path}: not a tunesmith run config")
    if isinstance(info["model"], dict):
        info["model"].setdefault("form", False)  # saved before models had form inputs
        info["model"].setdefault("cadence", False)  # saved before the cadence inputs
        info["model"].setdefault("chords", False)  # saved before chord conditioning
        info["model"].setdefault("styles", 0)  # saved before style conditioning
    return info


def _load_weights(model: nn.Module, path: Path) -> None:
    if path.suffix in (".pt", ".pth", ".pkl", ".ckpt"):
        raise CheckpointError(f"{path}: pickle files are never loaded; weights must be safetensors")
    try:
        state = load_file(str(path))
    except FileNotFoundError:
        pickles = sorted(p.name for p in path.parent.glob("*.p*t") if p.suffix in (".pt", ".pth"))
        if pickles:
            msg = (
                f"{path}: missing; {pickles[0]} beside it is a pickle file, which tunesmith "
                "never loads (unpickling can run code); weights must be safetensors"
            )
            raise CheckpointError(msg) from None
        raise CheckpointError(f"{path}: missing; the run is incomplete") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged weights file ({exc})") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        msg = f"{path}: weights do not fit the model in config.json ({str(exc).splitlines()[0]})"
        raise CheckpointError(msg) from exc


def load_run(run_dir: str | Path, *, weights: str = "best", device: str = "cpu") -> Run:
    """Load a run for generation or evaluation.

    :param weights: ``best`` (model.safetensors) or ``last`` (last/model.safetensors).
    """
    run_dir = Path(run_dir)
    info = read_run_info(run_dir)
    try:
        data = DataConfig.from_dict(info["data"])
        model_config = ModelConfig.from_dict(info["model"])
        train = TrainConfig.from_dict(info["train"])
    except TunesmithError as exc:
        raise CheckpointError(f"{run_dir / 'config.json'}: {exc}") from exc
    vocab = Vocab.load(run_dir / "vocab.json")
    if vocab.encoding != data.encoding:
        msg = (
            f"{run_dir}: vocabulary is for the {vocab.encoding!r} encoding but the run "
            f"was trained on {data.encoding!r}"
        )
        raise CheckpointError(msg)
    model = build_model(model_config, len(vocab))
    path = (
        run_dir / "model.safetensors"
        if weights == "best"
        else run_dir / "last" / "model.safetensors"
    )
    _load_weights(model, path)
    model.to(device).eval()
    return Run(run_dir, model, vocab, data, model_config, train, info)


# ---------------------------------------------------------------------------- resume state

#: What a resumed run may change: its budget. Every other option is the run's own.
RESUME_MAY_CHANGE = ("epochs", "time_limit")


def read_poly_setup(run_dir: Path) -> dict[str, Any]:
    """The configs and validation share an interrupted poly run was started with."""
    for folder in (run_dir / "last", run_dir / "last.old"):
        if (folder / "state.json").exists():
            try:
                return read_json(folder / "state.json")["poly"]["setup"]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"{folder / 'state.json'}: damaged ({exc})") from exc
    raise CheckpointError(f"{run_dir}: nothing to resume (no last/state.json)")


def resumed_options(run_dir: Path, poly: bool) -> dict[str, Any]:
    """The options a stopped run was started with, by config name: a melody run's model and
    training configs, or a poly run's (and its validation share)."""
    if poly:
        setup = read_poly_setup(run_dir)
        return {**setup["model"], **setup["train"], "val_fraction": setup["val_fraction"]}
    info = read_run_info(run_dir)
    return {**info["model"], **info["train"]}


def refuse_changes_on_resume(
    given: dict[str, Any], saved: dict[str, Any], flag: Callable[[str], str] = str
) -> None:
    """ConfigError naming the first option given (not None) whose value is not the resumed
    run's own: resuming with the command that started the run works, changing it does not.

    :param saved: the run's options, by the names ``given`` uses.
    :param flag: how the message names an option (the CLI: its flag).
    """
    for name, value in given.items():
        if value is None or name in RESUME_MAY_CHANGE or saved.get(name, ...) == value:
            continue
        was = f"the run's is {saved[name]!r}" if name in saved else "the run has none"
        raise ConfigError(
            f"{flag(name)} {value}: a resumed run keeps the options it was started with "
            f"({was}); only the epochs and the time limit may change"
        )


def save_last(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    scaler: torch.amp.GradScaler | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write the full training state to ``last/`` so that a crash leaves a whole one.

    The new state is written beside the old and swapped in by renames. ``scaler`` is
    fp16 training's gradient scaler (its scale and growth counter are plain numbers);
    ``scheduler`` may be None (a schedule over the time budget keeps no state); ``extra``
    are a model kind's own tensors (the poly model's best epochs' weights), given back by
    :func:`load_last`.
    """
    tmp, last, old = run_dir / "last.tmp", run_dir / "last", run_dir / "last.old"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_last(tmp, model, optimizer, scheduler, state, scaler)
        if extra:
            _save_tensors(extra, tmp / "extra.safetensors")
    except (WriteError, OSError) as exc:  # a full disk: last/ is untouched, last.tmp goes
        shutil.rmtree(tmp, ignore_errors=True)
        reason = str(exc).split(": ", 1)[-1].split("; what was")[0]
        msg = f"cannot save the checkpoint in {last}: {reason}; the previous one is kept"
        raise WriteError(msg) from exc
    if last.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(last, old)
    os.replace(tmp, last)
    shutil.rmtree(old, ignore_errors=True)


def _write_last(
    tmp: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    scaler: torch.amp.GradScaler | None,
) -> None:
    tmp.mkdir(parents=True)
    save_weights(model, tmp / "model.safetensors")
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    for idx, pstate in opt["state"].items():
        for name, value in pstate.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"opt.{idx}.{name}"] = t
    _save_tensors(tensors, tmp / "optimizer.safetensors")
    write_json(
        tmp / "state.json",
        {
            **state,
            "param_groups": opt["param_groups"],
            "scheduler": scheduler.state_dict() if scheduler is not None else {},
            "scaler": scaler.state_dict() if scaler is not None else {},
        },
    )


def load_last(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler | None = None,
    extra: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Restore what :func:`save_last` wrote; return the loop's own state (epoch, step...).

    A scaler saved by an fp16 run is restored into an enabled ``scaler``; a run saved
    without one (on a CPU, or in bf16) leaves a new scaler as it is. ``extra``, if given,
    is filled with the extra tensors saved."""
    folder = run_dir / "last"
    if not (folder / "state.json").exists() and (run_dir / "last.old" / "state.json").exists():
        folder = run_dir / "last.old"  # a crash fell between the two renames
    if not (folder / "state.json").exists():
        raise CheckpointError(f"{run_dir}: nothing to resume (no last/state.json)")
    try:
        state = read_json(folder / "state.json")
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / 'state.json'}: damaged ({exc})") from exc
    _load_weights(model, folder / "model.safetensors")
    try:
        tensors = load_file(str(folder / "optimizer.safetensors"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{folder / 'optimizer.safetensors'}: damaged ({exc})") from exc
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            opt_state.setdefault(int(idx), {})[name] = value
    try:
        optimizer.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
        saved_scheduler = state.pop("scheduler")
        if scheduler is not None:
            scheduler.load_state_dict(saved_scheduler)
        saved_scaler = state.pop("scaler", {})
        if scaler is not None and saved_scaler:
            scaler.load_state_dict(saved_scaler)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{folder}: training state does not fit this run ({exc})") from exc
    if extra is not None and (folder / "extra.safetensors").exists():
        try:
            extra.update(load_file(str(folder / "extra.safetensors")))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{folder / 'extra.safetensors'}: damaged ({exc})") from exc
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    return state


# ------------------------------------------------- the training tokens, for the copy guard

#: The training tokens a run keeps for the copy guard (``RUN/train-tokens.npy``).
TRAIN_TOKENS = "train-tokens.npy"

#: A longer training stream is not kept in the run (2 bytes a token: 100 MB at most).
GUARD_MAX_TOKENS = 50_000_000


def save_training_tokens(run_dir: Path, tokens: np.ndarray, vocab_size: int) -> None:
    """Keep the training pieces' token stream in the run, for the copy guard (training
    does so up to :data:`GUARD_MAX_TOKENS`)."""
    dtype = np.uint16 if vocab_size < 2**16 else np.int32
    tmp = run_dir / f".{TRAIN_TOKENS}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(tokens, dtype=dtype))
        os.replace(tmp, run_dir / TRAIN_TOKENS)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_failed(run_dir / TRAIN_TOKENS, exc) from exc


def load_training_tokens(run_dir: Path) -> np.ndarray | None:
    """The stream :func:`save_training_tokens` kept, or None (an older run, a huge corpus)."""
    try:
        return np.load(run_dir / TRAIN_TOKENS, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{run_dir / TRAIN_TOKENS}: damaged ({exc})") from exc
