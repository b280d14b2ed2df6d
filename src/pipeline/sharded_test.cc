#include "pipeline/sharded.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fraudops {
namespace {

Dataset Small(size_t rows, float offset) {
  Dataset d;
  d.features.resize(2);
  d.features[0].name = "amount";
  d.features[1].name = "merchant";
  d.features[1].type = ColumnType::kCategorical;
  d.features[1].categories = {"fuel", "shop"};
  d.columns.resize(2);
  for (size_t r = 0; r < rows; ++r) {
    d.columns[0].push_back(offset + static_cast<float>(r));
    d.columns[1].push_back(r % 3 == 0 ? std::nanf("") : static_cast<float>(r % 2));
    d.label.push_back(r % 4 == 0 ? 1.0f : 0.0f);
  }
  return d;
}

TEST(ShardedTest, GatheredRowsReadBackAsOneDatasetInPartOrder) {
  const Dataset first = Small(5, 0), second = Small(3, 100);
  const std::vector<uint32_t> some = {1, 4}, all = {0, 1, 2};
  const std::string bytes = EncodeRows(first, some) + EncodeRows(second, all) +
                            EncodeRows(second, std::vector<uint32_t>{});
  auto gathered = DecodeGatheredRows(first, bytes);
  ASSERT_TRUE(gathered.ok()) << gathered.status().ToString();
  ASSERT_EQ(gathered->rows(), 5u);
  EXPECT_EQ(gathered->columns[0], (std::vector<float>{1, 4, 100, 101, 102}));
  EXPECT_EQ(gathered->label, (std::vector<float>{0, 1, 1, 0, 0}));
  EXPECT_TRUE(std::isnan(gathered->columns[1][2]));
  EXPECT_EQ(gathered->features[1].categories, first.features[1].categories);
  // Bytes that are not whole blocks are an error, never a read past the end.
  for (size_t cut : {size_t{1}, size_t{7}, size_t{9}, bytes.size() - 1}) {
    EXPECT_FALSE(DecodeGatheredRows(first, std::string_view(bytes).substr(0, cut)).ok()) << cut;
  }
}

TEST(ShardedTest, StagesFromAnIncompleteJobAreRefusedWithWhatIsMissing) {
  Config config;
  nlohmann::json stages = ShardedStagesJson(config, nullptr);
  Context context;
  EXPECT_TRUE(MakeShardedStages(stages, "/tmp", context).ok());
  stages["split"].erase("seed");
  auto refused = MakeShardedStages(stages, "/tmp", context);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("the job's stages are incomplete"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("seed"), std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(MakeShardedStages(nlohmann::json::array(), "/tmp", context).ok());
}

TEST(ShardedTest, DerivedFeaturesAreAddedAfterTheDataColumnsAndNamesMayNotClash) {
  Dataset d = Small(4, 1);
  ASSERT_TRUE(AddDerivedFeatures(d, {"double_amount = amount * 2"}).ok());
  ASSERT_EQ(d.num_features(), 3u);
  EXPECT_EQ(d.features[2].name, "double_amount");
  EXPECT_EQ(d.columns[2], (std::vector<float>{2, 4, 6, 8}));
  Status clash = AddDerivedFeatures(d, {"amount = amount * 2"});
  EXPECT_NE(clash.message().find("'amount' is already a column of the data"), std::string::npos)
      << clash.message();
}

}  // namespace
}  // namespace fraudops
