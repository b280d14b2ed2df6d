#include "eval/bias.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include "core/numbers.h"
#include "core/sampling.h"

namespace fraudops {

namespace {

/// Clarify's division: 0/0 is 0, x/0 is ±infinity.
double Divide(double a, double b) {
  if (b == 0) return a == 0 ? 0.0 : (a < 0 ? -kInf : kInf);
  return a / b;
}

/// x − y, 0 when both are the same infinity (Clarify's convention for its rate differences).
double Difference(double x, double y) {
  if (std::isinf(x) && x == y) return 0.0;
  return x - y;
}

/// Rows counted by (group, facet, label, predicted label): cell ((g·2 + f)·2 + y)·2 + p.
struct Table {
  int groups = 1;
  std::vector<int64_t> cells;
  int64_t at(int g, int f, int y, int p) const {
    return cells[static_cast<size_t>(((g * 2 + f) * 2 + y) * 2 + p)];
  }
};

/// One facet's counts over all groups.
struct Side {
  double n = 0, pos = 0, pred = 0, tp = 0, fp = 0, tn = 0, fn = 0;
  double neg() const { return n - pos; }
  double pred_neg() const { return n - pred; }
};

Side SideOf(const Table& t, int f) {
  Side s;
  for (int g = 0; g < t.groups; ++g) {
    const double tn = static_cast<double>(t.at(g, f, 0, 0)),
                 fp = static_cast<double>(t.at(g, f, 0, 1)),
                 fn = static_cast<double>(t.at(g, f, 1, 0)),
                 tp = static_cast<double>(t.at(g, f, 1, 1));
    s.tn += tn;
    s.fp += fp;
    s.fn += fn;
    s.tp += tp;
  }
  s.n = s.tn + s.fp + s.fn + s.tp;
  s.pos = s.tp + s.fn;
  s.pred = s.tp + s.fp;
  return s;
}

/// The metrics' names, in the order Values returns them.
enum Metric {
  kCI,
  kDPL,
  kKL,
  kJS,
  kLP,
  kTVD,
  kKS,
  kCDDL,  // pre-training
  kDPPL,
  kDI,
  kDCA,
  kDCR,
  kRD,
  kSD,
  kDAR,
  kDRR,
  kAD,
  kCDDPL,
  kTE,
  kGE,
  kFT,  // post-training
  kMetricCount
};
constexpr int kFirstPost = kDPPL;

struct MetricName {
  const char* name;
  const char* description;
};
constexpr std::array<MetricName, kMetricCount> kNames = {{
    {"CI", "Class Imbalance (CI)"},
    {"DPL", "Difference in Positive Proportions in Labels (DPL)"},
    {"KL", "Kullback-Liebler Divergence (KL)"},
    {"JS", "Jensen-Shannon Divergence (JS)"},
    {"LP", "L-p Norm (LP)"},
    {"TVD", "Total Variation Distance (TVD)"},
    {"KS", "Kolmogorov-Smirnov Distance (KS)"},
    {"CDDL", "Conditional Demographic Disparity in Labels (CDDL)"},
    {"DPPL", "Difference in Positive Proportions in Predicted Labels (DPPL)"},
    {"DI", "Disparate Impact (DI)"},
    {"DCA", "Difference in Conditional Acceptance (DCA)"},
    {"DCR", "Difference in Conditional Rejection (DCR)"},
    {"RD", "Recall Difference (RD)"},
    {"SD", "Specificity Difference (SD)"},
    {"DAR", "Difference in Acceptance Rates (DAR)"},
    {"DRR", "Difference in Rejection Rates (DRR)"},
    {"AD", "Accuracy Difference (AD)"},
    {"CDDPL", "Conditional Demographic Disparity in Predicted Labels (CDDPL)"},
    {"TE", "Treatment Equality (TE)"},
    {"GE", "Generalized Entropy (GE)"},
    {"FT", "Flip Test (FT)"},
}};

/// Conditional demographic disparity over the groups, of the labels (`predicted` false) or
/// the predicted labels: Σ_i n_i·(D_i − A_i) / Σ_i n_i, where in group i A_i is d's share of
/// the positives and D_i d's share of the negatives (0 when the group has none).
double ConditionalDisparity(const Table& t, bool predicted) {
  double weighted = 0, rows = 0, positives = 0, negatives = 0;
  for (int g = 0; g < t.groups; ++g) {
    // [facet][outcome]
    double count[2][2] = {{0, 0}, {0, 0}};
    for (int f = 0; f < 2; ++f) {
      for (int y = 0; y < 2; ++y) {
        for (int p = 0; p < 2; ++p)
          count[f][predicted ? p : y] += static_cast<double>(t.at(g, f, y, p));
      }
    }
    const double n = count[0][0] + count[0][1] + count[1][0] + count[1][1];
    if (n == 0) continue;
    const double pos = count[0][1] + count[1][1], neg = count[0][0] + count[1][0];
    positives += pos;
    negatives += neg;
    const double accepted = pos > 0 ? count[1][1] / pos : 0.0;
    const double rejected = neg > 0 ? count[1][0] / neg : 0.0;
    weighted += n * (rejected - accepted);
    rows += n;
  }
  if (positives == 0 || negatives == 0) return kNaN;
  return Divide(weighted, rows);
}

/// Every metric but FT from the counts (NaN: undefined); `post`: with predicted labels.
std::array<double, kMetricCount> Values(const Table& t, bool post, bool grouped) {
  std::array<double, kMetricCount> v;
  v.fill(kNaN);
  const Side a = SideOf(t, 0), d = SideOf(t, 1);
  if (a.n == 0 || d.n == 0) {
    // Only GE looks at all rows regardless of the facet.
  } else {
    v[kCI] = (a.n - d.n) / (a.n + d.n);
    v[kDPL] = a.pos / a.n - d.pos / d.n;
    // The label's distribution in each group, over the values both hold.
    double kl = 0, js = 0, lp = 0, tvd = 0, ks = 0;
    int common = 0;
    for (int y = 0; y < 2; ++y) {
      const double pa = (y ? a.pos : a.neg()) / a.n, pd = (y ? d.pos : d.neg()) / d.n;
      if (pa == 0 || pd == 0) continue;
      ++common;
      const double m = (pa + pd) / 2;
      kl += pa * std::log(pa / pd);
      js += 0.5 * (pa * std::log(pa / m) + pd * std::log(pd / m));
      lp += (pa - pd) * (pa - pd);
      tvd += 0.5 * std::fabs(pa - pd);
      ks = std::max(ks, std::fabs(pa - pd));
    }
    if (common > 0) {
      v[kKL] = kl;
      v[kJS] = js;
      v[kLP] = std::sqrt(lp);
      v[kTVD] = tvd;
      v[kKS] = ks;
    }
    if (grouped) v[kCDDL] = ConditionalDisparity(t, false);
    if (post) {
      v[kDPPL] = a.pred / a.n - d.pred / d.n;
      v[kDI] = Divide(d.pred / d.n, a.pred / a.n);
      v[kDCA] = Difference(Divide(a.pos, a.pred), Divide(d.pos, d.pred));
      v[kDCR] = Difference(Divide(d.neg(), d.pred_neg()), Divide(a.neg(), a.pred_neg()));
      v[kRD] = Difference(Divide(a.tp, a.tp + a.fn), Divide(d.tp, d.tp + d.fn));
      v[kSD] = Difference(Divide(d.tn, d.tn + d.fp), Divide(a.tn, a.tn + a.fp));
      v[kDAR] = Difference(Divide(a.tp, a.pred), Divide(d.tp, d.pred));
      v[kDRR] = Difference(Divide(d.tn, d.pred_neg()), Divide(a.tn, a.pred_neg()));
      v[kAD] = Difference(Divide(a.tp + a.tn, a.n), Divide(d.tp + d.tn, d.n));
      v[kTE] = Difference(Divide(d.fn, d.fp), Divide(a.fn, a.fp));
      if (grouped) v[kCDDPL] = ConditionalDisparity(t, true);
    }
  }
  if (post) {
    // Generalized entropy (α = 2) of the benefits b = ŷ − y + 1 of all rows.
    const double n = a.n + d.n, zero = a.fn + d.fn, two = a.fp + d.fp, one = n - zero - two;
    const double mean = n > 0 ? (one + 2 * two) / n : 0.0;
    if (mean > 0) {
      v[kGE] =
          (zero * -1.0 + one * (1 / (mean * mean) - 1) + two * (4 / (mean * mean) - 1)) / (n * 2.0);
    }
  }
  return v;
}

/// Why metric `m` has no value on the full table.
std::string WhyUndefined(int m, const Table& t, bool grouped, bool has_features) {
  const Side a = SideOf(t, 0), d = SideOf(t, 1);
  if (m == kGE) return "every prediction is a false negative (the mean benefit is 0)";
  if (d.n == 0) return "the facet (d) has no rows";
  if (a.n == 0) return "the rest (a) has no rows";
  if (m == kCDDL || m == kCDDPL) {
    if (!grouped) return "needs a group variable";
    return m == kCDDL ? "the labels are all positive or all negative"
                      : "the predicted labels are all positive or all negative";
  }
  if (m == kFT && !has_features) return "needs the rows' features";
  if (m >= kKL && m <= kKS) return "the two groups hold no label value in common";
  return "undefined";
}

/// `draws` rows drawn with replacement from the rows `cells` counts: a multinomial draw,
/// one binomial per cell.
std::vector<int64_t> Resample(const std::vector<int64_t>& cells, int64_t draws,
                              std::mt19937_64& random) {
  std::vector<int64_t> out(cells.size(), 0);
  int64_t left = draws, mass = 0;
  for (int64_t c : cells) mass += c;
  for (size_t i = 0; i < cells.size() && left > 0 && mass > 0; ++i) {
    if (cells[i] == 0) continue;
    const double p = std::min(1.0, static_cast<double>(cells[i]) / static_cast<double>(mass));
    std::binomial_distribution<int64_t> binomial(left, p);
    out[i] = p >= 1.0 ? left : binomial(random);
    left -= out[i];
    mass -= cells[i];
  }
  return out;
}

/// The percentile interval of `values` (NaN left out); nullopt when none has a value.
std::optional<std::pair<double, double>> Percentiles(std::vector<double> values,
                                                     double confidence) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double x) { return std::isnan(x); }),
               values.end());
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  auto at = [&](double q) {
    const double position = q * static_cast<double>(values.size() - 1);
    const auto below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    const double fraction = position - static_cast<double>(below);
    if (fraction == 0 || values[below] == values[above]) return values[below];
    return values[below] + fraction * (values[above] - values[below]);
  };
  return std::make_pair(at((1 - confidence) / 2), at((1 + confidence) / 2));
}

/// Up to `most` of `rows`, evenly taken.
std::vector<size_t> Evenly(const std::vector<size_t>& rows, size_t most) {
  std::vector<size_t> out;
  for (size_t i : EvenlySpaced(rows.size(), most)) out.push_back(rows[i]);
  return out;
}

/// The flip test's flips of the sampled d rows: +1 where the model predicts positive and the
/// vote of the k nearest a rows' predictions negative, −1 the other way, 0 where they agree.
std::vector<int8_t> Flips(const BiasInput& input, const std::vector<size_t>& a,
                          const std::vector<size_t>& d) {
  const size_t features = input.features.size();
  // Missing values: the column's mean over the rows compared.
  std::vector<double> fill(features, 0.0);
  for (size_t f = 0; f < features; ++f) {
    double sum = 0;
    size_t seen = 0;
    for (const std::vector<size_t>* rows : {&a, &d}) {
      for (size_t r : *rows) {
        const float x = input.features[f][r];
        if (!std::isnan(x)) {
          sum += x;
          ++seen;
        }
      }
    }
    if (seen > 0) fill[f] = sum / static_cast<double>(seen);
  }
  auto matrix = [&](const std::vector<size_t>& rows) {
    std::vector<double> out(rows.size() * features);
    for (size_t i = 0; i < rows.size(); ++i) {
      for (size_t f = 0; f < features; ++f) {
        const float x = input.features[f][rows[i]];
        out[i * features + f] = std::isnan(x) ? fill[f] : x;
      }
    }
    return out;
  };
  const std::vector<double> xa = matrix(a), xd = matrix(d);
  const size_t k = a.size() > 9 ? 5 : 1;
  std::vector<std::pair<double, size_t>> distance(a.size());
  std::vector<int8_t> flips(d.size(), 0);
  for (size_t i = 0; i < d.size(); ++i) {
    for (size_t j = 0; j < a.size(); ++j) {
      double sum = 0;
      for (size_t f = 0; f < features; ++f) {
        const double diff = xd[i * features + f] - xa[j * features + f];
        sum += diff * diff;
      }
      distance[j] = {sum, j};  // ties: the earlier row
    }
    const size_t nearest = std::min(k, a.size());
    std::partial_sort(distance.begin(), distance.begin() + static_cast<long>(nearest),
                      distance.end());
    size_t positive_votes = 0;
    for (size_t n = 0; n < nearest; ++n) positive_votes += input.predicted[a[distance[n].second]];
    const int vote = 2 * positive_votes > nearest ? 1 : 0;
    const int model = input.predicted[d[i]];
    flips[i] = static_cast<int8_t>(model - vote);
  }
  return flips;
}

}  // namespace

std::vector<std::string> BiasMetricNames() {
  std::vector<std::string> out;
  for (const MetricName& metric : kNames) out.push_back(metric.name);
  return out;
}

BiasReport ComputeBias(const BiasInput& input, const BiasOptions& options) {
  BiasReport report;
  const size_t rows = input.facet.size();
  const bool post = !input.predicted.empty();
  const bool grouped = !input.group.empty();
  Table table;
  for (size_t r = 0; grouped && r < rows; ++r)
    table.groups = std::max(table.groups, input.group[r] + 1);
  table.cells.assign(static_cast<size_t>(table.groups) * 8, 0);
  std::vector<size_t> rows_of[2];
  for (size_t r = 0; r < rows; ++r) {
    if (input.facet[r] < 0) {
      ++report.left_out;
      continue;
    }
    const int f = input.facet[r] > 0, y = input.label[r] > 0, p = post && input.predicted[r] > 0;
    const int g = grouped ? std::max(0, input.group[r]) : 0;
    ++table.cells[static_cast<size_t>(((g * 2 + f) * 2 + y) * 2 + p)];
    rows_of[f].push_back(r);
  }
  for (int f = 0; f < 2; ++f) {
    const Side side = SideOf(table, f);
    BiasGroups& groups = f ? report.d : report.a;
    groups.rows = static_cast<int64_t>(side.n);
    groups.label_positives = static_cast<int64_t>(side.pos);
    groups.predicted_positives = static_cast<int64_t>(side.pred);
  }
  for (const auto& [name, groups] :
       {std::pair<const char*, const BiasGroups*>{"the facet (d)", &report.d},
        {"the rest (a)", &report.a}}) {
    if (groups->rows < static_cast<int64_t>(options.min_group_rows)) {
      report.warnings.push_back(std::string(name) + " has " + std::to_string(groups->rows) +
                                " rows, fewer than " + std::to_string(options.min_group_rows) +
                                ": too few to conclude");
    } else if (groups->label_positives < static_cast<int64_t>(options.min_group_positives)) {
      report.warnings.push_back(
          std::string(name) + " has " + std::to_string(groups->label_positives) +
          " positive labels, fewer than " + std::to_string(options.min_group_positives) +
          ": too few to conclude on the label-based metrics");
    }
  }

  std::array<double, kMetricCount> values = Values(table, post, grouped);
  // The flip test, on at most flip_test_rows rows of each group.
  const bool flip_test =
      post && !input.features.empty() && !rows_of[0].empty() && !rows_of[1].empty();
  std::vector<int64_t> flip_counts;  // +1, −1, 0
  if (flip_test) {
    const std::vector<size_t> a = Evenly(rows_of[0], options.flip_test_rows);
    const std::vector<size_t> d = Evenly(rows_of[1], options.flip_test_rows);
    report.flip_test_rows_a = static_cast<int64_t>(a.size());
    report.flip_test_rows_d = static_cast<int64_t>(d.size());
    if (a.size() < rows_of[0].size() || d.size() < rows_of[1].size()) {
      report.warnings.push_back("FT compares " + std::to_string(d.size()) + " rows of d with " +
                                std::to_string(a.size()) + " rows of a (evenly taken)");
    }
    flip_counts.assign(3, 0);
    for (int8_t flip : Flips(input, a, d)) ++flip_counts[flip > 0 ? 0 : flip < 0 ? 1 : 2];
    values[kFT] =
        Divide(static_cast<double>(flip_counts[0] - flip_counts[1]), static_cast<double>(d.size()));
  }

  // Bootstrap: the counts resampled, every metric recomputed.
  std::vector<std::vector<double>> resampled(kMetricCount);
  if (options.bootstrap > 0) {
    std::mt19937_64 random(options.seed);
    int64_t total = 0;
    for (int64_t c : table.cells) total += c;
    Table again = table;
    for (int b = 0; b < options.bootstrap; ++b) {
      again.cells = Resample(table.cells, total, random);
      const std::array<double, kMetricCount> v = Values(again, post, grouped);
      for (int m = 0; m < kMetricCount; ++m)
        resampled[static_cast<size_t>(m)].push_back(v[static_cast<size_t>(m)]);
      if (flip_test) {
        const std::vector<int64_t> flips = Resample(flip_counts, report.flip_test_rows_d, random);
        resampled[kFT].back() = Divide(static_cast<double>(flips[0] - flips[1]),
                                       static_cast<double>(report.flip_test_rows_d));
      }
    }
  }
  for (int m = 0; m < kMetricCount; ++m) {
    if (m >= kFirstPost && !post) break;
    BiasMetric metric;
    metric.name = kNames[static_cast<size_t>(m)].name;
    metric.description = kNames[static_cast<size_t>(m)].description;
    const double value = values[static_cast<size_t>(m)];
    if (std::isnan(value)) {
      metric.error = WhyUndefined(m, table, grouped, !input.features.empty());
    } else {
      metric.value = value;
      if (options.bootstrap > 0)
        metric.interval = Percentiles(resampled[static_cast<size_t>(m)], options.confidence);
    }
    (m < kFirstPost ? report.pre_training : report.post_training).push_back(std::move(metric));
  }
  return report;
}

namespace {

nlohmann::json Number(double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return x;
}

}  // namespace

nlohmann::json BiasMetricJson(const BiasMetric& metric) {
  nlohmann::json out = {{"name", metric.name}, {"description", metric.description}};
  if (metric.value) {
    out["value"] = Number(*metric.value);
  } else {
    out["value"] = nullptr;
    out["error"] = metric.error;
  }
  if (metric.interval)
    out["interval"] = {Number(metric.interval->first), Number(metric.interval->second)};
  return out;
}

}  // namespace fraudops
