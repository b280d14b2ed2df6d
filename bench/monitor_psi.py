#!/usr/bin/python3
"""The peer of `fraudops monitor run` in the monitoring benchmark: the same drift numbers —
rows of the window answered by the production version, counted into baseline.json's bins
(bin = number of cuts <= value, missing apart), PSI with shares floored at 1e-4 and KS over
the bin edges, per feature and for the score — computed with pandas, reading the capture
files in chunks of 100,000 lines. Usage: monitor_psi.py BASELINE FROM TO MODEL VERSION FILE...
Prints JSON: rows, seconds, psi and ks per column."""
import json
import sys
import time

import numpy as np
import pandas as pd

started = time.perf_counter()
baseline_path, window_from, window_to, model, version = sys.argv[1:6]
files = sys.argv[6:]
baseline = json.load(open(baseline_path))
columns = [(c["name"], np.array(c["cuts"], dtype=float), np.array(c["counts"] + [c["missing"]], dtype=float))
           for c in baseline["features"]]
score = baseline["score"]
columns.append(("$score", np.array(score["cuts"], dtype=float), np.array(score["counts"] + [score["missing"]], dtype=float)))
live = {name: np.zeros(len(expected)) for name, _, expected in columns}
rows = 0
for path in files:
    for chunk in pd.read_json(path, lines=True, chunksize=100000, dtype=False, convert_dates=False):
        chunk = chunk[(chunk["time"] >= window_from) & (chunk["time"] < window_to) &
                      (chunk["model"] == model) & (chunk["version"] == int(version))]
        if chunk.empty:
            continue
        features = pd.json_normalize(chunk["features"].tolist())
        features["$score"] = chunk["score"].to_numpy()
        rows += len(chunk)
        for name, cuts, expected in columns:
            values = pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
            missing = np.isnan(values)
            bins = np.searchsorted(cuts, values[~missing], side="right")
            live[name][: len(cuts) + 1] += np.bincount(bins, minlength=len(cuts) + 1)
            live[name][-1] += missing.sum()
result = {}
for name, cuts, expected in columns:
    e = expected / expected.sum()
    a = live[name] / max(live[name].sum(), 1)
    ef, af = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    psi = float(((af - ef) * np.log(af / ef)).sum())
    ep, ap = expected[:-1], live[name][:-1]
    ks = float(np.abs(np.cumsum(ep / ep.sum()) - np.cumsum(ap / max(ap.sum(), 1))).max())
    result[name] = {"psi": psi, "ks": ks}
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started, "columns": result}))
