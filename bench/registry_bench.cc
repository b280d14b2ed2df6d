// Registry and tracking at scale: how fast runs and versions are written, and how long
// `runs list` takes with 10,000 runs in the store — on SQLite and PostgreSQL.
//
//   fraudops_registry_bench METADATA_URL [RUNS]
//
// Each run is written as a pipeline run writes it: the run with 80 parameters and 2 tags,
// 30 metrics, 4 dataset fingerprints, 22 artifacts, then its end. Every 10th run also
// registers a model version; every 3rd is a tuning trial (its `fraudops.kind` tag). Then each
// listing is timed (median of 15) next to its floor: the same SQL through the same driver,
// without the store's code around it.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/ids.h"
#include "core/strings.h"
#include "store/metadata_store.h"

namespace fraudops {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

template <typename F>
double MedianMs(F&& body, int repeats = 15) {
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto started = Clock::now();
    body();
    times.push_back(Seconds(started) * 1000);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s METADATA_URL [RUNS] [curves]\n", argv[0]);
    return 2;
  }
  std::string url = argv[1];
  int runs = argc > 2 ? std::atoi(argv[2]) : 10000;
  // "curves": every 100th run also gets 1,000-round learning curves (the console's bench).
  const bool curves = argc > 3 && std::string(argv[3]) == "curves";
  auto opened = MetadataStore::Open(url, "");
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  MetadataStore& store = **opened;
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> metric(0.9, 1.0);

  auto started = Clock::now();
  int versions = 0;
  for (int i = 0; i < runs; ++i) {
    RunRecord run;
    run.run_id = NewUuidV7();
    run.experiment = i % 4 == 0 ? "fraud-detection-eu" : "fraud-detection";
    run.start_time = UtcNow();
    run.code_version = "bench";
    run.host = "host";
    run.user = "user";
    run.artifact_uri = "/artifacts/" + run.run_id;
    for (int p = 0; p < 80; ++p)
      run.params["group.param_" + std::to_string(p)] = std::to_string(p * 0.5);
    run.tags = {{"algorithm", "xgboost"}, {"data_source", "synthetic"}};
    if (i % 3 == 1) run.tags[kRunKindTag] = kTrialRunKind;
    std::map<std::string, double> metrics;
    for (const char* part : {"test", "validation"}) {
      for (const char* name :
           {"roc_auc", "pr_auc", "log_loss", "brier", "ks", "recall_at_fpr_0_1pct",
            "recall_at_fpr_1pct", "threshold", "precision", "recall", "f1", "rows", "positives",
            "amount_weighted_recall", "extra"}) {
        metrics[std::string(part) + "." + name] = metric(random);
      }
    }
    std::vector<DatasetRecord> datasets;
    for (const char* role : {"raw", "train", "validation", "test"})
      datasets.push_back({role, "synthetic", 1000, run.run_id, ""});
    std::vector<ArtifactRecord> artifacts;
    for (int a = 0; a < 22; ++a)
      artifacts.push_back({"file" + std::to_string(a), "/x/" + std::to_string(a), 100, "sha"});
    Status status = store.CreateRun(run);
    if (status.ok()) status = store.LogDatasets(run.run_id, datasets);
    if (status.ok()) status = store.LogMetrics(run.run_id, metrics);
    if (status.ok()) status = store.LogArtifacts(run.run_id, artifacts);
    for (const char* curve :
         {"validation.aucpr", "validation.logloss", "train.aucpr", "train.logloss"}) {
      if (!curves || i % 100 != 0 || !status.ok()) break;
      std::vector<std::pair<int64_t, double>> points;
      for (int64_t round = 0; round < 1000; ++round)
        points.emplace_back(round,
                            0.5 + 0.4 * (1.0 - std::exp(-round / 150.0)) + 0.002 * metric(random));
      status = store.LogMetricHistory(run.run_id, curve, points);
    }
    if (status.ok() && i % 10 == 0) {
      NewVersion version;
      version.model = "fraud-detector";
      version.run_id = run.run_id;
      version.bundle_uri = run.artifact_uri + "/model";
      version.approve = true;
      version.aliases = {"challenger"};
      status = store.CreateVersion(version, "bench").status();
      ++versions;
    }
    if (status.ok()) status = store.EndRun(run.run_id, RunStatus::kSucceeded, "");
    if (!status.ok()) {
      std::fprintf(stderr, "run %d: %s\n", i, status.ToString().c_str());
      return 1;
    }
  }
  double write_seconds = Seconds(started);

  RunFilter newest;  // the default `runs list`
  newest.limit = 50;
  newest.with_metrics = {"test.roc_auc", "test.pr_auc", "test.recall_at_fpr_1pct"};
  RunFilter all = newest;  // every run, with three metrics
  all.limit = 100000;
  RunFilter filtered = newest;  // filter + sort over all runs
  filtered.experiment = "fraud-detection";
  filtered.conditions = *ParseRunFilter("test.roc_auc >= 0.95");
  filtered.order_by = "test.pr_auc";
  filtered.limit = 100000;
  // The console's page of runs: trials left out, the total and how many trials were left out.
  RunFilter page = newest;
  page.limit = 100;
  page.trials = RunFilter::Trials::kExclude;
  size_t counts[3] = {}, page_total = 0, hidden = 0;
  double page_ms = MedianMs([&] {
    (void)store.ListRuns(page, &page_total);
    hidden = *store.CountTrials(page);
  });
  double list_ms = MedianMs([&] { counts[0] = store.ListRuns(newest)->size(); });
  double all_ms = MedianMs([&] { counts[1] = store.ListRuns(all)->size(); });
  double filtered_ms = MedianMs([&] { counts[2] = store.ListRuns(filtered)->size(); });
  // The floor: the run rows alone through the bare driver.
  SqlConnection& db = store.connection();
  double floor_ms = MedianMs([&] {
    (void)db.Query(
        "SELECT run_id, experiment, status, start_time, end_time, code_version, host, user_name, "
        "artifact_uri, error FROM runs ORDER BY start_time DESC");
  });
  double versions_ms = MedianMs([&] { (void)store.ListVersions("fraud-detector"); });

  std::printf(
      "{\"store\": \"%s\", \"runs\": %d, \"versions\": %d, \"write_seconds\": %.2f, "
      "\"runs_per_second\": %.0f, \"list_newest_50_ms\": %.2f, \"list_all_ms\": %.2f, "
      "\"list_all_rows\": %zu, "
      "\"filter_sort_ms\": %.2f, \"filter_sort_rows\": %zu, \"bare_select_all_runs_ms\": %.2f, "
      "\"list_versions_ms\": %.2f, \"page_without_trials_ms\": %.2f, \"page_total\": %zu, "
      "\"trials_hidden\": %zu}\n",
      RedactUrl(url).c_str(), runs, versions, write_seconds, runs / write_seconds, list_ms, all_ms,
      counts[1], filtered_ms, counts[2], floor_ms, versions_ms, page_ms, page_total, hidden);
  return 0;
}

}  // namespace
}  // namespace fraudops

int main(int argc, char** argv) { return fraudops::Main(argc, argv); }
