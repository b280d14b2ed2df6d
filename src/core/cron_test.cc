#include "core/cron.h"

#include <gtest/gtest.h>

#include "store/metadata_store.h"

namespace fraudops {
namespace {

std::string NextAfter(const std::string& cron, const std::string& after) {
  auto schedule = CronSchedule::Parse(cron);
  EXPECT_TRUE(schedule.ok()) << schedule.status().message();
  return FormatUtc(schedule->Next(*ParseUtcTime(after)));
}

TEST(CronTest, NextMatchesTheFields) {
  EXPECT_EQ(NextAfter("0 3 * * *", "2026-11-23T02:59:59Z"), "2026-11-23T03:00:00.000Z");
  EXPECT_EQ(NextAfter("0 3 * * *", "2026-11-23T03:00:00Z"),
            "2026-11-24T03:00:00.000Z");  // strictly after
  EXPECT_EQ(NextAfter("*/15 * * * *", "2026-11-23T10:07:00Z"), "2026-11-23T10:15:00.000Z");
  EXPECT_EQ(NextAfter("30 9-17/4 * * *", "2026-11-23T10:00:00Z"), "2026-11-23T13:30:00.000Z");
  EXPECT_EQ(NextAfter("0 0 1 * *", "2026-12-15T00:00:00Z"), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(NextAfter("0 12 * * MON-FRI", "2026-11-21T00:00:00Z"),
            "2026-11-23T12:00:00.000Z");  // Sat -> Mon
  EXPECT_EQ(NextAfter("0 0 * * 7", "2026-11-23T00:00:00Z"),
            "2026-11-29T00:00:00.000Z");  // 7 is Sunday
  EXPECT_EQ(NextAfter("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
  EXPECT_EQ(NextAfter("5,10 1 * JAN,jul *", "2026-11-23T00:00:00Z"), "2027-01-01T01:05:00.000Z");
  // Day of month and day of week both restricted: either matches (Vixie cron).
  EXPECT_EQ(NextAfter("0 0 1 * FRI", "2026-11-23T00:00:00Z"), "2026-11-27T00:00:00.000Z");
  EXPECT_EQ(NextAfter("@daily", "2026-11-23T10:00:00Z"), "2026-11-24T00:00:00.000Z");
  EXPECT_EQ(NextAfter("@hourly", "2026-11-23T10:00:00.5Z"), "2026-11-23T11:00:00.000Z");
  EXPECT_EQ(CronSchedule::Parse("0 0 30 2 *")->Next(*ParseUtcTime("2026-01-01T00:00:00Z")),
            CronSchedule::TimePoint::max());
}

TEST(CronTest, BetweenListsTheMatchingMinutes) {
  auto cron = CronSchedule::Parse("0 */6 * * *");
  auto times = cron->Between(*ParseUtcTime("2026-11-23T00:00:00Z"),
                             *ParseUtcTime("2026-11-24T00:00:00Z"), 100);
  ASSERT_EQ(times.size(), 4u);
  EXPECT_EQ(FormatUtc(times[0]), "2026-11-23T06:00:00.000Z");
  EXPECT_EQ(FormatUtc(times[3]), "2026-11-24T00:00:00.000Z");
}

TEST(CronTest, ErrorsNameTheFieldAndWhatIsAccepted) {
  auto count = CronSchedule::Parse("0 3 * *");
  ASSERT_FALSE(count.ok());
  EXPECT_NE(count.status().message().find("has 4 fields; accepted: five fields"),
            std::string::npos);
  auto hour = CronSchedule::Parse("0 24 * * *");
  ASSERT_FALSE(hour.ok());
  EXPECT_NE(
      hour.status().message().find("cron hour field '24': '24' is not a valid value; accepted:"),
      std::string::npos)
      << hour.status().message();
  EXPECT_NE(CronSchedule::Parse("0 0 * FOO *").status().message().find("month field 'FOO'"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("*/0 * * * *").status().message().find("step '0'"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("5-1 * * * *").status().message().find("runs backwards"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("1,,2 * * * *").status().message().find("an empty list item"),
            std::string::npos);
  EXPECT_NE(CronSchedule::Parse("@sometimes").status().message().find("unknown macro"),
            std::string::npos);
  EXPECT_FALSE(CronSchedule::Parse("-1 * * * *").ok());
}

}  // namespace
}  // namespace fraudops
