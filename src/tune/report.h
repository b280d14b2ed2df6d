#pragma once
/// The study report (docs/tuning.md): a self-contained HTML page with the optimization history,
/// parallel coordinates of the complete trials, each parameter's importance, every trial's
/// per-round curve with the best one's drawn over them, and the trials table. No scripts.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tune/study.h"

namespace fraudops {

/// Each parameter's importance: the share of the variance of the complete trials' values that
/// its own value explains — a first-order, fANOVA-style main effect: ω² (the between-group
/// share less what the groups would explain of noise by chance) over up to 5 quantile bins of
/// a number, or over a categorical's values — normalized to sum to 1; largest first. Empty
/// with fewer than 3 complete trials.
std::vector<std::pair<std::string, double>> ParameterImportance(const TuneResult& study);

std::string StudyReportHtml(const TuneResult& study);

/// A trial's parameters for tables: `name=value` separated by spaces, numbers to 4 significant
/// digits (the best trial's own table, the study's JSON and `tune show`'s best line keep them
/// exact).
std::string ParamsForPeople(const nlohmann::json& params);

}  // namespace fraudops
