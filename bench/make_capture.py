#!/usr/bin/python3
"""Writes capture lines (docs/formats/capture.md) for the monitoring benchmark: the rows of a
synthetic CSV (fraudops data synth) as the server would capture them, times spread over
[start, end), scores drawn uniformly. Usage: make_capture.py CSV OUT START END MODEL VERSION"""
import csv
import json
import random
import sys
from datetime import datetime, timedelta, timezone

source, out, start, end, model, version = sys.argv[1:7]
t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
t1 = datetime.fromisoformat(end.replace("Z", "+00:00"))
with open(source, newline="") as f:
    rows = list(csv.reader(f))
header, rows = rows[0], rows[1:]
features = [i for i, name in enumerate(header) if name != "Class"]
span = (t1 - t0) / len(rows)
rng = random.Random(7)
with open(out, "w") as w:
    for n, row in enumerate(rows):
        time = (t0 + span * n).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        score = rng.random()
        line = {"v": 1, "request_id": "b-%d" % n, "time": time, "endpoint": "fraud-detector",
                "variant": "production", "model": model, "version": int(version), "latency_us": 50,
                "features": {header[i]: float(row[i]) for i in features},
                "score": score, "label": int(score >= 0.5)}
        w.write(json.dumps(line, separators=(",", ":")) + "\n")
