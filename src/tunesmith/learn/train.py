"""Training the melody models (LSTM, GRU, Transformer): data, model, optimiser, run folder.

The epochs themselves are the one loop every model kind shares (:mod:`tunesmith.learn.loop`);
``_Melody`` is what is the melody models' own. Every position of every window is a training
target, the split is by piece, and the state saved in ``RUN/last`` (weights, Adam moments,
scheduler, RNG, the loop's counters) lets ``--resume`` continue exactly where a run stopped.

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
from tunesmith.corpus.styles import balanced
from tunesmith.errors import CheckpointError, ConfigError
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
from tunesmith.learn.distributed import Processes, data_parallel, processes, seed_process
from tunesmith.learn.heldout import evaluate_loss
from tunesmith.learn.loop import Budget, LoopState, Step, Validated, fit
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

#: Validation gains smaller than this (nats per token) do not reset early stopping.
MIN_DELTA = 1e-4

EventFn = Callable[[str, dict[str, Any]], None]


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
    with processes(cfg.device) as (procs, device):
        args = (model_config, train_config, resume, overwrite, on_event, procs, device)
        return _train(data_dir, run_dir, *args)


def _settle_configs(
    run_dir: Path,
    corpus: Corpus,
    model_config: ModelConfig | None,
    train_config: TrainConfig | None,
    resume: bool,
    overwrite: bool,
    procs: Processes,
) -> tuple[ModelConfig, TrainConfig]:
    """The run's configs, checked: a resumed run's own (with the new epoch and time budget
    written back), else those given or the defaults; a run already in the folder is kept
    unless ``overwrite``."""
    if resume:
        info = read_run_info(run_dir)
        if info.get("data") != corpus.manifest["data"]:
            raise CheckpointError(f"{run_dir}: was trained on data prepared with other options")
        model_config = ModelConfig.from_dict(info["model"])
        saved = TrainConfig.from_dict(info["train"])
        if train_config is not None:
            saved.epochs, saved.time_limit = train_config.epochs, train_config.time_limit
            if procs.main:
                write_json(run_dir / "config.json", {**info, "train": saved.to_dict()})
        train_config = saved
    elif (run_dir / "config.json").exists() and not overwrite:
        raise CheckpointError(
            f"{run_dir}: a run is already there; use --resume to continue it, "
            "--overwrite to replace it, or another --out"
        )
    procs.barrier()  # every process has looked at the folder before rank 0 writes to it
    model_config = model_config or ModelConfig()
    cfg = train_config or TrainConfig()
    model_config.validate()
    cfg.validate()
    with_chords = corpus.data_config.chords
    if model_config.chords is None:  # as the corpus: chords are an input when it has them
        model_config.chords = bool(with_chords and model_config.form)
    styles = corpus.styles
    if model_config.styles is None:  # as the corpus: its labels are an input when it has them
        model_config.styles = len(styles) if model_config.form else 0
    if model_config.styles and model_config.styles != len(styles):
        raise ConfigError(
            f"the model reads {model_config.styles} styles but {corpus.path} has "
            f"{len(styles)}; leave the styles to the corpus"
        )
    if model_config.chords and not with_chords:
        raise ConfigError(
            f"--chords: {corpus.path} was prepared without chords; prepare it with --chords"
        )
    if model_config.kind == "transformer" and cfg.sequence_length > model_config.context:
        raise ConfigError(
            f"--sequence-length {cfg.sequence_length} is longer than the Transformer's "
            f"--context {model_config.context}; make them equal"
        )
    return model_config, cfg


def _start_run_folder(
    run_dir: Path,
    prepared: Corpus,
    model_config: ModelConfig,
    cfg: TrainConfig,
    overwrite: bool,
    train_idx: list[int],
    train_stream: SplitStream,
    **info: Any,
) -> None:
    """A new run's files: config.json, the vocabulary, openings and (when small enough for
    generation's copy guard) the training tokens; a replaced run's results go first."""
    if overwrite:
        for name in ("metrics.csv", "loss.png", "model.safetensors", TRAIN_TOKENS):
            (run_dir / name).unlink(missing_ok=True)
    info = run_info(prepared.data_config, model_config, cfg, **info)
    write_run_files(run_dir, info, prepared.vocab)
    write_json(run_dir / "openings.json", prepared.openings(train_idx))
    if len(train_stream) <= GUARD_MAX_TOKENS:
        save_training_tokens(run_dir, train_stream[:].numpy(), len(prepared.vocab))
    else:
        log.info("training data too large to keep: generation has no copy guard")


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
    if main:
        _load_plotting()
    run_dir = Path(run_dir)
    corpus = Corpus.open(data_dir)

    model_config, cfg = _settle_configs(
        run_dir, corpus, model_config, train_config, resume, overwrite, procs
    )
    torch.manual_seed(cfg.seed)

    # ---- data: split by piece, one token stream per side, each read as it is indexed from
    # the memory-mapped tokens.npy (one copy in the page cache for all processes)
    train_idx, val_idx = corpus.split(cfg.val_fraction, cfg.seed)
    # a small style's pieces come round more often (corpus/styles.py); validation is as is
    train_stream = corpus.split_stream(balanced(corpus.pieces, train_idx), model_config.form)
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
    model = data_parallel(raw, procs, device)
    ddp = model if isinstance(model, DistributedDataParallel) else None
    if cfg.compile and device.type == "cuda":  # after DDP, as PyTorch advises
        model = torch.compile(model)  # type: ignore[assignment]

    state = LoopState()
    if resume:
        state = LoopState.from_dict(load_last(run_dir, raw, optimizer, scheduler, scaler))
    elif main:
        _start_run_folder(
            run_dir, corpus, model_config, cfg, overwrite, train_idx, train_stream,
            corpus=str(Path(data_dir).resolve()), vocab_size=len(corpus.vocab),
            parameters=n_params, train_pieces=len(train_idx), val_pieces=len(val_idx),
            **({"styles": corpus.styles} if model_config.styles else {}),
        )  # fmt: skip
    seed_process(cfg.seed, procs, state.step)

    def checkpoint() -> None:
        if main:
            save_last(run_dir, raw, optimizer, scheduler, state.to_dict(), scaler)
            emit("saved", {"epoch": state.epoch, "batch": state.batch})

    kind = _Melody(model, raw, ddp, train_stream, val_stream, cfg, procs, device, amp, run_dir)
    budget = Budget(
        cfg.epochs, cfg.time_limit, cfg.grad_clip, cfg.early_stopping, MIN_DELTA, cfg.save_every
    )
    model.train()
    stopped = fit(
        kind, raw.parameters(), optimizer, scheduler, budget, state, procs=procs,
        device=device, scaler=scaler, checkpoint=checkpoint, emit=emit,
        last_good=run_dir / "last",
    )  # fmt: skip
    return TrainResult(
        run_dir=run_dir,
        epochs_done=state.epoch,
        best_epoch=state.best_epoch,
        best_val_loss=state.best_val_loss,
        stopped=stopped,
        parameters=n_params,
        seconds=state.seconds,
    )


@dataclass
class _Melody:
    """The melody models' side of the loop (LSTM, GRU, Transformer): windows of the token
    stream, cross-entropy at every position, a run folder written at every epoch's end."""

    model: nn.Module  # what is called: the model, or its DDP or compiled wrapper
    raw: nn.Module  # the model itself, whose weights are saved
    ddp: DistributedDataParallel | None
    train_stream: SplitStream
    val_stream: SplitStream
    cfg: TrainConfig
    procs: Processes
    device: torch.device
    amp: torch.dtype | None
    run_dir: Path

    def batches(self, epoch: int) -> list[torch.Tensor]:
        cfg = self.cfg
        return train_batches(
            self.train_stream, cfg.sequence_length, cfg.batch_size, cfg.seed, epoch
        )

    def backward(self, batch: torch.Tensor, scaler: torch.amp.GradScaler) -> Step:
        value = _step(
            self.model, self.ddp, self.train_stream, batch, self.cfg, self.procs, self.device,
            self.amp, scaler,
        )  # fmt: skip
        return Step(value, 1.0, len(batch) * self.cfg.sequence_length)

    def validate(self) -> Validated:
        cfg = self.cfg
        loss, accuracy = evaluate_loss(
            self.raw, self.val_stream, cfg.sequence_length, cfg.batch_size, self.device, self.procs
        )
        return Validated(
            loss, {"val_perplexity": math.exp(min(loss, 700.0)), "val_accuracy": accuracy}
        )

    def keep(self, row: dict[str, Any], improved: bool) -> None:
        if improved and self.procs.main:
            save_weights(self.raw, self.run_dir / "model.safetensors")

    def report(self, row: dict[str, Any]) -> dict[str, Any]:
        places = {"train_loss": 5, "val_loss": 5, "val_perplexity": 4, "val_accuracy": 5,
                  "tokens_per_s": None, "seconds": 2}  # fmt: skip
        row = {k: round(v, places[k]) if k in places else v for k, v in row.items()}
        if self.procs.main:
            _plot(_append_metrics(self.run_dir / "metrics.csv", row), self.run_dir / "loss.png")
        return row


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


def _load_plotting() -> None:
    """Import the loss plot's modules before training starts: a Ctrl-C that lands while
    matplotlib's C extension initialises comes out as an ImportError, which the plot's guard
    would swallow, and the run would not stop."""
    with contextlib.suppress(Exception):  # no plot, still a run: _plot says why
        import tunesmith.export.plots  # noqa: F401


def _plot(rows: list[dict[str, float]], path: Path) -> None:
    try:
        from tunesmith.export.plots import plot_training

        plot_training(rows, path)
    except Exception:  # a plot must never cost a training run
        log.warning("could not draw %s", path, exc_info=True)
