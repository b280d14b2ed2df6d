#include "train/lgbm_bins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/numbers.h"
#include "core/strings.h"

namespace fraudops {

namespace {

/// Categorical codes are ints: values at or past this are no category (casting them to int is
/// undefined).
constexpr double kCategoryLimit = 2147483648.0;

/// The smallest double above `x`: a bound just above a midpoint, as LightGBM writes it.
double UpperBoundOf(double x) { return std::nextafter(x, kInf); }

/// b is a (at most one ulp) larger copy of a.
bool SameOrdered(double a, double b) { return b <= std::nextafter(a, kInf); }

/// Cuts negative values, zero and positive values apart: negative bins get a share of the
/// bins proportional to their rows, zero a bin of its own ([-kZeroThreshold, kZeroThreshold]).
std::vector<double> BoundsWithZeroBin(std::span<const double> distinct, std::span<const int> counts,
                                      int max_bin, int64_t total, int min_data_in_bin) {
  int64_t negative_rows = 0, zero_rows = 0, positive_rows = 0;
  for (size_t i = 0; i < distinct.size(); ++i) {
    if (distinct[i] <= -kZeroThreshold)
      negative_rows += counts[i];
    else if (distinct[i] > kZeroThreshold)
      positive_rows += counts[i];
    else
      zero_rows += counts[i];
  }
  size_t negatives = distinct.size();
  for (size_t i = 0; i < distinct.size(); ++i) {
    if (distinct[i] > -kZeroThreshold) {
      negatives = i;
      break;
    }
  }
  std::vector<double> bounds;
  if (negatives > 0 && max_bin > 1) {
    int negative_bins = static_cast<int>(static_cast<double>(negative_rows) /
                                         static_cast<double>(total - zero_rows) * (max_bin - 1));
    negative_bins = std::max(1, negative_bins);
    bounds = GreedyBinBounds(distinct.subspan(0, negatives), counts.subspan(0, negatives),
                             negative_bins, negative_rows, min_data_in_bin);
    if (!bounds.empty()) bounds.back() = -kZeroThreshold;
  }
  size_t positive_start = distinct.size();
  for (size_t i = negatives; i < distinct.size(); ++i) {
    if (distinct[i] > kZeroThreshold) {
      positive_start = i;
      break;
    }
  }
  int positive_bins = max_bin - 1 - static_cast<int>(bounds.size());
  if (positive_start < distinct.size() && positive_bins > 0) {
    std::vector<double> positive =
        GreedyBinBounds(distinct.subspan(positive_start), counts.subspan(positive_start),
                        positive_bins, positive_rows, min_data_in_bin);
    bounds.push_back(kZeroThreshold);
    bounds.insert(bounds.end(), positive.begin(), positive.end());
  } else {
    bounds.push_back(kInf);
  }
  return bounds;
}

}  // namespace

std::vector<double> GreedyBinBounds(std::span<const double> distinct, std::span<const int> counts,
                                    int max_bin, int64_t total, int min_data_in_bin) {
  const int n = static_cast<int>(distinct.size());
  std::vector<double> bounds;
  if (n == 0) return {kInf};
  if (n <= max_bin) {
    // Few distinct values: a cut after every run of at least min_data_in_bin rows.
    int in_bin = 0;
    for (int i = 0; i + 1 < n; ++i) {
      in_bin += counts[i];
      if (in_bin >= min_data_in_bin) {
        double bound = UpperBoundOf((distinct[i] + distinct[i + 1]) / 2.0);
        if (bounds.empty() || !SameOrdered(bounds.back(), bound)) {
          bounds.push_back(bound);
          in_bin = 0;
        }
      }
    }
    bounds.push_back(kInf);
    return bounds;
  }
  if (min_data_in_bin > 0)
    max_bin = std::max(1, std::min(max_bin, static_cast<int>(total / min_data_in_bin)));
  // Values with at least a mean bin's rows get a bin of their own; the rest share the others.
  double mean_bin_size = static_cast<double>(total) / max_bin;
  int rest_bins = max_bin;
  int64_t rest_rows = total;
  std::vector<char> big(static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i) {
    if (counts[i] >= mean_bin_size) {
      big[static_cast<size_t>(i)] = 1;
      --rest_bins;
      rest_rows -= counts[i];
    }
  }
  mean_bin_size = static_cast<double>(rest_rows) / rest_bins;
  std::vector<double> upper(static_cast<size_t>(max_bin), kInf),
      lower(static_cast<size_t>(max_bin), kInf);
  int bins = 0;
  lower[0] = distinct[0];
  int64_t in_bin = 0;
  for (int i = 0; i + 1 < n; ++i) {
    if (!big[static_cast<size_t>(i)]) rest_rows -= counts[i];
    in_bin += counts[i];
    bool close =
        big[static_cast<size_t>(i)] || static_cast<double>(in_bin) >= mean_bin_size ||
        (big[static_cast<size_t>(i) + 1] &&
         static_cast<double>(in_bin) >= std::max(1.0, mean_bin_size * static_cast<double>(0.5f)));
    if (!close) continue;
    upper[static_cast<size_t>(bins)] = distinct[i];
    ++bins;
    lower[static_cast<size_t>(bins)] = distinct[i + 1];
    if (bins >= max_bin - 1) break;
    in_bin = 0;
    if (!big[static_cast<size_t>(i)]) {
      --rest_bins;
      mean_bin_size = static_cast<double>(rest_rows) / rest_bins;
    }
  }
  ++bins;
  for (int i = 0; i + 1 < bins; ++i) {
    double bound =
        UpperBoundOf((upper[static_cast<size_t>(i)] + lower[static_cast<size_t>(i) + 1]) / 2.0);
    if (bounds.empty() || !SameOrdered(bounds.back(), bound)) bounds.push_back(bound);
  }
  bounds.push_back(kInf);
  return bounds;
}

BinMapper BinMapper::Numeric(std::span<const float> sample, const BinOptions& options) {
  BinMapper mapper;
  std::vector<float> nonzero;
  nonzero.reserve(sample.size());
  int64_t nan_count = 0;
  for (float v : sample) {
    if (std::isnan(v))
      ++nan_count;
    else if (std::fabs(v) > kZeroThreshold)
      nonzero.push_back(v);
  }
  // Sorted as floats (half the bytes of doubles), then widened: the same order.
  std::sort(nonzero.begin(), nonzero.end());
  std::vector<double> values(nonzero.begin(), nonzero.end());
  const int64_t total = static_cast<int64_t>(sample.size());
  if (!options.use_missing)
    mapper.missing_type_ = MissingType::kNone;
  else if (options.zero_as_missing)
    mapper.missing_type_ = MissingType::kZero;
  else
    mapper.missing_type_ = nan_count > 0 ? MissingType::kNan : MissingType::kNone;
  // NaN counts as zero unless it has a bin of its own.
  const int64_t na_rows = mapper.missing_type_ == MissingType::kNan ? nan_count : 0;
  const int zero_rows = static_cast<int>(total - static_cast<int64_t>(values.size()) - na_rows);

  std::vector<double> distinct;
  std::vector<int> counts;
  auto push_zero = [&] {
    distinct.push_back(0.0);
    counts.push_back(zero_rows);
  };
  if (values.empty() || (values.front() > 0 && zero_rows > 0)) push_zero();
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0 && SameOrdered(values[i - 1], values[i])) {
      distinct.back() = values[i];
      ++counts.back();
      continue;
    }
    if (i > 0 && values[i - 1] < 0 && values[i] > 0 && zero_rows > 0) push_zero();
    distinct.push_back(values[i]);
    counts.push_back(1);
  }
  if (!values.empty() && values.back() < 0 && zero_rows > 0) push_zero();
  mapper.min_value_ = distinct.front();
  mapper.max_value_ = distinct.back();

  if (mapper.missing_type_ == MissingType::kNan) {
    mapper.upper_bounds_ = BoundsWithZeroBin(distinct, counts, options.max_bin - 1, total - na_rows,
                                             options.min_data_in_bin);
    mapper.upper_bounds_.push_back(kNaN);
  } else {
    mapper.upper_bounds_ =
        BoundsWithZeroBin(distinct, counts, options.max_bin, total, options.min_data_in_bin);
    // Zero alone in its bin with one bin beside it: nothing is missing but zero itself.
    if (mapper.missing_type_ == MissingType::kZero && mapper.upper_bounds_.size() == 2) {
      mapper.missing_type_ = MissingType::kNone;
    }
  }
  mapper.num_bins_ = static_cast<int>(mapper.upper_bounds_.size());
  mapper.default_bin_ = mapper.ValueToBin(0.0);
  std::vector<int64_t> rows_per_bin(static_cast<size_t>(mapper.num_bins_), 0);
  for (size_t i = 0; i < distinct.size(); ++i)
    rows_per_bin[mapper.ValueToBin(distinct[i])] += counts[i];
  if (mapper.missing_type_ == MissingType::kNan) rows_per_bin.back() += na_rows;
  mapper.Filter(std::move(rows_per_bin), options);
  return mapper;
}

BinMapper BinMapper::Categorical(std::span<const float> sample, const BinOptions& options) {
  BinMapper mapper;
  mapper.categorical_ = true;
  std::unordered_map<int, int> count_of;
  int64_t na_rows = 0;
  for (float v : sample) {
    // Negative codes are missing; codes past int's range (an undefined cast) are no category
    // seen, which bin 0 also holds.
    if (!(v >= 0 && v < kCategoryLimit)) {
      ++na_rows;
      continue;
    }
    ++count_of[static_cast<int>(v)];
  }
  // Categories by descending count, ties by value (deterministic).
  std::vector<std::pair<int, int>> by_count(count_of.begin(), count_of.end());  // (category, count)
  std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  const int64_t rest = static_cast<int64_t>(sample.size()) - na_rows;
  mapper.bin_to_category_.push_back(-1);  // bin 0: NaN, negative and left-out categories
  mapper.category_to_bin_[-1] = 0;
  mapper.num_bins_ = 1;
  mapper.missing_type_ = MissingType::kNan;
  if (rest > 0) {
    const int64_t cut = std::llround(static_cast<double>(rest) * static_cast<double>(0.99f));
    int distinct = static_cast<int>(by_count.size()) + (na_rows > 0 ? 1 : 0);
    int max_bin = std::min(distinct, options.max_bin);
    int64_t used = 0;
    size_t next = 0;
    std::vector<int64_t> rows_per_bin = {0};
    while (next < by_count.size() && (used < cut || mapper.num_bins_ < max_bin)) {
      if (by_count[next].second < options.min_data_in_bin && next > 1) break;
      mapper.bin_to_category_.push_back(by_count[next].first);
      mapper.category_to_bin_[by_count[next].first] = static_cast<uint32_t>(mapper.num_bins_);
      used += by_count[next].second;
      rows_per_bin.push_back(by_count[next].second);
      ++mapper.num_bins_;
      ++next;
    }
    rows_per_bin[0] = static_cast<int64_t>(sample.size()) - used;
    // Every category has a bin and nothing is missing: LightGBM calls that missing type None.
    if (next == by_count.size() && na_rows == 0) mapper.missing_type_ = MissingType::kNone;
    mapper.Filter(std::move(rows_per_bin), options);
  }
  mapper.default_bin_ = 0;
  return mapper;
}

void BinMapper::Filter(std::vector<int64_t> rows_per_bin, const BinOptions& options) {
  rows_per_bin_ = std::move(rows_per_bin);
  ApplyFilter(options);
}

void BinMapper::Refilter(const BinOptions& options) {
  if (rows_per_bin_.empty()) return;
  filtered_ = false;
  ApplyFilter(options);
}

void BinMapper::ApplyFilter(const BinOptions& options) {
  const std::vector<int64_t>& rows_per_bin = rows_per_bin_;
  if (!options.pre_filter || rows_per_bin.size() <= 1) return;
  int64_t total = 0;
  for (int64_t rows : rows_per_bin) total += rows;
  const int64_t least = options.min_split_data;
  auto splittable = [&](int64_t left) { return left >= least && total - left >= least; };
  if (!categorical_) {
    int64_t left = 0;
    for (size_t b = 0; b + 1 < rows_per_bin.size(); ++b) {
      left += rows_per_bin[b];
      if (splittable(left)) return;
    }
    filtered_ = true;
  } else if (rows_per_bin.size() <= 2) {
    // LightGBM filters a categorical feature only when it has a single category.
    filtered_ = !splittable(rows_per_bin[0]);
  }
}

uint32_t BinMapper::ValueToBin(double value) const {
  if (categorical_) {
    if (!(value >= 0 && value < kCategoryLimit)) return 0;  // NaN, negative, past int's range
    auto it = category_to_bin_.find(static_cast<int>(value));
    return it == category_to_bin_.end() ? 0 : it->second;
  }
  if (std::isnan(value)) {
    if (missing_type_ == MissingType::kNan) return static_cast<uint32_t>(num_bins_ - 1);
    value = 0.0;
  }
  // The first bin whose upper bound is >= value among the non-NaN bins (the last of which is
  // +infinity): a branchless binary search.
  size_t length = static_cast<size_t>(num_bins_ - (missing_type_ == MissingType::kNan ? 1 : 0));
  const double* bounds = upper_bounds_.data();
  size_t low = 0;
  while (length > 1) {
    size_t half = length / 2;
    low = bounds[low + half - 1] < value ? low + half : low;
    length -= half;
  }
  return static_cast<uint32_t>(low);
}

namespace {

template <typename T>
void Put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
bool Take(std::string_view& in, T* value) {
  if (in.size() < sizeof *value) return false;
  std::memcpy(value, in.data(), sizeof *value);
  in.remove_prefix(sizeof *value);
  return true;
}

}  // namespace

std::string BinMapper::Serialize() const {
  std::string out;
  Put(out, static_cast<int32_t>(num_bins_));
  Put(out, static_cast<uint8_t>(categorical_));
  Put(out, static_cast<uint8_t>(filtered_));
  Put(out, static_cast<uint8_t>(missing_type_));
  Put(out, default_bin_);
  Put(out, min_value_);
  Put(out, max_value_);
  Put(out, static_cast<uint64_t>(upper_bounds_.size()));
  for (double bound : upper_bounds_) Put(out, bound);
  Put(out, static_cast<uint64_t>(bin_to_category_.size()));
  for (int category : bin_to_category_) Put(out, static_cast<int32_t>(category));
  return out;
}

Result<BinMapper> BinMapper::Parse(std::string_view bytes) {
  BinMapper m;
  int32_t bins = 0;
  uint8_t categorical = 0, filtered = 0, missing = 0;
  uint64_t bounds = 0, categories = 0;
  const Status bad = Status::DataError("lgbm: a worker sent bins that do not parse");
  if (!Take(bytes, &bins) || !Take(bytes, &categorical) || !Take(bytes, &filtered) ||
      !Take(bytes, &missing) || !Take(bytes, &m.default_bin_) || !Take(bytes, &m.min_value_) ||
      !Take(bytes, &m.max_value_) || !Take(bytes, &bounds) || bins < 1 || categorical > 1 ||
      filtered > 1 || missing > 2 || m.default_bin_ >= static_cast<uint32_t>(bins) ||
      bounds > bytes.size() / sizeof(double)) {
    return bad;
  }
  m.num_bins_ = bins;
  m.categorical_ = categorical != 0;
  m.filtered_ = filtered != 0;
  m.missing_type_ = static_cast<MissingType>(missing);
  m.upper_bounds_.resize(static_cast<size_t>(bounds));
  for (double& bound : m.upper_bounds_) Take(bytes, &bound);
  if (!Take(bytes, &categories) || categories != bytes.size() / sizeof(int32_t) ||
      bytes.size() % sizeof(int32_t) != 0) {
    return bad;
  }
  // A numeric mapper has a bound per bin, a categorical one a category per bin.
  if ((m.categorical_ ? categories : bounds) != static_cast<uint64_t>(bins) ||
      (m.categorical_ ? bounds : categories) != 0) {
    return bad;
  }
  for (uint32_t bin = 0; bin < categories; ++bin) {
    int32_t category = 0;
    Take(bytes, &category);
    m.bin_to_category_.push_back(category);
    m.category_to_bin_[category] = bin;
  }
  return m;
}

std::string BinMapper::FeatureInfo() const {
  if (trivial()) return "none";
  if (categorical_) {
    std::vector<std::string> categories;
    for (int category : bin_to_category_) categories.push_back(std::to_string(category));
    return Join(categories, ":");
  }
  char text[64];
  std::snprintf(text, sizeof text, "[%.17g:%.17g]", min_value_, max_value_);
  return text;
}

}  // namespace fraudops
