"""The info command: what a run folder or a prepared corpus holds."""

from __future__ import annotations

import csv
from pathlib import Path

import typer
from rich.table import Table

from tunesmith.cli.app import app, console, user_errors
from tunesmith.cli.data import print_report

# -------------------------------------------------------------------------------- info


@app.command()
def info(path: Path = typer.Argument(..., help="A run folder or a prepared corpus.")) -> None:
    """Describe a trained run (configs, size, training so far) or a prepared corpus.

    [bold]Examples[/]

      tunesmith info runs/essen
      tunesmith info data/essen
    """
    from tunesmith.config import read_json
    from tunesmith.corpus.prepare import is_prepared, report_from_manifest
    from tunesmith.learn.checkpoint import TRAIN_TOKENS, read_run_info
    from tunesmith.learn.run_config import POLY, run_kind
    from tunesmith.shipped import resolve_run

    with user_errors():
        path = resolve_run(path)
        if is_prepared(path) and not (path / "config.json").exists():
            print_report(report_from_manifest(read_json(path / "manifest.json"), path))
            return
        if run_kind(path) == POLY:
            _poly_info(path, read_json(path / "config.json"))
            return
        meta = read_run_info(path)
    table = Table(title=f"run: {path}", show_header=False)
    table.add_row("model", " ".join(f"{k}={v}" for k, v in meta["model"].items()))
    table.add_row(
        "form inputs",
        "yes: place in the bar and phrase, bars left, the tokens 1, 2, 4 and 8 bars back, "
        "a copy head"
        if meta["model"].get("form")
        else "no",
    )
    if meta["model"].get("chords"):
        table.add_row("chords", "an input: generate --chords writes over given chords")
    if meta.get("styles"):
        table.add_row("styles", ", ".join(meta["styles"]) + "  (generate --style)")
    table.add_row("parameters", f"{meta.get('parameters', 0):,}")
    table.add_row("vocabulary", str(meta.get("vocab_size")))
    table.add_row(
        "data",
        f"{meta.get('corpus')}  ({meta.get('train_pieces')} train / "
        f"{meta.get('val_pieces')} validation pieces)",
    )
    table.add_row("encoding", " ".join(f"{k}={v}" for k, v in meta["data"].items()))
    table.add_row("training", " ".join(f"{k}={v}" for k, v in meta["train"].items()))
    table.add_row(
        "versions",
        f"tunesmith {meta.get('tunesmith_version')}, torch "
        f"{meta.get('torch_version')}, symusic {meta.get('symusic_version')}",
    )
    metrics = path / "metrics.csv"
    if metrics.exists():
        with metrics.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if rows:
            best = min(rows, key=lambda r: float(r["val_loss"]))
            last = rows[-1]
            table.add_row("epochs trained", last["epoch"])
            table.add_row(
                "best validation",
                f"loss {best['val_loss']}, perplexity "
                f"{best['val_perplexity']}, accuracy {best['val_accuracy']} "
                f"(epoch {best['epoch']})",
            )
            table.add_row(
                "last epoch",
                f"train {last['train_loss']}, val {last['val_loss']}, "
                f"lr {last['lr']}, {last['tokens_per_s']} tok/s",
            )
    resumable = (path / "last" / "state.json").exists()
    table.add_row("resumable", "yes (--resume)" if resumable else "no")
    kept = path / TRAIN_TOKENS
    table.add_row(
        "copy guard",
        f"yes ({TRAIN_TOKENS}: {kept.stat().st_size >> 10:,} KiB)"
        if kept.exists()
        else "no (the run keeps no training tokens)",
    )
    console.print(table)


def _poly_info(path: Path, meta: dict) -> None:
    """A poly run (the chorale model): its model, voices and how its training went."""
    table = Table(title=f"poly run: {path}", show_header=False)
    table.add_row("model", " ".join(f"{k}={v}" for k, v in meta.get("model", {}).items()))
    voices = meta.get("voices", 0)
    table.add_row("voices", f"{voices} (SATB ranges)" if voices == 4 else "as many as it likes")
    table.add_row("frames per quarter", str(meta.get("steps_per_quarter", 1)))
    training = meta.get("training") or meta.get("benchmark") or {}
    if "parameters" in training:
        table.add_row("parameters", f"{training['parameters']:,}")
    if "data" in training:
        pieces = training.get("pieces", {})
        split = " / ".join(f"{n} {name}" for name, n in pieces.items())
        table.add_row(
            "data", f"{training['data']}  ({split} pieces)" if split else training["data"]
        )
    trivial = training.get("trivial_valid_nll", training.get("trivial", {}).get("valid_nll"))
    for name in ("valid_nll", "test_nll"):
        if name in training:
            also = f"; independent keys {trivial:.2f}" if trivial and name == "valid_nll" else ""
            table.add_row(
                "best validation" if name == "valid_nll" else "test",
                f"{training[name]:.3f} nats per frame (epoch {training.get('best_epoch')} of "
                f"{training.get('epochs')}{also})",
            )
    made = [meta.get(f"{k}_version", meta.get(k)) for k in ("tunesmith", "torch")]  # or as before
    table.add_row("versions", f"tunesmith {made[0]}, torch {made[1]}")
    console.print(table)
