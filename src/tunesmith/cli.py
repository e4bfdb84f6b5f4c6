"""The command line: prepare, train, generate, info. The only module that prints."""

from __future__ import annotations

import contextlib
import csv
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tunesmith import __version__
from tunesmith.errors import ConfigError, TunesmithError

app = typer.Typer(
    name="tunesmith",
    help="Learn melodies from MIDI, MusicXML, Kern and ABC files, and write new ones.\n\n"
    "Typical session:  [bold]tunesmith prepare essen --out data/essen[/]  →  "
    "[bold]tunesmith train data/essen --out runs/essen[/]  →  "
    "[bold]tunesmith generate runs/essen --out out/[/]",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show a user's mistake as one red line and a non-zero exit; let bugs show in full."""
    try:
        yield
    except TunesmithError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"tunesmith {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


# ----------------------------------------------------------------------------- prepare


@app.command()
def prepare(
    sources: list[str] = typer.Argument(
        ..., help="Folders, files, or bundled corpora: essen, chorales, oneills."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the prepared corpus to."),
    steps_per_quarter: int = typer.Option(4, help="Grid steps per quarter note (4 = sixteenths)."),
    melody: str = typer.Option("highest-mean", help="Melody extraction: highest-mean or skyline."),
    transpose: bool = typer.Option(True, help="Transpose every piece to C major / A minor."),
    min_notes: int = typer.Option(8, help="Skip melodies with fewer notes."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Parallel processes (0 = all cores)."),
    limit: int = typer.Option(0, help="Use only the first N files or tunes (0 = all)."),
    strict: bool = typer.Option(
        False, help="Fail at the first unreadable file instead of skipping."
    ),
    cache: bool = typer.Option(
        True, help="Reuse melodies read before (cache in ~/.cache/tunesmith)."
    ),
    time_limit_per_file: float = typer.Option(
        60.0, help="Skip a file or tune that takes longer to read (seconds; 0 = no limit)."
    ),
) -> None:
    """Read music and write a prepared, encoded corpus.

    [bold]Examples[/]

      tunesmith prepare essen --out data/essen
      tunesmith prepare ~/midi tune.mid --out data/mine --melody skyline
      tunesmith prepare chorales oneills --out data/mix --limit 500
    """
    from tunesmith.config import DataConfig

    with user_errors():
        config = DataConfig.from_dict(
            {
                "steps_per_quarter": steps_per_quarter,
                "melody": melody,
                "transpose": transpose,
                "min_notes": min_notes,
            }
        )
        report = _run_prepare(
            sources,
            out,
            config,
            jobs=jobs,
            limit=limit,
            strict=strict,
            use_cache=cache,
            time_limit=time_limit_per_file,
        )
        _print_report(report)


def _run_prepare(sources, out, config, **kwargs):
    from tunesmith.prepare import prepare_corpus

    with _progress() as progress:
        task = progress.add_task("reading music", total=None, info="")

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return prepare_corpus(sources, out, config, on_progress=on_progress, **kwargs)


def _print_report(report) -> None:
    if report.up_to_date:
        console.print(f"[green]{report.out}[/] is up to date (same files, same options).")
    table = Table(title=f"prepared corpus: {report.out}", show_header=False)
    table.add_row("files and tunes read", str(report.items))
    table.add_row("pieces kept", str(report.kept))
    table.add_row("from cache", str(report.from_cache))
    table.add_row("skipped", str(len(report.skipped)))
    for reason, n in report.skip_reasons.most_common():
        table.add_row(f"  {reason}", str(n))
    table.add_row("tokens", f"{report.tokens:,}")
    table.add_row("vocabulary", str(report.vocab_size))
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)
    for label, reason in report.skipped[:5]:
        console.print(f"  [yellow]skipped[/] {label}: {reason}", highlight=False)
    if len(report.skipped) > 5:
        console.print(
            f"  … and {len(report.skipped) - 5} more, listed in "
            f"{Path(report.out) / 'manifest.json'}"
        )


# ------------------------------------------------------------------------------- train


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
    model: str = typer.Option(None, help="lstm or gru  [default: lstm]"),
    embedding_dim: int = typer.Option(None, help="[default: 128]"),
    hidden_size: int = typer.Option(None, help="[default: 256]"),
    num_layers: int = typer.Option(None, help="[default: 2]"),
    dropout: float = typer.Option(None, help="[default: 0.3]"),
    epochs: int = typer.Option(None, help="[default: 50]"),
    batch_size: int = typer.Option(None, help="Windows per step. [default: 16]"),
    sequence_length: int = typer.Option(None, help="Tokens per training window. [default: 64]"),
    learning_rate: float = typer.Option(None, "--learning-rate", "--lr", help="[default: 0.001]"),
    grad_clip: float = typer.Option(None, help="Max gradient norm, 0 = off. [default: 1.0]"),
    lr_schedule: str = typer.Option(None, help="plateau, cosine or constant. [default: plateau]"),
    early_stopping: int = typer.Option(
        None, help="Stop after N epochs without improvement, 0 = never. [default: 5]"
    ),
    val_fraction: float = typer.Option(None, help="Share of pieces held out. [default: 0.1]"),
    seed: int = typer.Option(None, help="Random seed. [default: 0]"),
    save_every: int = typer.Option(None, help="Also checkpoint every N steps. [default: 0]"),
    time_limit: float = typer.Option(None, help="Stop after this many seconds. [default: none]"),
    device: str = typer.Option(None, help="auto, cpu, cuda, cuda:N or mps. [default: auto]"),
    config: Path = typer.Option(
        None, help="TOML file with [model] and [train] tables; flags given here win."
    ),
    resume: bool = typer.Option(False, help="Continue the run in --out where it stopped."),
    overwrite: bool = typer.Option(False, help="Replace a run already in --out."),
) -> None:
    """Train a melody model (LSTM or GRU) on a prepared corpus.

    [bold]Examples[/]

      tunesmith train data/essen --out runs/essen
      tunesmith train data/essen --out runs/gru --model gru --hidden-size 512 --epochs 20
      tunesmith train data/essen --out runs/essen --resume --epochs 80
      tunesmith train essen --out runs/quick --time-limit 300
    """
    from tunesmith.checkpoint import read_run_info
    from tunesmith.config import ModelConfig, TrainConfig, load_toml

    with user_errors():
        if resume:  # the run keeps its options; only --epochs and --time-limit may change
            saved = read_run_info(out)["train"]
            train_cfg = TrainConfig.from_dict(
                {**saved, **_overrides(epochs=epochs, time_limit=time_limit)}
            )
            _run_training(_prepared(data, out), out, None, train_cfg, resume=True)
            return
        tables = load_toml(config) if config else {}
        model_cfg = ModelConfig.from_dict(
            {
                **tables.get("model", {}),
                **_overrides(
                    kind=model,
                    embedding_dim=embedding_dim,
                    hidden_size=hidden_size,
                    num_layers=num_layers,
                    dropout=dropout,
                ),
            }
        )
        train_cfg = TrainConfig.from_dict(
            {
                **tables.get("train", {}),
                **_overrides(
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
                ),
            }
        )
        _run_training(_prepared(data, out), out, model_cfg, train_cfg, overwrite=overwrite)


def _prepared(data: str, out: Path) -> str:
    """DATA itself if it is a prepared corpus, else music to prepare into OUT/data first."""
    from tunesmith.config import DataConfig
    from tunesmith.prepare import is_prepared

    if is_prepared(data):
        return data
    console.print(f"{data} is not a prepared corpus: preparing it into {out / 'data'}")
    _print_report(_run_prepare([data], out / "data", DataConfig()))
    return str(out / "data")


def _run_training(data, out, model_cfg, train_cfg, **kwargs) -> None:
    from tunesmith.train import train_model

    with _progress() as progress:
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


# ---------------------------------------------------------------------------- generate


@app.command()
def generate(
    run: Path = typer.Argument(..., help="A run folder written by 'tunesmith train'."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Folder for the MIDI files."),
    length: int = typer.Option(256, help="New steps to generate (a step is a sixteenth)."),
    bars: int = typer.Option(0, help="Generate this many 4/4 bars instead of --length."),
    temperature: float = typer.Option(1.0, help="Below 1: safer; above 1: bolder."),
    top_k: int = typer.Option(0, help="Sample only from the K likeliest tokens (0 = off)."),
    top_p: float = typer.Option(
        1.0, help="Sample from the smallest set holding this much probability (1 = off)."
    ),
    num: int = typer.Option(4, "--num", "-n", help="How many melodies."),
    seed_notes: str = typer.Option(
        None,
        help="Start from these notes: '60,62,64', 'C4 D4 E4' "
        "(quarter notes), or an encoded string '60 _ _ _ 62 _'.",
    ),
    primer: Path = typer.Option(None, help="Start from the melody of this file."),
    tempo: float = typer.Option(None, help="Beats per minute. [default: the primer's, else 120]"),
    key: str = typer.Option(None, help="Move the result to this tonic, e.g. G, 'F# minor', Bbm."),
    instrument: str = typer.Option("piano", help="General MIDI name or program number."),
    seed: int = typer.Option(None, help="Random seed, for the same output again."),
    prefix: str = typer.Option("melody", help="File name prefix."),
    audio: bool = typer.Option(False, "--audio", help="Also render a WAV with FluidSynth."),
    score: bool = typer.Option(False, "--score", help="Also write MusicXML and an engraved SVG."),
    soundfont: Path = typer.Option(None, help="SoundFont for --audio [default: the system's]."),
    device: str = typer.Option("cpu", help="cpu is fastest for one melody at a time."),
) -> None:
    """Generate melodies as MIDI files, each with a piano-roll PNG beside it.

    [bold]Examples[/]

      tunesmith generate runs/essen --out out/
      tunesmith generate runs/essen --seed-notes "C4 D4 E4" --key G --bars 16 --num 8
      tunesmith generate runs/essen --primer tune.mid --temperature 0.8 --top-p 0.95
      tunesmith generate runs/essen --num 1 --audio --score --instrument flute
    """
    from tunesmith.generate import GenerateOptions
    from tunesmith.generate import generate as run_generate

    with user_errors():
        options = GenerateOptions(
            length=length,
            bars=bars,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            num=num,
            seed_notes=seed_notes,
            primer=str(primer) if primer else None,
            tempo=tempo,
            key=key,
            instrument=instrument,
            seed=seed,
            prefix=prefix,
            device=device,
            audio=audio,
            score=score,
            soundfont=str(soundfont) if soundfont else None,
        )
        results = run_generate(run, out, options)
    for r in results:
        extra = "".join(f" + {p.suffix[1:]}" for p in (r.wav, r.musicxml, r.svg) if p)
        console.print(f"[bold]{r.midi}[/]{extra}  {r.summary}", highlight=False)
    if results and results[0].warning:
        err_console.print(f"[yellow]no audio:[/] {results[0].warning}", highlight=False)
    if results:
        console.print(
            f"piano rolls beside them (.png); random seed {results[0].melody.meta['seed']}"
        )


# ------------------------------------------------------------------------------ render


@app.command()
def render(
    midi: Path = typer.Argument(..., help="A MIDI file."),
    out: Path = typer.Option(None, "--out", "-o", help="WAV to write [default: beside it]."),
    soundfont: Path = typer.Option(None, help="SoundFont [default: the system's GM one]."),
) -> None:
    """Render a MIDI file to WAV audio with FluidSynth.

    [bold]Examples[/]

      tunesmith render out/melody-01.mid
      tunesmith render out/melody-01.mid --out song.wav --soundfont ~/sf2/MuseScore.sf2
    """
    from tunesmith.export.audio import render_wav

    with user_errors():
        wav = render_wav(midi, out, soundfont=soundfont)
    console.print(f"[bold]{wav}[/]")


# ---------------------------------------------------------------------------- evaluate


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="A run folder written by 'tunesmith train'."),
    data: Path = typer.Option(None, help="Prepared corpus [default: the run's own]."),
    samples: int = typer.Option(100, help="Melodies to generate and compare."),
    length: int = typer.Option(
        0, help="Steps per melody [default: the lengths of held-out pieces, drawn at random]."
    ),
    seed: int = typer.Option(0, help="Random seed for the samples."),
    out: Path = typer.Option(None, "--out", "-o", help="Report folder [default: RUN/eval]."),
) -> None:
    """Judge a run: held-out prediction, musical statistics, copying.

    Held-out loss, perplexity and accuracy (by onsets, holds and rests, beside always-hold
    and bigram references); generated vs held-out music on musical statistics; copying
    from the training set. Writes report.md, report.json and features.png.

    [bold]Examples[/]

      tunesmith evaluate runs/essen
      tunesmith evaluate runs/essen --samples 200 --length 512 --out reports/essen
    """
    from tunesmith.evaluate import evaluate_run, report_markdown, write_report

    if not 1 <= samples <= 10_000 or not (length == 0 or 16 <= length <= 100_000):
        err_console.print("[bold red]error:[/] --samples must be 1-10000, --length 0 or 16-100000")
        raise typer.Exit(2)
    with user_errors():
        report = evaluate_run(
            run,
            data,
            samples=samples,
            length=length,
            seed=seed,
            on_progress=lambda what: console.print(f"[dim]{what} ...[/]"),
        )
        folder = write_report(report, out or run / "eval")
    console.print(report_markdown(report).split("![features]")[0], highlight=False)
    console.print(f"report: [bold]{folder / 'report.md'}[/] (and report.json, features.png)")


# ----------------------------------------------------------------------------- inspect


@app.command()
def inspect(
    file: Path = typer.Argument(..., help="A MIDI, MusicXML, Kern or ABC file."),
    tune: int = typer.Option(1, help="Which tune of an ABC tune book."),
    bars: int = typer.Option(4, help="Bars of the encoding to show."),
    melody: str = typer.Option("highest-mean", help="Melody extraction: highest-mean or skyline."),
) -> None:
    """Show what tunesmith sees in a file: parts, key, metre, tempo, the melody and its tokens.

    [bold]Examples[/]

      tunesmith inspect song.mid
      tunesmith inspect tunes.abc --tune 3 --bars 8
    """
    from tunesmith.config import DataConfig
    from tunesmith.encodings import get_encoding
    from tunesmith.extract import choose_part, extract_melody
    from tunesmith.keys import pitch_name
    from tunesmith.sources import find_items, read_item

    with user_errors():
        items = find_items([str(file)])
        if not 1 <= tune <= len(items):
            raise ConfigError(f"--tune {tune}: {file} holds {len(items)} tune(s)")
        piece = read_item(items[tune - 1])
        config = DataConfig.from_dict({"melody": melody})
        chosen, why = choose_part(piece) if melody == "highest-mean" else (None, "skyline")
        result = extract_melody(piece, config)
    table = Table(title=f"{piece.name}  ({len(items)} tune(s) in the file)")
    for column in ("part", "notes", "range", "mean pitch", "drums", "melody"):
        table.add_column(column)
    for part in piece.parts:
        pitches = [p for _, _, p in part.notes]
        span = f"{pitch_name(min(pitches))}-{pitch_name(max(pitches))}" if pitches else "-"
        table.add_row(
            part.name,
            str(len(part.notes)),
            span,
            f"{part.mean_pitch:.1f}",
            "yes" if part.is_drum else "",
            "←" if part is chosen else "",
        )
    console.print(table)
    stated = (
        piece.key.name
        if piece.key
        else (f"tonic {pitch_name(piece.tonic)[:-1]}" if piece.tonic is not None else "none")
    )
    shift = result.meta.get("transposed", 0)
    found = result.key.transpose(-shift).name if result.key else "?"
    console.print(f"key stated: {stated}; found: {found}; transposed by {shift} semitones")
    console.print(
        f"time signature {piece.time_signature[0]}/{piece.time_signature[1]}, "
        f"tempo {piece.tempo:g} bpm; melody: {why}; {len(result.notes)} notes"
    )
    tokens = get_encoding(config).encode(result)
    per_bar = result.steps_per_bar
    for b in range(min(bars, -(-len(tokens) // per_bar))):
        console.print(
            f"bar {b + 1:>3}: " + " ".join(tokens[b * per_bar : (b + 1) * per_bar]), highlight=False
        )


# -------------------------------------------------------------------------------- info


@app.command()
def info(path: Path = typer.Argument(..., help="A run folder or a prepared corpus.")) -> None:
    """Describe a trained run (configs, size, training so far) or a prepared corpus.

    [bold]Examples[/]

      tunesmith info runs/essen
      tunesmith info data/essen
    """
    from tunesmith.checkpoint import read_run_info
    from tunesmith.config import read_json
    from tunesmith.prepare import is_prepared, report_from_manifest

    with user_errors():
        if is_prepared(path) and not (path / "config.json").exists():
            _print_report(report_from_manifest(read_json(path / "manifest.json"), path))
            return
        meta = read_run_info(path)
    table = Table(title=f"run: {path}", show_header=False)
    table.add_row("model", " ".join(f"{k}={v}" for k, v in meta["model"].items()))
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
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
