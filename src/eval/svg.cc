#include "eval/svg.h"

#include <cmath>
#include <cstdio>

#include "core/strings.h"
#include "eval/report.h"

namespace fraudops::svg {

std::string Open(int width, int height, const std::string& label, const std::string& title) {
  return "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 " + std::to_string(width) + " " +
         std::to_string(height) + "' width='" + std::to_string(width) + "' height='" +
         std::to_string(height) + "' role='img' aria-label='" + HtmlEscape(label) + "'><text x='" +
         std::to_string(width / 2) + "' y='18' text-anchor='middle' class='t'>" +
         HtmlEscape(title) + "</text>";
}

std::string Num(double value, int digits) {
  if (std::isnan(value)) return "–";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

std::string Frame(const Plot& plot, const std::string& title, const std::string& x_label,
                  const std::string& y_label, const std::vector<double>& x_ticks,
                  const std::vector<double>& y_ticks) {
  std::string svg = Open(kWidth, kHeight, title, title);
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

const char* const kStyle = R"(
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

/// Horizontal bars, largest first (at most 15): `entries` as shares of their total
/// (`as_share`) or as they are.
std::string Bars(const std::string& title, std::vector<std::pair<std::string, double>> top,
                 bool as_share) {
  std::sort(top.begin(), top.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  double total = 0, largest = 0;
  for (const auto& entry : top) total += entry.second;
  if (top.size() > 15) top.resize(15);
  const double scale = as_share ? std::max(total, 1e-300) : 1.0;
  for (const auto& entry : top) largest = std::max(largest, entry.second / scale);
  const int row = 18, height = kTop + row * static_cast<int>(top.size()) + 16, label = 110;
  std::string svg = Open(kWidth, height, title, title);
  for (size_t i = 0; i < top.size(); ++i) {
    const double value = top[i].second / scale;
    const double width = largest > 0 ? value / largest * (kWidth - label - 70) : 0;
    const int y = kTop + static_cast<int>(i) * row;
    svg += "<text x='" + std::to_string(label - 6) + "' y='" + std::to_string(y + 12) +
           "' text-anchor='end'>" + HtmlEscape(top[i].first) + "</text>";
    svg += "<rect x='" + std::to_string(label) + "' y='" + std::to_string(y + 2) + "' width='" +
           Num(width, 1) + "' height='" + std::to_string(row - 5) + "' class='b1'/>";
    svg += "<text x='" + Num(label + width + 4, 1) + "' y='" + std::to_string(y + 12) + "'>" +
           (as_share ? Num(value * 100, 1) + "%" : Num(value, 3)) + "</text>";
  }
  return svg + "</svg>";
}

/// Five ticks from `low` to `high`.
std::vector<double> Ticks(double low, double high) {
  std::vector<double> ticks;
  for (int i = 0; i <= 4; ++i) ticks.push_back(low + (high - low) * i / 4.0);
  return ticks;
}

std::vector<double> IntegerTicks(double low, double high) {
  // The step: the smallest 1, 2 or 5 × 10^k that needs at most 5 ticks over the range.
  double step = 1;
  for (double scale = 1; (high - low) / step > 5; scale *= 10) {
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
      step = m * scale;
      if ((high - low) / step <= 5) break;
    }
  }
  std::vector<double> ticks = {low};
  for (double t = std::ceil(low / step) * step; t <= high; t += step) {
    if (t - ticks.back() >= step / 2) ticks.push_back(t);  // no label crowding `low`
  }
  return ticks;
}

/// A colour from blue (0) to red (1).
std::string Heat(double t) {
  const int r = static_cast<int>(47 + t * (217 - 47)), g = static_cast<int>(111 + t * (72 - 111)),
            b = static_cast<int>(221 + t * (15 - 221));
  return "rgb(" + std::to_string(r) + "," + std::to_string(g) + "," + std::to_string(b) + ")";
}

}  // namespace fraudops::svg
