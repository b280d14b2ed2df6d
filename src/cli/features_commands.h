#pragma once
/// `fraudops features …`: feature groups and their offline store (docs/features.md) — apply
/// definitions, list and show groups, ingest rows from any data source.

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddFeaturesCommands(CLI::App& app);

}  // namespace fraudops
