#pragma once
/// `fraudops runs …`, `fraudops models …` and `fraudops lineage`: the tracking and registry
/// commands, over the metadata store the configuration names.

#include <functional>

#include <CLI/CLI.hpp>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddRegistryCommands(CLI::App& app);

}  // namespace fraudops
