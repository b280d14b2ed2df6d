// fraudops' lgbm against real LightGBM 4.6.0 on the reference trainings: the same data and
// parameters give test ROC AUC within 0.003 and average precision within 0.01 of LightGBM's
// (BENCHMARKS.md has the figures). The small sets are committed (tests/data/lightgbm); the
// numeric ones are read from ../shared when it is there.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "lgbm_reference.h"

namespace fraudops {
namespace {

namespace fs = std::filesystem;

fs::path Golden() { return fs::path(FRAUDOPS_SOURCE_DIR) / "tests/data/lightgbm"; }

fs::path Shared() {
  const char* shared = std::getenv("FOPS_SHARED_DIR");
  fs::path dir = (shared ? fs::path(shared) : fs::path(FRAUDOPS_SOURCE_DIR) / "../shared") /
                 "reference/lightgbm";
  return fs::exists(dir / "numeric_train.csv.xz") ? dir : fs::path();
}

const lgbm_reference::Case& CaseNamed(const std::string& name) {
  static const std::vector<lgbm_reference::Case> cases = lgbm_reference::Cases();
  for (const auto& c : cases) {
    if (c.name == name) return c;
  }
  std::abort();
}

void ExpectParity(const std::string& name, const fs::path& dir) {
  const fs::path scratch =
      fs::temp_directory_path() / ("fraudops-lgbm-parity-" + std::to_string(getpid()));
  lgbm_reference::Result r = lgbm_reference::Run(CaseNamed(name), dir, dir, scratch, 2);
  fs::remove_all(scratch);
  ASSERT_TRUE(r.error.empty()) << r.error;
  if (CaseNamed(name).regression) {
    EXPECT_LE(r.ours_rmse, r.reference_rmse * 1.01) << name;
    return;
  }
  EXPECT_NEAR(r.ours_auc, r.reference_auc, 0.003) << name;
  EXPECT_NEAR(r.ours_ap, r.reference_ap, 0.01) << name;
}

TEST(LgbmParityTest, MissingValues) { ExpectParity("missing", Golden()); }
TEST(LgbmParityTest, ZeroAsMissing) { ExpectParity("missing_zero", Golden()); }
TEST(LgbmParityTest, Categorical) { ExpectParity("categorical", Golden()); }

TEST(LgbmParityTest, NumericBaggingAndRegressionFromShared) {
  fs::path dir = Shared();
  if (dir.empty())
    GTEST_SKIP()
        << "skipped: ../shared/reference/lightgbm is not in this checkout (set FOPS_SHARED_DIR)";
  ExpectParity("numeric", dir);
  ExpectParity("numeric_bagging", dir);
  ExpectParity("regression", dir);
}

}  // namespace
}  // namespace fraudops
