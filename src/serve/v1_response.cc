#include "serve/v1_response.h"

#include <vector>

#include "core/strings.h"

namespace fraudops {

void EncodeV1Response(const ScoredRows& scored, const TreeShap* explainer, size_t explain,
                      std::string& out) {
  const LoadedModel& model = *scored.model;
  const ParsedRows& rows = *scored.rows;
  const size_t width = model.encoder().size();
  const double threshold = model.threshold();
  std::vector<double> contributions;
  TreeShap::Workspace workspace;
  if (explainer) {
    contributions.resize(rows.rows * (width + 1));
    explainer->Contributions(rows.values.data(), rows.rows, contributions.data(), workspace);
  }
  auto append_row = [&](size_t r) {
    out += "\"score\":";
    AppendJsonNumber(out, scored.scores[r]);
    out += ",\"label\":";
    out += scored.scores[r] >= threshold ? '1' : '0';
    if (scored.decisions) {
      out += ",\"decision\":";
      AppendJsonString(out, scored.decisions[r].decision);
      out += ",\"rule\":";
      AppendJsonString(out, scored.decisions[r].rule);
    }
    if (!explainer) return;
    out += ",\"reasons\":[";
    auto reasons = TreeShap::TopReasons(rows.values.data() + r * width,
                                        contributions.data() + r * (width + 1), width, explain);
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (i) out += ',';
      out += "{\"feature\":";
      AppendJsonString(out, model.encoder().feature(reasons[i].feature).name);
      out += ",\"value\":";
      model.AppendFeatureValue(out, reasons[i].feature, reasons[i].value,
                               LoadedModel::Digits::kForPeople);
      out += ",\"contribution\":";
      AppendJsonNumber(out, reasons[i].contribution);
      out += '}';
    }
    out += ']';
  };
  out += "{\"request_id\":";
  AppendJsonString(out, scored.request_id);
  out += ",\"endpoint\":";
  AppendJsonString(out, scored.endpoint);
  out += ",\"model\":";
  AppendJsonString(out, model.ref().model);
  out += ",\"version\":";
  out += std::to_string(model.ref().version);
  out += ",\"variant\":\"";
  out += scored.variant_name;
  out += "\",\"threshold\":";
  AppendJsonNumber(out, threshold);
  if (rows.batch) {
    out += ",\"predictions\":[";
    for (size_t r = 0; r < rows.rows; ++r) {
      out += r ? ",{\"request_id\":\"" : "{\"request_id\":\"";
      AppendJsonEscaped(out, scored.request_id);
      out += '-';
      out += std::to_string(r);
      out += "\",";
      append_row(r);
      out += '}';
    }
    out += "]}";
  } else {
    out += ',';
    append_row(0);
    out += '}';
  }
}

}  // namespace fraudops
