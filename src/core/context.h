#pragma once
/// The explicit context passed to long-running work instead of globals: how many threads,
/// which seed, where to log, and whether to draw progress bars.

#include <cstdint>

#include "core/logging.h"

namespace fraudops {

class ThreadPool;

struct Context {
  Logger* logger = nullptr;    ///< never null in a valid context
  ThreadPool* pool = nullptr;  ///< shared workers; never null in a valid context
  int threads = 0;             ///< threads for libraries that manage their own (0 = all)
  uint64_t seed = 42;
  bool progress = false;  ///< draw progress bars on stderr
};

}  // namespace fraudops
