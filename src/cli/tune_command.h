#pragma once
/// `fraudops tune`: the pipeline's ingest, validate and split, then a tuning study
/// (docs/tuning.md); `fraudops tune show STUDY` and `fraudops tune list` read studies back.

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one parsed and returns its exit
/// code, or -1 when none was.
std::function<int()> AddTuneCommands(CLI::App& app);

}  // namespace fraudops
