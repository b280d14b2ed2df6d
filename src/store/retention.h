#pragma once
/// Retention and archival of run artifacts (docs/operations.md, "Retention and archival"):
/// `fraudops artifacts gc` deletes the artifacts of old runs nothing needs, `fraudops
/// artifacts archive` moves those of old runs nothing serves to an archive prefix or an S3
/// storage class. Both plan first (a dry run prints the plan) and audit what they did.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"
#include "store/serving_store.h"

namespace fraudops {

enum class RetentionAction { kDelete, kArchive };

struct RetentionPlan {
  /// The runs the action applies to, with the artifacts they still record.
  std::vector<RunRecord> runs;
  /// Old enough, but kept: run id and why.
  std::vector<std::pair<std::string, std::string>> kept;
  int64_t bytes = 0;  ///< of the runs' artifacts
};

/// Runs that ended more than `days` before `now` and still record artifacts.
///   kDelete keeps every run a registered version (any approval, archived or not) was trained
///   in — what serving, rollback and lineage need — and any run holding an artifact a kept
///   run's records point to.
///   kArchive keeps the runs of every version an endpoint serves now (production, canary, A/B
///   variants, shadows; every version of a model a multi-model endpoint routes to) and, with
///   `deep` (a storage class that must be restored before it is read, DEEP_ARCHIVE), of every
///   approved version not archived in the registry.
Result<RetentionPlan> PlanRetention(MetadataStore& metadata, ServingStore& serving,
                                    RetentionAction action, double days, bool deep,
                                    std::chrono::system_clock::time_point now);

/// Deletes the planned runs' artifacts: the files first, then their records (audited as
/// artifacts_deleted, with the files and bytes), run by run; a run interrupted half way is
/// finished by the next gc.
Status ApplyGc(MetadataStore& metadata, ArtifactStore& artifacts, const RetentionPlan& plan,
               const std::string& actor);

/// Archives the planned runs' artifacts: with `storage_class` each S3 object is copied in
/// place into that class (the URIs stay); otherwise each file is copied under the store's
/// archive/ prefix, the records point there (audited as artifacts_archived), then the
/// originals are removed.
Status ApplyArchive(MetadataStore& metadata, ArtifactStore& artifacts, const RetentionPlan& plan,
                    const std::string& storage_class, const std::string& actor);

}  // namespace fraudops
