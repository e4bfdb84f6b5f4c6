import sys, time, json, torch
torch.set_num_threads(1)
from tunesmith.train_poly import *
from tunesmith.models.poly import PolyModelConfig
args = dict(a.split("=") for a in sys.argv[1:])
mc = {k:type(getattr(PolyModelConfig(),k))(v) for k,v in args.items() if hasattr(PolyModelConfig(),k)}
tc = {k:type(getattr(PolyTrainConfig(),k))(v) for k,v in args.items() if hasattr(PolyTrainConfig(),k)}
d = load_rolls('/work/shared/data/jsb/JSB_Chorales.mat')
print("bernoulli", bernoulli_nll(d['traindata'], d['testdata']), flush=True)
res = train_poly(d['traindata'], d['validdata'], PolyModelConfig(**mc), PolyTrainConfig(**tc),
    on_epoch=lambda r: print(json.dumps({k: round(v,3) for k,v in r.items()}), flush=True))
print("best", res.best_epoch, res.best_valid_nll, "test", mean_nll(res.model, d['testdata']), res.stopped_by, sum(p.numel() for p in res.model.parameters()))
