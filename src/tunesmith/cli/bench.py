"""The bench command group: external yardsticks of model quality (``tunesmith bench poly``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tunesmith.cli.app import app, console, user_errors

bench_app = typer.Typer(
    help="Measure models on standard benchmarks against published figures.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

# Published test NLL on JSB Chorales (nats per time step), for the table beside ours.
PUBLISHED_JSB = [
    ("LSTM (Chung et al. 2014)", 8.67),
    ("GRU (Chung et al. 2014)", 8.54),
    ("LSTM (Bai et al. 2018)", 8.45),
    ("GRU (Bai et al. 2018)", 8.43),
    ("TCN (Bai et al. 2018)", 8.10),
    ("RNN-NADE (Boulanger-Lewandowski et al. 2012)", 5.19),
    ("DBN-LSTM (Vohra et al. 2015)", 3.47),
]

# ---------------------------------------------------------------------------- bench poly


@bench_app.command("poly")
def poly(
    data: Path = typer.Option(
        ..., help="A .mat file with traindata/validdata/testdata piano rolls (T x 88)."
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Results JSON. \\[default: bench-poly-<data name>.json]"
    ),
    time_limit: float = typer.Option(
        None, help="Seconds of training; the best epoch so far is kept. \\[default: 1680]"
    ),
    max_epochs: int = typer.Option(None, help="\\[default: 500]"),
    early_stopping: int = typer.Option(
        None, help="Stop after N epochs without a better validation NLL. \\[default: 50]"
    ),
    batch_size: int = typer.Option(
        None, help="Sequences (lanes of windows) per step. \\[default: 8]"
    ),
    window_frames: int = typer.Option(
        None,
        help="Frames per training window, the frame LSTM's state carried from one to the "
        "next; 0 = whole pieces. \\[default: 128]",
    ),
    learning_rate: float = typer.Option(None, "--learning-rate", "--lr", help="\\[default: 0.002]"),
    weight_decay: float = typer.Option(None, help="AdamW decay. \\[default: 0.01]"),
    transpose: int = typer.Option(
        None, help="Train each piece in a random key, -N..N-1 semitones; 0 = off. \\[default: 6]"
    ),
    hidden_size: int = typer.Option(None, help="Frame LSTM units. \\[default: 256]"),
    num_layers: int = typer.Option(None, help="Frame LSTM layers. \\[default: 1]"),
    decoder_size: int = typer.Option(None, help="Token decoder width. \\[default: 256]"),
    dropout: float = typer.Option(None, help="\\[default: 0.3]"),
    lr_schedule: str = typer.Option(
        None, help="cosine (down to 2 % over the time limit) or plateau. \\[default: cosine]"
    ),
    keep: int = typer.Option(
        None, help="Score a mixture of the K best epochs' weights. \\[default: 3]"
    ),
    shifts: int = typer.Option(
        None, help="Score a mixture over transpositions -N..N of each frame. \\[default: 6]"
    ),
    seed: int = typer.Option(None, help="Random seed. \\[default: 0]"),
    device: str = typer.Option(None, help="auto, cpu, cuda, cuda:N or mps. \\[default: auto]"),
    # One thread: the matrices are small, and on a shared machine a second thread waits for
    # cores that other jobs hold (2 threads took 15 s an epoch under load, 1 thread ~3 s).
    threads: int = typer.Option(1, help="CPU threads for torch; 0 = torch's choice."),
    save: Path = typer.Option(
        None, help="Also save the chosen model as a run folder, for 'tunesmith generate'."
    ),
) -> None:
    """Train the chorale model on a polyphonic benchmark and report NLL per time step.

    Trains on [bold]traindata[/], keeps the epoch with the best [bold]validdata[/] NLL (early
    stopping, a time budget), and reports validation and test negative log-likelihood in nats
    per time step as the literature computes it (frames 2..T predicted, -log p of the whole
    88-key frame), beside a trivial model (each key on with its training frequency).

    [bold]Examples[/]

      tunesmith bench poly --data ../shared/data/jsb/JSB_Chorales.mat
      tunesmith bench poly --data Nottingham.mat --time-limit 600 --out nottingham.json
      tunesmith bench poly --data JSB_Chorales.mat --save runs/jsb  (then: generate runs/jsb)
    """
    import torch

    from tunesmith.config import write_json
    from tunesmith.learn.device import cpu_model
    from tunesmith.learn.models.poly import PolyModelConfig
    from tunesmith.learn.poly_bench import bench_poly
    from tunesmith.learn.train_poly import PolyTrainConfig

    def given(**flags: Any) -> dict[str, Any]:
        return {k: v for k, v in flags.items() if v is not None}

    with user_errors():
        model_config = PolyModelConfig.from_dict(
            given(
                hidden_size=hidden_size,
                num_layers=num_layers,
                decoder_size=decoder_size,
                dropout=dropout,
            )
        )
        train_config = PolyTrainConfig.from_dict(
            given(
                time_limit=time_limit,
                max_epochs=max_epochs,
                early_stopping=early_stopping,
                batch_size=batch_size,
                window_frames=window_frames,
                learning_rate=learning_rate,
                weight_decay=weight_decay,
                transpose=transpose,
                lr_schedule=lr_schedule,
                keep=keep,
                shifts=shifts,
                seed=seed,
                device=device,
            )
        )
        if threads:
            torch.set_num_threads(threads)

        def show(row: dict[str, Any]) -> None:
            console.print(
                f"epoch {row['epoch']:4d}  train {row['train_nll']:.3f}  "
                f"valid {row['valid_nll']:.3f}  {row['s']:7.0f} s",
                highlight=False,
            )

        results = bench_poly(data, model_config, train_config, on_epoch=show, save_to=save)
    if not results:  # another process than torchrun's first: it reports
        return
    results["machine"] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    out = out or Path(f"bench-poly-{data.stem}.json")
    write_json(out, results)
    _print_results(results, jsb=data.stem.lower().startswith("jsb"))
    console.print(f"results written to {out}")


def _print_results(results: dict[str, Any], jsb: bool) -> None:
    table = Table(title="negative log-likelihood, nats per time step")
    table.add_column("model")
    table.add_column("valid", justify="right")
    table.add_column("test", justify="right")
    table.add_row(
        "trivial (independent keys)",
        *(f"{results['trivial'][k]:.2f}" for k in ("valid_nll", "test_nll")),
    )
    if jsb:
        for name, figure in PUBLISHED_JSB:
            table.add_row(f"[dim]{name}[/]", "", f"[dim]{figure:.2f}[/]")
    table.add_row(
        f"[bold]tunesmith poly[/] ({results['parameters']:,} parameters, "
        f"{results['train_seconds'] / 60:.1f} min, epoch {results['best_epoch']})",
        f"[bold]{results['valid_nll']:.2f}[/]",
        f"[bold]{results['test_nll']:.2f}[/]",
    )
    single = results["single"]
    table.add_row(
        "  the best epoch alone, untransposed",
        f"{single['valid_nll']:.2f}",
        f"{single['test_nll']:.2f}",
    )
    console.print(table)
    console.print(
        f"{results['epochs']} epochs ({results['stopped_by']}), "
        f"{results['epochs'] / max(results['train_seconds'], 1e-9) * 60:.1f} a minute; "
        f"scored in {results['score_seconds']:.0f} s",
        highlight=False,
    )
