#include "eval/ab_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace fraudops {

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double NormalQuantile(double p) {
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  // Bisection on the CDF (erfc is accurate in both tails): 100 halvings of [-40, 40] reach
  // well below double precision in z; the callers ask a handful of times per report.
  double low = -40, high = 40;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (low + high);
    (NormalCdf(mid) < p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

Interval WilsonInterval(uint64_t successes, uint64_t trials, double confidence) {
  if (trials == 0) return {0, 1};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double z = NormalQuantile(0.5 + confidence / 2);
  const double z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

ZTest TwoProportionZTest(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2) {
  ZTest test;
  if (n1 == 0 || n2 == 0) return test;
  const double p1 = static_cast<double>(x1) / static_cast<double>(n1);
  const double p2 = static_cast<double>(x2) / static_cast<double>(n2);
  test.difference = p1 - p2;
  const double pooled = static_cast<double>(x1 + x2) / static_cast<double>(n1 + n2);
  const double se = std::sqrt(pooled * (1 - pooled) *
                              (1.0 / static_cast<double>(n1) + 1.0 / static_cast<double>(n2)));
  if (se == 0) return test;  // both rates 0 or both 1: no evidence of a difference
  test.z = test.difference / se;
  test.p_value = 2 * NormalCdf(-std::abs(test.z));
  return test;
}

AucEstimate DeLongAuc(std::span<const double> scores, std::span<const int> labels,
                      double confidence) {
  AucEstimate out;
  out.interval = {0, 1};
  std::vector<double> positive, negative;
  for (size_t i = 0; i < scores.size(); ++i) (labels[i] ? positive : negative).push_back(scores[i]);
  out.positives = positive.size();
  out.negatives = negative.size();
  if (positive.empty() || negative.empty()) return out;
  std::sort(positive.begin(), positive.end());
  std::sort(negative.begin(), negative.end());
  const double m = static_cast<double>(positive.size()), n = static_cast<double>(negative.size());
  // V10[i]: the share of negatives a positive outranks (ties one half); V01[j]: the share of
  // positives that outrank a negative. Both from the sorted lists by binary search.
  auto below = [](const std::vector<double>& sorted, double x) {
    return static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
  };
  auto not_above = [](const std::vector<double>& sorted, double x) {
    return static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
  };
  std::vector<double> v10(positive.size()), v01(negative.size());
  for (size_t i = 0; i < positive.size(); ++i) {
    const double less = below(negative, positive[i]),
                 ties = not_above(negative, positive[i]) - less;
    v10[i] = (less + 0.5 * ties) / n;
  }
  for (size_t j = 0; j < negative.size(); ++j) {
    const double greater = m - not_above(positive, negative[j]),
                 ties = not_above(positive, negative[j]) - below(positive, negative[j]);
    v01[j] = (greater + 0.5 * ties) / m;
  }
  out.auc = std::accumulate(v10.begin(), v10.end(), 0.0) / m;
  auto sample_variance = [](const std::vector<double>& v, double mean) {
    if (v.size() < 2) return 0.0;
    double sum = 0;
    for (double x : v) sum += (x - mean) * (x - mean);
    return sum / static_cast<double>(v.size() - 1);
  };
  out.variance = sample_variance(v10, out.auc) / m + sample_variance(v01, out.auc) / n;
  const double z = NormalQuantile(0.5 + confidence / 2);
  const double half = z * std::sqrt(out.variance);
  out.interval = {std::max(0.0, out.auc - half), std::min(1.0, out.auc + half)};
  return out;
}

ZTest AucDifferenceTest(const AucEstimate& first, const AucEstimate& second) {
  ZTest test;
  test.difference = first.auc - second.auc;
  const double se = std::sqrt(first.variance + second.variance);
  if (se == 0 || first.positives == 0 || second.positives == 0 || first.negatives == 0 ||
      second.negatives == 0) {
    return test;
  }
  test.z = test.difference / se;
  test.p_value = 2 * NormalCdf(-std::abs(test.z));
  return test;
}

uint64_t MinimumSampleSize(double base_rate, double effect, double alpha, double power) {
  const double p1 = base_rate, p2 = base_rate + effect;
  if (effect == 0 || p1 < 0 || p1 > 1 || p2 < 0 || p2 > 1) return 0;
  const double za = NormalQuantile(1 - alpha / 2), zb = NormalQuantile(power);
  const double mean = (p1 + p2) / 2;
  const double root =
      za * std::sqrt(2 * mean * (1 - mean)) + zb * std::sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return static_cast<uint64_t>(std::ceil(root * root / (effect * effect)));
}

}  // namespace fraudops
