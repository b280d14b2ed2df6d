#!/usr/bin/env python3
"""The peer of bench/tune.sh: Optuna (Debian's python3-optuna) tuning XGBoost's Python package
with the TPE sampler and the median pruner on per-round reports, over the same search space
(models/xgboost_space.json), the same trial budget and the same training and validation rows
fraudops used (train.csv, valid.csv written by bench/tune.sh). Prints one JSON line: the best
trial's validation average precision (PR AUC) and the study's wall time.

  peer_optuna.py TRAIN_CSV VALID_CSV SPACE_JSON BASE_JSON TRIALS SEED THREADS

With `refit` first, trains one model on every training row with the base parameters and the
given ones over them (a study's best trial: fraudops' trials may train on a sample of the
negatives, its final model trains on every row), early stopping on the validation rows, and
prints that model's average precision on the validation rows and on the test rows (which no
study saw: an estimate free of the best-of-20 selection):

  peer_optuna.py refit TRAIN_CSV VALID_CSV TEST_CSV BASE_JSON PARAMS_JSON SEED THREADS
"""
import json
import sys
import time

import numpy as np
import optuna
import pandas as pd
import xgboost as xgb
from optuna.integration import XGBoostPruningCallback


def average_precision(labels, scores):
    """Average precision (the step-wise area under the precision-recall curve), ties grouped."""
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    distinct = np.where(np.diff(scores))[0]
    ends = np.r_[distinct, labels.size - 1]
    tp = np.cumsum(labels)[ends]
    fp = ends + 1 - tp
    precision = tp / (tp + fp)
    recall = tp / labels.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def read_rows(csv):
    """The features and labels of a CSV written by bench/tune.sh."""
    rows = pd.read_csv(csv)
    return rows, rows.pop("label").to_numpy()


def base_params(base_file, y_train, seed, threads):
    """The base parameters as fraudops sets them (scale_pos_weight from the class balance), the
    rounds and the early-stopping patience."""
    params = json.load(open(base_file))
    rounds = params.pop("num_round")
    patience = params.pop("early_stopping_rounds")
    positives = float(y_train.sum())
    params.update({"nthread": threads, "seed": seed, "eval_metric": "aucpr",
                   "scale_pos_weight": (y_train.size - positives) / positives, "verbosity": 0})
    return params, rounds, patience


def refit():
    train_csv, valid_csv, test_csv, base_file, params_json, seed, threads = sys.argv[2:9]
    seed, threads = int(seed), int(threads)
    (train, y_train), (valid, y_valid), (test, y_test) = map(read_rows,
                                                             (train_csv, valid_csv, test_csv))
    dtrain = xgb.DMatrix(train, label=y_train, nthread=threads)
    dvalid = xgb.DMatrix(valid, label=y_valid, nthread=threads)
    params, rounds, patience = base_params(base_file, y_train, seed, threads)
    params.update(json.loads(params_json))
    booster = xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dvalid, "validation")],
                        early_stopping_rounds=patience, verbose_eval=False)
    kept = (0, booster.best_iteration + 1)
    scores = booster.predict(dvalid, iteration_range=kept)
    test_scores = booster.predict(xgb.DMatrix(test, nthread=threads), iteration_range=kept)
    print(average_precision(y_valid, scores), average_precision(y_test, test_scores))


def main():
    if sys.argv[1] == "refit":
        refit()
        return
    train_csv, valid_csv, space_file, base_file, trials, seed, threads = sys.argv[1:8]
    trials, seed, threads = int(trials), int(seed), int(threads)
    (train, y_train), (valid, y_valid) = read_rows(train_csv), read_rows(valid_csv)
    dtrain = xgb.DMatrix(train, label=y_train, nthread=threads)
    dvalid = xgb.DMatrix(valid, label=y_valid, nthread=threads)
    space = json.load(open(space_file))
    base, rounds, patience = base_params(base_file, y_train, seed, threads)

    def suggest(trial, name, d):
        if d["type"] == "log_uniform":
            return trial.suggest_float(name, d["low"], d["high"], log=True)
        if d["type"] == "uniform":
            return trial.suggest_float(name, d["low"], d["high"])
        if d["type"] == "int":
            return trial.suggest_int(name, d["low"], d["high"], log=d.get("log", False))
        return trial.suggest_categorical(name, d["choices"])

    def objective(trial):
        params = dict(base)
        for name, d in space.items():
            params[name] = suggest(trial, name, d)
        booster = xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dvalid, "validation")],
                            early_stopping_rounds=patience, verbose_eval=False,
                            callbacks=[XGBoostPruningCallback(trial, "validation-aucpr")])
        scores = booster.predict(dvalid, iteration_range=(0, booster.best_iteration + 1))
        return average_precision(y_valid, scores)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10))
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=1)
    seconds = time.perf_counter() - started
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    print(json.dumps({"best": study.best_value, "params": study.best_params,
                      "seconds": seconds, "pruned": pruned,
                      "trials": len(study.trials)}))


if __name__ == "__main__":
    main()
