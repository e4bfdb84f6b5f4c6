"""Training on real music: the loss falls, the run folder is complete, resume is exact."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tunesmith.config import ModelConfig, TrainConfig
from tunesmith.errors import CheckpointError, ConfigError
from tunesmith.learn.checkpoint import load_run
from tunesmith.learn.train import train_model

SMALL = ModelConfig(embedding_dim=16, hidden_size=32, num_layers=2, dropout=0.1)


def _cfg(**kw) -> TrainConfig:
    base = {
        "epochs": 2,
        "batch_size": 16,
        "sequence_length": 32,
        "seed": 3,
        "early_stopping": 0,
        "learning_rate": 3e-3,
    }
    return TrainConfig(**{**base, **kw})


def _metrics(run: Path) -> list[dict[str, float]]:
    with (run / "metrics.csv").open(newline="") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_loss_falls_and_run_folder_is_complete(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train_model(tiny_corpus, run, SMALL, _cfg(epochs=4))
    rows = _metrics(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert min(r["val_loss"] for r in rows) < rows[0]["val_loss"]
    assert result.best_val_loss == pytest.approx(min(r["val_loss"] for r in rows), abs=1e-4)
    for name in (
        "config.json",
        "vocab.json",
        "model.safetensors",
        "openings.json",
        "train-tokens.npy",
        "loss.png",
        "last/model.safetensors",
        "last/optimizer.safetensors",
        "last/state.json",
    ):
        assert (run / name).is_file(), name
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    loaded = load_run(run)
    assert loaded.model_config == SMALL
    assert len(loaded.vocab) == loaded.model.head.out_features


def test_resume_after_interrupt_is_exact(tiny_corpus: Path, tmp_path: Path) -> None:
    """Ctrl-C in the middle of epoch 2, then --resume, ends with the very same weights."""
    straight = tmp_path / "straight"
    train_model(tiny_corpus, straight, SMALL, _cfg(epochs=3))

    interrupted = tmp_path / "interrupted"
    epochs_started = []

    def stop_midway(kind: str, data: dict) -> None:
        if kind == "epoch_start":
            epochs_started.append(data["epoch"])
        if kind == "batch" and epochs_started == [1, 2] and data["batch"] == 3:
            raise KeyboardInterrupt  # as Ctrl-C would, three batches into epoch 2

    first = train_model(tiny_corpus, interrupted, SMALL, _cfg(epochs=3), on_event=stop_midway)
    assert first.stopped == "interrupted"
    resumed = train_model(tiny_corpus, interrupted, None, _cfg(epochs=3), resume=True)
    assert resumed.stopped == "epochs" and resumed.epochs_done == 3

    a = load_file(str(straight / "last" / "model.safetensors"))
    b = load_file(str(interrupted / "last" / "model.safetensors"))
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6)
    assert [r["epoch"] for r in _metrics(interrupted)] == [1.0, 2.0, 3.0]


def test_resume_continues_at_the_next_epoch(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_model(tiny_corpus, run, SMALL, _cfg(epochs=1))
    result = train_model(tiny_corpus, run, None, _cfg(epochs=2), resume=True)
    assert result.epochs_done == 2
    assert [int(r["epoch"]) for r in _metrics(run)] == [1, 2]


def test_existing_run_is_not_overwritten_by_accident(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_model(tiny_corpus, run, SMALL, _cfg(epochs=1))
    with pytest.raises(CheckpointError, match="--resume"):
        train_model(tiny_corpus, run, SMALL, _cfg(epochs=1))
    train_model(tiny_corpus, run, SMALL, _cfg(epochs=1), overwrite=True)
    assert len(_metrics(run)) == 1


def test_nothing_to_resume(tiny_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError):
        train_model(tiny_corpus, tmp_path / "none", SMALL, _cfg(), resume=True)


def test_early_stopping_stops(tiny_corpus: Path, tmp_path: Path) -> None:
    # A learning rate this small cannot improve the validation loss by MIN_DELTA, so with
    # patience 1 the run must stop after its second epoch.
    result = train_model(
        tiny_corpus, tmp_path / "run", SMALL, _cfg(epochs=30, early_stopping=1, learning_rate=1e-9)
    )
    assert result.stopped == "early stopping"
    assert result.epochs_done == 2


def test_gru_trains(tiny_corpus: Path, tmp_path: Path) -> None:
    gru = ModelConfig(kind="gru", embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0)
    train_model(tiny_corpus, tmp_path / "gru", gru, _cfg(epochs=1))
    assert isinstance(load_run(tmp_path / "gru").model.rnn, torch.nn.GRU)


def test_sequence_longer_than_data_is_refused(tiny_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sequence-length"):
        train_model(tiny_corpus, tmp_path / "run", SMALL, _cfg(sequence_length=10_000_000))


def test_gradient_accumulation_takes_the_same_steps(tiny_corpus: Path, tmp_path: Path) -> None:
    """Four micro-batches of 4 windows make the step one batch of 16 makes."""
    model = ModelConfig(embedding_dim=16, hidden_size=32, num_layers=1, dropout=0.0)
    train_model(tiny_corpus, tmp_path / "one", model, _cfg(epochs=1))
    train_model(tiny_corpus, tmp_path / "acc", model, _cfg(epochs=1, grad_accum=4))
    one = load_file(str(tmp_path / "one" / "last" / "model.safetensors"))
    acc = load_file(str(tmp_path / "acc" / "last" / "model.safetensors"))
    for name in one:
        torch.testing.assert_close(acc[name], one[name], atol=1e-4, rtol=0)


def test_resume_restores_the_fp16_gradient_scaler(tmp_path: Path) -> None:
    """fp16 training's loss scale is part of the state --resume restores (saved as plain
    numbers); a run saved without a scaler leaves a new one as it is."""
    from tunesmith.learn.checkpoint import load_last, save_last

    def parts() -> tuple:
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.Adam(model.parameters())
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
        return model, optimizer, scheduler

    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12, growth_interval=3)
    model, optimizer, scheduler = parts()
    for _ in range(4):  # grows the scale once and counts an unskipped step
        scaler.scale(model(torch.ones(1, 3)).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
    saved = scaler.state_dict()
    assert saved["scale"] == 2.0**13 and saved["_growth_tracker"] == 1
    save_last(tmp_path, model, optimizer, scheduler, {"epoch": 1}, scaler)

    restored = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    state = load_last(tmp_path, *parts(), restored)
    assert restored.state_dict() == saved and state["epoch"] == 1

    save_last(tmp_path, model, optimizer, scheduler, {"epoch": 2})  # a CPU or bf16 run
    fresh = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    load_last(tmp_path, *parts(), fresh)
    assert fresh.get_scale() == 2.0**16
