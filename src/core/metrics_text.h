#pragma once
/// Pieces of the Prometheus text exposition format (version 0.0.4) shared by the server's
/// metrics registry and the monitor's gauges.

#include <string>
#include <string_view>
#include <vector>

namespace fraudops {

/// `name{l1="v1",l2="v2"}` with label values escaped as the format requires.
std::string MetricLine(std::string_view name, const std::vector<std::string>& label_names,
                       const std::vector<std::string>& values);
/// Shortest round-trip text of a sample value (+Inf, -Inf, NaN as Prometheus writes them).
std::string MetricValue(double value);

}  // namespace fraudops
