"""Two training processes under torchrun (gloo on the CPU) match one process."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from tunesmith.config import ModelConfig, TrainConfig
from tunesmith.learn.train import train_model

#: The same global batch (16 windows) in both runs: 8 per process with two processes.
FLAGS = [
    "--model",
    "lstm",
    "--hidden-size",
    "32",
    "--embedding-dim",
    "16",
    "--num-layers",
    "2",
    "--dropout",
    "0",
    "--sequence-length",
    "32",
    "--batch-size",
    "16",
    "--lr",
    "0.003",
    "--seed",
    "5",
    "--device",
    "cpu",
]


def _torchrun(*args: str, command: tuple[str, ...] = ("train",)) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "tunesmith", *command, *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[:3000]
    return done


def _val_losses(run: Path) -> list[float]:
    with (run / "metrics.csv").open(newline="") as f:
        return [float(r["val_loss"]) for r in csv.DictReader(f)]


def test_two_processes_match_one(tiny_corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    done = _torchrun(str(tiny_corpus), "--out", str(run), "--epochs", "2", *FLAGS)
    assert done.stdout.count("epoch 2:") == 1  # rank 0 alone reports

    # One run folder, one set of files, one row per epoch (rank 1 wrote nothing).
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "last",
        "loss.png",
        "metrics.csv",
        "model.safetensors",
        "openings.json",
        "train-tokens.npy",
        "vocab.json",
    ]
    assert sorted(p.name for p in (run / "last").iterdir()) == [
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ]

    single = tmp_path / "single"
    model = ModelConfig(embedding_dim=16, hidden_size=32, num_layers=2, dropout=0.0)
    train = TrainConfig(
        epochs=2, batch_size=16, sequence_length=32, learning_rate=3e-3, seed=5, device="cpu"
    )
    train_model(tiny_corpus, single, model, train)

    ddp_losses, single_losses = _val_losses(run), _val_losses(single)
    assert len(ddp_losses) == 2
    for a, b in zip(ddp_losses, single_losses, strict=True):
        assert abs(a - b) < 2e-3, (ddp_losses, single_losses)
    ddp_w = load_file(str(run / "last" / "model.safetensors"))
    one_w = load_file(str(single / "last" / "model.safetensors"))
    assert ddp_w.keys() == one_w.keys()
    for name in ddp_w:
        torch.testing.assert_close(ddp_w[name], one_w[name], atol=2e-3, rtol=0)

    # --resume works the same under torchrun: one more epoch, one more row.
    _torchrun(str(tiny_corpus), "--out", str(run), "--resume", "--epochs", "3")
    assert len(_val_losses(run)) == 3


def test_the_chorale_model_trains_in_two_processes_as_in_one(tmp_path: Path) -> None:
    """The poly model gets DDP from the one loop: two processes, half of each batch's
    lanes of windows each (the frame LSTM's state carried from window to window), reach what
    one process reaches on the whole batches."""
    from tunesmith.cli import app

    corpus = tmp_path / "chorales"
    result = CliRunner().invoke(
        app, ["prepare", "chorales", "--encoding", "poly", "--limit", "8", "--out", str(corpus)]
    )
    assert result.exit_code == 0, result.output
    flags = ["--hidden-size", "16", "--embedding-dim", "16", "--dropout", "0", "--epochs", "2"]
    flags += ["--batch-size", "4", "--sequence-length", "16", "--device", "cpu", "--seed", "3"]
    done = _torchrun(str(corpus), "--out", str(tmp_path / "ddp"), *flags)
    assert done.stdout.count("epoch 2:") == 1  # rank 0 alone reports
    assert done.stdout.count("run folder:") == 1
    single = CliRunner().invoke(app, ["train", str(corpus), "--out", str(tmp_path / "one"), *flags])
    assert single.exit_code == 0, single.output

    def history(run: str) -> list[float]:
        training = json.loads((tmp_path / run / "config.json").read_text())["training"]
        return [h["valid_nll"] for h in training["history"]]

    assert len(history("ddp")) == 2
    for a, b in zip(history("ddp"), history("one"), strict=True):
        assert abs(a - b) < 1e-3, (history("ddp"), history("one"))
    ddp_w = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    one_w = load_file(str(tmp_path / "one" / "model.safetensors"))
    for name in one_w:
        torch.testing.assert_close(ddp_w[name], one_w[name], atol=1e-3, rtol=0)


def test_bench_poly_under_torchrun_scores_and_reports_once(tmp_path: Path) -> None:
    """Only the first process scores the test set (minutes on a large one) and writes the
    results; the other trains its share and stops."""
    import numpy as np
    from test_bench_cli import write_mat

    rng = np.random.default_rng(0)
    rolls = [(rng.random((20, 88)) < 0.04).astype(np.float64) for _ in range(12)]
    data = tmp_path / "small.mat"
    write_mat(data, {"traindata": rolls[:6], "validdata": rolls[6:9], "testdata": rolls[9:]})
    out = tmp_path / "results.json"
    flags = ["--data", str(data), "--out", str(out), "--max-epochs", "2", "--hidden-size", "16"]
    flags += ["--decoder-size", "16", "--batch-size", "2", "--keep", "2", "--device", "cpu"]
    done = _torchrun(*flags, command=("bench", "poly"))
    assert done.stdout.count("results written to") == 1
    results = json.loads(out.read_text())
    assert results["epochs"] == 2 and 0 < results["test_nll"] < 100
