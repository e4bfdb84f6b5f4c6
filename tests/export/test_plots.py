"""Tests for training-curve plots."""

from __future__ import annotations

import math
from pathlib import Path

from tunesmith.export import plot_training

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rows(n: int) -> list[dict[str, float]]:
    return [
        {
            "epoch": e,
            "train_loss": 3.0 / math.sqrt(e),
            "val_loss": 3.2 / e**0.4 + 0.02 * e,
            "val_perplexity": math.exp(3.2 / e**0.4 + 0.02 * e),
            "lr": 1e-3 * 0.9**e,
        }
        for e in range(1, n + 1)
    ]


def test_plot(tmp_path: Path) -> None:
    path = plot_training(rows(30), tmp_path / "plots" / "training.png")
    assert path == tmp_path / "plots" / "training.png"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000


def test_missing_and_nan_values(tmp_path: Path) -> None:
    data = rows(5)
    data[1]["val_loss"] = math.nan
    del data[2]["lr"]
    del data[3]["val_perplexity"]
    data.append({"epoch": 6, "train_loss": 0.9})
    path = plot_training(data, tmp_path / "gaps.png")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_degenerate_inputs(tmp_path: Path) -> None:
    for name, data in [
        ("empty.png", []),
        ("one.png", [{"epoch": 1, "train_loss": 2.0}]),
        ("nolr.png", [{"epoch": 1, "lr": 0.0}, {"epoch": 2, "lr": math.nan}]),
    ]:
        path = plot_training(data, tmp_path / name)
        assert path.read_bytes().startswith(PNG_MAGIC)
