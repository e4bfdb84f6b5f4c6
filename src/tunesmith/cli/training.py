"""The train command: options and TOML config into configs, progress, the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tunesmith.cli.app import app, console, progress_bar, user_errors
from tunesmith.cli.data import print_report, run_prepare
from tunesmith.errors import ConfigError

# ------------------------------------------------------------------------------- train


def _merged(cls: Any, base: dict[str, Any], **flags: Any) -> Any:
    """A config from ``base`` (a TOML table, a saved run's), the flags given winning."""
    return cls.from_dict({**base, **_overrides(**flags)})


def _overrides(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None}


@app.command()
def train(
    data: str = typer.Argument(
        ...,
        help="A prepared corpus, or music to prepare first "
        "(a folder, a file, or essen/chorales/oneills).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder for checkpoints and metrics."),
    model: str = typer.Option(None, help="lstm, gru or transformer  \\[default: lstm]"),
    embedding_dim: int = typer.Option(None, help="\\[default: 128]"),
    hidden_size: int = typer.Option(None, help="\\[default: 256]"),
    num_layers: int = typer.Option(None, help="\\[default: 2]"),
    dropout: float = typer.Option(None, help="\\[default: 0.3]"),
    num_heads: int = typer.Option(None, help="Transformer: attention heads. \\[default: 4]"),
    context: int = typer.Option(
        None, help="Transformer: positions each token attends to. \\[default: 256]"
    ),
    positions: str = typer.Option(
        None, help="Transformer: rotary (relative) or learned. \\[default: rotary]"
    ),
    form: bool = typer.Option(
        None,
        "--form/--no-form",
        help="Form inputs: each token's place in the bar and phrase, bars left, the tokens "
        "1, 2, 4 and 8 bars back, and a head that may copy them. \\[default: on]",
    ),
    chords: bool = typer.Option(
        None,
        "--chords/--no-chords",
        help="The chord sounding at each step as an input (generate --chords then writes a "
        "melody over given chords). \\[default: on for a corpus prepared with --chords]",
    ),
    epochs: int = typer.Option(None, help="\\[default: 50]"),
    batch_size: int = typer.Option(None, help="Windows per step. \\[default: 16]"),
    sequence_length: int = typer.Option(
        None,
        help="Tokens per training window (poly: frames, the frame LSTM's state carried from "
        "one to the next). \\[default: 64; transformer: its --context; poly: 128]",
    ),
    grad_accum: int = typer.Option(
        None, help="Micro-batches per step in each process (same step, less memory). \\[default: 1]"
    ),
    amp: bool = typer.Option(
        None, "--amp/--no-amp", help="CUDA: mixed precision (bf16, else fp16). \\[default: on]"
    ),
    compile: bool = typer.Option(None, "--compile/--no-compile", help="CUDA: torch.compile."),
    learning_rate: float = typer.Option(None, "--learning-rate", "--lr", help="\\[default: 0.001]"),
    grad_clip: float = typer.Option(None, help="Max gradient norm, 0 = off. \\[default: 1.0]"),
    lr_schedule: str = typer.Option(None, help="plateau, cosine or constant. \\[default: plateau]"),
    early_stopping: int = typer.Option(
        None, help="Stop after N epochs without improvement, 0 = never. \\[default: 5]"
    ),
    val_fraction: float = typer.Option(None, help="Share of pieces held out. \\[default: 0.1]"),
    seed: int = typer.Option(None, help="Random seed. \\[default: 0]"),
    save_every: int = typer.Option(None, help="Also checkpoint every N steps. \\[default: 0]"),
    time_limit: float = typer.Option(None, help="Stop after this many seconds. \\[default: none]"),
    device: str = typer.Option(None, help="auto, cpu, cuda, cuda:N or mps. \\[default: auto]"),
    encoding: str = typer.Option(
        "steps", help="When DATA is music to prepare: steps, notes, events or poly (see prepare)."
    ),
    config: Path = typer.Option(
        None, help="TOML file with \\[model] and \\[train] tables; flags given here win."
    ),
    resume: bool = typer.Option(False, help="Continue the run in --out where it stopped."),
    overwrite: bool = typer.Option(False, help="Replace a run already in --out."),
) -> None:
    """Train a melody model (LSTM, GRU or Transformer) on a prepared corpus.

    Several processes: torchrun --nproc-per-node N -m tunesmith train ... (one per GPU).

    On a corpus prepared with --encoding poly it trains the chorale model instead (a frame
    LSTM with a token decoder; --hidden-size, --num-layers, --embedding-dim and --dropout
    size it), holding out whole pieces for validation.

    [bold]Examples[/]

      tunesmith train data/essen --out runs/essen
      tunesmith train data/essen --out runs/gru --model gru --hidden-size 512 --epochs 20
      tunesmith train data/essen --out runs/essen --resume --epochs 80
      tunesmith train essen --out runs/quick --time-limit 300
      tunesmith train data/essen --out runs/tf --model transformer --num-layers 4
      tunesmith train data/chorales-poly --out runs/chorales --time-limit 600
    """
    given = {k: v for k, v in locals().items() if k not in _NOT_OPTIONS}
    from tunesmith.config import ModelConfig, TrainConfig, load_toml
    from tunesmith.corpus.poly_prepare import is_poly_corpus
    from tunesmith.learn.checkpoint import read_run_info

    with user_errors():
        poly = encoding == "poly" or is_poly_corpus(data)
        if resume:
            _refuse_changes(given, out, poly)
        if poly:
            _train_chorale_model(
                data, out, config, overwrite, resume, val_fraction,
                melody_only={"--model": model, "--form": form, "--chords": chords},
                model_options={"frame_embedding": embedding_dim, "hidden_size": hidden_size,
                               "num_layers": num_layers, "dropout": dropout},
                train_options={"max_epochs": epochs, "batch_size": batch_size,
                               "learning_rate": learning_rate, "grad_clip": grad_clip,
                               "lr_schedule": lr_schedule, "early_stopping": early_stopping,
                               "seed": seed, "time_limit": time_limit, "device": device,
                               "save_every": save_every, "window_frames": sequence_length},
            )  # fmt: skip
            return
        if resume:  # the run keeps its options; only --epochs and --time-limit may change
            saved = read_run_info(out)["train"]
            train_cfg = _merged(TrainConfig, saved, epochs=epochs, time_limit=time_limit)
            _run_training(_prepared(data, out, encoding), out, None, train_cfg, resume=True)
            return
        tables = load_toml(config) if config else {}
        model_cfg = _merged(
            ModelConfig,
            tables.get("model", {}),
            kind=model,
            embedding_dim=embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            num_heads=num_heads,
            context=context,
            positions=positions,
            form=form,
            chords=chords,
        )
        if model_cfg.kind == "transformer" and sequence_length is None:
            # Windows as long as the attention span: every distance it uses is trained.
            sequence_length = tables.get("train", {}).get("sequence_length", model_cfg.context)
        train_cfg = _merged(
            TrainConfig,
            tables.get("train", {}),
            epochs=epochs,
            batch_size=batch_size,
            sequence_length=sequence_length,
            learning_rate=learning_rate,
            grad_clip=grad_clip,
            lr_schedule=lr_schedule,
            early_stopping=early_stopping,
            val_fraction=val_fraction,
            seed=seed,
            save_every=save_every,
            time_limit=time_limit,
            device=device,
            grad_accum=grad_accum,
            amp=amp,
            compile=compile,
        )
        _run_training(
            _prepared(data, out, encoding), out, model_cfg, train_cfg, overwrite=overwrite
        )


#: train's parameters that are not options a run is made with.
_NOT_OPTIONS = {"data", "out", "encoding", "resume", "overwrite"}
#: Flags named otherwise in a melody run's configs (a poly run's).
_MELODY_NAMES = {"model": "kind"}
_POLY_NAMES = {"embedding_dim": "frame_embedding"}


def _refuse_changes(given: dict[str, Any], out: Path, poly: bool) -> None:
    """The flags given with --resume must be the run's own (ConfigError names one that is
    not); --epochs and --time-limit may change. A --config file counts as its values."""
    from tunesmith.config import load_toml
    from tunesmith.learn.checkpoint import refuse_changes_on_resume, resumed_options

    saved = resumed_options(out, poly)
    names = _POLY_NAMES if poly else _MELODY_NAMES
    if poly and given.get("early_stopping") == 0:  # the poly model's "never"
        given = {**given, "early_stopping": 10**9}
    config = given.pop("config", None)
    tables = load_toml(config) if config else {}
    flag_of = {names.get(k, k): "--" + k.replace("_", "-") for k in given}
    options = {**tables.get("model", {}), **tables.get("train", {})}
    options.update({names.get(k, k): v for k, v in given.items() if v is not None})
    flag_of.update({k: f"{k} in {config}" for k in options if k not in flag_of})
    refuse_changes_on_resume(options, saved, flag_of.__getitem__)


def _train_chorale_model(
    data: str,
    out: Path,
    config: Path | None,
    overwrite: bool,
    resume: bool,
    val_fraction: float | None,
    melody_only: dict[str, Any],
    model_options: dict[str, Any],
    train_options: dict[str, Any],
) -> None:
    """``train`` on a poly corpus: the chorale model, with the options it has (a melody
    model's option given is refused in one line)."""
    from tunesmith.config import load_toml
    from tunesmith.learn.device import pick_device
    from tunesmith.learn.models.poly import PolyModelConfig
    from tunesmith.learn.train_poly import PolyTrainConfig

    given = [flag for flag, value in melody_only.items() if value is not None]
    if given:
        msg = f"{given[0]} is not an option of the chorale model (poly corpus {data})"
        raise ConfigError(msg)
    if train_options["device"]:  # a device that is not there is refused before preparing
        pick_device(train_options["device"])
    if resume:  # the run keeps its options; only --epochs and --time-limit may change
        limits = {"epochs": train_options["max_epochs"], "time_limit": train_options["time_limit"]}
        data = _prepared(data, out, "poly")
        _train_poly(data, out, None, None, 0.1, overwrite, resume=True, **limits)
        return
    tables = load_toml(config) if config else {}
    model_cfg = _merged(PolyModelConfig, tables.get("model", {}), **model_options)
    if train_options["early_stopping"] == 0:  # 0 = never
        train_options = {**train_options, "early_stopping": 10**9}
    train_cfg = _merged(PolyTrainConfig, tables.get("train", {}), **train_options)
    data = _prepared(data, out, "poly")
    _train_poly(data, out, model_cfg, train_cfg, val_fraction or 0.1, overwrite)


def _prepared(data: str, out: Path, encoding: str = "steps") -> str:
    """DATA itself if it is a prepared corpus, else music to prepare into OUT/data first."""
    from tunesmith.config import DataConfig
    from tunesmith.corpus.prepare import is_prepared
    from tunesmith.errors import ConfigError
    from tunesmith.learn.distributed import launched_by_torchrun

    if is_prepared(data):
        return data
    if launched_by_torchrun():  # N processes must not prepare the same folder at once
        raise ConfigError(f"{data}: not a prepared corpus; run 'tunesmith prepare' before torchrun")
    console.print(f"{data} is not a prepared corpus: preparing it into {out / 'data'}")
    options = {"encoding": encoding, **({"steps_per_quarter": 1} if encoding == "poly" else {})}
    print_report(run_prepare([data], out / "data", DataConfig.from_dict(options)))
    return str(out / "data")


def _train_poly(
    data, out: Path, model_cfg, train_cfg, val_fraction: float, overwrite: bool, **resuming: Any
):
    """Train the chorale model on a poly corpus, one epoch a line (``resuming``: resume,
    epochs and time_limit, for a run that was stopped)."""

    import torch

    from tunesmith.learn.poly_bench import train_poly_corpus

    # One thread: the matrices are small, and a second thread mostly waits on a shared CPU.
    torch.set_num_threads(1)

    def show(row: dict[str, Any]) -> None:
        console.print(
            f"epoch {row['epoch']}: train {row['train_nll']:.3f}  valid {row['valid_nll']:.3f}"
            f"  nats/frame  {row['s']:.0f} s",
            highlight=False,
        )

    result = train_poly_corpus(
        data, out, model_cfg, train_cfg, val_fraction, on_epoch=show, overwrite=overwrite,
        **resuming,
    )  # fmt: skip
    if not result:  # under torchrun only the first process reports
        return
    console.print(
        f"[bold]{result['stopped_by']}[/] after {result['epochs']} epochs, "
        f"{result['train_seconds']:.0f} s; best validation NLL {result['valid_nll']:.3f} nats "
        f"per frame (epoch {result['best_epoch']}; independent keys: "
        f"{result['trivial_valid_nll']:.3f}); {result['parameters']:,} parameters.\n"
        f"run folder: [bold]{out}[/] (model.safetensors, config.json); "
        f"try: tunesmith generate {out}"
    )


def _run_training(data, out, model_cfg, train_cfg, **kwargs) -> None:
    import os

    from tunesmith.learn.train import train_model

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        train_model(data, out, model_cfg, train_cfg, **kwargs)
        return

    with progress_bar() as progress:
        task = progress.add_task("epoch", total=None, info="")

        def on_event(kind: str, d: dict[str, Any]) -> None:
            if kind == "epoch_start":
                progress.update(
                    task,
                    description=f"epoch {d['epoch']}/{d['epochs']}",
                    total=d["batches"],
                    completed=d["done"],
                )
            elif kind == "batch":
                progress.update(task, completed=d["batch"], info=f"loss {d['loss']:.3f}")
            elif kind == "epoch_end":
                star = " [green]best[/]" if d["best"] else ""
                progress.console.print(
                    f"epoch {int(d['epoch'])}: train {d['train_loss']:.4f}  val {d['val_loss']:.4f}"
                    f"  ppl {d['val_perplexity']:.3f}  acc {d['val_accuracy']:.3f}"
                    f"  lr {d['lr']:.2g}"
                    f"  {d['tokens_per_s']:,} tok/s{star}"
                )

        result = train_model(data, out, model_cfg, train_cfg, on_event=on_event, **kwargs)
    console.print(
        f"[bold]{result.stopped}[/] after {result.epochs_done} epochs, {result.seconds:.0f} s; "
        f"best validation loss {result.best_val_loss:.4f} (epoch {result.best_epoch}); "
        f"{result.parameters:,} parameters.\nrun folder: [bold]{result.run_dir}[/] "
        f"(model.safetensors, metrics.csv, loss.png)"
    )
    if result.stopped == "interrupted":
        console.print("interrupted: continue with the same command and --resume")
        raise typer.Exit(130)  # the shell's code for a run stopped by Ctrl-C
