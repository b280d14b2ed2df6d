#include "pipeline/model_card.h"

#include <algorithm>
#include <map>
#include <vector>

#include "core/strings.h"
#include "eval/report.h"

namespace fraudops {
namespace {

using Json = nlohmann::json;

/// The run's artifacts by name, read back through their checksums on demand.
class RunFiles {
 public:
  RunFiles(ArtifactStore& artifacts, const RunRecord& run) : artifacts_(artifacts), run_(run) {}
  /// The artifact `name` parsed as JSON; null when the run has none (a step that did not run).
  Result<nlohmann::json> Read(const std::string& name) const {
    for (const ArtifactRecord& a : run_.artifacts) {
      if (a.name != name) continue;
      FOPS_ASSIGN_OR_RETURN(const std::string text, artifacts_.Read(a.uri, a.sha256));
      nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
      if (parsed.is_discarded()) return Status::DataError(a.uri + ": not JSON");
      return parsed;
    }
    return nlohmann::json();
  }

 private:
  ArtifactStore& artifacts_;
  const RunRecord& run_;
};

const Json& At(const Json& json, const char* key) {
  static const Json kNull;
  if (!json.is_object()) return kNull;
  auto it = json.find(key);
  return it == json.end() ? kNull : *it;
}

Json DataSection(const Json& config, const Json& raw, const Json& validation, const Json& split,
                 const RunRecord& run) {
  Json data = {{"source", At(raw, "source")},
               {"kind", At(raw, "kind")},
               {"content_hash", At(raw, "content_hash")},
               {"rows", At(raw, "rows")},
               {"positives", At(raw, "positives")}};
  const Json& time_column = At(At(config, "preprocess"), "time_column");
  data["time_column"] = time_column;
  data["time_range"] = nullptr;
  for (const Json& column : At(validation, "columns")) {
    if (time_column.is_string() && At(column, "name") == time_column)
      data["time_range"] = {{"min", At(column, "min")}, {"max", At(column, "max")}};
  }
  data["split"] = {{"method", At(split, "method")},
                   {"ratios", At(split, "ratios")},
                   {"seed", At(split, "seed")},
                   {"sets", At(split, "splits")}};
  data["datasets"] = Json::array();
  for (const DatasetRecord& d : run.datasets) {
    data["datasets"].push_back({{"role", d.role},
                                {"source", d.source},
                                {"rows", d.rows},
                                {"content_hash", d.content_hash}});
  }
  data["validation"] = {{"excluded", At(validation, "excluded")},
                        {"warnings", At(validation, "warnings")},
                        {"duplicate_rows", At(validation, "duplicate_rows")}};
  return data;
}

/// The test and validation metrics, each with its bootstrap interval where there is one.
Json EvaluationSection(const Json& metrics, const Json& gate) {
  Json out = {{"threshold", At(At(metrics, "test"), "threshold")},
              {"threshold_method", At(metrics, "threshold_method")},
              {"intervals", At(At(metrics, "intervals"), "test")},
              {"gate", gate},
              {"champion_gate", At(metrics, "champion_gate")}};
  for (const char* split : {"validation", "test"}) {
    Json values = Json::object();
    for (const auto& [name, value] : At(metrics, split).items()) {
      if (value.is_number()) values[name] = value;
    }
    out[split] = values;
  }
  return out;
}

Json BiasSection(const Json& bias, const Json& mitigation) {
  if (bias.is_null()) return nullptr;
  Json facets = Json::array();
  for (const auto& [column, list] : At(At(bias, "post_training_bias_metrics"), "facets").items()) {
    for (const Json& facet : list) {
      Json metrics = Json::object();
      for (const Json& m : At(facet, "metrics")) {
        metrics[At(m, "name").get<std::string>()] = {{"value", At(m, "value")},
                                                     {"interval", At(m, "interval")}};
      }
      facets.push_back({{"facet", At(facet, "facet")},
                        {"groups", At(facet, "groups")},
                        {"post_training", metrics},
                        {"warnings", At(facet, "warnings")}});
    }
  }
  const Json& ours = At(bias, "fraudops");
  Json out = {{"facets", facets},
              {"checks", At(ours, "checks")},
              {"reasons", At(ours, "reasons")},
              {"mitigation", nullptr}};
  if (mitigation.is_object()) {
    Json quality = Json::object();
    for (const char* key : {"roc_auc", "pr_auc", "recall", "precision", "f1"}) {
      quality[key] = {{"before", At(At(At(mitigation, "quality"), "before"), key)},
                      {"after", At(At(At(mitigation, "quality"), "after"), key)}};
    }
    out["mitigation"] = {{"method", At(mitigation, "method")}, {"quality", quality}};
  }
  return out;
}

/// What the card finds itself to caution against, beside the owners' limitations.
std::vector<std::string> FoundLimitations(const Json& card, const Json& config) {
  std::vector<std::string> out;
  const Json& data = card["data"];
  if (data["kind"] == "synthetic") {
    out.push_back(
        "Trained and evaluated on synthetic data: its metrics say nothing about real "
        "transactions.");
  }
  const Json& test = card["evaluation"]["test"];
  if (test.contains("positives") && test["positives"].is_number() &&
      test["positives"].get<double>() < 100) {
    out.push_back("Only " + FormatDouble(test["positives"].get<double>(), 10) +
                  " fraud rows in the test set: its metrics are uncertain (see the intervals).");
  }
  if (card["bias"].is_null()) {
    out.push_back(
        "No bias analysis was configured (bias.facets): how it treats groups of customers is "
        "not assessed.");
  } else {
    for (const Json& facet : card["bias"]["facets"]) {
      for (const Json& warning : facet["warnings"])
        out.push_back("Bias, facet " + facet["facet"].get<std::string>() + ": " +
                      warning.get<std::string>());
    }
  }
  if (card["calibration"].is_null()) {
    out.push_back(
        "Scores are not calibrated (evaluate.calibration: none): read them as a ranking; "
        "see the expected calibration error before reading them as probabilities.");
  }
  if (At(At(config, "register"), "champion_gate") == false)
    out.push_back("The champion gate was off: it was not compared with the model in production.");
  const size_t warnings = data["validation"]["warnings"].size();
  if (warnings > 0)
    out.push_back(std::to_string(warnings) + " data validation warning(s): see Data.");
  return out;
}

std::string Cell(const Json& value) {
  if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) return "–";
  if (value.is_number_float()) return FormatDouble(value.get<double>(), 4);
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string Interval(const Json& interval) {
  if (!interval.is_array() || interval.size() != 2) return "–";
  return Cell(interval[0]) + " … " + Cell(interval[1]);
}

/// `|` inside a table cell would end it.
std::string TableText(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

/// Inline Markdown of the card (backticks only) as HTML.
std::string InlineHtml(const std::string& text) {
  std::string out;
  bool code = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '|') {
      out += '|';
      ++i;
    } else {
      out += HtmlEscape(std::string_view(&text[i], 1));
    }
  }
  if (code) out += "</code>";
  return out;
}

/// The cells of a Markdown table row, `\|` kept inside a cell.
std::vector<std::string> RowCells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cell += "\\|";
      ++i;
    } else if (line[i] == '|') {
      cells.emplace_back(Trim(cell));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return cells;
}

}  // namespace

Result<nlohmann::json> BuildModelCard(MetadataStore& store, ArtifactStore& artifacts,
                                      const ModelVersion& version,
                                      const std::string& generated_at) {
  FOPS_ASSIGN_OR_RETURN(const RunRecord run, store.GetRun(version.run_id));
  const RunFiles files(artifacts, run);
  FOPS_ASSIGN_OR_RETURN(const Json config, files.Read("config.json"));
  FOPS_ASSIGN_OR_RETURN(const Json raw, files.Read("raw/manifest.json"));
  FOPS_ASSIGN_OR_RETURN(const Json validation, files.Read("raw/validation.json"));
  FOPS_ASSIGN_OR_RETURN(const Json split, files.Read("processed/manifest.json"));
  FOPS_ASSIGN_OR_RETURN(const Json training, files.Read("model/training.json"));
  FOPS_ASSIGN_OR_RETURN(const Json bundle, files.Read("model/bundle.json"));
  FOPS_ASSIGN_OR_RETURN(const Json metrics, files.Read("evaluation/metrics.json"));
  FOPS_ASSIGN_OR_RETURN(const Json gate, files.Read("evaluation/gate.json"));
  FOPS_ASSIGN_OR_RETURN(const Json bias, files.Read("evaluation/bias.json"));
  FOPS_ASSIGN_OR_RETURN(const Json mitigation, files.Read("evaluation/mitigation.json"));
  FOPS_ASSIGN_OR_RETURN(const Json explanations, files.Read("evaluation/explanations.json"));
  const Json& card_config = At(config, "card");

  Json card = {{"format", "fraudops-model-card/1"}, {"generated_at", generated_at}};
  card["model"] = {{"name", version.model},
                   {"version", version.version},
                   {"algorithm", version.algorithm},
                   {"created_at", version.created_at},
                   {"description", version.description},
                   {"owner", At(card_config, "owner")},
                   {"run_id", version.run_id},
                   {"pipeline", run.experiment},
                   {"code_version", run.code_version},
                   {"trained_by", run.user + "@" + run.host},
                   {"bundle_uri", version.bundle_uri},
                   {"bundle_format", At(bundle, "format_version")},
                   {"model_sha256", At(bundle, "model_sha256")},
                   {"data_hash", version.data_hash}};
  card["intended_use"] = At(card_config, "intended_use");
  card["data"] = DataSection(config, raw, validation, split, run);
  const Json& input = At(bundle, "input");
  std::vector<Json> gains;
  for (const Json& entry : At(training, "feature_importance")) gains.push_back(entry);
  std::stable_sort(gains.begin(), gains.end(), [](const Json& a, const Json& b) {
    return At(a, "total_gain").get<double>() > At(b, "total_gain").get<double>();
  });
  Json importance = Json::array();
  for (size_t i = 0; i < gains.size() && i < 10; ++i) importance.push_back(gains[i]);
  card["features"] = {{"inputs", At(input, "features")},
                      {"ignored", At(input, "ignored")},
                      {"importance", importance}};
  card["training"] = {{"parameters", At(training, "parameters")},
                      {"rounds_trained", At(training, "rounds_trained")},
                      {"best_round", At(training, "best_round")},
                      {"early_stopping_metric", At(training, "early_stopping_metric")},
                      {"seconds", At(training, "seconds")}};
  card["evaluation"] = EvaluationSection(metrics, gate);
  card["calibration"] = nullptr;
  if (At(bundle, "calibration").is_object()) {
    card["calibration"] = At(metrics, "calibration");
    card["calibration"]["method"] = At(At(bundle, "calibration"), "method");
  }
  card["bias"] = BiasSection(bias, mitigation);
  card["explanations"] = nullptr;
  if (explanations.is_object()) {
    Json top = Json::array();
    for (const Json& f : At(explanations, "features")) {
      if (top.size() < 10)
        top.push_back({{"feature", At(f, "feature")}, {"mean_abs_shap", At(f, "mean_abs_shap")}});
    }
    card["explanations"] = {{"rows", At(explanations, "rows")},
                            {"base_value", At(explanations, "base_value")},
                            {"top_features", top}};
  }
  std::vector<std::string> limitations;
  for (const Json& text : At(card_config, "limitations"))
    limitations.push_back(text.get<std::string>());
  for (std::string& found : FoundLimitations(card, config)) limitations.push_back(std::move(found));
  card["limitations"] = limitations;

  FOPS_ASSIGN_OR_RETURN(const std::vector<AuditEntry> audit, store.Audit(version.model));
  Json entries = Json::array(), deployments = Json::array();
  for (const AuditEntry& entry : audit) {
    if (entry.version != version.version) continue;
    entries.push_back(entry.ToJson());
    if (entry.action == "deployed" || entry.action == "rolled_back" ||
        entry.action == "shadow_removed" || entry.action == "ab_concluded")
      deployments.push_back(entry.ToJson());
  }
  const Json listed = version.ToJson();
  card["governance"] = {{"approval", version.approval},
                        {"approved_by_rule", version.ApprovedByRule()},
                        {"approval_by", version.approval_by},
                        {"approval_at", version.approval_at},
                        {"approval_reason", version.approval_reason},
                        {"aliases", version.aliases},
                        {"archived", version.archived},
                        {"policy_sha256", At(listed, "policy_sha256")},
                        {"deployments", deployments},
                        {"audit", entries}};
  const Json& monitor = At(config, "monitor");
  card["monitoring"] = {
      {"drift",
       {{"psi_threshold", At(monitor, "psi_threshold")},
        {"ks_threshold", At(monitor, "ks_threshold")},
        {"psi_thresholds", At(monitor, "psi_thresholds")},
        {"ks_thresholds", At(monitor, "ks_thresholds")},
        {"window", At(monitor, "window")},
        {"min_rows", At(monitor, "min_rows")},
        {"serve_interval", At(monitor, "serve_interval")}}},
      {"quality",
       {{"label_maturity", At(monitor, "label_maturity")},
        {"window", At(monitor, "quality_window")},
        {"min_labels", At(monitor, "min_labels")},
        {"min_roc_auc", At(monitor, "min_roc_auc")},
        {"min_metrics", At(monitor, "min_metrics")},
        {"max_alert_rate", At(monitor, "max_alert_rate")}}},
      {"alerts_to_webhook", At(monitor, "webhook_url").is_string() &&
                                !At(monitor, "webhook_url").get<std::string>().empty()}};
  return card;
}

std::string ModelCardMarkdown(const nlohmann::json& card) {
  const Json& model = card["model"];
  std::string md = "# Model card: " + Cell(model["name"]) + "@" + Cell(model["version"]) + "\n\n";
  md += "Generated " + Cell(card["generated_at"]) + " by fraudops (" + Cell(card["format"]) +
        ").\n\n";
  md += "## Model\n\n| | |\n| --- | --- |\n";
  for (const char* key :
       {"algorithm", "created_at", "description", "owner", "run_id", "pipeline", "code_version",
        "trained_by", "bundle_uri", "bundle_format", "model_sha256", "data_hash"}) {
    md += "| " + std::string(key) + " | " + TableText(Cell(model[key])) + " |\n";
  }
  md += "\n## Intended use\n\n" + Cell(card["intended_use"]) + "\n\n";

  const Json& data = card["data"];
  md += "## Data\n\n| | |\n| --- | --- |\n";
  for (const char* key : {"source", "kind", "content_hash", "rows", "positives", "time_column"})
    md += "| " + std::string(key) + " | " + TableText(Cell(data[key])) + " |\n";
  if (data["time_range"].is_object()) {
    md += "| time range | " + Cell(data["time_range"]["min"]) + " … " +
          Cell(data["time_range"]["max"]) + " |\n";
  }
  md += "| split | " + Cell(data["split"]["method"]) + ", seed " + Cell(data["split"]["seed"]) +
        " |\n\n| dataset | rows | content hash |\n| --- | --- | --- |\n";
  for (const Json& d : data["datasets"]) {
    md += "| " + Cell(d["role"]) + " | " + Cell(d["rows"]) + " | `" + Cell(d["content_hash"]) +
          "` |\n";
  }
  md += "\nValidation: " + std::to_string(data["validation"]["excluded"].size()) +
        " column(s) left out of the features, " +
        std::to_string(data["validation"]["warnings"].size()) + " warning(s).\n";
  for (const Json& e : data["validation"]["excluded"])
    md += "- excluded `" + Cell(e["name"]) + "`: " + Cell(e["reason"]) + "\n";
  for (const Json& w : data["validation"]["warnings"]) md += "- warning: " + Cell(w) + "\n";

  const Json& features = card["features"];
  md += "\n## Features\n\n" + std::to_string(features["inputs"].size()) + " features";
  if (!features["ignored"].is_null() && !features["ignored"].empty())
    md += "; ignored inputs: `" + Cell(features["ignored"]) + "`";
  md += ".\n\n| feature | type | derived from / store feature |\n| --- | --- | --- |\n";
  for (const Json& f : features["inputs"]) {
    const std::string origin = f.contains("derived")   ? Cell(f["derived"])
                               : f.contains("feature") ? Cell(f["feature"])
                                                       : "";
    md += "| `" + Cell(f["name"]) + "` | " + Cell(f["type"]) + " | " + TableText(origin) + " |\n";
  }
  md += "\nTop features by total gain:\n\n";
  for (const Json& f : features["importance"])
    md += "- `" + Cell(f["feature"]) + "`: " + Cell(f["total_gain"]) + "\n";

  const Json& training = card["training"];
  md += "\n## Training\n\n" + Cell(training["rounds_trained"]) + " rounds trained, best round " +
        Cell(training["best_round"]) + " (" + Cell(training["early_stopping_metric"]) + "), " +
        Cell(training["seconds"]) + " s.\n\nParameters: `" + Cell(training["parameters"]) + "`\n";

  const Json& evaluation = card["evaluation"];
  md += "\n## Metrics\n\nThreshold " + Cell(evaluation["threshold"]) + " (" +
        Cell(evaluation["threshold_method"]) +
        "). Intervals: " + Cell(evaluation["intervals"]["confidence"]) + " " +
        Cell(evaluation["intervals"]["method"]) + " over the test rows.\n\n" +
        "| metric | validation | test | test interval |\n| --- | --- | --- | --- |\n";
  for (const auto& [name, value] : evaluation["test"].items()) {
    md += "| " + name + " | " + Cell(evaluation["validation"].value(name, Json())) + " | " +
          Cell(value) + " | " + Interval(evaluation["intervals"].value(name, Json())) + " |\n";
  }
  md += "\nGate: " + std::string(evaluation["gate"].value("passed", false) ? "passed" : "failed") +
        ".\n";
  for (const Json& check : evaluation["gate"].value("checks", Json::array()))
    md += "- " + Cell(check) + "\n";
  for (const Json& reason : evaluation["gate"].value("reasons", Json::array()))
    md += "- failed: " + Cell(reason) + "\n";

  md += "\n## Calibration\n\n";
  if (card["calibration"].is_null()) {
    md += "Not calibrated. Expected calibration error (test): " +
          Cell(evaluation["test"].value("expected_calibration_error", Json())) + ".\n";
  } else {
    const Json& c = card["calibration"];
    md += "Calibrated (" + Cell(c["method"]) + ", fitted on " + Cell(c["rows"]) +
          " validation rows). Expected calibration error (test): " +
          Cell(c["uncalibrated"]["test"]["expected_calibration_error"]) + " before, " +
          Cell(evaluation["test"].value("expected_calibration_error", Json())) + " after.\n";
  }

  md += "\n## Bias\n\n";
  if (card["bias"].is_null()) {
    md += "No bias analysis was configured.\n";
  } else {
    for (const Json& facet : card["bias"]["facets"]) {
      md += "Facet `" + Cell(facet["facet"]) + "` (d: " + Cell(facet["groups"]["d"]["rows"]) +
            " rows, a: " + Cell(facet["groups"]["a"]["rows"]) +
            " rows), after training:\n\n| metric | value | interval |\n| --- | --- | --- |\n";
      for (const auto& [name, m] : facet["post_training"].items())
        md += "| " + name + " | " + Cell(m["value"]) + " | " + Interval(m["interval"]) + " |\n";
      md += "\n";
    }
    for (const Json& check : card["bias"]["checks"]) md += "- " + Cell(check) + "\n";
    for (const Json& reason : card["bias"]["reasons"]) md += "- failed: " + Cell(reason) + "\n";
    if (card["bias"]["mitigation"].is_object()) {
      const Json& mitigation = card["bias"]["mitigation"];
      md += "\nMitigated by " + Cell(mitigation["method"]) +
            " (test rows, before → after):\n\n| metric | before | after |\n| --- | --- | --- |\n";
      for (const auto& [name, m] : mitigation["quality"].items())
        md += "| " + name + " | " + Cell(m["before"]) + " | " + Cell(m["after"]) + " |\n";
    }
  }

  md += "\n## Explanations\n\n";
  if (card["explanations"].is_null()) {
    md += "No global explanation was computed (explain.enabled).\n";
  } else {
    md += "Exact TreeSHAP over " + Cell(card["explanations"]["rows"]) +
          " test rows; mean |SHAP| (log-odds):\n\n";
    for (const Json& f : card["explanations"]["top_features"])
      md += "- `" + Cell(f["feature"]) + "`: " + Cell(f["mean_abs_shap"]) + "\n";
  }

  md += "\n## Limitations and caveats\n\n";
  for (const Json& text : card["limitations"]) md += "- " + Cell(text) + "\n";

  const Json& governance = card["governance"];
  md += "\n## Approvals and deployments\n\nApproval: **" + Cell(governance["approval"]) + "**";
  if (governance["approved_by_rule"].get<bool>()) {
    md += " (by rule: register.approval auto)";
  } else if (!governance["approval_by"].get<std::string>().empty()) {
    md += " by " + Cell(governance["approval_by"]) + " at " + Cell(governance["approval_at"]);
  }
  md += ". Aliases: " +
        (governance["aliases"].empty()
             ? std::string("none")
             : Join(governance["aliases"].get<std::vector<std::string>>(), ", ")) +
        ". Decision policy: " +
        (governance["policy_sha256"].is_null() ? "none"
                                               : "`" + Cell(governance["policy_sha256"]) + "`") +
        ".\n\n| at | action | actor | details |\n| --- | --- | --- | --- |\n";
  for (const Json& entry : governance["audit"]) {
    md += "| " + Cell(entry["at"]) + " | " + Cell(entry["action"]) + " | " +
          TableText(Cell(entry["actor"])) + " | `" + TableText(entry["details"].dump()) + "` |\n";
  }

  const Json& monitoring = card["monitoring"];
  md += "\n## Monitoring plan\n\n- drift: PSI above " + Cell(monitoring["drift"]["psi_threshold"]) +
        " or KS above " + Cell(monitoring["drift"]["ks_threshold"]) + " per feature (overrides `" +
        Cell(monitoring["drift"]["psi_thresholds"]) + "`), over " +
        Cell(monitoring["drift"]["window"]) + " windows of at least " +
        Cell(monitoring["drift"]["min_rows"]) + " rows, checked by the server every " +
        Cell(monitoring["drift"]["serve_interval"]) +
        "\n- quality from delayed labels (mature after " +
        Cell(monitoring["quality"]["label_maturity"]) + ", over " +
        Cell(monitoring["quality"]["window"]) + ", at least " +
        Cell(monitoring["quality"]["min_labels"]) + " labels): ROC AUC at least " +
        Cell(monitoring["quality"]["min_roc_auc"]) + ", other minimums `" +
        Cell(monitoring["quality"]["min_metrics"]) + "`\n- alerts " +
        (monitoring["alerts_to_webhook"].get<bool>() ? "sent to the configured webhook"
                                                     : "in the monitor's report (no webhook)") +
        "\n";
  return md;
}

std::string ModelCardHtml(const nlohmann::json& card) {
  const std::string md = ModelCardMarkdown(card);
  std::string html =
      "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Model card " +
      HtmlEscape(Cell(card["model"]["name"]) + "@" + Cell(card["model"]["version"])) +
      "</title><style>body{font:14px/1.5 system-ui,sans-serif;max-width:1100px;margin:24px auto;"
      "padding:0 20px;color:#1d2330}table{border-collapse:collapse;margin:8px 0}td,th{border-"
      "bottom:1px solid #e3e6eb;padding:4px 10px;text-align:left;vertical-align:top}code{font-"
      "size:12px;word-break:break-all}</style></head><body>\n";
  bool in_list = false, in_table = false, header_row = false;
  auto close = [&] {
    if (in_list) html += "</ul>\n";
    if (in_table) html += "</table>\n";
    in_list = in_table = false;
  };
  for (const std::string& raw_line : Split(md, '\n')) {
    const std::string line = raw_line;
    if (StartsWith(line, "| ")) {
      if (!in_table) {
        close();
        html += "<table>";
        in_table = header_row = true;
      }
      const std::vector<std::string> cells = RowCells(line);
      if (!cells.empty() && cells[0] == "---") continue;  // the separator row
      const char* tag = header_row ? "th" : "td";
      html += "<tr>";
      for (const std::string& cell : cells) {
        std::string inner = InlineHtml(cell);
        html += std::string("<") + tag + ">" + inner + "</" + tag + ">";
      }
      html += "</tr>";
      header_row = false;
      continue;
    }
    if (StartsWith(line, "- ")) {
      if (!in_list) {
        close();
        html += "<ul>";
        in_list = true;
      }
      html += "<li>" + InlineHtml(line.substr(2)) + "</li>";
      continue;
    }
    close();
    if (StartsWith(line, "## ")) {
      html += "<h2>" + InlineHtml(line.substr(3)) + "</h2>\n";
    } else if (StartsWith(line, "# ")) {
      html += "<h1>" + InlineHtml(line.substr(2)) + "</h1>\n";
    } else if (!line.empty()) {
      std::string text = InlineHtml(line);
      for (size_t at; (at = text.find("**")) != std::string::npos;) {  // **bold**
        const size_t end = text.find("**", at + 2);
        if (end == std::string::npos) break;
        text = text.substr(0, at) + "<strong>" + text.substr(at + 2, end - at - 2) + "</strong>" +
               text.substr(end + 2);
      }
      html += "<p>" + text + "</p>\n";
    }
  }
  close();
  return html + "</body></html>\n";
}

}  // namespace fraudops
