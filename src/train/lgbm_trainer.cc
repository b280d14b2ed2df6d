#include "train/lgbm_trainer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <tuple>

#include "core/numbers.h"
#include "core/parallel_team.h"
#include "core/progress.h"
#include "core/strings.h"
#include "data/dataset_file.h"
#include "data/split.h"
#include "model/lightgbm_text.h"
#include "train/collective.h"
#include "train/lgbm_learner.h"
#include "train/rank_areas.h"

namespace fraudops {

namespace {

/// The lgbm trainer's cache (TrainInput::cache): the bins of a training set and of its
/// validation rows, found and filled once for each binning setting — the settings bins depend
/// on, not the pre-filter's min_data_in_leaf, which each training applies to the kept bins
/// again (BinnedData::Refilter), since tuning varies it. Keyed by the datasets' addresses:
/// they must outlive the cache and not change.
class LgbmTrainCache : public TrainCache {
 public:
  struct Bins {
    BinnedData train, validation;
  };

  /// The bins of `train` (and `validation`, when it has rows) under `config`, built on first use.
  Result<const Bins*> Find(const Dataset& train, const Dataset* validation,
                           const LgbmConfig& config, ParallelTeam* team) {
    std::string setting =
        std::to_string(config.max_bin) + ' ' + std::to_string(config.min_data_in_bin) + ' ' +
        std::to_string(config.use_missing) + std::to_string(config.zero_as_missing) + ' ' +
        std::to_string(config.bin_construct_sample_cnt) + ' ' +
        std::to_string(config.data_random_seed) + " categorical";
    for (int f : config.categorical_features) setting += ' ' + std::to_string(f);
    auto key = std::make_tuple(&train, validation, std::move(setting));
    auto found = bins_.find(key);
    if (found != bins_.end()) return &found->second;
    Bins bins;
    FOPS_ASSIGN_OR_RETURN(bins.train, BinnedData::Build(FeatureColumns(train), config, team));
    if (validation != nullptr && validation->rows() > 0) {
      FOPS_ASSIGN_OR_RETURN(bins.validation,
                            BinnedData::BinLike(bins.train, FeatureColumns(*validation), team));
    }
    return &bins_.emplace(std::move(key), std::move(bins)).first->second;
  }

 private:
  std::map<std::tuple<const Dataset*, const Dataset*, std::string>, Bins> bins_;
};

/// A uniform double in [0, 1) from a 64-bit state, advanced.
double NextUniform(uint64_t& state) {
  state = Mix(state);
  return static_cast<double>(state >> 11) * 0x1.0p-53;
}

// ---------------------------------------------------------------------------------------------
// Metrics on raw scores, named as LightGBM names them.

double Sigmoid(double x, double sigmoid) { return 1.0 / (1.0 + std::exp(-sigmoid * x)); }

/// ROC AUC and average precision over (score, label) pairs, ties counted as LightGBM and
/// scikit-learn do (a block of equal scores moves the curve diagonally).
struct RankMetrics {
  double auc = 0.5, average_precision = 0;
};

/// `order`: the rows by descending score, or null to sort here.
RankMetrics ComputeRankMetrics(const std::vector<double>& scores, const std::vector<float>& labels,
                               const std::vector<uint32_t>* sorted) {
  const std::vector<uint32_t> own =
      sorted == nullptr ? DescendingOrder(scores) : std::vector<uint32_t>();
  const std::vector<uint32_t>& order = sorted == nullptr ? own : *sorted;
  double positives = 0, negatives = 0;
  for (float label : labels) (label > 0.5f ? positives : negatives) += 1;
  RankMetrics out;
  if (positives == 0 || negatives == 0) return out;
  double tp = 0, fp = 0, area = 0, ap = 0;
  for (size_t i = 0; i < order.size();) {
    double block_tp = 0, block_fp = 0;
    size_t j = i;
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) {
      (labels[order[j]] > 0.5f ? block_tp : block_fp) += 1;
    }
    area += block_fp * (tp + block_tp / 2);
    tp += block_tp;
    fp += block_fp;
    if (block_tp > 0) ap += (block_tp / positives) * (tp / (tp + fp));
    i = j;
  }
  out.auc = area / (positives * negatives);
  out.average_precision = ap;
  return out;
}

bool HigherIsBetter(const std::string& metric) {
  return metric == "auc" || metric == "average_precision";
}

/// `order`: the rows by descending score when known (else rank metrics sort).
std::map<std::string, double> ComputeMetrics(const std::vector<std::string>& names,
                                             const std::vector<double>& scores,
                                             const std::vector<float>& labels,
                                             const LgbmConfig& config,
                                             const std::vector<uint32_t>* order = nullptr) {
  std::map<std::string, double> out;
  const double n = static_cast<double>(std::max<size_t>(1, scores.size()));
  bool ranks_done = false;
  RankMetrics ranks;
  for (const std::string& name : names) {
    double sum = 0;
    if (name == "binary_logloss") {
      for (size_t i = 0; i < scores.size(); ++i) {
        double p = Sigmoid(scores[i], config.sigmoid);
        double q = labels[i] > 0.5f ? p : 1 - p;
        sum -= std::log(std::max(q, 1e-15));
      }
      out[name] = sum / n;
    } else if (name == "binary_error") {
      for (size_t i = 0; i < scores.size(); ++i)
        sum += (Sigmoid(scores[i], config.sigmoid) > 0.5) != (labels[i] > 0.5f);
      out[name] = sum / n;
    } else if (name == "auc" || name == "average_precision") {
      if (!ranks_done) ranks = ComputeRankMetrics(scores, labels, order);
      ranks_done = true;
      out[name] = name == "auc" ? ranks.auc : ranks.average_precision;
    } else if (name == "l2" || name == "rmse") {
      for (size_t i = 0; i < scores.size(); ++i)
        sum += (scores[i] - labels[i]) * (scores[i] - labels[i]);
      out[name] = name == "l2" ? sum / n : std::sqrt(sum / n);
    } else if (name == "l1") {
      for (size_t i = 0; i < scores.size(); ++i) sum += std::fabs(scores[i] - labels[i]);
      out[name] = sum / n;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Objectives.

/// What the objective needs to know about all training labels (of every worker).
struct LabelStats {
  double rows = 0, positives = 0, sum = 0;
};

class Objective {
 public:
  /// `weights`: one per row, or empty (every row weighs 1).
  Objective(const LgbmConfig& config, const std::vector<float>& labels, const LabelStats& stats,
            std::span<const float> weights)
      : config_(config), labels_(labels), stats_(stats), weights_(weights) {
    if (config.objective != LgbmObjective::kBinary) return;
    const double positives = stats.positives;
    const double negatives = stats.rows - positives;
    // LightGBM's label weights: is_unbalance weighs the rarer class by the ratio.
    if (config.is_unbalance && positives > 0 && negatives > 0) {
      if (positives > negatives)
        negative_weight_ = positives / negatives;
      else
        positive_weight_ = negatives / positives;
    }
    positive_weight_ *= config.scale_pos_weight;
    mean_ = stats.rows == 0 ? 0 : positives / stats.rows;
  }

  /// The starting score (boost_from_average): log-odds of the positive rate, or the label mean.
  double InitScore() const {
    if (!config_.boost_from_average) return 0;
    if (config_.objective == LgbmObjective::kBinary) {
      double p = std::clamp(mean_, 1e-15, 1 - 1e-15);
      return std::log(p / (1 - p)) / config_.sigmoid;
    }
    return stats_.rows == 0 ? 0 : stats_.sum / stats_.rows;
  }

  void Gradients(const std::vector<double>& scores, std::vector<GradHess>& out,
                 ParallelTeam* team) const {
    const size_t n = scores.size();
    const size_t block = 16384;
    team->For((n + block - 1) / block, [&](size_t task) {
      const size_t from = task * block, to = std::min(n, from + block);
      if (config_.objective == LgbmObjective::kBinary) {
        const double sigmoid = config_.sigmoid;
        for (size_t i = from; i < to; ++i) {
          // LightGBM's form with labels in {-1, +1}.
          const bool positive = labels_[i] > 0.5f;
          const double label = positive ? 1.0 : -1.0;
          const double weight = positive ? positive_weight_ : negative_weight_;
          const double response = -label * sigmoid / (1.0 + std::exp(label * sigmoid * scores[i]));
          const double abs_response = std::fabs(response);
          out[i].g = static_cast<float>(response * weight);
          out[i].h = static_cast<float>(abs_response * (sigmoid - abs_response) * weight);
        }
      } else {
        for (size_t i = from; i < to; ++i) {
          out[i].g = static_cast<float>(scores[i] - labels_[i]);
          out[i].h = 1.0f;
        }
      }
      if (!weights_.empty()) {  // as LightGBM: the row's weight times both
        for (size_t i = from; i < to; ++i) {
          out[i].g = static_cast<float>(out[i].g * weights_[i]);
          out[i].h = static_cast<float>(out[i].h * weights_[i]);
        }
      }
    });
  }

  std::string HeaderName() const {
    if (config_.objective == LgbmObjective::kRegression) return "regression";
    return "binary sigmoid:" + FormatDouble(config_.sigmoid, 17);
  }

 private:
  const LgbmConfig& config_;
  const std::vector<float>& labels_;
  const LabelStats stats_;
  std::span<const float> weights_;
  double positive_weight_ = 1, negative_weight_ = 1, mean_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Row and feature sampling.

/// The bag of an iteration: rows kept by bagging (per-row draws from a generator per
/// 1,024-row block of the global row numbers, so the bag depends neither on threads nor on
/// how rows are divided among workers), balanced by label when pos/neg_bagging_fraction are
/// set. `labels` are this worker's rows, global rows [first, first + labels.size()).
void DrawBag(const LgbmConfig& c, const std::vector<float>& labels, uint64_t first, int iteration,
             std::vector<uint32_t>& bag) {
  bag.clear();
  const bool balanced = c.pos_bagging_fraction < 1 || c.neg_bagging_fraction < 1;
  const uint64_t end = first + labels.size();
  for (uint64_t block = first / 1024; block * 1024 < end; ++block) {
    uint64_t state =
        Mix(c.bagging_seed ^ Mix(static_cast<uint64_t>(iteration) * 0x100000001ULL + block));
    for (uint64_t row = block * 1024; row < std::min(end, (block + 1) * 1024); ++row) {
      const double draw = NextUniform(state);  // drawn for every row, kept for ours
      if (row < first) continue;
      const size_t local = static_cast<size_t>(row - first);
      double fraction =
          balanced ? (labels[local] > 0.5f ? c.pos_bagging_fraction : c.neg_bagging_fraction)
                   : c.bagging_fraction;
      if (draw < fraction) bag.push_back(static_cast<uint32_t>(local));
    }
  }
}

/// GOSS: keeps the top_rate rows with the largest |g·h|, samples other_rate of all rows from
/// the rest and scales their gradients by (1 - top_rate) / other_rate. On workers
/// (`collective`; this worker's rows are global rows [first, first + gradients.size()) of
/// `total`) the draw is the one process's over all rows: the threshold is the top-th largest
/// magnitude of all workers (a bisection on its value, one summed count per step), and the
/// sampling of the rest, which goes through the rows in order, runs worker after worker, each
/// starting from where the one before left (the generator's state, the rows sampled) and
/// from the count of large rows before it.
Status DrawGoss(const LgbmConfig& c, std::vector<GradHess>& gradients, int iteration,
                std::vector<uint32_t>& bag, Collective* collective, uint64_t first,
                uint64_t total) {
  const size_t n = gradients.size();
  bag.clear();
  std::vector<float> magnitude(n);
  for (size_t i = 0; i < n; ++i) magnitude[i] = std::fabs(gradients[i].g * gradients[i].h);
  const uint64_t all = collective != nullptr ? total : n;
  const uint64_t top =
      std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(all) * c.top_rate));
  const uint64_t other =
      std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(all) * c.other_rate));
  float threshold = 0;
  if (collective == nullptr) {
    std::vector<float> sorted = magnitude;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(top - 1),
                     sorted.end(), std::greater<float>());
    threshold = sorted[top - 1];
  } else {
    // The top-th largest is the (all - top + 1)-th smallest, over all workers.
    std::vector<uint32_t> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = FloatOrderKey(magnitude[i]);
    FOPS_ASSIGN_OR_RETURN(const uint32_t key,
                          KthSmallestKeyOverParts(
                              keys, static_cast<int64_t>(all - std::min(top, all) + 1),
                              [&](std::span<int64_t> values) { return collective->Sum(values); }));
    threshold = FloatOfOrderKey(key);
  }
  const float multiply =
      static_cast<float>(static_cast<double>(all - top) / static_cast<double>(other));
  // Where the draw stands at this worker's first row: the generator, the rows sampled and the
  // large rows before it.
  uint64_t state = Mix(c.bagging_seed ^ Mix(static_cast<uint64_t>(iteration) + 0x5A5A5A5AULL));
  uint64_t sampled = 0, big = 0;
  auto draw = [&] {
    for (size_t i = 0; i < n; ++i) {
      if (magnitude[i] >= threshold) {
        bag.push_back(static_cast<uint32_t>(i));
        ++big;
        continue;
      }
      const double need = static_cast<double>(other) - static_cast<double>(sampled);
      const double remaining =
          static_cast<double>(all - (first + i)) - static_cast<double>(top > big ? top - big : 0);
      if (remaining > 0 && NextUniform(state) < need / remaining) {
        bag.push_back(static_cast<uint32_t>(i));
        gradients[i].g *= multiply;
        gradients[i].h *= multiply;
        ++sampled;
      }
    }
  };
  if (collective == nullptr) {
    draw();
    return Status::Ok();
  }
  std::vector<int64_t> large(static_cast<size_t>(collective->world_size()), 0);
  for (float m : magnitude) large[static_cast<size_t>(collective->rank())] += m >= threshold;
  FOPS_RETURN_IF_ERROR(collective->Sum(large));
  for (int r = 0; r < collective->rank(); ++r)
    big += static_cast<uint64_t>(large[static_cast<size_t>(r)]);
  for (int r = 0; r < collective->world_size(); ++r) {
    std::string handover(2 * sizeof(uint64_t), '\0');
    if (r == collective->rank()) {
      draw();
      std::memcpy(handover.data(), &state, sizeof state);
      std::memcpy(handover.data() + sizeof state, &sampled, sizeof sampled);
    }
    FOPS_RETURN_IF_ERROR(collective->Broadcast(handover, r));
    if (r + 1 == collective->rank()) {
      std::memcpy(&state, handover.data(), sizeof state);
      std::memcpy(&sampled, handover.data() + sizeof state, sizeof sampled);
    }
  }
  return Status::Ok();
}

/// The features one tree may use: feature_fraction of them, drawn per iteration.
std::vector<uint8_t> DrawTreeFeatures(const LgbmConfig& c, const BinnedData& data, int iteration) {
  std::vector<uint8_t> mask(data.num_features(), 1);
  if (c.feature_fraction >= 1.0) return mask;
  std::vector<size_t> usable;
  for (size_t f = 0; f < data.num_features(); ++f) {
    if (!data.mapper(f).trivial()) usable.push_back(f);
  }
  const size_t keep = std::max<size_t>(
      1, static_cast<size_t>(static_cast<double>(usable.size()) * c.feature_fraction + 0.5));
  uint64_t state = Mix(c.feature_fraction_seed ^ Mix(static_cast<uint64_t>(iteration)));
  for (size_t i = 0; i < keep && i + 1 < usable.size(); ++i) {
    state = Mix(state);
    std::swap(usable[i], usable[i + static_cast<size_t>(state % (usable.size() - i))]);
  }
  std::fill(mask.begin(), mask.end(), 0);
  for (size_t i = 0; i < std::min(keep, usable.size()); ++i) mask[usable[i]] = 1;
  return mask;
}

// ---------------------------------------------------------------------------------------------
// Trees to LightGBM's text format.

LightgbmTextTree ToTextTree(const GrownTree& grown, const BinnedData& data, double shrinkage,
                            double bias) {
  LightgbmTextTree tree;
  tree.num_leaves = grown.num_leaves;
  tree.shrinkage = bias != 0 ? 1.0 : shrinkage;
  for (size_t node = 0; node + 1 < static_cast<size_t>(grown.num_leaves); ++node) {
    const size_t feature = static_cast<size_t>(grown.split_feature[node]);
    const BinMapper& mapper = data.mapper(feature);
    int decision = static_cast<int>(mapper.missing_type()) << 2;
    if (mapper.categorical()) {
      decision |= 1;
      int largest = 0;
      for (uint32_t bin : grown.left_bins[node])
        largest = std::max(largest, mapper.BinCategory(bin));
      std::vector<uint32_t> words(static_cast<size_t>(largest / 32 + 1), 0);
      for (uint32_t bin : grown.left_bins[node]) {
        int category = mapper.BinCategory(bin);
        words[static_cast<size_t>(category / 32)] |= 1u << (category % 32);
      }
      tree.threshold.push_back(static_cast<double>(tree.category_bitsets.size()));
      tree.category_bitsets.push_back(std::move(words));
    } else {
      if (grown.default_left[node]) decision |= 2;
      tree.threshold.push_back(mapper.UpperBound(grown.threshold_bin[node]));
    }
    tree.split_feature.push_back(static_cast<int>(feature));
    tree.split_gain.push_back(grown.split_gain[node]);
    tree.decision_type.push_back(decision);
    tree.left_child.push_back(grown.left_child[node]);
    tree.right_child.push_back(grown.right_child[node]);
    tree.internal_value.push_back(grown.internal_value[node] * shrinkage + bias);
    tree.internal_weight.push_back(grown.internal_weight[node]);
    tree.internal_count.push_back(grown.internal_count[node]);
  }
  for (size_t leaf = 0; leaf < static_cast<size_t>(grown.num_leaves); ++leaf) {
    tree.leaf_value.push_back(grown.leaf_value[leaf] * shrinkage + bias);
    tree.leaf_weight.push_back(grown.leaf_weight[leaf]);
    tree.leaf_count.push_back(grown.leaf_count[leaf]);
  }
  return tree;
}

class LgbmModel : public TrainedModel {
 public:
  explicit LgbmModel(std::string text) : text_(std::move(text)) {}
  /// The raw training scores the boosting loop ended with (empty after early stopping cut trees).
  std::vector<double> training_scores;
  Result<std::string> Serialize() const override { return text_; }
  std::string FileName() const override { return "model.txt"; }
  Result<std::vector<std::pair<std::string, double>>> FeatureImportance() const override {
    return LightgbmFeatureGains(text_);
  }

 private:
  std::string text_;
};

}  // namespace

const std::vector<double>* LgbmTrainingScores(const TrainedModel& model) {
  const auto* lgbm = dynamic_cast<const LgbmModel*>(&model);
  return lgbm != nullptr && !lgbm->training_scores.empty() ? &lgbm->training_scores : nullptr;
}

Result<std::vector<std::pair<std::string, double>>> LightgbmFeatureGains(std::string_view text) {
  std::vector<std::string> names;
  std::vector<double> gains;
  std::vector<std::string> features;
  for (const std::string& line : Split(text, '\n')) {
    if (StartsWith(line, "feature_names=")) {
      names = Split(Trim(line.substr(14)), ' ');
      gains.assign(names.size(), 0);
    } else if (StartsWith(line, "split_feature=")) {
      features = Split(Trim(line.substr(14)), ' ');
    } else if (StartsWith(line, "split_gain=")) {
      std::vector<std::string> values = Split(Trim(line.substr(11)), ' ');
      for (size_t i = 0; i < values.size() && i < features.size(); ++i) {
        auto feature = ParseDouble(features[i]);
        auto gain = ParseDouble(values[i]);
        if (!feature || !gain || *feature < 0 || *feature >= static_cast<double>(gains.size())) {
          return Status::DataError(
              "LightGBM model: split_feature/split_gain do not match feature_names");
        }
        gains[static_cast<size_t>(*feature)] += *gain;
      }
    }
  }
  std::vector<std::pair<std::string, double>> out;
  for (size_t f = 0; f < names.size(); ++f) out.emplace_back(names[f], gains[f]);
  return out;
}

Result<std::unique_ptr<TrainedModel>> LgbmTrainer::Train(const TrainInput& input,
                                                         const Context& context) const {
  const auto started = std::chrono::steady_clock::now();
  Collective* const collective = input.collective;
  const ExternalMemory* const external = input.external;
  if (external != nullptr && (external->train == nullptr || collective != nullptr))
    return Status::Internal("lgbm external memory needs a training file and one process");
  if (external == nullptr && input.train == nullptr)
    return Status::Internal("lgbm trainer needs a training dataset");
  // External memory: the files' schemas and labels only; the features are read in pieces
  // when they are binned, and the bins kept in files in the cache directory.
  Dataset file_train, file_validation;
  if (external != nullptr) {
    FOPS_ASSIGN_OR_RETURN(file_train, external->train->SchemaWithLabels());
    if (external->validation != nullptr) {
      FOPS_ASSIGN_OR_RETURN(file_validation, external->validation->SchemaWithLabels());
    }
  }
  const Dataset& train = external != nullptr ? file_train : *input.train;
  const Dataset* validation = external == nullptr               ? input.validation
                              : external->validation != nullptr ? &file_validation
                                                                : nullptr;
  if (train.rows() == 0) return Status::InvalidArgument("lgbm: the training data has no rows");
  if (train.num_features() == 0)
    return Status::InvalidArgument("lgbm: the training data has no feature columns");
  if (train.rows() > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument("lgbm: more than 4,294,967,295 training rows");
  }
  FOPS_ASSIGN_OR_RETURN(ResolvedParams params,
                        ResolveParams(LgbmParamSpecs(), input.params, "lgbm"));
  FOPS_ASSIGN_OR_RETURN(LgbmConfig config, MakeLgbmConfig(params, train, context));
  if (collective != nullptr) {
    if (config.tree_learner == "serial" && params.count("tree_learner")) {
      return Status::InvalidArgument(
          "lgbm: tree_learner=serial trains in one process; training on workers is "
          "data-parallel (tree_learner=data, the default there)");
    }
    config.tree_learner = "data";
    for (auto& [name, value] : config.echo) {
      if (name == "tree_learner") value = "data";
    }
  }
  // On workers, validation data is given to all or none: a worker's part may hold no rows.
  if (config.early_stopping_round > 0 &&
      (validation == nullptr || (collective == nullptr && validation->rows() == 0))) {
    return Status::InvalidArgument(
        "lgbm: early_stopping_round = " + std::to_string(config.early_stopping_round) +
        " needs validation data (--valid FILE, or the pipeline's validation split)");
  }
  if (config.objective == LgbmObjective::kBinary) {
    for (size_t r = 0; r < train.rows(); ++r) {
      if (train.label[r] != 0.0f && train.label[r] != 1.0f) {
        return Status::DataError("lgbm: objective=binary needs labels 0 or 1; row " +
                                 std::to_string(r + 1) + " has " + FormatDouble(train.label[r], 7));
      }
    }
  }
  ParallelTeam team(config.num_threads);

  if (validation != nullptr && validation->rows() > 0 &&
      validation->num_features() != train.num_features()) {
    return Status::InvalidArgument(
        "lgbm: the validation data has " + std::to_string(validation->num_features()) +
        " features, the training data " + std::to_string(train.num_features()));
  }
  // The bins: kept by the caller's cache between trainings on the same rows, or found here.
  BinnedData data, valid_data;
  auto* cache = dynamic_cast<LgbmTrainCache*>(input.cache);
  if (cache != nullptr && external == nullptr && collective == nullptr) {
    FOPS_ASSIGN_OR_RETURN(const LgbmTrainCache::Bins* bins,
                          cache->Find(train, validation, config, &team));
    data = bins->train;
    valid_data = bins->validation;
    data.Refilter(config);
    valid_data.Refilter(config);
  } else {
    auto columns_of = [&](const Dataset& dataset, const DatasetFileView* file) {
      return file != nullptr ? FeatureColumns(*file, external->batch_rows)
                             : FeatureColumns(dataset);
    };
    FOPS_ASSIGN_OR_RETURN(
        data,
        BinnedData::Build(columns_of(train, external ? external->train : nullptr), config, &team,
                          collective, external ? external->cache_dir + "/train.bins" : ""));
    if (validation != nullptr && validation->rows() > 0) {
      FOPS_ASSIGN_OR_RETURN(
          valid_data, BinnedData::BinLike(
                          data, columns_of(*validation, external ? external->validation : nullptr),
                          &team, external ? external->cache_dir + "/validation.bins" : ""));
    }
  }

  // Label statistics over all rows (weighted, with row weights), and where this worker's
  // rows start among them.
  if (!input.weights.empty() &&
      (collective != nullptr || external != nullptr || input.weights.size() != train.rows())) {
    return Status::Internal("lgbm: row weights need one weight per training row, in memory");
  }
  LabelStats stats;
  for (size_t r = 0; r < train.rows(); ++r) {
    const double weight = input.weights.empty() ? 1.0 : input.weights[r];
    stats.rows += weight;
    stats.positives += weight * (train.label[r] > 0.5f);
    stats.sum += weight * train.label[r];
  }
  uint64_t first_row = 0;
  std::vector<float> valid_labels =
      validation != nullptr ? validation->label : std::vector<float>();
  if (collective != nullptr) {
    std::array<double, 3> values = {stats.rows, stats.positives, stats.sum};
    FOPS_RETURN_IF_ERROR(collective->Sum(values));
    stats = LabelStats{values[0], values[1], values[2]};
    const int64_t mine = static_cast<int64_t>(train.rows());
    FOPS_ASSIGN_OR_RETURN(std::vector<int64_t> rows_of_rank,
                          collective->AllGather(std::span<const int64_t>(&mine, 1)));
    for (int r = 0; r < collective->rank(); ++r)
      first_row += static_cast<uint64_t>(rows_of_rank[static_cast<size_t>(r)]);
    // Metrics are computed over every worker's rows, in the order one process would have.
    FOPS_ASSIGN_OR_RETURN(valid_labels, collective->AllGather(std::span<const float>(
                                            valid_labels.data(), valid_labels.size())));
  }
  // Every worker decides the same: validation rows anywhere.
  const bool has_validation = !valid_labels.empty();
  std::vector<float> train_labels;  // all workers' (gathered when a training metric is asked)
  if (config.provide_training_metric) {
    train_labels = train.label;
    if (collective != nullptr) {
      FOPS_ASSIGN_OR_RETURN(train_labels, collective->AllGather(std::span<const float>(
                                              train_labels.data(), train_labels.size())));
    }
  }
  const bool rank_metrics = std::any_of(
      config.metrics.begin(), config.metrics.end(),
      [](const std::string& name) { return name == "auc" || name == "average_precision"; });
  // The metrics over all workers' rows: their scores gathered in row order and, for the rank
  // metrics, each worker's rows sorted by itself and the sorted runs merged (a linear merge
  // instead of one worker sorting all rows): the values one process computes.
  auto metrics_over_all =
      [&](const std::vector<double>& local_scores,
          const std::vector<float>& labels) -> Result<std::map<std::string, double>> {
    if (collective == nullptr) return ComputeMetrics(config.metrics, local_scores, labels, config);
    FOPS_ASSIGN_OR_RETURN(std::vector<double> all_scores,
                          collective->AllGather(std::span<const double>(local_scores)));
    if (!rank_metrics) return ComputeMetrics(config.metrics, all_scores, labels, config);
    const std::vector<uint32_t> local_order = DescendingOrder(local_scores);
    FOPS_ASSIGN_OR_RETURN(std::vector<uint32_t> runs,
                          collective->AllGather(std::span<const uint32_t>(local_order)));
    // Each worker's run: its rows' positions in `runs`, offset by where its rows start. The
    // runs are merged two at a time (log2(workers) linear passes).
    FOPS_ASSIGN_OR_RETURN(std::vector<int64_t> rows_of_rank,
                          collective->AllGather(std::span<const int64_t>(
                              std::vector<int64_t>{static_cast<int64_t>(local_scores.size())})));
    std::vector<std::vector<uint32_t>> sorted;
    size_t first = 0;
    for (int64_t rows : rows_of_rank) {
      std::vector<uint32_t>& run = sorted.emplace_back(static_cast<size_t>(rows));
      for (size_t i = 0; i < run.size(); ++i)
        run[i] = static_cast<uint32_t>(first + runs[first + i]);
      first += static_cast<size_t>(rows);
    }
    const auto descending = [&](uint32_t a, uint32_t b) { return all_scores[a] > all_scores[b]; };
    while (sorted.size() > 1) {
      std::vector<std::vector<uint32_t>> merged;
      for (size_t i = 0; i + 1 < sorted.size(); i += 2) {
        std::vector<uint32_t>& out = merged.emplace_back(sorted[i].size() + sorted[i + 1].size());
        std::merge(sorted[i].begin(), sorted[i].end(), sorted[i + 1].begin(), sorted[i + 1].end(),
                   out.begin(), descending);
      }
      if (sorted.size() % 2 == 1) merged.push_back(std::move(sorted.back()));
      sorted = std::move(merged);
    }
    return ComputeMetrics(config.metrics, all_scores, labels, config, &sorted.front());
  };

  Objective objective(config, train.label, stats, input.weights);
  const double init_score = objective.InitScore();
  std::vector<double> scores(train.rows(), init_score);
  std::vector<double> valid_scores(valid_data.rows(), init_score);
  std::vector<GradHess> gradients(train.rows());
  TreeLearner learner(data, config, &team, collective);

  std::vector<LightgbmTextTree> trees;
  std::vector<RoundMetrics> history;
  const std::vector<std::string>& metrics = config.metrics;
  const size_t watched =
      config.first_metric_only ? std::min<size_t>(1, metrics.size()) : metrics.size();
  std::vector<double> best_value(metrics.size());
  std::vector<int> best_iteration(metrics.size(), 0);
  for (size_t m = 0; m < metrics.size(); ++m)
    best_value[m] = HigherIsBetter(metrics[m]) ? -kInf : kInf;
  int kept_rounds = -1;  // set when early stopping fires
  std::string stopped_by;
  std::vector<uint32_t> bag;
  const bool bagging = !config.goss && config.bagging_freq > 0 &&
                       (config.bagging_fraction < 1 || config.pos_bagging_fraction < 1 ||
                        config.neg_bagging_fraction < 1);
  std::vector<uint8_t> in_bag;
  ProgressBar progress(context.progress, "train lgbm", config.num_iterations);
  int iteration = 0;
  for (; iteration < config.num_iterations; ++iteration) {
    objective.Gradients(scores, gradients, &team);
    if (bagging && iteration % config.bagging_freq == 0)
      DrawBag(config, train.label, first_row, iteration, bag);
    if (config.goss) {
      bag.clear();
      if (iteration >= static_cast<int>(1.0 / config.learning_rate))
        FOPS_RETURN_IF_ERROR(DrawGoss(config, gradients, iteration, bag, collective, first_row,
                                      static_cast<uint64_t>(stats.rows)));
    }
    std::vector<uint8_t> tree_features = DrawTreeFeatures(config, data, iteration);
    FOPS_ASSIGN_OR_RETURN(
        GrownTree grown,
        learner.Grow(gradients, bag, tree_features,
                     Mix(config.feature_fraction_seed + 7919u * static_cast<uint64_t>(iteration))));
    if (grown.num_leaves <= 1) {
      // Nothing left to split: LightGBM stops here, keeping a constant first tree.
      if (trees.empty()) {
        GrownTree constant;
        constant.leaf_value = {0.0};
        constant.leaf_weight = {grown.leaf_weight[0]};
        constant.leaf_count = {grown.leaf_count[0]};
        trees.push_back(ToTextTree(constant, data, config.learning_rate, init_score));
        trees.back().shrinkage = 1;  // a constant tree, as LightGBM writes it
      }
      context.logger->Info("train", "lgbm stopped: no more leaves meet the split requirements",
                           {{"iteration", iteration}});
      break;
    }
    // Scores move by the tree's leaf values as written (the first tree's carry the initial
    // score, which they replace), so they sum in the engine's order and equal its margins.
    LightgbmTextTree text_tree =
        ToTextTree(grown, data, config.learning_rate, trees.empty() ? init_score : 0.0);
    const std::vector<double>& leaf_value = text_tree.leaf_value;
    const bool replace = trees.empty();
    auto add = [replace](double& score, double value) { score = replace ? value : score + value; };
    if (bag.empty()) {
      for (int leaf = 0; leaf < grown.num_leaves; ++leaf) {
        for (uint32_t row : learner.LeafRows(leaf))
          add(scores[row], leaf_value[static_cast<size_t>(leaf)]);
      }
    } else {
      team.For((train.rows() + 16383) / 16384, [&](size_t task) {
        const size_t from = task * 16384, to = std::min(train.rows(), from + 16384);
        for (size_t r = from; r < to; ++r)
          add(scores[r], leaf_value[static_cast<size_t>(grown.LeafOf(data, r))]);
      });
    }
    if (has_validation) {
      team.For((valid_data.rows() + 16383) / 16384, [&](size_t task) {
        const size_t from = task * 16384, to = std::min(valid_data.rows(), from + 16384);
        for (size_t r = from; r < to; ++r) {
          add(valid_scores[r], leaf_value[static_cast<size_t>(grown.LeafOf(valid_data, r))]);
        }
      });
    }
    trees.push_back(std::move(text_tree));

    RoundMetrics round;
    round.round = iteration;
    const bool last = iteration + 1 == config.num_iterations;
    if (config.provide_training_metric && ((iteration + 1) % config.metric_freq == 0 || last)) {
      FOPS_ASSIGN_OR_RETURN(round.train, metrics_over_all(scores, train_labels));
    }
    std::string shown;
    bool stop = false;
    if (has_validation) {
      FOPS_ASSIGN_OR_RETURN(round.validation, metrics_over_all(valid_scores, valid_labels));
      for (size_t m = 0; m < metrics.size(); ++m) {
        const double value = round.validation[metrics[m]];
        const bool better = HigherIsBetter(metrics[m])
                                ? value > best_value[m] + config.early_stopping_min_delta
                                : value < best_value[m] - config.early_stopping_min_delta;
        if (better) {
          best_value[m] = value;
          best_iteration[m] = iteration;
        } else if (m < watched && config.early_stopping_round > 0 &&
                   iteration - best_iteration[m] >= config.early_stopping_round && !stop) {
          stop = true;
          kept_rounds = best_iteration[m] + 1;
          stopped_by = metrics[m];
        }
      }
      if (!metrics.empty())
        shown = "validation-" + metrics.back() + " " +
                FormatDouble(round.validation[metrics.back()], 5);
    }
    history.push_back(std::move(round));
    progress.Update(iteration + 1, shown);
    if (input.on_round && !input.on_round(history.back())) stop = true;
    if (stop) {
      ++iteration;
      break;
    }
  }
  progress.Finish();
  const int rounds_trained = std::min(iteration, config.num_iterations);
  const bool cut = kept_rounds > 0 && static_cast<size_t>(kept_rounds) < trees.size();
  if (cut) trees.resize(static_cast<size_t>(kept_rounds));

  LightgbmTextModel text;
  text.objective = objective.HeaderName();
  text.feature_names = train.FeatureNames();
  for (const std::string& name : text.feature_names) {
    if (name.find_first_of(" \t\n=") != std::string::npos) {
      return Status::InvalidArgument(
          "lgbm: feature name '" + name +
          "' has a space, tab or '=', which LightGBM's model format cannot hold");
    }
  }
  for (size_t f = 0; f < data.num_features(); ++f)
    text.feature_infos.push_back(data.mapper(f).FeatureInfo());
  text.trees = std::move(trees);
  text.parameters = config.echo;
  // The training data's category names, so the file scores the text it was trained on.
  bool named = false;
  for (const ColumnSchema& column : train.features) {
    if (column.type != ColumnType::kCategorical) continue;
    text.pandas_categorical.push_back(column.categories);
    named |= !column.categories.empty();
  }
  if (!named) text.pandas_categorical.clear();
  auto model = std::make_unique<LgbmModel>(WriteLightgbmText(text));
  model->algorithm = "lgbm";
  if (!cut && collective == nullptr) model->training_scores = std::move(scores);
  nlohmann::json effective(params);
  effective["objective"] = config.objective_name;
  effective["num_iterations"] = config.num_iterations;
  effective["metric"] = config.metrics;
  effective["num_threads"] = config.num_threads;
  effective["seed"] = static_cast<long long>(config.seed);
  model->parameters = effective;
  model->history = std::move(history);
  model->rounds_trained = rounds_trained;
  model->best_round = static_cast<int>(text.trees.size()) - 1;
  model->early_stopping_metric =
      config.early_stopping_round > 0 && !metrics.empty()
          ? "validation-" + (stopped_by.empty() ? metrics.front() : stopped_by)
          : "";
  model->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return std::unique_ptr<TrainedModel>(std::move(model));
}

double LgbmTrainer::TrialCost(const nlohmann::json& params) const {
  // Leaf-wise trees of num_leaves are about log2(num_leaves) levels deep, at most max_depth.
  double levels = std::log2(std::max(2.0, NumberOr(params, "num_leaves", 31)));
  const double max_depth = NumberOr(params, "max_depth", -1);
  if (max_depth > 0) levels = std::min(levels, max_depth);
  const TuningNames names = Tuning();
  return BoostingTrialCost(NumberOr(params, names.rounds, 100),
                           NumberOr(params, names.early_stopping, 0),
                           NumberOr(params, names.learning_rate, 0.1), levels);
}

std::unique_ptr<TrainCache> LgbmTrainer::MakeCache() const {
  return std::make_unique<LgbmTrainCache>();
}

Result<std::unique_ptr<TrainedModel>> LgbmTrainer::Load(std::string_view serialized) const {
  FOPS_ASSIGN_OR_RETURN(Ensemble checked, LoadLightgbmText(serialized, "model.txt"));
  (void)checked;
  auto model = std::make_unique<LgbmModel>(std::string(serialized));
  model->algorithm = "lgbm";
  return std::unique_ptr<TrainedModel>(std::move(model));
}

}  // namespace fraudops
