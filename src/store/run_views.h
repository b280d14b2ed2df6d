#pragma once
/// What the CLI and the REST API show of tracked runs and model versions, built in one
/// place so both show the same: a run as JSON, runs compared side by side (the parameters
/// that differ, every metric with the best marked), a version's lineage (its record and a
/// graph of nodes and edges from data to endpoints), and a metric's curve downsampled.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "store/metadata_store.h"
#include "store/serving_store.h"

namespace fraudops {

/// Whether a metric measures model quality (the ones "best" is marked on): not a count, a
/// duration or a threshold.
bool IsQualityMetric(const std::string& metric);
/// Whether lower values of `metric` are better (losses).
bool LowerIsBetter(const std::string& metric);
/// A run's tag `name`, or `none` when it has none (or it is empty).
std::string TagOr(const RunRecord& run, const std::string& name, const std::string& none = "-");

/// A run: its columns, metrics, name and note; `full` adds parameters, every tag, datasets
/// and artifacts.
nlohmann::json RunJson(const RunRecord& run, bool full);

/// Every metric of the compared items side by side into out["metrics"] (null where one lacks
/// it) and, for quality metrics, the id of the best into out["best"] (lowest for losses).
void CompareMetrics(const std::vector<const std::map<std::string, double>*>& metrics,
                    const std::vector<std::string>& ids, nlohmann::json& out);

/// {"runs": [ids], "params": {name: [value or "-"]} (those that differ; a trainer's
/// parameters only for runs of that trainer), "metrics", "best"}.
nlohmann::json CompareRunsJson(const std::vector<RunRecord>& runs);

/// A version's lineage: {"version", "run", "execution", "data", "artifacts"} and "graph":
/// {"nodes": [{"id", "kind", "label", …}], "edges": [{"from", "to", "kind"}]} from each
/// dataset through the run and its model files to the version and the `endpoints` that
/// serve it (production, canary, shadow or an A/B variant).
nlohmann::json LineageJson(const ModelVersion& version, const RunRecord& run,
                           const std::vector<EndpointRecord>& endpoints);

/// At most `max_points` of `points` (ordered by step): every point when they fit; else the
/// first and last and, for each of the buckets between, the lowest and highest (so spikes
/// survive), in step order.
std::vector<std::pair<int64_t, double>> DownsampleCurve(
    const std::vector<std::pair<int64_t, double>>& points, size_t max_points);

}  // namespace fraudops
