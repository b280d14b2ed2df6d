#pragma once
/// `fraudops users …`, `fraudops login`, `logout` and `whoami`: people, their roles and how
/// they sign in (docs/governance.md). In shared mode they go through the server's admin API
/// (cli/remote.h); in a local workspace they change its store directly.

#include <CLI/CLI.hpp>
#include <functional>

namespace fraudops {

/// Adds the commands to `app`; the returned function runs the one that was parsed and
/// returns its exit code, or -1 when none of them was.
std::function<int()> AddPeopleCommands(CLI::App& app);

}  // namespace fraudops
