#include "store/retention.h"

#include <map>
#include <set>

namespace fraudops {

Result<RetentionPlan> PlanRetention(MetadataStore& metadata, ServingStore& serving,
                                    RetentionAction action, double days, bool deep,
                                    std::chrono::system_clock::time_point now) {
  const auto cutoff = now - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                std::chrono::duration<double>(days * 86400.0));
  FOPS_ASSIGN_OR_RETURN(std::vector<RunRecord> old,
                        metadata.RunsWithArtifactsEndedBefore(FormatUtc(cutoff)));
  FOPS_ASSIGN_OR_RETURN(std::vector<ModelVersion> versions, metadata.ListVersions(""));
  // Why each run is kept (the first reason found).
  std::map<std::string, std::string> keep;
  if (action == RetentionAction::kDelete) {
    for (const ModelVersion& v : versions) {
      keep.emplace(v.run_id, v.model + "@" + std::to_string(v.version) + " is registered");
    }
  } else {
    FOPS_ASSIGN_OR_RETURN(std::vector<EndpointRecord> endpoints, serving.ListEndpoints());
    std::set<std::pair<std::string, int64_t>> served;
    std::string multi;  // a multi-model endpoint loads any approved version a request names
    for (const EndpointRecord& e : endpoints) {
      if (!e.multi_model.empty()) multi = e.name;
      auto add = [&](const VariantRef& ref) {
        if (!ref.model.empty()) served.insert({ref.model, ref.version});
      };
      add(e.production);
      add(e.canary);
      for (const VariantRef& s : e.shadows) add(s);
      for (const WeightedVariant& w : e.ab_variants) add(w.ref);
    }
    for (const ModelVersion& v : versions) {
      const std::string name = v.model + "@" + std::to_string(v.version);
      const bool loadable = v.approval == "approved" && !v.archived;
      if (served.count({v.model, v.version})) {
        keep.emplace(v.run_id, name + " is served");
      } else if (!multi.empty() && loadable) {
        keep.emplace(v.run_id, name + " may be loaded by the multi-model endpoint " + multi);
      } else if (deep && loadable) {
        keep.emplace(v.run_id, name +
                                   " is approved and may be deployed (archive it in the "
                                   "registry first, or use GLACIER_IR)");
      }
    }
  }
  // What the kept runs point to stays too (a file two runs share).
  std::set<std::string> needed;
  for (const auto& [run_id, why] : keep) {
    auto run = metadata.GetRun(run_id);
    if (!run.ok()) continue;
    for (const ArtifactRecord& a : run->artifacts) needed.insert(a.uri);
  }
  RetentionPlan plan;
  for (RunRecord& run : old) {
    if (auto it = keep.find(run.run_id); it != keep.end()) {
      plan.kept.emplace_back(run.run_id, it->second);
      continue;
    }
    std::string shared;
    for (const ArtifactRecord& a : run.artifacts) {
      if (needed.count(a.uri)) shared = a.name;
    }
    if (!shared.empty()) {
      plan.kept.emplace_back(run.run_id, "its " + shared + " is a kept run's artifact");
      continue;
    }
    for (const ArtifactRecord& a : run.artifacts) plan.bytes += a.size;
    plan.runs.push_back(std::move(run));
  }
  return plan;
}

Status ApplyGc(MetadataStore& metadata, ArtifactStore& artifacts, const RetentionPlan& plan,
               const std::string& actor) {
  for (const RunRecord& run : plan.runs) {
    int64_t bytes = 0;
    for (const ArtifactRecord& a : run.artifacts) {
      FOPS_RETURN_IF_ERROR(artifacts.Remove(a.uri).WithContext("run " + run.run_id));
      bytes += a.size;
    }
    FOPS_RETURN_IF_ERROR(metadata.DeleteArtifactRecords(
        run.run_id, actor,
        {{"run_id", run.run_id}, {"files", run.artifacts.size()}, {"bytes", bytes}}));
  }
  return Status::Ok();
}

Status ApplyArchive(MetadataStore& metadata, ArtifactStore& artifacts, const RetentionPlan& plan,
                    const std::string& storage_class, const std::string& actor) {
  for (const RunRecord& run : plan.runs) {
    if (!storage_class.empty()) {
      for (const ArtifactRecord& a : run.artifacts) {
        FOPS_RETURN_IF_ERROR(
            artifacts.SetStorageClass(a.uri, storage_class).WithContext("run " + run.run_id));
      }
      FOPS_RETURN_IF_ERROR(metadata.MoveArtifactRecords(run.run_id, {}, actor,
                                                        {{"run_id", run.run_id},
                                                         {"files", run.artifacts.size()},
                                                         {"storage_class", storage_class}}));
      continue;
    }
    std::map<std::string, std::string> moved;
    for (const ArtifactRecord& a : run.artifacts) {
      auto copied = artifacts.CopyToArchive(a.uri);
      if (!copied.ok()) return copied.status().WithContext("run " + run.run_id);
      const std::string& uri = *copied;
      if (uri != a.uri) moved[a.name] = uri;
    }
    if (moved.empty()) continue;
    FOPS_RETURN_IF_ERROR(metadata.MoveArtifactRecords(
        run.run_id, moved, actor,
        {{"run_id", run.run_id}, {"files", moved.size()}, {"prefix", "archive/"}}));
    for (const ArtifactRecord& a : run.artifacts) {
      if (moved.count(a.name)) FOPS_RETURN_IF_ERROR(artifacts.Remove(a.uri));
    }
  }
  return Status::Ok();
}

}  // namespace fraudops
