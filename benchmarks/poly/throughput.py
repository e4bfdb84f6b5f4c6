"""Epochs per minute and scoring time of the chorale model, before and after a change.

Trains ``--epochs`` epochs of the default model on a ``.mat`` set (plateau schedule, so that
the time limit plays no part) and scores the test split as ``bench poly`` reports it: the
mixture of the kept epochs (up to 3) over 13 transpositions. It uses only ``train_poly`` and
``mean_nll``, so it runs on older code too: to measure a commit, put its ``src`` first on the
path::

    git worktree add /tmp/before 70ce984
    PYTHONPATH=/tmp/before/src python benchmarks/poly/throughput.py --label before
    python benchmarks/poly/throughput.py --label after

Results go to ``results-throughput-<label>-<set>.json``. Run the two side by side (each on
one thread of the 2 cores) or alone, and say which.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=common.SHARED_DATA / "jsb" / "JSB_Chorales.mat")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--label", default="after")
    args = p.parse_args()
    import torch

    import tunesmith
    from tunesmith.corpus.rolls import load_rolls
    from tunesmith.learn.models.poly import PolyModelConfig
    from tunesmith.learn.poly_nll import mean_nll
    from tunesmith.learn.train_poly import PolyTrainConfig, train_poly

    torch.set_num_threads(args.threads)
    splits = load_rolls(args.data)
    config = PolyTrainConfig(max_epochs=args.epochs, time_limit=1e9, lr_schedule="plateau")
    result = train_poly(splits["traindata"], splits["validdata"], PolyModelConfig(), config)
    started = time.perf_counter()
    test = mean_nll(result.kept, splits["testdata"], shifts=range(-6, 7))
    scoring = time.perf_counter() - started
    seconds = result.history[-1]["s"]  # training and the epochs' validation
    results = {
        "code": str(Path(tunesmith.__file__).parents[1]),
        "epochs": args.epochs,
        "seconds_per_epoch": seconds / args.epochs,
        "epochs_per_minute": args.epochs / seconds * 60,
        "valid_nll": [h["valid_nll"] for h in result.history],
        "test_mixture_nll": test,
        "test_mixture_models": len(result.kept),
        "test_mixture_seconds": scoring,
    }
    common.print_table(
        f"{args.data.name}, {args.label} ({results['code']})",
        ["s/epoch", "epochs/min", "valid after", f"test mixture ({len(result.kept)} x 13) s"],
        [[results["seconds_per_epoch"], results["epochs_per_minute"], results["valid_nll"][-1],
          scoring]],
    )  # fmt: skip
    out = Path(__file__).resolve().parent / f"results-throughput-{args.label}-{args.data.stem}.json"
    params = {"data": str(args.data), "threads": args.threads, "label": args.label}
    data = {"benchmark": "poly-throughput", "machine": common.machine(), "params": params}
    out.write_text(json.dumps({**data, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
