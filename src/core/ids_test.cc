#include "core/ids.h"

#include <gtest/gtest.h>

#include <regex>

#include "core/hash.h"

namespace fraudops {
namespace {

TEST(IdsTest, UuidV7HasVersionVariantAndSortsByTime) {
  std::mt19937_64 random(1);
  std::string early = MakeUuidV7(1700000000000ULL, random);
  std::string late = MakeUuidV7(1700000000001ULL, random);
  std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  EXPECT_TRUE(std::regex_match(early, form)) << early;
  EXPECT_LT(early, late);
  EXPECT_EQ(early.substr(0, 13), "018bcfe5-6800");           // 1700000000000 ms = 0x018bcfe56800
  EXPECT_EQ(early, "018bcfe5-6800-7f68-a2eb-92502318fa4e");  // the first two draws of mt19937_64(1)
  EXPECT_NE(NewUuidV7(), NewUuidV7());
}

TEST(HashTest, Sha256KnownAnswers) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 incremental;
  incremental.Update("a");
  incremental.Update("bc");
  EXPECT_EQ(incremental.HexDigest(), Sha256Hex("abc"));
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

}  // namespace
}  // namespace fraudops
