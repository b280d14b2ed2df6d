#!/usr/bin/python3
"""The peer for the point-in-time join: pandas.merge_asof (Debian's python3-pandas) joining
the labelled rows to each of the 3 groups (backward, by key, tolerance = the TTL), timed from
data frames already in memory (sorting included, as merge_asof needs sorted inputs). Then
checks that fraudops' values (DIR/fraudops.csv) are identical, row by row.
Usage: peer_merge_asof.py DIR [REPEATS]"""
import sys
import time

import numpy as np
import pandas as pd

directory = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
labels = pd.read_csv(f"{directory}/labels.csv")
groups = {g: pd.read_csv(f"{directory}/{g}.csv") for g in ("card", "merchant", "device")}
ttl = 7 * 86400
times = []
for _ in range(repeats):
    start = time.perf_counter()
    out = labels.sort_values("t", kind="stable")
    for name, table in groups.items():
        right = table.rename(columns={"key": name, "t": "t_" + name, "value": name + "_value"})
        right = right.sort_values("t_" + name, kind="stable")
        out = pd.merge_asof(out, right, left_on="t", right_on="t_" + name, by=name,
                            direction="backward", allow_exact_matches=True, tolerance=ttl)
    out = out.sort_values("row")
    times.append(time.perf_counter() - start)
times.sort()
print(f"pandas_merge_asof seconds={times[len(times) // 2]:.4f} (median of {repeats}; best {times[0]:.4f})")

ours = pd.read_csv(f"{directory}/fraudops.csv").sort_values("row")
mismatches = 0
for name in ("card", "merchant", "device"):
    theirs = out[name + "_value"].to_numpy(dtype=np.float64).astype(np.float32)
    mine = ours[name].to_numpy(dtype=np.float64).astype(np.float32)
    same = (theirs == mine) | (np.isnan(theirs) & np.isnan(mine))
    mismatches += int((~same).sum())
print(f"identical_result={'yes' if mismatches == 0 else 'no'} mismatches={mismatches} rows={len(ours)}")
sys.exit(1 if mismatches else 0)
