#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/strings.h"
#include "eval/svg.h"

namespace fraudops {

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

using namespace svg;

std::string SvgRocChart(const nlohmann::json& curves) {
  Plot plot{0, 1, 0, 1};
  std::string svg = Frame(plot, "ROC curve (test)", "false-positive rate", "true-positive rate",
                          {0, 0.25, 0.5, 0.75, 1}, {0, 0.25, 0.5, 0.75, 1});
  svg += Polyline(plot, {0, 1}, {0, 1}, "d");
  svg += Polyline(plot, Doubles(curves["roc"]["fpr"]), Doubles(curves["roc"]["tpr"]), "l1");
  return svg + "</svg>";
}

std::string SvgPrChart(const nlohmann::json& curves, double positive_rate) {
  Plot plot{0, 1, 0, 1};
  std::string svg = Frame(plot, "Precision-recall curve (test)", "recall", "precision",
                          {0, 0.25, 0.5, 0.75, 1}, {0, 0.25, 0.5, 0.75, 1});
  svg += Polyline(plot, {0, 1}, {positive_rate, positive_rate}, "d");
  svg += Polyline(plot, Doubles(curves["pr"]["recall"]), Doubles(curves["pr"]["precision"]), "l2");
  return svg + "</svg>";
}

std::string SvgScoreHistogram(const nlohmann::json& curves) {
  const auto& histogram = curves["score_histogram"];
  std::vector<double> edges = Doubles(histogram["edges"]);
  std::vector<double> positive = Doubles(histogram["positive"]),
                      negative = Doubles(histogram["negative"]);
  double top = 1;
  for (double v : positive) top = std::max(top, v);
  for (double v : negative) top = std::max(top, v);
  double y1 = std::pow(10, std::ceil(std::log10(top)));
  Plot plot{0, 1, 0.5, y1, true};
  std::vector<double> y_ticks;
  for (double v = 1; v <= y1; v *= 10) y_ticks.push_back(v);
  std::string svg = Frame(plot, "Score distribution (test, log scale)", "score", "rows",
                          {0, 0.25, 0.5, 0.75, 1}, y_ticks);
  for (size_t i = 0; i + 1 < edges.size() && i < positive.size(); ++i) {
    double left = plot.X(edges[i]), width = plot.X(edges[i + 1]) - left;
    for (int cls = 0; cls < 2; ++cls) {
      double count = cls ? positive[i] : negative[i];
      if (count <= 0) continue;
      double half = width / 2 - 0.5;
      svg += "<rect x='" + Num(left + cls * width / 2, 1) + "' y='" + Num(plot.Y(count), 1) +
             "' width='" + Num(half, 1) + "' height='" + Num(plot.Y(plot.y0) - plot.Y(count), 1) +
             "' class='" + (cls ? "b2" : "b1") + "'><title>" + (cls ? "fraud " : "legitimate ") +
             FormatDouble(count, 10) + "</title></rect>";
    }
  }
  svg += "<rect x='" + std::to_string(kWidth - 150) +
         "' y='36' width='10' height='10' class='b1'/>"
         "<text x='" +
         std::to_string(kWidth - 136) +
         "' y='45'>legitimate</text>"
         "<rect x='" +
         std::to_string(kWidth - 150) +
         "' y='52' width='10' height='10' class='b2'/>"
         "<text x='" +
         std::to_string(kWidth - 136) + "' y='61'>fraud</text>";
  return svg + "</svg>";
}

std::string SvgReliability(const nlohmann::json& curves) {
  Plot plot{0, 1, 0, 1};
  std::string svg = Frame(plot, "Reliability diagram (test)", "mean score in the bin",
                          "observed fraud rate", {0, 0.25, 0.5, 0.75, 1}, {0, 0.25, 0.5, 0.75, 1});
  svg += Polyline(plot, {0, 1}, {0, 1}, "d");
  auto line = [&](const nlohmann::json& bins, const char* css, const char* name) {
    std::vector<double> xs, ys;
    std::string dots;
    for (const auto& bin : bins) {
      xs.push_back(bin.value("mean_predicted", 0.0));
      ys.push_back(bin.value("observed_rate", 0.0));
      dots += "<circle cx='" + Num(plot.X(xs.back()), 1) + "' cy='" + Num(plot.Y(ys.back()), 1) +
              "' r='3' class='" + std::string(css[1] == '1' ? "b1" : "b2") + "'><title>" + name +
              ": " + std::to_string(bin.value("count", 0)) + " rows, mean score " + Num(xs.back()) +
              ", observed " + Num(ys.back()) + "</title></circle>";
    }
    return Polyline(plot, xs, ys, css) + dots;
  };
  const bool before = curves.contains("calibration_uncalibrated");
  if (before) svg += line(curves["calibration_uncalibrated"], "l2", "model's probability");
  svg += line(curves["calibration"], "l1", before ? "calibrated score" : "score");
  if (before) {
    svg += "<rect x='" + std::to_string(kLeft + 10) +
           "' y='36' width='10' height='10' class='b1'/><text x='" + std::to_string(kLeft + 24) +
           "' y='45'>calibrated score</text><rect x='" + std::to_string(kLeft + 10) +
           "' y='52' width='10' height='10' class='b2'/><text x='" + std::to_string(kLeft + 24) +
           "' y='61'>model's probability</text>";
  }
  return svg + "</svg>";
}

namespace {

/// The finite values of a JSON array (nulls, missing values, left out).
std::vector<std::pair<size_t, double>> Finite(const nlohmann::json& array) {
  std::vector<std::pair<size_t, double>> out;
  for (size_t i = 0; i < array.size(); ++i) {
    if (array[i].is_number()) out.emplace_back(i, array[i].get<double>());
  }
  return out;
}

}  // namespace

std::string SvgImportanceChart(const std::vector<std::pair<std::string, double>>& importance) {
  return Bars("Feature importance (share of total gain)", importance, true);
}

std::string SvgShapSummary(const nlohmann::json& summary) {
  const nlohmann::json& names = summary["features"];
  double low = 0, high = 0;
  for (const auto& column : summary["shap"]) {
    for (const auto& [i, phi] : Finite(column)) {
      low = std::min(low, phi);
      high = std::max(high, phi);
    }
  }
  if (high <= low) high = low + 1;
  const int row = 26, label = 110, height = kTop + row * static_cast<int>(names.size()) + 30;
  const double x0 = label, x1 = kWidth - kRight;
  auto x = [&](double phi) { return x0 + (phi - low) / (high - low) * (x1 - x0); };
  std::string svg = Open(kWidth, height, "SHAP summary",
                         "SHAP summary (test rows; colour: the feature's value, low blue, high "
                         "red)");
  svg += "<line x1='" + Num(x(0), 1) + "' y1='" + std::to_string(kTop) + "' x2='" + Num(x(0), 1) +
         "' y2='" + std::to_string(height - 30) + "' class='d'/>";
  for (size_t k = 0; k < names.size(); ++k) {
    const int y = kTop + static_cast<int>(k) * row + row / 2;
    svg += "<text x='" + std::to_string(label - 6) + "' y='" + std::to_string(y + 4) +
           "' text-anchor='end'>" + HtmlEscape(names[k].get<std::string>()) + "</text>";
    const nlohmann::json& values = summary["values"][k];
    const nlohmann::json& phis = summary["shap"][k];
    // The feature's values as ranks (colour), missing values grey.
    std::vector<std::pair<size_t, double>> finite = Finite(values);
    std::vector<double> sorted;
    for (const auto& [i, v] : finite) sorted.push_back(v);
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < phis.size(); ++i) {
      if (!phis[i].is_number()) continue;
      std::string colour = "#999";
      if (values[i].is_number() && sorted.size() > 1) {
        const double rank = static_cast<double>(
            std::lower_bound(sorted.begin(), sorted.end(), values[i].get<double>()) -
            sorted.begin());
        colour = Heat(rank / static_cast<double>(sorted.size() - 1));
      }
      const double jitter = static_cast<double>((i * 2654435761u) % 17) - 8.0;  // fixed spread
      svg += "<circle cx='" + Num(x(phis[i].get<double>()), 1) + "' cy='" + Num(y + jitter, 1) +
             "' r='1.6' fill='" + colour + "' opacity='.7'/>";
    }
  }
  for (double tick : Ticks(low, high)) {
    svg += "<text x='" + Num(x(tick), 1) + "' y='" + std::to_string(height - 16) +
           "' text-anchor='middle'>" + Num(tick, 2) + "</text>";
  }
  svg += "<text x='" + Num((x0 + x1) / 2, 1) + "' y='" + std::to_string(height - 3) +
         "' text-anchor='middle'>SHAP value (contribution to the margin)</text>";
  return svg + "</svg>";
}

std::string SvgDependence(const nlohmann::json& summary, size_t k) {
  const std::string name = summary["features"][k].get<std::string>();
  const nlohmann::json& values = summary["values"][k];
  const nlohmann::json& phis = summary["shap"][k];
  std::vector<double> xs, ys;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_number() && phis[i].is_number()) {
      xs.push_back(values[i].get<double>());
      ys.push_back(phis[i].get<double>());
    }
  }
  double xlo = xs.empty() ? 0 : *std::min_element(xs.begin(), xs.end());
  double xhi = xs.empty() ? 1 : *std::max_element(xs.begin(), xs.end());
  double ylo = ys.empty() ? 0 : *std::min_element(ys.begin(), ys.end());
  double yhi = ys.empty() ? 1 : *std::max_element(ys.begin(), ys.end());
  if (xhi <= xlo) xhi = xlo + 1;
  if (yhi <= ylo) yhi = ylo + 1;
  const Plot plot{xlo, xhi, ylo, yhi};
  std::string svg =
      Frame(plot, "Dependence: " + name, name, "SHAP value", Ticks(xlo, xhi), Ticks(ylo, yhi));
  for (size_t i = 0; i < xs.size(); ++i) {
    svg += "<circle cx='" + Num(plot.X(xs[i]), 1) + "' cy='" + Num(plot.Y(ys[i]), 1) +
           "' r='1.8' class='b1'/>";
  }
  return svg + "</svg>";
}

std::string SvgPartialDependence(const nlohmann::json& entry) {
  const std::string name = entry.value("feature", "");
  const std::vector<double> grid = Doubles(entry["grid"]), mean = Doubles(entry["mean"]);
  double ylo = 1, yhi = 0;
  for (double p : mean) {
    ylo = std::min(ylo, p);
    yhi = std::max(yhi, p);
  }
  for (const auto& curve : entry["ice"]) {
    for (double p : Doubles(curve)) {
      ylo = std::min(ylo, p);
      yhi = std::max(yhi, p);
    }
  }
  if (yhi <= ylo) {
    ylo = std::max(0.0, ylo - 0.05);
    yhi = std::min(1.0, yhi + 0.05);
  }
  const double xlo = grid.empty() ? 0 : grid.front(), xhi = grid.size() > 1 ? grid.back() : xlo + 1;
  const Plot plot{xlo, xhi, ylo, yhi};
  std::string svg = Frame(plot, "Partial dependence: " + name + " (ICE in grey)", name,
                          "probability", Ticks(xlo, xhi), Ticks(ylo, yhi));
  for (const auto& curve : entry["ice"]) {
    std::string points;
    const std::vector<double> ps = Doubles(curve);
    for (size_t i = 0; i < ps.size() && i < grid.size(); ++i)
      points += Num(plot.X(grid[i]), 1) + "," + Num(plot.Y(ps[i]), 1) + " ";
    svg += "<polyline points='" + points + "' fill='none' stroke='#c4c9d2' stroke-width='1'/>";
  }
  svg += Polyline(plot, grid, mean, "l2");
  return svg + "</svg>";
}

namespace {

std::string BiasNumber(const nlohmann::json& value) {
  if (value.is_number()) return Num(value.get<double>());
  if (value.is_string()) return value.get<std::string>() == "inf" ? "∞" : "−∞";
  return "–";
}

/// The bias step's metrics (docs/bias.md): per facet, a table of pre-training metrics on the
/// training rows and post-training metrics on the test rows, with their intervals.
std::string BiasSection(const nlohmann::json& bias) {
  std::string html = "<h2>Bias</h2>";
  const nlohmann::json ours = bias.value("fraudops", nlohmann::json::object());
  for (const auto& reason : ours.value("reasons", nlohmann::json::array()))
    html += "<p class='verdict fail'>" + HtmlEscape(reason.get<std::string>()) + "</p>";
  for (const auto& [key, title] :
       {std::pair<const char*, const char*>{"pre_training_bias_metrics",
                                            "before training (labels of the training rows)"},
        {"post_training_bias_metrics", "after training (predictions on the test rows)"}}) {
    const nlohmann::json part = bias.value(key, nlohmann::json::object());
    const nlohmann::json by_column = part.value("facets", nlohmann::json::object());
    for (const auto& [column, facets] : by_column.items()) {
      for (const nlohmann::json& facet : facets) {
        const nlohmann::json& groups = facet["groups"];
        html += "<h3>" + HtmlEscape(facet.value("facet", column)) + " — " + title + "</h3>";
        html += "<p>d: " + std::to_string(groups["d"].value("rows", 0)) +
                " rows, a: " + std::to_string(groups["a"].value("rows", 0)) + " rows</p>";
        for (const auto& w : facet.value("warnings", nlohmann::json::array()))
          html += "<p>" + HtmlEscape(w.get<std::string>()) + "</p>";
        html += "<table><tr><th>metric</th><th>value</th><th>95 % interval</th></tr>";
        for (const nlohmann::json& metric : facet["metrics"]) {
          std::string interval = "–";
          if (metric.contains("interval")) {
            interval =
                BiasNumber(metric["interval"][0]) + " … " + BiasNumber(metric["interval"][1]);
          }
          const std::string value = metric.contains("error")
                                        ? "– (" + metric.value("error", "") + ")"
                                        : BiasNumber(metric["value"]);
          html += "<tr><td>" + HtmlEscape(metric.value("description", "")) + "</td><td>" +
                  HtmlEscape(value) + "</td><td>" + interval + "</td></tr>";
        }
        html += "</table>";
      }
    }
  }
  return html;
}

/// bias.mitigation's comparison (docs/bias.md): the quality of the models trained without
/// and with the weights on the test rows, and each facet's post-training metrics of both.
std::string MitigationSection(const nlohmann::json& mitigation) {
  std::string html = "<h2>Bias mitigation (" + HtmlEscape(mitigation.value("method", "")) +
                     "): before and after</h2><p>Before: the model trained without weights; "
                     "after: the model registered, trained with them. Both on the test rows, "
                     "each at its own threshold.</p>";
  const nlohmann::json& quality = mitigation["quality"];
  html += "<table><tr><th>metric</th><th>before</th><th>after</th><th>change</th></tr>";
  for (const char* key : {"roc_auc", "pr_auc", "recall_at_fpr_1pct", "threshold", "precision",
                          "recall", "f1", "amount_weighted_recall", "expected_calibration_error"}) {
    const nlohmann::json& b = quality["before"][key];
    const nlohmann::json& a = quality["after"][key];
    if (!b.is_number() || !a.is_number()) continue;
    html += "<tr><td>" + std::string(key) + "</td><td>" + Num(b.get<double>()) + "</td><td>" +
            Num(a.get<double>()) + "</td><td>" + Num(a.get<double>() - b.get<double>()) +
            "</td></tr>";
  }
  html += "</table>";
  for (const nlohmann::json& facet : mitigation["post_training_bias_metrics"]) {
    html += "<h3>" + HtmlEscape(facet.value("facet", "")) +
            " — after training, before and after mitigation</h3><table><tr><th>metric</th>"
            "<th>before</th><th>after</th></tr>";
    const nlohmann::json& before = facet["before"];
    const nlohmann::json& after = facet["after"];
    for (size_t m = 0; m < after.size() && m < before.size(); ++m) {
      html += "<tr><td>" + HtmlEscape(after[m].value("description", "")) + "</td><td>" +
              BiasNumber(before[m]["value"]) + "</td><td>" + BiasNumber(after[m]["value"]) +
              "</td></tr>";
    }
    html += "</table>";
  }
  return html;
}

}  // namespace

std::string RenderReport(const ReportInput& input) {
  std::string html = "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" +
                     HtmlEscape(input.title) + "</title><style>" + kStyle + "</style></head><body>";
  html += "<header><h1>" + HtmlEscape(input.title) + "</h1><p>execution " +
          HtmlEscape(input.execution_id) + " · algorithm " + HtmlEscape(input.algorithm) +
          "</p></header><main>";
  html += "<h2>Quality gate: <span class='verdict " +
          std::string(input.gate_passed ? "pass'>passed" : "fail'>failed") + "</span></h2>";
  if (!input.gate_reasons.empty()) {
    html += "<ul>";
    for (const std::string& reason : input.gate_reasons)
      html += "<li>" + HtmlEscape(reason) + "</li>";
    html += "</ul>";
  }

  html += "<h2>Metrics</h2><table><tr><th>metric</th><th>validation</th><th>test</th></tr>";
  const std::pair<const char*, const char*> rows[] = {
      {"roc_auc", "ROC AUC"},
      {"pr_auc", "PR AUC (average precision)"},
      {"log_loss", "log loss"},
      {"brier", "Brier score"},
      {"expected_calibration_error", "expected calibration error"},
      {"ks", "KS statistic"},
      {"recall_at_fpr_0_1pct", "recall at FPR 0.1 %"},
      {"recall_at_fpr_1pct", "recall at FPR 1 %"},
      {"threshold", "decision threshold"},
      {"precision", "precision at threshold"},
      {"recall", "recall at threshold"},
      {"f1", "F1 at threshold"},
      {"amount_weighted_recall", "share of fraud amount caught"}};
  for (const auto& row : rows) {
    const char* key = row.first;
    const char* name = row.second;
    auto cell = [&](const nlohmann::json& metrics) {
      return metrics.contains(key) && metrics[key].is_number() ? Num(metrics[key].get<double>())
                                                               : "–";
    };
    html += "<tr><td>" + std::string(name) + "</td><td>" + cell(input.validation_metrics) +
            "</td><td>" + cell(input.test_metrics) + "</td></tr>";
  }
  html += "</table>";
  if (input.calibration.is_object()) {  // docs/calibration.md
    const nlohmann::json& c = input.calibration;
    auto before = [&](const char* split, const char* key) {
      const nlohmann::json& value = c["uncalibrated"][split][key];
      return value.is_number() ? Num(value.get<double>()) : std::string("–");
    };
    html += "<p>Scores are calibrated (" + HtmlEscape(c.value("method", "")) + ", fitted on " +
            std::to_string(c.value("rows", 0)) +
            " validation rows); the model's own probabilities had: log loss " +
            before("validation", "log_loss") + " / " + before("test", "log_loss") +
            ", Brier score " + before("validation", "brier") + " / " + before("test", "brier") +
            ", expected calibration error " + before("validation", "expected_calibration_error") +
            " / " + before("test", "expected_calibration_error") + " (validation / test).</p>";
  }

  const auto& confusion = input.test_metrics["confusion"];
  html +=
      "<h2>Confusion matrix (test, at the threshold)</h2><table><tr><th></th><th>predicted "
      "fraud</th>"
      "<th>predicted legitimate</th></tr><tr><td>fraud</td><td>" +
      std::to_string(confusion.value("tp", 0)) + "</td><td>" +
      std::to_string(confusion.value("fn", 0)) + "</td></tr><tr><td>legitimate</td><td>" +
      std::to_string(confusion.value("fp", 0)) + "</td><td>" +
      std::to_string(confusion.value("tn", 0)) + "</td></tr></table>";

  double rows_count = input.test_metrics.value("rows", 1.0);
  double positive_rate = input.test_metrics.value("positives", 0.0) / std::max(rows_count, 1.0);
  html += "<h2>Charts</h2><div class='charts'>";
  html += "<div class='card'>" + SvgRocChart(input.test_curves) + "</div>";
  html += "<div class='card'>" + SvgPrChart(input.test_curves, positive_rate) + "</div>";
  html += "<div class='card'>" + SvgScoreHistogram(input.test_curves) + "</div>";
  html += "<div class='card'>" + SvgReliability(input.test_curves) + "</div>";
  html += "<div class='card'>" + SvgImportanceChart(input.feature_importance) + "</div>";
  html += "</div>";

  if (input.explanations.is_object()) {  // docs/explanations.md
    const nlohmann::json& e = input.explanations;
    std::vector<std::pair<std::string, double>> mean_abs;
    for (const auto& f : e["features"])
      mean_abs.emplace_back(f.value("feature", ""), f.value("mean_abs_shap", 0.0));
    html += "<h2>Explanations</h2><p>Exact TreeSHAP over " + std::to_string(e.value("rows", 0)) +
            " test rows; base value (expected margin) " + Num(e.value("base_value", 0.0)) +
            "; contributions add up to the margins within " +
            Num(e.value("max_additivity_error", 0.0), 2) + ".</p><div class='charts'>";
    html += "<div class='card'>" + Bars("Mean |SHAP| (test rows)", mean_abs, false) + "</div>";
    html += "<div class='card'>" + SvgShapSummary(e["summary"]) + "</div>";
    for (size_t k = 0; k < std::min<size_t>(4, e["summary"]["features"].size()); ++k)
      html += "<div class='card'>" + SvgDependence(e["summary"], k) + "</div>";
    for (const auto& entry : e["partial_dependence"])
      html += "<div class='card'>" + SvgPartialDependence(entry) + "</div>";
    html += "</div>";
    for (const auto& segment : e.value("segments", nlohmann::json::array())) {
      const nlohmann::json& in = segment["in"];
      const nlohmann::json& out = segment["out"];
      html += "<h3>Segment " + HtmlEscape(segment.value("segment", "")) + " (" +
              std::to_string(in.value("rows", 0)) + " rows) against the rest (" +
              std::to_string(out.value("rows", 0)) +
              " rows)</h3><table><tr><th>feature</th><th>mean |SHAP|, segment</th><th>mean "
              "|SHAP|, rest</th><th>mean SHAP, segment</th><th>mean SHAP, rest</th></tr>";
      const size_t shown = std::min<size_t>(in["features"].size(), 10);
      for (size_t k = 0; k < shown && k < out["features"].size(); ++k) {
        const nlohmann::json& a = in["features"][k];
        const nlohmann::json& b = out["features"][k];
        html += "<tr><td>" + HtmlEscape(a.value("feature", "")) + "</td><td>" +
                Num(a.value("mean_abs_shap", 0.0)) + "</td><td>" +
                Num(b.value("mean_abs_shap", 0.0)) + "</td><td>" + Num(a.value("mean_shap", 0.0)) +
                "</td><td>" + Num(b.value("mean_shap", 0.0)) + "</td></tr>";
      }
      html += "</table>";
    }
  }
  if (input.bias.is_object()) html += BiasSection(input.bias);
  if (input.mitigation.is_object()) html += MitigationSection(input.mitigation);

  html += "<h2>Data</h2><table><tr><th>split</th><th>rows</th><th>fraud rows</th></tr>";
  for (const char* split : {"train", "validation", "test"}) {
    if (!input.data_summary.contains(split)) continue;
    const auto& part = input.data_summary[split];
    html += "<tr><td>" + std::string(split) + "</td><td>" + std::to_string(part.value("rows", 0)) +
            "</td><td>" + std::to_string(part.value("positives", 0)) + "</td></tr>";
  }
  html += "</table>";
  if (input.data_summary.contains("content_hash")) {
    html += "<p>data content hash (SHA-256): <code>" +
            HtmlEscape(input.data_summary["content_hash"].get<std::string>()) + "</code></p>";
  }
  if (input.data_summary.contains("data_validation")) {  // docs/data-validation.md
    const auto& validation = input.data_summary["data_validation"];
    html += "<h2>Data validation</h2>";
    const auto& excluded = validation["excluded"];
    if (!excluded.empty()) {
      html += "<p>Columns left out of the features:</p><table><tr><th>column</th><th>why</th></tr>";
      for (const auto& e : excluded) {
        html += "<tr><td>" + HtmlEscape(e.value("name", "")) + "</td><td>" +
                HtmlEscape(e.value("reason", "")) + "</td></tr>";
      }
      html += "</table>";
    }
    if (validation["warnings"].empty()) {
      html += "<p>No warnings.</p>";
    } else {
      html += "<ul>";
      for (const auto& w : validation["warnings"])
        html += "<li>" + HtmlEscape(w.get<std::string>()) + "</li>";
      html += "</ul>";
    }
  }
  html += "</main></body></html>\n";
  return html;
}

}  // namespace fraudops
