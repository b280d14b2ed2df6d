#pragma once
/// The SVG pieces the self-contained HTML reports draw with (the evaluation report, the tuning
/// study's report): a fixed-size plot frame with ticks and labels, polylines, horizontal bars,
/// and the reports' shared style sheet. No scripts.

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace fraudops::svg {

inline constexpr int kWidth = 420, kHeight = 320;
inline constexpr int kLeft = 56, kRight = 16, kTop = 28, kBottom = 44;

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

/// An <svg> element of `width` × `height` (left open), labelled `label` for screen readers,
/// with `title` centred at the top.
std::string Open(int width, int height, const std::string& label, const std::string& title);
/// `value` with `digits` decimals; "–" for NaN.
std::string Num(double value, int digits = 4);
/// An <svg> element (left open) with the title, the grid at the ticks, the frame and the axis
/// labels.
std::string Frame(const Plot& plot, const std::string& title, const std::string& x_label,
                  const std::string& y_label, const std::vector<double>& x_ticks,
                  const std::vector<double>& y_ticks);
std::string Polyline(const Plot& plot, const std::vector<double>& xs, const std::vector<double>& ys,
                     const std::string& css_class);
std::vector<double> Doubles(const nlohmann::json& array);
/// Horizontal bars, largest first (at most 15), labelled with the value or its share.
std::string Bars(const std::string& title, std::vector<std::pair<std::string, double>> top,
                 bool as_share);
/// Five ticks from `low` to `high`.
std::vector<double> Ticks(double low, double high);
/// Ticks on whole numbers (trials, rounds): `low`, then multiples of a 1-2-5 step up to `high`,
/// at most about 6.
std::vector<double> IntegerTicks(double low, double high);
/// A colour from blue (0) to red (1).
std::string Heat(double t);
/// The reports' style sheet (classes t, g, f, d, l1, l2, b1, b2, card, charts, …).
extern const char* const kStyle;

}  // namespace fraudops::svg
