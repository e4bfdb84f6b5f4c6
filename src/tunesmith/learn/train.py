"""The training loop, top to bottom: data, model, optimiser, epochs, validation, checkpoints.

Every position of every window is a training target, the split is by piece, and the
state saved in ``RUN/last`` (weights, Adam moments, scheduler, RNG, position in the epoch)
lets ``--resume`` continue exactly where a run stopped.

Under torchrun the same loop runs in every process (DistributedDataParallel): a step's
``batch_size`` windows are shared out among the processes and, inside each, among
``grad_accum`` micro-batches; each loss is weighted so that the averaged gradient is the
mean over the whole batch, as in one process. Only rank 0 writes files and reports.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from tunesmith.config import ModelConfig, TrainConfig, write_json
from tunesmith.corpus.dataset import (
    Corpus,
    SplitStream,
    count_windows,
    train_batches,
    window_context,
    windows,
)
from tunesmith.errors import CheckpointError, ConfigError, TunesmithError
from tunesmith.learn.checkpoint import (
    GUARD_MAX_TOKENS,
    TRAIN_TOKENS,
    load_last,
    read_run_info,
    run_info,
    save_last,
    save_training_tokens,
    save_weights,
    write_run_files,
)
from tunesmith.learn.distributed import Processes, setup_distributed, shutdown_distributed
from tunesmith.learn.heldout import evaluate_loss
from tunesmith.learn.models import build_model, count_parameters

log = logging.getLogger(__name__)

METRICS = [
    "epoch",
    "step",
    "train_loss",
    "val_loss",
    "val_perplexity",
    "val_accuracy",
    "lr",
    "tokens_per_s",
    "seconds",
]

#: A loss above this (nats per token) has diverged: guessing uniformly costs log(vocab), ~4.
DIVERGED = 1e4

#: Validation gains smaller than this (nats per token) do not reset early stopping.
MIN_DELTA = 1e-4

EventFn = Callable[[str, dict[str, Any]], None]


class TrainingError(TunesmithError):
    """Training cannot go on (the loss diverged)."""


@dataclass
class TrainResult:
    run_dir: Path
    epochs_done: int
    best_epoch: int
    best_val_loss: float
    stopped: str  # "epochs" | "early stopping" | "time limit" | "interrupted"
    parameters: int
    seconds: float


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    if config.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
        )
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def _append_metrics(path: Path, row: dict[str, Any]) -> list[dict[str, float]]:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRICS)
        if new:
            writer.writeheader()
        writer.writerow(row)
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def train_model(
    data_dir: str | Path,
    run_dir: str | Path,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    on_event: EventFn | None = None,
) -> TrainResult:
    """Train a model on a prepared corpus, writing checkpoints and metrics to ``run_dir``.

    Launched by torchrun, each process runs this; they agree on every decision (the
    validation loss and the time limit are reduced over all of them).

    :param resume: continue the run in ``run_dir`` from ``run_dir/last``; its configs are
        kept, except ``epochs`` and ``time_limit``, taken from ``train_config`` if given.
    :param overwrite: replace an existing run in ``run_dir`` instead of refusing.
    :param on_event: called with ("epoch_start" | "batch" | "epoch_end" | "saved", data),
        in rank 0 only.
    """
    cfg = train_config or TrainConfig()
    procs, device = setup_distributed(cfg.device)
    try:
        args = (model_config, train_config, resume, overwrite, on_event, procs, device)
        result = _train(data_dir, run_dir, *args)
        procs.barrier()  # nobody tears the group down while another still uses it
        return result
    finally:
        shutdown_distributed(procs)


def _train(
    data_dir: str | Path,
    run_dir: str | Path,
    model_config: ModelConfig | None,
    train_config: TrainConfig | None,
    resume: bool,
    overwrite: bool,
    on_event: EventFn | None,
    procs: Processes,
    device: torch.device,
) -> TrainResult:
    main = procs.main
    emit = on_event if on_event is not None and main else (lambda kind, data: None)
    run_dir = Path(run_dir)
    corpus = Corpus.open(data_dir)

    # ---- the run folder: new, replaced, or resumed
    if resume:
        info = read_run_info(run_dir)
        if info.get("data") != corpus.manifest["data"]:
            raise CheckpointError(f"{run_dir}: was trained on data prepared with other options")
        model_config = ModelConfig.from_dict(info["model"])
        saved = TrainConfig.from_dict(info["train"])
        if train_config is not None:
            saved.epochs, saved.time_limit = train_config.epochs, train_config.time_limit
            if main:
                write_json(run_dir / "config.json", {**info, "train": saved.to_dict()})
        train_config = saved
    elif (run_dir / "config.json").exists() and not overwrite:
        raise CheckpointError(
            f"{run_dir}: a run is already there; use --resume to continue it, "
            "--overwrite to replace it, or another --out"
        )
    procs.barrier()  # every process has looked at the folder before rank 0 writes to it
    model_config = model_config or ModelConfig()
    train_config = train_config or TrainConfig()
    model_config.validate()
    train_config.validate()
    cfg = train_config
    if model_config.kind == "transformer" and cfg.sequence_length > model_config.context:
        raise ConfigError(
            f"--sequence-length {cfg.sequence_length} is longer than the Transformer's "
            f"--context {model_config.context}; make them equal"
        )
    torch.manual_seed(cfg.seed)

    # ---- data: split by piece, one token stream per side, each read as it is indexed from
    # the memory-mapped tokens.npy (one copy in the page cache for all processes)
    train_idx, val_idx = corpus.split(cfg.val_fraction, cfg.seed)
    train_stream = corpus.split_stream(train_idx, context=model_config.form)
    val_stream = corpus.split_stream(val_idx, context=model_config.form)
    if count_windows(train_stream, cfg.sequence_length) == 0:
        raise ConfigError(
            f"--sequence-length {cfg.sequence_length} is longer than the training data "
            f"({len(train_stream)} tokens); use a shorter one or more music"
        )

    # ---- model, optimiser, schedule; on CUDA mixed precision and torch.compile
    raw = build_model(model_config, len(corpus.vocab)).to(device)
    optimizer = torch.optim.Adam(
        raw.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    scheduler = _make_scheduler(optimizer, cfg)
    n_params = count_parameters(raw)
    amp = _amp_dtype(cfg, device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    model: nn.Module = raw
    ddp = None
    if procs.distributed:
        ids = [device.index] if device.type == "cuda" else None
        model = ddp = DistributedDataParallel(raw, device_ids=ids)
    if cfg.compile and device.type == "cuda":  # after DDP, as PyTorch advises
        model = torch.compile(model)  # type: ignore[assignment]

    state: dict[str, Any] = {
        "epoch": 0,
        "batch": 0,
        "step": 0,
        "best_val_loss": math.inf,
        "best_epoch": 0,
        "bad_epochs": 0,
        "seconds": 0.0,
        "loss_sum": 0.0,
        "loss_count": 0,
    }
    if resume:
        state.update(load_last(run_dir, raw, optimizer, scheduler, scaler))
    elif main:
        if overwrite:
            for name in ("metrics.csv", "loss.png", "model.safetensors", TRAIN_TOKENS):
                (run_dir / name).unlink(missing_ok=True)
        info = run_info(
            corpus.data_config,
            model_config,
            cfg,
            corpus=str(Path(data_dir).resolve()),
            vocab_size=len(corpus.vocab),
            parameters=n_params,
            train_pieces=len(train_idx),
            val_pieces=len(val_idx),
        )
        write_run_files(run_dir, info, corpus.vocab)
        write_json(run_dir / "openings.json", corpus.openings(train_idx))
        if len(train_stream) <= GUARD_MAX_TOKENS:
            save_training_tokens(run_dir, train_stream[:].numpy(), len(corpus.vocab))
        else:
            log.info("training data too large to keep: generation has no copy guard")
    if procs.distributed:  # dropout differs between processes, and is fixed by the step
        torch.manual_seed(cfg.seed * 1_000_003 + procs.rank * 7_919 + state["step"])

    def checkpoint() -> None:
        if main:
            save_last(run_dir, raw, optimizer, scheduler, state, scaler)
            emit("saved", {"epoch": state["epoch"], "batch": state["batch"]})

    # ---- the loop
    model.train()
    session = time.perf_counter()  # --time-limit counts this session's time
    started = session - state["seconds"]  # "seconds" counts the whole run's
    stopped = "epochs"
    metrics_path = run_dir / "metrics.csv"
    try:
        while state["epoch"] < cfg.epochs:
            epoch = state["epoch"]
            batches = train_batches(
                train_stream, cfg.sequence_length, cfg.batch_size, cfg.seed, epoch
            )
            emit(
                "epoch_start",
                {
                    "epoch": epoch + 1,
                    "epochs": cfg.epochs,
                    "batches": len(batches),
                    "done": state["batch"],
                },
            )
            epoch_t0, epoch_tokens = time.perf_counter(), 0
            for b in range(state["batch"], len(batches)):
                # forward and backward over this process's share, clip, step
                value = _step(model, ddp, train_stream, batches[b], cfg, procs, device, amp, scaler)
                if cfg.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                if not math.isfinite(value) or value > DIVERGED:
                    raise TrainingError(
                        f"the loss became {value} at step {state['step']}; the last good "
                        f"checkpoint is in {run_dir / 'last'}; try a lower --learning-rate"
                    )
                state["batch"], state["step"] = b + 1, state["step"] + 1
                state["loss_sum"] += value
                state["loss_count"] += 1
                epoch_tokens += len(batches[b]) * cfg.sequence_length
                emit("batch", {"batch": b + 1, "loss": value})
                if cfg.save_every and state["step"] % cfg.save_every == 0:
                    state["seconds"] = time.perf_counter() - started
                    checkpoint()
                out_of_time = bool(cfg.time_limit) and (
                    time.perf_counter() - session > cfg.time_limit
                )
                if cfg.time_limit and procs.any(out_of_time, device):
                    stopped = "time limit"
                    break

            # ---- end of epoch (or of the time): validate, schedule, keep the best
            elapsed = time.perf_counter() - epoch_t0
            train_loss = state["loss_sum"] / max(state["loss_count"], 1)
            val_loss, val_acc = evaluate_loss(
                raw, val_stream, cfg.sequence_length, cfg.batch_size, device, procs
            )
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(val_loss)
            else:
                scheduler.step()
            state["seconds"] = time.perf_counter() - started
            row = {
                "epoch": epoch + 1,
                "step": state["step"],
                "train_loss": round(train_loss, 5),
                "val_loss": round(val_loss, 5),
                "val_perplexity": round(math.exp(min(val_loss, 700.0)), 4),
                "val_accuracy": round(val_acc, 5),
                "lr": optimizer.param_groups[0]["lr"],
                "tokens_per_s": round(epoch_tokens / max(elapsed, 1e-9)),
                "seconds": round(state["seconds"], 2),
            }
            # Any gain keeps the weights; only a real one (MIN_DELTA) resets the patience.
            # Every process computes the same from the same reduced validation loss.
            improved = val_loss < state["best_val_loss"]
            real_gain = val_loss < state["best_val_loss"] - MIN_DELTA
            state["bad_epochs"] = 0 if real_gain else state["bad_epochs"] + 1
            if improved:
                state["best_val_loss"], state["best_epoch"] = val_loss, epoch + 1
                if main:
                    save_weights(raw, run_dir / "model.safetensors")
            state.update(epoch=epoch + 1, batch=0, loss_sum=0.0, loss_count=0)
            checkpoint()
            if main:
                _plot(_append_metrics(metrics_path, row), run_dir / "loss.png")
            emit("epoch_end", {**row, "best": improved})
            if stopped == "time limit":
                break
            if cfg.early_stopping and state["bad_epochs"] >= cfg.early_stopping:
                stopped = "early stopping"
                break
    except KeyboardInterrupt:
        # Ctrl-C: keep what was done, so --resume picks up from this very batch.
        state["seconds"] = time.perf_counter() - started
        checkpoint()
        stopped = "interrupted"

    return TrainResult(
        run_dir=run_dir,
        epochs_done=state["epoch"],
        best_epoch=state["best_epoch"],
        best_val_loss=state["best_val_loss"],
        stopped=stopped,
        parameters=n_params,
        seconds=state["seconds"],
    )


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """bf16 autocast on a GPU that has it, else fp16 (with a GradScaler); none on a CPU."""
    if not cfg.amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _step(
    model: nn.Module,
    ddp: DistributedDataParallel | None,
    stream: SplitStream,
    starts: torch.Tensor,
    cfg: TrainConfig,
    procs: Processes,
    device: torch.device,
    amp: torch.dtype | None,
    scaler: torch.amp.GradScaler,
) -> float:
    """Forward and backward of this process's share of one batch, in ``grad_accum``
    micro-batches; return the batch's mean loss over all processes.

    Each micro-batch's summed loss is divided by the whole batch's target count (times the
    number of processes, which DDP's gradient averaging divides out again), so the gradient
    is the batch mean whatever the share sizes, as in one process with one micro-batch.
    """
    share = starts.tensor_split(procs.world)[procs.rank]
    weight = 1.0
    if len(share) == 0:  # fewer windows than processes: take part with a zero weight
        share, weight = starts[:1], 0.0
    micro = [m for m in share.tensor_split(cfg.grad_accum) if len(m)]
    scale = weight * procs.world / (len(starts) * cfg.sequence_length)
    total = torch.zeros((), device=device)
    for i, m in enumerate(micro):
        x, y = (a.to(device, non_blocking=True) for a in windows(stream, m, cfg.sequence_length))
        context = window_context(stream, m, cfg.sequence_length)
        if context is not None:
            context = context.to(device, non_blocking=True)
        # DDP averages gradients on the last micro-batch's backward only
        sync = i == len(micro) - 1
        with (
            ddp.no_sync() if ddp is not None and not sync else contextlib.nullcontext(),
            torch.autocast(device.type, dtype=amp, enabled=amp is not None),
        ):
            logits, _ = model(x, None, context)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), reduction="sum")
            loss = loss * scale
        scaler.scale(loss).backward()
        total += loss.detach() / procs.world
    return procs.sum([total.item()], device)[0]


def _plot(rows: list[dict[str, float]], path: Path) -> None:
    try:
        from tunesmith.export.plots import plot_training

        plot_training(rows, path)
    except Exception:  # a plot must never cost a training run
        log.warning("could not draw %s", path, exc_info=True)
