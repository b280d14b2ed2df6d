#pragma once
/// The pipeline's sharded runs (`train.sharded`, docs/distributed-training.md): no process
/// holds all the rows. Each worker reads its part of preprocess.data_source (sharded reading,
/// data/source.h) and, together with the others through the training collective:
///   validate — adds the derived features; checks rows, classes and infinite values exactly
///     (counts summed over the parts); runs data validation's per-column checks on a sample
///     of every part's rows gathered on each worker (validate.sample_rows, in part order), so
///     every worker excludes the same columns;
///   split    — splits its part as one split of all the data would (SplitPart); categories
///     unseen in training counted over all parts;
///   train    — as any distributed run;
///   score    — scores its validation and test rows with the new model (and the champion's,
///     for the champion gate).
/// Rank 0 writes what the leader's steps read into the workers' directory (the k*File names
/// below). Everything gathered is a sample or one score per held-out row: 12 to 16 bytes a
/// row, never the rows' features.

#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/context.h"
#include "core/status.h"
#include "data/dataset.h"
#include "train/distributed.h"
#include "train/trainer.h"

namespace fraudops {

/// Written by rank 0 into the workers' directory.
inline constexpr char kShardedStoppedFile[] = "stopped.json";        ///< why, when stopped early
inline constexpr char kShardedValidationFile[] = "validation.json";  ///< the validation report
inline constexpr char kShardedSplitFile[] = "split.json";  ///< rows per part and set; warnings
/// A sample of the training rows as the model takes them (drift baseline, bundle schema).
inline constexpr char kShardedBaselineFile[] = "baseline_sample.fds";
/// Every held-out row: its label and the features "score", the amount column (when there is
/// one) and "champion_score" (test rows, with a champion).
inline constexpr char kShardedValidationScoresFile[] = "validation_scored.fds";
inline constexpr char kShardedTestScoresFile[] = "test_scored.fds";
inline constexpr char kShardedFinishFile[] = "finish.json";  ///< phase times; champion's fate

/// The champion a sharded run's workers score their test rows with (register.champion_gate).
struct ShardedChampion {
  std::string ref;        ///< model@version
  std::string algorithm;  ///< its trainer
  std::string model;      ///< its model file's bytes
};

/// What the workers' stages take from the configuration (WorkerJob::stages).
nlohmann::json ShardedStagesJson(const Config& config, const ShardedChampion* champion);

/// The stages a worker runs for `stages` (ShardedStagesJson); rank 0 writes into `out_dir`.
Result<std::unique_ptr<PartStages>> MakeShardedStages(const nlohmann::json& stages,
                                                      const std::string& out_dir,
                                                      const Context& context);

/// Rows of `data` as one block of the gathered-rows format the workers exchange: the row
/// count (8 bytes), then the label, then each feature column (4 bytes a value).
std::string EncodeRows(const Dataset& data, std::span<const uint32_t> rows);

/// Blocks (EncodeRows, one per part in rank order) read back as one dataset of `schema`'s
/// columns; an error for bytes that are not whole blocks.
Result<Dataset> DecodeGatheredRows(const Dataset& schema, std::string_view bytes);

/// Adds the `declared` derived features (preprocess.derived_features) to `data` as columns
/// after its own, computed by the code batch scoring and serving use (FeatureDeriver) from
/// the values the dataset stores, so a model input is bit-identical wherever it is computed.
Status AddDerivedFeatures(Dataset& data, const std::vector<std::string>& declared);

/// `data` without the columns named in `names`.
void DropColumns(Dataset& data, const std::vector<std::string>& names);

/// `model`'s scores of `rows`, taking its features by name from them (a model trained on
/// other columns, e.g. the champion: this run may add features it never saw). An error names
/// the features `rows` lacks.
Result<std::vector<float>> ScoreByFeatureNames(const TrainedModel& model, const Dataset& rows,
                                               const Context& context);

}  // namespace fraudops
