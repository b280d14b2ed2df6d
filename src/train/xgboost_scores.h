#pragma once
/// The validation rows' scores behind the xgboost trainer's per-round `auc` and `aucpr`, kept
/// here instead of asked of libxgboost each round. libxgboost's cached prediction of an
/// evaluation matrix fills a dense feature vector for every row and new tree — on the reference
/// numeric set (47,500 validation rows, depth-3 trees) 2.4 ms of a 13.6-ms round, about a tenth
/// of a tuning study. Here each round's new trees are sliced off the booster (a few kilobytes
/// of JSON, read by the native engine's loader), walked over the rows' columns in place, and
/// their leaves added to each row's float margin in tree order — what libxgboost's prediction
/// cache holds — before libxgboost's float sigmoid. The scores are libxgboost's bit for bit
/// (a test compares every round), so early stopping and pruning decide as before.

#include <span>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

class ThreadPool;

/// libxgboost's logistic transform in float: 1 / (1 + e^−margin), the exponent capped at 88.7
/// (e^88.7 is near float's largest value) so that a very negative margin scores tiny, not 0.
float LibxgboostSigmoid(float margin);

/// The predictions of all trees for `matrix`'s rows (margins, or the objective's transform of
/// them), from the booster's prediction cache: a matrix it trains on or evaluates is brought up
/// to date with the trees added since, not predicted anew. Valid until the next call.
Result<const float*> CachedPredictions(void* booster, void* matrix, bool margins);

class XgbValidationScores {
 public:
  /// `validation` (it must outlive this) is the data of the evaluation matrix of a booster
  /// that trains a binary:logistic gbtree model. With a categorical feature every call asks
  /// libxgboost.
  explicit XgbValidationScores(const Dataset& validation);

  /// The probabilities of the validation rows after round `round` (0-based, called for every
  /// round in order) of `booster`, whose evaluation matrix `matrix` holds them. Round 0's
  /// margins come from libxgboost (base_score and its defaults are its own); a later round's
  /// trees are walked here by up to `threads` threads of `pool`. A tree the walk cannot take
  /// (one the loader refuses) hands this and every later round back to libxgboost's cache,
  /// which catches up with all the trees it has not seen. Valid until the next call.
  Result<std::span<const float>> After(void* booster, void* matrix, int round, int threads,
                                       ThreadPool* pool);

  /// Whether the rounds so far after the first were walked here.
  bool walked() const { return walk_; }

 private:
  /// Adds round `round`'s trees to margins_; false when the walk cannot take them.
  Result<bool> AddRound(void* booster, int round, int threads, ThreadPool* pool);

  const Dataset& validation_;
  std::vector<const float*> columns_;  ///< validation_'s feature columns, as the walk reads them
  bool walk_;
  std::vector<float> margins_;
  std::vector<float> scores_;
};

}  // namespace fraudops
