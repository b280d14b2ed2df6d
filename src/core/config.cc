#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <variant>

#include "core/cron.h"
#include "core/embedded_files.h"
#include "core/files.h"
#include "core/http_client.h"
#include "core/logging.h"
#include "core/numbers.h"
#include "core/strings.h"

extern char** environ;

namespace fraudops {

namespace {

using FieldPtr = std::variant<std::string*, bool*, long long*, double*, std::vector<std::string>*,
                              std::map<std::string, double>*>;

/// One configuration key, declared once.
struct KeySpec {
  const char* group;
  const char* name;
  const char* description;
  std::function<FieldPtr(Config&)> field;
  double min = -kInf;
  double max = kInf;
  std::vector<std::string> choices = {};

  std::string Dotted() const { return std::string(group) + "." + name; }
  std::string EnvName() const { return "FRAUDOPS_" + ToUpper(group) + "_" + ToUpper(name); }
};

#define FOPS_FIELD(member) [](Config& c) -> FieldPtr { return &c.member; }

const std::vector<KeySpec>& KeyTable() {
  static const std::vector<KeySpec> kKeys = {
      {"global", "pipeline_name", "Name of the pipeline; artifacts go to artifacts/<name>/.",
       FOPS_FIELD(global.pipeline_name)},
      {"global", "home", "Workspace directory (metadata, artifacts). Env: FRAUDOPS_HOME.",
       FOPS_FIELD(global.home)},
      {"global", "metadata_url",
       "Metadata store (runs, registry, audit): empty for <home>/fraudops.db (SQLite), "
       "sqlite:PATH, or postgresql://USER:PASSWORD@HOST:PORT/DB. Env: FRAUDOPS_METADATA_URL.",
       FOPS_FIELD(global.metadata_url)},
      {"global", "artifact_url",
       "Artifact store: empty for <home>/artifacts, a directory, or s3://BUCKET/PREFIX "
       "(endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, "
       "AWS_SECRET_ACCESS_KEY, AWS_REGION). Env: FRAUDOPS_ARTIFACT_URL.",
       FOPS_FIELD(global.artifact_url)},
      {"global", "ca_file",
       "PEM file of the certificate authorities outbound HTTPS (S3, webhooks, the identity "
       "provider, the trace collector, fraudops login) trusts, for a private CA; empty: the "
       "system's store. Certificates are always verified.",
       FOPS_FIELD(global.ca_file)},
      {"global", "seed", "Seed for synthesis, splits and training.", FOPS_FIELD(global.seed), 0,
       9.007199254740992e15},
      {"global", "threads",
       "Worker threads; 0: one per core this process may use (its CPU affinity, capped by its "
       "cgroup CPU quota).",
       FOPS_FIELD(global.threads), 0, 1024},
      {"global",
       "log_level",
       "Log level.",
       FOPS_FIELD(global.log_level),
       -kInf,
       kInf,
       {"debug", "info", "warn", "error", "off"}},
      {"global",
       "log_format",
       "Console log format: auto (human on a TTY, JSON otherwise).",
       FOPS_FIELD(global.log_format),
       -kInf,
       kInf,
       {"auto", "human", "json"}},

      {"preprocess", "data_source",
       "Where transactions come from: empty for the built-in synthetic dataset, a CSV path "
       "(csv:PATH or PATH.csv; csv:DIRECTORY reads its files in name order), an SQL database "
       "(sqlite:PATH, postgresql://…, mysql://…; reads sql_table or sql_query), or a CSV object "
       "s3://BUCKET/KEY (s3://BUCKET/PREFIX/ reads every object under it; s3 alone reads "
       "s3_bucket and s3_raw_data_key).",
       FOPS_FIELD(preprocess.data_source)},
      {"preprocess", "synthetic_rows", "Rows of the synthetic dataset.",
       FOPS_FIELD(preprocess.synthetic_rows), 100, 1e9},
      {"preprocess", "synthetic_cards",
       "Cards of the synthetic dataset: > 0 adds a card_id column (frauds in bursts on "
       "compromised cards, for velocity features; docs/synthetic-data.md); 0 keeps the "
       "reference schema.",
       FOPS_FIELD(preprocess.synthetic_cards), 0, 1e8},
      {"preprocess", "synthetic_fraud_rate", "Fraud share of the synthetic dataset.",
       FOPS_FIELD(preprocess.synthetic_fraud_rate), 1e-5, 0.5},
      {"preprocess", "label_column", "Column holding the fraud label.",
       FOPS_FIELD(preprocess.label_column)},
      {"preprocess", "positive_label",
       "Label value meaning fraud; the label column must hold exactly two values.",
       FOPS_FIELD(preprocess.positive_label)},
      {"preprocess", "time_column", "Time column (time-based split); empty for none.",
       FOPS_FIELD(preprocess.time_column)},
      {"preprocess", "amount_column",
       "Transaction amount column (amount-weighted recall); empty for none.",
       FOPS_FIELD(preprocess.amount_column)},
      {"preprocess", "delimiter", "CSV delimiter: auto (one of , ; tab |) or the character.",
       FOPS_FIELD(preprocess.delimiter)},
      {"preprocess", "missing_values", "Cell values read as missing.",
       FOPS_FIELD(preprocess.missing_values)},
      {"preprocess", "categorical_columns",
       "Columns to dictionary-encode even if they look numeric (string columns always are).",
       FOPS_FIELD(preprocess.categorical_columns)},
      {"preprocess", "feature_columns",
       "The columns the model may use (besides derived features); empty: every column but "
       "the label, less those validation excludes (identifiers, the time column; "
       "docs/data-validation.md). A column listed here is used whatever validation thinks.",
       FOPS_FIELD(preprocess.feature_columns)},
      {"preprocess", "drop_columns", "Columns left out of the features.",
       FOPS_FIELD(preprocess.drop_columns)},
      {"preprocess", "derived_features",
       "Features computed from others by an expression, e.g. [\"log_amount = log(Amount + 1)\", "
       "\"hour = hour(Time)\"] (docs/derived-features.md): added before training, recorded in "
       "the bundle, and computed by batch scoring and serving from the raw fields.",
       FOPS_FIELD(preprocess.derived_features)},
      {"preprocess", "features",
       "Feature store features joined to the data as of each row's time, e.g. "
       "[\"card_activity:tx_count_1h\", \"customers\"] (GROUP:FEATURE, or GROUP for all of "
       "its features; docs/features.md). The data must hold each group's entity key columns "
       "and preprocess.time_column; the model then reads these features from the store when "
       "scoring.",
       FOPS_FIELD(preprocess.features)},
      {"preprocess", "sql_table",
       "Table read from an SQL data source; may name a schema (credit_fraud.transactions).",
       FOPS_FIELD(preprocess.sql_table)},
      {"preprocess", "sql_query", "Query read from an SQL data source (wins over sql_table).",
       FOPS_FIELD(preprocess.sql_query)},
      {"preprocess", "shard_key",
       "Sharded reading of an SQL source (`fraudops train --workers N --sharded`): the integer "
       "column whose value modulo N says which worker reads a row.",
       FOPS_FIELD(preprocess.shard_key)},
      {"preprocess", "s3_bucket",
       "Bucket of the data source 's3' (the reference project's S3 method). Env: S3_BUCKET.",
       FOPS_FIELD(preprocess.s3_bucket)},
      {"preprocess", "s3_raw_data_key",
       "Object key of the data source 's3', a CSV file. Env: S3_RAW_DATA_KEY.",
       FOPS_FIELD(preprocess.s3_raw_data_key)},
      {"preprocess",
       "split_method",
       "stratified (random, class balance kept) or time (train on the past, test on the "
       "future, by time_column).",
       FOPS_FIELD(preprocess.split_method),
       -kInf,
       kInf,
       {"stratified", "time"}},
      {"preprocess", "train_ratio", "Share of rows for training; the three ratios sum to 1.",
       FOPS_FIELD(preprocess.train_ratio), 0, 1},
      {"preprocess", "validation_ratio",
       "Share of rows for validation (early stopping, threshold).",
       FOPS_FIELD(preprocess.validation_ratio), 0, 1},
      {"preprocess", "test_ratio", "Share of rows for the held-out test.",
       FOPS_FIELD(preprocess.test_ratio), 0, 1},

      {"train",
       "algorithm",
       "Training algorithm. Env: TRAINING_ALGORITHM.",
       FOPS_FIELD(train.algorithm),
       -kInf,
       kInf,
       {"xgboost", "lgbm"}},
      {"train", "xgboost_params_file",
       "XGBoost hyperparameter defaults (JSON); XGBOOST_<PARAM> overrides one.",
       FOPS_FIELD(train.xgboost_params_file)},
      {"train", "lgbm_params_file",
       "LightGBM hyperparameter defaults (JSON); LGBM_<PARAM> overrides one.",
       FOPS_FIELD(train.lgbm_params_file)},
      {"train", "instance_count",
       "Worker processes that train one model together (xgboost or lgbm); 1 trains in this "
       "process.",
       FOPS_FIELD(train.instance_count), 1, 256},
      {"train", "tracker_host", "The IPv4 address the workers reach this process's tracker at.",
       FOPS_FIELD(train.tracker_host)},
      {"train", "worker_timeout_s",
       "Seconds a worker waits on the others (a dead or stalled worker) before the run fails.",
       FOPS_FIELD(train.worker_timeout_s), 1, 86400},
      {"train", "tracker_port",
       "The tracker's TCP port; 0 picks a free one (set it when workers join from other hosts).",
       FOPS_FIELD(train.tracker_port), 0, 65535},
      {"train", "remote_workers",
       "Of instance_count, the workers that join from other hosts (`fraudops worker --tracker "
       "HOST:PORT --rank R`, the highest ranks); this process starts the rest.",
       FOPS_FIELD(train.remote_workers), 0, 255},
      {"train", "worker_retries",
       "Times a failed worker group is started again from scratch before the run fails.",
       FOPS_FIELD(train.worker_retries), 0, 10},
      {"train", "sharded",
       "With instance_count 2 or more: each worker reads, validates, splits and scores only its "
       "part of preprocess.data_source (a CSV by byte ranges, a directory or S3 prefix by "
       "files, a dataset file by rows, SQL by preprocess.shard_key), so no process holds all "
       "the rows; false: this process reads the data and the workers take slices of its "
       "splits. docs/distributed-training.md.",
       FOPS_FIELD(train.sharded)},

      {"tune", "enabled",
       "The pipeline tunes the hyperparameters before training (docs/tuning.md): a study of "
       "tune.trials trials, then the final model trains with the best trial's parameters.",
       FOPS_FIELD(tune.enabled)},
      {"tune", "study",
       "The study's name in the metadata store; empty: <pipeline_name>-<execution id> (a new "
       "study each run). An existing study of that name is resumed.",
       FOPS_FIELD(tune.study)},
      {"tune",
       "strategy",
       "random, tpe (Bayesian: Tree-structured Parzen Estimator) or hyperband (random points, "
       "successive halving over boosting rounds).",
       FOPS_FIELD(tune.strategy),
       -kInf,
       kInf,
       {"random", "tpe", "hyperband"}},
      {"tune",
       "pruner",
       "Stops bad trials early from their per-round validation metric: auto (hyperband's own "
       "for hyperband, else median), median, hyperband or none.",
       FOPS_FIELD(tune.pruner),
       -kInf,
       kInf,
       {"auto", "median", "hyperband", "none"}},
      {"tune",
       "objective",
       "The validation metric a study optimizes.",
       FOPS_FIELD(tune.objective),
       -kInf,
       kInf,
       {"pr_auc", "roc_auc", "log_loss", "brier", "recall_at_fpr_1pct", "recall_at_fpr_0_1pct",
        "ks"}},
      {"tune", "trials", "The study's trials in all (every process and resumption together).",
       FOPS_FIELD(tune.trials), 1, 100000},
      {"tune", "time_budget",
       "Stop starting trials after this long, and stop those running then (e.g. 20m); empty: no "
       "limit.",
       FOPS_FIELD(tune.time_budget)},
      {"tune", "parallel",
       "Trials at a time in this process, each with cores / parallel threads; 0: half the "
       "cores, and the first trials no later one learns from (random draws the pruner cannot "
       "judge yet) up to one per core.",
       FOPS_FIELD(tune.parallel), 0, 1024},
      {"tune", "folds",
       "0: each trial trains on the training split and is judged on the validation split; k "
       ">= 2: k-fold cross-validation over both, the mean and spread reported.",
       FOPS_FIELD(tune.folds), 0, 100},
      {"tune",
       "fold_method",
       "stratified (each fold keeps the class balance) or time (forward chaining on "
       "preprocess.time_column: no fold trains on the future).",
       FOPS_FIELD(tune.fold_method),
       -kInf,
       kInf,
       {"stratified", "time"}},
      {"tune", "target", "Stop once a trial's objective reaches this; empty: no target.",
       FOPS_FIELD(tune.target)},
      {"tune", "min_rounds", "Hyperband: the rounds of the first rung.",
       FOPS_FIELD(tune.min_rounds), 1, 100000},
      {"tune", "eta", "Hyperband: 1/eta of the trials go on at each rung.", FOPS_FIELD(tune.eta), 2,
       10},
      {"tune", "space_file",
       "The search space (JSON, docs/tuning.md); empty: the built-in one for the algorithm "
       "(models/xgboost_space.json, models/lgbm_space.json).",
       FOPS_FIELD(tune.space_file)},
      {"tune", "warm_start",
       "An earlier study whose complete trials inside this space seed the sampler; empty: "
       "none.",
       FOPS_FIELD(tune.warm_start)},
      {"tune", "from_study",
       "Without tune.enabled: the train step takes this earlier study's best parameters (over "
       "the configured ones), e.g. for scheduled retraining on new data; empty: none.",
       FOPS_FIELD(tune.from_study)},
      {"tune", "negatives_per_positive",
       "Trials train on every positive row and this many negative rows per positive, drawn by "
       "the seed and weighted up to the negatives' total (when that keeps at most half of "
       "them); the final model trains on every row. 0: trials train on every row.",
       FOPS_FIELD(tune.negatives_per_positive), 0, 1e6},
      {"tune", "min_negatives",
       "The trials' sample keeps at least this many negative rows "
       "(tune.negatives_per_positive).",
       FOPS_FIELD(tune.min_negatives), 0, 1e12},

      {"validate", "max_single_feature_auc",
       "A feature whose own ROC AUC on the label exceeds this stops the run (leakage: a copy "
       "or a consequence of the label); docs/data-validation.md.",
       FOPS_FIELD(validate.max_single_feature_auc), 0.5, 1},
      {"validate", "max_missing_share",
       "A feature missing in more than this share of rows is reported.",
       FOPS_FIELD(validate.max_missing_share), 0, 1},
      {"validate", "max_label_rate_change",
       "The label rate (share of fraud rows) is reported when it is more than this many times "
       "higher or lower than the previous run's of the pipeline.",
       FOPS_FIELD(validate.max_label_rate_change), 1, 1e6},
      {"validate", "sample_rows",
       "With train.sharded: the rows, taken evenly from every part, that the per-column checks "
       "(identifiers, leakage, missing shares, duplicates) and the drift baseline look at; "
       "the counts of rows, classes and infinite values are exact.",
       FOPS_FIELD(validate.sample_rows), 1000, 1e8},
      {"evaluate", "min_roc_auc", "Gate: minimum test ROC AUC.", FOPS_FIELD(evaluate.min_roc_auc),
       0, 1},
      {"evaluate", "min_metrics", "Gate: other minimums by metric name, e.g. {pr_auc: 0.6}.",
       FOPS_FIELD(evaluate.min_metrics)},
      {"evaluate", "max_metrics", "Gate: maximums by metric name, e.g. {log_loss: 0.05}.",
       FOPS_FIELD(evaluate.max_metrics)},
      {"evaluate",
       "threshold_method",
       "How the decision threshold is chosen on validation: max_f1, target_fpr or fixed.",
       FOPS_FIELD(evaluate.threshold_method),
       -kInf,
       kInf,
       {"max_f1", "target_fpr", "fixed"}},
      {"evaluate", "target_fpr", "False-positive rate for threshold_method: target_fpr.",
       FOPS_FIELD(evaluate.target_fpr), 0, 1},
      {"evaluate", "fixed_threshold", "Threshold for threshold_method: fixed.",
       FOPS_FIELD(evaluate.fixed_threshold), 0, 1},
      {"evaluate",
       "calibration",
       "Calibrates the scores: none, isotonic or platt, fitted on the validation rows before "
       "the threshold is chosen, stored in the bundle and applied by batch scoring, serving "
       "and streaming alike (docs/calibration.md).",
       FOPS_FIELD(evaluate.calibration),
       -kInf,
       kInf,
       {"none", "isotonic", "platt"}},

      {"explain", "enabled",
       "The explain step: exact TreeSHAP over the test rows — each feature's mean |SHAP|, a "
       "summary (beeswarm) and dependence plots, partial dependence and ICE curves — in "
       "evaluation/explanations.json and the report (docs/explanations.md).",
       FOPS_FIELD(explain.enabled)},
      {"explain", "rows", "Test rows explained, evenly taken; 0: all of them.",
       FOPS_FIELD(explain.rows), 0, 1e9},
      {"explain", "top_features", "Summary and dependence plots for this many top features.",
       FOPS_FIELD(explain.top_features), 1, 1000},
      {"explain", "partial_dependence",
       "Features to draw partial dependence and ICE curves for; empty: the top 3.",
       FOPS_FIELD(explain.partial_dependence)},
      {"explain", "segments",
       "Segments whose explanations are shown beside the rest's (\"COLUMN=VALUE\", "
       "\"COLUMN>NUMBER\", as bias.facets); empty: the bias facets, if any.",
       FOPS_FIELD(explain.segments)},

      {"bias", "facets",
       "The bias step's facets (docs/bias.md): each \"COLUMN=VALUE\" (\"COLUMN=V1|V2\": any of "
       "them) for a categorical column or \"COLUMN>NUMBER\" for a numeric one, the group of "
       "rows examined against the others; empty: no bias step.",
       FOPS_FIELD(bias.facets)},
      {"bias", "group_variable",
       "The column the conditional metrics (CDDL, CDDPL) condition on; empty: none.",
       FOPS_FIELD(bias.group_variable)},
      {"bias", "min_metrics",
       "Gate: minimums by bias metric, for every facet, e.g. {DI: 0.8, DPPL: -0.1}.",
       FOPS_FIELD(bias.min_metrics)},
      {"bias", "max_metrics", "Gate: maximums by bias metric, e.g. {DI: 1.25, DPPL: 0.1}.",
       FOPS_FIELD(bias.max_metrics)},
      {"bias", "keep_facets_as_features",
       "false: the facet and group columns are set aside before training (not model features) "
       "and still used for the bias report; true: they stay features.",
       FOPS_FIELD(bias.keep_facets_as_features)},
      {"bias", "bootstrap", "Resamples for the bias metrics' 95 % intervals; 0: none.",
       FOPS_FIELD(bias.bootstrap), 0, 100000},
      {"bias", "flip_test_rows",
       "The flip test (FT) compares at most this many rows of each group (evenly taken).",
       FOPS_FIELD(bias.flip_test_rows), 10, 1000000},
      {"bias",
       "mitigation",
       "Bias mitigation: none, or reweighing — each training row weighted by P(group)·P(label) "
       "/ P(group, label) over the facets' groups (Kamiran and Calders), so that the label is "
       "independent of the groups in training; the model without weights is trained too and "
       "compared with it in evaluation/mitigation.json and the report (docs/bias.md).",
       FOPS_FIELD(bias.mitigation),
       -kInf,
       kInf,
       {"none", "reweighing"}},

      {"card", "intended_use",
       "The model card's intended use (docs/model-card.md): what the scores are for and what "
       "they must not be used for.",
       FOPS_FIELD(card.intended_use)},
      {"card", "limitations",
       "The model card's limitations and caveats, one per entry, beside those the card finds "
       "itself (small groups, synthetic data, gates waived).",
       FOPS_FIELD(card.limitations)},
      {"card", "owner", "The model card's owner: the team answerable for the model.",
       FOPS_FIELD(card.owner)},

      {"register", "model_name", "Registered model name (used by the registry).",
       FOPS_FIELD(register_.model_name)},
      {"register",
       "approval",
       "auto approves versions that pass the gate; manual waits.",
       FOPS_FIELD(register_.approval),
       -kInf,
       kInf,
       {"auto", "manual"}},
      {"register", "description", "Description recorded with each new model version.",
       FOPS_FIELD(register_.description)},
      {"register", "aliases",
       "Aliases an approved new version takes (moved from older versions), e.g. [challenger].",
       FOPS_FIELD(register_.aliases)},
      {"register", "policy",
       "A decision policy file (docs/decision-policies.md) registered with each new version: "
       "serving and batch scoring answer its decision and rule. Empty: none.",
       FOPS_FIELD(register_.policy)},
      {"register", "shadow_pending",
       "When true, a version still pending approval may be deployed as a shadow (it gets a "
       "copy of the traffic, answers nothing) to validate it; every other deployment takes "
       "approved versions only.",
       FOPS_FIELD(register_.shadow_pending)},
      {"register", "distinct_approver",
       "Segregation of duties for versions approved by a person (register.approval: manual): "
       "the author of a run may not approve its version, and whoever approved a version may "
       "not deploy it. Versions approved by register.approval: auto are not affected. Set "
       "false only for a workspace one person runs alone.",
       FOPS_FIELD(register_.distinct_approver)},
      {"register", "champion_gate",
       "When true, a new version is compared with the champion — the version in production on "
       "deploy.endpoint_name, else the one aliased champion_alias — scored on this run's test "
       "rows: one worse in champion_metric by more than champion_margin is not registered. "
       "Scheduled runs always apply it.",
       FOPS_FIELD(register_.champion_gate)},
      {"register", "champion_alias",
       "The alias of the champion when nothing is in production on deploy.endpoint_name.",
       FOPS_FIELD(register_.champion_alias)},
      {"register",
       "champion_metric",
       "Metric the champion gate compares (higher is better).",
       FOPS_FIELD(register_.champion_metric),
       -kInf,
       kInf,
       {"roc_auc", "pr_auc", "ks", "recall_at_fpr_0_1pct", "recall_at_fpr_1pct", "f1",
        "amount_weighted_recall"}},
      {"register", "champion_margin",
       "How much worse than the champion a new version may be (0.005: half a point of ROC "
       "AUC, training noise); 0: at least as good; negative: it must beat the champion by "
       "that much.",
       FOPS_FIELD(register_.champion_margin), -1, 1},
      {"deploy", "enabled",
       "The pipeline's deploy step deploys the registered version to deploy.endpoint_name "
       "when it is approved.",
       FOPS_FIELD(deploy.enabled)},
      {"deploy", "auto",
       "Runs the scheduler starts (cron, data, drift, quality) deploy a version that passes "
       "the gate as a canary without a person; false: it is registered pending and waits for "
       "approval (fraudops models approve, then fraudops deploy).",
       FOPS_FIELD(deploy.auto_)},
      {"deploy", "endpoint_name", "Endpoint the pipeline deploys to and serve serves by default.",
       FOPS_FIELD(deploy.endpoint_name)},
      {"deploy", "strategy",
       "How a new version reaches traffic: canary (canary_percent for bake_seconds, then "
       "promoted unless an alarm fired; with nothing in production it deploys at once), "
       "all_at_once, linear (linear_step_percent more "
       "every linear_step_seconds), shadow (a copy of the traffic, no responses). Checked "
       "against the registered deployment strategies.",
       FOPS_FIELD(deploy.strategy)},  // the registry lives in store; the CLI checks the name
      {"deploy", "canary_percent", "Share of traffic the canary gets (canary strategy).",
       FOPS_FIELD(deploy.canary_percent), 0.01, 99.99},
      {"deploy", "bake_seconds", "How long a canary is watched before it is promoted.",
       FOPS_FIELD(deploy.bake_seconds), 0, 30 * 86400},
      {"deploy", "linear_step_percent", "Traffic added at each step (linear strategy).",
       FOPS_FIELD(deploy.linear_step_percent), 1, 100},
      {"deploy", "linear_step_seconds", "How long each step is watched (linear strategy).",
       FOPS_FIELD(deploy.linear_step_seconds), 0, 30 * 86400},
      {"deploy", "max_error_rate",
       "Alarm: roll the canary back when this share of its requests fail (server errors).",
       FOPS_FIELD(deploy.max_error_rate), 0, 1},
      {"deploy", "max_p99_ms",
       "Alarm: roll the canary back when its p99 scoring latency exceeds this (0: off).",
       FOPS_FIELD(deploy.max_p99_ms), 0, kInf},
      {"deploy", "max_score_psi",
       "Alarm: roll the canary back when the PSI of its scores against production's on the "
       "same live traffic exceeds this (0: off).",
       FOPS_FIELD(deploy.max_score_psi), 0, kInf},
      {"deploy", "max_decision_shift",
       "Alarm: roll the canary back when the share of rows its decision policy gives any one "
       "decision differs from production's by more than this (0.1: ten points; 0: off). "
       "Judged when both versions have a decision policy.",
       FOPS_FIELD(deploy.max_decision_shift), 0, 1},
      {"deploy", "min_requests",
       "Alarms are judged once the canary (and production) served this many requests.",
       FOPS_FIELD(deploy.min_requests), 1, 1e12},
      {"deploy", "ab_weight",
       "Share of traffic, in percent, a version deployed with the ab strategy gets; the other "
       "variants share the rest in their current proportions.",
       FOPS_FIELD(deploy.ab_weight), 0.01, 99.99},
      {"deploy", "ab_assignment_field",
       "A/B: the request field (e.g. a card id) whose value picks the variant, so one card "
       "always meets the same variant; empty: each request is assigned at random by weight.",
       FOPS_FIELD(deploy.ab_assignment_field)},
      {"deploy", "ab_fpr_target",
       "A/B reports compare the variants' recall at this false-positive rate.",
       FOPS_FIELD(deploy.ab_fpr_target), 1e-6, 0.5},
      {"deploy", "ab_min_effect",
       "A/B reports: the smallest difference of alert rate (absolute) worth detecting; the "
       "report says whether each variant has the sample size to detect it.",
       FOPS_FIELD(deploy.ab_min_effect), 1e-6, 1},
      {"deploy", "ab_confidence",
       "A/B reports: the confidence of intervals (1 - the tests' alpha).",
       FOPS_FIELD(deploy.ab_confidence), 0.5, 0.9999},
      {"deploy", "ab_power", "A/B reports: the power the minimum sample size is computed for.",
       FOPS_FIELD(deploy.ab_power), 0.5, 0.9999},
      {"promote", "dev",
       "Promotion policy of endpoints labelled dev (fraudops deploy environment): conditions a "
       "version must meet before it answers there; docs/governance.md#staged-promotion.",
       FOPS_FIELD(promote.dev)},
      {"promote", "staging", "Promotion policy of endpoints labelled staging.",
       FOPS_FIELD(promote.staging)},
      {"promote", "production",
       "Promotion policy of endpoints labelled production: approved, champion_passed, "
       "served:ENV:DURATION, shadowed:ENV:DURATION; 'a|b' when either will do. Shadows are "
       "exempt (they are how a version earns shadowed).",
       FOPS_FIELD(promote.production)},
      {"api", "listen", "HOST:PORT the REST API listens on (used by serve).",
       FOPS_FIELD(api.listen)},
      {"api", "workers",
       "HTTP worker threads; 0: one per core this process may use (used by serve).",
       FOPS_FIELD(api.workers), 0, 1024},
      {"api",
       "auth",
       "required: every API route needs an x-api-key (fraudops keys create); disabled: no "
       "keys (a laptop, or behind a gateway that authenticates).",
       FOPS_FIELD(api.auth),
       -kInf,
       kInf,
       {"required", "disabled"}},
      {"api", "max_body_bytes", "Largest request body accepted (413 beyond).",
       FOPS_FIELD(api.max_body_bytes), 1024, 1LL << 34},
      {"api", "max_rows", "Most transactions in one predict request (413 beyond).",
       FOPS_FIELD(api.max_rows), 1, 100000000},
      {"api", "max_connections", "Open connections accepted at once; more are closed.",
       FOPS_FIELD(api.max_connections), 1, 10000000},
      {"api", "header_timeout_ms", "A request's headers must arrive within this.",
       FOPS_FIELD(api.header_timeout_ms), 1, 3600000},
      {"api", "body_timeout_ms", "A request's body must arrive within this.",
       FOPS_FIELD(api.body_timeout_ms), 1, 3600000},
      {"api", "idle_timeout_ms", "A keep-alive connection with no request is closed after this.",
       FOPS_FIELD(api.idle_timeout_ms), 1, 86400000},
      {"api", "drain_delay_ms",
       "On SIGTERM, /readyz answers 503 (draining) for this long while requests are still "
       "served, so a load balancer's health checks take the replica out before it drains "
       "(behind a balancer: longer than its check interval times its fall count).",
       FOPS_FIELD(api.drain_delay_ms), 0, 600000},
      {"api", "drain_timeout_ms",
       "On SIGTERM, requests in flight get this long to finish before the server exits.",
       FOPS_FIELD(api.drain_timeout_ms), 0, 3600000},
      {"api", "poll_interval_ms",
       "How often serve looks for deployments, keys and plans changed by other processes (and "
       "stream score, between batches, for a new production version).",
       FOPS_FIELD(api.poll_interval_ms), 10, 600000},
      {"api", "model_cache_bytes",
       "Memory for the models of multi-model endpoints: loaded on first use, the least recently "
       "used unpinned ones evicted to stay within it.",
       FOPS_FIELD(api.model_cache_bytes), 1024, 1e15},
      {"api", "capture_sample", "Share of predict requests written to the capture files (0: off).",
       FOPS_FIELD(api.capture_sample), 0, 1},
      {"api", "capture_max_file_mb", "A capture file is closed and a new one begun at this size.",
       FOPS_FIELD(api.capture_max_file_mb), 1, 1e6},
      {"api", "capture_rotate_seconds", "… or when it is this old.",
       FOPS_FIELD(api.capture_rotate_seconds), 1, 30 * 86400},
      {"api", "capture_queue_rows",
       "Captured rows waiting for the writer; when full, rows are dropped (and counted), "
       "never the request.",
       FOPS_FIELD(api.capture_queue_rows), 1, 1e9},
      {"api", "quota_url",
       "Where usage-plan counters and rate buckets live: empty keeps them in the server "
       "(exact within one server); redis://[:PASSWORD@]HOST:PORT[/DB] shares them, so quotas "
       "and rates hold exactly across replicas.",
       FOPS_FIELD(api.quota_url)},
      {"api", "tls_cert_file",
       "PEM certificate chain: with tls_key_file, serve speaks HTTPS only (TLS 1.2 and 1.3); "
       "both files are read again on SIGHUP (certificate rotation) without dropping "
       "connections. Empty: plain HTTP.",
       FOPS_FIELD(api.tls_cert_file)},
      {"api", "tls_key_file", "PEM private key of api.tls_cert_file.",
       FOPS_FIELD(api.tls_key_file)},
      {"api", "tls_client_ca_file",
       "PEM CA certificates: with TLS on, every client must present a certificate they signed "
       "(mutual TLS between services). Empty: no client certificate asked for.",
       FOPS_FIELD(api.tls_client_ca_file)},
      {"api", "token_days",
       "How long a personal access token made by fraudops login (POST /v1/login) lasts, in "
       "days.",
       FOPS_FIELD(api.token_days), 0.001, 366},
      {"api", "oidc_issuer",
       "OIDC: the issuer (iss) of the identity provider's tokens; with oidc_audience and "
       "oidc_jwks, admin routes accept its RS256/ES256 tokens as Authorization: Bearer. "
       "Empty: no identity provider.",
       FOPS_FIELD(api.oidc_issuer)},
      {"api", "oidc_audience", "OIDC: the audience (aud) a token must be issued for.",
       FOPS_FIELD(api.oidc_audience)},
      {"api", "oidc_jwks",
       "OIDC: the provider's signing keys, a JWKS file or an https:// URL (read at start, "
       "and again when a token names an unknown key).",
       FOPS_FIELD(api.oidc_jwks)},
      {"api", "oidc_roles_claim",
       "OIDC: the claim (a string or a list of strings) whose values grant roles.",
       FOPS_FIELD(api.oidc_roles_claim)},
      {"api", "oidc_role_map",
       "OIDC: CLAIM_VALUE=ROLE entries, e.g. [fraud-model-risk=approver]; empty: claim values "
       "that are role names (viewer, data_scientist, approver, deployer, admin) are used as "
       "they are.",
       FOPS_FIELD(api.oidc_role_map)},
      {"api", "oidc_username_claim",
       "OIDC: the claim naming the user in the audit log (then email, then sub).",
       FOPS_FIELD(api.oidc_username_claim)},
      {"schedule", "cron",
       "Retraining schedule, five cron fields in UTC (minute hour day-of-month month "
       "day-of-week), e.g. '0 3 * * *'; empty: no time trigger. Env: CRON_SCHEDULE.",
       FOPS_FIELD(schedule.cron)},
      {"schedule",
       "missed",
       "Cron times missed while no scheduler ran: skip them, or catch_up with one run.",
       FOPS_FIELD(schedule.missed),
       -kInf,
       kInf,
       {"skip", "catch_up"}},
      {"schedule", "poll", "How often the scheduler checks its triggers (e.g. 30s, 1m).",
       FOPS_FIELD(schedule.poll)},
      {"schedule", "on_new_data",
       "Run when the pipeline's data source changes: a file or object with new content, an "
       "SQL table with more rows.",
       FOPS_FIELD(schedule.on_new_data)},
      {"schedule", "watch",
       "More places whose change starts a run: directories (a new file), files, "
       "s3://BUCKET/PREFIX (a new or changed object).",
       FOPS_FIELD(schedule.watch)},
      {"schedule", "on_drift", "Run when the monitor finds drift on deploy.endpoint_name.",
       FOPS_FIELD(schedule.on_drift)},
      {"schedule", "on_quality",
       "Run when the monitor finds the model's quality below its thresholds.",
       FOPS_FIELD(schedule.on_quality)},
      {"schedule", "cooldown",
       "After a run, data, drift and quality triggers wait this long before starting another.",
       FOPS_FIELD(schedule.cooldown)},
      {"schedule", "lock_timeout",
       "A pipeline's run lock older than this is taken as abandoned (its holder died).",
       FOPS_FIELD(schedule.lock_timeout)},
      {"schedule", "in_serve", "fraudops serve also runs the scheduler (one process for both).",
       FOPS_FIELD(schedule.in_serve)},
      {"monitor", "psi_threshold",
       "Drift alert when a feature's PSI exceeds this (used by monitor).",
       FOPS_FIELD(monitor.psi_threshold), 0, kInf},
      {"monitor", "ks_threshold", "Drift alert when a feature's KS exceeds this (used by monitor).",
       FOPS_FIELD(monitor.ks_threshold), 0, 1},
      {"monitor", "psi_thresholds",
       "PSI thresholds for single features, by name ($score for the score), e.g. {V14: 0.3}.",
       FOPS_FIELD(monitor.psi_thresholds), 0, kInf},
      {"monitor", "ks_thresholds",
       "KS thresholds for single features, by name ($score for the score).",
       FOPS_FIELD(monitor.ks_thresholds), 0, 1},
      {"monitor", "min_rows", "A drift window with fewer captured rows is reported but not judged.",
       FOPS_FIELD(monitor.min_rows), 1, 1e12},
      {"monitor", "window", "The drift window: captured traffic of this long before now (e.g. 1h).",
       FOPS_FIELD(monitor.window)},
      {"monitor", "serve_interval",
       "How often fraudops serve runs the monitor on its endpoints; empty: never.",
       FOPS_FIELD(monitor.serve_interval)},
      {"monitor", "label_maturity",
       "How long labels take to arrive: quality is judged on predictions at least this old.",
       FOPS_FIELD(monitor.label_maturity)},
      {"monitor", "quality_window", "How many matured predictions quality is judged on (e.g. 7d).",
       FOPS_FIELD(monitor.quality_window)},
      {"monitor",
       "unlabeled",
       "Matured predictions without a label: skip them, or count them as negative (no "
       "chargeback means legitimate).",
       FOPS_FIELD(monitor.unlabeled),
       -kInf,
       kInf,
       {"skip", "negative"}},
      {"monitor", "min_labels", "Quality is judged only with this many labelled predictions.",
       FOPS_FIELD(monitor.min_labels), 1, 1e12},
      {"monitor", "min_roc_auc", "Quality alert when the rolling ROC AUC falls below this.",
       FOPS_FIELD(monitor.min_roc_auc), 0, 1},
      {"monitor", "min_metrics", "More quality minimums: pr_auc, recall, precision.",
       FOPS_FIELD(monitor.min_metrics), 0, 1},
      {"monitor", "max_alert_rate",
       "Quality alert when more than this share of predictions is answered positive; 0: off.",
       FOPS_FIELD(monitor.max_alert_rate), 0, 1},
      {"monitor", "webhook_url",
       "Alerts are POSTed here as JSON (besides the log); empty: log only.",
       FOPS_FIELD(monitor.webhook_url)},
      {"monitor", "webhook_retries", "Tries after the first when the webhook fails.",
       FOPS_FIELD(monitor.webhook_retries), 0, 20},
      {"monitor", "webhook_backoff_ms", "Wait before the first retry; doubled after each.",
       FOPS_FIELD(monitor.webhook_backoff_ms), 0, 3600000},
      {"monitor", "webhook_timeout_ms", "Time limit of one webhook request.",
       FOPS_FIELD(monitor.webhook_timeout_ms), 100, 600000},
      {"monitor", "repeat_alerts_after",
       "The periodic monitor in serve sends the same alert again only after this long.",
       FOPS_FIELD(monitor.repeat_alerts_after)},
      {"features", "online_url",
       "The online feature store (docs/features.md): empty for the embedded one under "
       "global.home (one machine), or redis://[:PASSWORD@]HOST:PORT[/DB] for replicas.",
       FOPS_FIELD(features.online_url)},
      {"features",
       "on_store_error",
       "When a model's feature store features cannot be read at scoring time: unavailable "
       "(answer 503, Retry-After) or missing (score with those features missing).",
       FOPS_FIELD(features.on_store_error),
       -kInf,
       kInf,
       {"unavailable", "missing"}},
      {"features", "online_timeout_ms", "Redis online store: command timeout.",
       FOPS_FIELD(features.online_timeout_ms), 10, 60000},
      {"tracing", "otlp_url",
       "Where serve sends its spans: an OTLP/HTTP traces endpoint, e.g. "
       "http://otel-collector:4318/v1/traces. Empty: no spans (traceparent is still answered "
       "and its trace id logged).",
       FOPS_FIELD(tracing.otlp_url)},
      {"tracing",
       "protocol",
       "How spans are encoded: http/protobuf (the OTLP default: about a third of the bytes "
       "and cheaper to encode) or http/json (hex ids, readable).",
       FOPS_FIELD(tracing.protocol),
       -kInf,
       kInf,
       {"http/protobuf", "http/json"}},
      {"tracing", "sample_ratio",
       "Share of new traces recorded (decided from the trace id, so services sampling by "
       "ratio agree).",
       FOPS_FIELD(tracing.sample_ratio), 0, 1},
      {"tracing", "parent_based",
       "A request whose traceparent says sampled (or not) follows its caller's decision.",
       FOPS_FIELD(tracing.parent_based)},
      {"tracing", "service_name", "The service.name of the spans' resource.",
       FOPS_FIELD(tracing.service_name)},
      {"tracing", "batch_spans",
       "Spans per export request; 0: about 1 MB a request (8192 in http/protobuf, 2048 in "
       "http/json).",
       FOPS_FIELD(tracing.batch_spans), 0, 100000},
      {"tracing", "queue_spans",
       "Spans waiting for export; when full, new spans are dropped (and counted), never "
       "waited for.",
       FOPS_FIELD(tracing.queue_spans), 1, 10000000},
      {"tracing", "flush_ms", "How often queued spans are exported.", FOPS_FIELD(tracing.flush_ms),
       10, 600000},
      {"tracing", "timeout_ms", "Time limit of one export request.", FOPS_FIELD(tracing.timeout_ms),
       10, 600000},
      {"artifacts", "sse",
       "Server-side encryption of what is written to an S3 artifact store: empty (the "
       "bucket's default), AES256 (SSE-S3) or aws:kms (SSE-KMS).",
       FOPS_FIELD(artifacts.sse)},
      {"artifacts", "kms_key_id",
       "SSE-KMS: the KMS key id or ARN (artifacts.sse: aws:kms); empty: the account's default "
       "key for S3.",
       FOPS_FIELD(artifacts.kms_key_id)},
      {"artifacts", "keep_days",
       "fraudops artifacts gc deletes the artifacts of runs that ended longer ago than this, "
       "unless a registered version was trained in them (or their files are shared).",
       FOPS_FIELD(artifacts.keep_days), 0, 36500},
      {"artifacts", "archive_days",
       "fraudops artifacts archive moves the artifacts of runs that ended longer ago than this, "
       "and that no endpoint serves, to the archive.",
       FOPS_FIELD(artifacts.archive_days), 0, 36500},
      {"artifacts", "archive_storage_class",
       "Where fraudops artifacts archive puts them: an S3 storage class (GLACIER_IR, "
       "DEEP_ARCHIVE, …; objects keep their URIs) or empty for the store's archive/ prefix.",
       FOPS_FIELD(artifacts.archive_storage_class)},
      {"stream", "url",
       "Redis holding the streams (docs/streaming.md): redis://[:PASSWORD@]HOST:PORT[/DB]; "
       "empty: features.online_url.",
       FOPS_FIELD(stream.url)},
      {"stream", "input", "The stream `fraudops stream score` and `stream ingest` read.",
       FOPS_FIELD(stream.input)},
      {"stream", "output", "The stream `fraudops stream score` writes results to.",
       FOPS_FIELD(stream.output)},
      {"stream", "dead_letter",
       "Where entries go, with their last error, after max_deliveries failed attempts.",
       FOPS_FIELD(stream.dead_letter)},
      {"stream", "score_group", "The consumer group of `stream score`.",
       FOPS_FIELD(stream.score_group)},
      {"stream", "ingest_group", "The consumer group of `stream ingest`.",
       FOPS_FIELD(stream.ingest_group)},
      {"stream", "endpoint",
       "The endpoint whose production model `stream score` uses; empty: deploy.endpoint_name.",
       FOPS_FIELD(stream.endpoint)},
      {"stream", "id_field",
       "The event field identifying a transaction (each is written to the output once); "
       "empty or absent from an event: the stream entry's id.",
       FOPS_FIELD(stream.id_field)},
      {"stream", "batch", "Entries read at a time.", FOPS_FIELD(stream.batch), 1, 100000},
      {"stream", "block_ms", "How long a read waits for new entries.", FOPS_FIELD(stream.block_ms),
       1, 60000},
      {"stream", "claim_idle_ms",
       "An entry delivered this long ago and not acknowledged (its consumer died, or it "
       "failed) is taken over by another consumer and tried again.",
       FOPS_FIELD(stream.claim_idle_ms), 1, 86400000},
      {"stream", "max_deliveries",
       "Deliveries of an entry that keeps failing before it goes to the dead-letter stream.",
       FOPS_FIELD(stream.max_deliveries), 1, 1000},
      {"stream", "dedup_ttl",
       "How long a transaction id is remembered to keep a redelivered one out of the output.",
       FOPS_FIELD(stream.dedup_ttl)},
      {"stream", "segment_rows",
       "`stream ingest` appends events to the offline store a segment of this many at a time "
       "(and when it stops).",
       FOPS_FIELD(stream.segment_rows), 1, 100000000},
  };
  return kKeys;
}

#undef FOPS_FIELD

const std::vector<std::string>& GroupNames() {
  static const std::vector<std::string> kGroups = {
      "global",  "preprocess", "train",    "tune",      "validate", "evaluate", "explain",
      "bias",    "card",       "register", "deploy",    "promote",  "api",      "schedule",
      "monitor", "features",   "stream",   "artifacts", "tracing"};
  return kGroups;
}

const KeySpec* FindKey(std::string_view group, std::string_view name) {
  for (const KeySpec& key : KeyTable()) {
    if (key.group == group && key.name == name) return &key;
  }
  return nullptr;
}

std::vector<std::string> KeysOfGroup(std::string_view group) {
  std::vector<std::string> names;
  for (const KeySpec& key : KeyTable()) {
    if (key.group == group) names.push_back(key.name);
  }
  return names;
}

std::string ChoicesText(const std::vector<std::string>& choices) { return Join(choices, ", "); }

Status CheckBounds(const KeySpec& key, double value, const std::string& where) {
  if (std::isnan(value) || value < key.min || value > key.max) {
    return Status::InvalidArgument(where + ": " + key.Dotted() + " = " + FormatDouble(value, 10) +
                                   " is out of range; accepted: " + FormatDouble(key.min, 10) +
                                   " to " + FormatDouble(key.max, 10));
  }
  return Status::Ok();
}

Status SetFromYaml(const KeySpec& key, Config& config, const YAML::Node& node,
                   const std::string& file);

/// Sets a scalar or list key from text (YAML scalars, environment values).
Status SetFromText(const KeySpec& key, Config& config, std::string_view text,
                   const std::string& where) {
  FieldPtr field = key.field(config);
  // A list or a mapping may also be written as in config.yml: [a, b] or {DI: 0.8}.
  const std::string_view trimmed = Trim(text);
  const bool collection = std::holds_alternative<std::vector<std::string>*>(field) ||
                          std::holds_alternative<std::map<std::string, double>*>(field);
  if (collection && !trimmed.empty() && (trimmed.front() == '[' || trimmed.front() == '{')) {
    YAML::Node node;
    try {
      node = YAML::Load(std::string(trimmed));
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument(where + ": " + key.Dotted() + " = '" + std::string(text) +
                                     "' is not valid YAML (" + e.msg +
                                     "); accepted: [a, b], {NAME: NUMBER} or a, b / NAME=NUMBER");
    }
    return SetFromYaml(key, config, node, where);
  }
  if (auto* s = std::get_if<std::string*>(&field)) {
    std::string value(text);
    if (!key.choices.empty() &&
        std::find(key.choices.begin(), key.choices.end(), value) == key.choices.end()) {
      return Status::InvalidArgument(where + ": " + key.Dotted() + " = '" + value +
                                     "' is not valid; accepted: " + ChoicesText(key.choices) +
                                     DidYouMean(value, key.choices));
    }
    **s = value;
  } else if (auto* b = std::get_if<bool*>(&field)) {
    auto value = ParseBool(text);
    if (!value) {
      return Status::InvalidArgument(where + ": " + key.Dotted() + " = '" + std::string(text) +
                                     "' is not a boolean; accepted: true, false");
    }
    **b = *value;
  } else if (auto* i = std::get_if<long long*>(&field)) {
    auto value = ParseInt(text);
    if (!value) {
      return Status::InvalidArgument(where + ": " + key.Dotted() + " = '" + std::string(text) +
                                     "' is not an integer");
    }
    FOPS_RETURN_IF_ERROR(CheckBounds(key, static_cast<double>(*value), where));
    **i = *value;
  } else if (auto* d = std::get_if<double*>(&field)) {
    auto value = ParseDouble(text);
    if (!value) {
      return Status::InvalidArgument(where + ": " + key.Dotted() + " = '" + std::string(text) +
                                     "' is not a number");
    }
    FOPS_RETURN_IF_ERROR(CheckBounds(key, *value, where));
    **d = *value;
  } else if (auto* list = std::get_if<std::vector<std::string>*>(&field)) {
    (*list)->clear();
    if (!Trim(text).empty()) {
      for (const std::string& item : Split(text, ',')) (*list)->emplace_back(Trim(item));
    }
  } else if (auto* map = std::get_if<std::map<std::string, double>*>(&field)) {
    // NAME=VALUE,NAME=VALUE in the environment.
    (*map)->clear();
    for (const std::string& item : Split(text, ',')) {
      if (Trim(item).empty()) continue;
      auto parts = Split(item, '=');
      auto value = parts.size() == 2 ? ParseDouble(parts[1]) : std::nullopt;
      if (!value) {
        return Status::InvalidArgument(where + ": " + key.Dotted() + " item '" + item +
                                       "' is not NAME=NUMBER");
      }
      (**map)[std::string(Trim(parts[0]))] = *value;
    }
  }
  return Status::Ok();
}

std::string YamlWhere(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

Status SetFromYaml(const KeySpec& key, Config& config, const YAML::Node& node,
                   const std::string& file) {
  std::string where = YamlWhere(file, node);
  FieldPtr field = key.field(config);
  if (auto* list = std::get_if<std::vector<std::string>*>(&field)) {
    if (node.IsNull()) {
      (*list)->clear();
      return Status::Ok();
    }
    if (!node.IsSequence()) {
      return Status::InvalidArgument(where + ": " + key.Dotted() + " must be a list, e.g. [a, b]");
    }
    (*list)->clear();
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        return Status::InvalidArgument(YamlWhere(file, item) + ": items of " + key.Dotted() +
                                       " must be plain values");
      }
      (*list)->push_back(item.Scalar());
    }
    return Status::Ok();
  }
  if (auto* map = std::get_if<std::map<std::string, double>*>(&field)) {
    if (node.IsNull()) {
      (*map)->clear();
      return Status::Ok();
    }
    if (!node.IsMap()) {
      return Status::InvalidArgument(where + ": " + key.Dotted() +
                                     " must be a mapping of metric names to numbers");
    }
    (*map)->clear();
    for (const auto& item : node) {
      auto value = item.second.IsScalar() ? ParseDouble(item.second.Scalar()) : std::nullopt;
      if (!value) {
        return Status::InvalidArgument(YamlWhere(file, item.second) + ": " + key.Dotted() + "." +
                                       item.first.Scalar() + " must be a number");
      }
      (**map)[item.first.Scalar()] = *value;
    }
    return Status::Ok();
  }
  if (node.IsNull()) {
    if (std::holds_alternative<std::string*>(field)) return SetFromText(key, config, "", where);
    return Status::InvalidArgument(where + ": " + key.Dotted() + " needs a value");
  }
  if (!node.IsScalar()) {
    return Status::InvalidArgument(where + ": " + key.Dotted() + " must be a single value");
  }
  return SetFromText(key, config, node.Scalar(), where);
}

Status ApplyYaml(Config& config, const std::string& path) {
  FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    return Status::InvalidArgument(path + ":" + std::to_string(error.mark.line + 1) + ":" +
                                   std::to_string(error.mark.column + 1) +
                                   ": malformed YAML: " + error.msg);
  }
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) {
    return Status::InvalidArgument(YamlWhere(path, root) +
                                   ": the configuration must be a mapping of groups (" +
                                   Join(GroupNames(), ", ") + ")");
  }
  for (const auto& group : root) {
    const std::string& group_name = group.first.Scalar();
    // Feature group definitions (docs/features.md) live beside the configuration; the
    // features module reads them (ParseFeatureGroups).
    if (group_name == "feature_groups") continue;
    const auto& groups = GroupNames();
    if (std::find(groups.begin(), groups.end(), group_name) == groups.end()) {
      return Status::InvalidArgument(YamlWhere(path, group.first) + ": unknown group '" +
                                     group_name + "'" + DidYouMean(group_name, groups) +
                                     "; valid groups: " + Join(groups, ", "));
    }
    if (group.second.IsNull()) continue;
    if (!group.second.IsMap()) {
      return Status::InvalidArgument(YamlWhere(path, group.second) + ": group '" + group_name +
                                     "' must be a mapping of keys");
    }
    for (const auto& entry : group.second) {
      const std::string& key_name = entry.first.Scalar();
      const KeySpec* key = FindKey(group_name, key_name);
      if (key == nullptr) {
        std::vector<std::string> candidates = KeysOfGroup(group_name);
        return Status::InvalidArgument(YamlWhere(path, entry.first) + ": unknown key '" +
                                       group_name + "." + key_name + "'" +
                                       DidYouMean(key_name, candidates) + "; valid keys in " +
                                       group_name + ": " + Join(candidates, ", "));
      }
      FOPS_RETURN_IF_ERROR(SetFromYaml(*key, config, entry.second, path));
    }
  }
  return Status::Ok();
}

/// Parses a .env file: KEY=VALUE lines, '#' comments, optional `export `, quoted values.
Status ReadDotEnv(const std::string& path, std::map<std::string, std::string>* values,
                  std::map<std::string, std::string>* origins) {
  FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  int line_number = 0;
  for (const std::string& raw_line : Split(text, '\n')) {
    ++line_number;
    std::string_view line = Trim(raw_line);
    if (line.empty() || line.front() == '#') continue;
    if (StartsWith(line, "export ")) line = Trim(line.substr(7));
    size_t equals = line.find('=');
    std::string where = path + ":" + std::to_string(line_number);
    if (equals == std::string_view::npos) {
      return Status::InvalidArgument(where + ": expected KEY=VALUE, got '" + std::string(line) +
                                     "'");
    }
    std::string name(Trim(line.substr(0, equals)));
    std::string_view value = Trim(line.substr(equals + 1));
    bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char c : name)
      valid_name = valid_name && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!valid_name) {
      return Status::InvalidArgument(where + ": '" + name +
                                     "' is not a variable name (letters, digits, _)");
    }
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
      if (value.back() != value.front()) {
        return Status::InvalidArgument(where + ": unterminated quoted value for " + name);
      }
      value = value.substr(1, value.size() - 2);
    } else if (size_t hash = value.find(" #"); hash != std::string_view::npos) {
      value = Trim(value.substr(0, hash));
    }
    (*values)[name] = std::string(value);
    (*origins)[name] = where;
  }
  return Status::Ok();
}

/// Hyperparameters: the JSON defaults file, then <PREFIX><PARAM> variables.
Status LoadHyperParameters(const std::string& file, std::string_view builtin,
                           const std::string& prefix,
                           const std::map<std::string, std::string>& environment,
                           const std::map<std::string, std::string>& origins,
                           HyperParameters* params) {
  std::string text(builtin);
  std::string origin = "built-in " + prefix.substr(0, prefix.size() - 1) + " defaults";
  if (!file.empty() && FileExists(file)) {
    FOPS_ASSIGN_OR_RETURN(text, ReadFile(file));
    origin = file;
  }
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    return Status::InvalidArgument(origin + ": malformed JSON at byte " +
                                   std::to_string(error.byte) + ": " + error.what());
  }
  if (!json.is_object()) {
    return Status::InvalidArgument(origin + ": hyperparameters must be a JSON object");
  }
  params->clear();
  for (auto& [name, value] : json.items()) (*params)[name] = {value, origin};
  for (const auto& [name, value] : environment) {
    if (!StartsWith(name, prefix) || name.size() == prefix.size()) continue;
    std::string param = ToLower(name.substr(prefix.size()));
    nlohmann::json parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || parsed.is_object()) parsed = value;
    auto where = origins.find(name);
    (*params)[param] = {parsed, where != origins.end() ? where->second + " (" + name + ")"
                                                       : "environment variable " + name};
  }
  return Status::Ok();
}

Status ValidateCron(const std::string& cron, const std::string& where) {
  if (cron.empty()) return Status::Ok();
  Result<CronSchedule> schedule = CronSchedule::Parse(cron);
  if (!schedule.ok()) return Status::InvalidArgument(where + ": " + schedule.status().message());
  return Status::Ok();
}

std::string FormatValue(const FieldPtr& field) {
  struct Visitor {
    std::string operator()(std::string* s) const {
      return s->empty() ? "\"\"" : YAML::Dump(YAML::Node(*s));
    }
    std::string operator()(bool* b) const { return *b ? "true" : "false"; }
    std::string operator()(long long* i) const { return std::to_string(*i); }
    std::string operator()(double* d) const { return FormatDouble(*d, 10); }
    std::string operator()(std::vector<std::string>* list) const {
      std::string out = "[";
      for (size_t i = 0; i < list->size(); ++i) {
        if (i) out += ", ";
        out += "\"" + (*list)[i] + "\"";
      }
      return out + "]";
    }
    std::string operator()(std::map<std::string, double>* map) const {
      std::string out = "{";
      for (const auto& [name, value] : *map) {
        if (out.size() > 1) out += ", ";
        out += name + ": " + FormatDouble(value, 10);
      }
      return out + "}";
    }
  };
  return std::visit(Visitor{}, field);
}

}  // namespace

std::string Config::Resolve(const std::string& path) const {
  if (path.empty() || std::filesystem::path(path).is_absolute() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).string();
}

nlohmann::json Config::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  Config copy = *this;
  for (const KeySpec& key : KeyTable()) {
    std::visit([&](auto* field) { out[key.group][key.name] = *field; }, key.field(copy));
    // URLs may carry a password: run records never hold it.
    FieldPtr field = key.field(copy);
    if (auto* text = std::get_if<std::string*>(&field);
        text && (*text)->find("://") != std::string::npos) {
      out[key.group][key.name] = RedactUrl(**text);
    }
  }
  for (const auto& [name, param] : train.xgboost) out["train"]["xgboost"][name] = param.value;
  for (const auto& [name, param] : train.lgbm) out["train"]["lgbm"][name] = param.value;
  return out;
}

std::vector<std::string> ConfigKeys() {
  std::vector<std::string> keys;
  for (const KeySpec& key : KeyTable()) keys.push_back(key.Dotted());
  return keys;
}

Status ValidateConfig(const Config& config) {
  const PreprocessConfig& p = config.preprocess;
  double sum = p.train_ratio + p.validation_ratio + p.test_ratio;
  if (std::fabs(sum - 1.0) > 1e-9) {
    return Status::InvalidArgument(
        "preprocess.train_ratio + validation_ratio + test_ratio must sum to exactly 1 (within "
        "1e-9); got " +
        FormatDouble(p.train_ratio, 10) + " + " + FormatDouble(p.validation_ratio, 10) + " + " +
        FormatDouble(p.test_ratio, 10) + " = " + FormatDouble(sum, 12));
  }
  if (p.train_ratio <= 0 || p.validation_ratio <= 0 || p.test_ratio <= 0) {
    return Status::InvalidArgument(
        "preprocess.train_ratio, validation_ratio and test_ratio must each be greater than 0");
  }
  if (config.train.sharded && config.train.instance_count < 2) {
    return Status::InvalidArgument(
        "train.sharded has each of the workers read its part of the data; it needs "
        "train.instance_count 2 or more (got " +
        std::to_string(config.train.instance_count) + ")");
  }
  if (config.train.sharded && config.explain.enabled) {
    return Status::InvalidArgument(
        "train.sharded does not combine with explain.enabled yet: explaining the test rows "
        "needs their features, which stay on the workers (docs/explanations.md)");
  }
  if (config.train.sharded && !config.bias.facets.empty()) {
    return Status::InvalidArgument(
        "train.sharded does not combine with bias.facets yet: the bias step needs the facet "
        "columns of the test rows, which stay on the workers (docs/bias.md)");
  }
  if (config.bias.mitigation != "none" && config.bias.facets.empty()) {
    return Status::InvalidArgument("bias.mitigation: " + config.bias.mitigation +
                                   " weighs the training rows by the groups of bias.facets; "
                                   "give at least one facet");
  }
  if (config.bias.mitigation != "none" && config.train.instance_count > 1) {
    return Status::InvalidArgument(
        "bias.mitigation does not combine with train.instance_count > 1 yet: row weights are "
        "given to training in one process (docs/bias.md)");
  }
  if (config.train.sharded && !p.features.empty()) {
    return Status::InvalidArgument(
        "train.sharded does not combine with preprocess.features yet: joining the feature "
        "store's features as of each row's time needs all the rows in one process; leave "
        "train.sharded false (docs/distributed-training.md)");
  }
  if (p.split_method == "time" && p.time_column.empty()) {
    return Status::InvalidArgument(
        "preprocess.split_method = time needs preprocess.time_column (the column to order by)");
  }
  if (const std::string& sse = config.artifacts.sse;
      !sse.empty() && sse != "AES256" && sse != "aws:kms") {
    return Status::InvalidArgument("artifacts.sse = '" + sse +
                                   "': accepted: empty, AES256 (SSE-S3), aws:kms (SSE-KMS)");
  }
  if (!config.artifacts.kms_key_id.empty() && config.artifacts.sse != "aws:kms") {
    return Status::InvalidArgument("artifacts.kms_key_id needs artifacts.sse: aws:kms");
  }
  if (config.api.tls_cert_file.empty() != config.api.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "api.tls_cert_file and api.tls_key_file go together: set both for HTTPS, or neither");
  }
  if (!config.tracing.otlp_url.empty()) {
    if (auto url = ParseHttpUrl(config.tracing.otlp_url); !url.ok()) {
      return Status::InvalidArgument("tracing.otlp_url = " + url.status().message() +
                                     "; accepted: an OTLP/HTTP traces endpoint, "
                                     "http[s]://host[:port]/path, e.g. "
                                     "http://otel-collector:4318/v1/traces");
    }
  }
  if (!config.api.tls_client_ca_file.empty() && config.api.tls_cert_file.empty()) {
    return Status::InvalidArgument(
        "api.tls_client_ca_file asks clients for certificates, which needs TLS: set "
        "api.tls_cert_file and api.tls_key_file too");
  }
  if (p.label_column.empty()) {
    return Status::InvalidArgument("preprocess.label_column must name the label column");
  }
  const std::string& d = p.delimiter;
  if (d != "auto" && d != "," && d != ";" && d != "\t" && d != "|" && d != "\\t" && d != "tab") {
    return Status::InvalidArgument("preprocess.delimiter = '" + d +
                                   "' is not valid; accepted: auto, ',', ';', tab, '|'");
  }
  LogLevel level;
  if (!ParseLogLevel(config.global.log_level, &level)) {
    return Status::InvalidArgument("global.log_level = '" + config.global.log_level +
                                   "' is not valid; accepted: debug, info, warn, error, off");
  }
  struct Duration {
    const std::string* value;
    const char* key;
    bool may_be_empty;  ///< empty switches the feature off
  };
  const Duration durations[] = {
      {&config.schedule.poll, "schedule.poll", false},
      {&config.schedule.cooldown, "schedule.cooldown", false},
      {&config.schedule.lock_timeout, "schedule.lock_timeout", false},
      {&config.monitor.window, "monitor.window", false},
      {&config.monitor.label_maturity, "monitor.label_maturity", false},
      {&config.monitor.quality_window, "monitor.quality_window", false},
      {&config.monitor.repeat_alerts_after, "monitor.repeat_alerts_after", false},
      {&config.monitor.serve_interval, "monitor.serve_interval", true},
      {&config.stream.dedup_ttl, "stream.dedup_ttl", false},
      {&config.tune.time_budget, "tune.time_budget", true}};
  for (const Duration& duration : durations) {
    if (duration.value->empty() && duration.may_be_empty) continue;
    if (!ParseDurationSeconds(*duration.value)) {
      return Status::InvalidArgument(std::string(duration.key) + " = '" + *duration.value +
                                     "' is not a duration; accepted: a positive whole number with "
                                     "s, m, h, d or w (e.g. 90s, 15m, 1h, 7d)");
    }
  }
  if (!config.tune.target.empty() && !ParseDouble(config.tune.target)) {
    return Status::InvalidArgument("tune.target = '" + config.tune.target +
                                   "' is not a number; accepted: the objective's value to stop "
                                   "at (e.g. 0.85), or empty for none");
  }
  const std::vector<std::string> quality_metrics = {"roc_auc", "pr_auc", "recall", "precision"};
  for (const auto& [name, value] : config.monitor.min_metrics) {
    if (std::find(quality_metrics.begin(), quality_metrics.end(), name) == quality_metrics.end()) {
      return Status::InvalidArgument("monitor.min_metrics." + name + " is not a quality metric" +
                                     DidYouMean(name, quality_metrics) +
                                     "; accepted: " + Join(quality_metrics, ", "));
    }
  }
  return ValidateCron(config.schedule.cron, "schedule.cron");
}

Result<Config> LoadConfig(const LoadOptions& options) {
  std::map<std::string, std::string> environment = options.environment;
  std::map<std::string, std::string> origins;  // variable -> where it was set, when a file
  if (options.use_process_environment) {
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      std::string_view text(*entry);
      size_t equals = text.find('=');
      if (equals == std::string_view::npos) continue;
      environment.emplace(std::string(text.substr(0, equals)),
                          std::string(text.substr(equals + 1)));
    }
  }

  Config config;
  std::string path = options.config_path;
  if (path.empty()) {
    auto it = environment.find("FRAUDOPS_CONFIG");
    if (it != environment.end() && !it->second.empty()) path = it->second;
  }
  if (!path.empty() && !FileExists(path)) {
    return Status::InvalidArgument("configuration file '" + path + "' does not exist");
  }
  if (path.empty() && FileExists("config.yml")) path = "config.yml";
  if (!path.empty()) {
    config.config_path = path;
    config.base_dir = std::filesystem::path(path).parent_path().string();
    FOPS_RETURN_IF_ERROR(ApplyYaml(config, path));
  }

  // .env beside the configuration (or in the working directory) supplies defaults for the
  // environment: a variable that is really set wins over the file.
  std::string dotenv = config.Resolve(".env");
  if (FileExists(dotenv)) {
    std::map<std::string, std::string> values, value_origins;
    FOPS_RETURN_IF_ERROR(ReadDotEnv(dotenv, &values, &value_origins));
    for (const auto& [name, value] : values) {
      if (environment.emplace(name, value).second) origins[name] = value_origins[name];
    }
  }

  auto where_of = [&](const std::string& name) {
    auto it = origins.find(name);
    return it != origins.end() ? it->second + " (" + name + ")" : "environment variable " + name;
  };

  // Named aliases from the reference project, then FRAUDOPS_<GROUP>_<KEY>.
  const std::map<std::string, std::string> kAliases = {
      {"TRAINING_ALGORITHM", "train.algorithm"},
      {"CRON_SCHEDULE", "schedule.cron"},
      {"FRAUDOPS_HOME", "global.home"},
      {"FRAUDOPS_METADATA_URL", "global.metadata_url"},
      {"S3_BUCKET", "preprocess.s3_bucket"},
      {"S3_RAW_DATA_KEY", "preprocess.s3_raw_data_key"},
      {"FRAUDOPS_ARTIFACT_URL", "global.artifact_url"},
      {"FRAUDOPS_LOG_LEVEL", "global.log_level"},
  };
  std::vector<std::string> env_names;
  for (const KeySpec& key : KeyTable()) env_names.push_back(key.EnvName());
  for (const auto& [alias, dotted] : kAliases) env_names.push_back(alias);
  // Read elsewhere: the config file, the fault-injection test hook (docs/testing.md), and
  // the command line's sign-in to a server in shared mode (cli/remote.h).
  const std::set<std::string> kOtherNames = {"FRAUDOPS_CONFIG",       "FRAUDOPS_FAULT_PAUSE",
                                             "FRAUDOPS_FAULT_MARKER", "FRAUDOPS_CREDENTIALS",
                                             "FRAUDOPS_URL",          "FRAUDOPS_TOKEN"};
  env_names.insert(env_names.end(), kOtherNames.begin(), kOtherNames.end());

  std::map<std::string, std::string> set_from_environment;  // dotted key -> where_of(variable)
  for (const auto& [name, value] : environment) {
    const KeySpec* key = nullptr;
    if (auto alias = kAliases.find(name); alias != kAliases.end()) {
      size_t dot = alias->second.find('.');
      key = FindKey(alias->second.substr(0, dot), alias->second.substr(dot + 1));
    } else if (StartsWith(name, "FRAUDOPS_") && !kOtherNames.count(name)) {
      for (const KeySpec& candidate : KeyTable()) {
        if (candidate.EnvName() == name) key = &candidate;
      }
      if (key == nullptr) {
        return Status::InvalidArgument(where_of(name) + ": unknown variable" +
                                       DidYouMean(name, env_names) +
                                       "; every key has one, named FRAUDOPS_<GROUP>_<KEY>");
      }
    }
    if (key != nullptr) {
      FOPS_RETURN_IF_ERROR(SetFromText(*key, config, value, where_of(name)));
      set_from_environment[key->Dotted()] = where_of(name);
    }
  }

  FOPS_RETURN_IF_ERROR(LoadHyperParameters(config.Resolve(config.train.xgboost_params_file),
                                           DefaultXgboostParams(), "XGBOOST_", environment, origins,
                                           &config.train.xgboost));
  FOPS_RETURN_IF_ERROR(LoadHyperParameters(config.Resolve(config.train.lgbm_params_file),
                                           DefaultLgbmParams(), "LGBM_", environment, origins,
                                           &config.train.lgbm));

  Status valid = ValidateConfig(config);
  if (valid.ok()) return config;
  // The checks name the key first ("schedule.cron: …", "tune.target = '…'"): a key the
  // environment set is the variable's to answer for, not the file's.
  const std::string& message = valid.message();
  for (const auto& [dotted, where] : set_from_environment) {
    if (message.starts_with(dotted) && message.size() > dotted.size() &&
        std::string_view(" :.=").find(message[dotted.size()]) != std::string_view::npos)
      return valid.WithContext(where);
  }
  if (!config.config_path.empty()) return valid.WithContext(config.config_path);
  return valid;
}

std::string ConfigTemplate() {
  Config defaults;
  std::string out =
      "# fraudops configuration. Every key is shown with its default; delete what you do not\n"
      "# change. Environment variables override this file (FRAUDOPS_<GROUP>_<KEY>, and the\n"
      "# names TRAINING_ALGORITHM, CRON_SCHEDULE, XGBOOST_<PARAM>, LGBM_<PARAM>); a .env file\n"
      "# beside this one supplies defaults for them. Relative paths resolve against this file.\n";
  std::string group;
  for (const KeySpec& key : KeyTable()) {
    if (key.group != group) {
      group = key.group;
      out += "\n" + group + ":\n";
    }
    out += "  # " + std::string(key.description);
    if (!key.choices.empty()) out += " One of: " + ChoicesText(key.choices) + ".";
    out += "\n  # env: " + key.EnvName() + "\n";
    out += "  " + std::string(key.name) + ": " + FormatValue(key.field(defaults)) + "\n";
  }
  return out;
}

std::string EnvTemplate() { return std::string(embedded::env_example()); }
std::string_view DefaultXgboostParams() { return embedded::xgboost_default_json(); }
std::string_view DefaultLgbmParams() { return embedded::lgbm_default_json(); }

}  // namespace fraudops
