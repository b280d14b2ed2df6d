#include "pipeline/sharded.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>

#include "core/files.h"
#include "core/sampling.h"
#include "core/strings.h"
#include "data/dataset_file.h"
#include "data/split.h"
#include "model/derived_features.h"
#include "pipeline/data_validation.h"
#include "train/collective.h"

namespace fraudops {

namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::round(std::chrono::duration<double>(SteadyClock::now() - start).count() * 1000) /
         1000;
}

}  // namespace

std::string EncodeRows(const Dataset& data, std::span<const uint32_t> rows) {
  const uint64_t n = rows.size();
  std::string out(sizeof n + n * sizeof(float) * (1 + data.num_features()), '\0');
  char* at = out.data();
  std::memcpy(at, &n, sizeof n);
  at += sizeof n;
  auto put = [&](const std::vector<float>& column) {
    for (uint32_t r : rows) {
      std::memcpy(at, &column[r], sizeof(float));
      at += sizeof(float);
    }
  };
  put(data.label);
  for (const std::vector<float>& column : data.columns) put(column);
  return out;
}

Result<Dataset> DecodeGatheredRows(const Dataset& schema, std::string_view bytes) {
  Dataset out;
  out.features = schema.features;
  out.label_name = schema.label_name;
  out.label_values = schema.label_values;
  out.columns.resize(schema.num_features());
  const size_t per_row = sizeof(float) * (1 + schema.num_features());
  size_t at = 0;
  while (at < bytes.size()) {
    uint64_t n = 0;
    if (bytes.size() - at < sizeof n) return Status::Internal("a gathered block is cut short");
    std::memcpy(&n, bytes.data() + at, sizeof n);
    at += sizeof n;
    if ((bytes.size() - at) / per_row < n)
      return Status::Internal("a gathered block of " + std::to_string(n) + " rows is cut short");
    auto take = [&](std::vector<float>& column) {
      const size_t old = column.size();
      column.resize(old + n);
      if (n > 0) std::memcpy(column.data() + old, bytes.data() + at, n * sizeof(float));
      at += n * sizeof(float);
    };
    take(out.label);
    for (std::vector<float>& column : out.columns) take(column);
  }
  return out;
}

namespace {

/// Every part's `rows` of its `data`, on every worker, in rank order.
Result<Dataset> GatherRows(const Dataset& data, std::span<const uint32_t> rows,
                           Collective& collective) {
  FOPS_ASSIGN_OR_RETURN(const std::string all, collective.AllGather(EncodeRows(data, rows)));
  return DecodeGatheredRows(data, all);
}

/// About `sample_rows` of all parts' rows (`total` over all parts), evenly spaced within each
/// part and in part order (so a column that grows with the row number still does), on every
/// worker; every row when there are no more.
Result<Dataset> GatherSample(const Dataset& part, int64_t total, int64_t sample_rows,
                             Collective& collective) {
  const size_t n = part.rows();
  size_t m = n;
  if (total > sample_rows) {
    m = static_cast<size_t>(std::llround(static_cast<double>(sample_rows) * static_cast<double>(n) /
                                         static_cast<double>(total)));
    m = std::min(m, n);
  }
  std::vector<uint32_t> rows;
  for (size_t i : EvenlySpaced(n, m)) rows.push_back(static_cast<uint32_t>(i));
  return GatherRows(part, rows, collective);
}

/// Category counts (CategoryCounts) as one vector of numbers, each categorical column taking
/// its categories' places (the schema is one over all parts), and back.
std::vector<int64_t> Flatten(const Dataset& schema, const std::vector<std::vector<int64_t>>& in) {
  std::vector<int64_t> out;
  for (size_t c = 0; c < schema.num_features(); ++c) {
    if (schema.features[c].type != ColumnType::kCategorical) continue;
    for (size_t k = 0; k < schema.features[c].categories.size(); ++k)
      out.push_back(k < in[c].size() ? in[c][k] : 0);
  }
  return out;
}

std::vector<std::vector<int64_t>> Unflatten(const Dataset& schema, const std::vector<int64_t>& in) {
  std::vector<std::vector<int64_t>> out(schema.num_features());
  size_t at = 0;
  for (size_t c = 0; c < schema.num_features(); ++c) {
    if (schema.features[c].type != ColumnType::kCategorical) continue;
    out[c].assign(in.begin() + static_cast<long>(at),
                  in.begin() + static_cast<long>(at + schema.features[c].categories.size()));
    at += schema.features[c].categories.size();
  }
  return out;
}

nlohmann::json SetRecord(const Dataset& rows) {
  return {{"rows", rows.rows()},
          {"positives", rows.CountPositives()},
          {"content_hash", rows.ContentHash()}};
}

/// What ShardedStagesJson writes, read back.
struct ShardedSettings {
  std::vector<std::string> derived_features;
  DataValidationOptions validation;
  int64_t sample_rows = 0;
  std::string split_method, time_column;
  SplitRatios ratios;
  uint64_t seed = 0;
  std::string amount_column;
  std::optional<ShardedChampion> champion;
};

Result<ShardedSettings> ParseSettings(const nlohmann::json& json) {
  ShardedSettings out;
  try {
    out.derived_features = json.at("derived_features").get<std::vector<std::string>>();
    const nlohmann::json& v = json.at("validation");
    out.validation.time_column = v.at("time_column").get<std::string>();
    out.validation.feature_columns = v.at("feature_columns").get<std::vector<std::string>>();
    out.validation.max_single_feature_auc = v.at("max_single_feature_auc").get<double>();
    out.validation.max_missing_share = v.at("max_missing_share").get<double>();
    out.sample_rows = v.at("sample_rows").get<int64_t>();
    const nlohmann::json& split = json.at("split");
    out.split_method = split.at("method").get<std::string>();
    out.ratios = {split.at("train").get<double>(), split.at("validation").get<double>(),
                  split.at("test").get<double>()};
    out.seed = split.at("seed").get<uint64_t>();
    out.time_column = split.at("time_column").get<std::string>();
    out.amount_column = json.at("amount_column").get<std::string>();
    if (const nlohmann::json& champion = json.at("champion"); !champion.is_null()) {
      out.champion = ShardedChampion{.ref = champion.at("ref").get<std::string>(),
                                     .algorithm = champion.at("algorithm").get<std::string>(),
                                     .model = champion.at("model").get<std::string>()};
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::DataError(std::string("the job's stages are incomplete: ") + e.what());
  }
  if (out.sample_rows < 1) return Status::DataError("the job's stages: sample_rows below 1");
  return out;
}

class ShardedStages : public PartStages {
 public:
  ShardedStages(ShardedSettings settings, std::string out_dir, const Context& context)
      : settings_(std::move(settings)), out_dir_(std::move(out_dir)), context_(context) {}

  Result<bool> Prepare(Dataset part, Collective& collective, Dataset& train,
                       Dataset& validation) override {
    phases_["read_s"] = SecondsSince(started_);
    SteadyClock::time_point phase = SteadyClock::now();
    FOPS_RETURN_IF_ERROR(AddDerivedFeatures(part, settings_.derived_features));

    // Exact: rows, positives and infinite values, summed over the parts.
    std::vector<int64_t> counts = {static_cast<int64_t>(part.rows()),
                                   static_cast<int64_t>(part.CountPositives())};
    for (int64_t infinite : InfiniteCounts(part)) counts.push_back(infinite);
    FOPS_RETURN_IF_ERROR(collective.Sum(counts));
    const int64_t rows = counts[0], positives = counts[1];
    if (std::string wrong = CheckRowCounts(part, rows, positives,
                                           std::vector<int64_t>(counts.begin() + 2, counts.end()));
        !wrong.empty())
      return Stop(collective, {{"error", wrong}});

    // Per column, on a sample of all parts: every worker finds the same.
    FOPS_ASSIGN_OR_RETURN(const Dataset sample,
                          GatherSample(part, rows, settings_.sample_rows, collective));
    DataValidation checked = ValidateData(sample, settings_.validation);
    if (checked.excluded.size() == sample.num_features()) {
      checked.errors.push_back(
          "every column was excluded from the features; name the ones to use in "
          "preprocess.feature_columns");
    }
    std::vector<std::string> excluded;
    for (const ExcludedColumn& e : checked.excluded) excluded.push_back(e.name);
    nlohmann::json report = checked.ToJson();
    report["rows"] = rows;
    report["positives"] = positives;
    report["sample_rows"] = sample.rows();
    report["schema"] = sample.SchemaJson();
    FOPS_RETURN_IF_ERROR(WriteJson(collective, kShardedValidationFile, report));
    phases_["validate_s"] = SecondsSince(phase);
    if (!checked.errors.empty()) return Stop(collective, {{"data_validation", true}});

    // Split as one split of the whole would; the excluded columns served it, not the model.
    phase = SteadyClock::now();
    const PartExchange exchange{
        .part = collective.rank(),
        .parts = collective.world_size(),
        .sum = [&](std::span<int64_t> values) { return collective.Sum(values); }};
    FOPS_ASSIGN_OR_RETURN(SplitIndices split,
                          SplitPart(part, settings_.split_method, settings_.ratios,
                                    settings_.time_column, settings_.seed, exchange));
    train = part.Take(split.train);
    validation = part.Take(split.validation);
    test_ = part.Take(split.test);
    part = Dataset();
    for (Dataset* set : {&train, &validation, &test_}) DropColumns(*set, excluded);

    std::vector<int64_t> seen = Flatten(train, CategoryCounts(train, {}));
    std::vector<int64_t> held_out = Flatten(train, CategoryCounts(validation, {&test_}));
    FOPS_RETURN_IF_ERROR(collective.Sum(seen));
    FOPS_RETURN_IF_ERROR(collective.Sum(held_out));
    const std::vector<std::string> unseen =
        CategoriesUnseenInTraining(train, Unflatten(train, seen), Unflatten(train, held_out));
    const nlohmann::json mine = {{"rank", collective.rank()},
                                 {"train", SetRecord(train)},
                                 {"validation", SetRecord(validation)},
                                 {"test", SetRecord(test_)}};
    FOPS_ASSIGN_OR_RETURN(const std::string parts, collective.AllGather(mine.dump() + "\n"));
    nlohmann::json record = {{"parts", nlohmann::json::array()}, {"warnings", unseen}};
    for (const std::string& line : Split(parts, '\n')) {
      if (!line.empty()) record["parts"].push_back(nlohmann::json::parse(line));
    }
    // The drift baseline's reference and the bundle's schema: a sample of the training rows.
    FOPS_ASSIGN_OR_RETURN(const Dataset baseline, GatherSample(train, RowsOf(record, "train"),
                                                               settings_.sample_rows, collective));
    if (collective.rank() == 0) {
      FOPS_RETURN_IF_ERROR(
          WriteDatasetFile(baseline, out_dir_ + "/" + kShardedBaselineFile).status());
    }
    FOPS_RETURN_IF_ERROR(WriteJson(collective, kShardedSplitFile, record));
    phases_["split_s"] = SecondsSince(phase);
    prepared_ = SteadyClock::now();
    return true;
  }

  Status Finish(const TrainedModel& model, const Dataset& validation,
                Collective& collective) override {
    phases_["train_s"] = SecondsSince(prepared_);
    const SteadyClock::time_point phase = SteadyClock::now();
    FOPS_ASSIGN_OR_RETURN(std::vector<float> validation_scores,
                          model.PredictProbability(validation, context_));
    FOPS_ASSIGN_OR_RETURN(std::vector<float> test_scores,
                          model.PredictProbability(test_, context_));
    // The champion's scores of the test rows: kept only when every worker has them.
    nlohmann::json finish = {{"champion", nullptr}};
    std::optional<std::vector<float>> champion_scores;
    if (settings_.champion) {
      Result<std::vector<float>> scored = ScoreChampion(*settings_.champion);
      std::vector<int64_t> failed = {scored.ok() ? 0 : 1};
      FOPS_RETURN_IF_ERROR(collective.Sum(failed));
      finish["champion"] = {{"ref", settings_.champion->ref}};
      if (failed[0] == 0) {
        champion_scores = std::move(*scored);
      } else {
        finish["champion"]["error"] = scored.ok()
                                          ? "another worker could not score its test rows with it"
                                          : scored.status().message();
      }
    }
    const std::string& amount = settings_.amount_column;
    FOPS_RETURN_IF_ERROR(WriteScored(validation, std::move(validation_scores), std::nullopt, amount,
                                     kShardedValidationScoresFile, collective));
    FOPS_RETURN_IF_ERROR(WriteScored(test_, std::move(test_scores), std::move(champion_scores),
                                     amount, kShardedTestScoresFile, collective));
    phases_["score_s"] = SecondsSince(phase);
    finish["phases"] = phases_;
    return WriteJson(collective, kShardedFinishFile, finish);
  }

 private:
  static int64_t RowsOf(const nlohmann::json& record, const char* set) {
    int64_t rows = 0;
    for (const nlohmann::json& part : record["parts"]) rows += part[set]["rows"].get<int64_t>();
    return rows;
  }

  Result<std::vector<float>> ScoreChampion(const ShardedChampion& champion) const {
    TrainerRegistry trainers;
    RegisterBuiltinTrainers(trainers);
    FOPS_ASSIGN_OR_RETURN(const Trainer* trainer, trainers.Find(champion.algorithm));
    FOPS_ASSIGN_OR_RETURN(std::unique_ptr<TrainedModel> model, trainer->Load(champion.model));
    return ScoreByFeatureNames(*model, test_, context_);
  }

  /// Every part's held-out `rows` as label, "score", the amount and "champion_score" (when
  /// given: on every worker alike), gathered; rank 0 writes them as `name`.
  Status WriteScored(const Dataset& rows, std::vector<float> scores,
                     std::optional<std::vector<float>> champion_scores, const std::string& amount,
                     const char* name, Collective& collective) {
    Dataset scored;
    scored.label = rows.label;
    scored.label_name = rows.label_name;
    scored.label_values = rows.label_values;
    auto add = [&](std::string column, std::vector<float> values) {
      ColumnSchema schema;
      schema.name = std::move(column);
      scored.features.push_back(std::move(schema));
      scored.columns.push_back(std::move(values));
    };
    add("score", std::move(scores));
    if (const int index = amount.empty() ? -1 : rows.FeatureIndex(amount); index >= 0)
      add(amount, rows.columns[static_cast<size_t>(index)]);
    if (champion_scores) add("champion_score", std::move(*champion_scores));
    std::vector<uint32_t> all(scored.rows());
    for (size_t r = 0; r < all.size(); ++r) all[r] = static_cast<uint32_t>(r);
    FOPS_ASSIGN_OR_RETURN(const Dataset gathered, GatherRows(scored, all, collective));
    if (collective.rank() != 0) return Status::Ok();
    return WriteDatasetFile(gathered, out_dir_ + "/" + name).status();
  }

  /// Rank 0 writes `json` as `name` into the workers' directory.
  Status WriteJson(const Collective& collective, const char* name, const nlohmann::json& json) {
    if (collective.rank() != 0) return Status::Ok();
    return WriteFileAtomic(out_dir_ + "/" + name, json.dump(2) + "\n");
  }

  /// Stops before training (every worker decides it alike): rank 0 says why.
  Result<bool> Stop(const Collective& collective, nlohmann::json why) {
    why["phases"] = phases_;
    FOPS_RETURN_IF_ERROR(WriteJson(collective, kShardedStoppedFile, why));
    return false;
  }

  const ShardedSettings settings_;
  const std::string out_dir_;
  const Context& context_;
  const SteadyClock::time_point started_ = SteadyClock::now();
  SteadyClock::time_point prepared_;
  nlohmann::json phases_ = nlohmann::json::object();
  Dataset test_;
};

}  // namespace

nlohmann::json ShardedStagesJson(const Config& config, const ShardedChampion* champion) {
  const PreprocessConfig& p = config.preprocess;
  nlohmann::json stages = {{"derived_features", p.derived_features},
                           {"validation",
                            {{"time_column", p.time_column},
                             {"feature_columns", p.feature_columns},
                             {"max_single_feature_auc", config.validate.max_single_feature_auc},
                             {"max_missing_share", config.validate.max_missing_share},
                             {"sample_rows", config.validate.sample_rows}}},
                           {"split",
                            {{"method", p.split_method},
                             {"train", p.train_ratio},
                             {"validation", p.validation_ratio},
                             {"test", p.test_ratio},
                             {"seed", static_cast<uint64_t>(config.global.seed)},
                             {"time_column", p.time_column}}},
                           {"amount_column", p.amount_column},
                           {"champion", nullptr}};
  if (champion) {
    stages["champion"] = {
        {"ref", champion->ref}, {"algorithm", champion->algorithm}, {"model", champion->model}};
  }
  return stages;
}

Result<std::unique_ptr<PartStages>> MakeShardedStages(const nlohmann::json& stages,
                                                      const std::string& out_dir,
                                                      const Context& context) {
  FOPS_ASSIGN_OR_RETURN(ShardedSettings settings, ParseSettings(stages));
  return std::unique_ptr<PartStages>(new ShardedStages(std::move(settings), out_dir, context));
}

Status AddDerivedFeatures(Dataset& d, const std::vector<std::string>& declared) {
  if (declared.empty()) return Status::Ok();
  std::vector<std::string> columns = d.FeatureNames();
  std::vector<bool> categorical;
  for (const ColumnSchema& column : d.features)
    categorical.push_back(column.type == ColumnType::kCategorical);
  std::vector<DerivedFeature> derived;
  for (size_t i = 0; i < declared.size(); ++i) {
    const std::string where = "preprocess.derived_features[" + std::to_string(i) + "]";
    FOPS_ASSIGN_OR_RETURN(DerivedFeature feature, ParseDerivedFeature(declared[i], where));
    if (std::find(columns.begin(), columns.end(), feature.name) != columns.end() ||
        feature.name == d.label_name) {
      return Status::InvalidArgument(where + ": '" + feature.name +
                                     "' is already a column of the data; name it otherwise");
    }
    columns.push_back(feature.name);
    derived.push_back(std::move(feature));
  }
  FOPS_ASSIGN_OR_RETURN(
      FeatureDeriver deriver,
      FeatureDeriver::Create(columns, categorical, derived, true, "preprocess.derived_features"));
  const size_t inputs = d.num_features();
  std::vector<std::vector<float>> added(derived.size(), std::vector<float>(d.rows()));
  std::vector<double> row(columns.size());
  for (size_t r = 0; r < d.rows(); ++r) {
    for (size_t f = 0; f < inputs; ++f) row[f] = d.columns[f][r];
    deriver.Derive(row.data());
    for (size_t k = 0; k < derived.size(); ++k) added[k][r] = static_cast<float>(row[inputs + k]);
  }
  for (size_t k = 0; k < derived.size(); ++k) {
    ColumnSchema column;
    column.name = derived[k].name;
    column.derived = derived[k].expression;
    d.features.push_back(std::move(column));
    d.columns.push_back(std::move(added[k]));
  }
  return Status::Ok();
}

void DropColumns(Dataset& data, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const int index = data.FeatureIndex(name);
    if (index < 0) continue;
    data.features.erase(data.features.begin() + index);
    data.columns.erase(data.columns.begin() + index);
  }
}

Result<std::vector<float>> ScoreByFeatureNames(const TrainedModel& model, const Dataset& rows,
                                               const Context& context) {
  FOPS_ASSIGN_OR_RETURN(auto importance, model.FeatureImportance());
  Dataset view;
  std::string missing;
  for (const auto& [name, gain] : importance) {
    const int index = rows.FeatureIndex(name);
    if (index < 0) {
      missing += (missing.empty() ? "" : ", ") + name;
      continue;
    }
    view.features.push_back(rows.features[static_cast<size_t>(index)]);
    view.columns.push_back(rows.columns[static_cast<size_t>(index)]);
  }
  if (!missing.empty()) return Status::DataError("this run's data lacks its features " + missing);
  view.label = rows.label;
  view.label_name = rows.label_name;
  view.label_values = rows.label_values;
  return model.PredictProbability(view, context);
}

}  // namespace fraudops
