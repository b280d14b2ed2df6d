#include "tune/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/strings.h"
#include "eval/report.h"
#include "eval/svg.h"

namespace fraudops {

using namespace svg;

namespace {

std::vector<const TrialRecord*> Complete(const TuneResult& study) {
  std::vector<const TrialRecord*> out;
  for (const TrialRecord& trial : study.trials) {
    if (trial.state == TrialState::kComplete && trial.value) out.push_back(&trial);
  }
  return out;
}

bool Maximize(const TuneResult& study) {
  return study.study.definition.value("direction", "maximize") == "maximize";
}

std::pair<double, double> Range(const std::vector<double>& values) {
  double low = *std::min_element(values.begin(), values.end());
  double high = *std::max_element(values.begin(), values.end());
  if (high <= low) {
    low -= 0.5;
    high += 0.5;
  }
  const double pad = (high - low) * 0.05;
  return {low - pad, high + pad};
}

std::string Dot(const Plot& plot, double x, double y, const std::string& css, double r = 3) {
  return "<circle cx='" + Num(plot.X(x), 1) + "' cy='" + Num(plot.Y(y), 1) + "' r='" + Num(r, 1) +
         "' class='" + css + "'/>";
}

std::string History(const TuneResult& study) {
  const auto complete = Complete(study);
  if (complete.empty()) return "";
  std::vector<double> xs, ys, best_x, best_y;
  const bool maximize = Maximize(study);
  double best = maximize ? -INFINITY : INFINITY;
  for (const TrialRecord* trial : complete) {
    xs.push_back(static_cast<double>(trial->number));
    ys.push_back(*trial->value);
    if (!best_y.empty()) {  // a step: the best holds until a trial beats it
      best_x.push_back(xs.back());
      best_y.push_back(best);
    }
    best = maximize ? std::max(best, *trial->value) : std::min(best, *trial->value);
    best_x.push_back(xs.back());
    best_y.push_back(best);
  }
  const auto [y0, y1] = Range(ys);
  const double x1 = std::max(1.0, static_cast<double>(study.trials.size()));
  Plot plot{0, x1, y0, y1};
  const std::string objective = study.study.definition.value("objective", "value");
  std::string svg = Frame(plot, "Optimization history (complete trials; line: best so far)",
                          "trial", objective, IntegerTicks(0, x1), Ticks(y0, y1));
  for (size_t i = 0; i < xs.size(); ++i) svg += Dot(plot, xs[i], ys[i], "b1");
  svg += Polyline(plot, best_x, best_y, "l2");
  return svg + "</svg>";
}

std::string Curves(const TuneResult& study) {
  std::vector<std::pair<const TrialRecord*, std::vector<double>>> curves;
  double low = INFINITY, high = -INFINITY, rounds = 1;
  for (const TrialRecord& trial : study.trials) {
    std::vector<double> values;
    for (const nlohmann::json& point : trial.detail.value("curve", nlohmann::json::array())) {
      const double v = point[1].is_number() ? point[1].get<double>() : std::nan("");
      values.push_back(v);
      if (std::isfinite(v)) {
        low = std::min(low, v);
        high = std::max(high, v);
      }
    }
    rounds = std::max(rounds, static_cast<double>(values.size()));
    if (!values.empty()) curves.emplace_back(&trial, std::move(values));
  }
  if (curves.empty()) return "";
  if (high <= low) high = low + 1;
  Plot plot{1, rounds, low, high};
  const std::string metric = study.study.definition.value("round_metric", "metric");
  std::string svg =
      Frame(plot, "Validation " + metric + " by round (blue: the best trial)",
            "round (dashed: pruned trials)", metric, IntegerTicks(1, rounds), Ticks(low, high));
  auto line = [&](const std::vector<double>& values, const std::string& css) {
    std::vector<double> xs, ys;
    for (size_t r = 0; r < values.size(); ++r) {
      if (!std::isfinite(values[r])) continue;
      xs.push_back(static_cast<double>(r + 1));
      ys.push_back(values[r]);
    }
    return Polyline(plot, xs, ys, css);
  };
  for (const auto& [trial, values] : curves) {
    if (study.best && trial->number == study.best->number) continue;
    svg += line(values, trial->state == TrialState::kPruned ? "d" : "gc");
  }
  for (const auto& [trial, values] : curves) {
    if (study.best && trial->number == study.best->number) svg += line(values, "l1");
  }
  return svg + "</svg>";
}

std::string ParallelCoordinates(const TuneResult& study) {
  const auto complete = Complete(study);
  const nlohmann::json& space = study.study.definition.value("space", nlohmann::json::object());
  if (complete.empty() || space.empty()) return "";
  std::vector<std::string> axes;
  for (const auto& [name, unused] : space.items()) axes.push_back(name);
  const int width = std::max(kWidth, 90 * static_cast<int>(axes.size() + 1)), height = kHeight;
  const double top = kTop + 14, bottom = height - kBottom;
  auto axis_x = [&](size_t i) {
    return 40.0 + (width - 80.0) * static_cast<double>(i) / static_cast<double>(axes.size());
  };
  // Each axis maps a trial's value to [0, 1] (bottom to top); a missing value is NaN.
  std::vector<std::function<double(const nlohmann::json&)>> scale;
  std::vector<std::pair<std::string, std::string>> labels;  // bottom, top
  for (const std::string& name : axes) {
    const nlohmann::json& d = space[name];
    if (d.value("type", "") == "categorical") {
      const nlohmann::json choices = d["choices"];
      scale.push_back([choices](const nlohmann::json& v) {
        for (size_t i = 0; i < choices.size(); ++i) {
          if (choices[i] == v)
            return choices.size() == 1 ? 0.5 : static_cast<double>(i) / (choices.size() - 1.0);
        }
        return std::nan("");
      });
      labels.emplace_back(choices.front().dump(), choices.back().dump());
    } else {
      const double low = d.value("low", 0.0), high = d.value("high", 1.0);
      const bool log = d.value("type", "") == "log_uniform" || d.value("log", false);
      scale.push_back([low, high, log](const nlohmann::json& v) {
        if (!v.is_number()) return std::nan("");
        const double x = v.get<double>();
        return log ? (std::log(x) - std::log(low)) / (std::log(high) - std::log(low))
                   : (x - low) / (high - low);
      });
      labels.emplace_back(FormatDouble(low, 4), FormatDouble(high, 4));
    }
  }
  std::vector<double> values;
  for (const TrialRecord* trial : complete) values.push_back(*trial->value);
  const double v0 = *std::min_element(values.begin(), values.end());
  const double v1 = std::max(*std::max_element(values.begin(), values.end()), v0 + 1e-12);
  const bool maximize = Maximize(study);
  std::string svg = Open(width, height, "Parallel coordinates",
                         "Parallel coordinates of the complete trials (colour: the objective, red "
                         "best)");
  const std::string objective = study.study.definition.value("objective", "value");
  for (size_t i = 0; i <= axes.size(); ++i) {
    const double x = axis_x(i);
    svg += "<line x1='" + Num(x, 1) + "' x2='" + Num(x, 1) + "' y1='" + Num(top, 1) + "' y2='" +
           Num(bottom, 1) + "' class='f'/>";
    const std::string name = i < axes.size() ? axes[i] : objective;
    svg += "<text x='" + Num(x, 1) + "' y='" + Num(bottom + 16, 1) + "' text-anchor='middle'>" +
           HtmlEscape(name) + "</text>";
    const std::string low = i < axes.size() ? labels[i].first : FormatDouble(v0, 4);
    const std::string high = i < axes.size() ? labels[i].second : FormatDouble(v1, 4);
    svg += "<text x='" + Num(x, 1) + "' y='" + Num(bottom + 30, 1) + "' text-anchor='middle'>" +
           HtmlEscape(low) + "</text>";
    svg += "<text x='" + Num(x, 1) + "' y='" + Num(top - 4, 1) + "' text-anchor='middle'>" +
           HtmlEscape(high) + "</text>";
  }
  for (const TrialRecord* trial : complete) {
    const double t = (*trial->value - v0) / (v1 - v0);
    std::string points;
    for (size_t i = 0; i <= axes.size(); ++i) {
      const double u =
          i < axes.size()
              ? (trial->params.contains(axes[i]) ? scale[i](trial->params[axes[i]]) : std::nan(""))
              : t;
      if (!std::isfinite(u)) continue;
      points += Num(axis_x(i), 1) + "," + Num(bottom - u * (bottom - top), 1) + " ";
    }
    svg += "<polyline points='" + points + "' fill='none' stroke-width='1.5' stroke='" +
           Heat(maximize ? t : 1 - t) + "' opacity='.8'><title>trial " +
           std::to_string(trial->number) + ": " + FormatDouble(*trial->value, 5) +
           "</title></polyline>";
  }
  return svg + "</svg>";
}

}  // namespace

std::string ParamsForPeople(const nlohmann::json& params) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : params.items()) {
    parts.push_back(name + "=" +
                    (value.is_number_float() ? FormatDouble(value.get<double>(), 4)
                     : value.is_string()     ? value.get<std::string>()
                                             : value.dump()));
  }
  return Join(parts, " ");
}

std::vector<std::pair<std::string, double>> ParameterImportance(const TuneResult& study) {
  const auto complete = Complete(study);
  std::vector<std::pair<std::string, double>> out;
  if (complete.size() < 3) return out;
  const nlohmann::json& space = study.study.definition.value("space", nlohmann::json::object());
  double total = 0;
  for (const auto& [name, declaration] : space.items()) {
    std::vector<std::pair<nlohmann::json, double>> points;
    for (const TrialRecord* trial : complete) {
      if (trial->params.contains(name)) points.emplace_back(trial->params[name], *trial->value);
    }
    if (points.size() < 3) {
      out.emplace_back(name, 0.0);
      continue;
    }
    // Groups: the categories, or up to 5 bins of about equal counts in the value's order.
    std::map<std::string, std::vector<double>> groups;
    if (declaration.value("type", "") == "categorical") {
      for (const auto& [value, objective] : points) groups[value.dump()].push_back(objective);
    } else {
      std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
        return a.first.template get<double>() < b.first.template get<double>();
      });
      const size_t bins = std::min<size_t>(5, points.size() / 2);
      for (size_t i = 0; i < points.size(); ++i)
        groups[std::to_string(i * bins / points.size())].push_back(points[i].second);
    }
    double mean = 0;
    for (const auto& [value, objective] : points) mean += objective;
    mean /= static_cast<double>(points.size());
    double between = 0, all = 0;
    for (const auto& [value, objective] : points) all += (objective - mean) * (objective - mean);
    for (const auto& [key, members] : groups) {
      const double m = std::accumulate(members.begin(), members.end(), 0.0) /
                       static_cast<double>(members.size());
      between += static_cast<double>(members.size()) * (m - mean) * (m - mean);
    }
    // ω²: the explained share less what k groups explain of noise by chance, at least 0.
    const double k = static_cast<double>(groups.size()), n = static_cast<double>(points.size());
    const double within = n > k ? (all - between) / (n - k) : 0;
    const double share =
        all > 0 && k > 1 ? std::max(0.0, (between - (k - 1) * within) / (all + within)) : 0;
    out.emplace_back(name, share);
    total += share;
  }
  for (auto& [name, share] : out) share = total > 0 ? share / total : 0;
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string StudyReportHtml(const TuneResult& study) {
  const nlohmann::json& d = study.study.definition;
  std::string html = "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Study " +
                     HtmlEscape(study.study.name) + "</title><style>" + kStyle +
                     "svg .gc{fill:none;stroke:#b8bfcc;stroke-width:1}</style></head><body>";
  const TrialCounts counts = study.Counts();
  html += "<header><h1>Tuning study " + HtmlEscape(study.study.name) + "</h1><p>" +
          HtmlEscape(study.study.algorithm) + " · " + HtmlEscape(d.value("strategy", "")) +
          " · pruner " + HtmlEscape(d.value("pruner", "")) + " · " +
          HtmlEscape(d.value("direction", "")) + " " + HtmlEscape(d.value("objective", "")) +
          (d.value("folds", 0) >= 2 ? " over " + std::to_string(d.value("folds", 0)) + " " +
                                          HtmlEscape(d.value("fold_method", "")) + " folds"
                                    : std::string(" on the validation split")) +
          " · created " + HtmlEscape(study.study.created_at) + " by " +
          HtmlEscape(study.study.created_by) + "</p></header><main>";
  html += "<p>" + std::to_string(study.trials.size()) + " trials: " + counts.Text() + ".</p>";
  if (study.best) {
    html += "<h2>Best trial: #" + std::to_string(study.best->number) + ", " +
            HtmlEscape(d.value("objective", "")) + " " + FormatDouble(*study.best->value, 5);
    if (study.best->detail.contains("std") && d.value("folds", 0) >= 2)
      html += " ± " + FormatDouble(study.best->detail["std"].get<double>(), 4);
    html += "</h2><table><tr><th>parameter</th><th>value</th></tr>";
    for (const auto& [name, value] : study.best->params.items()) {
      html += "<tr><td>" + HtmlEscape(name) + "</td><td>" + HtmlEscape(value.dump()) + "</td></tr>";
    }
    html += "</table>";
  }
  html += "<div class='charts'>";
  for (const std::string& chart : {History(study), Curves(study)}) {
    if (!chart.empty()) html += "<div class='card'>" + chart + "</div>";
  }
  const auto importance = ParameterImportance(study);
  if (!importance.empty()) {
    html += "<div class='card'>" +
            Bars("Parameter importance (variance explained)", importance, true) + "</div>";
  }
  html += "</div>";
  const std::string parallel = ParallelCoordinates(study);
  if (!parallel.empty()) html += "<div class='card'>" + parallel + "</div>";
  html +=
      "<h2>Trials</h2><table><tr><th>trial</th><th>state</th><th>value</th><th>rounds</th>"
      "<th>seconds</th><th style='text-align:left'>parameters</th>"
      "<th style='text-align:left'>why</th></tr>";
  for (const TrialRecord& trial : study.trials) {
    const nlohmann::json rounds = trial.detail.value("rounds", nlohmann::json::array());
    const nlohmann::json curve = trial.detail.value("curve", nlohmann::json::array());
    html += "<tr><td>" + std::to_string(trial.number) + "</td><td>" +
            std::string(TrialStateName(trial.state)) + "</td><td>" +
            (trial.value ? FormatDouble(*trial.value, 5) : "–") + "</td><td>" +
            std::to_string(rounds.empty() ? curve.size() : rounds[0].get<size_t>()) + "</td><td>" +
            Num(trial.detail.value("seconds", std::nan("")), 2) +
            "</td><td style='text-align:left'>" + HtmlEscape(ParamsForPeople(trial.params)) +
            "</td><td style='text-align:left'>" + HtmlEscape(trial.detail.value("reason", "")) +
            "</td></tr>";
  }
  html += "</table></main></body></html>\n";
  return html;
}

}  // namespace fraudops
