"""make models: train the models that ship with tunesmith and copy them into the package.

Each model is made by the exact commands listed in RECIPES, run one after another and timed;
the run folder is then copied into ``src/tunesmith/shipped/NAME/`` as a plain run folder
(``last/``, the resume state, left out; weights stored as float16, which halves them and
loads into the float32 model unchanged in shape), with ``about.json``: what it was trained
on, the commands, the seconds each took, the held-out loss and the evaluation summary.

    python scripts/make_models.py                      # both: essen (~110 min), chorales (~12)
    python scripts/make_models.py chorales
    python scripts/make_models.py essen --from-run runs/essen   # ship a run trained already

``--from-run`` ships an existing run made by the same recipe; its seconds are then the
training's own (metrics.csv, or a poly run's config.json), and ``RUN/eval/report.json`` is
read if present.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "tunesmith" / "shipped"
WORK = Path("build/models")

RECIPES: dict[str, dict[str, Any]] = {
    "essen": {
        "trained_on": "8,514 Essen folk songs (music21), in C major / A minor, 10 % held out",
        "commands": [
            f"tunesmith prepare essen --out {WORK}/data-essen",
            f"tunesmith train {WORK}/data-essen --out {WORK}/essen --overwrite --epochs 24 "
            "--lr-schedule cosine --early-stopping 0",
            f"tunesmith evaluate {WORK}/essen --samples 500",
        ],
        "files": [
            "config.json",
            "vocab.json",
            "model.safetensors",
            "openings.json",
            "train-tokens.npy",
            "metrics.csv",
        ],
    },
    "chorales": {
        "trained_on": "410 Bach chorales (music21), all parts in quarter notes, 10 % held out",
        "commands": [
            f"tunesmith prepare chorales --encoding poly --out {WORK}/data-chorales",
            f"tunesmith train {WORK}/data-chorales --out {WORK}/chorales --overwrite "
            "--time-limit 600",
        ],
        "files": ["config.json", "model.safetensors"],
    },
}


def run_recipe(name: str, bin_dir: Path) -> dict[str, float]:
    """Run the recipe's commands in order; the seconds each took."""
    seconds = {}
    for command in RECIPES[name]["commands"]:
        words = command.split()
        print(f"$ {command}", flush=True)
        started = time.perf_counter()
        subprocess.run([str(bin_dir / words[0]), *words[1:]], check=True)
        seconds[words[1]] = round(time.perf_counter() - started, 1)
    return seconds


def summary(run: Path, info: dict[str, Any]) -> dict[str, Any]:
    """The held-out loss and the evaluation's headline figures, as about.json keeps them."""
    if info.get("kind") == "poly":
        t = info["training"]
        return {
            "held_out_loss": t["valid_nll"],
            "loss_unit": "nats per quarter-note frame",
            "evaluation": {
                "independent_keys_nll": t["trivial_valid_nll"],
                "train_nll": t["train_nll"],
                "epochs": t["epochs"],
                "best_epoch": t["best_epoch"],
                "pieces": t["pieces"],
            },
        }
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    best = min(rows, key=lambda r: float(r["val_loss"]))
    card: dict[str, Any] = {
        "held_out_loss": float(best["val_loss"]),
        "loss_unit": "nats per token (a sixteenth)",
        "best_epoch": int(best["epoch"]),
        "epochs": len(rows),
    }
    report = next(
        (p for p in (run / "eval", run / "evaluation") if (p / "report.json").is_file()), None
    )
    if report is not None:
        r = json.loads((report / "report.json").read_text())
        p, c = r["prediction"], r["copying"]
        card["evaluation"] = {
            "samples": r["settings"]["samples"],
            "accuracy": p["accuracy"],
            "always_hold_accuracy": p["always_hold_accuracy"],
            "bigram_accuracy": p["bigram_accuracy"],
            "share_of_reference": {k: f["share_of_reference"] for k, f in r["features"].items()},
            "copying_two_bars": c["share_two_bars"],
            "held_out_copying_two_bars": c["reference_share_two_bars"],
        }
    return card


def ship(
    name: str, run: Path, seconds: dict[str, float], seconds_from: str, data: Path | None
) -> Path:
    """Copy ``run`` into the package as shipped model ``name``; return its folder."""
    recipe = RECIPES[name]
    info = json.loads((run / "config.json").read_text())
    out = SHIPPED / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for file in recipe["files"]:
        if file == "model.safetensors":
            weights = {k: v.half() for k, v in load_file(str(run / file)).items()}
            save_file(weights, str(out / file))
        elif file == "config.json":
            if info.get("kind") != "poly":
                info["corpus"] = "data/essen"  # where README's prepare writes it, not ours
            (out / file).write_text(json.dumps(info, indent=2) + "\n")
        else:
            shutil.copy2(run / file, out / file)
    card = {
        "name": name,
        "trained_on": recipe["trained_on"],
        "model": info["model"],
        "parameters": info.get("parameters") or info.get("training", {}).get("parameters"),
        "weights": "float16 copy of the best epoch's weights (loaded as float32)",
        "commands": recipe["commands"],
        "seconds": seconds,
        "seconds_from": seconds_from,
        **summary(run, info),
    }
    if data is not None and info.get("kind") != "poly":
        card["held_out_loss_by_weights"] = held_out_losses(run, out, data)
    (out / "about.json").write_text(json.dumps(card, indent=2) + "\n")
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; an installed package is read by all
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"shipped {name}: {out} ({size / 1e6:.1f} MB)")
    return out


def held_out_losses(run: Path, shipped: Path, data: Path) -> dict[str, float]:
    """Held-out loss of the original and of the float16 copy, on the same pieces, so that
    halving the weights is seen to cost nothing."""
    from tunesmith.corpus.dataset import Corpus
    from tunesmith.judge.evaluate import prediction_metrics
    from tunesmith.learn.checkpoint import load_run

    corpus = Corpus.open(data)
    losses = {}
    for label, folder in (("float32", run), ("float16", shipped)):
        loaded = load_run(folder)
        train_idx, val_idx = corpus.split(loaded.train.val_fraction, loaded.train.seed)
        losses[label] = round(prediction_metrics(loaded, corpus, train_idx, val_idx)["loss"], 5)
    return losses


def trained_seconds(run: Path) -> dict[str, float]:
    info = json.loads((run / "config.json").read_text())
    if info.get("kind") == "poly":
        return {"train": round(info["training"]["train_seconds"], 1)}
    with (run / "metrics.csv").open(newline="") as f:
        return {"train": round(float(list(csv.DictReader(f))[-1]["seconds"]), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--from-run", type=Path, help="ship this run instead of training")
    parser.add_argument("--bin", type=Path, default=Path(sys.executable).parent)
    parser.add_argument("--data", type=Path, help="with --from-run: its prepared corpus")
    args = parser.parse_args()
    if args.from_run and len(args.names) != 1:
        parser.error("--from-run ships one model: name it")
    for name in args.names:
        if args.from_run:
            seconds, source = trained_seconds(args.from_run), "the run's own training record"
            ship(name, args.from_run, seconds, source, args.data)
        else:
            seconds = run_recipe(name, args.bin)
            ship(name, WORK / name, seconds, "measured by make models", WORK / f"data-{name}")


if __name__ == "__main__":
    main()
