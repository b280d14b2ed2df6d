#include "core/cron.h"

#include <ctime>

#include "core/strings.h"

namespace fraudops {

namespace {

struct FieldSpec {
  const char* name;
  int min, max;
  std::vector<std::string> names;  ///< names[i] stands for min + i (empty: none)
};

const FieldSpec kFields[5] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day-of-month", 1, 31, {}},
    {"month",
     1,
     12,
     {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
    {"day-of-week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
};

Status FieldError(const FieldSpec& spec, const std::string& field, const std::string& why) {
  std::string accepted = std::to_string(spec.min) + "-" + std::to_string(spec.max);
  if (!spec.names.empty()) accepted += " or " + spec.names.front() + "-" + spec.names.back();
  return Status::InvalidArgument(
      "cron " + std::string(spec.name) + " field '" + field + "': " + why +
      "; accepted: *, a value, a range a-b, steps */n or a-b/n, lists a,b (values " + accepted +
      ")");
}

std::optional<int> Value(const FieldSpec& spec, const std::string& text) {
  const std::string upper = ToUpper(text);
  for (size_t i = 0; i < spec.names.size(); ++i) {
    if (upper == spec.names[i]) return spec.min + static_cast<int>(i);
  }
  std::optional<long long> number = ParseInt(text);
  if (!number || text.empty() || text[0] == '+' || text[0] == '-') return std::nullopt;
  if (*number < spec.min || *number > spec.max) return std::nullopt;
  return static_cast<int>(*number);
}

/// Sets the allowed values of one field; `restricted` false for a bare `*`.
Status ParseField(const FieldSpec& spec, const std::string& field, std::vector<bool>* allowed,
                  bool* restricted) {
  allowed->assign(spec.max + 1, false);
  *restricted = field != "*";
  for (const std::string& part : Split(field, ',')) {
    if (part.empty()) return FieldError(spec, field, "an empty list item");
    std::string range = part;
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string::npos) {
      range = part.substr(0, slash);
      std::optional<long long> n = ParseInt(part.substr(slash + 1));
      if (!n || *n < 1 || *n > spec.max + 1)
        return FieldError(
            spec, field, "step '" + part.substr(slash + 1) + "' is not a positive number in range");
      step = static_cast<int>(*n);
    }
    int low, high;
    if (range == "*") {
      low = spec.min;
      high = spec.max == 7 ? 6 : spec.max;
    } else if (size_t dash = range.find('-'); dash != std::string::npos && dash > 0) {
      auto a = Value(spec, range.substr(0, dash)), b = Value(spec, range.substr(dash + 1));
      if (!a || !b)
        return FieldError(spec, field, "'" + range + "' is not a range of valid values");
      if (*a > *b) return FieldError(spec, field, "range '" + range + "' runs backwards");
      low = *a;
      high = *b;
    } else {
      auto a = Value(spec, range);
      if (!a) return FieldError(spec, field, "'" + range + "' is not a valid value");
      low = *a;
      high = part.find('/') != std::string::npos ? (spec.max == 7 ? 6 : spec.max) : *a;
    }
    for (int v = low; v <= high; v += step) (*allowed)[static_cast<size_t>(v)] = true;
  }
  return Status::Ok();
}

std::time_t ToTimeT(CronSchedule::TimePoint t) { return std::chrono::system_clock::to_time_t(t); }

}  // namespace

Result<CronSchedule> CronSchedule::Parse(const std::string& text) {
  std::string expression(Trim(text));
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"}};
  if (!expression.empty() && expression[0] == '@') {
    bool known = false;
    for (const auto& [macro, meaning] : kMacros) {
      if (ToLower(expression) == macro) {
        expression = meaning;
        known = true;
      }
    }
    if (!known) {
      return Status::InvalidArgument(
          "cron '" + text +
          "': unknown macro; accepted: @hourly, @daily, @midnight, @weekly, "
          "@monthly, @yearly, @annually, or five fields");
    }
  }
  std::vector<std::string> fields;
  for (const std::string& field : Split(expression, ' ')) {
    if (!Trim(field).empty()) fields.push_back(std::string(Trim(field)));
  }
  if (fields.size() != 5) {
    return Status::InvalidArgument(
        "cron '" + text + "' has " + std::to_string(fields.size()) +
        " fields; accepted: five fields, minute hour day-of-month month day-of-week, "
        "e.g. '0 3 * * *' (03:00 UTC daily)");
  }
  CronSchedule schedule;
  schedule.text_ = text;
  std::vector<bool> allowed;
  bool restricted;
  FOPS_RETURN_IF_ERROR(ParseField(kFields[0], fields[0], &allowed, &restricted));
  for (int v = 0; v < 60; ++v) schedule.minutes_[v] = allowed[v];
  FOPS_RETURN_IF_ERROR(ParseField(kFields[1], fields[1], &allowed, &restricted));
  for (int v = 0; v < 24; ++v) schedule.hours_[v] = allowed[v];
  FOPS_RETURN_IF_ERROR(ParseField(kFields[2], fields[2], &allowed, &restricted));
  for (int v = 1; v <= 31; ++v) schedule.days_[v] = allowed[v];
  schedule.any_day_ = !restricted;
  FOPS_RETURN_IF_ERROR(ParseField(kFields[3], fields[3], &allowed, &restricted));
  for (int v = 1; v <= 12; ++v) schedule.months_[v] = allowed[v];
  FOPS_RETURN_IF_ERROR(ParseField(kFields[4], fields[4], &allowed, &restricted));
  for (int v = 0; v <= 7; ++v) {
    if (allowed[v]) schedule.weekdays_[v % 7] = true;
  }
  schedule.any_weekday_ = !restricted;
  return schedule;
}

CronSchedule::TimePoint CronSchedule::Next(TimePoint after) const {
  // The next whole minute after `after`.
  std::time_t t = ToTimeT(after);
  if (std::chrono::system_clock::from_time_t(t) > after) t -= 1;  // to_time_t may round up
  t = t - (t % 60 + 60) % 60 + 60;
  const std::time_t limit = t + 8LL * 366 * 86400;
  while (t < limit) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (!months_[tm.tm_mon + 1]) {  // to the first day of the next month
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    const bool day_ok = days_[tm.tm_mday], weekday_ok = weekdays_[tm.tm_wday];
    bool day_matches;
    if (any_day_ && any_weekday_)
      day_matches = true;
    else if (any_day_)
      day_matches = weekday_ok;
    else if (any_weekday_)
      day_matches = day_ok;
    else
      day_matches = day_ok || weekday_ok;
    if (!day_matches) {
      tm.tm_mday += 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!hours_[tm.tm_hour]) {
      tm.tm_hour += 1;
      tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm);
      continue;
    }
    if (!minutes_[tm.tm_min]) {
      t += 60;
      continue;
    }
    return std::chrono::system_clock::from_time_t(t);
  }
  return TimePoint::max();
}

std::vector<CronSchedule::TimePoint> CronSchedule::Between(TimePoint after, TimePoint until,
                                                           size_t limit) const {
  std::vector<TimePoint> times;
  for (TimePoint t = Next(after); t <= until && times.size() < limit; t = Next(t))
    times.push_back(t);
  return times;
}

}  // namespace fraudops
