#pragma once
/// Point-in-time training sets (docs/features.md, "Training sets"): the label table's rows
/// (entity key(s), a time, the label, and any other columns) get the features that
/// preprocess.features names, as each group knew them at the row's time (point_in_time.h).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "features/feature_group.h"
#include "features/feature_store.h"

namespace fraudops {

class ThreadPool;

/// The groups and features that references ("GROUP:FEATURE", "GROUP") name.
struct FeaturePlan {
  std::vector<FeatureGroup> groups;                ///< each once, in first-named order
  std::vector<std::vector<std::string>> features;  ///< per group: its features, in order
  /// The label table columns a join reads as exact text: every group's entity columns.
  std::vector<std::string> KeyColumns() const;
};

/// Resolves `refs` (`where` names them in errors: preprocess.features) against the registry's
/// latest definitions; unknown groups or features are errors listing what exists.
Result<FeaturePlan> PlanFeatures(FeatureRegistry& registry, const std::vector<std::string>& refs,
                                 const std::string& where);

/// What a join took from the store, for lineage and the bundle.
struct JoinedFeatures {
  std::vector<GroupSnapshot> snapshots;
  /// The groups' definitions with their versions (bundle.json input.feature_groups).
  nlohmann::json groups = nlohmann::json::array();
  std::vector<std::string> columns;  ///< the columns added (GROUP__FEATURE)
};

/// Adds `plan`'s features to `data` as columns after its own, read as of each row's time.
/// The data must have read the plan's key columns and `time_column` as text (categorical):
/// afterwards the key columns are removed (join keys, not features), and the time column
/// becomes numeric again unless `keep_time_text` (when its values are all numbers, as a reader
/// would have typed it).
Result<JoinedFeatures> JoinTrainingFeatures(FeatureRegistry& registry, const FeaturePlan& plan,
                                            Dataset& data, const std::string& time_column,
                                            bool keep_time_text, ThreadPool* pool);

}  // namespace fraudops
