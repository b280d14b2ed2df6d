#pragma once
/// What serves traffic: loaded model versions, the endpoints that route to them, and the
/// live statistics a rollout is judged on.
///
/// An EndpointSnapshot is immutable; the server swaps in a new one atomically when a
/// deployment changes, and a request keeps the snapshot (and so the models) it started
/// with, so requests in flight finish on the model they began on.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "features/enricher.h"
#include "model/bundle.h"
#include "model/tree_shap.h"
#include "serve/metrics.h"
#include "serve/predict_request.h"
#include "store/artifact_store.h"
#include "store/serving_store.h"

namespace fraudops {

/// The part a loaded model plays on an endpoint. Compared as an enum on the hot path; its
/// name appears only at the edges (responses, metric labels, capture records).
enum class VariantRole : uint8_t { kProduction, kCanary, kShadow };
std::string_view VariantRoleName(VariantRole role);

/// One model version, ready to score.
class LoadedModel {
 public:
  LoadedModel(VariantRef ref, ModelBundle bundle);
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;

  const VariantRef& ref() const { return ref_; }
  /// "name@version", built once (spans, reports and logs name the version with it).
  const std::string& label() const { return label_; }
  const ModelBundle& bundle() const { return bundle_; }
  const Ensemble& ensemble() const { return bundle_.ensemble; }
  const FeatureEncoder& encoder() const { return encoder_; }
  double threshold() const { return threshold_; }
  /// The version's decision policy; null when none.
  const DecisionPolicy* policy() const { return bundle_.policy.get(); }
  /// The request fields kept beside the features: the policy's (first, in its order), then
  /// those feature store enrichment reads; null when neither needs any.
  const RequestFields* request_fields() const { return request_fields_.get(); }
  /// Fills feature store features (features/enricher.h); null when the model has none.
  const FeatureEnricher* enricher() const { return enricher_.get(); }
  /// The slot in request_fields() of each of the enricher's fields.
  std::span<const int> enricher_slots() const { return enricher_slots_; }
  /// Why the enricher could not be built (a bundle whose group definitions are unreadable).
  const Status& enricher_status() const { return enricher_status_; }
  /// The TreeSHAP explainer, built on first use (null when it cannot be built).
  const TreeShap* explainer() const;
  /// The value of feature `f` as a request would write it (category name, number, null).
  /// Numbers kExact: the double scored, for records read back (capture: drift bins a value
  /// against the baseline's cuts); kForPeople: a float32 model's in their shortest float
  /// form, as sent ("-3.3", not -3.299999952316284), for reason codes.
  enum class Digits { kExact, kForPeople };
  void AppendFeatureValue(std::string& out, size_t feature, double value, Digits digits) const;

 private:
  VariantRef ref_;
  std::string label_;
  ModelBundle bundle_;
  FeatureEncoder encoder_;
  double threshold_;
  std::unique_ptr<const RequestFields> request_fields_;
  std::unique_ptr<const FeatureEnricher> enricher_;
  std::vector<int> enricher_slots_;
  Status enricher_status_;
  mutable std::once_flag explainer_once_;
  mutable std::unique_ptr<TreeShap> explainer_;
};

/// Loads registered versions: a local bundle directory directly, an S3 one through a local
/// copy under <home>/cache/models (checksums verified on the way). Loaded versions are
/// kept while any endpoint uses them.
class ModelLoader {
 public:
  ModelLoader(MetadataStore& metadata, ArtifactStore& artifacts, std::string cache_directory)
      : metadata_(metadata), artifacts_(artifacts), cache_directory_(std::move(cache_directory)) {}
  /// `approved_only`: refuse (NotFound, saying why) a version that may not be deployed —
  /// a multi-model endpoint's targets are asked for by name at request time.
  Result<std::shared_ptr<const LoadedModel>> Load(const VariantRef& ref,
                                                  bool approved_only = false);

 private:
  MetadataStore& metadata_;
  ArtifactStore& artifacts_;
  std::string cache_directory_;
  std::map<std::pair<std::string, int64_t>, std::weak_ptr<const LoadedModel>> loaded_;
};

/// Live counts of one variant during a rollout (relaxed atomics; read by the controller).
class VariantStats {
 public:
  VariantStats();
  /// One request: its latency, its rows' scores (alerts: scores at or above `threshold`).
  void Record(double latency_seconds, const double* scores, size_t rows, bool error,
              double threshold = 2, const PolicyDecision* decisions = nullptr);
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t rows() const { return rows_.load(std::memory_order_relaxed); }
  uint64_t alerts() const { return alerts_.load(std::memory_order_relaxed); }
  /// {"requests", "errors", "rows", "alerts", "alert_rate", "latency_ms": {"p50", "p99"},
  ///  "score_histogram": [counts in ScoreBin's bins]}
  nlohmann::json ToJson() const;
  /// The latency below which `q` of requests fell (upper bucket bound), seconds.
  double LatencyQuantile(double q) const;
  std::vector<double> ScoreCounts() const;
  /// Rows by the decision policy's decision index (decisions beyond kDecisions not counted).
  std::vector<uint64_t> DecisionCounts() const;
  static constexpr size_t kDecisions = 16;
  /// Score bins used for PSI: equal widths in logit space, so the crowded low scores of a
  /// fraud model are resolved.
  static size_t ScoreBin(double score);
  static constexpr size_t kScoreBins = 20;

 private:
  std::atomic<uint64_t> requests_{0}, errors_{0}, rows_{0}, alerts_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> latency_;    // kLatencyBins
  std::unique_ptr<std::atomic<uint64_t>[]> scores_;     // kScoreBins
  std::unique_ptr<std::atomic<uint64_t>[]> decisions_;  // kDecisions
};

/// PSI of `actual` against `expected` bin counts (each bin floored at 0.5 counts, so an
/// empty bin does not make it infinite).
double PopulationStabilityIndex(const std::vector<double>& expected,
                                const std::vector<double>& actual);

/// Production and canary during one deployment's current step.
struct RolloutStats {
  std::string deployment_id;
  double traffic_percent = 0;
  VariantStats production, canary;
};

/// One production variant of an A/B test, as requests meet it.
struct AbArm {
  std::string name;  ///< "v7"
  std::shared_ptr<const LoadedModel> model;
  /// The arm takes buckets [previous arm's end, end) of kAbBuckets.
  uint32_t end = 0;
  /// Live statistics since the test began (kept across reloads while it runs).
  std::shared_ptr<VariantStats> stats;
};
constexpr uint32_t kAbBuckets = 1000000;

/// The bucket of an assignment value (a card id): FNV-1a, then a SplitMix64 finish, so it
/// is the same in every replica and after every restart.
uint32_t AbBucket(std::string_view value);

/// A multi-model endpoint's definition with its targets resolved to versions.
struct MultiModelTargets {
  std::string routing_field;
  std::map<std::string, VariantRef, std::less<>> routes;
  VariantRef default_target;  ///< empty: none
};

struct EndpointSnapshot {
  EndpointRecord record;
  /// A multi-model endpoint (no production: the model is chosen per request and held by the
  /// model cache); null for a variant endpoint.
  std::shared_ptr<const MultiModelTargets> multi;
  std::shared_ptr<const LoadedModel> production;
  /// An A/B test's variants (the loaded ones), in the record's order; empty: no test.
  std::vector<AbArm> ab;
  /// The arm for `bucket` (< kAbBuckets); requires a test.
  const AbArm& ArmFor(uint32_t bucket) const;
  /// The arm named `name` ("v7" or "7"), or null.
  const AbArm* FindArm(std::string_view name) const;
  std::shared_ptr<const LoadedModel> canary;  ///< null when none
  double canary_fraction = 0;                 ///< 0..1
  std::vector<std::shared_ptr<const LoadedModel>> shadows;
  std::shared_ptr<RolloutStats> rollout;  ///< while a deployment bakes
};

using EndpointMap = std::map<std::string, std::shared_ptr<const EndpointSnapshot>, std::less<>>;

}  // namespace fraudops
