"""The one training loop, top to bottom, for every model kind.

Epochs of batches; for each batch the kind's forward and backward, then clipping, the
optimiser step and (for a schedule over the time budget) the learning rate; after each
epoch the kind's held-out measure, the schedule, the best epoch and early stopping. What
differs between model kinds lives behind :class:`Kind`: which batches an epoch has, how a
batch's loss is computed and backed up (micro-batches, DDP, autocast), how the held-out
set is judged, and what an epoch's end writes (a run folder, or weights kept in memory).
The loop's counters live in :class:`LoopState`, saved with a checkpoint so that a resumed
run continues at the very batch where it stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from tunesmith.errors import TunesmithError
from tunesmith.learn.distributed import Processes

#: A loss above this (nats per target) has diverged: guessing uniformly costs log(vocab), ~4.
DIVERGED = 1e4


class TrainingError(TunesmithError):
    """Training cannot go on (the loss diverged)."""


@dataclass
class Step:
    """What one batch's backward pass gave: its mean loss, the weight of that mean in the
    epoch's training loss (targets, or 1 for a batch mean), and the tokens it read."""

    loss: float
    weight: float
    tokens: int


@dataclass
class Validated:
    """An epoch's end: the held-out loss (lower is better) and the kind's other figures."""

    loss: float
    figures: dict[str, float]


class Kind(Protocol):
    """What a model kind gives the loop."""

    def batches(self, epoch: int) -> Sequence[Any]:
        """The epoch's batches, in the order they are trained (the same on a resume)."""
        ...

    def backward(self, batch: Any, scaler: torch.amp.GradScaler) -> Step:
        """Forward and backward of one batch (its gradients left in the parameters)."""
        ...

    def validate(self) -> Validated: ...

    def keep(self, row: dict[str, Any], improved: bool) -> None:
        """After validation, before the checkpoint that records it: keep what the epoch
        gave (its weights if ``improved``: it beat every earlier epoch)."""
        ...

    def report(self, row: dict[str, Any]) -> dict[str, Any]:
        """After the checkpoint: record the epoch's figures; return them as reported."""
        ...


@dataclass
class Budget:
    """When to stop and how to step."""

    epochs: int
    time_limit: float = 0.0  # seconds of this session's training (0: none)
    grad_clip: float = 0.0  # max gradient norm (0: off)
    early_stopping: int = 0  # epochs without a real gain before stopping (0: off)
    min_delta: float = 0.0  # a gain smaller than this does not reset early stopping
    save_every: int = 0  # checkpoint every N steps (0: at epoch ends only)


@dataclass
class LoopState:
    """The loop's counters: all a checkpoint needs besides weights and optimiser."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    best_val_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    seconds: float = 0.0  # the whole run's training time, over every session
    loss_sum: float = 0.0
    loss_count: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> LoopState:
        """The counters of a saved state (whatever else was saved beside them)."""
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})


def time_cosine(base_lr: float, floor: float = 0.02) -> Callable[[float], float]:
    """A cosine from ``base_lr`` down to ``floor`` times it over the time budget."""
    return lambda done: base_lr * (floor + (1 - floor) / 2 * (1 + math.cos(math.pi * done)))


def fit(
    kind: Kind,
    params: Iterable[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    budget: Budget,
    state: LoopState,
    *,
    procs: Processes | None = None,
    device: torch.device | None = None,
    scaler: torch.amp.GradScaler | None = None,
    lr_over_time: Callable[[float], float] | None = None,
    checkpoint: Callable[[], None] | None = None,
    last_good: Path | None = None,
    emit: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
) -> str:
    """Train ``kind`` until its budget ends; return why it stopped: "epochs", "early
    stopping", "time limit" or (with ``checkpoint``, on Ctrl-C) "interrupted".

    :param scheduler: a torch scheduler stepped after every epoch (``ReduceLROnPlateau``
        with the held-out loss), or None.
    :param lr_over_time: instead, the learning rate as a function of the share of the time
        budget the whole run has used (this session and those it resumes), set before
        every step.
    :param checkpoint: saves the run (state included); called every ``save_every`` steps,
        after every epoch and on Ctrl-C.
    :param last_good: where that checkpoint is, for the message if the loss diverges.
    :param emit: told of "epoch_start", "batch" and "epoch_end".
    """
    params = list(params)
    procs = procs or Processes()
    device = device or torch.device("cpu")
    scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
    session = time.perf_counter()  # the time limit counts this session's time
    started = session - state.seconds  # state.seconds counts the whole run's
    stopped = "epochs"
    try:
        while state.epoch < budget.epochs:
            batches = kind.batches(state.epoch)
            emit("epoch_start", {"epoch": state.epoch + 1, "epochs": budget.epochs,
                                 "batches": len(batches), "done": state.batch})  # fmt: skip
            epoch_t0, epoch_tokens = time.perf_counter(), 0
            for b in range(state.batch, len(batches)):
                if lr_over_time is not None:
                    # over the whole run's time, so that a resumed run goes on down the curve
                    done = min(1.0, (time.perf_counter() - started) / max(budget.time_limit, 1e-9))
                    for group in optimizer.param_groups:
                        group["lr"] = lr_over_time(done)
                step = _step(kind, batches[b], params, optimizer, scaler, budget.grad_clip)
                if not math.isfinite(step.loss) or step.loss > DIVERGED:
                    where = f"; the last good checkpoint is in {last_good}" if last_good else ""
                    raise TrainingError(
                        f"the loss became {step.loss} at step {state.step}{where}; "
                        "try a lower --learning-rate"
                    )
                state.batch, state.step = b + 1, state.step + 1
                state.loss_sum += step.loss * step.weight
                state.loss_count += step.weight
                epoch_tokens += step.tokens
                emit("batch", {"batch": b + 1, "loss": step.loss})
                if checkpoint and budget.save_every and state.step % budget.save_every == 0:
                    state.seconds = time.perf_counter() - started
                    checkpoint()
                out_of_time = time.perf_counter() - session > budget.time_limit
                if budget.time_limit and procs.any(out_of_time, device):
                    stopped = "time limit"
                    break

            # ---- end of epoch (or of the time): validate, schedule, keep the best
            speed = epoch_tokens / max(time.perf_counter() - epoch_t0, 1e-9)
            row, improved = _validate(kind, optimizer, scheduler, budget, state, started, speed)
            state.epoch, state.batch, state.loss_sum, state.loss_count = state.epoch + 1, 0, 0, 0
            kind.keep(row, improved)
            if checkpoint:
                checkpoint()
            emit("epoch_end", {**kind.report(row), "best": improved})
            if stopped == "time limit":
                break
            if budget.early_stopping and state.bad_epochs >= budget.early_stopping:
                stopped = "early stopping"
                break
    except KeyboardInterrupt:
        if checkpoint is None:
            raise
        # Ctrl-C: keep what was done, so --resume picks up from this very batch.
        state.seconds = time.perf_counter() - started
        checkpoint()
        stopped = "interrupted"
    return stopped


def _step(
    kind: Kind,
    batch: Any,
    params: list[nn.Parameter],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    grad_clip: float,
) -> Step:
    """One optimiser step on ``batch``: the kind's backward pass, clipping, the update."""
    step = kind.backward(batch, scaler)
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return step


def _validate(
    kind: Kind,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    budget: Budget,
    state: LoopState,
    started: float,
    tokens_per_s: float,
) -> tuple[dict[str, Any], bool]:
    """The held-out loss at an epoch's end, the schedule stepped on it, the run's time, the
    best and the patience updated; the epoch's metrics row and whether it was the best yet."""
    train_loss = state.loss_sum / max(state.loss_count, 1e-12)
    validated = kind.validate()
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(validated.loss)
    elif scheduler is not None:
        scheduler.step()
    state.seconds = time.perf_counter() - started
    # Any gain keeps the weights; only a real one (min_delta) resets the patience.
    improved = validated.loss < state.best_val_loss
    real_gain = validated.loss < state.best_val_loss - budget.min_delta
    state.bad_epochs = 0 if real_gain else state.bad_epochs + 1
    if improved:
        state.best_val_loss, state.best_epoch = validated.loss, state.epoch + 1
    row = {
        "epoch": state.epoch + 1,
        "step": state.step,
        "train_loss": train_loss,
        "val_loss": validated.loss,
        **validated.figures,
        "lr": optimizer.param_groups[0]["lr"],
        "tokens_per_s": tokens_per_s,
        "seconds": state.seconds,
    }
    return row, improved
