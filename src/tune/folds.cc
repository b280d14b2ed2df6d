#include "tune/folds.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

namespace fraudops {

namespace {

Status CheckClasses(const std::vector<Fold>& folds, std::span<const float> labels,
                    const char* method) {
  for (size_t i = 0; i < folds.size(); ++i) {
    for (const auto* part : {&folds[i].train, &folds[i].validation}) {
      size_t positives = 0;
      for (uint32_t row : *part) positives += labels[row] > 0.5f;
      if (positives == 0 || positives == part->size()) {
        return Status::InvalidArgument(
            std::string(method) + " fold " + std::to_string(i + 1) + "'s " +
            (part == &folds[i].train ? "training" : "validation") + " rows (" +
            std::to_string(part->size()) + ") hold only one class; use fewer folds (tune.folds)");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Fold>> StratifiedFolds(std::span<const float> labels, int k, uint64_t seed) {
  if (k < 2) return Status::InvalidArgument("k-fold cross-validation needs k >= 2 (tune.folds)");
  std::vector<uint32_t> positives, negatives;
  for (uint32_t row = 0; row < labels.size(); ++row)
    (labels[row] > 0.5f ? positives : negatives).push_back(row);
  if (positives.size() < static_cast<size_t>(k) || negatives.size() < static_cast<size_t>(k)) {
    return Status::InvalidArgument(std::to_string(k) + "-fold cross-validation needs at least " +
                                   std::to_string(k) + " rows of each class; the data has " +
                                   std::to_string(positives.size()) + " positive and " +
                                   std::to_string(negatives.size()) + " negative rows");
  }
  std::mt19937_64 rng(seed);
  std::vector<int> fold_of(labels.size());
  for (std::vector<uint32_t>* rows : {&positives, &negatives}) {
    std::shuffle(rows->begin(), rows->end(), rng);
    for (size_t i = 0; i < rows->size(); ++i)
      fold_of[(*rows)[i]] = static_cast<int>(i % static_cast<size_t>(k));
  }
  std::vector<Fold> folds(static_cast<size_t>(k));
  for (uint32_t row = 0; row < labels.size(); ++row) {
    for (int f = 0; f < k; ++f) {
      (fold_of[row] == f ? folds[static_cast<size_t>(f)].validation
                         : folds[static_cast<size_t>(f)].train)
          .push_back(row);
    }
  }
  return folds;
}

Result<std::vector<Fold>> TimeFolds(std::span<const double> times, std::span<const float> labels,
                                    int k) {
  if (k < 2) return Status::InvalidArgument("k-fold cross-validation needs k >= 2 (tune.folds)");
  for (size_t row = 0; row < times.size(); ++row) {
    if (std::isnan(times[row])) {
      return Status::InvalidArgument("time folds: row " + std::to_string(row + 1) + " has no time");
    }
  }
  std::vector<uint32_t> order(times.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return times[a] < times[b]; });
  // k + 1 blocks of about equal size, each cut moved past rows of the same time.
  const size_t n = order.size();
  std::vector<size_t> cuts = {0};
  for (int b = 1; b <= k; ++b) {
    size_t cut = std::max(cuts.back(), n * static_cast<size_t>(b) / static_cast<size_t>(k + 1));
    while (cut > 0 && cut < n && times[order[cut]] == times[order[cut - 1]]) ++cut;
    cuts.push_back(cut);
  }
  cuts.push_back(n);
  std::vector<Fold> folds;
  for (int f = 0; f < k; ++f) {
    Fold fold;
    fold.train.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(cuts[f + 1]));
    fold.validation.assign(order.begin() + static_cast<std::ptrdiff_t>(cuts[f + 1]),
                           order.begin() + static_cast<std::ptrdiff_t>(cuts[f + 2]));
    if (fold.validation.empty()) {
      return Status::InvalidArgument("time folds: fold " + std::to_string(f + 1) +
                                     " has no validation rows (too many rows share a time); "
                                     "use fewer folds (tune.folds)");
    }
    std::sort(fold.train.begin(), fold.train.end());
    std::sort(fold.validation.begin(), fold.validation.end());
    folds.push_back(std::move(fold));
  }
  FOPS_RETURN_IF_ERROR(CheckClasses(folds, labels, "time"));
  return folds;
}

NegativeSample SampleNegatives(std::span<const float> labels, double negatives_per_positive,
                               size_t min_negatives, uint64_t seed) {
  NegativeSample sample;
  std::vector<uint32_t> positives, negatives;
  for (uint32_t row = 0; row < labels.size(); ++row)
    (labels[row] > 0.5f ? positives : negatives).push_back(row);
  sample.negatives = negatives.size();
  if (negatives_per_positive <= 0 || positives.empty()) return sample;
  const size_t keep =
      std::max(min_negatives, static_cast<size_t>(std::ceil(
                                  negatives_per_positive * static_cast<double>(positives.size()))));
  if (keep * 2 > negatives.size()) return sample;
  std::mt19937_64 rng(seed);
  std::shuffle(negatives.begin(), negatives.end(), rng);
  negatives.resize(keep);
  std::sort(negatives.begin(), negatives.end());
  sample.kept_negatives = keep;
  sample.rows.resize(positives.size() + keep);
  std::merge(positives.begin(), positives.end(), negatives.begin(), negatives.end(),
             sample.rows.begin());
  const float weight =
      static_cast<float>(static_cast<double>(sample.negatives) / static_cast<double>(keep));
  sample.weights.reserve(sample.rows.size());
  for (uint32_t row : sample.rows) sample.weights.push_back(labels[row] > 0.5f ? 1.0f : weight);
  return sample;
}

}  // namespace fraudops
