"""The serving peer: what `mlflow models serve` runs for an XGBoost model, cut to its core —
gunicorn + Flask + xgboost, one transaction per JSON request, the same model and the same
response fields as `fraudops serve` (score and label at the bundle's threshold). Tuned as its
users tune it: one gunicorn worker per core, OMP_NUM_THREADS=1, the booster loaded once per
worker, inplace_predict on a float32 row (no pandas DataFrame per request, which MLflow's
pyfunc server would add).

  FRAUDOPS_BUNDLE=DIR OMP_NUM_THREADS=1 gunicorn -w 2 -b 127.0.0.1:8081 \
      --chdir bench/peers flask_app:app
"""
import json
import os
import uuid

import numpy as np
import xgboost as xgb
from flask import Flask, jsonify, request

bundle_dir = os.environ["FRAUDOPS_BUNDLE"]
with open(os.path.join(bundle_dir, "bundle.json")) as f:
    bundle = json.load(f)
booster = xgb.Booster()
booster.load_model(os.path.join(bundle_dir, bundle["model_file"]))
booster.set_param({"nthread": 1})
features = booster.feature_names
threshold = float(bundle["threshold"])
app = Flask(__name__)


@app.post("/invocations")
def invocations():
    body = request.get_json()
    try:
        row = np.array([[float(body[name]) for name in features]], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as error:
        return jsonify(error="bad features: %s" % error), 422
    score = float(booster.inplace_predict(row)[0])
    return jsonify(predictions=[{"score": score, "label": int(score >= threshold),
                                 "request_id": str(uuid.uuid4())}])
