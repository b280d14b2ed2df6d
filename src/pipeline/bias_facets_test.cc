#include "pipeline/bias_facets.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fraudops {
namespace {

TEST(BiasFacetsTest, FacetsAreParsedOrRefusedWithWhatIsAccepted) {
  auto one = ParseFacet("age_band = 18-25", "bias.facets[0]");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->column, "age_band");
  EXPECT_EQ(one->values, (std::vector<std::string>{"18-25"}));
  auto any = ParseFacet("region=north|south", "bias.facets[1]");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->values, (std::vector<std::string>{"north", "south"}));
  auto above = ParseFacet("Amount>1000.5", "bias.facets[2]");
  ASSERT_TRUE(above.ok());
  EXPECT_EQ(above->threshold, 1000.5);
  for (const char* bad : {"age_band", "=x", "Amount>lots", "region=north||south", "x="}) {
    auto refused = ParseFacet(bad, "bias.facets[3]");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("bias.facets[3] = '"), std::string::npos);
    EXPECT_NE(refused.status().message().find("accepted: COLUMN=VALUE"), std::string::npos)
        << refused.status().message();
  }
}

TEST(BiasFacetsTest, RowsOfAFacetAreOneZeroOrMissing) {
  ColumnSchema band;
  band.name = "age_band";
  band.type = ColumnType::kCategorical;
  band.categories = {"18-25", "26-40", "41+"};
  const std::vector<float> codes = {0, 1, 2, std::nanf(""), 0};
  auto young = FacetRows(*ParseFacet("age_band=18-25|41+", "f"), band, codes, "f");
  ASSERT_TRUE(young.ok()) << young.status().ToString();
  EXPECT_EQ(*young, (std::vector<int8_t>{1, 0, 1, -1, 1}));
  auto typo = FacetRows(*ParseFacet("age_band=18-52", "f"), band, codes, "f");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("holds no value '18-52' (did you mean '18-25'?)"),
            std::string::npos)
      << typo.status().message();
  EXPECT_FALSE(FacetRows(*ParseFacet("age_band>3", "f"), band, codes, "f").ok());

  ColumnSchema amount;
  amount.name = "Amount";
  const std::vector<float> values = {10, 1000, 1000.5f, 5000, std::nanf("")};
  EXPECT_EQ(*FacetRows(*ParseFacet("Amount>1000", "f"), amount, values, "f"),
            (std::vector<int8_t>{0, 0, 1, 1, -1}));
  EXPECT_EQ(*FacetRows(*ParseFacet("Amount=10", "f"), amount, values, "f"),
            (std::vector<int8_t>{1, 0, 0, 0, -1}));
  EXPECT_FALSE(FacetRows(*ParseFacet("Amount=ten", "f"), amount, values, "f").ok());
}

TEST(BiasFacetsTest, GroupCodesNumberEachValueAndMissingApart) {
  const std::vector<float> values = {3, 1, std::nanf(""), 3, 2};
  EXPECT_EQ(GroupCodes(values), (std::vector<int32_t>{2, 0, 3, 2, 1}));
}

}  // namespace
}  // namespace fraudops
