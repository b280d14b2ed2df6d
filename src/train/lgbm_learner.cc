#include "train/lgbm_learner.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <unordered_map>

#include "core/numbers.h"
#include "data/dataset_file.h"

namespace fraudops {

namespace {

/// LightGBM's kEpsilon (a float constant) keeps hessian sums off zero.
const double kEpsilon = static_cast<double>(1e-15f);

/// A leaf's gradient and hessian sums over one feature's bin.
struct HistBin {
  double g;
  double h;
};

/// Work below this many row-feature updates runs on the calling thread.
constexpr size_t kParallelWork = 1 << 12;

int Sign(double x) { return (x > 0) - (x < 0); }

/// LightGBM's row-count estimate from a hessian sum, rounded half up.
inline int64_t RoundCount(double x) { return static_cast<int64_t>(x + 0.5); }

double ThresholdL1(double s, double l1) { return Sign(s) * std::max(0.0, std::fabs(s) - l1); }

inline double LeafOutput(double g, double h, double l1, double l2, double max_delta_step) {
  double out = -ThresholdL1(g, l1) / (h + l2);
  if (max_delta_step > 0 && std::fabs(out) > max_delta_step) out = Sign(out) * max_delta_step;
  return out;
}

/// The loss reduction of a leaf with sums (g, h) at its optimal (or clamped) output.
inline double LeafGain(double g, double h, double l1, double l2, double max_delta_step) {
  double sg = ThresholdL1(g, l1);
  if (max_delta_step <= 0) return sg * sg / (h + l2);
  double out = LeafOutput(g, h, l1, l2, max_delta_step);
  return -(2.0 * sg * out + (h + l2) * out * out);
}

/// The best split of one leaf on one feature (or none: gain -inf).
struct SplitCandidate {
  double gain = -kInf;  ///< improvement over not splitting (LightGBM's split_gain)
  int feature = -1;
  uint32_t threshold = 0;
  bool default_left = true;
  std::vector<uint32_t> left_bins;  ///< categorical
  double left_g = 0, left_h = 0, right_g = 0, right_h = 0;
  double left_output = 0, right_output = 0;

  /// LightGBM's order: larger gain, then the smaller feature index.
  bool BetterThan(const SplitCandidate& other) const {
    if (gain != other.gain) return gain > other.gain;
    int a = feature < 0 ? std::numeric_limits<int>::max() : feature;
    int b = other.feature < 0 ? std::numeric_limits<int>::max() : other.feature;
    return a < b;
  }
};

/// What split finding needs to know about a leaf.
struct LeafSums {
  double g = 0, h = 0;
  int64_t count = 0;
};

class SplitFinder {
 public:
  explicit SplitFinder(const LgbmConfig& config) : c_(config) {}

  SplitCandidate Find(const HistBin* hist, const BinMapper& mapper, int feature,
                      const LeafSums& leaf) const {
    SplitCandidate best;
    const double h = leaf.h + 2 * kEpsilon;
    const double min_gain_shift =
        LeafGain(leaf.g, h, c_.lambda_l1, c_.lambda_l2, c_.max_delta_step) + c_.min_gain_to_split;
    if (mapper.categorical()) {
      FindCategorical(hist, mapper, leaf.g, h, leaf.count, min_gain_shift, &best);
    } else {
      const int bins = mapper.num_bins();
      const MissingType missing = mapper.missing_type();
      if (bins > 2 && missing != MissingType::kNone) {
        bool zero = missing == MissingType::kZero;
        ScanNumeric(hist, mapper, leaf.g, h, leaf.count, min_gain_shift, true, zero, !zero, &best);
        ScanNumeric(hist, mapper, leaf.g, h, leaf.count, min_gain_shift, false, zero, !zero, &best);
      } else {
        ScanNumeric(hist, mapper, leaf.g, h, leaf.count, min_gain_shift, true, false, false, &best);
        if (missing == MissingType::kNan) best.default_left = false;
      }
    }
    if (best.gain > -kInf) best.feature = feature;
    return best;
  }

 private:
  /// One pass over a numeric feature's bins. Reverse: the right side accumulates from the
  /// top bin down and whatever is skipped (missing) goes left; forward: the left side
  /// accumulates from bin 0 and the skipped rows go right.
  void ScanNumeric(const HistBin* hist, const BinMapper& mapper, double sum_g, double sum_h,
                   int64_t count, double min_gain_shift, bool reverse, bool skip_default,
                   bool na_as_missing, SplitCandidate* out) const {
    const int bins = mapper.num_bins();
    const int default_bin = static_cast<int>(mapper.default_bin());
    const double count_factor = static_cast<double>(count) / sum_h;
    double best_gain = -kInf, best_left_g = 0, best_left_h = 0;
    uint32_t best_threshold = 0;
    bool splittable = false;
    auto consider = [&](double left_g, double left_h, double right_g, double right_h,
                        uint32_t threshold) {
      double gain = LeafGain(left_g, left_h, c_.lambda_l1, c_.lambda_l2, c_.max_delta_step) +
                    LeafGain(right_g, right_h, c_.lambda_l1, c_.lambda_l2, c_.max_delta_step);
      if (!(gain > min_gain_shift)) return;
      splittable = true;
      if (gain > best_gain) {
        best_gain = gain;
        best_left_g = left_g;
        best_left_h = left_h;
        best_threshold = threshold;
      }
    };
    if (reverse) {
      double right_g = 0, right_h = kEpsilon;
      int64_t right_count = 0;
      for (int t = bins - 1 - (na_as_missing ? 1 : 0); t >= 1; --t) {
        if (skip_default && t == default_bin) continue;
        right_g += hist[t].g;
        right_h += hist[t].h;
        right_count += RoundCount(hist[t].h * count_factor);
        if (right_count < c_.min_data_in_leaf || right_h < c_.min_sum_hessian_in_leaf) continue;
        if (count - right_count < c_.min_data_in_leaf) break;
        double left_h = sum_h - right_h;
        if (left_h < c_.min_sum_hessian_in_leaf) break;
        consider(sum_g - right_g, left_h, right_g, right_h, static_cast<uint32_t>(t - 1));
      }
    } else {
      double left_g = 0, left_h = kEpsilon;
      int64_t left_count = 0;
      for (int t = 0; t <= bins - 2; ++t) {
        if (skip_default && t == default_bin) continue;
        left_g += hist[t].g;
        left_h += hist[t].h;
        left_count += RoundCount(hist[t].h * count_factor);
        if (left_count < c_.min_data_in_leaf || left_h < c_.min_sum_hessian_in_leaf) continue;
        if (count - left_count < c_.min_data_in_leaf) break;
        double right_h = sum_h - left_h;
        if (right_h < c_.min_sum_hessian_in_leaf) break;
        consider(left_g, left_h, sum_g - left_g, right_h, static_cast<uint32_t>(t));
      }
    }
    if (!splittable || !(best_gain - min_gain_shift > out->gain)) return;
    out->gain = best_gain - min_gain_shift;
    out->threshold = best_threshold;
    out->default_left = reverse;
    out->left_bins.clear();
    Fill(out, sum_g, sum_h, best_left_g, best_left_h, c_.lambda_l2);
  }

  /// Categorical features: one category against the rest when there are few bins, else
  /// categories sorted by their gradient ratio and a prefix from either end goes left. Bin 0
  /// (missing, negative, rare) always goes right.
  void FindCategorical(const HistBin* hist, const BinMapper& mapper, double sum_g, double sum_h,
                       int64_t count, double min_gain_shift, SplitCandidate* out) const {
    const int bins = mapper.num_bins();
    const double count_factor = static_cast<double>(count) / sum_h;
    auto rows_of = [&](int bin) { return RoundCount(hist[bin].h * count_factor); };
    double best_gain = -kInf, best_left_g = 0, best_left_h = 0;
    std::vector<uint32_t> best_bins;
    double l2 = c_.lambda_l2;
    if (bins <= c_.max_cat_to_onehot) {
      for (int t = 1; t < bins; ++t) {
        int64_t rows = rows_of(t);
        if (rows < c_.min_data_in_leaf || hist[t].h < c_.min_sum_hessian_in_leaf) continue;
        if (count - rows < c_.min_data_in_leaf) continue;
        double other_h = sum_h - hist[t].h - kEpsilon;
        if (other_h < c_.min_sum_hessian_in_leaf) continue;
        double left_h = hist[t].h + kEpsilon;
        double gain = LeafGain(sum_g - hist[t].g, other_h, c_.lambda_l1, l2, c_.max_delta_step) +
                      LeafGain(hist[t].g, left_h, c_.lambda_l1, l2, c_.max_delta_step);
        if (!(gain > min_gain_shift) || !(gain > best_gain)) continue;
        best_gain = gain;
        best_left_g = hist[t].g;
        best_left_h = left_h;
        best_bins = {static_cast<uint32_t>(t)};
      }
    } else {
      std::vector<int> sorted;
      for (int t = 1; t < bins; ++t) {
        if (static_cast<double>(rows_of(t)) >= c_.cat_smooth) sorted.push_back(t);
      }
      l2 += c_.cat_l2;
      auto ratio = [&](int t) { return hist[t].g / (hist[t].h + c_.cat_smooth); };
      std::stable_sort(sorted.begin(), sorted.end(),
                       [&](int a, int b) { return ratio(a) < ratio(b); });
      const int used = static_cast<int>(sorted.size());
      const int max_categories = std::min(c_.max_cat_threshold, (used + 1) / 2);
      int best_prefix = -1, best_direction = 1;
      for (int direction : {1, -1}) {
        double left_g = 0, left_h = kEpsilon;
        int64_t left_count = 0, group = 0;
        for (int i = 0; i < used && i < max_categories; ++i) {
          int t = sorted[static_cast<size_t>(direction == 1 ? i : used - 1 - i)];
          left_g += hist[t].g;
          left_h += hist[t].h;
          int64_t rows = rows_of(t);
          left_count += rows;
          group += rows;
          if (left_count < c_.min_data_in_leaf || left_h < c_.min_sum_hessian_in_leaf) continue;
          int64_t right_count = count - left_count;
          if (right_count < c_.min_data_in_leaf || right_count < c_.min_data_per_group) break;
          double right_h = sum_h - left_h;
          if (right_h < c_.min_sum_hessian_in_leaf) break;
          if (group < c_.min_data_per_group) continue;
          group = 0;
          double gain = LeafGain(left_g, left_h, c_.lambda_l1, l2, c_.max_delta_step) +
                        LeafGain(sum_g - left_g, right_h, c_.lambda_l1, l2, c_.max_delta_step);
          if (!(gain > min_gain_shift) || !(gain > best_gain)) continue;
          best_gain = gain;
          best_left_g = left_g;
          best_left_h = left_h;
          best_prefix = i;
          best_direction = direction;
        }
      }
      if (best_prefix >= 0) {
        for (int i = 0; i <= best_prefix; ++i) {
          best_bins.push_back(static_cast<uint32_t>(
              sorted[static_cast<size_t>(best_direction == 1 ? i : used - 1 - i)]));
        }
      }
    }
    if (best_bins.empty() || !(best_gain - min_gain_shift > out->gain)) return;
    std::sort(best_bins.begin(), best_bins.end());
    out->gain = best_gain - min_gain_shift;
    out->default_left = false;
    out->left_bins = std::move(best_bins);
    Fill(out, sum_g, sum_h, best_left_g, best_left_h, l2);
  }

  void Fill(SplitCandidate* out, double sum_g, double sum_h, double left_g, double left_h,
            double l2) const {
    out->left_output = LeafOutput(left_g, left_h, c_.lambda_l1, l2, c_.max_delta_step);
    out->right_output =
        LeafOutput(sum_g - left_g, sum_h - left_h, c_.lambda_l1, l2, c_.max_delta_step);
    out->left_g = left_g;
    out->left_h = left_h - kEpsilon;
    out->right_g = sum_g - left_g;
    out->right_h = sum_h - left_h - kEpsilon;
  }

  const LgbmConfig& c_;
};

/// Histogram kernels: a leaf's rows through their indices (gradients already gathered in row
/// order), or every row in order. (Two interleaved histograms to split the chains of additions
/// on one bin were measured: no faster on the reference data.)
template <typename BinT, bool kIndexed>
void Accumulate(const BinT* bins, const uint32_t* rows, const GradHess* gradients, size_t n,
                HistBin* hist) {
  for (size_t i = 0; i < n; ++i) {
    HistBin& bin = hist[bins[kIndexed ? rows[i] : i]];
    bin.g += gradients[i].g;
    bin.h += gradients[i].h;
  }
}

}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// ---------------------------------------------------------------------------------------------
// BinnedData

std::vector<uint64_t> BinSampleRows(uint64_t rows, uint64_t sample_size, uint64_t seed) {
  if (sample_size >= rows) return {};
  // A Fisher–Yates shuffle of [0, rows) stopped after sample_size swaps; positions never
  // touched hold their own index, so only the touched ones are stored.
  std::unordered_map<uint64_t, uint64_t> moved;
  moved.reserve(static_cast<size_t>(2 * sample_size));
  auto at = [&](uint64_t i) {
    auto found = moved.find(i);
    return found == moved.end() ? i : found->second;
  };
  std::mt19937_64 random(seed);
  std::vector<uint64_t> sample(static_cast<size_t>(sample_size));
  for (uint64_t i = 0; i < sample_size; ++i) {
    std::uniform_int_distribution<uint64_t> pick(i, rows - 1);
    const uint64_t j = pick(random);
    const uint64_t vi = at(i), vj = at(j);
    moved[j] = vi;
    sample[static_cast<size_t>(i)] = vj;
  }
  std::sort(sample.begin(), sample.end());
  return sample;
}

FeatureColumns::FeatureColumns(const DatasetFileView& file, size_t piece_rows)
    : file_(&file), piece_rows_(std::max<size_t>(1, piece_rows)) {}

size_t FeatureColumns::rows() const { return data_ != nullptr ? data_->rows() : file_->rows(); }

size_t FeatureColumns::num_features() const {
  return data_ != nullptr ? data_->num_features() : file_->schema().num_features();
}

Result<std::span<const float>> FeatureColumns::Read(size_t feature, size_t begin, size_t end,
                                                    std::vector<float>& scratch) const {
  if (data_ != nullptr)
    return std::span<const float>(data_->columns[feature]).subspan(begin, end - begin);
  scratch.resize(end - begin);
  FOPS_RETURN_IF_ERROR(file_->ReadFeature(feature, begin, scratch));
  return std::span<const float>(scratch);
}

namespace {

/// Feature `feature`'s values at `rows` (ascending local indices), or at every row when
/// `rows` is null: a view of the dataset's column where it is in memory, else read piece by
/// piece into `values`.
Result<std::span<const float>> ValuesAt(const FeatureColumns& data, size_t feature,
                                        const std::vector<uint32_t>* rows,
                                        std::vector<float>& values) {
  const size_t n = data.rows(), piece = data.piece_rows();
  if (rows == nullptr && piece >= n) return data.Read(feature, 0, n, values);
  std::vector<float> scratch;
  values.clear();
  size_t next = 0;  // the next wanted row's position in `rows`
  for (size_t begin = 0; begin < n; begin += piece) {
    const size_t end = std::min(n, begin + piece);
    if (rows != nullptr && (next == rows->size() || (*rows)[next] >= end)) continue;
    FOPS_ASSIGN_OR_RETURN(std::span<const float> part, data.Read(feature, begin, end, scratch));
    if (rows == nullptr) {
      values.insert(values.end(), part.begin(), part.end());
      continue;
    }
    for (; next < rows->size() && (*rows)[next] < end; ++next)
      values.push_back(part[(*rows)[next] - begin]);
  }
  return std::span<const float>(values);
}

/// The first error of `statuses`, or Ok.
Status FirstError(const std::vector<Status>& statuses) {
  for (const Status& status : statuses)
    if (!status.ok()) return status;
  return Status::Ok();
}

}  // namespace

struct BinnedData::Storage {
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (mapped != nullptr) ::munmap(mapped, mapped_bytes);
  }
  std::vector<uint8_t> memory;
  void* mapped = nullptr;
  size_t mapped_bytes = 0;
};

namespace {

BinOptions BinOptionsOf(const LgbmConfig& config) {
  return BinOptions{config.max_bin,         config.min_data_in_bin,    config.use_missing,
                    config.zero_as_missing, config.feature_pre_filter, config.min_data_in_leaf};
}

}  // namespace

void BinnedData::Refilter(const LgbmConfig& config) {
  const BinOptions options = BinOptionsOf(config);
  for (BinMapper& mapper : mappers_) mapper.Refilter(options);
}

Result<BinnedData> BinnedData::Build(const FeatureColumns& data, const LgbmConfig& config,
                                     ParallelTeam* team, Collective* collective,
                                     const std::string& file) {
  BinnedData out;
  out.rows_ = data.rows();
  const size_t features = data.num_features();
  out.mappers_.resize(features);
  // Where this worker's rows lie among all workers' rows.
  std::vector<int64_t> rows_of_rank = {static_cast<int64_t>(data.rows())};
  if (collective != nullptr) {
    FOPS_ASSIGN_OR_RETURN(rows_of_rank, collective->AllGather(std::span<const int64_t>(
                                            rows_of_rank.data(), rows_of_rank.size())));
  }
  const int rank = collective != nullptr ? collective->rank() : 0;
  uint64_t total = 0, first = 0;
  for (size_t r = 0; r < rows_of_rank.size(); ++r) {
    if (static_cast<int>(r) == rank) first = total;
    total += static_cast<uint64_t>(rows_of_rank[r]);
  }
  // The rows that decide the bins: all of them, or a seeded sample of all workers' rows.
  const std::vector<uint64_t> sample = BinSampleRows(
      total, static_cast<uint64_t>(config.bin_construct_sample_cnt), config.data_random_seed);
  auto sampled_in = [&](uint64_t begin, uint64_t end) {
    return std::make_pair(std::lower_bound(sample.begin(), sample.end(), begin),
                          std::lower_bound(sample.begin(), sample.end(), end));
  };
  std::vector<uint32_t> mine;  // this worker's sampled rows, local indices
  if (!sample.empty()) {
    auto [from, to] = sampled_in(first, first + data.rows());
    for (auto it = from; it != to; ++it) mine.push_back(static_cast<uint32_t>(*it - first));
  }
  const std::vector<uint32_t>* sampled = sample.empty() ? nullptr : &mine;
  // Every feature's sample values: local, or gathered from every worker in rank order.
  std::vector<std::vector<float>> gathered;
  std::vector<Status> read(features);
  if (collective != nullptr) {
    const size_t k = sample.empty() ? data.rows() : mine.size();
    std::string bytes(k * features * sizeof(float), '\0');
    team->For(features, [&](size_t f) {
      std::vector<float> values;
      Result<std::span<const float>> column = ValuesAt(data, f, sampled, values);
      if (!column.ok()) {
        read[f] = column.status();
        return;
      }
      std::copy(column->begin(), column->end(), reinterpret_cast<float*>(bytes.data()) + f * k);
    });
    FOPS_RETURN_IF_ERROR(FirstError(read));
    FOPS_ASSIGN_OR_RETURN(const std::string all, collective->AllGather(std::move(bytes)));
    gathered.resize(features);
    const float* part = reinterpret_cast<const float*>(all.data());
    uint64_t begin = 0;
    for (int64_t rows : rows_of_rank) {
      const uint64_t end = begin + static_cast<uint64_t>(rows);
      auto [from, to] = sampled_in(begin, end);
      const size_t part_rows =
          sample.empty() ? static_cast<size_t>(rows) : static_cast<size_t>(to - from);
      for (size_t f = 0; f < features; ++f)
        gathered[f].insert(gathered[f].end(), part + f * part_rows, part + (f + 1) * part_rows);
      part += features * part_rows;
      begin = end;
    }
  }
  const BinOptions options = BinOptionsOf(config);
  std::vector<uint8_t> categorical(features, 0);
  for (int f : config.categorical_features) categorical[static_cast<size_t>(f)] = 1;
  // With workers, each finds the bins of every world_size-th feature, and they swap them.
  const size_t stride = collective != nullptr ? static_cast<size_t>(collective->world_size()) : 1;
  std::vector<size_t> owned;
  for (size_t f = static_cast<size_t>(rank); f < features; f += stride) owned.push_back(f);
  team->For(owned.size(), [&](size_t i) {
    const size_t f = owned[i];
    std::vector<float> values;
    std::span<const float> column;
    if (collective != nullptr) {
      column = gathered[f];
    } else {
      Result<std::span<const float>> local = ValuesAt(data, f, sampled, values);
      if (!local.ok()) {
        read[f] = local.status();
        return;
      }
      column = *local;
    }
    out.mappers_[f] = categorical[f] ? BinMapper::Categorical(column, options)
                                     : BinMapper::Numeric(column, options);
  });
  FOPS_RETURN_IF_ERROR(FirstError(read));
  if (collective != nullptr) {
    gathered.clear();
    std::string bytes;
    for (size_t f : owned) {
      const std::string mapper = out.mappers_[f].Serialize();
      bytes += std::string(reinterpret_cast<const char*>(&f), sizeof f);
      const uint64_t size = mapper.size();
      bytes += std::string(reinterpret_cast<const char*>(&size), sizeof size) + mapper;
    }
    FOPS_ASSIGN_OR_RETURN(const std::string all, collective->AllGather(std::move(bytes)));
    std::string_view rest = all;
    while (!rest.empty()) {
      size_t f = 0;
      uint64_t size = 0;
      if (rest.size() < sizeof f + sizeof size)
        return Status::DataError("lgbm: a worker sent bins that do not parse");
      std::memcpy(&f, rest.data(), sizeof f);
      std::memcpy(&size, rest.data() + sizeof f, sizeof size);
      rest.remove_prefix(sizeof f + sizeof size);
      if (f >= features || size > rest.size())
        return Status::DataError("lgbm: a worker sent bins that do not parse");
      FOPS_ASSIGN_OR_RETURN(out.mappers_[f], BinMapper::Parse(rest.substr(0, size)));
      rest.remove_prefix(size);
    }
  }
  for (const BinMapper& mapper : out.mappers_) out.wide_ = out.wide_ || mapper.num_bins() > 256;
  FOPS_RETURN_IF_ERROR(out.BinRows(data, team, file));
  return out;
}

Result<BinnedData> BinnedData::BinLike(const BinnedData& reference, const FeatureColumns& data,
                                       ParallelTeam* team, const std::string& file) {
  BinnedData out;
  out.rows_ = data.rows();
  out.mappers_ = reference.mappers_;
  out.wide_ = reference.wide_;
  FOPS_RETURN_IF_ERROR(out.BinRows(data, team, file));
  return out;
}

Status BinnedData::BinRows(const FeatureColumns& data, ParallelTeam* team,
                           const std::string& file) {
  const size_t features = mappers_.size(), width = wide_ ? 2 : 1;
  const size_t column_bytes = rows_ * width, bytes = features * column_bytes;
  auto storage = std::make_shared<Storage>();
  // External memory: each piece's bins are written to the file and flushed (clean pages the
  // kernel may drop), then the whole file is mapped read-only.
  const bool to_file = !file.empty() && bytes > 0;
  int fd = -1;
  if (to_file) {
    fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoError("cannot create " + file + ": " + std::strerror(errno));
  } else {
    storage->memory.resize(bytes);
  }
  std::vector<Status> binned(features);
  team->For(features, [&](size_t f) {
    const BinMapper& mapper = mappers_[f];
    std::vector<float> scratch;
    std::vector<uint8_t> piece_bins;
    for (size_t begin = 0; begin < rows_; begin += data.piece_rows()) {
      const size_t end = std::min(rows_, begin + data.piece_rows());
      Result<std::span<const float>> values = data.Read(f, begin, end, scratch);
      if (!values.ok()) {
        binned[f] = values.status();
        return;
      }
      const size_t offset = f * column_bytes + begin * width, size = (end - begin) * width;
      if (to_file) piece_bins.resize(size);
      uint8_t* to = to_file ? piece_bins.data() : storage->memory.data() + offset;
      if (wide_) {
        auto* to16 = reinterpret_cast<uint16_t*>(to);
        for (size_t i = 0; i < values->size(); ++i)
          to16[i] = static_cast<uint16_t>(mapper.ValueToBin((*values)[i]));
      } else {
        for (size_t i = 0; i < values->size(); ++i)
          to[i] = static_cast<uint8_t>(mapper.ValueToBin((*values)[i]));
      }
      if (!to_file) continue;
      for (size_t done = 0; done < size;) {
        const ssize_t n = ::pwrite(fd, to + done, size - done, static_cast<off_t>(offset + done));
        if (n <= 0) {
          binned[f] = Status::IoError("cannot write " + file + ": " + std::strerror(errno));
          return;
        }
        done += static_cast<size_t>(n);
      }
      // Written back now, so a memory limit can drop these pages instead of failing.
      ::sync_file_range(
          fd, static_cast<off64_t>(offset), static_cast<off64_t>(size),
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    }
  });
  Status status = FirstError(binned);
  if (to_file) {
    if (status.ok()) {
      void* mapped = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
      if (mapped == MAP_FAILED) {
        status = Status::IoError("cannot map " + file + ": " + std::strerror(errno));
      } else {
        storage->mapped = mapped;
        storage->mapped_bytes = bytes;
      }
    }
    ::close(fd);
  }
  FOPS_RETURN_IF_ERROR(status);
  bins_ = to_file ? static_cast<const uint8_t*>(storage->mapped) : storage->memory.data();
  storage_ = std::move(storage);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// GrownTree

int GrownTree::LeafOf(const BinnedData& data, size_t row) const {
  if (num_leaves <= 1) return 0;
  int node = 0;
  while (node >= 0) {
    uint32_t bin = data.Bin(static_cast<size_t>(split_feature[static_cast<size_t>(node)]), row);
    node = go_left[static_cast<size_t>(node)][bin] ? left_child[static_cast<size_t>(node)]
                                                   : right_child[static_cast<size_t>(node)];
  }
  return ~node;
}

// ---------------------------------------------------------------------------------------------
// TreeLearner

struct TreeLearner::Impl {
  Impl(const BinnedData& data_in, const LgbmConfig& config_in, ParallelTeam* team_in,
       Collective* collective_in)
      : data(data_in),
        config(config_in),
        team(team_in),
        collective(collective_in),
        finder(config_in) {
    offsets.resize(data.num_features() + 1, 0);
    for (size_t f = 0; f < data.num_features(); ++f) {
      offsets[f + 1] = offsets[f] + static_cast<size_t>(data.mapper(f).num_bins());
    }
    buffers.resize(static_cast<size_t>(config.num_leaves));
    for (auto& buffer : buffers) buffer.resize(offsets.back());
    ordered.resize(data.rows());
    scratch.resize(data.rows());
  }

  HistBin* Hist(int leaf, size_t feature) {
    return hist_of_leaf[static_cast<size_t>(leaf)] + offsets[feature];
  }

  /// Runs `body(task)` for tasks [0, tasks): on the team when the work is large enough.
  void Run(size_t tasks, size_t work, const std::function<void(size_t)>& body) {
    if (team->size() <= 1 || work < kParallelWork || tasks <= 1) {
      for (size_t t = 0; t < tasks; ++t) body(t);
    } else {
      team->For(tasks, body);
    }
  }

  /// The features a split of a leaf may use (feature_fraction_bynode), as a mask.
  std::vector<uint8_t> NodeFeatures(uint64_t seed) const {
    std::vector<uint8_t> mask(data.num_features(), 0);
    for (size_t f : active) mask[f] = 1;
    if (config.feature_fraction_bynode >= 1.0 || active.empty()) return mask;
    size_t keep =
        std::max<size_t>(1, static_cast<size_t>(std::llround(static_cast<double>(active.size()) *
                                                             config.feature_fraction_bynode)));
    std::vector<size_t> order = active;
    uint64_t state = seed;
    for (size_t i = 0; i < keep && i + 1 < order.size(); ++i) {
      state = Mix(state);
      size_t j = i + static_cast<size_t>(state % (order.size() - i));
      std::swap(order[i], order[j]);
    }
    std::fill(mask.begin(), mask.end(), 0);
    for (size_t i = 0; i < keep; ++i) mask[order[i]] = 1;
    return mask;
  }

  /// Builds `smaller`'s histograms from its rows (and `larger`'s by subtraction from the
  /// parent's, which `larger` holds), then each leaf's best split. With a collective the
  /// smaller leaf's histograms are summed over all workers in between.
  Status BuildAndFind(int smaller, int larger, uint64_t node_seed) {
    const size_t begin = leaf_begin[static_cast<size_t>(smaller)];
    const size_t count = leaf_count[static_cast<size_t>(smaller)];
    const bool all_rows = use_all_rows && count == data.rows();
    const uint32_t* rows = indices.data() + begin;
    if (!all_rows) {
      Run((count + 65535) / 65536, count * 2, [&](size_t task) {
        size_t from = task * 65536, to = std::min(count, from + 65536);
        for (size_t i = from; i < to; ++i) ordered[i] = gradients[rows[i]];
      });
    }
    std::vector<uint8_t> smaller_mask =
        NodeFeatures(Mix(node_seed ^ static_cast<uint64_t>(smaller) * 2654435761u));
    std::vector<uint8_t> larger_mask;
    if (larger >= 0)
      larger_mask =
          NodeFeatures(Mix(node_seed ^ (static_cast<uint64_t>(larger) * 2654435761u + 17)));
    std::vector<SplitCandidate> smaller_best(active.size()), larger_best(active.size());
    const LeafSums smaller_sums = sums[static_cast<size_t>(smaller)];
    const LeafSums larger_sums = larger >= 0 ? sums[static_cast<size_t>(larger)] : LeafSums{};
    auto build = [&](size_t task) {
      const size_t f = active[task];
      HistBin* hist = Hist(smaller, f);
      const size_t bins = offsets[f + 1] - offsets[f];
      std::memset(static_cast<void*>(hist), 0, bins * sizeof(HistBin));
      if (data.wide()) {
        if (all_rows)
          Accumulate<uint16_t, false>(data.Column16(f), nullptr, gradients.data(), count, hist);
        else
          Accumulate<uint16_t, true>(data.Column16(f), rows, ordered.data(), count, hist);
      } else {
        if (all_rows)
          Accumulate<uint8_t, false>(data.Column8(f), nullptr, gradients.data(), count, hist);
        else
          Accumulate<uint8_t, true>(data.Column8(f), rows, ordered.data(), count, hist);
      }
    };
    auto find = [&](size_t task) {
      const size_t f = active[task];
      HistBin* hist = Hist(smaller, f);
      const size_t bins = offsets[f + 1] - offsets[f];
      if (smaller_mask[f])
        smaller_best[task] = finder.Find(hist, data.mapper(f), static_cast<int>(f), smaller_sums);
      if (larger >= 0) {
        HistBin* parent = Hist(larger, f);
        for (size_t b = 0; b < bins; ++b) {
          parent[b].g -= hist[b].g;
          parent[b].h -= hist[b].h;
        }
        if (larger_mask[f])
          larger_best[task] = finder.Find(parent, data.mapper(f), static_cast<int>(f), larger_sums);
      }
    };
    if (collective == nullptr) {
      Run(active.size(), count * active.size(), [&](size_t task) {
        build(task);
        find(task);
      });
    } else {
      Run(active.size(), count * active.size(), build);
      FOPS_RETURN_IF_ERROR(SumOverWorkers(smaller));
      Run(active.size(), offsets.back() * 4, find);
    }
    auto reduce = [](std::vector<SplitCandidate>& candidates) {
      SplitCandidate best;
      for (SplitCandidate& candidate : candidates) {
        if (candidate.BetterThan(best)) best = std::move(candidate);
      }
      return best;
    };
    best_split[static_cast<size_t>(smaller)] = reduce(smaller_best);
    if (larger >= 0) best_split[static_cast<size_t>(larger)] = reduce(larger_best);
    return Status::Ok();
  }

  /// Sums `leaf`'s histograms of the active features over all workers: packed into one
  /// buffer, one allreduce, unpacked.
  Status SumOverWorkers(int leaf) {
    reduce_buffer.clear();
    for (size_t f : active) {
      const double* from = &Hist(leaf, f)->g;
      reduce_buffer.insert(reduce_buffer.end(), from, from + 2 * (offsets[f + 1] - offsets[f]));
    }
    FOPS_RETURN_IF_ERROR(collective->Sum(reduce_buffer));
    const double* from = reduce_buffer.data();
    for (size_t f : active) {
      const size_t values = 2 * (offsets[f + 1] - offsets[f]);
      std::memcpy(&Hist(leaf, f)->g, from, values * sizeof(double));
      from += values;
    }
    return Status::Ok();
  }

  /// Moves `leaf`'s rows that go left to the front of its range (stable), the rest after.
  /// Large ranges go in fixed 16,384-row blocks on the team: each block counts its rows going
  /// left, then every block copies its rows to their final places.
  size_t Partition(int leaf, const std::vector<uint8_t>& go_left, size_t feature) {
    const size_t begin = leaf_begin[static_cast<size_t>(leaf)];
    const size_t count = leaf_count[static_cast<size_t>(leaf)];
    uint32_t* rows = indices.data() + begin;
    constexpr size_t kBlock = 16384;
    const size_t blocks = (count + kBlock - 1) / kBlock;
    block_left.assign(blocks + 1, 0);
    auto goes_left = [&](uint32_t row) {
      return go_left[data.wide() ? data.Column16(feature)[row] : data.Column8(feature)[row]] != 0;
    };
    Run(blocks, count, [&](size_t b) {
      size_t left = 0;
      for (size_t i = b * kBlock, end = std::min(count, i + kBlock); i < end; ++i)
        left += goes_left(rows[i]);
      block_left[b + 1] = left;
    });
    for (size_t b = 0; b < blocks; ++b) block_left[b + 1] += block_left[b];
    const size_t total_left = block_left[blocks];
    uint32_t* out = scratch.data();
    Run(blocks, count, [&](size_t b) {
      size_t left = block_left[b], right = total_left + b * kBlock - block_left[b];
      for (size_t i = b * kBlock, end = std::min(count, i + kBlock); i < end; ++i) {
        uint32_t row = rows[i];
        if (goes_left(row))
          out[left++] = row;
        else
          out[right++] = row;
      }
    });
    std::memcpy(rows, out, count * sizeof(uint32_t));
    return total_left;
  }

  /// Gradient and hessian sums over the bag, in fixed blocks summed in block order.
  LeafSums SumRows(std::span<const uint32_t> rows) {
    constexpr size_t kBlock = 16384;
    const size_t blocks = (rows.size() + kBlock - 1) / kBlock;
    std::vector<LeafSums> partial(blocks);
    Run(blocks, rows.size(), [&](size_t b) {
      double g = 0, h = 0;
      for (size_t i = b * kBlock, end = std::min(rows.size(), i + kBlock); i < end; ++i) {
        g += gradients[rows[i]].g;
        h += gradients[rows[i]].h;
      }
      partial[b] = LeafSums{g, h, 0};
    });
    LeafSums sums;
    for (const LeafSums& p : partial) {
      sums.g += p.g;
      sums.h += p.h;
    }
    sums.count = static_cast<int64_t>(rows.size());
    return sums;
  }

  const BinnedData& data;
  const LgbmConfig& config;
  ParallelTeam* team;
  Collective* collective;  ///< null: every row is here
  SplitFinder finder;
  std::vector<size_t> offsets;                ///< per feature, into a leaf's histogram
  std::vector<std::vector<HistBin>> buffers;  ///< one histogram per leaf slot
  std::vector<HistBin*> hist_of_leaf;
  std::vector<HistBin*> free_buffers;  ///< buffers no leaf holds
  std::vector<GradHess> ordered;       ///< the built leaf's gradients in row order
  std::vector<uint32_t> scratch;
  std::vector<size_t> block_left;
  std::vector<double> reduce_buffer;
  // Per tree.
  std::span<const GradHess> gradients;
  bool use_all_rows = true;
  std::vector<size_t> active;     ///< features this tree may split on
  std::vector<uint32_t> indices;  ///< the bag, grouped by leaf
  std::vector<size_t> leaf_begin, leaf_count;
  std::vector<LeafSums> sums;
  std::vector<SplitCandidate> best_split;
};

TreeLearner::TreeLearner(const BinnedData& data, const LgbmConfig& config, ParallelTeam* team,
                         Collective* collective)
    : impl_(std::make_unique<Impl>(data, config, team, collective)) {}

TreeLearner::~TreeLearner() = default;

std::span<const uint32_t> TreeLearner::LeafRows(int leaf) const {
  return std::span<const uint32_t>(
      impl_->indices.data() + impl_->leaf_begin[static_cast<size_t>(leaf)],
      impl_->leaf_count[static_cast<size_t>(leaf)]);
}

Result<GrownTree> TreeLearner::Grow(std::span<const GradHess> gradients,
                                    std::span<const uint32_t> bag,
                                    const std::vector<uint8_t>& tree_features, uint64_t node_seed) {
  Impl& s = *impl_;
  const LgbmConfig& c = s.config;
  const size_t max_leaves = static_cast<size_t>(c.num_leaves);
  s.gradients = gradients;
  s.use_all_rows = bag.empty();
  if (bag.empty()) {
    s.indices.resize(s.data.rows());
    std::iota(s.indices.begin(), s.indices.end(), 0u);
  } else {
    s.indices.assign(bag.begin(), bag.end());
  }
  s.active.clear();
  for (size_t f = 0; f < s.data.num_features(); ++f) {
    if (tree_features[f] && !s.data.mapper(f).trivial()) s.active.push_back(f);
  }
  // Leaf 0 holds the first buffer; each split that builds histograms takes one more for its
  // smaller child (the larger keeps the parent's), at most num_leaves - 1 in all.
  s.hist_of_leaf.assign(s.buffers.size(), nullptr);
  s.hist_of_leaf[0] = s.buffers[0].data();
  s.free_buffers.clear();
  for (size_t i = s.buffers.size(); i-- > 1;) s.free_buffers.push_back(s.buffers[i].data());
  s.leaf_begin.assign(max_leaves, 0);
  s.leaf_count.assign(max_leaves, 0);
  s.sums.assign(max_leaves, LeafSums{});
  s.best_split.assign(max_leaves, SplitCandidate{});
  s.leaf_count[0] = s.indices.size();
  LeafSums root = s.SumRows(s.indices);
  if (s.collective != nullptr) {
    // Counts up to 2^53 are exact in a double.
    std::array<double, 3> values = {root.g, root.h, static_cast<double>(root.count)};
    FOPS_RETURN_IF_ERROR(s.collective->Sum(values));
    root = LeafSums{values[0], values[1], static_cast<int64_t>(values[2])};
  }
  s.sums[0] = root;

  GrownTree tree;
  tree.leaf_value.assign(1, LeafOutput(root.g, root.h, c.lambda_l1, c.lambda_l2, c.max_delta_step));
  tree.leaf_weight.assign(1, root.h);
  tree.leaf_count.assign(1, root.count);
  tree.leaf_depth.assign(1, 0);
  std::vector<int> leaf_parent(1, -1);
  if (root.count == 0) return tree;

  uint64_t split_seed = node_seed;
  FOPS_RETURN_IF_ERROR(s.BuildAndFind(0, -1, split_seed));
  for (int leaves = 1; leaves < c.num_leaves; ++leaves) {
    int best_leaf = 0;
    for (int l = 1; l < leaves; ++l) {
      if (s.best_split[static_cast<size_t>(l)].gain >
          s.best_split[static_cast<size_t>(best_leaf)].gain)
        best_leaf = l;
    }
    SplitCandidate split = std::move(s.best_split[static_cast<size_t>(best_leaf)]);
    if (!(split.gain > 0)) break;
    const size_t feature = static_cast<size_t>(split.feature);
    const BinMapper& mapper = s.data.mapper(feature);

    // The split as a per-bin direction table.
    std::vector<uint8_t> go_left(static_cast<size_t>(mapper.num_bins()), 0);
    if (mapper.categorical()) {
      for (uint32_t bin : split.left_bins) go_left[bin] = 1;
    } else {
      for (uint32_t b = 0; b < go_left.size(); ++b) go_left[b] = b <= split.threshold;
      if (mapper.missing_type() == MissingType::kNan) go_left.back() = split.default_left;
      if (mapper.missing_type() == MissingType::kZero)
        go_left[mapper.default_bin()] = split.default_left;
    }

    // The node, in LightGBM's numbering: node `leaves - 1`; the left child keeps the leaf's
    // index, the right child is leaf `leaves`.
    const int node = leaves - 1, right_leaf = leaves;
    const size_t l = static_cast<size_t>(best_leaf);
    if (int parent = leaf_parent[l]; parent >= 0) {
      if (tree.left_child[static_cast<size_t>(parent)] == ~best_leaf)
        tree.left_child[static_cast<size_t>(parent)] = node;
      else
        tree.right_child[static_cast<size_t>(parent)] = node;
    }
    tree.split_feature.push_back(split.feature);
    tree.threshold_bin.push_back(split.threshold);
    tree.default_left.push_back(split.default_left ? 1 : 0);
    tree.left_bins.push_back(split.left_bins);
    tree.go_left.push_back(go_left);
    tree.split_gain.push_back(split.gain);
    tree.left_child.push_back(~best_leaf);
    tree.right_child.push_back(~right_leaf);
    tree.internal_value.push_back(tree.leaf_value[l]);
    tree.internal_weight.push_back(s.sums[l].h);
    tree.internal_count.push_back(s.sums[l].count);
    leaf_parent[l] = node;
    leaf_parent.push_back(node);

    // The rows: this worker's, then the counts over all workers.
    const size_t local_left = s.Partition(best_leaf, go_left, feature);
    const size_t local_right = s.leaf_count[l] - local_left;
    s.leaf_begin[static_cast<size_t>(right_leaf)] = s.leaf_begin[l] + local_left;
    s.leaf_count[static_cast<size_t>(right_leaf)] = local_right;
    s.leaf_count[l] = local_left;
    size_t left_rows = local_left, right_rows = local_right;
    if (s.collective != nullptr) {
      std::array<int64_t, 2> counts = {static_cast<int64_t>(local_left),
                                       static_cast<int64_t>(local_right)};
      FOPS_RETURN_IF_ERROR(s.collective->Sum(counts));
      left_rows = static_cast<size_t>(counts[0]);
      right_rows = static_cast<size_t>(counts[1]);
    }
    s.sums[l] = LeafSums{split.left_g, split.left_h, static_cast<int64_t>(left_rows)};
    s.sums[static_cast<size_t>(right_leaf)] =
        LeafSums{split.right_g, split.right_h, static_cast<int64_t>(right_rows)};

    const int depth = tree.leaf_depth[l] + 1;
    tree.leaf_value[l] = split.left_output;
    tree.leaf_weight[l] = split.left_h;
    tree.leaf_count[l] = static_cast<int64_t>(left_rows);
    tree.leaf_depth[l] = depth;
    tree.leaf_value.push_back(split.right_output);
    tree.leaf_weight.push_back(split.right_h);
    tree.leaf_count.push_back(static_cast<int64_t>(right_rows));
    tree.leaf_depth.push_back(depth);
    tree.num_leaves = leaves + 1;

    s.best_split[l] = SplitCandidate{};
    s.best_split[static_cast<size_t>(right_leaf)] = SplitCandidate{};
    if (leaves + 1 >= c.num_leaves) break;
    if (c.max_depth > 0 && depth >= c.max_depth) continue;
    const auto too_small = [&](size_t rows, double h) {
      return rows < 2 * static_cast<size_t>(c.min_data_in_leaf) ||
             h < 2 * c.min_sum_hessian_in_leaf;
    };
    if (too_small(left_rows, split.left_h) && too_small(right_rows, split.right_h)) continue;

    // Histograms: the smaller child from its rows into a free buffer, the larger one is the
    // parent's buffer minus it.
    const bool left_smaller = left_rows < right_rows;
    const int smaller = left_smaller ? best_leaf : right_leaf;
    const int larger = left_smaller ? right_leaf : best_leaf;
    HistBin* parent_buffer = s.hist_of_leaf[l];
    HistBin* free_buffer = s.free_buffers.back();
    s.free_buffers.pop_back();
    s.hist_of_leaf[static_cast<size_t>(smaller)] = free_buffer;
    s.hist_of_leaf[static_cast<size_t>(larger)] = parent_buffer;
    split_seed = Mix(split_seed);
    FOPS_RETURN_IF_ERROR(s.BuildAndFind(smaller, larger, split_seed));
  }
  return tree;
}

}  // namespace fraudops
