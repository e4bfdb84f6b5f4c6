"""One exploratory JSB run: ``python explore.py key=value ...`` (model or training settings).

Prints the trivial model's test NLL, one JSON line per epoch, then the best epoch, its
validation and test NLL, why training stopped and the parameter count. Ran niced with one
thread beside other jobs; the logs in this folder are its output.
"""

import json
import sys

import torch

from tunesmith.corpus.rolls import load_rolls
from tunesmith.learn.models.poly import PolyModelConfig
from tunesmith.learn.poly_nll import bernoulli_nll, mean_nll
from tunesmith.learn.train_poly import PolyTrainConfig, train_poly

JSB = "/work/shared/data/jsb/JSB_Chorales.mat"


def typed(defaults: dict, pairs: dict) -> dict:
    return {k: type(defaults[k])(v) for k, v in pairs.items() if k in defaults}


def main() -> None:
    torch.set_num_threads(1)
    pairs = dict(a.split("=", 1) for a in sys.argv[1:])
    model_config = PolyModelConfig(**typed(PolyModelConfig().to_dict(), pairs))
    train_config = PolyTrainConfig(**typed(PolyTrainConfig().to_dict(), pairs))
    d = load_rolls(JSB)
    print("bernoulli", bernoulli_nll(d["traindata"], d["testdata"]), flush=True)

    def show(row: dict) -> None:
        print(json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)

    res = train_poly(d["traindata"], d["validdata"], model_config, train_config, show)
    test = mean_nll(res.model, d["testdata"])
    size = sum(p.numel() for p in res.model.parameters())
    print("best", res.best_epoch, res.best_valid_nll, "test", test, res.stopped_by, size)


if __name__ == "__main__":
    main()
