"""JSB Chorales test NLL (nats per time step) of the chorale model, and the levers tried.

The same measurement as ``tunesmith bench poly --data ../shared/data/jsb/JSB_Chorales.mat``
(``bench_poly``: train on traindata, keep the epoch with the best validdata NLL, score
testdata), with the command's defaults. ``--set key=value`` changes one model or training
setting (a lever) and ``--name`` files the result as ``results-<name>.json`` so that each
lever keeps its own figures; without them the run writes ``results.json``.

Run: ``python benchmarks/poly/run.py`` (about 30 minutes; run it under
``flock /tmp/tunesmith-heavy.lock`` on a shared machine), or ``--quick``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

from tunesmith.learn.models.poly import PolyModelConfig
from tunesmith.learn.poly_bench import bench_poly
from tunesmith.learn.train_poly import PolyTrainConfig

JSB = common.SHARED_DATA / "jsb" / "JSB_Chorales.mat"


def _overrides(pairs: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``key=value`` pairs split into model and training settings, typed by their defaults."""
    model_defaults, train_defaults = PolyModelConfig().to_dict(), PolyTrainConfig().to_dict()
    model: dict[str, Any] = {}
    train: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key in model_defaults:
            model[key] = type(model_defaults[key])(value)
        elif key in train_defaults:
            train[key] = type(train_defaults[key])(value)
        else:
            sys.exit(f"unknown setting {key!r}; known: {sorted(model_defaults | train_defaults)}")
    return model, train


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=JSB, help="a .mat of piano rolls")
    p.add_argument("--set", action="append", default=[], help="key=value, e.g. dropout=0.5")
    p.add_argument("--name", default="", help="write results-<name>.json (a lever's run)")
    p.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's choice")
    args = p.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model, train = _overrides(args.set)
    if args.quick:
        model = {"hidden_size": 32, "decoder_size": 32, **model}
        train = {"max_epochs": 2, **train}
    common.progress(common.describe_machine())
    results = bench_poly(
        args.data,
        PolyModelConfig(**model),
        PolyTrainConfig(**train),
        on_epoch=lambda r: common.progress(
            f"epoch {r['epoch']}: train {r['train_nll']:.3f} valid {r['valid_nll']:.3f}"
        ),
    )
    common.print_table(
        f"{args.data.name}: NLL per time step (nats)",
        ["model", "valid", "test"],
        [
            [
                "trivial (independent keys)",
                results["trivial"]["valid_nll"],
                results["trivial"]["test_nll"],
            ],
            ["tunesmith poly", results["valid_nll"], results["test_nll"]],
        ],
    )
    params = {"data": str(args.data), "set": args.set, "threads": torch.get_num_threads()}
    if args.name and not args.quick:
        path = Path(__file__).resolve().parent / f"results-{args.name}.json"
        data = {"benchmark": "poly", "machine": common.machine(), "params": params}
        path.write_text(json.dumps({**data, "results": results}, indent=2) + "\n")
        print(f"wrote {path}")
    else:
        common.write_results(__file__, "poly", args.quick, params, results)


if __name__ == "__main__":
    main()
