#include "data/split.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
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

/// The rows of each class shuffled by `seed` and cut by `ratios`; each part ascending.
SplitIndices ShuffleByClass(const Dataset& dataset, const SplitRatios& ratios, uint64_t seed) {
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
  return split;
}

}  // namespace

Result<SplitIndices> StratifiedSplit(const Dataset& dataset, const SplitRatios& ratios,
                                     uint64_t seed) {
  SplitIndices split = ShuffleByClass(dataset, ratios, seed);
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

uint32_t FloatOrderKey(float value) {
  if (value == 0.0f) value = 0.0f;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

float FloatOfOrderKey(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? key & 0x7FFFFFFFu : ~key;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

Result<uint32_t> KthSmallestKeyOverParts(std::span<const uint32_t> keys, int64_t k,
                                         const std::function<Status(std::span<int64_t>)>& sum) {
  // The smallest key with at least k keys at or below it.
  uint64_t low = 0, high = 0xFFFFFFFFull;
  while (low < high) {
    const uint64_t middle = low + (high - low) / 2;
    std::array<int64_t, 1> at_or_below = {0};
    for (uint32_t key : keys) at_or_below[0] += key <= middle;
    FOPS_RETURN_IF_ERROR(sum(at_or_below));
    if (at_or_below[0] >= k)
      high = middle;
    else
      low = middle + 1;
  }
  return static_cast<uint32_t>(low);
}

namespace {

/// Both classes in every part of the whole that has rows by `ratios`: the counts summed
/// over the parts.
Status CheckPartsHaveBothClasses(const Dataset& part, const SplitIndices& split,
                                 const SplitRatios& ratios, const PartExchange& exchange) {
  const std::pair<const char*, const std::vector<uint32_t>*> sets[] = {
      {"training", &split.train}, {"validation", &split.validation}, {"test", &split.test}};
  std::vector<int64_t> counts;  // per set: positives, rows
  for (const auto& [name, rows] : sets) {
    int64_t positives = 0;
    for (uint32_t r : *rows) positives += part.label[r] > 0.5f;
    counts.push_back(positives);
    counts.push_back(static_cast<int64_t>(rows->size()));
  }
  FOPS_RETURN_IF_ERROR(exchange.sum(counts));
  for (size_t set = 0; set < 3; ++set) {
    if (set == 2 && ratios.test <= 0) continue;
    const int64_t positives = counts[2 * set], rows = counts[2 * set + 1];
    if (positives == 0 || positives == rows) {
      return Status::DataError(
          std::string("the ") + sets[set].first + " rows of all parts (" + std::to_string(rows) +
          ") have no " + (positives == 0 ? "positive (fraud)" : "negative (legitimate)") +
          " row; every split needs both classes: add data, or change the split's shares "
          "(preprocess.train_ratio / validation_ratio / test_ratio, or --valid-ratio) or "
          "preprocess.split_method");
    }
  }
  return Status::Ok();
}

/// Marks the first `k` rows of all parts in (key, part, row) order: the k-th smallest key over
/// all parts by bisection, the keys below it, then ties at it in part order, then row order.
Result<std::vector<bool>> FirstRowsOverParts(std::span<const uint32_t> keys, int64_t k,
                                             const PartExchange& exchange) {
  std::vector<bool> first(keys.size(), false);
  if (k <= 0) return first;
  FOPS_ASSIGN_OR_RETURN(const uint32_t cut, KthSmallestKeyOverParts(keys, k, exchange.sum));
  std::vector<int64_t> below = {0}, ties(static_cast<size_t>(exchange.parts), 0);
  for (uint32_t key : keys) {
    below[0] += key < cut;
    ties[static_cast<size_t>(exchange.part)] += key == cut;
  }
  FOPS_RETURN_IF_ERROR(exchange.sum(below));
  FOPS_RETURN_IF_ERROR(exchange.sum(ties));
  int64_t tied_first = k - below[0];  // over all parts; ties of earlier parts go first
  for (int p = 0; p < exchange.part; ++p) tied_first -= ties[static_cast<size_t>(p)];
  for (size_t r = 0; r < keys.size(); ++r)
    first[r] = keys[r] < cut || (keys[r] == cut && tied_first-- > 0);
  return first;
}

}  // namespace

Result<SplitIndices> SplitPart(const Dataset& part, const std::string& method,
                               const SplitRatios& ratios, const std::string& time_column,
                               uint64_t seed, const PartExchange& exchange) {
  SplitIndices split;
  if (method == "stratified") {
    // A seed of its own for each part: the parts' shuffles are independent. Without a test
    // share, a row that rounding leaves to the (empty) test share validates.
    split = ShuffleByClass(
        part, ratios, seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(exchange.part + 1)));
    if (ratios.test <= 0) {
      split.validation.insert(split.validation.end(), split.test.begin(), split.test.end());
      std::sort(split.validation.begin(), split.validation.end());
      split.test.clear();
    }
  } else if (method == "time") {
    const int column = part.FeatureIndex(time_column);
    if (column < 0) {
      std::vector<std::string> names = part.FeatureNames();
      return Status::DataError("preprocess.time_column = '" + time_column +
                               "' is not a feature column" + DidYouMean(time_column, names) +
                               "; a time split needs it");
    }
    const std::vector<float>& times = part.columns[static_cast<size_t>(column)];
    std::vector<uint32_t> keys(times.size());
    size_t missing = 0;  // the first row without a time, 1-based; 0: none
    for (size_t r = 0; r < times.size(); ++r) {
      if (std::isnan(times[r]) && missing == 0) missing = r + 1;
      keys[r] = FloatOrderKey(times[r]);
    }
    // The rows, and whether any part misses a time: every part stops together then.
    std::vector<int64_t> total = {static_cast<int64_t>(part.rows()), missing > 0};
    FOPS_RETURN_IF_ERROR(exchange.sum(total));
    if (total[1] > 0) {
      return Status::DataError((missing > 0 ? "row " + std::to_string(missing) + " of part " +
                                                  std::to_string(exchange.part + 1) + " of " +
                                                  std::to_string(exchange.parts)
                                            : std::string("a row of another part")) +
                               " has no value in the time column '" + time_column +
                               "'; a time split needs a time on every row");
    }
    size_t train_rows, validation_rows;
    PartSizes(static_cast<size_t>(total[0]), ratios, &train_rows, &validation_rows);
    // Training: the earliest rows; validation: the next ones (all the rest without a test
    // share); test: the latest.
    const bool has_test = ratios.test > 0;
    FOPS_ASSIGN_OR_RETURN(const std::vector<bool> to_train,
                          FirstRowsOverParts(keys, static_cast<int64_t>(train_rows), exchange));
    std::vector<bool> to_validate;
    if (has_test) {
      FOPS_ASSIGN_OR_RETURN(
          to_validate,
          FirstRowsOverParts(keys, static_cast<int64_t>(train_rows + validation_rows), exchange));
    }
    for (size_t r = 0; r < keys.size(); ++r) {
      const auto row = static_cast<uint32_t>(r);
      if (to_train[r])
        split.train.push_back(row);
      else if (!has_test || to_validate[r])
        split.validation.push_back(row);
      else
        split.test.push_back(row);
    }
  } else {
    return Status::InvalidArgument("preprocess.split_method = '" + method +
                                   "': accepted: stratified, time");
  }
  FOPS_RETURN_IF_ERROR(CheckPartsHaveBothClasses(part, split, ratios, exchange));
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
