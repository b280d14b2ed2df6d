#pragma once
/// fraudops configuration: typed groups (global, preprocess, train, evaluate, register,
/// deploy, api, schedule, monitor), every key declared once in a table with its default,
/// bounds and description (config.cc). Sources, lowest precedence first:
///   built-in defaults < config.yml < environment (.env supplies defaults for it) < CLI flags.
/// Environment names: FRAUDOPS_<GROUP>_<KEY> for every key, plus the reference project's
/// TRAINING_ALGORITHM, CRON_SCHEDULE, XGBOOST_<PARAM>, LGBM_<PARAM>, and FRAUDOPS_HOME.
/// An unknown or malformed key is an error naming the key, where it was found (file:line,
/// or the variable), and the closest valid key.

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace fraudops {

struct GlobalConfig {
  std::string pipeline_name = "fraud-detection";
  std::string home = "./fraudops-home";
  std::string metadata_url;  ///< empty: <home>/fraudops.db
  std::string artifact_url;  ///< empty: <home>/artifacts
  std::string ca_file;       ///< PEM CAs outbound HTTPS trusts (empty: the system's)
  long long seed = 42;
  long long threads = 0;
  std::string log_level = "info";
  std::string log_format = "auto";
};

struct PreprocessConfig {
  std::string data_source;  ///< empty: the built-in synthetic dataset
  long long synthetic_rows = 284807;
  double synthetic_fraud_rate = 0.001727;
  long long synthetic_cards = 0;
  std::string label_column = "Class";
  std::string positive_label = "1";
  std::string time_column = "Time";
  std::string amount_column = "Amount";
  std::string delimiter = "auto";
  std::vector<std::string> missing_values = {"", "NA", "N/A", "NaN", "null", "unknown"};
  std::vector<std::string> categorical_columns;
  std::vector<std::string> drop_columns;
  std::vector<std::string> feature_columns;   ///< empty: every column but the label
  std::vector<std::string> derived_features;  ///< "NAME = EXPRESSION" each
  std::vector<std::string> features;          ///< feature store references, GROUP[:FEATURE]
  std::string sql_table = "transactions";
  std::string sql_query;
  std::string shard_key;        ///< sharded reading of SQL: the integer column that splits the rows
  std::string s3_bucket;        ///< data source "s3": the reference project's S3_BUCKET
  std::string s3_raw_data_key;  ///< … and S3_RAW_DATA_KEY
  std::string split_method = "stratified";
  double train_ratio = 0.7;
  double validation_ratio = 0.15;
  double test_ratio = 0.15;
};

/// One hyperparameter value and where it came from (for error messages).
struct HyperParameter {
  nlohmann::json value;
  std::string origin;
};
using HyperParameters = std::map<std::string, HyperParameter>;

struct TrainConfig {
  std::string algorithm = "xgboost";
  std::string xgboost_params_file = "models/xgboost_default.json";
  std::string lgbm_params_file = "models/lgbm_default.json";
  /// Filled by LoadConfig from the params files (or built-in defaults) and XGBOOST_<PARAM>.
  HyperParameters xgboost;
  /// Filled by LoadConfig from the params files (or built-in defaults) and LGBM_<PARAM>.
  HyperParameters lgbm;
  /// Worker processes that train together (docs/distributed-training.md); 1: in-process.
  long long instance_count = 1;
  std::string tracker_host = "127.0.0.1";  ///< the tracker's address, as workers reach it
  long long worker_timeout_s = 300;        ///< a worker waiting this long on the others fails
  long long tracker_port = 0;              ///< 0: a free port (set it for remote workers)
  long long remote_workers = 0;            ///< of instance_count, joining from other hosts
  long long worker_retries = 0;  ///< times a failed worker group starts again from scratch
  /// The pipeline's workers each read, validate, split and score only their part of the data
  /// (pipeline/sharded.h); false: this process reads it all and the workers slice it.
  bool sharded = false;
};

struct ValidateConfig {
  double max_single_feature_auc = 0.99;
  double max_missing_share = 0.95;
  double max_label_rate_change = 2.0;
  long long sample_rows = 200000;  ///< train.sharded: the rows per-column checks look at
};

struct EvaluateConfig {
  double min_roc_auc = 0.90;
  std::map<std::string, double> min_metrics;  ///< other gate minimums, by metric name
  std::map<std::string, double> max_metrics;  ///< gate maximums (e.g. log_loss), by name
  std::string threshold_method = "max_f1";
  double target_fpr = 0.01;
  double fixed_threshold = 0.5;
  /// Calibration of the scores (docs/calibration.md): none, isotonic or platt, fitted on
  /// the validation rows and stored in the bundle.
  std::string calibration = "none";
};

/// Hyperparameter tuning (docs/tuning.md): `fraudops tune`, and the pipeline's train step
/// when enabled.
struct TuneConfig {
  bool enabled = false;
  std::string study;  ///< empty: <pipeline_name>-<execution id>
  std::string strategy = "tpe";
  std::string pruner = "auto";
  std::string objective = "pr_auc";
  long long trials = 30;
  std::string time_budget;  ///< a duration; empty: none
  long long parallel = 0;   ///< 0: half the cores
  long long folds = 0;      ///< 0: the validation split
  std::string fold_method = "stratified";
  std::string target;  ///< a number; empty: none
  long long min_rounds = 10;
  long long eta = 3;
  std::string space_file;  ///< empty: the algorithm's built-in space
  std::string warm_start;
  /// Not tuning: the train step takes this earlier study's best parameters (empty: none).
  std::string from_study;
  /// Trials train on every positive and this many negatives per positive (0: every row).
  double negatives_per_positive = 50;
  long long min_negatives = 10000;  ///< the sample keeps at least this many negatives
};

/// The pipeline's explain step (docs/explanations.md): global TreeSHAP explanations.
struct ExplainConfig {
  bool enabled = false;
  long long rows = 0;                           ///< test rows explained (evenly taken); 0: all
  long long top_features = 8;                   ///< summary and dependence plots for this many
  std::vector<std::string> partial_dependence;  ///< features; empty: the top 3
  /// Segments explained apart ("COL=V", "COL>N" as bias.facets); empty: bias.facets.
  std::vector<std::string> segments = {};
};

/// The pipeline's bias step (docs/bias.md): facets, the group variable, gate rules.
struct BiasConfig {
  /// "COLUMN=VALUE" (or "COLUMN=V1|V2": any of them) for a categorical column, "COLUMN>NUMBER"
  /// for a numeric one; each is a facet d examined against the other rows.
  std::vector<std::string> facets;
  std::string group_variable;  ///< the column CDDL and CDDPL condition on ("" : none)
  std::map<std::string, double> min_metrics, max_metrics;  ///< gate rules, by metric name
  bool keep_facets_as_features = false;  ///< false: facet columns are set aside, not features
  long long bootstrap = 1000;            ///< resamples for the confidence intervals
  long long flip_test_rows = 5000;       ///< FT: at most this many rows of each group
  /// "none" or "reweighing": Kamiran–Calders weights of the training rows by facet group and
  /// label; the model without them is trained too, for the before/after comparison.
  std::string mitigation = "none";
};

/// What the model card (docs/model-card.md) says that data cannot: written by the model's
/// owners, carried into every version's card.
struct CardConfig {
  std::string intended_use =
      "Scores card transactions for the probability of fraud, to decide (with the decision "
      "policy, if any) which to approve, review or decline. Not for credit decisions, nor for "
      "any decision about a person other than the transaction itself.";
  std::vector<std::string> limitations = {};  ///< the owners' caveats, one per entry
  std::string owner;                          ///< the team answerable for the model
};

struct RegisterConfig {
  std::string model_name = "fraud-detector";
  std::string approval = "auto";
  std::string description;
  std::vector<std::string> aliases;
  std::string policy;             ///< a decision policy file (relative to the config file)
  bool shadow_pending = false;    ///< a pending version may be deployed as a shadow
  bool distinct_approver = true;  ///< segregation of duties for versions approved by hand
  bool champion_gate = true;
  std::string champion_alias = "champion";
  std::string champion_metric = "roc_auc";
  double champion_margin = 0.005;
};

/// Promotion policies by environment (store/promotion.h).
struct PromoteConfig {
  std::vector<std::string> dev;
  std::vector<std::string> staging = {"approved"};
  std::vector<std::string> production = {"approved", "champion_passed",
                                         "served:staging:24h|shadowed:production:24h"};
};

struct DeployConfig {
  bool enabled = true;
  bool auto_ = false;  ///< deploy.auto
  std::string endpoint_name = "fraud-detector";
  std::string strategy = "canary";
  double canary_percent = 10;
  double bake_seconds = 300;
  double linear_step_percent = 25;
  double linear_step_seconds = 60;
  double max_error_rate = 0.01;
  double max_p99_ms = 50;
  double max_score_psi = 0.25;
  double max_decision_shift = 0.1;
  double min_requests = 100;
  double ab_weight = 50;
  std::string ab_assignment_field;
  double ab_fpr_target = 0.01;
  double ab_min_effect = 0.01;
  double ab_confidence = 0.95;
  double ab_power = 0.8;
};

struct ApiConfig {
  std::string listen = "127.0.0.1:8080";
  long long workers = 0;
  std::string auth = "required";
  long long max_body_bytes = 1 << 20;
  long long model_cache_bytes = 1LL << 30;
  long long max_rows = 10000;
  long long max_connections = 10000;
  long long header_timeout_ms = 10000;
  long long body_timeout_ms = 30000;
  long long idle_timeout_ms = 60000;
  long long drain_delay_ms = 0;
  long long drain_timeout_ms = 10000;
  long long poll_interval_ms = 250;
  double capture_sample = 0.1;
  double capture_max_file_mb = 64;
  double capture_rotate_seconds = 3600;
  double capture_queue_rows = 100000;
  std::string quota_url;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  double token_days = 30;
  std::string oidc_issuer;
  std::string oidc_audience;
  std::string oidc_jwks;
  std::string oidc_roles_claim = "groups";
  std::vector<std::string> oidc_role_map;
  std::string oidc_username_claim = "preferred_username";
};

struct ScheduleConfig {
  std::string cron;
  std::string missed = "skip";  ///< skip or catch_up
  std::string poll = "1m";
  bool on_new_data = false;
  std::vector<std::string> watch;
  bool on_drift = false;
  bool on_quality = false;
  std::string cooldown = "1h";
  std::string lock_timeout = "6h";
  bool in_serve = false;
};

struct MonitorConfig {
  double psi_threshold = 0.2;
  double ks_threshold = 0.1;
  std::map<std::string, double> psi_thresholds;  ///< by feature; "$score" for the score
  std::map<std::string, double> ks_thresholds;
  long long min_rows = 1000;
  std::string window = "1h";
  std::string serve_interval = "5m";  ///< empty: serve runs no monitor
  std::string label_maturity = "7d";
  std::string quality_window = "7d";
  std::string unlabeled = "skip";  ///< skip or negative
  long long min_labels = 100;
  double min_roc_auc = 0.8;
  std::map<std::string, double> min_metrics;  ///< pr_auc, recall, precision
  double max_alert_rate = 0;
  std::string webhook_url;
  long long webhook_retries = 3;
  long long webhook_backoff_ms = 500;
  long long webhook_timeout_ms = 5000;
  std::string repeat_alerts_after = "1h";
};

/// The feature store's online side (docs/features.md).
struct FeaturesConfig {
  std::string online_url;  ///< "" : embedded under global.home
  std::string on_store_error = "unavailable";
  long long online_timeout_ms = 500;
};

/// Streams (docs/streaming.md): Redis Streams consumers.
struct StreamConfig {
  std::string url;  ///< Redis; "" : features.online_url when that is Redis
  std::string input = "fraudops:transactions";
  std::string output = "fraudops:scores";
  std::string dead_letter = "fraudops:dead-letter";
  std::string score_group = "fraudops-score";
  std::string ingest_group = "fraudops-ingest";
  std::string endpoint;  ///< "" : deploy.endpoint_name
  std::string id_field = "transaction_id";
  long long batch = 500;
  long long block_ms = 1000;
  long long claim_idle_ms = 30000;
  long long max_deliveries = 5;
  std::string dedup_ttl = "7d";
  long long segment_rows = 100000;
};

/// Tracing of serve (docs/operations.md): OTLP/HTTP export.
struct TracingConfig {
  std::string otlp_url;                    ///< e.g. http://collector:4318/v1/traces; empty: off
  std::string protocol = "http/protobuf";  ///< or "http/json"
  double sample_ratio = 1.0;
  bool parent_based = true;
  std::string service_name = "fraudops";
  long long batch_spans = 0;  ///< 0: by protocol, about 1 MB a post (8,192 protobuf, 2,048 JSON)
  long long queue_spans = 32768;
  long long flush_ms = 1000;
  long long timeout_ms = 2000;
};

/// The artifact store's writes (docs/operations.md).
struct ArtifactsConfig {
  std::string sse;         ///< "", "AES256" (SSE-S3) or "aws:kms" (SSE-KMS) on S3 writes
  std::string kms_key_id;  ///< SSE-KMS: the key (empty: the bucket's default key)
  double keep_days = 90;   ///< fraudops artifacts gc
  double archive_days = 30;
  std::string archive_storage_class;  ///< "" : the archive/ prefix
};

struct Config {
  GlobalConfig global;
  PreprocessConfig preprocess;
  TrainConfig train;
  TuneConfig tune;
  ValidateConfig validate;
  EvaluateConfig evaluate;
  ExplainConfig explain;
  BiasConfig bias;
  CardConfig card;
  RegisterConfig register_;
  DeployConfig deploy;
  PromoteConfig promote;
  ApiConfig api;
  ScheduleConfig schedule;
  MonitorConfig monitor;
  FeaturesConfig features;
  StreamConfig stream;
  ArtifactsConfig artifacts;
  TracingConfig tracing;

  std::string config_path;  ///< the file loaded, or empty for built-in defaults
  std::string base_dir;     ///< relative paths in the config resolve against this

  /// Resolves `path` against base_dir unless absolute.
  std::string Resolve(const std::string& path) const;
  /// Every key and its effective value, for run records.
  nlohmann::json ToJson() const;
};

struct LoadOptions {
  std::string config_path;  ///< empty: $FRAUDOPS_CONFIG, else ./config.yml if present
  /// The environment; empty means the process environment. Tests pass their own.
  std::map<std::string, std::string> environment;
  bool use_process_environment = true;
};

Result<Config> LoadConfig(const LoadOptions& options);

/// Re-checks cross-key rules (ratios sum to 1, choices); LoadConfig calls it, and callers
/// that change a Config afterwards (CLI flags) call it again.
Status ValidateConfig(const Config& config);

/// The commented config.yml that `fraudops init` writes: every key, its default, its
/// description and its environment variable.
std::string ConfigTemplate();
/// The commented .env.example that `fraudops init` writes.
std::string EnvTemplate();
/// Built-in copies of the repository's models/*_default.json (embedded at build time).
std::string_view DefaultXgboostParams();
std::string_view DefaultLgbmParams();

/// Every valid dotted key ("preprocess.train_ratio"), for suggestions and docs.
std::vector<std::string> ConfigKeys();

}  // namespace fraudops
