// The shipped examples run end to end, as a user would run them (examples/*/run.sh).

#include <gtest/gtest.h>

#include <string>

#include "cli_util.h"
#include "server_util.h"

namespace fraudops::testing {
namespace {

CommandResult RunExample(const TempDir& dir, const std::string& name, const std::string& env = "") {
  return RunCommand("cd " + dir.path() + " && env -u FRAUDOPS_CONFIG -u TRAINING_ALGORITHM " +
                        "-u FRAUDOPS_HOME FRAUDOPS=" + Binary() + " " + env + " sh " +
                        FRAUDOPS_SOURCE_DIR + "/examples/" + name + "/run.sh work",
                    dir.path());
}

TEST(ExamplesTest, AutoClaimsRunsEndToEnd) {
  TempDir dir;
  CommandResult r = RunExample(dir, "auto-claims");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("registered: claims-fraud@1"), std::string::npos) << r.out;
  // The online store answers the policy's profile, and the claim is scored with reasons.
  EXPECT_NE(r.out.find("\"group\":\"customers\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"found\":true"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"score\":"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"reasons\":"), std::string::npos) << r.out;
}

TEST(ExamplesTest, CardVelocityRunsEndToEnd) {
  TempDir dir;
  CommandResult r = RunExample(dir, "card-velocity", "ROWS=30000");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("registered: fraud-detector@1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"tx_24h\":"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"score\":"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fraudops::testing
