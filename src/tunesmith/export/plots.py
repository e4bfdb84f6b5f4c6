"""Figures: training curves, feature histograms, self-similarity matrices, as PNG."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tunesmith.export.pianoroll import DPI, save_figure

_TRAIN_COLOR = "#3b6ea8"
_VAL_COLOR = "#d9822b"


def _column(rows: Sequence[Mapping[str, float]], key: str) -> list[float]:
    """One metric per row as floats, NaN where it is missing or not a number."""
    values = []
    for row in rows:
        try:
            values.append(float(row.get(key, math.nan)))
        except (TypeError, ValueError):
            values.append(math.nan)
    return values


def _exp(x):
    import numpy as np

    return np.exp(np.clip(x, -50, 50))


def _log(x):
    import numpy as np

    return np.log(np.clip(x, 1e-12, None))


def plot_training(rows: Sequence[Mapping[str, float]], path: str | Path) -> Path:
    """Plot per-epoch metrics: losses on the left, learning rate (log scale) on the right.

    The epoch with the lowest validation loss is marked with a dot. Missing or NaN values
    leave gaps; with no rows at all the picture says so.

    :param rows: one mapping per epoch with ``epoch``, ``train_loss``, ``val_loss``,
        ``val_perplexity`` and ``lr``; any of them may be missing or NaN.
    :param path: the PNG to write; missing parent folders are created.
    :return: the path written.
    """
    fig = Figure(figsize=(10, 3.5), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    loss_ax, lr_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    loss_ax.set_title("loss", loc="left", fontsize=11)
    lr_ax.set_title("learning rate", loc="left", fontsize=11)

    epochs = [e if not math.isnan(e) else i + 1 for i, e in enumerate(_column(rows, "epoch"))]
    train = _column(rows, "train_loss")
    val = _column(rows, "val_loss")
    perplexity = _column(rows, "val_perplexity")
    lrs = [v if v > 0 else math.nan for v in _column(rows, "lr")]
    marker = "o" if len(rows) <= 40 else None

    if not any(not math.isnan(v) for v in train + val):
        loss_ax.text(0.5, 0.5, "no losses recorded", ha="center", va="center", color="#777777")
    else:
        if any(not math.isnan(v) for v in train):
            loss_ax.plot(epochs, train, color=_TRAIN_COLOR, marker=marker, ms=3, label="train")
        if any(not math.isnan(v) for v in val):
            loss_ax.plot(epochs, val, color=_VAL_COLOR, marker=marker, ms=3, label="validation")
        finite = [(v, i) for i, v in enumerate(val) if not math.isnan(v)]
        if finite:
            best, i = min(finite)
            label = f"best {best:.3f} at epoch {epochs[i]:g}"
            if not math.isnan(perplexity[i]):
                label += f" (perplexity {perplexity[i]:.2f})"
            loss_ax.plot(
                [epochs[i]],
                [best],
                "o",
                ms=8,
                color=_VAL_COLOR,
                mec="black",
                zorder=3,
                label=label,
            )
        loss_ax.legend(fontsize=8, frameon=False)
        # Perplexity is exp(loss): the same curve read on a second scale.
        ppl_ax = loss_ax.secondary_yaxis("right", functions=(_exp, _log))
        ppl_ax.set_ylabel("perplexity", fontsize=9)
        ppl_ax.tick_params(labelsize=8)
    loss_ax.set_xlabel("epoch", fontsize=9)
    loss_ax.set_ylabel("cross-entropy (nats per token)", fontsize=9)

    if not any(not math.isnan(v) for v in lrs):
        lr_ax.text(0.5, 0.5, "no learning rate recorded", ha="center", va="center", color="#777777")
    else:
        lr_ax.plot(epochs, lrs, color="#555555", marker=marker, ms=3)
        lr_ax.set_yscale("log")
    lr_ax.set_xlabel("epoch", fontsize=9)

    for ax in (loss_ax, lr_ax):
        if ax.lines:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        ax.tick_params(labelsize=8)
        ax.grid(color="#eeeeee", linewidth=0.6)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    return save_figure(fig, path)


def plot_features(features: Mapping[str, tuple[Sequence[float], Sequence[float]]], path) -> Path:
    """Small multiples: for each feature, generated vs held-out histograms (normalised).

    :param features: name -> (generated histogram, held-out histogram).
    """
    names = list(features)
    cols = 4
    rows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(12, 2.6 * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax, name in zip(axes, names, strict=False):
        generated, held_out = features[name]
        for values, color, label, offset in (
            (held_out, _TRAIN_COLOR, "held-out", -0.2),
            (generated, _VAL_COLOR, "generated", 0.2),
        ):
            total = sum(values) or 1.0
            ax.bar(
                [i + offset for i in range(len(values))],
                [v / total for v in values],
                width=0.4,
                color=color,
                label=label,
            )
        ax.set_title(name, loc="left", fontsize=10)
        ax.tick_params(labelsize=7)
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    if names:
        axes[0].legend(fontsize=8, frameon=False)
    return save_figure(fig, path)


def plot_self_similarity(matrices: Mapping[str, Any], path: str | Path) -> Path:
    """Bar-by-bar self-similarity matrices side by side (``formstats.self_similarity``).

    :param matrices: title -> (bars, bars) array.
    """
    fig = Figure(figsize=(4 * max(1, len(matrices)), 4), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(1, len(matrices)), squeeze=False)[0]
    for ax, (title, matrix) in zip(axes, matrices.items(), strict=False):
        ax.imshow(matrix, cmap="Greys", vmin=0, vmax=1, origin="upper", interpolation="nearest")
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_xlabel("bar", fontsize=8)
        ax.set_ylabel("bar", fontsize=8)
        ax.tick_params(labelsize=7)
    return save_figure(fig, path)
