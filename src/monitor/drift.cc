#include "monitor/drift.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"

namespace fraudops {

size_t BaselineColumn::NumericBin(double value) const {
  if (std::isnan(value)) return missing_bin();
  // Branch-light binary search: the number of cuts <= value.
  const double* base = cuts.data();
  size_t n = cuts.size();
  while (n > 0) {
    const size_t half = n / 2;
    if (base[half] <= value) {
      base += half + 1;
      n -= half + 1;
    } else {
      n = half;
    }
  }
  return static_cast<size_t>(base - cuts.data());
}

size_t BaselineColumn::CategoryBin(std::string_view name) const {
  auto found = category_index.find(std::string(name));
  return found == category_index.end() ? categories.size() : found->second;
}

namespace {

Status ReadColumn(const nlohmann::json& json, const std::string& where, bool categorical,
                  BaselineColumn* column) {
  auto numbers = [&](const char* key, std::vector<double>* out) -> Status {
    auto it = json.find(key);
    if (it == json.end() || !it->is_array())
      return Status::DataError(where + "/" + key + ": missing or not an array");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_number())
        return Status::DataError(where + "/" + key + "/" + std::to_string(i) + ": not a number");
      out->push_back((*it)[i].get<double>());
    }
    return Status::Ok();
  };
  std::vector<double> counts;
  FOPS_RETURN_IF_ERROR(numbers("counts", &counts));
  auto missing = json.find("missing");
  if (missing == json.end() || !missing->is_number())
    return Status::DataError(where + "/missing: missing or not a number");
  column->categorical = categorical;
  if (categorical) {
    auto categories = json.find("categories");
    if (categories == json.end() || !categories->is_array() ||
        categories->size() != counts.size()) {
      return Status::DataError(where + "/categories: must be an array as long as /counts");
    }
    for (size_t i = 0; i < categories->size(); ++i) {
      if (!(*categories)[i].is_string())
        return Status::DataError(where + "/categories/" + std::to_string(i) + ": not a string");
      column->categories.push_back((*categories)[i].get<std::string>());
      column->category_index.emplace(column->categories.back(), static_cast<uint32_t>(i));
    }
    counts.push_back(0);  // other
  } else {
    FOPS_RETURN_IF_ERROR(numbers("cuts", &column->cuts));
    if (counts.size() != column->cuts.size() + 1) {
      return Status::DataError(where + "/counts: has " + std::to_string(counts.size()) +
                               " bins for " + std::to_string(column->cuts.size()) +
                               " cuts; expected cuts + 1");
    }
    if (!std::is_sorted(column->cuts.begin(), column->cuts.end()))
      return Status::DataError(where + "/cuts: not in rising order");
  }
  counts.push_back(missing->get<double>());
  column->expected = std::move(counts);
  return Status::Ok();
}

std::string Short(double value) { return FormatDouble(value, 4); }

std::vector<std::string> BinLabels(const BaselineColumn& column) {
  std::vector<std::string> labels;
  if (column.categorical) {
    labels = column.categories;
    labels.push_back("(other)");
  } else if (column.cuts.empty()) {
    labels.push_back("all");
  } else {
    labels.push_back("< " + Short(column.cuts.front()));
    for (size_t i = 1; i < column.cuts.size(); ++i)
      labels.push_back("[" + Short(column.cuts[i - 1]) + ", " + Short(column.cuts[i]) + ")");
    labels.push_back(">= " + Short(column.cuts.back()));
  }
  labels.push_back("(missing)");
  return labels;
}

std::vector<double> Shares(const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  std::vector<double> shares(counts.size(), 0.0);
  if (total > 0) {
    for (size_t i = 0; i < counts.size(); ++i) shares[i] = counts[i] / total;
  }
  return shares;
}

ColumnDrift Compare(const BaselineColumn& column, const std::vector<uint64_t>& live,
                    double psi_threshold, double ks_threshold, bool judged) {
  ColumnDrift drift;
  drift.name = column.name;
  drift.categorical = column.categorical;
  std::vector<double> actual(live.begin(), live.end());
  drift.expected_shares = Shares(column.expected);
  drift.actual_shares = Shares(actual);
  drift.bin_labels = BinLabels(column);
  drift.expected_missing = drift.expected_shares.back();
  drift.actual_missing = drift.actual_shares.back();
  // An empty window has no distribution to compare: PSI and KS 0, not judged.
  const bool empty = drift.actual_shares.empty() ||
                     std::all_of(actual.begin(), actual.end(), [](double c) { return c == 0; });
  drift.psi = empty ? 0 : Psi(column.expected, actual);
  drift.psi_threshold = psi_threshold;
  drift.psi_violated = judged && drift.psi > psi_threshold;
  if (!column.categorical) {
    drift.ks = empty ? 0 : BinnedKs(column.expected, actual, column.missing_bin());
    drift.ks_threshold = ks_threshold;
    drift.ks_violated = judged && *drift.ks > ks_threshold;
  }
  return drift;
}

}  // namespace

Result<DriftBaseline> DriftBaseline::FromJson(const nlohmann::json& json,
                                              const std::string& source) {
  if (!json.is_object()) return Status::DataError(source + ": a baseline must be a JSON object");
  auto version = json.find("format_version");
  if (version == json.end() || !version->is_number_integer() || version->get<int>() != 1) {
    return Status::DataError(source +
                             "/format_version: expected 1, the baseline format this build reads");
  }
  DriftBaseline baseline;
  baseline.rows = json.value("rows", uint64_t{0});
  auto features = json.find("features");
  if (features == json.end() || !features->is_array())
    return Status::DataError(source + "/features: missing or not an array");
  for (size_t f = 0; f < features->size(); ++f) {
    const nlohmann::json& entry = (*features)[f];
    const std::string where = source + ": /features/" + std::to_string(f);
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
      return Status::DataError(where + "/name: missing or not a string");
    }
    BaselineColumn column;
    column.name = entry["name"].get<std::string>();
    FOPS_RETURN_IF_ERROR(
        ReadColumn(entry, where, entry.value("type", "numeric") == "categorical", &column));
    baseline.feature_index.emplace(column.name, static_cast<uint32_t>(baseline.features.size()));
    baseline.features.push_back(std::move(column));
  }
  auto score = json.find("score");
  if (score == json.end() || !score->is_object())
    return Status::DataError(source + "/score: missing or not an object");
  baseline.score.name = "$score";
  FOPS_RETURN_IF_ERROR(ReadColumn(*score, source + ": /score", false, &baseline.score));
  return baseline;
}

DriftCounts::DriftCounts(const DriftBaseline& baseline) : score(baseline.score.bins(), 0) {
  features.reserve(baseline.features.size());
  for (const BaselineColumn& column : baseline.features) features.emplace_back(column.bins(), 0);
}

void DriftCounts::Merge(const DriftCounts& other) {
  for (size_t f = 0; f < features.size(); ++f) {
    for (size_t b = 0; b < features[f].size(); ++b) features[f][b] += other.features[f][b];
  }
  for (size_t b = 0; b < score.size(); ++b) score[b] += other.score[b];
  rows += other.rows;
}

double DriftThresholds::PsiFor(const std::string& name) const {
  auto found = psi_by_feature.find(name);
  return found == psi_by_feature.end() ? psi : found->second;
}

double DriftThresholds::KsFor(const std::string& name) const {
  auto found = ks_by_feature.find(name);
  return found == ks_by_feature.end() ? ks : found->second;
}

double Psi(const std::vector<double>& expected, const std::vector<double>& actual) {
  const std::vector<double> e = Shares(expected), a = Shares(actual);
  double psi = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double ei = std::max(e[i], kPsiFloor), ai = std::max(a[i], kPsiFloor);
    psi += (ai - ei) * std::log(ai / ei);
  }
  return psi;
}

double BinnedKs(const std::vector<double>& expected, const std::vector<double>& actual,
                size_t present_bins) {
  double e_total = 0, a_total = 0;
  for (size_t i = 0; i < present_bins; ++i) {
    e_total += expected[i];
    a_total += actual[i];
  }
  if (e_total <= 0 || a_total <= 0) return 0;
  double e_cdf = 0, a_cdf = 0, ks = 0;
  for (size_t i = 0; i < present_bins; ++i) {
    e_cdf += expected[i] / e_total;
    a_cdf += actual[i] / a_total;
    ks = std::max(ks, std::fabs(e_cdf - a_cdf));
  }
  return ks;
}

DriftResult CompareDrift(const DriftBaseline& baseline, const DriftCounts& counts,
                         const DriftThresholds& thresholds) {
  DriftResult result;
  result.rows = counts.rows;
  result.judged = counts.rows >= thresholds.min_rows && counts.rows > 0;
  for (size_t f = 0; f < baseline.features.size(); ++f) {
    const BaselineColumn& column = baseline.features[f];
    result.columns.push_back(Compare(column, counts.features[f], thresholds.PsiFor(column.name),
                                     thresholds.KsFor(column.name), result.judged));
  }
  ColumnDrift score = Compare(baseline.score, counts.score, thresholds.PsiFor("$score"),
                              thresholds.KsFor("$score"), result.judged);
  score.is_score = true;
  result.columns.push_back(std::move(score));
  return result;
}

std::vector<std::string> DriftResult::Violations() const {
  std::vector<std::string> names;
  for (const ColumnDrift& column : columns) {
    if (column.violated()) names.push_back(column.name);
  }
  return names;
}

nlohmann::json ColumnDrift::ToJson() const {
  nlohmann::json out = {
      {"name", name},
      {"kind", is_score ? "score" : "feature"},
      {"type", categorical ? "categorical" : "numeric"},
      {"psi", psi},
      {"psi_threshold", psi_threshold},
      {"ks", ks ? nlohmann::json(*ks) : nlohmann::json(nullptr)},
      {"ks_threshold", ks ? nlohmann::json(ks_threshold) : nlohmann::json(nullptr)},
      {"expected_missing", expected_missing},
      {"actual_missing", actual_missing},
      {"violated", violated()},
      {"bins", bin_labels},
      {"expected", expected_shares},
      {"actual", actual_shares}};
  std::vector<std::string> over;
  if (psi_violated) over.push_back("psi");
  if (ks_violated) over.push_back("ks");
  out["violations"] = over;
  return out;
}

nlohmann::json DriftResult::ToJson() const {
  nlohmann::json columns_json = nlohmann::json::array();
  for (const ColumnDrift& column : columns) columns_json.push_back(column.ToJson());
  return {
      {"rows", rows}, {"judged", judged}, {"violations", Violations()}, {"columns", columns_json}};
}

}  // namespace fraudops
