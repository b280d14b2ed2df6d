#include "features/event_time.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/strings.h"

namespace fraudops {

namespace {

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

/// Reads exactly `n` digits at text[*i].
bool Digits(std::string_view text, size_t* i, size_t n, int* out) {
  if (*i + n > text.size()) return false;
  int value = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = text[*i + k];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *i += n;
  *out = value;
  return true;
}

std::optional<EventTime> ParseIso(std::string_view text) {
  size_t i = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, &i, 4, &year) || i >= text.size() || text[i++] != '-' ||
      !Digits(text, &i, 2, &month) || i >= text.size() || text[i++] != '-' ||
      !Digits(text, &i, 2, &day)) {
    return std::nullopt;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month))
    return std::nullopt;
  int64_t micros = 0;
  int64_t offset_seconds = 0;
  if (i < text.size()) {
    if (text[i] != 'T' && text[i] != ' ') return std::nullopt;
    ++i;
    if (!Digits(text, &i, 2, &hour) || i >= text.size() || text[i++] != ':' ||
        !Digits(text, &i, 2, &minute) || hour > 23 || minute > 59) {
      return std::nullopt;
    }
    if (i < text.size() && text[i] == ':') {
      ++i;
      if (!Digits(text, &i, 2, &second) || second > 59) return std::nullopt;
      if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
        ++i;
        const size_t start = i;
        int64_t scale = 100000;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
          micros += (text[i] - '0') * scale;  // digits past the microsecond are cut
          scale /= 10;
          ++i;
        }
        if (i == start) return std::nullopt;
      }
    }
    if (i < text.size()) {
      if (text[i] == 'Z') {
        ++i;
      } else if (text[i] == '+' || text[i] == '-') {
        const int64_t sign = text[i] == '+' ? 1 : -1;
        ++i;
        int oh = 0, om = 0;
        if (!Digits(text, &i, 2, &oh)) return std::nullopt;
        if (i < text.size() && text[i] == ':') ++i;
        if (!Digits(text, &i, 2, &om) || oh > 23 || om > 59) return std::nullopt;
        offset_seconds = sign * (oh * 3600 + om * 60);
      } else {
        return std::nullopt;
      }
    }
  }
  if (i != text.size()) return std::nullopt;
  const int64_t seconds =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
      hour * 3600 + minute * 60 + second - offset_seconds;
  return seconds * kMicrosPerSecond + micros;
}

}  // namespace

std::optional<EventTime> ParseEventTime(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') return ParseIso(text);
  std::optional<double> seconds = ParseDouble(text);
  if (!seconds) return std::nullopt;
  return EventTimeFromSeconds(*seconds);
}

std::optional<EventTime> EventTimeFromSeconds(double seconds) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > 9.0e12) return std::nullopt;
  return static_cast<EventTime>(std::llround(seconds * 1e6));
}

std::string FormatEventTime(EventTime time) {
  int64_t seconds = time / kMicrosPerSecond;
  int64_t micros = time % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    --seconds;
  }
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  // civil_from_days (Howard Hinnant).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2);
  char out[48];
  if (micros == 0) {
    std::snprintf(out, sizeof out, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(year), month, day, static_cast<long long>(rest / 3600),
                  static_cast<long long>(rest / 60 % 60), static_cast<long long>(rest % 60));
  } else {
    std::snprintf(out, sizeof out, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                  static_cast<long long>(year), month, day, static_cast<long long>(rest / 3600),
                  static_cast<long long>(rest / 60 % 60), static_cast<long long>(rest % 60),
                  static_cast<long long>(micros));
  }
  return out;
}

EventTime EventTimeNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<EventTime> ParseWindow(std::string_view text) {
  std::optional<long long> seconds = ParseDurationSeconds(text);
  if (!seconds) return std::nullopt;
  return static_cast<EventTime>(*seconds) * kMicrosPerSecond;
}

}  // namespace fraudops
