#pragma once
/// `fraudops stream score|ingest`: Redis Streams consumers (docs/streaming.md).

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddStreamCommands(CLI::App& app);

}  // namespace fraudops
