#include "core/config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "../../tests/test_util.h"

namespace fraudops {
namespace {

using testing::TempDir;
using testing::WriteText;

Result<Config> Load(const std::string& path, std::map<std::string, std::string> env = {}) {
  LoadOptions options;
  options.config_path = path;
  options.environment = std::move(env);
  options.use_process_environment = false;
  return LoadConfig(options);
}

TEST(ConfigTest, DefaultsWithoutAFile) {
  TempDir dir;
  Result<Config> config = Load("");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->train.algorithm, "xgboost");
  EXPECT_DOUBLE_EQ(config->evaluate.min_roc_auc, 0.90);
  EXPECT_EQ(config->preprocess.label_column, "Class");
  // The built-in hyperparameters are the repository's models/xgboost_default.json.
  EXPECT_EQ(config->train.xgboost.at("max_depth").value, 6);
  EXPECT_EQ(config->train.lgbm.at("num_leaves").value, 15);
}

TEST(ConfigTest, YamlOverridesDefaults) {
  TempDir dir;
  WriteText(dir.File("config.yml"),
            "global:\n  seed: 7\npreprocess:\n  train_ratio: 0.6\n  validation_ratio: 0.2\n"
            "  test_ratio: 0.2\n  missing_values: [\"\", \"?\"]\nevaluate:\n"
            "  min_metrics: {pr_auc: 0.5}\n");
  Result<Config> config = Load(dir.File("config.yml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->global.seed, 7);
  EXPECT_DOUBLE_EQ(config->preprocess.train_ratio, 0.6);
  EXPECT_EQ(config->preprocess.missing_values, (std::vector<std::string>{"", "?"}));
  EXPECT_DOUBLE_EQ(config->evaluate.min_metrics.at("pr_auc"), 0.5);
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndClosestKey) {
  TempDir dir;
  WriteText(dir.File("config.yml"), "global:\n  seed: 1\npreprocess:\n  trian_ratio: 0.7\n");
  Result<Config> config = Load(dir.File("config.yml"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  const std::string& message = config.status().message();
  EXPECT_NE(message.find("config.yml:4:3"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown key 'preprocess.trian_ratio'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'train_ratio'"), std::string::npos) << message;
}

TEST(ConfigTest, UnknownGroupIsAnError) {
  TempDir dir;
  WriteText(dir.File("config.yml"), "trian:\n  algorithm: xgboost\n");
  Result<Config> config = Load(dir.File("config.yml"));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("unknown group 'trian' (did you mean 'train'?)"),
            std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, MalformedValuesSayWhatIsAccepted) {
  TempDir dir;
  WriteText(dir.File("a.yml"), "global:\n  seed: forty\n");
  auto a = Load(dir.File("a.yml"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("a.yml:2:9: global.seed = 'forty' is not an integer"),
            std::string::npos)
      << a.status().message();

  WriteText(dir.File("b.yml"), "train:\n  algorithm: xgbost\n");
  auto b = Load(dir.File("b.yml"));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("accepted: xgboost, lgbm (did you mean 'xgboost'?)"),
            std::string::npos)
      << b.status().message();

  WriteText(dir.File("c.yml"), "evaluate:\n  min_roc_auc: 1.5\n");
  auto c = Load(dir.File("c.yml"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("out of range; accepted: 0 to 1"), std::string::npos)
      << c.status().message();

  WriteText(dir.File("d.yml"), "global: [unclosed\n");
  auto d = Load(dir.File("d.yml"));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("malformed YAML"), std::string::npos) << d.status().message();
}

TEST(ConfigTest, RatiosMustSumToExactlyOne) {
  TempDir dir;
  WriteText(dir.File("config.yml"),
            "preprocess:\n  train_ratio: 0.7\n  validation_ratio: 0.2\n  test_ratio: 0.2\n");
  auto config = Load(dir.File("config.yml"));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("must sum to exactly 1"), std::string::npos);
  EXPECT_NE(config.status().message().find("= 1.1"), std::string::npos)
      << config.status().message();

  // Floating-point sums within 1e-9 are accepted.
  WriteText(dir.File("ok.yml"),
            "preprocess:\n  train_ratio: 0.1\n  validation_ratio: 0.2\n  test_ratio: 0.7\n");
  EXPECT_TRUE(Load(dir.File("ok.yml")).ok());
}

TEST(ConfigTest, EnvironmentOverridesFileAndDotEnvSuppliesDefaults) {
  TempDir dir;
  WriteText(dir.File("config.yml"), "train:\n  algorithm: xgboost\nglobal:\n  seed: 1\n");
  WriteText(dir.File(".env"),
            "# comment\nexport FRAUDOPS_GLOBAL_SEED=5\nXGBOOST_MAX_DEPTH=\"4\"\nCRON_SCHEDULE=0 3 "
            "* * *\n");
  auto config =
      Load(dir.File("config.yml"), {{"TRAINING_ALGORITHM", "lgbm"}, {"FRAUDOPS_GLOBAL_SEED", "9"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->train.algorithm, "lgbm");     // environment over the file
  EXPECT_EQ(config->global.seed, 9);              // real environment over .env
  EXPECT_EQ(config->schedule.cron, "0 3 * * *");  // .env over the file's default
  EXPECT_EQ(config->train.xgboost.at("max_depth").value, 4);
  EXPECT_NE(config->train.xgboost.at("max_depth").origin.find(".env:3"), std::string::npos);
}

TEST(ConfigTest, ListsAndMappingsInTheEnvironmentReadAsInTheFileOrCommaSeparated) {
  auto yaml = Load("", {{"FRAUDOPS_BIAS_FACETS", R"(["Amount>500", "merchant=a|b"])"},
                        {"FRAUDOPS_BIAS_MIN_METRICS", "{DI: 0.8, DPPL: -0.1}"}});
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  EXPECT_EQ(yaml->bias.facets, (std::vector<std::string>{"Amount>500", "merchant=a|b"}));
  EXPECT_EQ(yaml->bias.min_metrics, (std::map<std::string, double>{{"DI", 0.8}, {"DPPL", -0.1}}));
  auto plain = Load("", {{"FRAUDOPS_BIAS_FACETS", "Amount>500, merchant=a|b"},
                         {"FRAUDOPS_BIAS_MIN_METRICS", "DI=0.8,DPPL=-0.1"}});
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->bias.facets, yaml->bias.facets);
  EXPECT_EQ(plain->bias.min_metrics, yaml->bias.min_metrics);
  auto broken = Load("", {{"FRAUDOPS_BIAS_FACETS", "[Amount>500"}});
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find(
                "environment variable FRAUDOPS_BIAS_FACETS: bias.facets = '[Amount>500' is not "
                "valid YAML"),
            std::string::npos)
      << broken.status().message();
  auto not_a_map = Load("", {{"FRAUDOPS_BIAS_MIN_METRICS", "[DI]"}});
  ASSERT_FALSE(not_a_map.ok());
  EXPECT_NE(not_a_map.status().message().find("must be a mapping"), std::string::npos)
      << not_a_map.status().message();
}

TEST(ConfigTest, UnknownEnvironmentNameIsAnError) {
  auto config = Load("", {{"FRAUDOPS_GLOBAL_SEEED", "3"}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(
      config.status().message().find("environment variable FRAUDOPS_GLOBAL_SEEED: unknown variable "
                                     "(did you mean 'FRAUDOPS_GLOBAL_SEED'?)"),
      std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, MalformedDotEnvNamesTheLine) {
  TempDir dir;
  WriteText(dir.File("config.yml"), "");
  WriteText(dir.File(".env"), "FRAUDOPS_GLOBAL_SEED=1\nthis line has no equals sign\n");
  auto config = Load(dir.File("config.yml"));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(".env:2: expected KEY=VALUE"), std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, CronNeedsFiveFields) {
  auto config = Load("", {{"CRON_SCHEDULE", "0 3 * *"}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("has 4 fields"), std::string::npos)
      << config.status().message();
  // A value from the environment is the variable's, even beside a configuration file; the
  // file's own is the file's.
  TempDir dir;
  WriteText(dir.File("config.yml"), "schedule:\n  cron: \"61 * * * *\"\n");
  auto from_file = Load(dir.File("config.yml"));
  ASSERT_FALSE(from_file.ok());
  EXPECT_TRUE(
      from_file.status().message().starts_with(dir.File("config.yml") + ": schedule.cron: "))
      << from_file.status().message();
  auto from_env = Load(dir.File("config.yml"), {{"CRON_SCHEDULE", "0 25 * * *"}});
  ASSERT_FALSE(from_env.ok());
  EXPECT_TRUE(from_env.status().message().starts_with(
      "environment variable CRON_SCHEDULE: schedule.cron: cron hour field '25'"))
      << from_env.status().message();
}

TEST(ConfigTest, TheCollectorsUrlIsCheckedAtLoad) {
  EXPECT_TRUE(Load("", {{"FRAUDOPS_TRACING_OTLP_URL", "https://otel:4318/v1/traces"}}).ok());
  auto config = Load("", {{"FRAUDOPS_TRACING_OTLP_URL", "otel-collector:4317"}});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "environment variable FRAUDOPS_TRACING_OTLP_URL: "
            "tracing.otlp_url = 'otel-collector:4317': not an http:// or https:// URL; accepted: "
            "an OTLP/HTTP traces endpoint, http[s]://host[:port]/path, e.g. "
            "http://otel-collector:4318/v1/traces");
}

TEST(ConfigTest, TemplateParsesBackToTheDefaults) {
  TempDir dir;
  WriteText(dir.File("config.yml"), ConfigTemplate());
  auto config = Load(dir.File("config.yml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  Config defaults;
  EXPECT_EQ(config->preprocess.missing_values, defaults.preprocess.missing_values);
  EXPECT_EQ(config->global.home, defaults.global.home);
  EXPECT_DOUBLE_EQ(config->preprocess.synthetic_fraud_rate,
                   defaults.preprocess.synthetic_fraud_rate);
  // Every key appears with its environment name.
  for (const std::string& key : ConfigKeys()) {
    std::string name = key.substr(key.find('.') + 1);
    EXPECT_NE(ConfigTemplate().find("  " + name + ":"), std::string::npos) << key;
  }
}

TEST(ConfigTest, HyperparameterFileMustBeJsonObject) {
  TempDir dir;
  WriteText(dir.File("models/xgboost_default.json"), "{\"max_depth\": 3,}");
  WriteText(dir.File("config.yml"), "");
  auto config = Load(dir.File("config.yml"));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("xgboost_default.json: malformed JSON"),
            std::string::npos)
      << config.status().message();
}

}  // namespace
}  // namespace fraudops
