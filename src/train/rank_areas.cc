#include "train/rank_areas.h"

#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace fraudops {

namespace {

constexpr int kDigitBits = 11;
constexpr uint32_t kDigits = 1u << kDigitBits;

/// A float's bits as an unsigned key whose order is the descending order of the values
/// (-0 taken as +0, so that the two tie as they compare equal).
uint32_t DescendingKey(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if (bits == 0x80000000u) bits = 0;
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

/// Turns a digit's counts into where its rows start (an exclusive prefix sum).
void StartsFromCounts(uint32_t* counts) {
  uint32_t total = 0;
  for (uint32_t d = 0; d < kDigits; ++d) {
    const uint32_t here = counts[d];
    counts[d] = total;
    total += here;
  }
}

/// A double's bits as an unsigned key whose order is the descending order of the values.
uint64_t DescendingKey(double value) {
  uint64_t bits = std::bit_cast<uint64_t>(value);
  if (bits == 0x8000000000000000ull) bits = 0;
  const uint64_t ascending = (bits >> 63) ? ~bits : (bits | 0x8000000000000000ull);
  return ~ascending;
}

}  // namespace

std::vector<uint32_t> DescendingOrder(std::span<const double> scores) {
  const size_t n = scores.size();
  std::vector<uint64_t> keys(n), key_scratch(n);
  std::vector<uint32_t> order(n), order_scratch(n);
  // Every digit's counts in one read: 64 bits as 11 + 11 + 11 + 11 + 11 + 9.
  constexpr int kPasses = (64 + kDigitBits - 1) / kDigitBits;
  std::vector<uint32_t> counts(static_cast<size_t>(kPasses) * kDigits, 0);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = DescendingKey(scores[i]);
    order[i] = static_cast<uint32_t>(i);
    for (int p = 0; p < kPasses; ++p)
      ++counts[static_cast<size_t>(p) * kDigits + ((keys[i] >> (p * kDigitBits)) & (kDigits - 1))];
  }
  // Least significant digit first, each pass stable; skipped when every row has the same digit.
  for (int p = 0; p < kPasses && n > 0; ++p) {
    const int shift = p * kDigitBits;
    uint32_t* count = counts.data() + static_cast<size_t>(p) * kDigits;
    if (count[(keys[0] >> shift) & (kDigits - 1)] == n) continue;
    StartsFromCounts(count);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t to = count[(keys[i] >> shift) & (kDigits - 1)]++;
      key_scratch[to] = keys[i];
      order_scratch[to] = order[i];
    }
    keys.swap(key_scratch);
    order.swap(order_scratch);
  }
  return order;
}

std::span<const uint64_t> DescendingRadixSort::Sort(std::span<const float> scores) {
  const size_t n = scores.size();
  keys_.resize(n);
  scratch_.resize(n);
  for (size_t i = 0; i < n; ++i)
    keys_[i] = (static_cast<uint64_t>(DescendingKey(scores[i])) << 32) | static_cast<uint32_t>(i);
  // Least significant digit first over the key's 32 bits (11 + 11 + 10); a stable pass per
  // digit, skipped when every row has the same digit (the high digits of scores in [0, 1]).
  for (int shift = 32; shift < 64; shift += kDigitBits) {
    std::array<uint32_t, kDigits> counts{};
    for (uint64_t key : keys_) ++counts[(key >> shift) & (kDigits - 1)];
    if (counts[(keys_.empty() ? 0 : keys_[0] >> shift) & (kDigits - 1)] == n) continue;
    StartsFromCounts(counts.data());
    for (uint64_t key : keys_) scratch_[counts[(key >> shift) & (kDigits - 1)]++] = key;
    keys_.swap(scratch_);
  }
  return keys_;
}

RankAreas LibxgboostRankAreas(std::span<const float> scores, std::span<const float> labels,
                              std::span<const float> weights, DescendingRadixSort& sorter) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  const size_t n = scores.size();
  if (n == 0 || labels.size() != n || (!weights.empty() && weights.size() != n)) {
    return {kNan, kNan};
  }
  auto weight = [&](size_t row) { return weights.empty() ? 1.0f : weights[row]; };
  // libxgboost's arithmetic, step by step (float products, double sums), so that the areas are
  // the very numbers it reports.
  double total_positive = 0, total_negative = 0;
  for (size_t i = 0; i < n; ++i) {
    total_positive += weight(i) * labels[i];
    total_negative += weight(i) * (1.0f - labels[i]);
  }
  const std::span<const uint64_t> order = sorter.Sort(scores);
  auto row_of = [](uint64_t key) { return static_cast<uint32_t>(key); };
  // The area between two points of the curve, added whenever the score changes.
  auto trapezoid = [](double fp_prev, double fp, double tp_prev, double tp) {
    return std::abs(fp_prev - fp) * (tp_prev + tp) * 0.5;
  };
  auto pr_segment = [total_positive](double fp_prev, double fp, double tp_prev, double tp) {
    const double recall_prev = tp_prev / total_positive, recall = tp / total_positive;
    double a = 1, b = 0;
    if (tp != tp_prev) {
      const double h = (fp - fp_prev) / (tp - tp_prev);
      a = h + 1;
      b = (fp_prev - h * tp_prev) / total_positive;
    }
    if (b != 0.0) {
      return (recall - recall_prev -
              b / a * (std::log(a * recall + b) - std::log(a * recall_prev + b))) /
             a;
    }
    return (recall - recall_prev) / a;
  };
  const uint32_t first = row_of(order[0]);
  double fp = (1.0 - labels[first]) * weight(first), tp = labels[first] * weight(first);
  double fp_prev = 0, tp_prev = 0, roc = 0, pr = 0;
  for (size_t i = 1; i < n; ++i) {
    if ((order[i] >> 32) != (order[i - 1] >> 32)) {
      roc += trapezoid(fp_prev, fp, tp_prev, tp);
      pr += pr_segment(fp_prev, fp, tp_prev, tp);
      fp_prev = fp;
      tp_prev = tp;
    }
    const uint32_t row = row_of(order[i]);
    fp += (1.0f - labels[row]) * weight(row);
    tp += labels[row] * weight(row);
  }
  roc += trapezoid(fp_prev, fp, tp_prev, tp);
  pr += pr_segment(fp_prev, fp, tp_prev, tp);
  RankAreas areas;
  areas.roc_auc = fp <= 0 || tp <= 0 ? kNan : roc / (fp * tp);
  areas.pr_auc = total_positive <= 0 || total_negative <= 0 ? kNan : fp <= 0 || tp <= 0 ? 0 : pr;
  return areas;
}

}  // namespace fraudops
