"""Melodies in a chosen style (``generate --style``) from a model trained on a labelled
corpus: the label is the model's style input the whole way, never a prefix."""

from __future__ import annotations

import random
from collections.abc import Sequence

from tunesmith.errors import ConfigError
from tunesmith.learn.checkpoint import Run


def run_styles(run: Run) -> list[str]:
    """The style labels the run tells apart (ids 1, 2...), [] for a run without styles."""
    return list(run.info.get("styles") or []) if run.model_config.styles else []


def check_style(run: Run, style: str | None) -> None:
    """ConfigError for a style the run does not know (naming those it does)."""
    if style is None:
        return
    known = run_styles(run)
    if not known:
        raise ConfigError(
            f"--style: {run.path} was trained without styles; prepare a corpus with "
            "'tunesmith prepare --style LABEL=SOURCES ...' and train on it"
        )
    if style not in known:
        raise ConfigError(f"--style {style!r} is not one of the run's styles ({', '.join(known)})")


def style_ids(
    run: Run, labels: Sequence[str | None], rng: random.Random
) -> tuple[list[str | None], list[int]]:
    """Each row's style (its prompt's, else one of the run's at random) and id."""
    known = run_styles(run)
    if not known:
        return [None] * len(labels), [0] * len(labels)
    chosen = [label if label in known else rng.choice(known) for label in labels]
    return list(chosen), [1 + known.index(label) for label in chosen]
