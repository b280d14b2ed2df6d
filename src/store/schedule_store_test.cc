// What the scheduler keeps in the metadata store, against SQLite and PostgreSQL: trigger
// state, the run lock (one holder at a time, expired locks taken over), the history.
#include "store/schedule_store.h"

#include <gtest/gtest.h>

#include "../../tests/backend_store.h"

namespace fraudops {
namespace {

class ScheduleStoreTest : public testing::BackendStoreTest {
 protected:
  void SetUp() override {
    BackendStoreTest::SetUp();
    if (NotSetUp()) return;
    schedule_ = std::make_unique<ScheduleStore>(*store_);
  }
  std::unique_ptr<ScheduleStore> schedule_;
};

TEST_P(ScheduleStoreTest, StateIsKeptPerPipeline) {
  EXPECT_FALSE(schedule_->GetState("p", "cron_last")->has_value());
  ASSERT_TRUE(schedule_->SetState("p", "cron_last", "2026-11-23T03:00:00.000Z").ok());
  ASSERT_TRUE(schedule_->SetState("p", "cron_last", "2026-11-24T03:00:00.000Z").ok());
  EXPECT_EQ(**schedule_->GetState("p", "cron_last"), "2026-11-24T03:00:00.000Z");
  EXPECT_FALSE(schedule_->GetState("q", "cron_last")->has_value());
}

TEST_P(ScheduleStoreTest, TheLockHasOneHolderUntilReleasedOrExpired) {
  std::string holder;
  EXPECT_TRUE(*schedule_->TryLock("p", "a", "2026-11-23T10:00:00.000Z", "2026-11-23T16:00:00.000Z",
                                  &holder));
  EXPECT_FALSE(*schedule_->TryLock("p", "b", "2026-11-23T11:00:00.000Z", "2026-11-23T17:00:00.000Z",
                                   &holder));
  EXPECT_EQ(holder, "a since 2026-11-23T10:00:00.000Z");
  EXPECT_TRUE(*schedule_->TryLock("q", "b", "2026-11-23T11:00:00.000Z", "2026-11-23T17:00:00.000Z",
                                  &holder));
  ASSERT_TRUE(schedule_->Unlock("p", "b").ok());  // not b's: stays
  EXPECT_FALSE(*schedule_->TryLock("p", "c", "2026-11-23T12:00:00.000Z", "2026-11-23T18:00:00.000Z",
                                   &holder));
  // Expired: taken over.
  EXPECT_TRUE(*schedule_->TryLock("p", "c", "2026-11-23T16:00:01.000Z", "2026-11-23T22:00:00.000Z",
                                  &holder));
  ASSERT_TRUE(schedule_->Unlock("p", "c").ok());
  EXPECT_TRUE(*schedule_->TryLock("p", "d", "2026-11-23T16:00:02.000Z", "2026-11-23T22:00:00.000Z",
                                  &holder));
}

TEST_P(ScheduleStoreTest, HistoryIsNewestFirstAndRunsAreUpdated) {
  ScheduleRunRecord run;
  run.id = "01a00000-0000-7000-8000-000000000001";
  run.pipeline = "p";
  run.trigger = "cron";
  run.reason = "'0 3 * * *' at 2026-11-23T03:00:00.000Z";
  run.scheduled_for = "2026-11-23T03:00:00.000Z";
  run.started_at = "2026-11-23T03:00:05.000Z";
  run.status = RunStatus::kRunning;
  ASSERT_TRUE(schedule_->InsertRun(run).ok());
  run.finished_at = "2026-11-23T03:01:00.000Z";
  run.status = RunStatus::kSucceeded;
  run.execution_id = "e1";
  run.model = "fraud-detector";
  run.version = 7;
  run.deployment = "canary baking";
  ASSERT_TRUE(schedule_->UpdateRun(run).ok());
  ScheduleRunRecord skipped = run;
  skipped.id = "01a00000-0000-7000-8000-000000000002";
  skipped.status = RunStatus::kSkipped;
  skipped.model.clear();
  skipped.deployment.clear();
  ASSERT_TRUE(schedule_->InsertRun(skipped).ok());
  auto history = schedule_->History("p", 10);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].status, RunStatus::kSkipped);
  EXPECT_EQ((*history)[1].status, RunStatus::kSucceeded);
  EXPECT_EQ((*history)[1].version, 7);
  EXPECT_EQ((*history)[1].ToJson()["model"], "fraud-detector@7");
  EXPECT_EQ((*history)[1].deployment, "canary baking");
  EXPECT_EQ(schedule_->History("other", 10)->size(), 0u);
  EXPECT_EQ(schedule_->History("", 1)->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, ScheduleStoreTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace fraudops
