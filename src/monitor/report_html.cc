// report.html of a monitor pass: self-contained (inline CSS and SVG, no scripts).

#include <algorithm>

#include "core/strings.h"
#include "eval/report.h"
#include "monitor/monitor.h"

namespace fraudops {

namespace {

std::string Num(double value, int digits = 4) { return FormatDouble(value, digits); }

/// Grouped bars: baseline (grey) and live (blue, red when the column is over a threshold).
std::string ShareChart(const ColumnDrift& column) {
  const size_t bins = column.expected_shares.size();
  const int width = std::max<int>(320, static_cast<int>(bins) * 28 + 60), height = 170, left = 40,
            bottom = 40, top = 10;
  double peak = 0.01;
  for (size_t i = 0; i < bins; ++i)
    peak = std::max({peak, column.expected_shares[i], column.actual_shares[i]});
  const double slot = static_cast<double>(width - left - 10) / static_cast<double>(bins);
  const double plot = height - top - bottom;
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + std::to_string(width) +
                    "' height='" + std::to_string(height) + "' role='img' aria-label='" +
                    HtmlEscape(column.name) + " shares by bin'>";
  svg += "<line x1='" + std::to_string(left) + "' y1='" + Num(top + plot) + "' x2='" +
         std::to_string(width - 10) + "' y2='" + Num(top + plot) + "' stroke='#888'/>";
  svg += "<text x='2' y='" + std::to_string(top + 8) + "' font-size='10'>" + Num(peak * 100, 3) +
         "%</text>";
  const std::string live = column.violated() ? "#c0392b" : "#2a6fdb";
  for (size_t i = 0; i < bins; ++i) {
    const double x = left + slot * static_cast<double>(i);
    const double e = plot * column.expected_shares[i] / peak,
                 a = plot * column.actual_shares[i] / peak;
    svg += "<rect x='" + Num(x + slot * 0.1) + "' y='" + Num(top + plot - e) + "' width='" +
           Num(slot * 0.4) + "' height='" + Num(e) + "' fill='#b0b0b0'><title>baseline " +
           HtmlEscape(column.bin_labels[i]) + ": " + Num(column.expected_shares[i] * 100) +
           "%</title></rect>";
    svg += "<rect x='" + Num(x + slot * 0.5) + "' y='" + Num(top + plot - a) + "' width='" +
           Num(slot * 0.4) + "' height='" + Num(a) + "' fill='" + live + "'><title>live " +
           HtmlEscape(column.bin_labels[i]) + ": " + Num(column.actual_shares[i] * 100) +
           "%</title></rect>";
    svg += "<text x='" + Num(x + slot * 0.5) + "' y='" + Num(top + plot + 12) +
           "' font-size='8' text-anchor='end' transform='rotate(-35 " + Num(x + slot * 0.5) + " " +
           Num(top + plot + 12) + ")'>" + HtmlEscape(column.bin_labels[i]) + "</text>";
  }
  return svg + "</svg>";
}

}  // namespace

std::string RenderMonitorHtml(const MonitorReport& report) {
  std::string html = "<!doctype html><html><head><meta charset='utf-8'><title>fraudops monitor: " +
                     HtmlEscape(report.endpoint) +
                     "</"
                     "title><style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
                     "table{border-collapse:collapse}"
                     "td,th{padding:3px 10px;border-bottom:1px solid "
                     "#ddd;text-align:left}.bad{color:#c0392b;font-weight:600}"
                     ".ok{color:#1e824c}.col{display:inline-block;margin:8px 16px 16px "
                     "0;vertical-align:top}</style></head><body>";
  html += "<h1>Monitor: " + HtmlEscape(report.endpoint) + "</h1><p>Model " +
          HtmlEscape(report.model) + ", report of " + HtmlEscape(report.time) + ". Drift window " +
          HtmlEscape(report.drift_window.from) + " to " + HtmlEscape(report.drift_window.to) +
          ": " + std::to_string(report.drift.rows) + " captured rows" +
          (report.drift.judged ? "" : " (fewer than monitor.min_rows: not judged)") + ".</p>";
  html += report.alerts.empty()
              ? "<p class='ok'>No alerts.</p>"
              : "<h2 class='bad'>" + std::to_string(report.alerts.size()) + " alerts</h2><ul>";
  for (const Alert& alert : report.alerts) html += "<li>" + HtmlEscape(alert.Summary()) + "</li>";
  if (!report.alerts.empty()) html += "</ul>";

  const QualityResult& q = report.quality;
  html += "<h2>Quality from delayed labels</h2><p>Predictions of " + HtmlEscape(q.window.from) +
          " to " + HtmlEscape(q.window.to) + ": " + std::to_string(q.predictions) + ", labelled " +
          std::to_string(q.labelled) + " (" + std::to_string(q.positives) + " fraud)" +
          (q.judged ? "" : ", not judged (too few labels or one class only)") +
          ".</p><table><tr><th>metric</th><th>value</th></tr>";
  for (const char* metric : {"roc_auc", "pr_auc", "recall", "precision", "alert_rate"}) {
    auto value = q.metrics.find(metric);
    if (value == q.metrics.end() || !value->is_number()) continue;
    bool bad = std::any_of(q.violations.begin(), q.violations.end(),
                           [&](const QualityViolation& v) { return v.metric == metric; });
    html += std::string("<tr><td>") + metric + "</td><td" + (bad ? " class='bad'" : "") + ">" +
            Num(value->get<double>()) + "</td></tr>";
  }
  html += "</table>";

  std::vector<const ColumnDrift*> columns;
  for (const ColumnDrift& column : report.drift.columns) columns.push_back(&column);
  std::stable_sort(columns.begin(), columns.end(), [](const ColumnDrift* a, const ColumnDrift* b) {
    if (a->violated() != b->violated()) return a->violated();
    return a->psi > b->psi;
  });
  html +=
      "<h2>Drift</h2><table><tr><th>column</th><th>PSI</th><th>threshold</th><th>KS</"
      "th><th>threshold</th>"
      "<th>missing (baseline → live)</th></tr>";
  for (const ColumnDrift* c : columns) {
    html += "<tr><td>" + HtmlEscape(c->name) + "</td><td" +
            (c->psi_violated ? " class='bad'" : "") + ">" + Num(c->psi) + "</td><td>" +
            Num(c->psi_threshold) + "</td><td" + (c->ks_violated ? " class='bad'" : "") + ">" +
            (c->ks ? Num(*c->ks) : "—") + "</td><td>" + (c->ks ? Num(c->ks_threshold) : "—") +
            "</td><td>" + Num(c->expected_missing * 100, 3) + "% → " +
            Num(c->actual_missing * 100, 3) + "%</td></tr>";
  }
  html += "</table><h2>Distributions (grey: baseline, blue: live, red: over a threshold)</h2>";
  for (const ColumnDrift* c : columns) {
    html += "<div class='col'><div><b>" + HtmlEscape(c->name) + "</b> PSI " + Num(c->psi, 3) +
            "</div>" + ShareChart(*c) + "</div>";
  }
  html += "<p>Capture: " + std::to_string(report.scan.files) + " files, " +
          std::to_string(report.scan.lines) + " lines, " +
          std::to_string(report.scan.other_version_rows) + " rows of other versions, " +
          std::to_string(report.scan.malformed_lines) + " malformed" +
          (report.scan.first_malformed.empty()
               ? ""
               : " (first: " + HtmlEscape(report.scan.first_malformed) + ")") +
          ". Computed in " + Num(report.seconds, 3) + " s.</p></body></html>\n";
  return html;
}

}  // namespace fraudops
