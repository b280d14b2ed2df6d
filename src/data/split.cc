#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/strings.h"

namespace fraudops {

namespace {

/// Sizes of the three parts of `n` items, rounding so they sum to n.
void PartSizes(size_t n, const SplitRatios& ratios, size_t* train, size_t* validation) {
  *train = static_cast<size_t>(std::llround(static_cast<double>(n) * ratios.train));
  *validation = static_cast<size_t>(std::llround(static_cast<double>(n) * ratios.validation));
  *train = std::min(*train, n);
  *validation = std::min(*validation, n - *train);
}

}  // namespace

Result<SplitIndices> StratifiedSplit(const Dataset& dataset, const SplitRatios& ratios,
                                     uint64_t seed) {
  SplitIndices split;
  std::mt19937_64 random(seed);
  for (float cls : {0.0f, 1.0f}) {
    std::vector<uint32_t> rows;
    for (size_t r = 0; r < dataset.rows(); ++r) {
      if (dataset.label[r] == cls) rows.push_back(static_cast<uint32_t>(r));
    }
    // Fisher-Yates with our own draws: std::shuffle's algorithm is not portable.
    for (size_t i = rows.size(); i > 1; --i) {
      size_t j = static_cast<size_t>(random() % i);
      std::swap(rows[i - 1], rows[j]);
    }
    size_t train, validation;
    PartSizes(rows.size(), ratios, &train, &validation);
    split.train.insert(split.train.end(), rows.begin(), rows.begin() + static_cast<long>(train));
    split.validation.insert(split.validation.end(), rows.begin() + static_cast<long>(train),
                            rows.begin() + static_cast<long>(train + validation));
    split.test.insert(split.test.end(), rows.begin() + static_cast<long>(train + validation),
                      rows.end());
  }
  for (auto* part : {&split.train, &split.validation, &split.test})
    std::sort(part->begin(), part->end());
  FOPS_RETURN_IF_ERROR(CheckSplitHasBothClasses(dataset, split));
  return split;
}

Result<SplitIndices> TimeSplit(const Dataset& dataset, const SplitRatios& ratios,
                               const std::string& time_column) {
  int column = dataset.FeatureIndex(time_column);
  if (column < 0) {
    std::vector<std::string> names = dataset.FeatureNames();
    return Status::DataError("preprocess.time_column = '" + time_column +
                             "' is not a feature column" + DidYouMean(time_column, names) +
                             "; a time split needs it");
  }
  const std::vector<float>& times = dataset.columns[static_cast<size_t>(column)];
  for (size_t r = 0; r < times.size(); ++r) {
    if (std::isnan(times[r])) {
      return Status::DataError("row " + std::to_string(r + 1) +
                               " has no value in the time column '" + time_column +
                               "'; a time split needs a time on every row");
    }
  }
  std::vector<uint32_t> order(dataset.rows());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return times[a] < times[b]; });
  size_t train, validation;
  PartSizes(order.size(), ratios, &train, &validation);
  SplitIndices split;
  split.train.assign(order.begin(), order.begin() + static_cast<long>(train));
  split.validation.assign(order.begin() + static_cast<long>(train),
                          order.begin() + static_cast<long>(train + validation));
  split.test.assign(order.begin() + static_cast<long>(train + validation), order.end());
  FOPS_RETURN_IF_ERROR(CheckSplitHasBothClasses(dataset, split));
  return split;
}

Status CheckSplitHasBothClasses(const Dataset& dataset, const SplitIndices& split) {
  const std::pair<const char*, const std::vector<uint32_t>*> parts[] = {
      {"train", &split.train}, {"validation", &split.validation}, {"test", &split.test}};
  size_t total_positives = dataset.CountPositives();
  for (const auto& [name, rows] : parts) {
    size_t positives = 0;
    for (uint32_t r : *rows) positives += dataset.label[r] > 0.5f;
    if (positives == 0 || positives == rows->size()) {
      const char* missing = positives == 0 ? "positive (fraud)" : "negative (legitimate)";
      return Status::DataError(
          std::string("the ") + name + " split has " + std::to_string(rows->size()) +
          " rows and no " + missing + " row; the data has " + std::to_string(dataset.rows()) +
          " rows of which " + std::to_string(total_positives) +
          " positive. Every split needs both classes: add data, or change "
          "preprocess.train_ratio / validation_ratio / test_ratio or split_method");
    }
  }
  return Status::Ok();
}

}  // namespace fraudops
