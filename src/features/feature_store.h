#pragma once
/// The feature store's registry and offline store (docs/features.md): feature group
/// definitions kept with versions in the metadata store, and each group's rows kept
/// append-only as segment files (feature_table.h) in the artifact store, one per ingestion,
/// under features/<group>/<segment id>.ffs, each recorded (rows, entities, event-time range,
/// sha256, source) in the metadata store. Reading a group verifies every segment's checksum.

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "features/feature_group.h"
#include "features/feature_table.h"

namespace fraudops {

class MetadataStore;
class ArtifactStore;

struct AppliedGroup {
  std::string name;
  int64_t version = 0;
  bool changed = false;  ///< a new version was recorded
};

struct SegmentRecord {
  std::string id;
  std::string group;
  int64_t group_version = 0;
  std::string uri, sha256;
  int64_t bytes = 0, rows = 0, entities = 0;
  EventTime min_event = 0, max_event = 0;
  std::string ingested_at;  ///< UTC
  std::string source;       ///< where the rows came from (passwords removed)
  std::string actor;
  nlohmann::json ToJson() const;
};

/// What a training set read from a group: for lineage.
struct GroupSnapshot {
  std::string group;
  int64_t version = 0;
  std::vector<std::string> segments;  ///< ids
  int64_t rows = 0;
  std::string hash;  ///< SHA-256 over the segments' sha256 in order
};

class FeatureRegistry {
 public:
  FeatureRegistry(MetadataStore& store, ArtifactStore& artifacts)
      : store_(store), artifacts_(&artifacts) {}
  /// For definitions only (Ingest and Load need the artifact store).
  explicit FeatureRegistry(MetadataStore& store) : store_(store) {}

  /// Records each definition: a new group gets version 1, a changed one (CheckCompatible)
  /// the next version, an unchanged one nothing. Audited (feature_group_applied).
  Result<std::vector<AppliedGroup>> Apply(const std::vector<FeatureGroup>& groups,
                                          const std::string& actor);
  /// The latest version of every group, by name.
  Result<std::vector<FeatureGroup>> List();
  /// A group's latest version (version 0) or the given one; NotFound lists the groups.
  Result<FeatureGroup> Get(const std::string& name, int64_t version = 0);
  /// The latest version of each group named, or of every group when `names` is empty.
  Result<std::vector<FeatureGroup>> Select(const std::vector<std::string>& names);
  /// Every version of a group, oldest first.
  Result<std::vector<FeatureGroup>> Versions(const std::string& name);

  /// Stores `table` as a new segment of `group` (its latest version). Audited
  /// (features_ingested).
  Result<SegmentRecord> Ingest(const FeatureGroup& group, const FeatureTable& table,
                               const std::string& source, const std::string& actor);
  Result<std::vector<SegmentRecord>> Segments(const std::string& group);
  /// Every stored row of `group`, segments in ingestion order; `snapshot` (if given) says
  /// what was read.
  Result<FeatureTable> Load(const FeatureGroup& group, GroupSnapshot* snapshot = nullptr);

 private:
  MetadataStore& store_;
  ArtifactStore* artifacts_ = nullptr;
};

}  // namespace fraudops
