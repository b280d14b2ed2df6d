#include "core/thread_pool.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <vector>

namespace fraudops {
namespace {

TEST(ThreadPoolTest, ParallelForRunsEveryTaskOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.ParallelFor(hits.size(), [&](size_t i) { hits[i].fetch_add(1); });
  for (const auto& hit : hits) EXPECT_EQ(hit.load(), 1);
}

// Regression: the caller could see the last task's decrement, return and destroy the
// completion mutex while that task was still about to lock it to notify (a crash in
// pthread_mutex_lock after thousands of small ParallelFor calls, found by the lgbm trainer).
TEST(ThreadPoolTest, ManySmallParallelForCallsFinishCleanly) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  for (int call = 0; call < 20000; ++call) {
    pool.ParallelFor(2, [&](size_t i) { sum.fetch_add(static_cast<long>(i) + 1); });
  }
  EXPECT_EQ(sum.load(), 20000L * 3);
}

TEST(ThreadPoolTest, ResolveThreadsUsesTheCoresTheProcessMayUseForZero) {
  EXPECT_EQ(ResolveThreads(3), 3);
  EXPECT_EQ(ResolveThreads(0), AvailableCores());
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_LE(AvailableCores(), CPU_COUNT(&set));  // never more than the affinity mask
  EXPECT_GE(AvailableCores(), 1);
}

TEST(ThreadPoolTest, ACgroupCpuQuotaIsCountedInWholeCores) {
  EXPECT_EQ(CpuMaxCores("max 100000"), 0);
  EXPECT_EQ(CpuMaxCores("200000 100000\n"), 2);
  EXPECT_EQ(CpuMaxCores("150000 100000"), 2);  // 1.5 cores: two threads may run
  EXPECT_EQ(CpuMaxCores("50000 100000"), 1);
  EXPECT_EQ(CpuMaxCores("garbage"), 0);
  EXPECT_EQ(CpuMaxCores(""), 0);
}

}  // namespace
}  // namespace fraudops
