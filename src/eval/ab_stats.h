#pragma once
/// The statistics an A/B comparison of production variants reports (docs/serving.md): the
/// Wilson score interval of a rate, the two-proportion z-test of a difference between two
/// rates, DeLong's variance of a ROC AUC (and the z-test of two independent AUCs), and the
/// minimum sample size per variant that detects a given difference of rates. Two-sided
/// tests throughout; `confidence` and `alpha` are the caller's (0.95 and 0.05 by default).

#include <cstdint>
#include <span>

namespace fraudops {

struct Interval {
  double low = 0, high = 0;
};

/// The standard normal distribution's CDF and its inverse (|error| < 1e-9 on (1e-12, 1 - 1e-12)).
double NormalCdf(double z);
double NormalQuantile(double p);

/// Wilson's score interval for `successes` of `trials`; [0, 1] when there are no trials.
Interval WilsonInterval(uint64_t successes, uint64_t trials, double confidence = 0.95);

struct ZTest {
  double difference = 0;  ///< first rate (or AUC) minus the second
  double z = 0;
  double p_value = 1;  ///< two-sided; 1 when the test has no data
};

/// The pooled two-proportion z-test of x1/n1 against x2/n2.
ZTest TwoProportionZTest(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2);

struct AucEstimate {
  double auc = 0.5;
  double variance = 0;  ///< DeLong's
  uint64_t positives = 0, negatives = 0;
  Interval interval;  ///< auc ± z · sqrt(variance), clipped to [0, 1]
};

/// The ROC AUC of `scores` against 0/1 `labels` (ties count one half) with DeLong's
/// variance (from the structural components of the Mann-Whitney statistic). Without both
/// classes, auc 0.5 and an interval of [0, 1].
AucEstimate DeLongAuc(std::span<const double> scores, std::span<const int> labels,
                      double confidence = 0.95);

/// The z-test of two AUCs measured on independent samples (two variants' traffic).
ZTest AucDifferenceTest(const AucEstimate& first, const AucEstimate& second);

/// Requests per variant for a two-sided test at `alpha` with `power` to detect a change of
/// a rate from `base_rate` to base_rate + `effect` (the normal approximation); 0 when the
/// effect is 0 or leaves [0, 1].
uint64_t MinimumSampleSize(double base_rate, double effect, double alpha = 0.05,
                           double power = 0.8);

}  // namespace fraudops
