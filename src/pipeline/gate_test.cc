#include "pipeline/gate.h"

#include <gtest/gtest.h>

namespace fraudops {
namespace {

TEST(GateTest, PassesAndFailsNamingMetricValueAndThreshold) {
  EvaluateConfig config;
  config.min_roc_auc = 0.9;
  config.min_metrics = {{"pr_auc", 0.7}};
  config.max_metrics = {{"log_loss", 0.01}};
  nlohmann::json metrics = {{"roc_auc", 0.95}, {"pr_auc", 0.65}, {"log_loss", 0.002}};
  GateResult gate = ApplyGate(config, metrics);
  EXPECT_FALSE(gate.passed);
  ASSERT_EQ(gate.reasons.size(), 1u);
  EXPECT_EQ(gate.reasons[0], "test pr_auc 0.65 < 0.7 (evaluate.min_metrics.pr_auc)");
  EXPECT_EQ(gate.checks.size(), 3u);

  metrics["pr_auc"] = 0.8;
  EXPECT_TRUE(ApplyGate(config, metrics).passed);
}

TEST(GateTest, UnknownMetricNamesAreConfigurationErrors) {
  EvaluateConfig config;
  config.min_metrics = {{"pr_acu", 0.5}};
  Status status = ValidateGateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("unknown metric 'pr_acu' (did you mean 'pr_auc'?)"),
            std::string::npos)
      << status.message();
}

}  // namespace
}  // namespace fraudops
