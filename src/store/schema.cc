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
  };
  return kMigrations;
}

}  // namespace fraudops
