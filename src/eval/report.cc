#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/strings.h"

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

namespace {

constexpr int kWidth = 420, kHeight = 320;
constexpr int kLeft = 56, kRight = 16, kTop = 28, kBottom = 44;

std::string Num(double value, int digits = 4) {
  if (std::isnan(value)) return "–";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

/// A plot area mapping [x0,x1]x[y0,y1] to pixels, with axes, ticks and labels.
struct Plot {
  double x0, x1, y0, y1;
  bool log_y = false;
  double X(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double Y(double y) const {
    double t =
        log_y ? (std::log10(std::max(y, y0)) - std::log10(y0)) / (std::log10(y1) - std::log10(y0))
              : (y - y0) / (y1 - y0);
    return kHeight - kBottom - t * (kHeight - kTop - kBottom);
  }
};

std::string Frame(const Plot& plot, const std::string& title, const std::string& x_label,
                  const std::string& y_label, const std::vector<double>& x_ticks,
                  const std::vector<double>& y_ticks) {
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 " +
                    std::to_string(kWidth) + " " + std::to_string(kHeight) + "' width='" +
                    std::to_string(kWidth) + "' height='" + std::to_string(kHeight) +
                    "' role='img' aria-label='" + HtmlEscape(title) + "'>";
  svg += "<text x='" + std::to_string(kWidth / 2) + "' y='18' text-anchor='middle' class='t'>" +
         HtmlEscape(title) + "</text>";
  for (double x : x_ticks) {
    svg += "<line x1='" + Num(plot.X(x), 1) + "' x2='" + Num(plot.X(x), 1) + "' y1='" +
           Num(plot.Y(plot.y0), 1) + "' y2='" + Num(plot.Y(plot.y1), 1) + "' class='g'/>";
    svg += "<text x='" + Num(plot.X(x), 1) + "' y='" + std::to_string(kHeight - kBottom + 14) +
           "' text-anchor='middle'>" + FormatDouble(x, 3) + "</text>";
  }
  for (double y : y_ticks) {
    svg += "<line x1='" + Num(plot.X(plot.x0), 1) + "' x2='" + Num(plot.X(plot.x1), 1) + "' y1='" +
           Num(plot.Y(y), 1) + "' y2='" + Num(plot.Y(y), 1) + "' class='g'/>";
    svg += "<text x='" + std::to_string(kLeft - 6) + "' y='" + Num(plot.Y(y) + 4, 1) +
           "' text-anchor='end'>" + FormatDouble(y, 3) + "</text>";
  }
  svg += "<rect x='" + std::to_string(kLeft) + "' y='" + std::to_string(kTop) + "' width='" +
         std::to_string(kWidth - kLeft - kRight) + "' height='" +
         std::to_string(kHeight - kTop - kBottom) + "' class='f'/>";
  svg += "<text x='" + std::to_string(kWidth / 2) + "' y='" + std::to_string(kHeight - 8) +
         "' text-anchor='middle'>" + HtmlEscape(x_label) + "</text>";
  svg += "<text transform='translate(14 " + std::to_string(kHeight / 2) +
         ") rotate(-90)' text-anchor='middle'>" + HtmlEscape(y_label) + "</text>";
  return svg;
}

std::string Polyline(const Plot& plot, const std::vector<double>& xs, const std::vector<double>& ys,
                     const std::string& css_class) {
  std::string points;
  for (size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
    points += Num(plot.X(xs[i]), 1) + "," + Num(plot.Y(ys[i]), 1) + " ";
  }
  return "<polyline points='" + points + "' class='" + css_class + "'/>";
}

std::vector<double> Doubles(const nlohmann::json& array) {
  std::vector<double> out;
  for (const auto& value : array) out.push_back(value.get<double>());
  return out;
}

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b9c0cf}main{padding:20px 28px;max-width:1340px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600}
.pass{background:#d8f3dc;color:#1b5e20}.fail{background:#ffd6d6;color:#8e1b1b}
table{border-collapse:collapse;background:#fff;margin:8px 0 18px}td,th{padding:5px 12px;border-bottom:1px solid #e3e6eb;text-align:right}
th:first-child,td:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:14px}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:6px;padding:8px}
svg text{font-size:11px;fill:#333}svg .t{font-size:13px;font-weight:600}
svg .g{stroke:#eceff3}svg .f{fill:none;stroke:#9aa3b2}svg .d{stroke:#9aa3b2;stroke-dasharray:4 3;fill:none}
svg .l1{fill:none;stroke:#2f6fdd;stroke-width:2}svg .l2{fill:none;stroke:#d9480f;stroke-width:2}
svg .b1{fill:#2f6fdd;opacity:.75}svg .b2{fill:#d9480f;opacity:.75}
)";

}  // namespace

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

std::string SvgImportanceChart(const std::vector<std::pair<std::string, double>>& importance) {
  std::vector<std::pair<std::string, double>> top = importance;
  std::sort(top.begin(), top.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (top.size() > 15) top.resize(15);
  double total = 0, largest = 0;
  for (const auto& entry : importance) total += entry.second;
  for (const auto& entry : top) largest = std::max(largest, entry.second / std::max(total, 1e-300));
  const int row = 18, height = kTop + row * static_cast<int>(top.size()) + 16, label = 110;
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 " +
                    std::to_string(kWidth) + " " + std::to_string(height) + "' width='" +
                    std::to_string(kWidth) + "' height='" + std::to_string(height) +
                    "' role='img' aria-label='Feature importance'>";
  svg += "<text x='" + std::to_string(kWidth / 2) +
         "' y='18' text-anchor='middle' class='t'>Feature importance (share of total gain)</text>";
  for (size_t i = 0; i < top.size(); ++i) {
    double share = top[i].second / std::max(total, 1e-300);
    double width = largest > 0 ? share / largest * (kWidth - label - 70) : 0;
    int y = kTop + static_cast<int>(i) * row;
    svg += "<text x='" + std::to_string(label - 6) + "' y='" + std::to_string(y + 12) +
           "' text-anchor='end'>" + HtmlEscape(top[i].first) + "</text>";
    svg += "<rect x='" + std::to_string(label) + "' y='" + std::to_string(y + 2) + "' width='" +
           Num(width, 1) + "' height='" + std::to_string(row - 5) + "' class='b1'/>";
    svg += "<text x='" + Num(label + width + 4, 1) + "' y='" + std::to_string(y + 12) + "'>" +
           Num(share * 100, 1) + "%</text>";
  }
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
  html += "<div class='card'>" + SvgImportanceChart(input.feature_importance) + "</div>";
  html += "</div>";

  if (input.bias.is_object()) html += BiasSection(input.bias);

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
