"""The batch-scoring peer: the same job as `fraudops predict` in Python (pandas read_csv,
xgboost inplace_predict, pandas to_csv), on the same model and CSV. Prints rows/s.
Usage: peer_predict.py MODEL_JSON INPUT_CSV OUTPUT_CSV THREADS THRESHOLD"""
import sys
import time

import numpy as np
import pandas as pd
import xgboost as xgb

model_path, input_path, output_path, threads, threshold = sys.argv[1:6]
start = time.perf_counter()
booster = xgb.Booster()
booster.load_model(model_path)
booster.set_param({"nthread": int(threads)})
frame = pd.read_csv(input_path)
features = booster.feature_names
matrix = frame[features].to_numpy(dtype=np.float32)
margin = booster.inplace_predict(matrix, predict_type="margin")
score = 1.0 / (1.0 + np.exp(-margin.astype(np.float64)))
out = pd.DataFrame({"score": score, "margin": margin, "label": np.where(score >= float(threshold), "1", "0")})
out.to_csv(output_path, index=False)
seconds = time.perf_counter() - start
print("peer_predict rows=%d seconds=%.2f rows_per_second=%.0f" % (len(frame), seconds, len(frame) / seconds))
