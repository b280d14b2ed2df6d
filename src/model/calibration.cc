#include "model/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fraudops {
namespace {

constexpr CalibrationMethod kMethods[] = {CalibrationMethod::kIsotonic, CalibrationMethod::kPlatt};

/// Log-odds of a probability, kept finite.
double Logit(double p) {
  p = std::clamp(p, 1e-12, 1 - 1e-12);
  return std::log(p / (1 - p));
}

double Sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

/// Pool adjacent violators over the distinct scores (each a block of its rows' mean label),
/// then the blocks' ends as breakpoints.
void FitIsotonic(std::span<const float> scores, std::span<const float> labels,
                 std::vector<double>& x, std::vector<double>& y) {
  std::vector<uint32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t i, uint32_t j) { return scores[i] < scores[j]; });
  struct Block {
    double low, high, sum, weight;
  };
  std::vector<Block> blocks;
  for (size_t k = 0; k < order.size();) {
    const double score = scores[order[k]];
    Block block{score, score, 0, 0};
    for (; k < order.size() && scores[order[k]] == score; ++k) {
      block.sum += labels[order[k]] > 0.5f;
      block.weight += 1;
    }
    // Merge while the previous block's mean is not below this one's.
    while (!blocks.empty() &&
           blocks.back().sum * block.weight >= block.sum * blocks.back().weight) {
      block.low = blocks.back().low;
      block.sum += blocks.back().sum;
      block.weight += blocks.back().weight;
      blocks.pop_back();
    }
    blocks.push_back(block);
  }
  for (const Block& block : blocks) {
    const double value = block.sum / block.weight;
    x.push_back(block.low);
    y.push_back(value);
    if (block.high > block.low) {
      x.push_back(block.high);
      y.push_back(value);
    }
  }
  // A breakpoint between two of the same value changes nothing.
  size_t kept = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (i > 0 && i + 1 < x.size() && y[i - 1] == y[i] && y[i] == y[i + 1]) continue;
    x[kept] = x[i];
    y[kept] = y[i];
    ++kept;
  }
  x.resize(kept);
  y.resize(kept);
}

/// Newton's method on the log loss of sigmoid(a·z + b) against Platt's targets, halving a
/// step that does not lower it.
void FitPlatt(std::span<const float> scores, std::span<const float> labels, size_t positives,
              double& a, double& b) {
  const size_t n = scores.size();
  const double high = (static_cast<double>(positives) + 1) / (static_cast<double>(positives) + 2);
  const double low = 1 / (static_cast<double>(n - positives) + 2);
  std::vector<double> z(n), t(n);
  for (size_t i = 0; i < n; ++i) {
    z[i] = Logit(scores[i]);
    t[i] = labels[i] > 0.5f ? high : low;
  }
  auto loss = [&](double pa, double pb) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const double m = pa * z[i] + pb;
      // log(1 + e^m) − t·m, computed without overflow
      sum += (m > 0 ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m))) - t[i] * m;
    }
    return sum;
  };
  a = 1;
  b = 0;
  double current = loss(a, b);
  for (int iteration = 0; iteration < 100; ++iteration) {
    double ga = 0, gb = 0, haa = 1e-12, hab = 0, hbb = 1e-12;
    for (size_t i = 0; i < n; ++i) {
      const double p = Sigmoid(a * z[i] + b), d = p - t[i], w = p * (1 - p);
      ga += d * z[i];
      gb += d;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    double step = 1, next = current;
    for (int halving = 0; halving < 40; ++halving, step /= 2) {
      next = loss(a - step * da, b - step * db);
      if (next < current) break;
    }
    if (!(next < current)) return;  // no step lowers it: converged
    a -= step * da;
    b -= step * db;
    const bool converged = current - next <= 1e-12 * std::max(1.0, current);
    current = next;
    if (converged) return;
  }
}

Status FieldError(const std::string& pointer, const std::string& what) {
  return Status::DataError(pointer + ": " + what);
}

}  // namespace

std::vector<std::string> CalibrationMethodNames() {
  std::vector<std::string> names;
  for (CalibrationMethod method : kMethods) names.emplace_back(CalibrationMethodName(method));
  return names;
}

std::string_view CalibrationMethodName(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kIsotonic:
      return "isotonic";
    case CalibrationMethod::kPlatt:
      return "platt";
  }
  return "isotonic";
}

Result<CalibrationMethod> ParseCalibrationMethod(std::string_view name) {
  for (CalibrationMethod method : kMethods) {
    if (CalibrationMethodName(method) == name) return method;
  }
  return Status::InvalidArgument("\"" + std::string(name) +
                                 "\" is not a calibration method; accepted: isotonic, platt");
}

Result<ScoreCalibration> ScoreCalibration::Fit(CalibrationMethod method,
                                               std::span<const float> scores,
                                               std::span<const float> labels) {
  if (scores.size() != labels.size())
    return Status::InvalidArgument("calibration: scores and labels differ in length");
  size_t positives = 0;
  for (float label : labels) positives += label > 0.5f;
  for (float score : scores) {
    if (!std::isfinite(score)) return Status::DataError("calibration: a score is not a number");
  }
  if (positives == 0 || positives == labels.size()) {
    return Status::DataError("calibration needs both classes among its " +
                             std::to_string(labels.size()) + " rows (it has " +
                             std::to_string(positives) + " positive)");
  }
  ScoreCalibration out;
  out.method_ = method;
  out.rows_ = scores.size();
  out.positives_ = positives;
  if (method == CalibrationMethod::kIsotonic) {
    FitIsotonic(scores, labels, out.x_, out.y_);
  } else {
    FitPlatt(scores, labels, positives, out.a_, out.b_);
  }
  return out;
}

double ScoreCalibration::Apply(double probability) const {
  if (std::isnan(probability)) return probability;
  if (method_ == CalibrationMethod::kPlatt) return Sigmoid(a_ * Logit(probability) + b_);
  if (probability <= x_.front()) return y_.front();
  if (probability >= x_.back()) return y_.back();
  const size_t i = static_cast<size_t>(std::upper_bound(x_.begin(), x_.end(), probability) -
                                       x_.begin());  // x_[i-1] <= p < x_[i]
  const double t = (probability - x_[i - 1]) / (x_[i] - x_[i - 1]);
  return y_[i - 1] + t * (y_[i] - y_[i - 1]);
}

nlohmann::json ScoreCalibration::ToJson() const {
  nlohmann::json out = {
      {"method", CalibrationMethodName(method_)}, {"rows", rows_}, {"positives", positives_}};
  if (method_ == CalibrationMethod::kIsotonic) {
    out["x"] = x_;
    out["y"] = y_;
  } else {
    out["a"] = a_;
    out["b"] = b_;
  }
  return out;
}

Result<ScoreCalibration> ScoreCalibration::FromJson(const nlohmann::json& json,
                                                    const std::string& pointer) {
  if (!json.is_object()) return FieldError(pointer, "expected an object");
  auto method_it = json.find("method");
  if (method_it == json.end() || !method_it->is_string())
    return FieldError(pointer + "/method", "expected one of: isotonic, platt");
  Result<CalibrationMethod> method = ParseCalibrationMethod(method_it->get<std::string>());
  if (!method.ok()) return FieldError(pointer + "/method", method.status().message());
  ScoreCalibration out;
  out.method_ = *method;
  for (const char* key : {"rows", "positives"}) {
    auto it = json.find(key);
    if (it == json.end()) continue;
    if (!it->is_number_unsigned()) return FieldError(pointer + "/" + key, "expected a count");
    (std::string(key) == "rows" ? out.rows_ : out.positives_) = it->get<size_t>();
  }
  auto number = [&](const nlohmann::json& value, const std::string& at) -> Result<double> {
    if (!value.is_number() || !std::isfinite(value.get<double>()))
      return FieldError(at, "expected a finite number");
    return value.get<double>();
  };
  if (out.method_ == CalibrationMethod::kPlatt) {
    for (const char* key : {"a", "b"}) {
      auto it = json.find(key);
      if (it == json.end()) return FieldError(pointer + "/" + key, "missing");
      FOPS_ASSIGN_OR_RETURN((std::string(key) == "a" ? out.a_ : out.b_),
                            number(*it, pointer + "/" + key));
    }
    return out;
  }
  for (const char* key : {"x", "y"}) {
    auto it = json.find(key);
    if (it == json.end() || !it->is_array() || it->empty())
      return FieldError(pointer + "/" + key, "expected a non-empty array of numbers");
    std::vector<double>& values = std::string(key) == "x" ? out.x_ : out.y_;
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string at = pointer + "/" + key + "/" + std::to_string(i);
      FOPS_ASSIGN_OR_RETURN(const double value, number((*it)[i], at));
      if (key[0] == 'x' && i > 0 && !(value > values.back()))
        return FieldError(at, "breakpoints must ascend");
      if (key[0] == 'y' && (value < 0 || value > 1 || (i > 0 && value < values.back())))
        return FieldError(at, "values must be probabilities that do not decrease");
      values.push_back(value);
    }
  }
  if (out.x_.size() != out.y_.size())
    return FieldError(pointer + "/y", "must have as many values as /x has breakpoints");
  return out;
}

}  // namespace fraudops
