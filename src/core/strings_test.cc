#include "core/strings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/logging.h"

namespace fraudops {
namespace {

TEST(StringsTest, EditDistanceIsCaseInsensitive) {
  EXPECT_EQ(EditDistance("train_ratio", "train_ratio"), 0u);
  EXPECT_EQ(EditDistance("trian_ratio", "train_ratio"), 2u);
  EXPECT_EQ(EditDistance("MAX_DEPTH", "max_depth"), 0u);
}

TEST(StringsTest, ClosestMatchSuggestsOnlyNearNames) {
  std::vector<std::string> names = {"train_ratio", "test_ratio", "validation_ratio"};
  EXPECT_EQ(ClosestMatch("train_raito", names).value(), "train_ratio");
  EXPECT_FALSE(ClosestMatch("completely_different_name", names).has_value());
  EXPECT_EQ(DidYouMean("tset_ratio", names), " (did you mean 'test_ratio'?)");
}

TEST(StringsTest, ParsesNumbersStrictly) {
  EXPECT_DOUBLE_EQ(*ParseDouble(" 1.5e-3 "), 0.0015);
  EXPECT_DOUBLE_EQ(*ParseDouble("+2"), 2.0);
  EXPECT_FALSE(ParseDouble("1.5x").has_value());
  EXPECT_FALSE(ParseDouble("").has_value());
  EXPECT_EQ(*ParseInt("42"), 42);
  EXPECT_FALSE(ParseInt("4.2").has_value());
  EXPECT_EQ(*ParseBool("Yes"), true);
  EXPECT_FALSE(ParseBool("maybe").has_value());
}

TEST(StringsTest, ValidatesUtf8) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("Z\xC3\xBCrich \xE2\x82\xAC \xF0\x9F\x92\xB3"));
  EXPECT_FALSE(IsValidUtf8("Z\xFCrich"));     // Latin-1
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));      // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));      // truncated
}

TEST(StringsTest, FormatDoubleRoundTrips) {
  for (double value : {0.1, 1.0 / 3.0, 284807.0, 1e-20, 1e20, -123456.0}) {
    EXPECT_EQ(std::stod(FormatDouble(value)), value);
  }
}

TEST(StringsTest, FormatDoubleWithFewDigitsWritesWholeNumbersOut) {
  EXPECT_EQ(FormatDouble(10.3, 1), "10");
  EXPECT_EQ(FormatDouble(1234.5, 3), "1230");
  EXPECT_EQ(FormatDouble(-98765.0, 2), "-99000");
  EXPECT_EQ(FormatDouble(0.123456, 3), "0.123");
  EXPECT_EQ(FormatDouble(0.0000123, 3), "1.23e-05");  // small numbers keep their exponent
  EXPECT_EQ(FormatDouble(1e20, 3), "1e+20");          // and so do huge ones
}

TEST(StringsTest, AFloatReadsAsItsShortestText) {
  std::string out;
  AppendShortestFloat(out, -3.3f);
  EXPECT_EQ(out, "-3.3");
  EXPECT_EQ(ShortestFloatAsDouble(-3.3f), -3.3);
  EXPECT_EQ(ShortestFloatAsDouble(443.85f), 443.85);
  EXPECT_NE(static_cast<double>(443.85f), 443.85);  // what a float's double would show
  EXPECT_EQ(ShortestFloatAsDouble(16777217.0f), 16777216.0);
  EXPECT_TRUE(std::isnan(ShortestFloatAsDouble(NAN)));
  EXPECT_EQ(ShortestFloatAsDouble(-INFINITY), -INFINITY);
  // Whatever the float, the text reads back as the same float.
  for (float f : {1e-38f, 0.1f, 1.0f / 3.0f, 3.4e38f, -7.0e-45f}) {
    EXPECT_EQ(static_cast<float>(ShortestFloatAsDouble(f)), f) << f;
  }
}

TEST(JsonEscapeTest, EscapesWhatJsonRequiresAndRoundTrips) {
  EXPECT_EQ(JsonEscape("plain text"), "plain text");
  EXPECT_EQ(JsonEscape("a\"b\\c\nd\re\tf"), "a\\\"b\\\\c\\nd\\re\\tf");
  EXPECT_EQ(JsonEscape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  std::string out = "[";
  AppendJsonEscaped(out, "x");
  EXPECT_EQ(out, "[x");
  std::string every;
  for (int c = 1; c < 128; ++c) every += static_cast<char>(c);
  every += "\xc3\xa9";  // UTF-8 passes through
  EXPECT_EQ(nlohmann::json::parse("\"" + JsonEscape(every) + "\"").get<std::string>(), every);
}

TEST(StringsTest, ParsesAndFormatsDurations) {
  EXPECT_EQ(*ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("15m"), 900);
  EXPECT_EQ(*ParseDurationSeconds(" 1h "), 3600);
  EXPECT_EQ(*ParseDurationSeconds("7d"), 7 * 86400);
  EXPECT_EQ(*ParseDurationSeconds("2w"), 14 * 86400);
  EXPECT_EQ(*ParseDurationSeconds("300"), 300);
  EXPECT_FALSE(ParseDurationSeconds("0h").has_value());
  EXPECT_FALSE(ParseDurationSeconds("-1m").has_value());
  EXPECT_FALSE(ParseDurationSeconds("1.5h").has_value());
  EXPECT_FALSE(ParseDurationSeconds("h").has_value());
  EXPECT_FALSE(ParseDurationSeconds("1y").has_value());
  EXPECT_EQ(FormatDuration(3600), "1h");
  EXPECT_EQ(FormatDuration(90), "90s");
  EXPECT_EQ(FormatDuration(172800), "2d");
}

}  // namespace
}  // namespace fraudops
