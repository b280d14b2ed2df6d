#include "serve/endpoints.h"

#include <cmath>
#include <filesystem>
#include <optional>

#include "core/files.h"
#include "core/strings.h"

namespace fraudops {

namespace fs = std::filesystem;

namespace {

// Latency buckets: 1 µs to ~67 s, 4 per doubling (≤ 19% wide).
constexpr size_t kLatencyBins = 4 * 26 + 1;
double LatencyBound(size_t bin) { return 1e-6 * std::pow(2.0, static_cast<double>(bin) / 4.0); }

}  // namespace

uint32_t AbBucket(std::string_view value) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : value) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  hash += 0x9E3779B97F4A7C15ULL;
  hash = (hash ^ (hash >> 30)) * 0xBF58476D1CE4E5B9ULL;
  hash = (hash ^ (hash >> 27)) * 0x94D049BB133111EBULL;
  hash ^= hash >> 31;
  return static_cast<uint32_t>(hash % kAbBuckets);
}

const AbArm& EndpointSnapshot::ArmFor(uint32_t bucket) const {
  for (const AbArm& arm : ab) {
    if (bucket < arm.end) return arm;
  }
  return ab.back();
}

const AbArm* EndpointSnapshot::FindArm(std::string_view name) const {
  for (const AbArm& arm : ab) {
    if (arm.name == name || arm.name.substr(1) == name) return &arm;
  }
  return nullptr;
}

std::string_view VariantRoleName(VariantRole role) {
  switch (role) {
    case VariantRole::kProduction:
      return "production";
    case VariantRole::kCanary:
      return "canary";
    case VariantRole::kShadow:
      return "shadow";
  }
  return "production";
}

LoadedModel::LoadedModel(VariantRef ref, ModelBundle bundle)
    : ref_(std::move(ref)),
      label_(ref_.ToString()),
      bundle_(std::move(bundle)),
      encoder_(bundle_.input, bundle_.label_name),
      threshold_(bundle_.threshold.value_or(0.5)) {
  std::vector<std::string> names;
  if (bundle_.policy) names = bundle_.policy->fields();
  auto enricher = FeatureEnricher::Create(bundle_.input, encoder_);
  if (!enricher.ok()) {
    enricher_status_ = enricher.status();
  } else if (*enricher) {
    enricher_ = std::move(*enricher);
    for (const std::string& field : enricher_->fields()) {
      auto it = std::find(names.begin(), names.end(), field);
      enricher_slots_.push_back(static_cast<int>(it - names.begin()));
      if (it == names.end()) names.push_back(field);
    }
  }
  if (!names.empty()) request_fields_ = std::make_unique<const RequestFields>(encoder_, names);
}

const TreeShap* LoadedModel::explainer() const {
  std::call_once(explainer_once_, [this] {
    if (bundle_.combined()) return;  // SHAP values of a combined probability are not additive
    auto created = TreeShap::Create(bundle_.ensemble);
    if (created.ok()) explainer_ = std::make_unique<TreeShap>(std::move(*created));
  });
  return explainer_.get();
}

void LoadedModel::AppendFeatureValue(std::string& out, size_t feature, double value,
                                     Digits digits) const {
  if (std::isnan(value)) {
    out += "null";
    return;
  }
  const FeatureSpec& spec = encoder_.feature(feature);
  if (spec.categorical && !spec.categories.empty()) {
    const double code = std::floor(value);
    if (code >= 0 && code < static_cast<double>(spec.categories.size())) {
      out += '"';
      AppendJsonEscaped(out, spec.categories[static_cast<size_t>(code)]);
      out += '"';
      return;
    }
  }
  if (std::isinf(value)) {
    out += value > 0 ? "\"inf\"" : "\"-inf\"";
    return;
  }
  if (digits == Digits::kForPeople && encoder_.float32()) {
    AppendShortestFloat(out, static_cast<float>(value));
  } else {
    AppendShortest(out, value);
  }
}

Result<std::shared_ptr<const LoadedModel>> ModelLoader::Load(const VariantRef& ref,
                                                             bool approved_only) {
  auto key = std::make_pair(ref.model, ref.version);
  std::optional<ModelVersion> checked;
  if (approved_only) {  // asked for by name: only what may be deployed
    FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                          metadata_.GetVersion(ref.model, std::to_string(ref.version)));
    if (Status servable = Servable(version, false, false); !servable.ok())
      return Status::NotFound(servable.message());
    checked = std::move(version);
  }
  if (auto cached = loaded_[key].lock()) return cached;
  if (!checked) {
    FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                          metadata_.GetVersion(ref.model, std::to_string(ref.version)));
    checked = std::move(version);
  }
  const ModelVersion& version = *checked;
  std::string directory = version.bundle_uri;
  if (StartsWith(directory, "s3://")) {
    // A local copy, verified against the checksums the run recorded.
    directory = (fs::path(cache_directory_) / ref.model /
                 (std::to_string(ref.version) + "-" + version.run_id))
                    .string();
    FOPS_RETURN_IF_ERROR(MakeDirectories(directory));
    FOPS_RETURN_IF_ERROR(ExportModelFiles(metadata_, artifacts_, version, directory).status());
  }
  auto bundle = LoadBundle(directory);
  if (!bundle.ok()) return bundle.status().WithContext("loading " + ref.ToString());
  // The registry's policy is the version's (a local bundle directory holds its run's).
  FOPS_RETURN_IF_ERROR(SetPolicy(*bundle, version.policy, ref.ToString() + " policy")
                           .WithContext("loading " + ref.ToString()));
  auto model = std::make_shared<const LoadedModel>(ref, std::move(*bundle));
  if (!model->enricher_status().ok())
    return model->enricher_status().WithContext("loading " + ref.ToString());
  loaded_[key] = model;
  return std::shared_ptr<const LoadedModel>(model);
}

VariantStats::VariantStats()
    : latency_(new std::atomic<uint64_t>[kLatencyBins]),
      scores_(new std::atomic<uint64_t>[kScoreBins]),
      decisions_(new std::atomic<uint64_t>[kDecisions]) {
  for (size_t i = 0; i < kLatencyBins; ++i) latency_[i].store(0);
  for (size_t i = 0; i < kScoreBins; ++i) scores_[i].store(0);
  for (size_t i = 0; i < kDecisions; ++i) decisions_[i].store(0);
}

std::vector<uint64_t> VariantStats::DecisionCounts() const {
  std::vector<uint64_t> counts(kDecisions);
  for (size_t i = 0; i < kDecisions; ++i) counts[i] = decisions_[i].load(std::memory_order_relaxed);
  return counts;
}

size_t VariantStats::ScoreBin(double score) {
  if (!(score > 0)) return 0;
  if (!(score < 1)) return kScoreBins - 1;
  const double logit = std::log(score / (1 - score));  // bins of width 1 from -10 to 10
  const double bin = std::floor(logit + 10.0);
  return static_cast<size_t>(std::clamp(bin, 0.0, static_cast<double>(kScoreBins - 1)));
}

void VariantStats::Record(double latency_seconds, const double* scores, size_t rows, bool error,
                          double threshold, const PolicyDecision* decisions) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (error) errors_.fetch_add(1, std::memory_order_relaxed);
  rows_.fetch_add(rows, std::memory_order_relaxed);
  size_t alerts = 0;
  for (size_t i = 0; i < rows; ++i) alerts += scores[i] >= threshold;
  if (alerts) alerts_.fetch_add(alerts, std::memory_order_relaxed);
  size_t bin = latency_seconds <= 1e-6
                   ? 0
                   : static_cast<size_t>(std::ceil(4.0 * std::log2(latency_seconds / 1e-6)));
  latency_[std::min(bin, kLatencyBins - 1)].fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < rows; ++i)
    scores_[ScoreBin(scores[i])].fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; decisions && i < rows; ++i) {
    if (decisions[i].index < kDecisions)
      decisions_[decisions[i].index].fetch_add(1, std::memory_order_relaxed);
  }
}

double VariantStats::LatencyQuantile(double q) const {
  uint64_t total = 0;
  for (size_t i = 0; i < kLatencyBins; ++i) total += latency_[i].load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const double target = q * static_cast<double>(total);
  uint64_t running = 0;
  for (size_t i = 0; i < kLatencyBins; ++i) {
    running += latency_[i].load(std::memory_order_relaxed);
    if (static_cast<double>(running) >= target) return LatencyBound(i);
  }
  return LatencyBound(kLatencyBins - 1);
}

nlohmann::json VariantStats::ToJson() const {
  const uint64_t rows = this->rows();
  nlohmann::json histogram = nlohmann::json::array();
  for (double count : ScoreCounts()) histogram.push_back(static_cast<uint64_t>(count));
  return {
      {"requests", requests()},
      {"errors", errors()},
      {"rows", rows},
      {"alerts", alerts()},
      {"alert_rate", rows ? static_cast<double>(alerts()) / static_cast<double>(rows) : 0.0},
      {"latency_ms", {{"p50", 1e3 * LatencyQuantile(0.5)}, {"p99", 1e3 * LatencyQuantile(0.99)}}},
      {"score_histogram", histogram}};
}

std::vector<double> VariantStats::ScoreCounts() const {
  std::vector<double> out(kScoreBins);
  for (size_t i = 0; i < kScoreBins; ++i)
    out[i] = static_cast<double>(scores_[i].load(std::memory_order_relaxed));
  return out;
}

double PopulationStabilityIndex(const std::vector<double>& expected,
                                const std::vector<double>& actual) {
  double expected_total = 0, actual_total = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    expected_total += std::max(expected[i], 0.5);
    actual_total += std::max(actual[i], 0.5);
  }
  double psi = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double e = std::max(expected[i], 0.5) / expected_total;
    const double a = std::max(actual[i], 0.5) / actual_total;
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

}  // namespace fraudops
