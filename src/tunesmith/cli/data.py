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
        None,
        help="Folders, files, glob patterns, bundled corpora (essen, chorales, oneills) or "
        "Essen collections by file name (han*, erk*, irl).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the prepared corpus to."),
    encoding: str = typer.Option(
        "steps",
        help="steps (a token per sixteenth), notes (a token per note: 60:1/2), "
        "events (notes and chords of the full texture: 60.64.67:1), "
        "poly (every part's sounding pitches per grid step, for the chorale model).",
    ),
    durations: str = typer.Option(
        "default",
        help="notes/events: note lengths in quarters ('1/4,1/2,1,2'); 'default' = sixteenth "
        "to whole with dotted and triplet values; 'none' = pitches only, all notes equal.",
    ),
    steps_per_quarter: int = typer.Option(
        None, help="Grid steps per quarter note (4 = sixteenths). \\[default: 4; poly: 1]"
    ),
    melody: str = typer.Option(
        "auto", help="Melody extraction: auto, highest-mean, skyline, track:NAME, track:N."
    ),
    transpose: bool = typer.Option(
        True, help="Transpose every piece to C major / A minor (poly keeps the source key)."
    ),
    augment_keys: bool = typer.Option(
        False, help="Also add each piece in every other key that stays in --pitch-range."
    ),
    pitch_range: str = typer.Option("36-96", help="MIDI pitches LOW-HIGH for --augment-keys."),
    min_notes: int = typer.Option(8, help="Skip melodies with fewer notes."),
    min_bars: float = typer.Option(0, help="Skip melodies shorter than this many bars."),
    min_pitches: int = typer.Option(1, help="Skip melodies with fewer distinct pitches."),
    max_gap_bars: float = typer.Option(
        0, help="Split a melody at a silence this many bars long (0 = never)."
    ),
    style: list[str] = typer.Option(
        None,
        help="LABEL=SOURCE[,SOURCE...] instead of SOURCES, repeated: one corpus of several "
        "styles, each piece labelled, for generate --style ('*=DIR': a style a sub-folder).",
    ),
    chords: bool = typer.Option(
        False,
        help="Also read the chords under each melody (chord symbols, else found in the other "
        "parts) for a chord-conditioned model; a piece without any is skipped.",
    ),
    report: Path = typer.Option(None, help="Also write the report as JSON to this file."),
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
      tunesmith prepare chorales --encoding poly --out data/chorales-poly
      tunesmith prepare --style irish=oneills --style chinese=han1.abc,han2.abc \\
          --style german=erk*.abc --style chorale=chorales --out data/styles
    """
    from tunesmith.config import DataConfig, check_grid

    with user_errors():
        if steps_per_quarter is not None:  # a grid asked for is used or refused
            check_grid(steps_per_quarter, encoding, durations)
        config = DataConfig.from_dict(
            {
                "encoding": encoding,
                "durations": durations,
                "steps_per_quarter": steps_per_quarter or (1 if encoding == "poly" else 4),
                "melody": melody,
                "transpose": transpose,
                "augment_keys": augment_keys,
                "pitch_range": _pitch_range(pitch_range),
                "min_notes": min_notes,
                "min_bars": min_bars,
                "min_pitches": min_pitches,
                "max_gap_bars": max_gap_bars,
                "chords": chords,
            }
        )
        if config.encoding == "poly":
            from tunesmith.corpus.poly_prepare import check_poly_options

            check_poly_options(config)  # before the progress bar: a misuse is one line
        from tunesmith.corpus.styles import parse_styles

        styles = parse_styles(style) if style else None
        if not sources and not styles:
            raise ConfigError("give SOURCES to read, or --style LABEL=SOURCES")
        result = run_prepare(
            sources or [],
            out,
            config,
            styles=styles,
            jobs=jobs,
            limit=limit,
            strict=strict,
            use_cache=cache,
            time_limit=time_limit_per_file,
        )
        print_report(result)
        if report:
            from tunesmith.config import write_json

            write_json(report, result.to_dict())
            console.print(f"report written to {report}")


def _pitch_range(text: str) -> list[int]:
    low, sep, high = text.partition("-")
    if not (sep and low.strip().isdigit() and high.strip().isdigit()):
        msg = f"--pitch-range must be LOW-HIGH in MIDI pitches, e.g. 36-96 (got {text!r})"
        raise ConfigError(msg)
    return [int(low), int(high)]


def run_prepare(sources, out, config, **kwargs):
    from tunesmith.corpus.prepare import prepare_corpus

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
    if report.augmented:
        table.add_row("  of them copies in other keys", str(report.augmented))
    table.add_row("tokens", f"{report.tokens:,}")
    table.add_row("vocabulary", str(report.vocab_size))
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)
    if report.durations:
        console.print(_distribution("note lengths (quarters)", report.durations, sort=False))
    if report.pitches:
        console.print(_distribution("pitches", _pitch_names(report.pitches), sort=True))
    for label, reason in report.skipped[:5]:
        console.print(f"  [yellow]skipped[/] {label}: {reason}", highlight=False)
    if len(report.skipped) > 5:
        console.print(
            f"  … and {len(report.skipped) - 5} more, listed in "
            f"{Path(report.out) / 'manifest.json'}"
        )


def _pitch_names(pitches: dict[str, int]) -> dict[str, int]:
    from tunesmith.keys import pitch_name

    return {f"{pitch_name(int(p))} ({p})": n for p, n in pitches.items()}


def _distribution(title: str, counts: dict[str, int], *, sort: bool, top: int = 12) -> Table:
    """A share-of-notes table of the ``top`` commonest values and one "other" row summing
    the rest (a corpus can hold dozens of lengths seen once); with ``sort`` by count, else
    in the order given. ``--report`` keeps every value."""
    total = sum(counts.values()) or 1
    common = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
    kept = {value for value, _ in common}
    shown = common if sort else [kv for kv in counts.items() if kv[0] in kept]
    rest = [n for value, n in counts.items() if value not in kept]
    table = Table(title=title)
    for column in ("value", "notes", "share", ""):
        table.add_column(column, justify="right" if column in ("notes", "share") else "left")
    rows = [*shown, (f"other ({len(rest)} more)", sum(rest))] if rest else shown
    for value, n in rows:
        table.add_row(value, f"{n:,}", f"{n / total:.1%}", "█" * round(n / total * 40))
    return table


# ----------------------------------------------------------------------------- inspect


@app.command()
def inspect(
    file: Path = typer.Argument(..., help="A MIDI, MusicXML, Kern or ABC file."),
    tune: int = typer.Option(1, help="Which tune of an ABC tune book."),
    bars: int = typer.Option(4, help="Bars of the encoding to show."),
    melody: str = typer.Option(
        "auto", help="Melody extraction: auto, highest-mean, skyline, track:NAME, track:N."
    ),
    encoding: str = typer.Option("steps", help="Encoding to show: steps, notes or events."),
    durations: str = typer.Option("default", help="notes/events: note lengths (see prepare)."),
) -> None:
    """Show what tunesmith sees in a file: parts, key, metre, tempo, the melody and its tokens.

    The table scores every part as a melody (what --melody auto weighs): monophony, a
    singable range, note density, stepwise motion, onsets off the other parts' chords.

    [bold]Examples[/]

      tunesmith inspect song.mid --melody highest-mean
      tunesmith inspect tunes.abc --tune 3 --bars 8 --encoding notes
    """
    from tunesmith.config import DataConfig
    from tunesmith.corpus.encodings import get_encoding
    from tunesmith.keys import Key, pitch_name
    from tunesmith.read.extract import choose_part, extract_melody, melody_scores
    from tunesmith.read.sources import find_items, read_item

    with user_errors():
        items = find_items([str(file)])
        if not 1 <= tune <= len(items):
            raise ConfigError(f"--tune {tune}: {file} holds {len(items)} tune(s)")
        piece = read_item(items[tune - 1])
        config = DataConfig.from_dict(
            {"melody": melody, "encoding": encoding, "durations": durations}
        )
        result = extract_melody(piece, config)
        chosen = None
        if melody != "skyline" and encoding != "events":
            chosen, _ = choose_part(piece, melody)
        encoder = get_encoding(config)
        tokens = encoder.encode(result)
    scores = melody_scores(piece)
    table = Table(title=f"{piece.name}  ({len(items)} tune(s) in the file)")
    for column in ("#", "part", "notes", "range", "mean pitch", "drums", "melody"):
        table.add_column(column)
    features = ("monophony", "range", "density", "stepwise", "off_chord", "top", "name")
    why = Table(title="melody scores (0-1 each; --melody auto takes the best weighted total)")
    labels = ("mono", "range", "density", "steps", "off-chord", "top", "name", "total")
    for column in ("#", *labels):
        why.add_column(column, justify="right")
    for i, part in enumerate(piece.parts, start=1):
        pitches = [p for _, _, p in part.notes]
        span = f"{pitch_name(min(pitches))}-{pitch_name(max(pitches))}" if pitches else "-"
        table.add_row(
            str(i),
            part.name,
            str(len(part.notes)),
            span,
            f"{part.mean_pitch:.1f}",
            "yes" if part.is_drum else "",
            "←" if part is chosen else "",
        )
        if id(part) in scores:
            score = scores[id(part)]
            why.add_row(str(i), *(f"{score[f]:.2f}" for f in (*features, "total")))
    console.print(table)
    console.print(why)
    stated = "none"
    if piece.key:
        stated = piece.key.name
    elif piece.tonic is not None:
        stated = f"tonic {pitch_name(60 + piece.tonic)[:-1]}"
    elif piece.sharps is not None:
        major, minor = Key.of_signature(piece.sharps)
        stated = f"signature of {major.name} or {minor.name}"
    shift = result.meta.get("transposed", 0)
    found = result.key.transpose(-shift).name if result.key else "?"
    console.print(f"key stated: {stated}; found: {found}; transposed by {shift} semitones")
    console.print(
        f"time signature {piece.time_signature[0]}/{piece.time_signature[1]}, "
        f"tempo {piece.tempo:g} bpm; melody: {result.meta['melody']}; {len(result.notes)} notes"
    )
    for b, bar in enumerate(_bars(encoder, tokens, result.steps_per_bar)[:bars], start=1):
        console.print(f"bar {b:>3}: " + " ".join(bar), highlight=False)


def _bars(encoder, tokens: list[str], steps_per_bar: int) -> list[list[str]]:
    """Tokens grouped by the bar they start in."""
    out: list[list[str]] = []
    at = 0
    for token in tokens:
        bar = at // steps_per_bar
        while len(out) <= bar:
            out.append([])
        out[bar].append(token)
        at += encoder.steps([token])
    return out
