"""Train and measure the chorale model on piano-roll benchmarks (JSB Chorales and the like).

The data are the Boulanger-Lewandowski et al. (2012) .mat files: ``traindata``,
``validdata`` and ``testdata``, each a row of T x 88 binary piano rolls. The metric is the
literature's: for every sequence predict frames 2..T from the frames before them, add up
-log p(whole 88-key frame) over every predicted frame, divide by the number of predicted
frames (nats per time step). Training is the one loop every model kind shares
(:mod:`tunesmith.learn.loop`); what is the chorale model's own is ``_Poly``: shuffled pieces
transposed to random keys, that NLL on the validation pieces, the best epochs' weights kept
in memory for the mixture. ``train_poly`` gives it AdamW and a cosine over the time budget
(or a plateau schedule).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunesmith.config import _check, _Config
from tunesmith.corpus.rolls import SPLITS, Roll, load_rolls, pad, split_pieces, transpose_randomly
from tunesmith.errors import ConfigError
from tunesmith.learn.device import pick_device
from tunesmith.learn.loop import Budget, LoopState, Step, Validated, fit, time_cosine
from tunesmith.learn.models.poly import PolyModel, PolyModelConfig

log = logging.getLogger(__name__)


@dataclass
class PolyTrainConfig(_Config):
    """The optimisation for the chorale model."""

    max_epochs: int = 500
    batch_size: int = 8  # sequences per step
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2  # AdamW's decoupled decay
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    transpose: int = 6  # shift each training sequence by a random -N..N-1 semitones; 0 = off
    lr_schedule: str = "cosine"  # cosine (to 2 % over the time limit) | plateau
    lr_factor: float = 0.5  # plateau: multiply the rate by this when validation stalls ...
    lr_patience: int = 5  # ... for this many epochs
    early_stopping: int = 50  # stop after this many epochs without improvement
    time_limit: float = 1680.0  # seconds of training (28 min, inside the 30-min budget)
    seed: int = 0
    # Scoring as an equal-weight mixture (see mean_nll): of the `keep` best epochs' weights,
    # each over the transpositions -shifts..shifts. keep 1, shifts 0: the best epoch alone.
    keep: int = 3
    shifts: int = 6
    device: str = "auto"  # auto (CUDA if present, else the CPU), cpu, cuda, cuda:N, mps

    def validate(self) -> None:
        for name in ("max_epochs", "batch_size", "early_stopping"):
            value = getattr(self, name)
            _check(isinstance(value, int) and value >= 1, name, value, "a whole number >= 1")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "positive")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        _check(self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0")
        _check(0 <= self.transpose <= 12, "transpose", self.transpose, "in 0..12")
        _check(0 < self.lr_factor <= 1, "lr_factor", self.lr_factor, "in (0, 1]")
        _check(
            self.lr_schedule in ("plateau", "cosine"), "lr_schedule", self.lr_schedule,
            "'plateau' or 'cosine'",
        )  # fmt: skip
        _check(self.keep >= 1, "keep", self.keep, ">= 1")
        _check(0 <= self.shifts <= 12, "shifts", self.shifts, "in 0..12")
        _check(self.time_limit > 0, "time_limit", self.time_limit, "positive")
        _check(isinstance(self.device, str), "device", self.device, "a device name")


# ------------------------------------------------------------------------ evaluation


def frame_nll(model: PolyModel, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Summed -log p over the predicted frames (2..T of each sequence) of a padded batch."""
    return -predicted_log_probs(model, frames, lengths).sum()


def predicted_log_probs(
    model: PolyModel, frames: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """log p(frame t | frames before it) for every predicted frame of a padded batch, flat."""
    context, _ = model.context(frames[:, :-1])  # after frame t: the context for frame t + 1
    predicted = _predicted(frames, lengths)
    # Only real frames reach the decoder, so padding costs nothing there.
    return model.score_frames(
        context[predicted], frames[:, :-1][predicted], frames[:, 1:][predicted]
    )


def _predicted(frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Which frames of a padded batch are predicted: 2..T of each sequence."""
    return torch.arange(1, frames.shape[1], device=frames.device) < lengths.unsqueeze(1)


def shift_keys(frames: torch.Tensor, shift: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Frames moved ``shift`` keys up, notes pushed off the keyboard dropped; and which
    frames lost a note that way."""
    keys = frames.shape[-1]
    out = torch.zeros_like(frames)
    if shift >= 0:
        out[..., shift:] = frames[..., : keys - shift]
        lost = frames[..., keys - shift :].any(-1)
    else:
        out[..., :shift] = frames[..., -shift:]
        lost = frames[..., :-shift].any(-1)
    return out, lost


@torch.no_grad()
def mean_nll(
    models: PolyModel | Sequence[PolyModel],
    rolls: Sequence[Roll],
    batch_size: int = 64,
    shifts: Sequence[int] = (0,),
) -> float:
    """Nats per predicted frame over ``rolls``, exactly as the literature measures it.

    Several models or ``shifts`` make an equal-weight mixture, frame by frame: p(frame t |
    past) is the mean over (model, shift) of the model's probability of the frame moved by
    the shift, given the past moved likewise. Each term is a distribution over frames, so the
    mean is one too; a frame the shift pushes off the keyboard gets probability 0 from that
    term (which can only cost likelihood, never flatter it).
    """
    models = [models] if isinstance(models, PolyModel) else list(models)
    for model in models:
        model.eval()
    device = next(models[0].parameters()).device
    total = 0.0
    for i in range(0, len(rolls), batch_size):
        frames, lengths = (t.to(device) for t in pad(rolls[i : i + batch_size]))
        predicted = _predicted(frames, lengths)
        terms = []
        for shift in shifts:
            moved, lost = shift_keys(frames, shift)
            lost_target = lost[:, 1:][predicted]
            for model in models:
                log_p = predicted_log_probs(model, moved, lengths)
                terms.append(log_p.masked_fill(lost_target, float("-inf")))
        mixture = torch.logsumexp(torch.stack(terms), dim=0) - math.log(len(terms))
        total -= float(mixture.sum())
    return total / sum(len(r) - 1 for r in rolls)


def bernoulli_nll(train: Sequence[Roll], rolls: Sequence[Roll]) -> float:
    """The trivial model: each key on independently with its training frequency.

    Frequencies are add-one smoothed ((on + 1) / (frames + 2)) so that a key never seen in
    training costs a finite amount. Frames 2..T are scored, as for every model.
    """
    stacked = np.concatenate(train).astype(np.float64)
    p = (stacked.sum(0) + 1) / (len(stacked) + 2)
    predicted = np.concatenate([r[1:] for r in rolls]).astype(np.float64)
    ll = predicted @ np.log(p) + (1 - predicted) @ np.log1p(-p)
    return float(-ll.mean())


# -------------------------------------------------------------------------- training


@dataclass
class PolyTrainResult:
    """What training produced: the best model (by validation NLL) and its history."""

    model: PolyModel
    kept: list[PolyModel]  # the `keep` best epochs' models, best first
    best_epoch: int
    best_valid_nll: float
    epochs: int
    seconds: float
    stopped_by: str  # "early stopping", "time limit" or "max epochs"
    history: list[dict[str, float]] = field(default_factory=list)


def train_poly(
    train: Sequence[Roll],
    valid: Sequence[Roll],
    model_config: PolyModelConfig,
    config: PolyTrainConfig,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> PolyTrainResult:
    """Train on ``train``, keep the weights with the best NLL on ``valid``."""
    config.validate()
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    model = PolyModel(model_config).to(device)
    kind = _Poly(model, train, valid, config, np.random.default_rng(config.seed), device)
    optimizer = torch.optim.AdamW(
        kind.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    cosine = config.lr_schedule == "cosine"
    scheduler = None
    if not cosine:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.lr_factor, patience=config.lr_patience
        )
    budget = Budget(config.max_epochs, config.time_limit, config.grad_clip, config.early_stopping)
    state = LoopState()

    def report(kind_of_event: str, row: dict[str, Any]) -> None:
        if kind_of_event == "epoch_end" and on_epoch:
            on_epoch({k: row[k] for k in ("epoch", "train_nll", "valid_nll", "s")})

    lr_over_time = time_cosine(config.learning_rate) if cosine else None
    stopped = fit(
        kind, kind.model.parameters(), optimizer, scheduler, budget, state, device=device,
        lr_over_time=lr_over_time, emit=report,
    )  # fmt: skip
    kept = []
    for _, _, weights in kind.best:
        kept.append(PolyModel(model_config).to(device))
        kept[-1].load_state_dict(weights)
        kept[-1].eval()
    stopped_by = {"epochs": "max epochs"}.get(stopped, stopped)
    best_nll, best_epoch, _ = kind.best[0]
    return PolyTrainResult(
        kept[0], kept, best_epoch, best_nll, state.epoch, state.seconds, stopped_by, kind.history
    )


@dataclass
class _Poly:
    """The chorale model's side of the loop: whole pieces, each epoch in random keys, the
    literature's NLL per frame, and the ``keep`` best epochs' weights kept in memory."""

    model: PolyModel
    train: Sequence[Roll]
    valid: Sequence[Roll]
    config: PolyTrainConfig
    rng: np.random.Generator
    device: torch.device
    best: list[tuple[float, int, dict[str, torch.Tensor]]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)

    def batches(self, epoch: int) -> list[Sequence[Roll]]:
        self.model.train()
        pieces = [self.train[i] for i in self.rng.permutation(len(self.train))]
        if self.config.transpose:
            pieces = transpose_randomly(pieces, self.config.transpose, self.rng)
        size = self.config.batch_size
        return [pieces[i : i + size] for i in range(0, len(pieces), size)]

    def backward(self, batch: Sequence[Roll], scaler: torch.amp.GradScaler) -> Step:
        frames, lengths = (t.to(self.device, non_blocking=True) for t in pad(batch))
        n = int((lengths - 1).sum())
        loss = frame_nll(self.model, frames, lengths) / n
        scaler.scale(loss).backward()
        return Step(loss.item(), n, n)

    def validate(self) -> Validated:
        return Validated(mean_nll(self.model, self.valid), {})

    def keep_best(self, epoch: int, loss: float) -> None:
        """Unused: every epoch that enters the ``keep`` best is kept in :meth:`epoch_end`."""

    def epoch_end(self, row: dict[str, Any], improved: bool) -> dict[str, Any]:
        nll, epoch = row["val_loss"], row["epoch"]
        if len(self.best) < self.config.keep or nll < self.best[-1][0]:
            weights = copy.deepcopy(self.model.state_dict())
            self.best = sorted([*self.best, (nll, epoch, weights)])[: self.config.keep]
        entry = {"epoch": epoch, "train_nll": row["train_loss"], "valid_nll": nll}
        self.history.append({**entry, "s": row["seconds"]})
        log.info("epoch %d: train %.3f valid %.3f", epoch, row["train_loss"], nll)
        return {**row, **self.history[-1]}


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
    """
    splits = load_rolls(path)
    train, valid, test = (splits[name] for name in SPLITS)
    result = train_poly(train, valid, model_config, config, on_epoch)
    shifts = range(-config.shifts, config.shifts + 1)
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
    model_config: PolyModelConfig,
    config: PolyTrainConfig,
    val_fraction: float = 0.1,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train the chorale model on a poly corpus (``prepare --encoding poly``), write a run.

    Whole pieces are held out for validation; the best epoch's weights are saved to ``out``
    as a poly run folder for ``tunesmith generate``. Four voices (SATB ranges when sampling)
    when most pieces have four parts and most frames four notes, as in the chorales.

    :return: the figures written to the run's config.json under ``"training"``.
    """
    from tunesmith.corpus.encodings.poly import LOWEST_PITCH
    from tunesmith.corpus.poly_prepare import load_poly_corpus
    from tunesmith.learn.poly_run import save_poly_run

    if not 0 < val_fraction < 0.9:
        raise ConfigError(f"--val-fraction must be in (0, 0.9) (got {val_fraction})")
    rolls, manifest = load_poly_corpus(data)
    train_ids, valid_ids = split_pieces(rolls, val_fraction, config.seed)
    train, valid = [rolls[i] for i in train_ids], [rolls[i] for i in valid_ids]
    result = train_poly(train, valid, model_config, config, on_epoch)
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
