#include "data/synth.h"

#include <fast_float/fast_float.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "core/files.h"
#include "core/numbers.h"
#include "core/thread_pool.h"

namespace fraudops {

namespace {

#include "data/synth_params.inc"

constexpr int kFeatures = 28;
constexpr double kSeconds = 172800;  // two days

/// Published spreads of V1..V28 over the full reference set (std; quartiles, min and max
/// where published; NaN where not). See ../shared/data/creditcard/SOURCE.md.
struct Spread {
  double std, q25, q75, min, max;
};
constexpr Spread kSpreads[kFeatures] = {
    {1.958696, -0.9203734, 1.315642, -56.40751, 2.454930},
    {1.651309, -0.5985499, 0.8037239, -72.71573, 22.05773},
    {1.516255, -0.8903648, 1.027196, -48.32559, 9.382558},
    {1.415869, -0.8486401, 0.7433413, -5.683171, 16.87534},
    {1.380247, -0.6915971, 0.6119264, -113.7433, 34.80167},
    {1.332271, -0.7682956, 0.3985649, -26.16051, 73.30163},
    {1.237094, -0.5540759, 0.5704361, -43.55724, 120.5895},
    {1.194353, -0.2086297, 0.3273459, -73.21672, 20.00721},
    {1.098632, -0.6430976, 0.5971390, -13.43407, 15.59499},
    {1.088850, kNaN, kNaN, kNaN, kNaN},
    {1.020713, kNaN, kNaN, kNaN, kNaN},
    {0.9992014, kNaN, kNaN, kNaN, kNaN},
    {0.9952742, kNaN, kNaN, kNaN, kNaN},
    {0.9585956, kNaN, kNaN, kNaN, kNaN},
    {0.9153160, kNaN, kNaN, kNaN, kNaN},
    {0.8762529, kNaN, kNaN, kNaN, kNaN},
    {0.8493371, kNaN, kNaN, kNaN, kNaN},
    {0.8381762, kNaN, kNaN, kNaN, kNaN},
    {0.8140405, kNaN, kNaN, kNaN, kNaN},
    {0.7709250, kNaN, kNaN, kNaN, kNaN},
    {0.7345240, -0.2283949, 0.1863772, -34.83038, 27.20284},
    {0.7257016, -0.5423504, 0.5285536, -10.93314, 10.50309},
    {0.6244603, -0.1618463, 0.1476421, -44.80774, 22.52841},
    {0.6056471, -0.3545861, 0.4395266, -2.836627, 4.584549},
    {0.5212781, -0.3171451, 0.3507156, -10.29540, 7.519589},
    {0.4822270, -0.3269839, 0.2409522, -2.604551, 3.517346},
    {0.4036325, -0.07083953, 0.09104512, -22.56568, 31.61220},
    {0.3300833, -0.05295979, 0.07827995, -15.43008, 33.84781},
};

/// A normal row's V is a scale mixture of two zero-mean normals: the narrow one (weight
/// 1 - kHeavyShare) sets the interquartile range, the wide one the published std — heavy
/// tails, as in the real components, without a distribution whose variance is infinite.
constexpr double kHeavyShare = 0.05;
constexpr double kIqrOverStdWithoutQuartiles = 1.1;  // typical of the published columns

/// The wide component's tail leans to the side with more room between the published min
/// and max (V1 reaches -56 but only +2.5), and a location shift keeps the mean at 0 — which
/// also moves the median the way the published medians lie.
struct MixtureScales {
  double narrow, wide;
  double right_share;  ///< probability that a wide draw lands on the positive side
  double location;
};

MixtureScales ScalesFor(const Spread& spread) {
  double iqr =
      std::isnan(spread.q25) ? kIqrOverStdWithoutQuartiles * spread.std : spread.q75 - spread.q25;
  double narrow = iqr / 1.3489795;  // the IQR of a unit normal
  double variance = spread.std * spread.std;
  double narrow_variance = (1 - kHeavyShare) * narrow * narrow;
  if (narrow_variance >= variance) return {spread.std, spread.std, 0.5, 0};  // light tails
  double wide = std::sqrt((variance - narrow_variance) / kHeavyShare);
  double right = std::isnan(spread.min) ? 0.5 : spread.max / (spread.max - spread.min);
  double half_normal_mean = wide * std::sqrt(2 / 3.14159265358979323846);
  return {narrow, wide, right, -kHeavyShare * half_normal_mean * (2 * right - 1)};
}

/// One V of a legitimate transaction: the two-normal mixture, values past the published range
/// redrawn (clamped after a few tries).
double SampleNormalComponent(const MixtureScales& scale, const Spread& spread,
                             std::mt19937_64& random, std::normal_distribution<double>& gaussian,
                             std::uniform_real_distribution<double>& unit) {
  double value = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (unit(random) < kHeavyShare) {
      double magnitude = std::fabs(gaussian(random)) * scale.wide;
      value = scale.location + (unit(random) < scale.right_share ? magnitude : -magnitude);
    } else {
      value = scale.location + gaussian(random) * scale.narrow;
    }
    if (std::isnan(spread.min) || (value >= spread.min && value <= spread.max)) break;
  }
  return std::isnan(spread.min) ? value : std::clamp(value, spread.min, spread.max);
}

/// Redrawing past an asymmetric range (V1: -56 to +2.5) moves the mean and cuts the spread;
/// a fixed-seed pilot sample measures both, and the location and the wide scale are corrected
/// until the mean is ~0 and the std is the published one.
void CalibrateScales(MixtureScales* scales) {
  constexpr int kPilot = 40000;
  for (int v = 0; v < kFeatures; ++v) {
    for (int pass = 0; pass < 4; ++pass) {
      std::mt19937_64 random(0x5EED0000ULL + static_cast<uint64_t>(v));
      std::normal_distribution<double> gaussian(0.0, 1.0);
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      double sum = 0, squares = 0;
      for (int i = 0; i < kPilot; ++i) {
        double x = SampleNormalComponent(scales[v], kSpreads[v], random, gaussian, unit);
        sum += x;
        squares += x * x;
      }
      double mean = sum / kPilot, std = std::sqrt(std::max(1e-12, squares / kPilot - mean * mean));
      scales[v].location -= mean;
      if (scales[v].wide > scales[v].narrow)
        scales[v].wide *= std::clamp(kSpreads[v].std / std, 0.5, 2.0);
    }
  }
}

/// A share of frauds that look like ordinary transactions but for a small shift along the
/// most telling components: real fraud data has them, and they bound what a model can
/// recall. See docs/synthetic-data.md for how the share was chosen.
constexpr double kCamouflagedFraudShare = 0.22;
constexpr int kCamouflageComponents[] = {13, 11, 9, 16, 3, 10};  // V14 V12 V10 V17 V4 V11
constexpr double kCamouflageShift[] = {-1.6, -1.3, -1.1, -1.2, 1.0, 0.9};

/// splitmix64: decorrelates per-row seeds.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// The value of `x` as written with 15 significant digits and read back: what the CSV holds.
double RoundTrip15(double x) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::general, 15);
  double value = x;
  fast_float::from_chars(buffer, end, value);
  return value;
}

double SampleHour(const double* profile, double u) {
  double cumulative = 0;
  for (int h = 0; h < 24; ++h) {
    cumulative += profile[h];
    if (u < cumulative) return h;
  }
  return 23;
}

double NormalAmount(double u) {
  // Piecewise-linear inverse CDF of log1p(Amount) through the fitted quantiles, with an
  // exponential tail past the 95th percentile, capped at the reference maximum.
  double log_amount;
  if (u < 0.95) {
    double position = u / 0.05;
    int i = static_cast<int>(position);
    double t = position - i;
    log_amount = kNormalLogAmountQuantiles[i] * (1 - t) + kNormalLogAmountQuantiles[i + 1] * t;
  } else {
    log_amount = kNormalLogAmountQuantiles[19] - 0.75 * std::log((1 - u) / 0.05);
  }
  return std::min(std::expm1(log_amount), 25691.16);
}

double Cents(double amount) { return std::round(std::max(0.0, amount) * 100) / 100; }

/// The generated values, as the CSV text holds them, column by column.
struct SyntheticTable {
  std::vector<std::vector<double>> columns;  ///< Time, V1..V28, Amount
  std::vector<uint8_t> fraud;
  std::vector<uint32_t> card;  ///< SynthOptions::cards > 0: each row's card
};

/// Cards for the rows (in time order): a legitimate transaction's card is drawn uniformly;
/// a fraud continues the current compromised card while its previous fraud is under 20
/// minutes old and the burst has fewer than 6 frauds, else a new card is compromised.
std::vector<uint32_t> AssignCards(const SyntheticTable& table, size_t cards, uint64_t seed) {
  std::mt19937_64 random(Mix(seed ^ 0xC4D5C4D5ULL));
  std::uniform_int_distribution<uint32_t> any(0, static_cast<uint32_t>(cards - 1));
  const std::vector<double>& time = table.columns[0];
  std::vector<uint32_t> card(table.fraud.size());
  uint32_t compromised = 0;
  double last_fraud = -1e18;
  int burst = 0;
  for (size_t r = 0; r < card.size(); ++r) {
    if (!table.fraud[r]) {
      card[r] = any(random);
      continue;
    }
    if (time[r] - last_fraud >= 1200 || burst >= 6) {
      compromised = any(random);
      burst = 0;
    }
    card[r] = compromised;
    last_fraud = time[r];
    ++burst;
  }
  return card;
}

std::string CardName(uint32_t card) {
  char text[24];
  std::snprintf(text, sizeof text, "card-%06u", card);
  return text;
}

Result<SyntheticTable> Generate(const SynthOptions& options, ThreadPool* pool) {
  if (options.rows < 10) return Status::InvalidArgument("synthetic rows must be at least 10");
  if (!(options.fraud_rate > 0 && options.fraud_rate < 1)) {
    return Status::InvalidArgument("synthetic fraud rate must be between 0 and 1 (exclusive)");
  }
  const size_t rows = options.rows;
  size_t frauds = static_cast<size_t>(std::llround(static_cast<double>(rows) * options.fraud_rate));
  frauds = std::clamp<size_t>(frauds, 3, rows - 3);  // every split needs a positive

  // Times first (frauds and normals follow their own hour-of-day profiles), then sort.
  std::mt19937_64 random(Mix(options.seed));
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  struct Slot {
    double time;
    bool fraud;
  };
  std::vector<Slot> slots(rows);
  for (size_t i = 0; i < rows; ++i) {
    bool fraud = i < frauds;
    double hour = SampleHour(fraud ? kFraudHourProfile : kNormalHourProfile, uniform(random));
    double day = uniform(random) < 0.5 ? 0 : 86400;
    double time = std::floor(day + hour * 3600 + uniform(random) * 3600);
    slots[i] = {std::min(time, kSeconds - 8), fraud};
  }
  std::stable_sort(slots.begin(), slots.end(),
                   [](const Slot& a, const Slot& b) { return a.time < b.time; });

  SyntheticTable table;
  table.columns.assign(kFeatures + 2, std::vector<double>(rows));
  table.fraud.resize(rows);
  MixtureScales scales[kFeatures];
  for (int v = 0; v < kFeatures; ++v) scales[v] = ScalesFor(kSpreads[v]);
  CalibrateScales(scales);

  constexpr size_t kBlock = 4096;
  const size_t blocks = (rows + kBlock - 1) / kBlock;
  auto generate_block = [&](size_t block) {
    const size_t begin = block * kBlock, end = std::min(rows, begin + kBlock);
    std::normal_distribution<double> gaussian(0.0, 1.0);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    double x[kFraudDims], z[kFraudDims];
    for (size_t r = begin; r < end; ++r) {
      std::mt19937_64 row_random(Mix(options.seed ^ Mix(r + 1)));
      gaussian.reset();
      double amount;
      bool camouflaged = slots[r].fraud && unit(row_random) < kCamouflagedFraudShare;
      if (slots[r].fraud && !camouflaged) {
        double pick = unit(row_random), cumulative = 0;
        int component = kFraudComponents - 1;
        for (int k = 0; k < kFraudComponents; ++k) {
          cumulative += kFraudWeights[k];
          if (pick < cumulative) {
            component = k;
            break;
          }
        }
        for (int d = 0; d < kFraudDims; ++d) z[d] = gaussian(row_random);
        const double* chol = kFraudCholesky[component];
        for (int i = 0; i < kFraudDims; ++i) {
          double sum = kFraudMeans[component][i];
          for (int j = 0; j <= i; ++j) sum += chol[i * kFraudDims + j] * z[j];
          x[i] = sum;
        }
        amount = std::min(std::expm1(x[kFraudDims - 1]), 25691.16);
      } else {
        for (int v = 0; v < kFeatures; ++v) {
          x[v] = SampleNormalComponent(scales[v], kSpreads[v], row_random, gaussian, unit);
        }
        if (camouflaged) {
          for (size_t k = 0; k < std::size(kCamouflageComponents); ++k) {
            x[kCamouflageComponents[k]] += kCamouflageShift[k] * (0.5 + unit(row_random));
          }
        }
        amount = NormalAmount(unit(row_random));
      }
      table.columns[0][r] = slots[r].time;
      for (int v = 0; v < kFeatures; ++v) {
        table.columns[static_cast<size_t>(v) + 1][r] = RoundTrip15(x[v]);
      }
      table.columns[kFeatures + 1][r] = Cents(amount);
      table.fraud[r] = slots[r].fraud;
    }
  };
  if (pool) {
    pool->ParallelFor(blocks, generate_block);
  } else {
    for (size_t b = 0; b < blocks; ++b) generate_block(b);
  }
  if (options.cards > 0) table.card = AssignCards(table, options.cards, options.seed);
  return table;
}

std::vector<std::string> ColumnNames() {
  std::vector<std::string> names = {"Time"};
  for (int v = 1; v <= kFeatures; ++v) names.push_back("V" + std::to_string(v));
  names.push_back("Amount");
  return names;
}

}  // namespace

Result<Dataset> GenerateTransactions(const SynthOptions& options, ThreadPool* pool) {
  FOPS_ASSIGN_OR_RETURN(SyntheticTable table, Generate(options, pool));
  Dataset dataset;
  dataset.label_name = "Class";
  dataset.label_values = {"0", "1"};
  for (const std::string& name : ColumnNames()) {
    dataset.features.push_back({name, ColumnType::kNumeric, {}, {}});
  }
  for (const std::vector<double>& column : table.columns) {
    // decimal text -> double -> float, exactly as the CSV reader converts
    dataset.columns.emplace_back(column.begin(), column.end());
  }
  dataset.label.assign(table.fraud.begin(), table.fraud.end());
  if (options.cards > 0) {
    // Categories in first-seen order, as the CSV reader codes the written text.
    ColumnSchema column{"card_id", ColumnType::kCategorical, {}, {}};
    std::vector<int32_t> code(options.cards, -1);
    std::vector<float> values(table.card.size());
    for (size_t r = 0; r < values.size(); ++r) {
      int32_t& c = code[table.card[r]];
      if (c < 0) {
        c = static_cast<int32_t>(column.categories.size());
        column.categories.push_back(CardName(table.card[r]));
      }
      values[r] = static_cast<float>(c);
    }
    dataset.features.push_back(std::move(column));
    dataset.columns.push_back(std::move(values));
  }
  return dataset;
}

Status WriteSyntheticCsv(const SynthOptions& options, const std::string& path, ThreadPool* pool) {
  FOPS_ASSIGN_OR_RETURN(SyntheticTable table, Generate(options, pool));
  const size_t rows = table.fraud.size(), columns = table.columns.size();
  std::string header;
  for (const std::string& name : ColumnNames()) header += "\"" + name + "\",";
  if (options.cards > 0) header += "\"card_id\",";
  header += "\"Class\"\n";

  constexpr size_t kBlock = 8192;
  const size_t blocks = (rows + kBlock - 1) / kBlock;
  std::vector<std::string> texts(blocks);
  auto format_block = [&](size_t block) {
    std::string& out = texts[block];
    out.reserve(kBlock * (columns * 20 + 8));
    char buffer[48];
    for (size_t r = block * kBlock; r < std::min(rows, (block + 1) * kBlock); ++r) {
      for (size_t c = 0; c < columns; ++c) {
        char* end = std::to_chars(buffer, buffer + sizeof buffer, table.columns[c][r],
                                  std::chars_format::general, 15)
                        .ptr;
        out.append(buffer, end);
        out += ',';
      }
      if (!table.card.empty()) {
        out += CardName(table.card[r]);
        out += ',';
      }
      out += table.fraud[r] ? "\"1\"\n" : "\"0\"\n";
    }
  };
  if (pool) {
    pool->ParallelFor(blocks, format_block);
  } else {
    for (size_t b = 0; b < blocks; ++b) format_block(b);
  }
  std::vector<std::string_view> parts = {header};
  parts.insert(parts.end(), texts.begin(), texts.end());
  return WriteFileAtomic(path, parts);
}

}  // namespace fraudops
