#pragma once
/// Five-field cron expressions (schedule.cron, CRON_SCHEDULE), evaluated in UTC:
///   minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week
///   (0-7 or SUN-SAT; 0 and 7 are Sunday)
/// Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (a to the end),
/// or a comma list of those; `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly` and
/// `@yearly` (`@annually`) stand for their usual expressions. As in Vixie cron, when both
/// day-of-month and day-of-week are restricted a day matching either fires.

#include <bitset>
#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace fraudops {

class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// Errors name the field, quote it and say what is accepted.
  static Result<CronSchedule> Parse(const std::string& text);

  /// The first matching minute strictly after `after`; TimePoint::max() when none within
  /// eight years (e.g. 30 February).
  TimePoint Next(TimePoint after) const;
  /// Matching minutes in (after, until], at most `limit` of them.
  std::vector<TimePoint> Between(TimePoint after, TimePoint until, size_t limit) const;

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0..6, Sunday 0
  bool any_day_ = true, any_weekday_ = true;
};

}  // namespace fraudops
