#pragma once
/// One monitoring pass over an endpoint (docs/monitoring.md), as `fraudops monitor run`,
/// the periodic monitor in `fraudops serve` and the scheduler's drift and quality triggers
/// run it: the production version's baseline, one scan of the capture files for the drift
/// window (the last monitor.window) and the quality window (monitor.quality_window ending
/// monitor.label_maturity ago), drift per feature and for the score, quality from the
/// delayed labels, alerts for what crossed a threshold, and a report (report.json and
/// report.html with charts) written atomically under <home>/monitoring/<endpoint>/<time>/.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/logging.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "monitor/alerts.h"
#include "monitor/drift.h"
#include "monitor/quality.h"
#include "pipeline/scheduler.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"

namespace fraudops {

struct MonitorOptions {
  std::string endpoint;
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  long long window_seconds = 0;  ///< 0: monitor.window
  std::string labels_file;       ///< besides the feedback in the metadata store
  bool write_report = true;
  /// Write the report only when the pass raised alerts (serve's periodic monitor, so that a
  /// pass every few minutes does not fill the disk with reports of quiet windows).
  bool report_only_on_alerts = false;
  ThreadPool* pool = nullptr;
};

struct MonitorReport {
  std::string endpoint;
  std::string model;  ///< NAME@VERSION in production
  std::string time;
  TimeWindow drift_window;
  DriftResult drift;
  QualityResult quality;
  ScanResult scan;  ///< counts and file statistics (joined rows dropped)
  std::vector<Alert> alerts;
  std::string report_dir;  ///< where report.json and report.html went ("" when not written)
  double seconds = 0;
  nlohmann::json ToJson() const;
};

/// NotFound when the endpoint does not exist or serves nothing; a capture directory that
/// does not exist yet is an empty window, not an error.
Result<MonitorReport> RunMonitor(const Config& config, MetadataStore& metadata,
                                 ArtifactStore* artifacts, const MonitorOptions& options);

/// report.html: the verdicts, then per column a bar chart of baseline and live shares.
std::string RenderMonitorHtml(const MonitorReport& report);

/// Prometheus gauges of the latest reports: fraudops_drift_psi / _ks and their thresholds
/// per endpoint and feature, fraudops_drift_rows, fraudops_quality_<metric>, and
/// fraudops_monitor_alerts.
std::string MonitorGauges(const std::vector<MonitorReport>& reports);

/// The log sink, and the webhook when monitor.webhook_url is set.
std::unique_ptr<AlertDispatcher> MakeAlertDispatcher(const Config& config, Logger& logger,
                                                     bool deduplicate);

/// Scheduler triggers on deploy.endpoint_name: drift (any feature or the score over its
/// threshold) and quality (a quality alert). Each check runs the monitor at the clock's now.
/// `config`, `metadata` and `artifacts` are held by reference: they must outlive the trigger.
Trigger DriftTrigger(const Config& config, MetadataStore& metadata, ArtifactStore* artifacts,
                     ThreadPool* pool);
Trigger QualityTrigger(const Config& config, MetadataStore& metadata, ArtifactStore* artifacts,
                       ThreadPool* pool);

}  // namespace fraudops
