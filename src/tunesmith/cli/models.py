"""The models command: the models that install with tunesmith."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from tunesmith.cli.app import app, console

# ------------------------------------------------------------------------------ models


@app.command()
def models() -> None:
    """List the shipped models: name, what each was trained on, size, held-out loss and
    evaluation. Use a name wherever a run folder goes: no training, no download.

    [bold]Examples[/]

      tunesmith models
      tunesmith generate essen --out out/
      tunesmith generate chorales --out out/ --num 2 --bars 8
    """
    from tunesmith.api import models as shipped

    cards = shipped()
    if not cards:
        console.print("no shipped models in this install ('make models' builds them)")
        return
    table = Table(title="shipped models")
    for column in ("name", "trained on", "size", "held-out loss", "evaluation"):
        table.add_column(column, overflow="fold")
    for card in cards:
        loss = card.get("held_out_loss")
        table.add_row(
            card["name"],
            card.get("trained_on", "?"),
            f"{card['bytes'] / 1e6:.1f} MB",
            f"{loss:.4f} {card.get('loss_unit', '')}" if loss is not None else "?",
            evaluation_summary(card),
        )
    console.print(table)
    console.print("use a name as a run: [bold]tunesmith generate essen --out out/[/]")


def evaluation_summary(card: dict[str, Any]) -> str:
    """One line of a shipped model's evaluation, from its about.json."""
    e = card.get("evaluation") or {}
    if "independent_keys_nll" in e:  # the chorale model
        return (
            f"independent keys {e['independent_keys_nll']:.2f}; best epoch {e['best_epoch']} "
            f"of {e['epochs']}"
        )
    if "share_of_reference" not in e:
        return "not evaluated"
    shares = e["share_of_reference"].values()
    return (
        f"accuracy {e['accuracy']:.3f} (always-hold {e['always_hold_accuracy']:.3f}); "
        f"{e['samples']} samples' statistics {min(shares):.0%}-{max(shares):.0%} of the "
        f"held-out reference; copying two bars {e['copying_two_bars']:.0%} "
        f"(held-out pieces {e['held_out_copying_two_bars']:.0%})"
    )
