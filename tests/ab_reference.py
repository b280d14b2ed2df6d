#!/usr/bin/env python3
"""An independent reference for the A/B report (tests/monitor_test.cc): reads the captured,
labelled rows of each variant from a CSV (variant,score,label,decision), computes every
interval and test the report gives with the formulas written out plainly (pairwise DeLong,
Wilson, pooled z-tests, the normal-approximation sample size), standard library only, and
prints them as JSON.   ab_reference.py ROWS.CSV FPR_TARGET MIN_EFFECT CONFIDENCE POWER VARIANT..."""
import csv
import json
import math
import sys
from statistics import NormalDist

rows_path, fpr_target, min_effect, confidence, power = sys.argv[1], *map(float, sys.argv[2:6])
order = sys.argv[6:]
z = NormalDist().inv_cdf(0.5 + confidence / 2)

rows = {name: [] for name in order}
with open(rows_path) as f:
    for r in csv.DictReader(f):
        rows[r["variant"]].append((float(r["score"]), int(r["label"]), int(r["decision"])))


def wilson(k, n):
    if n == 0:
        return {"value": 0.0, "low": 0.0, "high": 1.0}
    p = k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return {"value": p, "low": max(0.0, center - half), "high": min(1.0, center + half)}


def ztest(k1, n1, k2, n2):
    if n1 == 0 or n2 == 0:
        return {"difference": 0.0, "z": 0.0, "p_value": 1.0}
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return {"difference": p1 - p2, "z": 0.0, "p_value": 1.0}
    zz = (p1 - p2) / se
    return {"difference": p1 - p2, "z": zz, "p_value": 2 * NormalDist().cdf(-abs(zz))}


def delong(data):
    pos = [s for s, l, _ in data if l == 1]
    neg = [s for s, l, _ in data if l == 0]
    if not pos or not neg:
        return None
    psi = lambda x, y: 1.0 if x > y else (0.5 if x == y else 0.0)
    v10 = [sum(psi(x, y) for y in neg) / len(neg) for x in pos]
    v01 = [sum(psi(x, y) for x in pos) / len(pos) for y in neg]
    auc = sum(v10) / len(pos)
    var = lambda v: sum((a - auc) ** 2 for a in v) / (len(v) - 1) if len(v) > 1 else 0.0
    variance = var(v10) / len(pos) + var(v01) / len(neg)
    half = z * math.sqrt(variance)
    return {"value": auc, "variance": variance, "low": max(0.0, auc - half), "high": min(1.0, auc + half)}


def recall_at_fpr(data):
    negatives = sum(1 for _, l, _ in data if l == 0)
    positives = sum(1 for _, l, _ in data if l == 1)
    allowed = math.floor(fpr_target * negatives + 1e-9)
    # The lowest candidate threshold that lets at most `allowed` negatives through.
    best = math.inf
    for t in sorted({s for s, _, _ in data}):
        if sum(1 for s, l, _ in data if l == 0 and s >= t) <= allowed:
            best = t
            break
    caught = sum(1 for s, l, _ in data if l == 1 and s >= best)
    return caught, positives


def sample_size(p1, effect):
    p2 = p1 + effect
    if effect == 0 or not (0 <= p1 <= 1 and 0 <= p2 <= 1):
        return 0
    za, zb = NormalDist().inv_cdf(1 - (1 - confidence) / 2), NormalDist().inv_cdf(power)
    mean = (p1 + p2) / 2
    root = za * math.sqrt(2 * mean * (1 - mean)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root * root / (effect * effect))


out = {"variants": {}, "comparisons": {}}
stats = {}
for name in order:
    data = rows[name]
    alerts = sum(d for _, _, d in data)
    caught, positives = recall_at_fpr(data)
    flagged = sum(1 for _, _, d in data if d)
    flagged_fraud = sum(1 for _, l, d in data if d and l == 1)
    stats[name] = (alerts, len(data), caught, positives, delong(data))
    out["variants"][name] = {
        "alert_rate": wilson(alerts, len(data)),
        "recall_at_fpr": wilson(caught, positives),
        "precision": wilson(flagged_fraud, flagged),
        "roc_auc": stats[name][4],
    }
ref = order[0]
a0, n0, c0, p0, auc0 = stats[ref]
for name in order[1:]:
    a, n, c, p, auc = stats[name]
    if auc is None or auc0 is None:
        auc_test = {"difference": 0.0, "z": 0.0, "p_value": 1.0}
    else:
        zz = (auc["value"] - auc0["value"]) / math.sqrt(auc["variance"] + auc0["variance"])
        auc_test = {"difference": auc["value"] - auc0["value"], "z": zz, "p_value": 2 * NormalDist().cdf(-abs(zz))}
    needed = sample_size(a0 / n0, min_effect) or sample_size(a0 / n0, -min_effect)
    out["comparisons"][name] = {
        "alert_rate": ztest(a, n, a0, n0),
        "recall_at_fpr": ztest(c, p, c0, p0),
        "roc_auc": auc_test,
        "min_sample_size": needed,
    }
print(json.dumps(out))
