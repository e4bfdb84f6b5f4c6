"""Two training processes under torchrun (gloo on the CPU) match one process."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

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


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "tunesmith", "train", *args]
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
