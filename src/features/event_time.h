#pragma once
/// Event times of feature groups and label tables (docs/features.md, "Times"), as integer
/// microseconds so that comparisons at window edges are exact. Text is read as:
///   a number                 seconds (fractions to the microsecond): since the Unix epoch,
///                            or since whatever origin the data counts from (the built-in
///                            data's Time counts seconds from its first transaction) — both
///                            sides of a join must use the same origin
///   2024-03-01               midnight UTC of that day
///   2024-03-01T12:30:05[.123456][Z|+01:00|-0500]   (a space may replace the T; no zone: UTC)

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace fraudops {

/// Microseconds; the order of events.
using EventTime = int64_t;

inline constexpr EventTime kMicrosPerSecond = 1'000'000;

/// nullopt when `text` is none of the accepted forms (or out of range: years 1–9999).
std::optional<EventTime> ParseEventTime(std::string_view text);

/// A number of seconds as a time; nullopt when not finite or beyond ±9e12 s (±285,000 years),
/// where a double no longer holds the microsecond.
std::optional<EventTime> EventTimeFromSeconds(double seconds);

/// The accepted forms, for error messages.
inline constexpr const char* kEventTimeForms =
    "seconds as a number, a date (2024-03-01) or an ISO 8601 time (2024-03-01T12:30:05Z, "
    "optionally with fractions and a zone offset)";

/// ISO 8601 UTC with microseconds when any ("2024-03-01T12:30:05.250Z").
std::string FormatEventTime(EventTime time);

/// The current time of the system clock.
EventTime EventTimeNow();

/// A duration ("10m", "1h", "7d", a bare number of seconds) in microseconds; nullopt when
/// malformed or not positive.
std::optional<EventTime> ParseWindow(std::string_view text);

}  // namespace fraudops
