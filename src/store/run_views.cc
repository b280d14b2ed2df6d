#include "store/run_views.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/strings.h"

namespace fraudops {

bool IsQualityMetric(const std::string& metric) {
  const std::string last = metric.substr(metric.rfind('.') + 1);
  static const std::set<std::string> kQuality = {
      "roc_auc",          "pr_auc",  "ks",    "f1",    "precision", "recall",
      "log_loss",         "logloss", "brier", "aucpr", "auc",       "amount_weighted_recall",
      "average_precision"};
  return kQuality.count(last) > 0 || last.rfind("recall_at_", 0) == 0 ||
         last.rfind("precision_at_", 0) == 0;
}

bool LowerIsBetter(const std::string& metric) {
  return metric.find("log_loss") != std::string::npos ||
         metric.find("brier") != std::string::npos || metric.find("logloss") != std::string::npos;
}

std::string TagOr(const RunRecord& run, const std::string& name, const std::string& none) {
  auto it = run.tags.find(name);
  return it == run.tags.end() || it->second.empty() ? none : it->second;
}

nlohmann::json RunJson(const RunRecord& run, bool full) {
  nlohmann::json out = {{"run_id", run.run_id},
                        {"experiment", run.experiment},
                        {"status", RunStatusName(run.status)},
                        {"start_time", run.start_time},
                        {"end_time", run.end_time},
                        {"code_version", run.code_version},
                        {"host", run.host},
                        {"user", run.user},
                        {"artifact_uri", run.artifact_uri},
                        {"metrics", run.metrics}};
  if (!run.error.empty()) out["error"] = run.error;
  if (auto name = run.tags.find(kRunNameTag); name != run.tags.end()) out["name"] = name->second;
  if (auto note = run.tags.find(kRunNoteTag); note != run.tags.end()) out["note"] = note->second;
  if (!full) {
    if (!run.tags.empty()) out["tags"] = run.tags;
    return out;
  }
  out["params"] = run.params;
  out["tags"] = run.tags;
  out["datasets"] = nlohmann::json::array();
  for (const DatasetRecord& d : run.datasets) {
    out["datasets"].push_back({{"role", d.role},
                               {"source", d.source},
                               {"rows", d.rows},
                               {"content_hash", d.content_hash}});
  }
  out["artifacts"] = nlohmann::json::array();
  for (const ArtifactRecord& a : run.artifacts) {
    out["artifacts"].push_back(
        {{"name", a.name}, {"uri", a.uri}, {"size", a.size}, {"sha256", a.sha256}});
  }
  return out;
}

void CompareMetrics(const std::vector<const std::map<std::string, double>*>& metrics,
                    const std::vector<std::string>& ids, nlohmann::json& out) {
  std::set<std::string> names;
  for (const auto* m : metrics) {
    for (const auto& [name, value] : *m) names.insert(name);
  }
  out["metrics"] = nlohmann::json::object();
  out["best"] = nlohmann::json::object();
  for (const std::string& name : names) {
    nlohmann::json values = nlohmann::json::array();
    int best = -1;
    double best_value = 0;
    for (size_t i = 0; i < metrics.size(); ++i) {
      auto it = metrics[i]->find(name);
      if (it == metrics[i]->end()) {
        values.push_back(nullptr);
        continue;
      }
      values.push_back(it->second);
      if (best < 0 || (LowerIsBetter(name) ? it->second < best_value : it->second > best_value)) {
        best = static_cast<int>(i);
        best_value = it->second;
      }
    }
    out["metrics"][name] = values;
    if (best >= 0 && IsQualityMetric(name)) out["best"][name] = ids[static_cast<size_t>(best)];
  }
}

nlohmann::json CompareRunsJson(const std::vector<RunRecord>& runs) {
  // Parameters that differ, every metric; the best value of each metric marked.
  std::set<std::string> param_names;
  // A trainer's parameters only for the runs that used that trainer (train.xgboost.* for
  // XGBoost runs): the others' would be defaults nobody chose.
  auto own = [](const RunRecord& run, const std::string& param) {
    if (param.rfind("train.", 0) != 0 || std::count(param.begin(), param.end(), '.') < 2)
      return true;
    const std::string trainer = param.substr(6, param.find('.', 6) - 6);
    return TagOr(run, "algorithm", trainer) == trainer;
  };
  for (const RunRecord& run : runs) {
    for (const auto& [name, value] : run.params) {
      if (own(run, name)) param_names.insert(name);
    }
  }
  nlohmann::json out = {{"runs", nlohmann::json::array()}, {"params", nlohmann::json::object()}};
  std::vector<std::string> ids;
  std::vector<const std::map<std::string, double>*> metrics;
  for (const RunRecord& run : runs) {
    ids.push_back(run.run_id);
    metrics.push_back(&run.metrics);
  }
  out["runs"] = ids;
  for (const std::string& name : param_names) {
    std::vector<std::string> values;
    for (const RunRecord& run : runs) {
      auto it = run.params.find(name);
      values.push_back(it == run.params.end() || !own(run, name) ? "-" : it->second);
    }
    if (std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end())
      out["params"][name] = values;
  }
  CompareMetrics(metrics, ids, out);
  return out;
}

nlohmann::json LineageJson(const ModelVersion& version, const RunRecord& run,
                           const std::vector<EndpointRecord>& endpoints) {
  nlohmann::json out = {{"version", version.ToJson()}, {"run", RunJson(run, false)}};
  out["run"]["tags"] = run.tags;
  out["execution"] = {{"execution_id", run.run_id},
                      {"artifact_uri", run.artifact_uri},
                      {"code_version", run.code_version}};
  // A tuned model: the study its parameters came from (fraudops tune show STUDY).
  if (const auto study = run.tags.find("fraudops.study"); study != run.tags.end()) {
    const auto best = run.tags.find("fraudops.best_trial");
    out["tuning"] = {{"study", study->second},
                     {"best_trial", best == run.tags.end() ? nlohmann::json(nullptr)
                                                           : nlohmann::json(best->second)}};
  }
  out["data"] = nlohmann::json::array();
  for (const DatasetRecord& d : run.datasets) {
    out["data"].push_back({{"role", d.role},
                           {"source", d.source},
                           {"rows", d.rows},
                           {"content_hash", d.content_hash}});
  }
  out["artifacts"] = nlohmann::json::array();
  for (const ArtifactRecord& a : run.artifacts) {
    if (StartsWith(a.name, "model/") || StartsWith(a.name, "raw/") ||
        StartsWith(a.name, "processed/")) {
      out["artifacts"].push_back({{"name", a.name}, {"uri", a.uri}, {"sha256", a.sha256}});
    }
  }
  // The graph: data -> run -> model files -> version -> endpoints.
  nlohmann::json nodes = nlohmann::json::array(), edges = nlohmann::json::array();
  auto edge = [&](const std::string& from, const std::string& to, const char* kind) {
    edges.push_back({{"from", from}, {"to", to}, {"kind", kind}});
  };
  const std::string run_node = "run:" + run.run_id;
  const std::string version_node =
      "version:" + version.model + "@" + std::to_string(version.version);
  for (const DatasetRecord& d : run.datasets) {
    const std::string id = "data:" + d.role + ":" + d.content_hash;
    nodes.push_back({{"id", id},
                     {"kind", "data"},
                     {"label", d.role + " (" + std::to_string(d.rows) + " rows)"},
                     {"role", d.role},
                     {"rows", d.rows},
                     {"content_hash", d.content_hash}});
    edge(id, run_node, "input");
  }
  nodes.push_back({{"id", run_node},
                   {"kind", "run"},
                   {"label", TagOr(run, kRunNameTag, run.run_id)},
                   {"status", RunStatusName(run.status)},
                   {"code_version", run.code_version}});
  for (const ArtifactRecord& a : run.artifacts) {
    if (!StartsWith(a.name, "model/")) continue;
    const std::string id = "artifact:" + a.name;
    nodes.push_back({{"id", id}, {"kind", "artifact"}, {"label", a.name}, {"sha256", a.sha256}});
    edge(run_node, id, "output");
    edge(id, version_node, "bundle");
  }
  nodes.push_back({{"id", version_node},
                   {"kind", "version"},
                   {"label", version.model + "@" + std::to_string(version.version)},
                   {"approval", version.approval},
                   {"aliases", version.aliases}});
  edge(run_node, version_node, "registered");
  const VariantRef self{version.model, version.version};
  for (const EndpointRecord& e : endpoints) {
    std::vector<std::string> roles;
    if (e.production == self) roles.push_back("production");
    if (e.canary == self) roles.push_back("canary");
    if (std::find(e.shadows.begin(), e.shadows.end(), self) != e.shadows.end())
      roles.push_back("shadow");
    for (const WeightedVariant& v : e.ab_variants) {
      if (v.ref == self && roles.empty()) roles.push_back("ab_variant");
    }
    if (roles.empty()) continue;
    const std::string id = "endpoint:" + e.name;
    nodes.push_back({{"id", id}, {"kind", "endpoint"}, {"label", e.name}, {"roles", roles}});
    edge(version_node, id, "serves");
  }
  out["graph"] = {{"nodes", nodes}, {"edges", edges}};
  return out;
}

std::vector<std::pair<int64_t, double>> DownsampleCurve(
    const std::vector<std::pair<int64_t, double>>& points, size_t max_points) {
  if (points.size() <= max_points || max_points < 4) {
    if (points.size() <= max_points) return points;
    return {points.front(), points.back()};
  }
  // Buckets over the points between the first and the last, two points each.
  const size_t inner = points.size() - 2, buckets = (max_points - 2) / 2;
  std::vector<std::pair<int64_t, double>> out;
  out.reserve(max_points);
  out.push_back(points.front());
  for (size_t b = 0; b < buckets; ++b) {
    const size_t from = 1 + b * inner / buckets, to = 1 + (b + 1) * inner / buckets;
    if (from >= to) continue;
    size_t low = from, high = from;
    for (size_t i = from; i < to; ++i) {
      if (points[i].second < points[low].second) low = i;
      if (points[i].second > points[high].second) high = i;
    }
    out.push_back(points[std::min(low, high)]);
    if (low != high) out.push_back(points[std::max(low, high)]);
  }
  out.push_back(points.back());
  return out;
}

}  // namespace fraudops
