#include "core/metrics_text.h"

#include <charconv>
#include <cmath>

namespace fraudops {

std::string MetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string MetricLine(std::string_view name, const std::vector<std::string>& label_names,
                       const std::vector<std::string>& values) {
  std::string out(name);
  if (label_names.empty()) return out;
  out += '{';
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (i) out += ',';
    out += label_names[i];
    out += "=\"";
    for (char c : i < values.size() ? values[i] : std::string()) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace fraudops
