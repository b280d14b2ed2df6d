#!/usr/bin/python3
"""The peer for CSV ingest: pandas.read_csv (Debian's python3-pandas) on the same file.
Prints the best of N wall times in seconds and the MB/s it gives."""
import os
import sys
import time

import pandas as pd

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
size = os.path.getsize(path)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    frame = pd.read_csv(path)
    best = min(best, time.perf_counter() - start)
    assert len(frame) > 0
print(f"pandas_read_csv seconds={best:.4f} mb_per_s={size / best / 1e6:.1f} rows={len(frame)}")
