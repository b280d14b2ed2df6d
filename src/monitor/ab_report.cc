#include "monitor/ab_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "eval/ab_stats.h"
#include "monitor/quality.h"

namespace fraudops {

using Json = nlohmann::json;

namespace {

Json Rate(uint64_t successes, uint64_t trials, double confidence) {
  const Interval ci = WilsonInterval(successes, trials, confidence);
  return {{"value", trials ? static_cast<double>(successes) / static_cast<double>(trials) : 0.0},
          {"successes", successes},
          {"trials", trials},
          {"low", ci.low},
          {"high", ci.high}};
}

Json Test(const ZTest& test) {
  return {{"difference", test.difference}, {"z", test.z}, {"p_value", test.p_value}};
}

double Quantile(std::vector<float> values, double q) {
  if (values.empty()) return 0;
  const size_t k = std::min(
      values.size() - 1,
      static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - (q > 0 ? 1 : 0));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

/// What one variant's labelled predictions say.
struct Labelled {
  AucEstimate auc;
  uint64_t positives = 0, caught = 0;       ///< recall at the FPR target: caught of positives
  double threshold = 1;                     ///< the score threshold of that rate
  uint64_t flagged = 0, flagged_fraud = 0;  ///< precision at the variant's decisions
};

Labelled Label(const std::vector<JoinedPrediction>& joined, double fpr_target, double confidence) {
  Labelled out;
  std::vector<double> scores;
  std::vector<int> labels;
  std::vector<double> negatives;
  for (const JoinedPrediction& p : joined) {
    scores.push_back(p.score);
    labels.push_back(p.label > 0.5f ? 1 : 0);
    if (p.label > 0.5f) {
      ++out.positives;
    } else {
      negatives.push_back(p.score);
    }
    if (p.decision) {
      ++out.flagged;
      out.flagged_fraud += p.label > 0.5f;
    }
  }
  out.auc = DeLongAuc(scores, labels, confidence);
  // The lowest threshold whose false-positive rate (negatives scored at or above it) is at
  // most the target: the floor(target · negatives)-th highest negative score is the last one
  // allowed through, so the threshold sits just above the next.
  std::sort(negatives.begin(), negatives.end(), std::greater<>());
  const size_t allowed =
      static_cast<size_t>(std::floor(fpr_target * static_cast<double>(negatives.size()) + 1e-9));
  // (Negatives tied with the first one kept out stay out too: the rate never exceeds the target.)
  out.threshold = allowed >= negatives.size() ? 0.0 : std::nextafter(negatives[allowed], INFINITY);
  for (const JoinedPrediction& p : joined) out.caught += p.label > 0.5f && p.score >= out.threshold;
  return out;
}

}  // namespace

Result<Json> BuildAbReport(const EndpointRecord& endpoint, const AbReportOptions& options) {
  if (endpoint.ab_variants.empty()) {
    return Status::InvalidArgument("endpoint '" + endpoint.name + "' runs no A/B test");
  }
  ScanOptions scan;
  scan.directory = options.capture_directory;
  scan.quality_window = {endpoint.ab_started_at, FormatUtc(options.now)};
  scan.labels = options.labels;
  scan.unlabeled_as_negative = options.unlabeled_as_negative;
  scan.by_variant = true;
  scan.pool = options.pool;
  ScanResult result;
  Result<ScanResult> scanned = ScanCapture(scan);
  if (scanned.ok()) {
    result = std::move(*scanned);
  } else if (scanned.status().code() != StatusCode::kNotFound) {
    return scanned.status();
  }
  const double confidence = options.confidence;
  Json variants = Json::array();
  std::vector<std::pair<const VariantRows*, Labelled>> measured;
  static const VariantRows kNone;
  for (const WeightedVariant& v : endpoint.ab_variants) {
    auto found = result.variants.find(v.name());
    const VariantRows& rows = found == result.variants.end() ? kNone : found->second;
    Labelled labelled = Label(rows.joined, options.fpr_target, confidence);
    std::vector<uint64_t> histogram(10, 0);
    for (float s : rows.scores)
      histogram[std::min<size_t>(9, static_cast<size_t>(std::max(0.0f, s) * 10))]++;
    Json item = {{"name", v.name()},
                 {"model", v.ref.model},
                 {"version", v.ref.version},
                 {"weight", v.weight},
                 {"requests", rows.rows},
                 {"alert_rate", Rate(rows.alerts, rows.rows, confidence)},
                 {"latency_ms",
                  {{"p50", Quantile(rows.latency_us, 0.5) / 1e3},
                   {"p99", Quantile(rows.latency_us, 0.99) / 1e3}}},
                 {"score_histogram", histogram},
                 {"labelled", rows.joined.size()},
                 {"positives", labelled.positives}};
    if (labelled.auc.positives > 0 && labelled.auc.negatives > 0) {
      item["roc_auc"] = {{"value", labelled.auc.auc},
                         {"low", labelled.auc.interval.low},
                         {"high", labelled.auc.interval.high},
                         {"variance", labelled.auc.variance}};
    } else {
      item["roc_auc"] = nullptr;
    }
    item["recall_at_fpr"] = Rate(labelled.caught, labelled.positives, confidence);
    item["recall_at_fpr"]["threshold"] = labelled.threshold;
    item["precision"] = Rate(labelled.flagged_fraud, labelled.flagged, confidence);
    variants.push_back(item);
    measured.emplace_back(&rows, labelled);
  }
  Json comparisons = Json::array();
  const VariantRows& reference = *measured.front().first;
  const Labelled& reference_labels = measured.front().second;
  const double base_rate =
      reference.rows ? static_cast<double>(reference.alerts) / static_cast<double>(reference.rows)
                     : 0.0;
  // The change worth detecting, upwards (downwards when the rate is too close to 1).
  uint64_t needed = MinimumSampleSize(base_rate, options.min_effect, 1 - confidence, options.power);
  if (needed == 0)
    needed = MinimumSampleSize(base_rate, -options.min_effect, 1 - confidence, options.power);
  for (size_t i = 1; i < measured.size(); ++i) {
    const VariantRows& rows = *measured[i].first;
    const Labelled& labelled = measured[i].second;
    Json comparison = {
        {"variant", endpoint.ab_variants[i].name()},
        {"against", endpoint.ab_variants.front().name()},
        {"alert_rate",
         Test(TwoProportionZTest(rows.alerts, rows.rows, reference.alerts, reference.rows))},
        {"recall_at_fpr",
         Test(TwoProportionZTest(labelled.caught, labelled.positives, reference_labels.caught,
                                 reference_labels.positives))},
        {"roc_auc", Test(AucDifferenceTest(labelled.auc, reference_labels.auc))},
        {"min_sample_size", needed},
        {"sample_size_reached", needed > 0 && rows.rows >= needed && reference.rows >= needed}};
    comparisons.push_back(comparison);
  }
  return Json{{"endpoint", endpoint.name},
              {"since", endpoint.ab_started_at},
              {"until", FormatUtc(options.now)},
              {"assignment_field",
               endpoint.assignment_field.empty() ? Json(nullptr) : Json(endpoint.assignment_field)},
              {"confidence", confidence},
              {"fpr_target", options.fpr_target},
              {"min_effect", options.min_effect},
              {"power", options.power},
              {"captured_rows", result.quality_rows},
              {"malformed_lines", result.malformed_lines},
              {"variants", variants},
              {"comparisons", comparisons}};
}

Result<Json> AbReportFor(const Config& config, MetadataStore& metadata,
                         const std::string& endpoint_name, const std::string& labels_file,
                         ThreadPool* pool, std::chrono::system_clock::time_point now) {
  ServingStore serving(metadata);
  FOPS_ASSIGN_OR_RETURN(auto endpoint, serving.FindEndpoint(endpoint_name));
  if (!endpoint) return serving.NoSuchEndpoint(endpoint_name);
  const std::string time = FormatUtc(now);
  LabelMap labels;
  if (!labels_file.empty()) {
    FOPS_ASSIGN_OR_RETURN(labels, ReadLabelsCsv(labels_file, time));
  }
  FOPS_ASSIGN_OR_RETURN(std::vector<FeedbackRecord> feedback, serving.Feedback(endpoint_name));
  AddFeedback(feedback, time, &labels);
  AbReportOptions options;
  options.capture_directory =
      (std::filesystem::path(config.Resolve(config.global.home)) / "capture" / endpoint_name)
          .string();
  options.now = now;
  options.labels = &labels;
  options.unlabeled_as_negative = config.monitor.unlabeled == "negative";
  options.fpr_target = config.deploy.ab_fpr_target;
  options.min_effect = config.deploy.ab_min_effect;
  options.confidence = config.deploy.ab_confidence;
  options.power = config.deploy.ab_power;
  options.pool = pool;
  return BuildAbReport(*endpoint, options);
}

}  // namespace fraudops
