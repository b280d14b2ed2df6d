#pragma once
/// `fraudops runs …`, `fraudops models …` and `fraudops lineage`: the tracking and registry
/// commands, over the metadata store the configuration names.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "core/status.h"

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddRegistryCommands(CLI::App& app);

/// Copies the model bundle of `target` (NAME, NAME@VERSION or NAME@ALIAS) from the stores
/// the configuration names into `directory`, checksums verified; returns "NAME@VERSION".
Result<std::string> ExportModelBundle(const std::string& config_path, const std::string& home,
                                      const std::string& target, const std::string& directory);

}  // namespace fraudops
