#!/usr/bin/env python3
"""Reference values of the bias metrics (docs/bias.md) for the rows of a CSV, written out
plainly with numpy from SageMaker Clarify's published definitions, for src/eval/bias_test.cc.

Usage: bias_reference.py ROWS.csv
ROWS.csv: a header, then rows of facet (1 = d, 0 = a), label (1/0), predicted (1/0), group
(an integer), then feature columns. Prints one JSON object: metric name -> value (null when
undefined; "inf"/"-inf" for infinities).
"""
import json
import math
import sys

import numpy as np


def div(a, b):
    if b == 0:
        return 0.0 if a == 0 else (math.inf if a > 0 else -math.inf)
    return a / b


def diff(x, y):
    if math.isinf(x) and x == y:
        return 0.0
    return x - y


def main():
    data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
    facet = data[:, 0] == 1
    label = data[:, 1] == 1
    pred = data[:, 2] == 1
    group = data[:, 3].astype(int)
    features = data[:, 4:]
    a, d = ~facet, facet
    na, nd = int(a.sum()), int(d.sum())
    out = {}

    out["CI"] = (na - nd) / (na + nd)
    out["DPL"] = label[a].mean() - label[d].mean()
    pa = np.array([1 - label[a].mean(), label[a].mean()])
    pd_ = np.array([1 - label[d].mean(), label[d].mean()])
    keep = (pa > 0) & (pd_ > 0)
    pa, pd_ = pa[keep], pd_[keep]
    m = (pa + pd_) / 2
    out["KL"] = float(np.sum(pa * np.log(pa / pd_)))
    out["JS"] = float(0.5 * (np.sum(pa * np.log(pa / m)) + np.sum(pd_ * np.log(pd_ / m))))
    out["LP"] = float(np.sqrt(np.sum((pa - pd_) ** 2)))
    out["TVD"] = float(0.5 * np.sum(np.abs(pa - pd_)))
    out["KS"] = float(np.max(np.abs(pa - pd_)))

    def cdd(outcome):
        total = 0.0
        for g in np.unique(group):
            in_g = group == g
            acc = outcome & in_g
            rej = ~outcome & in_g
            share_acc = (acc & d).sum() / acc.sum() if acc.sum() else 0.0
            share_rej = (rej & d).sum() / rej.sum() if rej.sum() else 0.0
            total += in_g.sum() * (share_rej - share_acc)
        return total / len(group)

    out["CDDL"] = cdd(label)
    out["DPPL"] = pred[a].mean() - pred[d].mean()
    out["DI"] = div(pred[d].mean(), pred[a].mean())

    def count(mask):
        return int(mask.sum())

    tp = {k: count(label & pred & s) for k, s in (("a", a), ("d", d))}
    fp = {k: count(~label & pred & s) for k, s in (("a", a), ("d", d))}
    tn = {k: count(~label & ~pred & s) for k, s in (("a", a), ("d", d))}
    fn = {k: count(label & ~pred & s) for k, s in (("a", a), ("d", d))}
    out["DCA"] = diff(div(tp["a"] + fn["a"], tp["a"] + fp["a"]),
                      div(tp["d"] + fn["d"], tp["d"] + fp["d"]))
    out["DCR"] = diff(div(tn["d"] + fp["d"], tn["d"] + fn["d"]),
                      div(tn["a"] + fp["a"], tn["a"] + fn["a"]))
    out["RD"] = diff(div(tp["a"], tp["a"] + fn["a"]), div(tp["d"], tp["d"] + fn["d"]))
    out["SD"] = diff(div(tn["d"], tn["d"] + fp["d"]), div(tn["a"], tn["a"] + fp["a"]))
    out["DAR"] = diff(div(tp["a"], tp["a"] + fp["a"]), div(tp["d"], tp["d"] + fp["d"]))
    out["DRR"] = diff(div(tn["d"], tn["d"] + fn["d"]), div(tn["a"], tn["a"] + fn["a"]))
    out["AD"] = diff(div(tp["a"] + tn["a"], na), div(tp["d"] + tn["d"], nd))
    out["CDDPL"] = cdd(pred)
    out["TE"] = diff(div(fn["d"], fp["d"]), div(fn["a"], fp["a"]))
    benefit = pred.astype(float) - label.astype(float) + 1
    ratio = benefit / benefit.mean()
    out["GE"] = float(np.sum(ratio ** 2 - 1) / (len(benefit) * 2))

    # Flip test: the k nearest rows of a (Euclidean; k = 5, or 1 with 9 rows or fewer) vote
    # with the model's predictions for them; FT = (model-positive flips - model-negative) / nd.
    xa, xd = features[a], features[d]
    ya = pred[a].astype(int)
    k = 5 if na > 9 else 1
    flips = 0
    for i, x in enumerate(xd):
        dist = np.sum((xa - x) ** 2, axis=1)
        nearest = np.argsort(dist, kind="stable")[:k]
        vote = 1 if 2 * ya[nearest].sum() > k else 0
        flips += int(pred[d][i]) - vote
    out["FT"] = flips / nd

    print(json.dumps({k: (("inf" if v > 0 else "-inf") if isinstance(v, float) and math.isinf(v)
                          else float(v)) for k, v in out.items()}))


if __name__ == "__main__":
    main()
