#include "core/parallel_team.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace fraudops {
namespace {

TEST(ParallelTeamTest, EveryTaskRunsOnceInEveryLoop) {
  ParallelTeam team(3);
  EXPECT_EQ(team.size(), 3);
  std::vector<std::atomic<int>> hits(257);
  for (int loop = 0; loop < 2000; ++loop) {
    team.For(hits.size(), [&](size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); });
  }
  for (const auto& hit : hits) EXPECT_EQ(hit.load(), 2000);
}

// Regression: a helper that started after the first loop was published took that loop's epoch
// as already seen and never joined it; the caller waited for it forever.
TEST(ParallelTeamTest, ALoopRightAfterConstructionFinishes) {
  for (int round = 0; round < 200; ++round) {
    ParallelTeam team(4);
    std::atomic<int> sum{0};
    team.For(8, [&](size_t i) { sum.fetch_add(static_cast<int>(i)); });
    EXPECT_EQ(sum.load(), 28);
  }
}

TEST(ParallelTeamTest, HelpersThatSleptWakeForTheNextLoop) {
  ParallelTeam team(2);
  std::atomic<int> count{0};
  team.For(4, [&](size_t) { count.fetch_add(1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the spinning: asleep
  team.For(4, [&](size_t) { count.fetch_add(1); });
  EXPECT_EQ(count.load(), 8);
}

TEST(ParallelTeamTest, ATeamOfOneRunsOnTheCaller) {
  ParallelTeam team(1);
  std::thread::id caller = std::this_thread::get_id();
  bool same = true;
  team.For(10, [&](size_t) { same = same && std::this_thread::get_id() == caller; });
  EXPECT_TRUE(same);
}

}  // namespace
}  // namespace fraudops
