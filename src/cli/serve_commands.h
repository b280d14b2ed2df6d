#pragma once
/// `fraudops serve`, `fraudops deploy …`, `fraudops keys …` and `fraudops plans …`: the
/// serving commands (serve/server.h does the serving; store/serving_store.h keeps the
/// endpoints, deployments, keys and plans).

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddServeCommands(CLI::App& app);

}  // namespace fraudops
