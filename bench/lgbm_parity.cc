// Quality and training time of fraudops' `lgbm` against real LightGBM 4.6.0 on the reference
// trainings (bench/lgbm_reference.h). Usage:
//   fraudops_lgbm_parity [--reference DIR] [--threads N] [--repeat N] [CASE...]
// DIR defaults to ../shared/reference/lightgbm beside the source tree; .xz CSVs are
// decompressed into the temp directory once. Prints one row per case: our test ROC AUC and
// average precision (RMSE for regression) beside LightGBM's, computed the same way from its
// expected_*_prob.txt, and our training time (binning + boosting, median of --repeat runs).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "lgbm_reference.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  using namespace fraudops;
  fs::path reference = fs::path(FRAUDOPS_SOURCE_DIR) / "../shared/reference/lightgbm";
  int threads = 2, repeat = 1;
  std::vector<std::string> wanted;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--reference" && i + 1 < argc)
      reference = argv[++i];
    else if (arg == "--threads" && i + 1 < argc)
      threads = std::atoi(argv[++i]);
    else if (arg == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else
      wanted.push_back(arg);
  }
  if (!fs::exists(reference / "model_numeric.txt")) {
    std::fprintf(stderr, "no reference set at %s (give --reference DIR)\n", reference.c_str());
    return 2;
  }
  const fs::path scratch = fs::temp_directory_path() / "fraudops-lgbm-reference";
  std::printf("%-16s %10s %10s %9s %10s %10s %9s %9s\n", "case", "AUC ours", "AUC lgbm", "diff",
              "AP ours", "AP lgbm", "diff", "train s");
  int failures = 0;
  for (const lgbm_reference::Case& c : lgbm_reference::Cases()) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), c.name) == wanted.end())
      continue;
    std::vector<double> seconds;
    lgbm_reference::Result result;
    for (int r = 0; r < repeat; ++r) {
      result = lgbm_reference::Run(c, reference, reference, scratch, threads);
      if (!result.error.empty()) break;
      seconds.push_back(result.train_seconds);
    }
    if (!result.error.empty()) {
      std::printf("%-16s error: %s\n", c.name.c_str(), result.error.c_str());
      ++failures;
      continue;
    }
    std::sort(seconds.begin(), seconds.end());
    double median = seconds[seconds.size() / 2];
    if (c.regression) {
      std::printf("%-16s RMSE ours %.4f, LightGBM %.4f (diff %+.4f) %38.3f\n", c.name.c_str(),
                  result.ours_rmse, result.reference_rmse, result.ours_rmse - result.reference_rmse,
                  median);
    } else {
      std::printf("%-16s %10.5f %10.5f %+9.5f %10.5f %10.5f %+9.5f %9.3f\n", c.name.c_str(),
                  result.ours_auc, result.reference_auc, result.ours_auc - result.reference_auc,
                  result.ours_ap, result.reference_ap, result.ours_ap - result.reference_ap,
                  median);
    }
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}
