// Monitoring and continuous training end to end, in process: a real pipeline
// trains and deploys a model on synthetic data; captured traffic (the capture
// format of docs/formats/capture.md, scored by the deployed bundle) is judged
// for drift and quality; the scheduler runs on a controlled clock.

#include "monitor/monitor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "core/cron.h"
#include "core/files.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "data/synth.h"
#include "eval/metrics.h"
#include "model/bundle.h"
#include "monitor/ab_report.h"
#include "pipeline/pipeline.h"
#include "pipeline/scheduler.h"
#include "store/schedule_store.h"
#include "store/serving_store.h"
#include "test_util.h"

namespace fraudops {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteText;
using TimePoint = std::chrono::system_clock::time_point;

TimePoint At(const std::string& text) { return *ParseUtcTime(text); }

class ManualClock : public Clock {
 public:
  explicit ManualClock(TimePoint now) : now_(now) {}
  TimePoint Now() override { return now_; }
  void Set(TimePoint now) { now_ = now; }
  void Advance(std::chrono::seconds by) { now_ += by; }

 private:
  TimePoint now_;
};

/// A workspace with a small pipeline configuration; `yaml` adds keys.
struct Workspace {
  TempDir dir;
  Config config;
  Logger logger;
  ThreadPool pool{2};
  Context context;

  explicit Workspace(const std::string& yaml = "") {
    WriteText(dir.File("xgb.json"),
              R"({"objective": "binary:logistic", "eval_metric": ["auc"], "tree_method": "hist",
                                        "num_round": 40, "eta": 0.3, "max_depth": 4})");
    WriteText(dir.File("config.yml"),
              "global:\n  home: " + dir.File("home") +
                  "\n  log_level: error\npreprocess:\n  synthetic_rows: 20000\n"
                  "  synthetic_fraud_rate: 0.02\ntrain:\n  xgboost_params_file: " +
                  dir.File("xgb.json") + "\nevaluate:\n  min_roc_auc: 0.5\n" + yaml);
    LoadOptions options;
    options.config_path = dir.File("config.yml");
    options.use_process_environment = false;
    auto loaded = LoadConfig(options);
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    config = *loaded;
    logger.set_level(LogLevel::kError);
    context.logger = &logger;
    context.pool = &pool;
    context.threads = 2;
  }

  std::unique_ptr<MetadataStore> Metadata() {
    auto store = MetadataStore::Open("", dir.File("home/fraudops.db"));
    EXPECT_TRUE(store.ok()) << store.status().message();
    return std::move(*store);
  }
  std::unique_ptr<ArtifactStore> Artifacts() {
    auto store = OpenArtifactStore("", dir.File("home/artifacts"));
    EXPECT_TRUE(store.ok());
    return std::move(*store);
  }
  std::string CaptureDir() const { return dir.File("home/capture/fraud-detector"); }
};

/// Transactions scored by the deployed bundle and written as capture lines.
class Traffic {
 public:
  Traffic(MetadataStore& metadata, const std::string& endpoint) {
    ServingStore serving(metadata);
    auto record = serving.FindEndpoint(endpoint);
    EXPECT_TRUE(record.ok() && *record && !(*record)->production.empty());
    production_ = (*record)->production;
    auto version = metadata.GetVersion(production_.model, std::to_string(production_.version));
    threshold_ = version->threshold;
    auto bundle = LoadBundle(version->bundle_uri);
    EXPECT_TRUE(bundle.ok()) << bundle.status().message();
    bundle_ = std::move(*bundle);
  }

  struct Row {
    std::string request_id, time;
    float score = 0, label = 0;
    int decision = 0;
  };

  /// `rows` transactions (seed `seed`), times spread over [from, from + span),
  /// with `shift(name, value)` applied to the features; appended to `file`.
  std::vector<Row> Write(const std::string& file, size_t rows, uint64_t seed, TimePoint from,
                         std::chrono::seconds span,
                         const std::function<double(const std::string&, double)>& shift = nullptr) {
    SynthOptions synth;
    synth.rows = rows;
    synth.seed = seed;
    synth.fraud_rate = 0.02;
    auto generated = GenerateTransactions(synth, nullptr);
    EXPECT_TRUE(generated.ok());
    const Dataset& data = *generated;
    const auto& features = bundle_.input.features;
    std::vector<int> column(features.size(), -1);
    for (size_t f = 0; f < features.size(); ++f) {
      for (size_t c = 0; c < data.num_features(); ++c) {
        if (data.features[c].name == features[f].name) column[f] = static_cast<int>(c);
      }
    }
    std::string text;
    std::vector<Row> out;
    std::vector<double> input(features.size());
    for (size_t r = 0; r < rows; ++r) {
      Row row;
      row.request_id = "s" + std::to_string(seed) + "-" + std::to_string(r);
      row.time = FormatUtc(from + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                      span * (double(r) / double(rows))));
      std::string features_json;
      for (size_t f = 0; f < features.size(); ++f) {
        double value = column[f] < 0
                           ? NAN
                           : static_cast<double>(data.columns[static_cast<size_t>(column[f])][r]);
        if (shift) value = static_cast<float>(shift(features[f].name, value));
        input[f] = value;
        if (f) features_json += ",";
        features_json += "\"" + features[f].name + "\":";
        if (std::isnan(value))
          features_json += "null";
        else
          AppendShortest(features_json, value);
      }
      row.score = static_cast<float>(bundle_.ensemble.PredictProbability(input.data()));
      row.decision = row.score >= threshold_ ? 1 : 0;
      row.label = data.label[r];
      text += "{\"v\":1,\"request_id\":\"" + row.request_id + "\",\"time\":\"" + row.time +
              "\",\"endpoint\":\"fraud-detector\",\"variant\":\"production\","
              "\"model\":\"" +
              production_.model + "\",\"version\":" + std::to_string(production_.version) +
              ",\"latency_us\":40,\"features\":{" + features_json + "},\"score\":";
      AppendShortest(text, row.score);
      text += ",\"label\":" + std::to_string(row.decision) + "}\n";
      out.push_back(row);
    }
    fs::create_directories(fs::path(file).parent_path());
    std::ofstream(file, std::ios::app) << text;
    return out;
  }

  double threshold() const { return threshold_; }

 private:
  VariantRef production_;
  double threshold_ = 0.5;
  ModelBundle bundle_;
};

/// A capture file name for rows starting at `start` (the name's stamp is that
/// time).
std::string CaptureFile(const Workspace& w, TimePoint start, int sequence) {
  std::string stamp = FormatUtc(start);  // 2026-11-23T10:00:00.000Z -> 20261123T100000Z
  std::string compact = stamp.substr(0, 4) + stamp.substr(5, 2) + stamp.substr(8, 2) + "T" +
                        stamp.substr(11, 2) + stamp.substr(14, 2) + stamp.substr(17, 2) + "Z";
  return w.CaptureDir() + "/" + compact + "-4242-" + std::to_string(sequence) + ".jsonl";
}

RunResult Train(Workspace& w) {
  RunResult result = RunPipeline(w.config, w.context);
  EXPECT_EQ(result.status, RunStatus::kSucceeded) << result.error.message();
  return result;
}

std::set<std::string> DriftedFeatures(const MonitorReport& report) {
  std::set<std::string> names;
  for (const Alert& alert : report.alerts) {
    if (alert.kind == "drift" && alert.feature != "$score") names.insert(alert.feature);
  }
  return names;
}

// The must-show drift test: traffic shifted in V4 (+2), V11 (x3) and Amount
// (x4) raises drift alerts on exactly those three features; twelve hourly
// windows of unshifted traffic raise none.
TEST(MonitorTest, ShiftedFeaturesRaiseDriftAlertsOnExactlyThoseFeatures) {
  Workspace w("monitor:\n  window: 1h\n  min_rows: 1000\n");
  Train(w);
  auto metadata = w.Metadata();
  auto artifacts = w.Artifacts();
  Traffic traffic(*metadata, "fraud-detector");
  const TimePoint base = At("2026-11-20T00:00:00Z");
  for (int hour = 0; hour < 12; ++hour) {
    const TimePoint start = base + std::chrono::hours(hour);
    traffic.Write(CaptureFile(w, start, hour), 4000, 1000 + static_cast<uint64_t>(hour), start,
                  std::chrono::hours(1));
  }
  const TimePoint shifted_start = base + std::chrono::hours(12);
  const std::set<std::string> shifted = {"V4", "V11", "Amount"};
  traffic.Write(CaptureFile(w, shifted_start, 99), 4000, 77, shifted_start, std::chrono::hours(1),
                [](const std::string& name, double value) {
                  if (name == "V4") return value + 2.0;
                  if (name == "V11") return value * 3.0;
                  if (name == "Amount") return value * 4.0;
                  return value;
                });
  {  // Before any traffic: no rows, and no alert rate over no predictions.
    MonitorOptions options;
    options.endpoint = "fraud-detector";
    options.now = base;
    options.pool = &w.pool;
    options.write_report = false;
    auto none = RunMonitor(w.config, *metadata, artifacts.get(), options);
    ASSERT_TRUE(none.ok()) << none.status().message();
    EXPECT_EQ(none->drift.rows, 0u);
    EXPECT_FALSE(none->drift.judged);
    EXPECT_FALSE(none->quality.metrics.contains("alert_rate")) << none->quality.metrics;
    EXPECT_EQ(MonitorGauges({*none}).find("metric=\"alert_rate\""), std::string::npos);
  }

  for (int hour = 1; hour <= 12; ++hour) {
    MonitorOptions options;
    options.endpoint = "fraud-detector";
    options.now = base + std::chrono::hours(hour);
    options.pool = &w.pool;
    options.write_report = hour == 12;
    auto report = RunMonitor(w.config, *metadata, artifacts.get(), options);
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_EQ(report->drift.rows, 4000u) << "hour " << hour;
    EXPECT_TRUE(report->drift.judged);
    EXPECT_TRUE(report->alerts.empty())
        << "unshifted hour " << hour << ": " << report->alerts.front().Summary();
    for (const ColumnDrift& column : report->drift.columns)
      EXPECT_LT(column.psi, 0.05) << column.name << " hour " << hour;
    if (hour == 12) {
      EXPECT_TRUE(fs::exists(report->report_dir + "/report.json"));
      EXPECT_NE(testing::ReadText(report->report_dir + "/report.html").find("<svg"),
                std::string::npos);
    }
  }
  MonitorOptions options;
  options.endpoint = "fraud-detector";
  options.now = shifted_start + std::chrono::hours(1);
  options.pool = &w.pool;
  auto report = RunMonitor(w.config, *metadata, artifacts.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->drift.rows, 4000u);
  EXPECT_EQ(DriftedFeatures(*report), shifted);
  for (const Alert& alert : report->alerts) {
    EXPECT_EQ(alert.endpoint, "fraud-detector");
    EXPECT_GT(alert.value, alert.threshold);
    EXPECT_EQ(alert.window_from, FormatUtc(shifted_start));
    EXPECT_EQ(alert.window_to, FormatUtc(shifted_start + std::chrono::hours(1)));
    EXPECT_NE(alert.Summary().find(alert.feature), std::string::npos);
  }
  // Per-feature thresholds: V4's own threshold above its PSI silences it alone.
  double v4_psi = 0;
  for (const ColumnDrift& column : report->drift.columns) {
    if (column.name == "V4") v4_psi = column.psi;
  }
  Config relaxed = w.config;
  relaxed.monitor.psi_thresholds["V4"] = v4_psi + 1;
  relaxed.monitor.ks_thresholds["V4"] = 1;
  auto relaxed_report = RunMonitor(relaxed, *metadata, artifacts.get(), options);
  ASSERT_TRUE(relaxed_report.ok());
  EXPECT_EQ(DriftedFeatures(*relaxed_report), (std::set<std::string>{"V11", "Amount"}));
  // The gauges name every feature.
  const std::string gauges = MonitorGauges({*report});
  EXPECT_NE(gauges.find("fraudops_drift_psi{endpoint=\"fraud-detector\",feature=\"V4\"}"),
            std::string::npos);
  EXPECT_NE(gauges.find("# TYPE fraudops_drift_ks gauge"), std::string::npos);
}

// The must-show quality test: the rolling ROC AUC over joined delayed labels
// equals the evaluation module's AUC on exactly the rows that are matured, in
// the window, and labelled by now.
TEST(MonitorTest, RollingAucFromDelayedLabelsEqualsTheEvaluationModulesAuc) {
  Workspace w(
      "monitor:\n  label_maturity: 1d\n  quality_window: 2d\n  "
      "min_labels: 50\n  min_roc_auc: "
      "0.999\n");
  Train(w);
  auto metadata = w.Metadata();
  auto artifacts = w.Artifacts();
  Traffic traffic(*metadata, "fraud-detector");
  const TimePoint now = At("2026-11-23T12:00:00Z");
  // Predictions over four days: day -4 (too old), days -3 and -2 (the window),
  // day -1 (not matured).
  std::vector<Traffic::Row> rows;
  for (int day = 4; day >= 1; --day) {
    const TimePoint start = now - std::chrono::hours(24 * day);
    auto written = traffic.Write(CaptureFile(w, start, day), 3000, 500 + static_cast<uint64_t>(day),
                                 start, std::chrono::hours(24));
    rows.insert(rows.end(), written.begin(), written.end());
  }
  // Labels: every third row from a file (some known only after now), the rest
  // of every second row through feedback.
  const TimeWindow window = {FormatUtc(now - std::chrono::hours(72)),
                             FormatUtc(now - std::chrono::hours(24))};
  std::string csv = "request_id,label,label_time\n";
  std::vector<FeedbackRecord> feedback;
  std::vector<float> expected_scores, expected_labels;
  size_t late = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Traffic::Row& row = rows[i];
    bool known = true;
    if (i % 3 == 0) {
      const bool after_now = i % 7 == 0;
      const std::string label_time = after_now ? "2026-11-24T00:00:00Z" : "2026-11-23T06:00:00Z";
      csv += row.request_id + "," + (row.label > 0.5f ? "1" : "0") + "," + label_time + "\n";
      known = !after_now;
      if (after_now && window.Contains(row.time)) ++late;
    } else if (i % 2 == 0) {
      feedback.push_back(
          {row.request_id, row.label, "2026-11-22T00:00:00Z", "2026-11-22T00:00:01Z"});
    } else {
      continue;
    }
    if (known && window.Contains(row.time)) {
      expected_scores.push_back(row.score);
      expected_labels.push_back(row.label);
    }
  }
  ASSERT_GT(late, 0u);
  WriteText(w.dir.File("labels.csv"), csv);
  ServingStore serving(*metadata);
  ASSERT_TRUE(serving.RecordFeedback("fraud-detector", feedback).ok());

  MonitorOptions options;
  options.endpoint = "fraud-detector";
  options.now = now;
  options.labels_file = w.dir.File("labels.csv");
  options.pool = &w.pool;
  auto report = RunMonitor(w.config, *metadata, artifacts.get(), options);
  ASSERT_TRUE(report.ok()) << report.status().message();
  const BinaryMetrics expected =
      ComputeMetrics(expected_scores, expected_labels, traffic.threshold());
  ASSERT_GT(expected.positives, 10u);
  EXPECT_EQ(report->quality.window.from, window.from);
  EXPECT_EQ(report->quality.predictions, 6000u);
  EXPECT_EQ(report->quality.labelled, expected_scores.size());
  EXPECT_EQ(report->quality.positives, expected.positives);
  EXPECT_TRUE(report->quality.judged);
  EXPECT_DOUBLE_EQ(report->quality.metrics["roc_auc"].get<double>(), expected.roc_auc);
  EXPECT_DOUBLE_EQ(report->quality.metrics["pr_auc"].get<double>(), expected.pr_auc);
  EXPECT_DOUBLE_EQ(report->quality.metrics["recall"].get<double>(), expected.recall);
  EXPECT_DOUBLE_EQ(report->quality.metrics["precision"].get<double>(), expected.precision);
  // min_roc_auc 0.999 is above what the model does: one quality alert naming
  // it.
  ASSERT_EQ(report->alerts.size(), 1u);
  EXPECT_EQ(report->alerts[0].kind, "quality");
  EXPECT_EQ(report->alerts[0].metric, "roc_auc");
  EXPECT_DOUBLE_EQ(report->alerts[0].value, expected.roc_auc);
  EXPECT_EQ(report->alerts[0].threshold, 0.999);
  EXPECT_EQ(report->alerts[0].window_to, window.to);

  // Unlabelled matured predictions counted as negatives: all 6000 rows join.
  Config negative = w.config;
  negative.monitor.unlabeled = "negative";
  auto all = RunMonitor(negative, *metadata, artifacts.get(), options);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->quality.labelled, 6000u);
}

TEST(MonitorTest, LabelsFileErrorsNameFileLineAndColumn) {
  auto missing_header = ParseLabelsCsv("id,label\nr1,1\n", "labels.csv", "");
  ASSERT_FALSE(missing_header.ok());
  EXPECT_NE(missing_header.status().message().find(
                "labels.csv:1: the header must name request_id and label"),
            std::string::npos);
  auto bad_label = ParseLabelsCsv("request_id,label\nr1,1\nr2,maybe\n", "labels.csv", "");
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.status().message().find(
                "labels.csv:3:2: label 'maybe' is not one of 0, 1, true, false"),
            std::string::npos);
  auto bad_time = ParseLabelsCsv("request_id,label,label_time\nr1,1,yesterday\n", "l.csv", "");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("l.csv:2:3: label_time 'yesterday'"),
            std::string::npos);
  auto fields = ParseLabelsCsv("request_id,label\nr1,1,extra\n", "l.csv", "");
  ASSERT_FALSE(fields.ok());
  EXPECT_NE(fields.status().message().find("l.csv:2: 3 fields; the header has 2"),
            std::string::npos);
  auto good = ParseLabelsCsv("label,request_id\r\n\"1\",\"a,b\"\r\nfalse,c\n", "l.csv", "");
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->at("a,b").label, 1.0f);
  EXPECT_EQ(good->at("c").label, 0.0f);
}

TEST(MonitorTest, MalformedCaptureLinesAreCountedWithTheirPlaceAndSkipped) {
  Workspace w;
  Train(w);
  auto metadata = w.Metadata();
  Traffic traffic(*metadata, "fraud-detector");
  const TimePoint start = At("2026-11-20T00:00:00Z");
  const std::string file = CaptureFile(w, start, 1);
  traffic.Write(file, 10, 1, start, std::chrono::minutes(10));
  std::ofstream(file, std::ios::app)
      << "{\"v\":1,\"time\":\"2026-11-20T00:30:00.000Z\",\"features\":[1]}"
         "\nnot json\n";
  traffic.Write(file, 10, 2, start + std::chrono::minutes(40), std::chrono::minutes(10));
  MonitorOptions options;
  options.endpoint = "fraud-detector";
  options.now = start + std::chrono::hours(1);
  options.write_report = false;
  auto report = RunMonitor(w.config, *metadata, w.Artifacts().get(), options);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->drift.rows, 20u);
  EXPECT_EQ(report->scan.malformed_lines, 2u);
  EXPECT_EQ(report->scan.first_malformed, file + ":11: /features is not an object");
  EXPECT_FALSE(report->drift.judged);  // 20 rows < monitor.min_rows
  EXPECT_TRUE(report->alerts.empty());

  // The file the server is still writing counts up to its last complete line.
  const std::string partial = CaptureFile(w, start + std::chrono::minutes(1), 2) + ".partial";
  traffic.Write(partial, 10, 3, start + std::chrono::minutes(20), std::chrono::minutes(5));
  std::ofstream(partial, std::ios::app) << "{\"v\":1,\"request_id\":\"half";
  auto with_partial = RunMonitor(w.config, *metadata, w.Artifacts().get(), options);
  ASSERT_TRUE(with_partial.ok()) << with_partial.status().message();
  EXPECT_EQ(with_partial->drift.rows, 30u);
  EXPECT_EQ(with_partial->scan.malformed_lines,
            2u);  // the half line is not malformed, only unfinished
}

// Reading files in pieces (a line belongs to the piece its first byte is in)
// counts exactly what reading them whole counts, for any piece and chunk size,
// and still names the first malformed line by its line number.
TEST(MonitorTest, FilesReadInPiecesCountExactlyWhatWholeFilesCount) {
  Workspace w;
  Train(w);
  auto metadata = w.Metadata();
  Traffic traffic(*metadata, "fraud-detector");
  const TimePoint start = At("2026-11-20T00:00:00Z");
  const std::string file = CaptureFile(w, start, 1);
  traffic.Write(file, 300, 5, start, std::chrono::minutes(30));
  std::ofstream(file, std::ios::app) << "{\"time\":\"2026-11-20T00:31:00.000Z\",\"features\":7}\n";
  traffic.Write(file, 300, 6, start + std::chrono::minutes(31), std::chrono::minutes(20));
  traffic.Write(CaptureFile(w, start, 2), 50, 7, start, std::chrono::minutes(50));
  auto version = metadata->GetVersion("fraud-detector", "1");
  auto baseline = DriftBaseline::FromJson(
      nlohmann::json::parse(testing::ReadText(version->bundle_uri + "/baseline.json")), "b");
  ASSERT_TRUE(baseline.ok());
  LabelMap labels;
  labels["s5-10"] = {1.0f, ""};
  labels["s6-299"] = {0.0f, ""};
  ScanOptions options;
  options.directory = w.CaptureDir();
  options.drift_window = {FormatUtc(start), FormatUtc(start + std::chrono::hours(1))};
  options.quality_window = options.drift_window;
  options.baseline = &*baseline;
  options.labels = &labels;
  auto whole = ScanCapture(options);
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(whole->counts.rows, 650u);
  EXPECT_EQ(whole->malformed_lines, 1u);
  EXPECT_EQ(whole->first_malformed, file + ":301: /features is not an object");
  EXPECT_EQ(whole->joined.size(), 2u);
  ThreadPool pool(3);
  for (uint64_t range : {97, 333, 1000, 4096, 100000}) {
    for (size_t chunk : {size_t{1}, size_t{70000}}) {
      options.range_bytes = range;
      options.chunk_bytes = chunk;
      options.pool = &pool;
      auto pieces = ScanCapture(options);
      ASSERT_TRUE(pieces.ok()) << pieces.status().message();
      EXPECT_EQ(pieces->counts.rows, whole->counts.rows) << range;
      EXPECT_EQ(pieces->counts.features, whole->counts.features) << range;
      EXPECT_EQ(pieces->counts.score, whole->counts.score) << range;
      EXPECT_EQ(pieces->lines, whole->lines) << range;
      EXPECT_EQ(pieces->files, 2u) << range;
      EXPECT_EQ(pieces->malformed_lines, 1u) << range;
      EXPECT_EQ(pieces->first_malformed, whole->first_malformed) << range;
      EXPECT_EQ(pieces->joined.size(), 2u) << range;
    }
  }
}

// The must-show scheduler test, part 1: with a controlled clock, '0 */6 * * *'
// fires at 06:00, 12:00, 18:00 and 00:00 and at no other time; each firing is a
// real pipeline run recorded in the schedule history.
TEST(SchedulerTest, CronFiresAtTheRightTimesOnAControlledClock) {
  Workspace w("schedule:\n  cron: '0 */6 * * *'\n  poll: 5m\n");
  auto metadata = w.Metadata();
  ManualClock clock(At("2026-11-23T00:02:00Z"));
  SchedulerOptions options;
  options.clock = &clock;
  Scheduler scheduler(w.config, *metadata, w.context, options);
  std::vector<std::string> fired, ticked_at;
  for (int step = 0; step <= 24 * 12; ++step) {  // every 5 minutes for a day
    auto ticked = scheduler.Tick();
    ASSERT_TRUE(ticked.ok()) << ticked.status().message();
    for (const ScheduleRunRecord& run : *ticked) {
      EXPECT_EQ(run.trigger, "cron");
      EXPECT_EQ(run.status, RunStatus::kSucceeded) << run.error;
      fired.push_back(run.scheduled_for);
      ticked_at.push_back(FormatUtc(clock.Now()));
    }
    clock.Advance(std::chrono::minutes(5));
  }
  EXPECT_EQ(fired,
            (std::vector<std::string>{"2026-11-23T06:00:00.000Z", "2026-11-23T12:00:00.000Z",
                                      "2026-11-23T18:00:00.000Z", "2026-11-24T00:00:00.000Z"}));
  EXPECT_EQ(ticked_at,
            (std::vector<std::string>{"2026-11-23T06:02:00.000Z", "2026-11-23T12:02:00.000Z",
                                      "2026-11-23T18:02:00.000Z", "2026-11-24T00:02:00.000Z"}));
  ScheduleStore store(*metadata);
  auto history = store.History(w.config.global.pipeline_name, 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 4u);
  EXPECT_FALSE((*history)[0].execution_id.empty());
  // A scheduled run without deploy.auto registers its version pending: not
  // deployed.
  EXPECT_EQ((*history)[0].deployment, "");
  auto version = metadata->GetVersion((*history)[0].model, std::to_string((*history)[0].version));
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->approval, "pending");

  // Two days down: skip records the eight missed times and runs nothing.
  clock.Set(At("2026-11-26T01:00:00Z"));
  auto after_downtime = scheduler.Tick();
  ASSERT_TRUE(after_downtime.ok());
  ASSERT_EQ(after_downtime->size(), 1u);
  EXPECT_EQ((*after_downtime)[0].status, RunStatus::kSkipped);
  EXPECT_NE((*after_downtime)[0].reason.find("8 times of '0 */6 * * *' missed"), std::string::npos)
      << (*after_downtime)[0].reason;
}

TEST(SchedulerTest, MissedRunsCatchUpOnceAndTheLockKeepsOneRunAtATime) {
  Workspace w("schedule:\n  cron: '0 3 * * *'\n  missed: catch_up\n");
  auto metadata = w.Metadata();
  ManualClock clock(At("2026-11-20T10:00:00Z"));
  SchedulerOptions options;
  options.clock = &clock;
  Scheduler scheduler(w.config, *metadata, w.context, options);
  ASSERT_TRUE(scheduler.Tick().ok());
  clock.Set(At("2026-11-23T10:00:00Z"));  // 03:00 of the 21st, 22nd and 23rd missed
  auto caught_up = scheduler.Tick();
  ASSERT_TRUE(caught_up.ok());
  ASSERT_EQ(caught_up->size(), 1u);
  EXPECT_EQ((*caught_up)[0].status, RunStatus::kSucceeded);
  EXPECT_NE((*caught_up)[0].reason.find("catch-up for 3 missed times"), std::string::npos)
      << (*caught_up)[0].reason;
  EXPECT_EQ(scheduler.Tick()->size(), 0u);  // nothing more until tomorrow 03:00

  // Another scheduler holds the lock: the run is recorded as locked, not
  // started.
  ScheduleStore store(*metadata);
  std::string holder;
  ASSERT_TRUE(*store.TryLock(w.config.global.pipeline_name, "other-host pid 1",
                             FormatUtc(clock.Now()),
                             FormatUtc(clock.Now() + std::chrono::hours(48)), &holder));
  clock.Set(At("2026-11-24T03:00:30Z"));
  auto locked = scheduler.Tick();
  ASSERT_TRUE(locked.ok());
  ASSERT_EQ(locked->size(), 1u);
  EXPECT_EQ((*locked)[0].status, RunStatus::kLocked);
  EXPECT_NE((*locked)[0].error.find("lock held by other-host pid 1"), std::string::npos);
  // An expired lock is taken over.
  clock.Set(At("2026-11-26T03:00:10Z"));
  auto taken = scheduler.Tick();
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].status, RunStatus::kSucceeded);
  EXPECT_TRUE(metadata->GetRun((*taken)[0].execution_id).ok());

  // A configuration the pipeline refuses before any work: the history says why and names no
  // run (none was recorded).
  Config refused = w.config;
  refused.evaluate.min_metrics["pr_aux"] = 0.5;
  Scheduler strict(refused, *metadata, w.context, options);
  clock.Set(At("2026-11-27T03:00:10Z"));
  auto checked = strict.Tick();
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  ASSERT_EQ(checked->size(), 1u);
  EXPECT_EQ((*checked)[0].status, RunStatus::kFailed);
  EXPECT_NE((*checked)[0].error.find("unknown metric 'pr_aux'"), std::string::npos)
      << (*checked)[0].error;
  EXPECT_EQ((*checked)[0].execution_id, "");
}

// The must-show scheduler test, part 2: drift on the served endpoint triggers a
// retraining run, which passes the gate and, with deploy.auto, ends in a canary
// deployment.
TEST(SchedulerTest, DriftTriggersARetrainingRunThatEndsInACanary) {
  Workspace w(
      "schedule:\n  on_drift: true\n  cooldown: 1h\ndeploy:\n  auto: "
      "true\n  canary_percent: 20\n"
      "monitor:\n  window: 1h\n  min_rows: 500\n");
  Train(w);  // v1 in production
  auto metadata = w.Metadata();
  auto artifacts = w.Artifacts();
  Traffic traffic(*metadata, "fraud-detector");
  const TimePoint now = At("2026-11-23T12:00:00Z");
  ManualClock clock(now - std::chrono::hours(2));
  SchedulerOptions options;
  options.clock = &clock;
  options.triggers.push_back(DriftTrigger(w.config, *metadata, artifacts.get(), &w.pool));
  Scheduler scheduler(w.config, *metadata, w.context, options);

  // An hour of ordinary traffic: no trigger.
  traffic.Write(CaptureFile(w, now - std::chrono::hours(2), 1), 2000, 11,
                now - std::chrono::hours(2), std::chrono::hours(1));
  clock.Set(now - std::chrono::hours(1));
  auto calm = scheduler.Tick();
  ASSERT_TRUE(calm.ok()) << calm.status().message();
  EXPECT_TRUE(calm->empty());

  // An hour of traffic shifted in V14: the drift trigger fires and the run
  // deploys a canary.
  traffic.Write(
      CaptureFile(w, now - std::chrono::hours(1), 2), 2000, 12, now - std::chrono::hours(1),
      std::chrono::hours(1),
      [](const std::string& name, double value) { return name == "V14" ? value - 3.0 : value; });
  clock.Set(now);
  auto fired = scheduler.Tick();
  ASSERT_TRUE(fired.ok()) << fired.status().message();
  ASSERT_EQ(fired->size(), 1u);
  const ScheduleRunRecord& run = (*fired)[0];
  EXPECT_EQ(run.trigger, "drift");
  EXPECT_NE(run.reason.find("V14 psi"), std::string::npos) << run.reason;
  EXPECT_EQ(run.status, RunStatus::kSucceeded) << run.error;
  EXPECT_EQ(run.version, 2);
  EXPECT_EQ(run.deployment, "canary baking");
  ServingStore serving(*metadata);
  auto endpoint = serving.FindEndpoint("fraud-detector");
  ASSERT_TRUE(endpoint.ok() && *endpoint);
  EXPECT_EQ((*endpoint)->production, (VariantRef{"fraud-detector", 1}));
  EXPECT_EQ((*endpoint)->canary, (VariantRef{"fraud-detector", 2}));
  EXPECT_EQ((*endpoint)->canary_percent, 20);
  EXPECT_EQ(metadata->GetVersion("fraud-detector", "2")->approval, "approved");

  // Still drifted ten minutes later, but cooling down: no second run.
  clock.Advance(std::chrono::minutes(10));
  auto cooling = scheduler.Tick();
  ASSERT_TRUE(cooling.ok());
  EXPECT_TRUE(cooling->empty());
  auto history = ScheduleStore(*metadata).History(w.config.global.pipeline_name, 10);
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].deployment, "canary baking");
}

TEST(SchedulerTest, NewDataInAWatchedDirectoryTriggersARun) {
  TempDir watched;
  Workspace w("schedule:\n  watch: ['" + watched.path() + "']\n  cooldown: 1m\n");
  auto metadata = w.Metadata();
  ManualClock clock(At("2026-11-23T00:00:00Z"));
  SchedulerOptions options;
  options.clock = &clock;
  int runs = 0;
  options.run = [&](const Config& config) {
    ++runs;
    RunResult result;
    result.status = RunStatus::kSucceeded;
    result.execution_id = "run-" + std::to_string(runs);
    EXPECT_EQ(config.register_.approval,
              "manual");  // no deploy.auto: waits for approval
    return result;
  };
  Scheduler scheduler(w.config, *metadata, w.context, options);
  EXPECT_TRUE(scheduler.Tick()->empty());  // the first look records what is there
  WriteText(watched.File("2026-11-23.csv"), "a,b\n1,2\n");
  clock.Advance(std::chrono::minutes(2));
  auto fired = scheduler.Tick();
  ASSERT_TRUE(fired.ok()) << fired.status().message();
  ASSERT_EQ(fired->size(), 1u);
  EXPECT_EQ((*fired)[0].trigger, "data");
  EXPECT_EQ(runs, 1);
  clock.Advance(std::chrono::minutes(2));
  EXPECT_TRUE(scheduler.Tick()->empty());  // nothing new
}

// The A/B report's intervals and tests equal an independent reference:
// tests/ab_reference.py computes them from the same labelled rows with the
// formulas written out plainly (pairwise DeLong, Wilson, pooled z-tests),
// standard library only.
using Json = nlohmann::json;

/// tests/ab_reference.py's answer for the rows in `arguments` (its command line
/// after the script), as JSON.
Json AbReference(const std::string& arguments) {
  const std::string command = "/usr/bin/python3 " + std::string(FRAUDOPS_SOURCE_DIR) +
                              "/tests/ab_reference.py " + arguments;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return Json();
  std::string output;
  char buffer[4096];
  for (size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, got);
  EXPECT_EQ(::pclose(pipe), 0) << output;
  return Json::parse(output, nullptr, false);
}

TEST(AbReportTest, IntervalsAndTestsEqualAnIndependentReference) {
  TempDir dir;
  EndpointRecord endpoint;
  endpoint.name = "fraud";
  endpoint.production = {"fraud", 6};
  endpoint.ab_variants = {{{"fraud", 6}, 60}, {{"fraud", 7}, 40}};
  endpoint.ab_started_at = "2026-11-30T00:00:00.000Z";
  // Rows: scores on a grid of 1/256 (exact in float; ties on purpose), labels
  // known for most.
  std::string capture, csv = "variant,score,label,decision\n";
  LabelMap labels;
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  const int counts[2] = {3000, 2000};
  for (int v = 0; v < 2; ++v) {
    const std::string name = v == 0 ? "v6" : "v7";
    for (int i = 0; i < counts[v]; ++i) {
      const bool fraud = next() < (v == 0 ? 0.06 : 0.08);
      // v7 separates the classes better than v6.
      const double center = fraud ? (v == 0 ? 0.55 : 0.7) : 0.2;
      const double score =
          std::round(std::clamp(center + (next() - 0.5) * 0.7, 0.0, 1.0) * 256) / 256;
      const int decision = score >= 0.5;
      const std::string id = name + "-" + std::to_string(i);
      const std::string time = i < 10 ? "2026-11-29T23:00:00.000Z"
                                      : "2026-11-30T01:00:00.000Z";  // before the test: left out
      capture += "{\"v\":1,\"request_id\":\"" + id + "\",\"time\":\"" + time +
                 "\",\"endpoint\":\"fraud\",\"variant\":\"" + name +
                 "\",\"model\":\"fraud\",\"version\":" + std::to_string(v == 0 ? 6 : 7) +
                 ",\"latency_us\":" + std::to_string(100 + i % 50) +
                 ",\"features\":{\"Amount\":1},\"score\":";
      AppendShortest(capture, score);
      capture += ",\"label\":" + std::to_string(decision) + "}\n";
      if (i < 10) continue;
      if (i % 10 == 9) continue;  // unlabelled: not in the label-based metrics
      labels[id] = {fraud ? 1.0f : 0.0f, ""};
      csv += name + ",";
      AppendShortest(csv, score);
      csv += "," + std::to_string(fraud ? 1 : 0) + "," + std::to_string(decision) + "\n";
    }
  }
  testing::WriteText(dir.File("capture/20261129T230000Z-1-1.jsonl"), capture);
  testing::WriteText(dir.File("rows.csv"), csv);

  AbReportOptions options;
  options.capture_directory = dir.File("capture");
  options.now = *ParseUtcTime("2026-12-01T00:00:00Z");
  options.labels = &labels;
  options.fpr_target = 0.02;
  options.min_effect = 0.01;
  options.confidence = 0.95;
  options.power = 0.8;
  auto report = BuildAbReport(endpoint, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const Json& r = *report;
  ASSERT_EQ(r["variants"].size(), 2u);
  EXPECT_EQ(r["variants"][0]["requests"],
            2990);  // the ten rows before the test are left out
  EXPECT_EQ(r["variants"][1]["requests"], 1990);

  const Json reference = AbReference(dir.File("rows.csv") + " 0.02 0.01 0.95 0.8 v6 v7");
  ASSERT_TRUE(reference.is_object());

  auto near = [](const Json& ours, const Json& theirs, const std::string& what) {
    for (const char* key : {"value", "low", "high", "difference", "z", "p_value", "variance"}) {
      if (!theirs.contains(key)) continue;
      ASSERT_TRUE(ours.contains(key)) << what << " lacks " << key;
      EXPECT_NEAR(ours[key].get<double>(), theirs[key].get<double>(), 1e-9) << what << "." << key;
    }
  };
  for (size_t v = 0; v < 2; ++v) {
    const std::string name = r["variants"][v]["name"];
    const Json& theirs = reference["variants"][name];
    // The alert rate counts every captured row; the reference saw the labelled
    // ones only.
    for (const char* metric : {"recall_at_fpr", "precision", "roc_auc"}) {
      near(r["variants"][v][metric], theirs[metric], name + "." + metric);
    }
  }
  const Json& comparison = r["comparisons"][0];
  EXPECT_EQ(comparison["variant"], "v7");
  EXPECT_EQ(comparison["against"], "v6");
  for (const char* metric : {"recall_at_fpr", "roc_auc"}) {
    near(comparison[metric], reference["comparisons"]["v7"][metric], std::string("v7.") + metric);
  }
  // v7 is the better model: its AUC's advantage is significant.
  EXPECT_GT(comparison["roc_auc"]["difference"].get<double>(), 0);
  EXPECT_LT(comparison["roc_auc"]["p_value"].get<double>(), 0.05);
}

// The alert-rate statistics against the reference, on every captured row
// (labels or not).
TEST(AbReportTest, AlertRatesCountEveryCapturedRow) {
  TempDir dir;
  EndpointRecord endpoint;
  endpoint.name = "fraud";
  endpoint.ab_variants = {{{"fraud", 1}, 50}, {{"fraud", 2}, 50}};
  endpoint.ab_started_at = "2026-11-30T00:00:00.000Z";
  std::string capture, csv = "variant,score,label,decision\n";
  const int alerts[2] = {37, 61}, rows[2] = {1500, 1400};
  for (int v = 0; v < 2; ++v) {
    for (int i = 0; i < rows[v]; ++i) {
      const int decision = i < alerts[v];
      const std::string name = "v" + std::to_string(v + 1);
      capture += "{\"v\":1,\"request_id\":\"" + name + "-" + std::to_string(i) +
                 "\",\"time\":\"2026-11-30T01:00:00.000Z\",\"variant\":\"" + name +
                 "\",\"model\":\"fraud\",\"version\":" + std::to_string(v + 1) +
                 ",\"latency_us\":90,\"features\":{},\"score\":" + (decision ? "0.9" : "0.1") +
                 ",\"label\":" + std::to_string(decision) + "}\n";
      csv += name + "," + (decision ? "0.9" : "0.1") + ",0," + std::to_string(decision) + "\n";
    }
  }
  testing::WriteText(dir.File("capture/20261130T010000Z-1-1.jsonl"), capture);
  testing::WriteText(dir.File("rows.csv"), csv);
  AbReportOptions options;
  options.capture_directory = dir.File("capture");
  options.now = *ParseUtcTime("2026-12-01T00:00:00Z");
  auto report = BuildAbReport(endpoint, options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const Json reference = AbReference(dir.File("rows.csv") + " 0.01 0.01 0.95 0.8 v1 v2");
  ASSERT_TRUE(reference.is_object());
  for (size_t v = 0; v < 2; ++v) {
    const Json& ours = (*report)["variants"][v]["alert_rate"];
    const Json& theirs = reference["variants"]["v" + std::to_string(v + 1)]["alert_rate"];
    for (const char* key : {"value", "low", "high"})
      EXPECT_NEAR(ours[key].get<double>(), theirs[key].get<double>(), 1e-12);
  }
  const Json& ours = (*report)["comparisons"][0];
  const Json& theirs = reference["comparisons"]["v2"];
  for (const char* key : {"difference", "z", "p_value"}) {
    EXPECT_NEAR(ours["alert_rate"][key].get<double>(), theirs["alert_rate"][key].get<double>(),
                1e-12)
        << key;
  }
  EXPECT_EQ(ours["min_sample_size"], theirs["min_sample_size"]);
  EXPECT_EQ(ours["sample_size_reached"],
            false);  // 1500 and 1400 rows are short of it
}

}  // namespace
}  // namespace fraudops
