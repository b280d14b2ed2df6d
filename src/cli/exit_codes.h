#pragma once
/// The one mapping from Status to process exit code and message (docs/cli.md lists them):
///   0 success · 1 internal error · 2 usage or configuration error, or refused (not allowed,
///   not authenticated, conflicting with the current state) · 3 data error ·
///   4 the quality gate failed · 5 the monitor raised alerts.

#include <cstdio>

#include "core/status.h"

namespace fraudops {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitData = 3;
inline constexpr int kExitGateFailed = 4;
inline constexpr int kExitAlerts = 5;

inline int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
    case StatusCode::kConflict:
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnimplemented:
      return kExitUsage;
    case StatusCode::kDataError:
    case StatusCode::kNotFound:
      return kExitData;
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return kExitInternal;
  }
  return kExitInternal;
}

/// Prints "fraudops: error: <message>" to stderr and returns the exit code.
inline int ReportError(const Status& status) {
  std::fprintf(stderr, "fraudops: error: %s\n", status.message().c_str());
  return ExitCodeFor(status);
}

}  // namespace fraudops
