#pragma once
/// Small string helpers owned by core: trimming, splitting, case, edit distance for
/// "did you mean" suggestions, and number parsing that reports what it could not read.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fraudops {

std::string_view Trim(std::string_view text);
std::vector<std::string> Split(std::string_view text, char separator);
std::string ToLower(std::string_view text);
std::string ToUpper(std::string_view text);
bool StartsWith(std::string_view text, std::string_view prefix);
bool EndsWith(std::string_view text, std::string_view suffix);
std::string Join(std::span<const std::string> parts, std::string_view separator);

/// Levenshtein distance, case-insensitive.
size_t EditDistance(std::string_view a, std::string_view b);

/// The candidate closest to `name` by edit distance, or nullopt when none is within a
/// distance that makes a suggestion useful.
std::optional<std::string> ClosestMatch(std::string_view name,
                                        std::span<const std::string> candidates);

/// " (did you mean 'x'?)" or "" — appended to unknown-name errors.
std::string DidYouMean(std::string_view name, std::span<const std::string> candidates);

std::optional<double> ParseDouble(std::string_view text);
std::optional<long long> ParseInt(std::string_view text);
std::optional<bool> ParseBool(std::string_view text);
/// A duration such as "90s", "15m", "1h", "7d" or a bare number of seconds, in seconds;
/// nullopt when malformed or not positive.
std::optional<long long> ParseDurationSeconds(std::string_view text);
/// The shortest of those forms that reads back as `seconds` ("1h", "90s").
std::string FormatDuration(long long seconds);

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool IsValidUtf8(std::string_view text);

/// `scheme://user:password@host/…` with the password replaced by `***` (for logs and records).
std::string RedactUrl(std::string_view url);

/// `value` with at most `significant_digits` digits, trailing zeros dropped.
std::string FormatDouble(double value, int significant_digits = 17);
/// Appends the shortest text that reads back as exactly `value` (std::to_chars), e.g. for
/// JSON and CSV output.
void AppendShortest(std::string& out, double value);
/// Appends the shortest text that reads back as exactly `value` in float32: "-3.3" for the
/// float nearest -3.3, whose double is -3.299999952316284 — how a value a model holds as
/// float32 (a request's feature, a stored feature) reads to people, losing nothing the
/// model sees.
void AppendShortestFloat(std::string& out, float value);
/// The double that text stands for (-3.3), for output written through a JSON library.
double ShortestFloatAsDouble(float value);
/// A number as a data file writes it: a whole number below 1e15 without a fraction ("3" for
/// 3.0), anything else in its shortest form — the text a category or an entity key read
/// from a JSON number stands for.
std::string NumberText(double value);
/// A JSON number: the shortest form, or null when `value` is not finite.
void AppendJsonNumber(std::string& out, double value);
/// A JSON string: quoted and escaped.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace fraudops
