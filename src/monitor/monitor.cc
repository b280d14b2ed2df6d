#include "monitor/monitor.h"

#include <filesystem>

#include "core/files.h"
#include "core/metrics_text.h"
#include "core/strings.h"
#include "store/serving_store.h"

namespace fraudops {

namespace fs = std::filesystem;

namespace {

using TimePoint = std::chrono::system_clock::time_point;

long long Seconds(const std::string& text, long long fallback) {
  return ParseDurationSeconds(text).value_or(fallback);
}

/// The production version's baseline (a local copy first for bundles in S3).
Result<DriftBaseline> LoadBaseline(const fs::path& home, MetadataStore& metadata,
                                   ArtifactStore* artifacts, const ModelVersion& version) {
  std::string directory = version.bundle_uri;
  if (StartsWith(directory, "s3://")) {
    if (!artifacts)
      return Status::InvalidArgument("the bundle of " + version.model +
                                     " is in S3 but no artifact store is open");
    directory = (home / "cache" / "models" / version.model /
                 (std::to_string(version.version) + "-" + version.run_id))
                    .string();
    if (!fs::exists(fs::path(directory) / "baseline.json")) {
      FOPS_RETURN_IF_ERROR(MakeDirectories(directory));
      FOPS_RETURN_IF_ERROR(ExportModelFiles(metadata, *artifacts, version, directory).status());
    }
  }
  const std::string path = (fs::path(directory) / "baseline.json").string();
  if (!fs::exists(path)) {
    return Status::NotFound(
        version.model + "@" + std::to_string(version.version) +
        " has no baseline.json (bundles before format 2 have none; retrain to monitor it)");
  }
  FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return Status::DataError(path + ": not valid JSON");
  return DriftBaseline::FromJson(json, path);
}

std::vector<Alert> MakeAlerts(const MonitorReport& report) {
  std::vector<Alert> alerts;
  auto base = [&](const std::string& kind, const TimeWindow& window) {
    Alert alert;
    alert.endpoint = report.endpoint;
    alert.kind = kind;
    alert.model = report.model;
    alert.time = report.time;
    alert.window_from = window.from;
    alert.window_to = window.to;
    return alert;
  };
  for (const ColumnDrift& column : report.drift.columns) {
    if (column.psi_violated) {
      Alert alert = base("drift", report.drift_window);
      alert.metric = "psi";
      alert.feature = column.name;
      alert.value = column.psi;
      alert.threshold = column.psi_threshold;
      alert.comparison = ">";
      alerts.push_back(alert);
    }
    if (column.ks_violated) {
      Alert alert = base("drift", report.drift_window);
      alert.metric = "ks";
      alert.feature = column.name;
      alert.value = *column.ks;
      alert.threshold = column.ks_threshold;
      alert.comparison = ">";
      alerts.push_back(alert);
    }
  }
  for (const QualityViolation& v : report.quality.violations) {
    Alert alert = base("quality", report.quality.window);
    alert.metric = v.metric;
    alert.value = v.value;
    alert.threshold = v.threshold;
    alert.comparison = v.comparison;
    alerts.push_back(alert);
  }
  return alerts;
}

}  // namespace

Result<MonitorReport> RunMonitor(const Config& config, MetadataStore& metadata,
                                 ArtifactStore* artifacts, const MonitorOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const MonitorConfig& m = config.monitor;
  const fs::path home = fs::absolute(config.Resolve(config.global.home)).lexically_normal();
  ServingStore serving(metadata);
  FOPS_ASSIGN_OR_RETURN(auto endpoint, serving.FindEndpoint(options.endpoint));
  if (!endpoint) return serving.NoSuchEndpoint(options.endpoint);
  if (endpoint->production.empty())
    return Status::NotFound("endpoint '" + options.endpoint + "' serves nothing yet");
  FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                        metadata.GetVersion(endpoint->production.model,
                                            std::to_string(endpoint->production.version)));
  FOPS_ASSIGN_OR_RETURN(DriftBaseline baseline, LoadBaseline(home, metadata, artifacts, version));

  MonitorReport report;
  report.endpoint = options.endpoint;
  report.model = endpoint->production.ToString();
  report.time = FormatUtc(options.now);
  const long long window =
      options.window_seconds > 0 ? options.window_seconds : Seconds(m.window, 3600);
  report.drift_window = {FormatUtc(options.now - std::chrono::seconds(window)),
                         FormatUtc(options.now)};
  const TimePoint quality_end =
      options.now - std::chrono::seconds(Seconds(m.label_maturity, 7 * 86400));
  const TimeWindow quality_window = {
      FormatUtc(quality_end - std::chrono::seconds(Seconds(m.quality_window, 7 * 86400))),
      FormatUtc(quality_end)};

  LabelMap labels;
  if (!options.labels_file.empty()) {
    FOPS_ASSIGN_OR_RETURN(labels, ReadLabelsCsv(options.labels_file, report.time));
  }
  FOPS_ASSIGN_OR_RETURN(std::vector<FeedbackRecord> feedback, serving.Feedback(options.endpoint));
  AddFeedback(feedback, report.time, &labels);

  ScanOptions scan;
  scan.directory = (home / "capture" / options.endpoint).string();
  scan.drift_window = report.drift_window;
  scan.quality_window = quality_window;
  scan.model = endpoint->production.model;
  scan.version = endpoint->production.version;
  scan.baseline = &baseline;
  scan.labels = &labels;
  scan.unlabeled_as_negative = m.unlabeled == "negative";
  scan.pool = options.pool;
  Result<ScanResult> scanned = ScanCapture(scan);
  if (scanned.ok()) {
    report.scan = std::move(*scanned);
  } else if (scanned.status().code() == StatusCode::kNotFound) {
    report.scan.counts = DriftCounts(baseline);  // nothing captured yet: an empty window
  } else {
    return scanned.status();
  }

  DriftThresholds thresholds;
  thresholds.psi = m.psi_threshold;
  thresholds.ks = m.ks_threshold;
  thresholds.psi_by_feature = m.psi_thresholds;
  thresholds.ks_by_feature = m.ks_thresholds;
  thresholds.min_rows = static_cast<uint64_t>(m.min_rows);
  report.drift = CompareDrift(baseline, report.scan.counts, thresholds);

  QualityThresholds quality;
  quality.minimums = m.min_metrics;
  if (m.min_roc_auc > 0) quality.minimums["roc_auc"] = m.min_roc_auc;
  quality.max_alert_rate = m.max_alert_rate;
  quality.min_labels = static_cast<uint64_t>(m.min_labels);
  report.quality = ComputeQuality(report.scan, quality_window, version.threshold, quality);
  report.scan.joined.clear();
  report.scan.joined.shrink_to_fit();
  report.alerts = MakeAlerts(report);
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  if (options.write_report && (!options.report_only_on_alerts || !report.alerts.empty())) {
    std::string stamp = report.time;
    for (char& c : stamp) {
      if (c == ':') c = '-';
    }
    const fs::path directory = home / "monitoring" / options.endpoint / stamp;
    FOPS_RETURN_IF_ERROR(MakeDirectories(directory.string()));
    report.report_dir = directory.string();
    FOPS_RETURN_IF_ERROR(
        WriteFileAtomic((directory / "report.json").string(), report.ToJson().dump(2) + "\n"));
    FOPS_RETURN_IF_ERROR(
        WriteFileAtomic((directory / "report.html").string(), RenderMonitorHtml(report)));
  }
  return report;
}

nlohmann::json MonitorReport::ToJson() const {
  nlohmann::json alerts_json = nlohmann::json::array();
  for (const Alert& alert : alerts) alerts_json.push_back(alert.ToJson());
  nlohmann::json drift_json = drift.ToJson();
  drift_json["window"] = {{"from", drift_window.from}, {"to", drift_window.to}};
  return {{"endpoint", endpoint},
          {"model", model},
          {"time", time},
          {"drift", drift_json},
          {"quality", quality.ToJson()},
          {"capture",
           {{"files", scan.files},
            {"lines", scan.lines},
            {"other_version_rows", scan.other_version_rows},
            {"malformed_lines", scan.malformed_lines},
            {"first_malformed", scan.first_malformed}}},
          {"alerts", alerts_json},
          {"report_dir", report_dir},
          {"seconds", seconds}};
}

std::string MonitorGauges(const std::vector<MonitorReport>& reports) {
  std::string out;
  auto family = [&](const char* name, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
  };
  auto sample = [&](const char* name, const std::vector<std::string>& label_names,
                    const std::vector<std::string>& values, double value) {
    out += MetricLine(name, label_names, values) + " " + MetricValue(value) + "\n";
  };
  const std::vector<std::string> column_labels = {"endpoint", "feature"};
  family("fraudops_drift_psi",
         "PSI of the feature (or $score) in the last drift window against the baseline.");
  for (const MonitorReport& r : reports) {
    for (const ColumnDrift& c : r.drift.columns)
      sample("fraudops_drift_psi", column_labels, {r.endpoint, c.name}, c.psi);
  }
  family("fraudops_drift_psi_threshold", "The PSI threshold of the feature.");
  for (const MonitorReport& r : reports) {
    for (const ColumnDrift& c : r.drift.columns)
      sample("fraudops_drift_psi_threshold", column_labels, {r.endpoint, c.name}, c.psi_threshold);
  }
  family("fraudops_drift_ks", "KS statistic of the feature (or $score) in the last drift window.");
  for (const MonitorReport& r : reports) {
    for (const ColumnDrift& c : r.drift.columns) {
      if (c.ks) sample("fraudops_drift_ks", column_labels, {r.endpoint, c.name}, *c.ks);
    }
  }
  family("fraudops_drift_ks_threshold", "The KS threshold of the feature.");
  for (const MonitorReport& r : reports) {
    for (const ColumnDrift& c : r.drift.columns) {
      if (c.ks)
        sample("fraudops_drift_ks_threshold", column_labels, {r.endpoint, c.name}, c.ks_threshold);
    }
  }
  family("fraudops_drift_rows",
         "Captured rows in the last drift window (judged when at least monitor.min_rows).");
  for (const MonitorReport& r : reports)
    sample("fraudops_drift_rows", {"endpoint"}, {r.endpoint}, static_cast<double>(r.drift.rows));
  family("fraudops_quality",
         "Rolling quality from delayed labels: roc_auc, pr_auc, recall, precision, alert_rate.");
  for (const MonitorReport& r : reports) {
    for (const char* metric : {"roc_auc", "pr_auc", "recall", "precision", "alert_rate"}) {
      auto value = r.quality.metrics.find(metric);
      if (value != r.quality.metrics.end() && value->is_number()) {
        sample("fraudops_quality", {"endpoint", "metric"}, {r.endpoint, metric},
               value->get<double>());
      }
    }
  }
  family("fraudops_quality_labelled", "Labelled predictions in the quality window.");
  for (const MonitorReport& r : reports)
    sample("fraudops_quality_labelled", {"endpoint"}, {r.endpoint},
           static_cast<double>(r.quality.labelled));
  family("fraudops_monitor_alerts", "Alerts the last monitor pass raised.");
  for (const MonitorReport& r : reports)
    sample("fraudops_monitor_alerts", {"endpoint"}, {r.endpoint},
           static_cast<double>(r.alerts.size()));
  return out;
}

std::unique_ptr<AlertDispatcher> MakeAlertDispatcher(const Config& config, Logger& logger,
                                                     bool deduplicate) {
  const MonitorConfig& m = config.monitor;
  auto dispatcher = std::make_unique<AlertDispatcher>(
      logger, std::chrono::seconds(deduplicate ? Seconds(m.repeat_alerts_after, 3600) : 0));
  dispatcher->AddSink(std::make_unique<LogAlertSink>(logger));
  if (!m.webhook_url.empty()) {
    WebhookOptions webhook;
    webhook.url = m.webhook_url;
    webhook.retries = static_cast<int>(m.webhook_retries);
    webhook.backoff = std::chrono::milliseconds(m.webhook_backoff_ms);
    webhook.timeout = std::chrono::milliseconds(m.webhook_timeout_ms);
    dispatcher->AddSink(std::make_unique<WebhookAlertSink>(webhook));
  }
  return dispatcher;
}

namespace {

Trigger MonitorTrigger(const std::string& kind, const Config& config, MetadataStore& metadata,
                       ArtifactStore* artifacts, ThreadPool* pool) {
  return {kind,
          [kind, &config, &metadata, artifacts,
           pool](Clock::TimePoint now) -> Result<std::optional<std::string>> {
            MonitorOptions options;
            options.endpoint = config.deploy.endpoint_name;
            options.now = now;
            options.pool = pool;
            Result<MonitorReport> report = RunMonitor(config, metadata, artifacts, options);
            if (!report.ok()) {
              if (report.status().code() == StatusCode::kNotFound)
                return std::optional<std::string>();  // nothing served yet
              return report.status();
            }
            std::vector<std::string> found;
            for (const Alert& alert : report->alerts) {
              if (alert.kind == kind) found.push_back(alert.Finding());
            }
            if (found.empty()) return std::optional<std::string>();
            const TimeWindow& window =
                kind == "drift" ? report->drift_window : report->quality.window;
            return std::optional<std::string>(kind + " on " + report->endpoint + " (" +
                                              report->model + ") over " + window.from + "/" +
                                              window.to + ": " + Join(found, ", "));
          }};
}

}  // namespace

Trigger DriftTrigger(const Config& config, MetadataStore& metadata, ArtifactStore* artifacts,
                     ThreadPool* pool) {
  return MonitorTrigger("drift", config, metadata, artifacts, pool);
}

Trigger QualityTrigger(const Config& config, MetadataStore& metadata, ArtifactStore* artifacts,
                       ThreadPool* pool) {
  return MonitorTrigger("quality", config, metadata, artifacts, pool);
}

}  // namespace fraudops
