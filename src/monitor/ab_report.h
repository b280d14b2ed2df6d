#pragma once
/// The A/B report of an endpoint (docs/serving.md#ab-tests): per production variant, from
/// the predictions captured since the test began (docs/formats/capture.md) joined by request
/// id with the delayed labels (the feedback table, and a labels file if given):
///   - requests (captured rows), alert rate with its Wilson interval, latency p50/p99, the
///     score distribution (ten bins of width 0.1);
///   - with labels: ROC AUC with DeLong's interval, recall at the endpoint's false-positive
///     target (deploy.ab_fpr_target; the variant's own score threshold at that rate) and
///     precision at the variant's decisions, each with a Wilson interval;
/// and per variant against the reference (the variant that was production when the test
/// began): the difference of alert rate and of recall with the two-proportion z-test, of
/// ROC AUC with DeLong's z-test, each with its p-value, and whether both variants have the
/// requests needed to detect a change of alert rate of deploy.ab_min_effect at
/// 1 - deploy.ab_confidence and deploy.ab_power. Capture is sampled (api.capture_sample):
/// the counts are of captured rows.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "monitor/capture_scan.h"
#include "store/serving_store.h"

namespace fraudops {

struct AbReportOptions {
  std::string capture_directory;  ///< <home>/capture/<endpoint>
  std::chrono::system_clock::time_point now;
  const LabelMap* labels = nullptr;    ///< may be null: no label-based metrics
  bool unlabeled_as_negative = false;  ///< monitor.unlabeled: negative
  double fpr_target = 0.01;
  double min_effect = 0.01;
  double confidence = 0.95;
  double power = 0.8;
  ThreadPool* pool = nullptr;
};

/// The report of `endpoint`'s A/B test (it must run one). Variants in the endpoint's order.
Result<nlohmann::json> BuildAbReport(const EndpointRecord& endpoint,
                                     const AbReportOptions& options);

/// The report of `endpoint`'s test as configured: labels from the feedback table (and
/// `labels_file` when given), thresholds from deploy.ab_*, capture under global.home.
Result<nlohmann::json> AbReportFor(const Config& config, MetadataStore& metadata,
                                   const std::string& endpoint, const std::string& labels_file,
                                   ThreadPool* pool, std::chrono::system_clock::time_point now);

}  // namespace fraudops
