// The reference docs name every configuration key and every hyperparameter the code accepts.

#include <gtest/gtest.h>

#include "core/config.h"
#include "test_util.h"
#include "train/lgbm_params.h"
#include "train/xgboost_trainer.h"

namespace fraudops {
namespace {

TEST(DocsTest, ConfigurationDocNamesEveryKey) {
  std::string doc = testing::ReadText(std::string(FRAUDOPS_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_FALSE(doc.empty());
  for (const std::string& key : ConfigKeys()) {
    std::string name = key.substr(key.find('.') + 1);
    EXPECT_NE(doc.find("  " + name + ":"), std::string::npos)
        << key << " is missing from docs/configuration.md";
  }
  // The doc embeds the generated template: it must be the current one.
  EXPECT_NE(doc.find(ConfigTemplate()), std::string::npos)
      << "docs/configuration.md is out of date: paste the output of `fraudops init` config.yml";
}

TEST(DocsTest, HyperparameterDocNamesEveryXgboostParameter) {
  std::string doc =
      testing::ReadText(std::string(FRAUDOPS_SOURCE_DIR) + "/docs/hyperparameters.md");
  for (const ParamSpec& spec : XgboostParamSpecs()) {
    EXPECT_NE(doc.find("| " + spec.name + " |"), std::string::npos) << spec.name;
    for (const std::string& alias : spec.aliases)
      EXPECT_NE(doc.find(alias), std::string::npos) << alias;
  }
}

TEST(DocsTest, HyperparameterDocNamesEveryLgbmParameter) {
  std::string doc =
      testing::ReadText(std::string(FRAUDOPS_SOURCE_DIR) + "/docs/hyperparameters.md");
  std::string lgbm = doc.substr(doc.find("## lgbm"));
  for (const ParamSpec& spec : LgbmParamSpecs()) {
    EXPECT_NE(lgbm.find("| " + spec.name + " |"), std::string::npos) << spec.name;
    for (const std::string& alias : spec.aliases)
      EXPECT_NE(lgbm.find(alias), std::string::npos) << alias;
  }
}

}  // namespace
}  // namespace fraudops
