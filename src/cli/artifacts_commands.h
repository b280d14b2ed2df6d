#pragma once
/// `fraudops artifacts gc|archive`: retention and archival of run artifacts
/// (docs/operations.md, "Retention and archival"); dry runs unless --apply.

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddArtifactsCommands(CLI::App& app);

}  // namespace fraudops
