#include "store/schema.h"

namespace fraudops {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "tracking, registry, audit",
       R"sql(
CREATE TABLE experiments (
  name TEXT PRIMARY KEY,
  created_at TEXT NOT NULL);
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  experiment TEXT NOT NULL REFERENCES experiments(name),
  status TEXT NOT NULL,
  start_time TEXT NOT NULL,
  end_time TEXT,
  code_version TEXT NOT NULL,
  host TEXT NOT NULL,
  user_name TEXT NOT NULL,
  artifact_uri TEXT NOT NULL,
  error TEXT);
CREATE INDEX runs_by_start ON runs(start_time);
CREATE INDEX runs_by_experiment ON runs(experiment, start_time);
CREATE TABLE run_params (
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, name));
CREATE TABLE run_tags (
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (run_id, name));
CREATE TABLE run_metrics (
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  name TEXT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (run_id, name));
CREATE INDEX run_metrics_by_name ON run_metrics(name, value);
CREATE TABLE metric_history (
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  name TEXT NOT NULL,
  step BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (run_id, name, step));
CREATE TABLE run_artifacts (
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  name TEXT NOT NULL,
  uri TEXT NOT NULL,
  size BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (run_id, name));
CREATE TABLE run_datasets (
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  role TEXT NOT NULL,
  source TEXT NOT NULL,
  row_count BIGINT NOT NULL,
  content_hash TEXT NOT NULL,
  PRIMARY KEY (run_id, role));
CREATE INDEX run_datasets_by_hash ON run_datasets(content_hash);
CREATE TABLE registered_models (
  name TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  last_version BIGINT NOT NULL);
CREATE TABLE model_versions (
  model TEXT NOT NULL REFERENCES registered_models(name),
  version BIGINT NOT NULL,
  run_id TEXT NOT NULL REFERENCES runs(run_id),
  created_at TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  bundle_uri TEXT NOT NULL,
  threshold DOUBLE PRECISION NOT NULL,
  metrics TEXT NOT NULL,
  description TEXT NOT NULL,
  data_hash TEXT NOT NULL,
  approval TEXT NOT NULL,
  approval_by TEXT,
  approval_at TEXT,
  approval_reason TEXT,
  archived BIGINT NOT NULL,
  PRIMARY KEY (model, version));
CREATE INDEX model_versions_by_run ON model_versions(run_id);
CREATE TABLE model_aliases (
  model TEXT NOT NULL,
  alias TEXT NOT NULL,
  version BIGINT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions(model, version));
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  model TEXT NOT NULL,
  version BIGINT NOT NULL,
  details TEXT NOT NULL);
CREATE INDEX audit_by_model ON audit_log(model, id);
)sql"},
      {2, "serving: endpoints, deployments, API keys, usage plans and counters, feedback",
       R"sql(
CREATE TABLE endpoints (
  name TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  production_model TEXT,
  production_version BIGINT,
  canary_model TEXT,
  canary_version BIGINT,
  canary_percent DOUBLE PRECISION NOT NULL,
  shadows TEXT NOT NULL,
  deployment_id TEXT,
  generation BIGINT NOT NULL);
CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  endpoint TEXT NOT NULL REFERENCES endpoints(name),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  actor TEXT NOT NULL,
  strategy TEXT NOT NULL,
  model TEXT NOT NULL,
  version BIGINT NOT NULL,
  previous_model TEXT,
  previous_version BIGINT,
  params TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  traffic_percent DOUBLE PRECISION NOT NULL,
  step_started_at TEXT NOT NULL);
CREATE INDEX deployments_by_endpoint ON deployments(endpoint, id);
CREATE TABLE usage_plans (
  name TEXT PRIMARY KEY,
  rate_per_second DOUBLE PRECISION NOT NULL,
  burst BIGINT NOT NULL,
  daily_quota BIGINT NOT NULL,
  monthly_quota BIGINT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  salt TEXT NOT NULL,
  hash TEXT NOT NULL,
  scopes TEXT NOT NULL,
  endpoints TEXT NOT NULL,
  plan TEXT REFERENCES usage_plans(name),
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at TEXT);
CREATE TABLE usage_counters (
  key_id TEXT NOT NULL REFERENCES api_keys(id),
  period TEXT NOT NULL,
  used BIGINT NOT NULL,
  PRIMARY KEY (key_id, period));
CREATE TABLE feedback (
  endpoint TEXT NOT NULL,
  request_id TEXT NOT NULL,
  label DOUBLE PRECISION NOT NULL,
  label_time TEXT NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (endpoint, request_id));
CREATE TABLE change_counters (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL);
INSERT INTO change_counters VALUES ('endpoints', 0);
INSERT INTO change_counters VALUES ('keys', 0);
)sql"},
      {3, "scheduler: trigger state, run locks, schedule history",
       R"sql(
CREATE TABLE schedule_state (
  pipeline TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (pipeline, name));
CREATE TABLE schedule_locks (
  pipeline TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  acquired_at TEXT NOT NULL,
  expires_at TEXT NOT NULL);
CREATE TABLE schedule_runs (
  id TEXT PRIMARY KEY,
  pipeline TEXT NOT NULL,
  trigger_name TEXT NOT NULL,
  reason TEXT NOT NULL,
  scheduled_for TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  execution_id TEXT,
  model TEXT,
  version BIGINT,
  deployment TEXT,
  error TEXT);
CREATE INDEX schedule_runs_by_pipeline ON schedule_runs(pipeline, id);
)sql"},
      {4, "A/B tests (weighted production variants, sticky assignment) and multi-model endpoints",
       R"sql(
ALTER TABLE endpoints ADD COLUMN ab_variants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE endpoints ADD COLUMN assignment_field TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN ab_started_at TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN multi_model TEXT NOT NULL DEFAULT '';
)sql"},
      {5, "Decision policies registered with model versions; the raw data file's sha256",
       R"sql(
ALTER TABLE model_versions ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE run_datasets ADD COLUMN file_sha256 TEXT NOT NULL DEFAULT '';
CREATE INDEX run_datasets_by_file ON run_datasets(file_sha256);
)sql"},
      {6,
       "People: users with roles and Argon2id passwords; personal access tokens (API keys "
       "with an owner and an expiry)",
       R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  roles TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  disabled_at TEXT);
ALTER TABLE api_keys ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
)sql"},
      {7, "Staged promotion: an endpoint's environment (dev, staging, production)",
       R"sql(
ALTER TABLE endpoints ADD COLUMN environment TEXT NOT NULL DEFAULT '';
)sql"},
      {8,
       "Feature store: feature group definitions with versions; the offline store's segments "
       "(one per ingestion)",
       R"sql(
CREATE TABLE feature_groups (
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  definition TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (name, version));
CREATE TABLE feature_segments (
  id TEXT PRIMARY KEY,
  group_name TEXT NOT NULL,
  group_version BIGINT NOT NULL,
  uri TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  rows_count BIGINT NOT NULL,
  entities BIGINT NOT NULL,
  min_event BIGINT NOT NULL,
  max_event BIGINT NOT NULL,
  ingested_at TEXT NOT NULL,
  source TEXT NOT NULL,
  actor TEXT NOT NULL);
CREATE INDEX feature_segments_by_group ON feature_segments(group_name, id);
)sql"},
      {9,
       "Tuning: studies (search space, strategy, objective) and their trials (claimed by number, "
       "so processes sharing a study never run the same trial)",
       R"sql(
CREATE TABLE studies (
  name TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  definition TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL);
CREATE TABLE trials (
  study TEXT NOT NULL REFERENCES studies(name),
  number BIGINT NOT NULL,
  run_id TEXT NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  value DOUBLE PRECISION,
  detail TEXT NOT NULL,
  owner TEXT NOT NULL,
  started_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL,
  finished_at TEXT,
  PRIMARY KEY (study, number));
)sql"},
      {10, "Runs found by a tag's value (the tuning trials a runs listing leaves out)",
       R"sql(
CREATE INDEX run_tags_by_name ON run_tags(name, value);
)sql"},
  };
  return kMigrations;
}

}  // namespace fraudops
