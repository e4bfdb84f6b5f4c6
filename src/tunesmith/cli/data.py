"""Commands about music and corpora: prepare, inspect, info."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tunesmith.cli.app import app, console, progress_bar, user_errors
from tunesmith.errors import ConfigError

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
        report = run_prepare(
            sources,
            out,
            config,
            jobs=jobs,
            limit=limit,
            strict=strict,
            use_cache=cache,
            time_limit=time_limit_per_file,
        )
        print_report(report)


def run_prepare(sources, out, config, **kwargs):
    from tunesmith.prepare import prepare_corpus

    with progress_bar() as progress:
        task = progress.add_task("reading music", total=None, info="")

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return prepare_corpus(sources, out, config, on_progress=on_progress, **kwargs)


def print_report(report) -> None:
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
