"""Transposition mixtures: ``python tta.py SECONDS`` trains that long (dropout 0.1), then
prints the validation NLL of the model scored as a mixture over several shift ranges."""

import json
import sys

import torch

from tunesmith.corpus.rolls import load_rolls
from tunesmith.learn.models.poly import PolyModelConfig
from tunesmith.learn.poly_nll import mean_nll
from tunesmith.learn.train_poly import PolyTrainConfig, train_poly

JSB = "/work/shared/data/jsb/JSB_Chorales.mat"


def main() -> None:
    torch.set_num_threads(1)
    d = load_rolls(JSB)
    res = train_poly(
        d["traindata"],
        d["validdata"],
        PolyModelConfig(dropout=0.1),
        PolyTrainConfig(time_limit=float(sys.argv[1])),
        lambda row: print(json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True),
    )
    for shifts in [(0,), (-1, 0, 1), range(-2, 3), range(-3, 4), range(-6, 6)]:
        print(tuple(shifts), mean_nll(res.model, d["validdata"], shifts=shifts), flush=True)


if __name__ == "__main__":
    main()
