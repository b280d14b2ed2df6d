"""The bias and explanation report's peer (bench/responsible_ai.sh): the same work as
fraudops_responsible_ai_bench in Python — pandas read_csv, xgboost's pred_contribs for every
row (exact TreeSHAP in libxgboost), partial dependence of the top 3 features, and every bias
metric of one facet with numpy, 1,000 bootstrap resamples of the rows and the flip test on
5,000 rows of each group. Prints one JSON line of timings.
Usage: peer_responsible_ai.py MODEL_JSON DATA_CSV FACET_COLUMN THRESHOLD SCORE_THRESHOLD THREADS"""
import json
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

model_path, data_path, facet_column = sys.argv[1:4]
facet_threshold, score_threshold, threads = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
start = time.perf_counter()
booster = xgb.Booster()
booster.load_model(model_path)
booster.set_param({"nthread": threads})
frame = pd.read_csv(data_path)
features = booster.feature_names
X = frame[features].to_numpy(dtype=np.float32)
y = frame["Class"].to_numpy() == 1
read_s = time.perf_counter() - start

t = time.perf_counter()
matrix = xgb.DMatrix(X, feature_names=features, nthread=threads)
contribs = booster.predict(matrix, pred_contribs=True)
margin = booster.predict(matrix, output_margin=True)
mean_abs = np.abs(contribs[:, :-1]).mean(axis=0)
additivity = float(np.max(np.abs(contribs.sum(axis=1) - margin)))
top = np.argsort(-mean_abs)[:3]
n = len(X)
pd_rows = ((2 * np.arange(1000) + 1) * n) // 2000
for f in top:
    values = np.sort(X[:, f][~np.isnan(X[:, f])])
    grid = np.unique(values[((np.arange(20) + 0.5) / 20 * (len(values) - 1)).astype(int)])
    mean = []
    for v in grid:
        batch = X[pd_rows].copy()
        batch[:, f] = v
        p = booster.inplace_predict(batch)
        mean.append(float(p.mean()))
explain_s = time.perf_counter() - t

t = time.perf_counter()
prob = 1 / (1 + np.exp(-margin.astype(np.float64)))
pred = prob >= score_threshold
facet = frame[facet_column].to_numpy() > facet_threshold
code = facet.astype(np.int64) * 4 + y.astype(np.int64) * 2 + pred.astype(np.int64)


def div(a, b):
    if b == 0:
        return 0.0 if a == 0 else (np.inf if a > 0 else -np.inf)
    return a / b


def diff(x, z):
    return 0.0 if (np.isinf(x) and x == z) else x - z


def metrics(counts):
    # counts[f*4 + y*2 + p]
    c = counts.reshape(2, 2, 2).astype(np.float64)
    out = {}
    n_ = c.sum(axis=(1, 2))
    pos = c[:, 1, :].sum(axis=1)
    pp = c[:, :, 1].sum(axis=1)
    tp, fn, fp, tn = c[:, 1, 1], c[:, 1, 0], c[:, 0, 1], c[:, 0, 0]
    a, d = 0, 1
    if n_[a] == 0 or n_[d] == 0:
        return out
    out["CI"] = (n_[a] - n_[d]) / (n_[a] + n_[d])
    out["DPL"] = pos[a] / n_[a] - pos[d] / n_[d]
    pa = np.array([1 - pos[a] / n_[a], pos[a] / n_[a]])
    pdd = np.array([1 - pos[d] / n_[d], pos[d] / n_[d]])
    keep = (pa > 0) & (pdd > 0)
    pa, pdd = pa[keep], pdd[keep]
    m = (pa + pdd) / 2
    out["KL"] = float(np.sum(pa * np.log(pa / pdd)))
    out["JS"] = float(0.5 * (np.sum(pa * np.log(pa / m)) + np.sum(pdd * np.log(pdd / m))))
    out["LP"] = float(np.sqrt(np.sum((pa - pdd) ** 2)))
    out["TVD"] = float(0.5 * np.sum(np.abs(pa - pdd)))
    out["KS"] = float(np.max(np.abs(pa - pdd)))
    out["DPPL"] = pp[a] / n_[a] - pp[d] / n_[d]
    out["DI"] = div(pp[d] / n_[d], pp[a] / n_[a])
    out["DCA"] = diff(div(pos[a], pp[a]), div(pos[d], pp[d]))
    out["DCR"] = diff(div(n_[d] - pos[d], n_[d] - pp[d]), div(n_[a] - pos[a], n_[a] - pp[a]))
    out["RD"] = diff(div(tp[a], tp[a] + fn[a]), div(tp[d], tp[d] + fn[d]))
    out["SD"] = diff(div(tn[d], tn[d] + fp[d]), div(tn[a], tn[a] + fp[a]))
    out["DAR"] = diff(div(tp[a], pp[a]), div(tp[d], pp[d]))
    out["DRR"] = diff(div(tn[d], n_[d] - pp[d]), div(tn[a], n_[a] - pp[a]))
    out["AD"] = diff(div(tp[a] + tn[a], n_[a]), div(tp[d] + tn[d], n_[d]))
    out["TE"] = diff(div(fn[d], fp[d]), div(fn[a], fp[a]))
    total = n_.sum()
    zero, two = fn.sum(), fp.sum()
    one = total - zero - two
    mu = (one + 2 * two) / total
    out["GE"] = (-zero + one * (1 / mu ** 2 - 1) + two * (4 / mu ** 2 - 1)) / (2 * total)
    return out


values = metrics(np.bincount(code, minlength=8))
rng = np.random.default_rng(42)
resamples = {k: [] for k in values}
for _ in range(1000):
    counts = np.bincount(code[rng.integers(0, n, n)], minlength=8)
    for k, v in metrics(counts).items():
        resamples[k].append(v)
with np.errstate(invalid="ignore"):  # infinite resamples (x/0) leave NaN percentiles
    intervals = {k: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5)))
                 for k, v in resamples.items()}
# Flip test: 5,000 rows of each group, evenly taken; k = 5 nearest rows of a vote.
ra, rd = np.flatnonzero(~facet), np.flatnonzero(facet)
ra = ra[((2 * np.arange(min(5000, len(ra))) + 1) * len(ra)) // (2 * min(5000, len(ra)))]
rd = rd[((2 * np.arange(min(5000, len(rd))) + 1) * len(rd)) // (2 * min(5000, len(rd)))]
Xa, Xd = X[ra].astype(np.float64), X[rd].astype(np.float64)
flips = 0
for s in range(0, len(Xd), 500):
    block = Xd[s:s + 500]
    dist = (block ** 2).sum(1)[:, None] + (Xa ** 2).sum(1)[None, :] - 2 * block @ Xa.T
    nearest = np.argpartition(dist, 5, axis=1)[:, :5]
    vote = pred[ra][nearest].sum(axis=1) * 2 > 5
    flips += int(pred[rd[s:s + 500]].astype(int).sum() - vote.astype(int).sum())
values["FT"] = flips / len(rd)
bias_s = time.perf_counter() - t
print(json.dumps({"rows": n, "read_s": read_s, "explain_s": explain_s, "bias_s": bias_s,
                  "total_s": time.perf_counter() - start,
                  "top_feature": features[int(top[0])], "max_additivity_error": additivity,
                  "DI": values["DI"]}))
