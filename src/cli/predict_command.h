#pragma once
/// `fraudops predict`: batch scoring of a CSV or JSON Lines file with a bundle, a bare model
/// file or a registered version (model/batch_scoring.h does the work).

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the command to `app`; the returned function runs it when it was parsed and returns
/// its exit code, or -1 when it was not.
std::function<int()> AddPredictCommand(CLI::App& app);

}  // namespace fraudops
