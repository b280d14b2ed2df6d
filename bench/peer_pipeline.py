#!/usr/bin/python3
"""The peer for `fraudops run`: the same pipeline as a data scientist writes it in Python with
Debian's packages (pandas, scikit-learn, xgboost 1.7): read the CSV, stratified 70/15/15
split, train XGBoost with the same hyperparameters and early stopping (metrics on train and
validation every round, as xgboost.train's evals do), evaluate on test. Prints seconds and
metrics."""
import json
import sys
import time

start = time.perf_counter()
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

path, params_path = sys.argv[1], sys.argv[2]
params = json.load(open(params_path))
rounds = params.pop("num_round")
patience = params.pop("early_stopping_rounds")
params["nthread"] = 2
params["seed"] = 42

frame = pd.read_csv(path)
y = frame.pop("Class").to_numpy()
x = frame.to_numpy(dtype=np.float32)
x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, stratify=y, random_state=42)
x_valid, x_test, y_valid, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest,
                                                    random_state=42)
params["scale_pos_weight"] = float((y_train == 0).sum() / (y_train == 1).sum())
train = xgb.DMatrix(x_train, label=y_train)
valid = xgb.DMatrix(x_valid, label=y_valid)
booster = xgb.train(params, train, rounds, evals=[(train, "train"), (valid, "validation")],
                    early_stopping_rounds=patience, verbose_eval=False)
scores = booster.predict(xgb.DMatrix(x_test), iteration_range=(0, booster.best_iteration + 1))
seconds = time.perf_counter() - start
print(f"python_pipeline seconds={seconds:.2f} roc_auc={roc_auc_score(y_test, scores):.4f} "
      f"pr_auc={average_precision_score(y_test, scores):.4f} rounds={booster.best_iteration + 1}")
