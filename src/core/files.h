#pragma once
/// File helpers with the workspace's guarantees: whole-file reads with clear errors, and
/// atomic writes (temp file in the same directory, fsync, rename) so a crash never leaves a
/// half-written file under its final name.

#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fraudops {

Result<std::string> ReadFile(const std::string& path);
/// Writes `content` to `path` atomically, creating parent directories.
Status WriteFileAtomic(const std::string& path, std::string_view content);
/// Writes the concatenation of `parts` to `path` atomically (large files written in pieces).
Status WriteFileAtomic(const std::string& path, std::span<const std::string_view> parts);
/// Creates `path` and its parents; OK when it already exists as a directory, or is empty
/// (the current directory).
Status MakeDirectories(const std::string& path);

/// Test hook (docs/testing.md): when FRAUDOPS_FAULT_PAUSE names `point`, creates the file
/// $FRAUDOPS_FAULT_MARKER and sleeps (two minutes) there, so a test can kill the process at a
/// known point.
void FaultPoint(const char* point);
bool FileExists(const std::string& path);

/// A temporary name for `path` (path.tmp.PID.N, N counting this process's calls), for
/// WriteFileAtomic and other atomic writers: unique to each call.
std::string TempPathFor(const std::string& path);
/// fsyncs then renames `temp` over `path`.
Status CommitTempFile(const std::string& temp, const std::string& path);
/// Flushes `file` and writes its dirty pages back now, waiting for them: a large file written
/// under a memory limit (a cgroup, external-memory training) then holds only clean page
/// cache, which the kernel drops instead of killing the writer. Errors show at the next write.
void WriteBack(FILE* file);

}  // namespace fraudops
