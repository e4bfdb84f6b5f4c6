"""Commands that make and judge music: generate, render, evaluate."""

from __future__ import annotations

from pathlib import Path

import typer

from tunesmith.cli.app import app, console, err_console, user_errors
from tunesmith.errors import ConfigError

# ---------------------------------------------------------------------------- generate


@app.command()
def generate(
    run: Path = typer.Argument(
        ..., help="A run folder written by 'tunesmith train', or a shipped model: essen, chorales."
    ),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Folder for the MIDI files."),
    length: int = typer.Option(256, help="New steps to generate (a step is a sixteenth)."),
    bars: int = typer.Option(
        0, help="Generate this many bars (the opening's metre; 4/4 from seed notes) instead."
    ),
    temperature: float = typer.Option(
        0.9, help="Below 1: safer; above 1: bolder (0.9: real tunes' repetition, see Form)."
    ),
    top_k: int = typer.Option(0, help="Sample only from the K likeliest tokens (0 = off)."),
    top_p: float = typer.Option(
        1.0, help="Sample from the smallest set holding this much probability (1 = off)."
    ),
    endings: int = typer.Option(
        None,
        help="Sample the last two bars this many times and keep the best (models with "
        "form inputs). \\[default: 8; without form inputs: 1]",
    ),
    num: int = typer.Option(4, "--num", "-n", help="How many melodies."),
    seed_notes: str = typer.Option(
        None,
        help="Start from these notes: '60,62,64', 'C4 D4 E4' "
        "(quarter notes), or an encoded string '60 _ _ _ 62 _'.",
    ),
    primer: Path = typer.Option(None, help="Start from the melody of this file."),
    tempo: float = typer.Option(None, help="Beats per minute. \\[default: the primer's, else 120]"),
    key: str = typer.Option(None, help="Move the result to this tonic, e.g. G, 'F# minor', Bbm."),
    instrument: str = typer.Option("piano", help="General MIDI name or program number."),
    seed: int = typer.Option(None, help="Random seed, for the same output again."),
    prefix: str = typer.Option("melody", help="File name prefix."),
    audio: bool = typer.Option(False, "--audio", help="Also render a WAV with FluidSynth."),
    score: bool = typer.Option(False, "--score", help="Also write MusicXML and an engraved SVG."),
    copy_guard: float = typer.Option(
        2.0,
        help="Never copy this many bars (of the melody's metre) verbatim from a training "
        "piece (0 = off).",
    ),
    soundfont: Path = typer.Option(None, help="SoundFont for --audio \\[default: the system's]."),
    device: str = typer.Option("cpu", help="cpu is fastest for one melody at a time."),
    harmonize: Path = typer.Option(
        None, help="Poly runs: keep this file's melody as the top voice, sample those below."
    ),
    chords: str = typer.Option(
        None,
        help="Write the melody over these chords, repeated for its length: 'C G Am F' (one a "
        "bar) or 'C:2 G:2' (in beats); a second MIDI track plays them (a model trained on a "
        "corpus prepared with --chords).",
    ),
    chords_from: Path = typer.Option(
        None, help="Instead of --chords: the chords under this file's melody, in its metre."
    ),
    style: str = typer.Option(
        None,
        help="A model trained on a corpus prepared with --style: write in this style "
        "(tunesmith info RUN lists them). \\[default: each opening's own]",
    ),
) -> None:
    """Generate melodies as MIDI files, each with a piano-roll PNG beside it.

    No melody copies two bars or more verbatim from a training piece: the copy guard
    (--copy-guard BARS) forbids each note that would complete such a run.

    A poly run (from [bold]tunesmith train[/] on a corpus prepared with --encoding poly, or
    [bold]tunesmith bench poly --save[/]) writes multi-voice MIDI instead: one track a voice
    (--length counts sixteenths, as ever).

    [bold]Examples[/]

      tunesmith generate essen --out out/            (the shipped model: no training)
      tunesmith generate runs/essen --out out/
      tunesmith generate runs/essen --seed-notes "C4 D4 E4" --key G --bars 16 --num 8
      tunesmith generate runs/essen --primer tune.mid --temperature 0.8 --top-p 0.95
      tunesmith generate runs/essen --num 1 --audio --score --instrument flute
      tunesmith generate runs/chorales --num 2 --bars 8
      tunesmith generate runs/chorales --harmonize melody.mid --num 2
      tunesmith generate runs/nottingham-chords --chords "G C D G" --bars 16
      tunesmith generate runs/styles --style irish --num 8
    """
    from tunesmith.learn.run_config import POLY, run_kind
    from tunesmith.make.sample_poly import write_chorales
    from tunesmith.shipped import resolve_run

    with user_errors():
        run = resolve_run(run)
        kind = run_kind(run)
    if harmonize or kind == POLY:
        with user_errors():
            asked = {
                "--key": key,
                "--primer": primer, "--seed-notes": seed_notes, "--score": score,
                "--audio": audio, "--copy-guard": copy_guard != 2.0,
                "--endings": endings is not None, "--instrument": instrument != "piano",
                "--soundfont": soundfont, "--chords": chords, "--chords-from": chords_from,
                "--style": style,
            }  # fmt: skip
            refused = [flag for flag, given in asked.items() if given]
            if refused:
                msg = f"{refused[0]} is not an option of the chorale model (poly run {run})"
                raise ConfigError(msg)
            name = "chorale" if prefix == "melody" else prefix
            paths = write_chorales(
                run, out, num=num, bars=bars, length=length, temperature=temperature,
                top_k=top_k, top_p=top_p, seed=seed, tempo=tempo, harmonize=harmonize,
                prefix=name,
            )  # fmt: skip
        for path in paths:
            console.print(f"wrote {path}")
        return
    from tunesmith.make.generate import GenerateOptions
    from tunesmith.make.generate import generate as run_generate

    with user_errors():
        options = GenerateOptions(
            length=length,
            bars=bars,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            endings=endings,
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
            copy_guard=copy_guard,
            chords=chords,
            chords_from=str(chords_from) if chords_from else None,
            style=style,
        )
        results = run_generate(run, out, options)
    for r in results:
        extra = "".join(f" + {p.suffix[1:]}" for p in (r.wav, r.musicxml, r.svg) if p)
        console.print(f"[bold]{r.midi}[/]{extra}  {r.summary}", highlight=False)
    if results and results[0].warning:
        err_console.print(f"[yellow]no audio:[/] {results[0].warning}", highlight=False)
    if results and copy_guard and not results[0].guard_bars:
        err_console.print(
            f"[yellow]no copy guard:[/] {run} keeps no training tokens (a run from an older "
            "tunesmith, or a corpus too large to keep); train again to have one",
            highlight=False,
        )
    if results:
        console.print(
            f"piano rolls beside them (.png); random seed {results[0].melody.meta['seed']}"
        )


# ------------------------------------------------------------------------------ render


@app.command()
def render(
    midi: Path = typer.Argument(..., help="A MIDI file."),
    out: Path = typer.Option(None, "--out", "-o", help="WAV to write \\[default: beside it]."),
    soundfont: Path = typer.Option(None, help="SoundFont \\[default: the system's GM one]."),
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
    data: Path = typer.Option(None, help="Prepared corpus \\[default: the run's own]."),
    samples: int = typer.Option(100, help="Melodies to generate and compare."),
    length: int = typer.Option(
        0,
        show_default=False,
        help="Steps per melody \\[default: the lengths of held-out pieces, drawn at random].",
    ),
    seed: int = typer.Option(0, help="Random seed for the samples."),
    copy_guard: float = typer.Option(
        2.0, help="Sample under generate's copy guard of this many bars (0 = off)."
    ),
    temperature: float = typer.Option(0.9, help="Sample at this temperature, as generate."),
    endings: int = typer.Option(
        None, help="The best of this many endings, as generate. \\[default: as generate]"
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Report folder \\[default: RUN/eval]."),
) -> None:
    """Judge a run: held-out prediction, musical statistics, form, copying.

    Held-out loss, perplexity and accuracy (by onsets, holds and rests, beside always-hold
    and bigram references); generated vs held-out music on musical statistics and on form
    (bars repeated at 1, 2, 4 and 8 bars, endings); copying from the training set. Writes
    report.md, report.json, features.png and form.png.

    [bold]Examples[/]

      tunesmith evaluate runs/essen
      tunesmith evaluate runs/essen --samples 200 --length 512 --out reports/essen
    """
    from tunesmith.judge.evaluate import evaluate_run
    from tunesmith.judge.report import report_markdown, write_report
    from tunesmith.shipped import resolve_run

    if not 1 <= samples <= 10_000 or not (length == 0 or 16 <= length <= 100_000):
        err_console.print("[bold red]error:[/] --samples must be 1-10000, --length 0 or 16-100000")
        raise typer.Exit(2)
    with user_errors():
        run = resolve_run(run)
        report = evaluate_run(
            run,
            data,
            samples=samples,
            length=length,
            seed=seed,
            copy_guard_bars=copy_guard,
            temperature=temperature,
            endings=endings,
            on_progress=lambda what: console.print(f"[dim]{what} ...[/]"),
        )
        folder = write_report(report, out or run / "eval")
    text = report_markdown(report)
    for picture in ("![features](features.png)", "![self-similarity](form.png)"):
        text = text.replace(picture, "")
    console.print(text.rstrip(), highlight=False)
    console.print(
        f"report: [bold]{folder / 'report.md'}[/] (and report.json, features.png, form.png)"
    )
