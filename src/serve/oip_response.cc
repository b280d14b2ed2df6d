#include "serve/oip_response.h"

#include "core/strings.h"

namespace fraudops {

using Json = nlohmann::json;

void EncodeInferResponse(const ScoredRows& scored, std::string& out) {
  const LoadedModel& model = *scored.model;
  const ParsedRows& rows = *scored.rows;
  const double threshold = model.threshold();
  const std::string count = std::to_string(rows.rows);
  out += "{\"model_name\":";
  AppendJsonString(out, scored.endpoint);
  out += ",\"model_version\":\"";
  out += std::to_string(model.ref().version);
  out += "\",\"id\":";
  AppendJsonString(out, rows.id.empty() ? scored.request_id : std::string_view(rows.id));
  out += ",\"parameters\":{\"request_id\":";
  AppendJsonString(out, scored.request_id);
  out += ",\"model\":";
  AppendJsonString(out, model.ref().model);
  out += ",\"variant\":\"";
  out += scored.variant_name;
  out += "\",\"threshold\":";
  AppendJsonNumber(out, threshold);
  out += "},\"outputs\":[{\"name\":\"score\",\"datatype\":\"FP64\",\"shape\":[" + count +
         "],\"data\":[";
  for (size_t r = 0; r < rows.rows; ++r) {
    if (r) out += ',';
    AppendJsonNumber(out, scored.scores[r]);
  }
  out += "]},{\"name\":\"label\",\"datatype\":\"INT64\",\"shape\":[" + count + "],\"data\":[";
  for (size_t r = 0; r < rows.rows; ++r) {
    if (r) out += ',';
    out += scored.scores[r] >= threshold ? '1' : '0';
  }
  out += "]}";
  if (scored.decisions) {  // the decision policy's, as BYTES tensors
    for (const bool rule : {false, true}) {
      out += rule ? ",{\"name\":\"rule\"" : ",{\"name\":\"decision\"";
      out += ",\"datatype\":\"BYTES\",\"shape\":[" + count + "],\"data\":[";
      for (size_t r = 0; r < rows.rows; ++r) {
        if (r) out += ',';
        AppendJsonString(out, rule ? scored.decisions[r].rule : scored.decisions[r].decision);
      }
      out += "]}";
    }
  }
  out += "]}";
}

Json InferModelMetadata(const std::string& name, const EndpointSnapshot& endpoint) {
  const LoadedModel& m = *endpoint.production;
  Json versions = Json::array({std::to_string(m.ref().version)});
  if (endpoint.canary) versions.push_back(std::to_string(endpoint.canary->ref().version));
  const std::string dtype = m.bundle().input.dtype == "float64" ? "FP64" : "FP32";
  Json inputs = Json::array();
  for (const FeatureSpec& f : m.bundle().input.features) {
    if (!f.derived.empty()) continue;  // computed by the server, not sent
    inputs.push_back({{"name", f.name},
                      {"datatype", f.categorical && !f.categories.empty() ? "BYTES" : dtype},
                      {"shape", {-1}}});
  }
  Json outputs = Json::array({{{"name", "score"}, {"datatype", "FP64"}, {"shape", {-1}}},
                              {{"name", "label"}, {"datatype", "INT64"}, {"shape", {-1}}}});
  if (m.policy()) {
    outputs.push_back({{"name", "decision"}, {"datatype", "BYTES"}, {"shape", {-1}}});
    outputs.push_back({{"name", "rule"}, {"datatype", "BYTES"}, {"shape", {-1}}});
  }
  return {{"name", name},
          {"versions", versions},
          {"platform", "fraudops_" + m.bundle().algorithm},
          {"inputs", inputs},
          {"outputs", outputs},
          {"parameters",
           {{"model", m.ref().model},
            {"threshold", m.threshold()},
            {"tensor_input",
             {{"name", "input-0"},
              {"datatype", dtype},
              {"shape", {-1, static_cast<int64_t>(inputs.size())}}}}}}};
}

}  // namespace fraudops
