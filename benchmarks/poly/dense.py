"""A long, dense piano-roll set for the chorale model, and how fast it trains and scores.

The set: music21's bundled string quartets and sonatas (Beethoven, Mozart, Haydn: every
part together, ``prepare --encoding poly --steps-per-quarter 2``, an eighth-note grid), split
by piece 80/10/10 into a ``.mat`` as the benchmark sets are (``traindata``, ``validdata``,
``testdata``), so that ``tunesmith bench poly --data runs/poly-dense/dense.mat`` runs on it
unchanged. Its pieces hold thousands of frames of up to a dozen notes, where JSB's hold ~60
frames of four.

Run: ``python benchmarks/poly/dense.py`` builds the set (once; minutes, music21 reads the
scores) and prints its shape; ``--time-limit S`` then runs ``bench_poly`` on it with the
command's defaults (``--set key=value`` to change one) and writes epochs per minute, the
validation curve and the scoring time to ``results-dense[-NAME].json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

RUNS = common.REPO / "runs" / "poly-dense"
COMPOSERS = {"beethoven": ("*.mxl", "*/*.mxl"), "mozart": ("*/*.mxl",), "haydn": ("*/*.mxl",)}


def build(folder: Path = RUNS) -> Path:
    """The dense set as a .mat (prepared once, then reused)."""
    import music21
    import scipy.io

    from tunesmith.corpus.poly_prepare import load_poly_corpus

    mat = folder / "dense.mat"
    if mat.exists():
        return mat
    corpus = Path(music21.__file__).parent / "corpus"
    sources = [str(corpus / c / g) for c, globs in COMPOSERS.items() for g in globs]
    prepared = folder / "prepared"
    if not (prepared / "manifest.json").exists():
        cmd = [sys.executable, "-m", "tunesmith", "prepare", *sources, "--encoding", "poly"]
        cmd += ["--steps-per-quarter", "2", "--time-limit-per-file", "900", "--out", str(prepared)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rolls, _ = load_poly_corpus(prepared)
    order = np.random.default_rng(0).permutation(len(rolls))
    tenth = max(1, len(rolls) // 10)
    parts = {"testdata": order[:tenth], "validdata": order[tenth : 2 * tenth],
             "traindata": order[2 * tenth :]}  # fmt: skip
    cells = {}
    for name, idx in parts.items():
        cell = np.empty((1, len(idx)), dtype=object)
        for j, i in enumerate(idx):
            cell[0, j] = rolls[i].astype(np.float64)
        cells[name] = cell
    scipy.io.savemat(mat, cells)
    return mat


def shape(mat: Path) -> list[list]:
    from tunesmith.corpus.rolls import SPLITS, load_rolls

    rows = []
    for name, rolls in zip(SPLITS, load_rolls(mat).values(), strict=True):
        frames = np.array([len(r) for r in rolls])
        notes = np.concatenate(rolls).sum(1)
        rows.append([name, len(rolls), int(np.median(frames)), int(frames.max()),
                     int(frames.sum()), float(notes.mean()), int(notes.max())])  # fmt: skip
    return rows


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--time-limit", type=float, default=0, help="then bench_poly for S seconds")
    p.add_argument("--set", action="append", default=[], help="key=value, as in run.py")
    p.add_argument("--name", default="", help="write results-dense-<name>.json")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    mat = build()
    common.print_table(
        f"{mat}: pieces and frames",
        ["split", "pieces", "median frames", "longest", "frames", "notes/frame", "most notes"],
        shape(mat),
    )
    if not args.time_limit:
        return
    import torch

    from tunesmith.learn.models.poly import PolyModelConfig
    from tunesmith.learn.poly_bench import bench_poly
    from tunesmith.learn.train_poly import PolyTrainConfig

    torch.set_num_threads(args.threads)
    run = common.load_script("poly")
    model, train = run._overrides(args.set)
    config = PolyTrainConfig(**{**train, "time_limit": args.time_limit})
    results = bench_poly(
        mat, PolyModelConfig(**model), config,
        on_epoch=lambda r: common.progress(
            f"epoch {r['epoch']} ({r['s']:.0f} s): train {r['train_nll']:.3f} "
            f"valid {r['valid_nll']:.3f}"
        ),
    )  # fmt: skip
    results["epochs_per_minute"] = results["epochs"] / results["train_seconds"] * 60
    common.print_table(
        f"{mat.name}: {args.set or 'defaults'}",
        ["epochs/min", "epochs", "valid (mixture)", "test (mixture)", "test (single)", "scoring s"],
        [[results["epochs_per_minute"], results["epochs"], results["valid_nll"],
          results["test_nll"], results["single"]["test_nll"], results["score_seconds"]]],
    )  # fmt: skip
    name = f"results-dense-{args.name}.json" if args.name else "results-dense.json"
    out = Path(__file__).resolve().parent / name
    params = {"set": args.set, "threads": args.threads, "time_limit": args.time_limit}
    data = {"benchmark": "poly-dense", "machine": common.machine(), "params": params}
    out.write_text(json.dumps({**data, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
