"""Train and measure the chorale model on piano-roll benchmarks (JSB Chorales and the like)
and on poly corpora.

Training is the one loop every model kind shares (:mod:`tunesmith.learn.loop`); what is the
chorale model's own is ``_Poly``: shuffled pieces transposed to random keys (in windows with
the frame LSTM's state carried from one to the next), the literature's
NLL per frame on the validation pieces (:mod:`tunesmith.learn.poly_nll`), the best epochs'
weights kept for the mixture, and their place in a checkpoint. ``train_poly`` gives it AdamW
and a cosine over the time budget (or a plateau schedule).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tunesmith.config import _check, _Config
from tunesmith.corpus.rolls import Roll, Window, lanes_of_windows, pad, transpose_randomly
from tunesmith.errors import ConfigError
from tunesmith.learn.checkpoint import load_last, save_last
from tunesmith.learn.distributed import Processes, data_parallel, processes, seed_process
from tunesmith.learn.loop import (
    Budget,
    LoopState,
    Step,
    TrainingError,
    Validated,
    fit,
    time_cosine,
)
from tunesmith.learn.models.poly import PolyModel, PolyModelConfig
from tunesmith.learn.poly_nll import mean_nll

log = logging.getLogger(__name__)


@dataclass
class PolyTrainConfig(_Config):
    """The optimisation for the chorale model."""

    max_epochs: int = 500
    batch_size: int = 8  # sequences per step (with window_frames: lanes of windows)
    # Truncated back-propagation through time: pieces cut into windows of this many frames,
    # the frame LSTM's state carried from one window to the next (0: whole pieces a step).
    window_frames: int = 128
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
    save_every: int = 0  # with a run folder: also checkpoint every N steps (0: epochs only)
    device: str = "auto"  # auto (CUDA if present, else the CPU), cpu, cuda, cuda:N, mps

    def validate(self) -> None:
        _check(self.window_frames >= 0, "window_frames", self.window_frames, ">= 0")
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
        _check(self.save_every >= 0, "save_every", self.save_every, ">= 0")
        _check(0 <= self.shifts <= 12, "shifts", self.shifts, "in 0..12")
        _check(self.time_limit > 0, "time_limit", self.time_limit, "positive")
        _check(isinstance(self.device, str), "device", self.device, "a device name")


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
    main: bool = True  # rank 0 under torchrun (the others write nothing)


def train_poly(
    train: Sequence[Roll],
    valid: Sequence[Roll],
    model_config: PolyModelConfig,
    config: PolyTrainConfig,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    *,
    run_dir: Path | None = None,
    resume: bool = False,
    setup: dict[str, Any] | None = None,
) -> PolyTrainResult:
    """Train on ``train``, keep the weights with the best NLL on ``valid``.

    :param run_dir: checkpoint the whole training state to ``run_dir/last`` after every
        epoch, every ``save_every`` steps and on Ctrl-C, as melody runs do.
    :param resume: continue from ``run_dir/last`` exactly where it stopped (the same
        batches, the same random keys, the same best epochs kept).
    :param setup: what else a resume needs to know (the validation share), checkpointed
        beside both configs (see :func:`read_poly_setup`).

    Launched by torchrun, each process runs this on its share of every batch
    (DistributedDataParallel), as melody training does; only rank 0 writes and reports.
    """
    config.validate()
    with processes(config.device) as (procs, device):
        args = (model_config, config, on_epoch, run_dir, resume, setup, procs, device)
        return _train_poly(train, valid, *args)


def _train_poly(
    train: Sequence[Roll],
    valid: Sequence[Roll],
    model_config: PolyModelConfig,
    config: PolyTrainConfig,
    on_epoch: Callable[[dict[str, Any]], None] | None,
    run_dir: Path | None,
    resume: bool,
    setup: dict[str, Any] | None,
    procs: Processes,
    device: torch.device,
) -> PolyTrainResult:
    torch.manual_seed(config.seed)
    model = PolyModel(model_config).to(device)
    net = data_parallel(model, procs, device)
    rng = np.random.default_rng(config.seed)  # the same in every process: the same batches
    kind = _Poly(model, net, train, valid, config, rng, device, procs)
    optimizer = torch.optim.AdamW(
        kind.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    cosine = config.lr_schedule == "cosine"
    scheduler = None
    if not cosine:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.lr_factor, patience=config.lr_patience
        )
    budget = Budget(
        config.max_epochs, config.time_limit, config.grad_clip, config.early_stopping,
        save_every=config.save_every,
    )  # fmt: skip
    state = LoopState()
    if resume:
        if run_dir is None:
            raise ConfigError("resuming needs the run folder whose last/ it continues")
        tensors: dict[str, torch.Tensor] = {}
        saved = load_last(run_dir, model, optimizer, scheduler, extra=tensors)
        state = LoopState.from_dict(saved)
        kind.restore(saved.get("poly", {}), tensors)
    seed_process(config.seed, procs, state.step)

    def checkpoint() -> None:
        if run_dir is None or not procs.main:
            return
        poly, tensors = kind.saved(at_epoch_start=state.batch == 0)
        poly["setup"] = {
            "model": model_config.to_dict(),
            "train": config.to_dict(),
            **(setup or {}),
        }
        save_last(
            run_dir, model, optimizer, scheduler, {**state.to_dict(), "poly": poly}, None, tensors
        )

    def report(kind_of_event: str, row: dict[str, Any]) -> None:
        if kind_of_event == "epoch_end" and on_epoch and procs.main:
            on_epoch({k: row[k] for k in ("epoch", "train_nll", "valid_nll", "s")})

    lr_over_time = time_cosine(config.learning_rate) if cosine else None
    stopped = fit(
        kind, kind.model.parameters(), optimizer, scheduler, budget, state, procs=procs,
        device=device, lr_over_time=lr_over_time, emit=report,
        checkpoint=checkpoint if run_dir else None,
        last_good=run_dir / "last" if run_dir else None,
    )  # fmt: skip
    if not kind.best:
        raise TrainingError(
            "training was interrupted before its first epoch ended"
            + (f"; --resume continues it from {run_dir / 'last'}" if run_dir else "")
        )
    kept = []
    for _, _, weights in kind.best:
        kept.append(PolyModel(model_config).to(device))
        kept[-1].load_state_dict(weights)
        kept[-1].eval()
    stopped_by = {"epochs": "max epochs"}.get(stopped, stopped)
    best_nll, best_epoch, _ = kind.best[0]
    return PolyTrainResult(
        kept[0], kept, best_epoch, best_nll, state.epoch, state.seconds, stopped_by,
        kind.history, procs.main,
    )  # fmt: skip


@dataclass
class _Poly:
    """The chorale model's side of the loop: pieces in windows, each epoch in random keys, the
    literature's NLL per frame, and the ``keep`` best epochs' weights kept in memory."""

    model: PolyModel
    net: nn.Module  # what is called: the model, or its DDP wrapper
    train: Sequence[Roll]
    valid: Sequence[Roll]
    config: PolyTrainConfig
    rng: np.random.Generator
    device: torch.device
    procs: Processes
    best: list[tuple[float, int, dict[str, torch.Tensor]]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_rng: dict[str, Any] = field(default_factory=dict)  # the rng as this epoch began
    # windows: the frame LSTM's h and c where each lane's last window ended, for every lane
    carry: torch.Tensor | None = None

    def batches(self, epoch: int) -> list[Sequence[Roll | Window | None]]:
        self.model.train()
        self.epoch_rng = self.rng.bit_generator.state
        pieces = [self.train[i] for i in self.rng.permutation(len(self.train))]
        if self.config.transpose:
            pieces = transpose_randomly(pieces, self.config.transpose, self.rng)
        size, window = self.config.batch_size, self.config.window_frames
        if window:  # (each lane's first window starts a piece: no state carried into it)
            return lanes_of_windows(pieces, size, window)
        return [pieces[i : i + size] for i in range(0, len(pieces), size)]

    def backward(self, batch: Sequence[Roll | Window | None], scaler: torch.amp.GradScaler) -> Step:
        """This process's share of the batch (of its pieces, or of its lanes of windows);
        its summed NLL divided by the whole batch's frames (times the processes, which DDP's
        averaging divides out again), so that the gradient is the batch mean per frame, as
        in one process. A process with nothing to do (a lane run out, fewer pieces than
        processes) takes part with an empty piece of weight 0."""
        procs = self.procs
        lanes = list(range(len(batch)))[procs.rank :: procs.world]
        items = [batch[i] for i in lanes] or [None]
        empty = np.zeros((2, self.model.config.keys), np.uint8)
        rolls = [empty if x is None else x.roll if isinstance(x, Window) else x for x in items]
        frames, lengths = pad(rolls)
        real = torch.tensor([float(x is not None) for x in items])
        weight = torch.repeat_interleave(real, lengths - 1).to(self.device)
        frames, lengths = (t.to(self.device, non_blocking=True) for t in (frames, lengths))
        windows = self.config.window_frames > 0
        state = self._carried(batch, lanes) if windows and lanes else None
        log_p, state = self.net(frames, lengths, state)
        if windows:  # (in every process: the lanes' states are summed over them)
            self._carry_on(len(batch), lanes, torch.stack(state).detach())
        n = sum(len(x.roll if isinstance(x, Window) else x) - 1 for x in batch if x is not None)
        loss = -(log_p * weight).sum() / n * procs.world
        scaler.scale(loss).backward()
        return Step(procs.sum([loss.item()], self.device)[0] / procs.world, n, n)

    def _carried(
        self, batch: Sequence[Window | None], lanes: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The frame LSTM's starting (h, c) for this process's lanes: where the lane's last
        window ended for a window that continues it, zeros for a piece's first window."""
        if self.carry is None:
            self.carry = self._zeros(len(batch))
        goes_on = [float(batch[i] is not None and batch[i].carries) for i in lanes]
        mask = torch.tensor(goes_on, device=self.device).view(1, 1, -1, 1)
        h, c = self.carry[:, :, lanes] * mask
        return h, c

    def _carry_on(self, width: int, lanes: list[int], state: torch.Tensor) -> None:
        """Keep where this step's windows ended, every process's lanes in every process (a
        sum of each one's own lanes, zeros elsewhere), so that a checkpoint holds them all."""
        carried = self._zeros(width)
        if lanes:
            carried[:, :, lanes] = state
        self.carry = self.procs.sum_tensor(carried)

    def _zeros(self, lanes: int) -> torch.Tensor:
        """(h and c, layers, lanes, hidden) zeros."""
        rnn = self.model.rnn
        return torch.zeros(2, rnn.num_layers, lanes, rnn.hidden_size, device=self.device)

    def validate(self) -> Validated:
        return Validated(mean_nll(self.model, self.valid), {})

    def keep(self, row: dict[str, Any], improved: bool) -> None:
        """Every epoch that enters the ``keep`` best is kept (the mixture scores them all)."""
        nll, epoch = row["val_loss"], row["epoch"]
        if len(self.best) < self.config.keep or nll < self.best[-1][0]:
            weights = copy.deepcopy(self.model.state_dict())
            self.best = sorted([*self.best, (nll, epoch, weights)])[: self.config.keep]
        self.history.append(
            {"epoch": epoch, "train_nll": row["train_loss"], "valid_nll": nll, "s": row["seconds"]}
        )

    def report(self, row: dict[str, Any]) -> dict[str, Any]:
        log.info(
            "epoch %d: train %.3f valid %.3f", row["epoch"], row["train_loss"], row["val_loss"]
        )
        return {**row, **self.history[-1]}

    def saved(self, at_epoch_start: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """What a checkpoint keeps of this kind: the rng from which the epoch to come (or
        the one under way) draws its order and keys, the history, the best epochs."""
        rng = self.rng.bit_generator.state if at_epoch_start else self.epoch_rng
        mid_epoch = self.carry is not None and not at_epoch_start
        carry = {"carry": self.carry.cpu()} if mid_epoch else {}
        tensors = carry | {
            f"kept.{i}.{name}": value.detach().cpu()
            for i, (_, _, weights) in enumerate(self.best)
            for name, value in weights.items()
        }
        kept = [[nll, epoch] for nll, epoch, _ in self.best]
        return {"rng": rng, "history": self.history, "kept": kept}, tensors

    def restore(self, saved: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        if "carry" in tensors:
            self.carry = tensors["carry"].to(self.device)
        if "rng" in saved:
            self.rng.bit_generator.state = saved["rng"]
        self.history = list(saved.get("history", []))
        self.best = []
        for i, (nll, epoch) in enumerate(saved.get("kept", [])):
            prefix = f"kept.{i}."
            weights = {
                k[len(prefix) :]: v.to(self.device)
                for k, v in tensors.items()
                if k.startswith(prefix)
            }
            self.best.append((nll, epoch, weights))
