import sys, time, json, torch
torch.set_num_threads(1)
from tunesmith.train_poly import *
from tunesmith.models.poly import PolyModelConfig
d = load_rolls('/work/shared/data/jsb/JSB_Chorales.mat')
res = train_poly(d['traindata'], d['validdata'], PolyModelConfig(dropout=0.1), PolyTrainConfig(time_limit=float(sys.argv[1])),
    on_epoch=lambda r: print(json.dumps({k: round(v,3) for k,v in r.items()}), flush=True))
for sh in [(0,), (-1,0,1), tuple(range(-2,3)), tuple(range(-3,4)), tuple(range(-6,6))]:
    print(sh, mean_nll(res.model, d['validdata'], shifts=sh), flush=True)
