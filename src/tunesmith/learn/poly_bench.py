"""Whole poly jobs: a benchmark .mat (``bench_poly``: train, score test NLL alone and as a
mixture) or a prepared poly corpus (``train_poly_corpus``: train, resume), each written as a
poly run folder for ``tunesmith generate``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.corpus.rolls import SPLITS, load_rolls, split_pieces
from tunesmith.errors import CheckpointError, ConfigError
from tunesmith.learn.checkpoint import read_poly_setup
from tunesmith.learn.models.poly import PolyModelConfig
from tunesmith.learn.poly_nll import bernoulli_nll, mean_nll
from tunesmith.learn.train_poly import PolyTrainConfig, train_poly

# ------------------------------------------------------------------------- benchmark


def bench_poly(
    path: str | Path,
    model_config: PolyModelConfig,
    config: PolyTrainConfig,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    save_to: str | Path | None = None,
) -> dict[str, Any]:
    """Train on ``traindata``, select on ``validdata``, measure ``testdata`` (nats per frame).

    :param save_to: also write the chosen model as a poly run folder there, for
        ``tunesmith generate``.
    :return: the figures as a JSON-ready dict: valid and test NLL (of the mixture the config
        asks for; ``single``: the best epoch alone, with its training NLL), the trivial
        model's, parameter count, training time, the configs and the per-epoch history.
        Under torchrun only the main process scores (minutes on a large set) and returns
        them; the others return ``{}``.
    """
    splits = load_rolls(path)
    train, valid, test = (splits[name] for name in SPLITS)
    result = train_poly(train, valid, model_config, config, on_epoch)
    if not result.main:
        return {}
    shifts = range(-config.shifts, config.shifts + 1)
    scoring = time.perf_counter()
    results = {
        "data": str(path),
        "pieces": {name: len(splits[name]) for name in SPLITS},
        "predicted_frames": {name: sum(len(r) - 1 for r in splits[name]) for name in SPLITS},
        "test_nll": mean_nll(result.kept, test, shifts=shifts),
        "valid_nll": mean_nll(result.kept, valid, shifts=shifts),
        "single": {  # the best epoch alone, untransposed
            "valid_nll": result.best_valid_nll,
            "test_nll": mean_nll(result.model, test),
            "train_nll": mean_nll(result.model, train),
        },
        "trivial": {
            "valid_nll": bernoulli_nll(train, valid),
            "test_nll": bernoulli_nll(train, test),
        },
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "train_seconds": result.seconds,
        "score_seconds": time.perf_counter() - scoring,  # the mixtures, the single model
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_by": result.stopped_by,
        "model": model_config.to_dict(),
        "train": config.to_dict(),
        "history": result.history,
    }
    if save_to:
        from tunesmith.corpus.encodings.poly import LOWEST_PITCH
        from tunesmith.learn.poly_run import save_poly_run

        polyphony = np.concatenate(train).sum(1)
        # Four voices throughout (chorales): generate keeps four, each in its SATB range.
        voices = 4 if polyphony.max() == 4 and (polyphony == 4).mean() > 0.5 else 0
        openings = [[int(k) + LOWEST_PITCH for k in np.nonzero(r[0])[0]] for r in train]
        save_poly_run(save_to, result.model, voices, openings, {"benchmark": results})
    return results


# ------------------------------------------------------------------- prepared corpora


def train_poly_corpus(
    data: str | Path,
    out: str | Path,
    model_config: PolyModelConfig | None,
    config: PolyTrainConfig | None,
    val_fraction: float = 0.1,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    epochs: int | None = None,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Train the chorale model on a poly corpus (``prepare --encoding poly``), write a run.

    Whole pieces are held out for validation; the best epoch's weights are saved to ``out``
    as a poly run folder for ``tunesmith generate``. Four voices (SATB ranges when sampling)
    when most pieces have four parts and most frames four notes, as in the chorales. The
    training state is checkpointed in ``out/last`` as it goes.

    :param resume: continue the run in ``out`` with the configs it was started with
        (``model_config``, ``config`` and ``val_fraction`` are then ignored), except
        ``epochs`` and ``time_limit`` if given.
    :param overwrite: replace a run already in ``out`` (else one there is refused).
    :return: the figures written to the run's config.json under ``"training"`` (under
        torchrun, by the main process; the others return ``{}``).
    """
    from tunesmith.corpus.encodings.poly import LOWEST_PITCH
    from tunesmith.corpus.poly_prepare import load_poly_corpus
    from tunesmith.learn.poly_run import save_poly_run

    out = Path(out)
    started = (out / "config.json").exists() or (out / "last").exists()
    if started and not resume:
        if not overwrite:
            raise CheckpointError(
                f"{out}: a run is already there; use --resume to continue it, "
                "--overwrite to replace it, or another --out"
            )
        shutil.rmtree(out / "last", ignore_errors=True)
    if resume:
        setup = read_poly_setup(out)
        model_config = PolyModelConfig.from_dict(setup["model"])
        config = PolyTrainConfig.from_dict(setup["train"])
        val_fraction = setup["val_fraction"]
    model_config, config = model_config or PolyModelConfig(), config or PolyTrainConfig()
    if epochs is not None:
        config = replace(config, max_epochs=epochs)
    if time_limit is not None:
        config = replace(config, time_limit=time_limit)
    if not 0 < val_fraction < 0.9:
        raise ConfigError(f"--val-fraction must be in (0, 0.9) (got {val_fraction})")
    rolls, manifest = load_poly_corpus(data)
    train_ids, valid_ids = split_pieces(rolls, val_fraction, config.seed)
    train, valid = [rolls[i] for i in train_ids], [rolls[i] for i in valid_ids]
    result = train_poly(
        train, valid, model_config, config, on_epoch, run_dir=out, resume=resume,
        setup={"val_fraction": val_fraction},
    )  # fmt: skip
    if not result.main:
        return {}
    polyphony = np.concatenate(train).sum(1)
    four_parts = np.mean([p.get("parts") == 4 for p in manifest["pieces"]])
    voices = 4 if four_parts > 0.5 and (polyphony == 4).mean() > 0.5 else 0
    results = {
        "data": str(data),
        "pieces": {"train": len(train), "valid": len(valid)},
        "valid_pieces": [manifest["pieces"][i]["source"] for i in valid_ids],
        "valid_nll": result.best_valid_nll,  # nats per predicted frame, the best epoch's
        "train_nll": mean_nll(result.model, train),
        "trivial_valid_nll": bernoulli_nll(train, valid),
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "train_seconds": result.seconds,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_by": result.stopped_by,
        "train": config.to_dict(),
        "history": result.history,
    }
    openings = [[int(k) + LOWEST_PITCH for k in np.nonzero(r[0])[0]] for r in train]
    info = {"steps_per_quarter": manifest["data"]["steps_per_quarter"], "training": results}
    save_poly_run(out, result.model, voices, openings, info)
    return results
