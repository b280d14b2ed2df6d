// `fraudops train`: trains from files and writes the library's own model file; errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cli_util.h"
#include "core/strings.h"
#include "model/lightgbm_text.h"
#include "model/xgboost_json.h"

namespace fraudops {
namespace {

using testing::CommandResult;
using testing::Fraudops;
using testing::TempDir;

void WriteSmallData(const TempDir& dir) {
  ASSERT_EQ(testing::WriteSynthetic(dir, "train.csv", 6000, "0.05", 3), 0);
  ASSERT_EQ(testing::WriteSynthetic(dir, "valid.csv", 3000, "0.05", 4), 0);
}

TEST(TrainCliTest, LgbmWritesALightgbmModelThatScores) {
  TempDir dir;
  WriteSmallData(dir);
  CommandResult run =
      Fraudops(dir,
               "train --algorithm lgbm --data train.csv --valid valid.csv --label Class "
               "--param num_iterations=40 --param num_leaves=7 --output model.txt --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto summary = nlohmann::json::parse(run.out);
  EXPECT_EQ(summary["algorithm"], "lgbm");
  EXPECT_LE(summary["rounds_trained"].get<int>(), 40);
  EXPECT_GT(summary["validation"]["auc"].get<double>(), 0.9);
  EXPECT_EQ(summary["parameters"]["num_leaves"], 7);
  std::string text = testing::ReadText(dir.File("model.txt"));
  auto model = LoadLightgbmText(text, "model.txt");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_NE(text.find("[num_leaves: 7]"), std::string::npos);
  // The file scores with `fraudops predict` like any LightGBM model.
  CommandResult predict =
      Fraudops(dir, "predict --model model.txt --input valid.csv --output scores.csv");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  EXPECT_EQ(testing::ReadText(dir.File("scores.csv")).rfind("score,margin\n", 0), 0u);
}

/// Rows with a text category that decides much of the label: merchant "m3" is risky.
std::string CategoryRows(int rows, unsigned seed, bool header = true) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::string out = header ? "amount,merchant,Class\n" : "";
  for (int r = 0; r < rows; ++r) {
    const int merchant = static_cast<int>(uniform(random) * 5);
    const double risk = merchant == 3 ? 0.6 : 0.03;
    const int label = uniform(random) < risk ? 1 : 0;
    out += std::to_string(uniform(random) * 100 + 30 * label) + ",m" + std::to_string(merchant) +
           "," + std::to_string(label) + "\n";
  }
  return out;
}

TEST(TrainCliTest, TheValidationFileIsEncodedWithTheTrainingFilesCategories) {
  TempDir dir;
  testing::WriteText(dir.File("train.csv"), CategoryRows(4000, 1));
  const std::string valid = CategoryRows(1500, 2, false);
  // The same validation rows in two orders: categories first seen in another order.
  std::vector<std::string> lines = Split(valid, '\n');
  lines.pop_back();
  std::vector<std::string> reversed(lines.rbegin(), lines.rend());
  testing::WriteText(dir.File("valid.csv"), "amount,merchant,Class\n" + Join(lines, "\n") + "\n");
  testing::WriteText(dir.File("shuffled.csv"),
                     "amount,merchant,Class\n" + Join(reversed, "\n") + "\n");
  double auc[2] = {};
  for (int i = 0; i < 2; ++i) {
    CommandResult run = Fraudops(
        dir, std::string("train --algorithm lgbm --data train.csv --label Class --valid ") +
                 (i ? "shuffled.csv" : "valid.csv") +
                 " --param num_iterations=30 --param num_leaves=7 --output model.txt --json");
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auc[i] = nlohmann::json::parse(run.out)["validation"]["auc"].get<double>();
  }
  EXPECT_EQ(auc[0], auc[1]) << "the validation rows' order changed what their categories meant";
  EXPECT_GT(auc[0], 0.8);
}

/// The 4000 rows of `scores` (Class,score,margin) score fraud on average more than twice as
/// high as the rest: the model read the categories it was trained on.
void ExpectRiskyScoredAboveSafe(const std::string& scores) {
  std::vector<std::string> lines = Split(testing::ReadText(scores), '\n');
  ASSERT_GE(lines.size(), 4001u);
  double risky = 0, safe = 0;
  size_t risky_n = 0, safe_n = 0;
  for (size_t r = 1; r <= 4000; ++r) {
    const std::vector<std::string> fields = Split(lines[r], ',');
    const double score = std::strtod(fields[1].c_str(), nullptr);
    (fields[0] == "1" ? risky : safe) += score;
    ++(fields[0] == "1" ? risky_n : safe_n);
  }
  EXPECT_GT(risky / static_cast<double>(risky_n), 2 * safe / static_cast<double>(safe_n));
}

TEST(TrainCliTest, ALightgbmFileTrainedOnTextCategoriesScoresTheFileItWasTrainedOn) {
  TempDir dir;
  testing::WriteText(dir.File("train.csv"), CategoryRows(4000, 1));
  CommandResult run = Fraudops(dir,
                               "train --algorithm lgbm --data train.csv --label Class "
                               "--param num_iterations=30 --param num_leaves=7 --output model.txt");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string text = testing::ReadText(dir.File("model.txt"));
  EXPECT_NE(text.find("\npandas_categorical:[[\"m"), std::string::npos) << text.substr(0, 300);
  // `fraudops predict` reads the names back: the training file scores, and well.
  CommandResult predict =
      Fraudops(dir, "predict --model model.txt --input train.csv --output scores.csv --keep Class");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  ExpectRiskyScoredAboveSafe(dir.File("scores.csv"));
}

TEST(TrainCliTest, AnXgboostFileTrainedOnTextCategoriesScoresTheFileItWasTrainedOn) {
  TempDir dir;
  testing::WriteText(dir.File("train.csv"), CategoryRows(4000, 1));
  CommandResult run = Fraudops(dir,
                               "train --algorithm xgboost --data train.csv --label Class "
                               "--param num_round=30 --param max_depth=3 --output model.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // XGBoost's file keeps codes; the names are written beside it.
  const nlohmann::json names =
      nlohmann::json::parse(testing::ReadText(dir.File("model.json.categories.json")));
  EXPECT_EQ(names["format"], "fraudops-categories/1");
  ASSERT_TRUE(names["features"].contains("merchant")) << names.dump();
  CommandResult predict = Fraudops(
      dir, "predict --model model.json --input train.csv --output scores.csv --keep Class");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  ExpectRiskyScoredAboveSafe(dir.File("scores.csv"));
  // A damaged name file is refused, naming it.
  testing::WriteText(dir.File("model.json.categories.json"), "{\"format\": \"other\"}");
  CommandResult refused =
      Fraudops(dir, "predict --model model.json --input train.csv --output scores2.csv");
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_NE(refused.err.find("model.json.categories.json: not a category file"), std::string::npos)
      << refused.err;
}

TEST(TrainCliTest, XgboostWritesXgboostJson) {
  TempDir dir;
  WriteSmallData(dir);
  CommandResult run = Fraudops(dir,
                               "train --algorithm xgboost --data train.csv --library-defaults "
                               "--param num_round=15 --param max_depth=3 --output model.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("wrote model.json"), std::string::npos) << run.out;
  auto model = LoadXgboostJson(testing::ReadText(dir.File("model.json")), "model.json");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->num_trees(), 15u);
}

TEST(TrainCliTest, RegressionTakesANumericLabel) {
  TempDir dir;
  WriteSmallData(dir);
  CommandResult run =
      Fraudops(dir,
               "train --data train.csv --label Amount --library-defaults "
               "--param objective=regression --param num_iterations=20 --output amount.txt");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string text = testing::ReadText(dir.File("amount.txt"));
  EXPECT_NE(text.find("objective=regression\n"), std::string::npos);
  EXPECT_EQ(text.find(" Amount "), std::string::npos);  // the target is not a feature
}

TEST(TrainCliTest, ConfiguredEarlyStoppingIsOffWithoutValidationButAskedForIsAnError) {
  TempDir dir;
  WriteSmallData(dir);
  // models/lgbm_default.json has early_stopping_round 50: without --valid it is switched off.
  CommandResult configured =
      Fraudops(dir, "train --data train.csv --param num_iterations=5 --output a.txt");
  EXPECT_EQ(configured.exit_code, 0) << configured.err;
  EXPECT_NE(configured.err.find("early stopping is off"), std::string::npos) << configured.err;
  CommandResult asked =
      Fraudops(dir, "train --data train.csv --param early_stopping_round=5 --output b.txt");
  EXPECT_EQ(asked.exit_code, 2);
  EXPECT_NE(asked.err.find("needs validation data"), std::string::npos) << asked.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("b.txt")));
}

/// Mean |a - b| of the "score" column of two `fraudops predict` outputs of the same rows.
double MeanScoreDifference(const std::string& a, const std::string& b) {
  const std::vector<std::string> left = Split(testing::ReadText(a), '\n'),
                                 right = Split(testing::ReadText(b), '\n');
  EXPECT_EQ(left.size(), right.size());
  const std::vector<std::string> header = Split(left[0], ',');
  const size_t column =
      static_cast<size_t>(std::find(header.begin(), header.end(), "score") - header.begin());
  double sum = 0;
  size_t n = 0;
  for (size_t r = 1; r < std::min(left.size(), right.size()); ++r) {
    if (left[r].empty()) continue;
    sum += std::abs(std::strtod(Split(left[r], ',')[column].c_str(), nullptr) -
                    std::strtod(Split(right[r], ',')[column].c_str(), nullptr));
    ++n;
  }
  return n ? sum / static_cast<double>(n) : 1.0;
}

TEST(TrainCliTest, ExternalMemoryTrainsFromACsvOrADatasetFileAsInMemory) {
  TempDir dir;
  WriteSmallData(dir);
  ASSERT_EQ(Fraudops(dir, "data import train.csv --output train.fds").exit_code, 0);
  const std::string common =
      "train --algorithm xgboost --valid valid.csv --library-defaults --param num_round=20 "
      "--param max_depth=3 --param eval_metric=auc --json ";
  CommandResult memory = Fraudops(dir, common + "--data train.csv --output memory.json");
  ASSERT_EQ(memory.exit_code, 0) << memory.err;
  // A CSV (streamed into a dataset file first) and a dataset file, in batches of 1000 rows.
  for (const std::string data : {"train.csv", "train.fds"}) {
    SCOPED_TRACE(data);
    CommandResult external = Fraudops(dir, common + "--data " + data +
                                               " --external-memory --batch-rows 1000 "
                                               "--output external.json");
    ASSERT_EQ(external.exit_code, 0) << external.err;
    EXPECT_NE(external.err.find("external memory"), std::string::npos) << external.err;
    const nlohmann::json summary = nlohmann::json::parse(external.out);
    EXPECT_TRUE(summary["external_memory"].get<bool>());
    EXPECT_EQ(summary["rows"], 6000);
    EXPECT_GT(summary["peak_memory_mib"].get<double>(), 1.0);
    EXPECT_NEAR(summary["validation"]["auc"].get<double>(),
                nlohmann::json::parse(memory.out)["validation"]["auc"].get<double>(), 0.01);
    // The model scores the validation rows as the in-memory one does, near enough: the same
    // data, quantiles sketched batch by batch.
    for (const char* model : {"memory", "external"}) {
      CommandResult predict =
          Fraudops(dir, std::string("predict --model ") + model +
                            ".json --input valid.csv --output " + model + ".csv");
      ASSERT_EQ(predict.exit_code, 0) << predict.err;
    }
    EXPECT_LT(MeanScoreDifference(dir.File("memory.csv"), dir.File("external.csv")), 0.02);
  }
}

/// 4,000 training rows of CategoryRows and 1,500 validation rows that see the categories in
/// another order (their codes are re-coded with the training file's).
void WriteCategoryFiles(const TempDir& dir, const std::string& train, const std::string& valid) {
  testing::WriteText(dir.File(train), CategoryRows(4000, 1));
  const std::string rows = CategoryRows(1500, 2);
  testing::WriteText(dir.File(valid),
                     "amount,merchant,Class\n" + rows.substr(rows.find('\n', 200) + 1));
}

TEST(TrainCliTest, ExternalMemoryLgbmWritesTheModelTrainingInMemoryWrites) {
  TempDir dir;
  WriteSmallData(dir);
  ASSERT_EQ(Fraudops(dir, "data import train.csv --output train.fds").exit_code, 0);
  // Bins from a sample of 2,000 of the 6,000 rows while the file is read 700 rows at a time
  // (the sample spans pieces); max_bin 300 makes 16-bit bin columns.
  for (const std::string bins : {"", "--param max_bin=300 "}) {
    SCOPED_TRACE(bins);
    const std::string common =
        "train --algorithm lgbm --valid valid.csv --param num_iterations=30 "
        "--param bin_construct_sample_cnt=2000 --param early_stopping_round=5 --json " +
        bins;
    CommandResult memory = Fraudops(dir, common + "--data train.csv --output memory.txt");
    ASSERT_EQ(memory.exit_code, 0) << memory.err;
    for (const std::string data : {"train.csv", "train.fds"}) {
      SCOPED_TRACE(data);
      CommandResult external = Fraudops(
          dir, common + "--data " + data + " --external-memory --batch-rows 700 --output ext.txt");
      ASSERT_EQ(external.exit_code, 0) << external.err;
      EXPECT_TRUE(nlohmann::json::parse(external.out)["external_memory"].get<bool>());
      EXPECT_EQ(testing::ReadText(dir.File("ext.txt")), testing::ReadText(dir.File("memory.txt")));
    }
  }
  // Text categories, the validation file seeing them in another order (re-coded).
  WriteCategoryFiles(dir, "cats.csv", "cats-valid.csv");
  const std::string common =
      "train --algorithm lgbm --data cats.csv --valid cats-valid.csv --label Class "
      "--param num_iterations=20 --param num_leaves=7 ";
  ASSERT_EQ(Fraudops(dir, common + "--output memory.txt").exit_code, 0);
  CommandResult external =
      Fraudops(dir, common + "--external-memory --batch-rows 300 --output ext.txt");
  ASSERT_EQ(external.exit_code, 0) << external.err;
  const std::string model = testing::ReadText(dir.File("ext.txt"));
  EXPECT_EQ(model, testing::ReadText(dir.File("memory.txt")));
  EXPECT_NE(model.find("\npandas_categorical:[[\"m"), std::string::npos);
}

TEST(TrainCliTest, ExternalMemoryReadsTextCategoriesAsCodesAndScoresThem) {
  TempDir dir;
  WriteCategoryFiles(dir, "train.csv", "valid.csv");
  const std::string common =
      "train --algorithm xgboost --data train.csv --valid valid.csv --label Class "
      "--library-defaults --param num_round=30 --param max_depth=3 --json ";
  CommandResult run =
      Fraudops(dir, common + "--external-memory --batch-rows 500 --output model.json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_GT(nlohmann::json::parse(run.out)["validation"]["auc"].get<double>(), 0.8);
  // The codes split as numbers (libxgboost 1.7's external-memory categorical splits are
  // wrong), and the names are written beside the model as in memory.
  const nlohmann::json model = nlohmann::json::parse(testing::ReadText(dir.File("model.json")));
  EXPECT_EQ(model["learner"]["feature_types"], nlohmann::json({"q", "q"}));
  ASSERT_TRUE(std::filesystem::exists(dir.File("model.json.categories.json")));
  CommandResult predict = Fraudops(
      dir, "predict --model model.json --input train.csv --output scores.csv --keep Class");
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  ExpectRiskyScoredAboveSafe(dir.File("scores.csv"));
  // As the model trained in memory (categorical splits) scores them, near enough.
  ASSERT_EQ(Fraudops(dir, common + "--output memory.json").exit_code, 0);
  ASSERT_EQ(Fraudops(dir,
                     "predict --model memory.json --input train.csv --output memory.csv "
                     "--keep Class")
                .exit_code,
            0);
  EXPECT_LT(MeanScoreDifference(dir.File("scores.csv"), dir.File("memory.csv")), 0.02);
}

/// A memory cgroup limiting what runs in it to `bytes` (cgroup v1's memory controller, or
/// v2's memory.max), removed again with this object; `ok()` false where this process cannot
/// make one (not root, no memory controller).
class MemoryLimit {
 public:
  explicit MemoryLimit(size_t bytes) {
    const std::string name = "fraudops-test-" + std::to_string(::getpid());
    const bool v1 = std::filesystem::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    dir_ = (v1 ? "/sys/fs/cgroup/memory/" : "/sys/fs/cgroup/") + name;
    std::error_code error;
    if (!std::filesystem::create_directory(dir_, error)) {
      why_ = "cannot create " + dir_ + ": " + error.message();
      dir_.clear();
      return;
    }
    const std::string limit = dir_ + (v1 ? "/memory.limit_in_bytes" : "/memory.max");
    std::ofstream(limit) << bytes;
    if (!std::filesystem::exists(limit) || Trim(testing::ReadText(limit)) != std::to_string(bytes))
      why_ = "cannot set " + limit;
    // No swap for this group: past the limit, the kernel kills.
    if (v1)
      std::ofstream(dir_ + "/memory.swappiness") << 0;
    else
      std::ofstream(dir_ + "/memory.swap.max") << 0;
  }
  ~MemoryLimit() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  bool ok() const { return !dir_.empty() && why_.empty(); }
  const std::string& why() const { return why_; }
  /// A shell prefix that moves the command after it into the group.
  std::string Enter() const {
    return "sh -c 'echo $$ > " + dir_ + "/cgroup.procs && exec \"$@\"' sh ";
  }

 private:
  std::string dir_, why_;
};

/// ASan (Debug builds) holds freed memory in quarantine; under a limit it would count.
const char kNoQuarantine[] = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0";

/// Runs `train` under `limit` in memory, which the kernel must kill (else the test proves
/// nothing) leaving no `limited.EXT`, then with --external-memory writing `external.EXT`;
/// returns the latter's summary (null after a failure).
nlohmann::json TrainOutOfMemoryOnly(const TempDir& dir, const MemoryLimit& limit,
                                    const std::string& train, const std::string& ext) {
  const std::string env = std::string(kNoQuarantine) + " " + limit.Enter();
  CommandResult memory = Fraudops(dir, train + "--output limited." + ext, env);
  EXPECT_NE(memory.exit_code, 0) << "training in memory fit under the limit: the test proves "
                                    "nothing; raise the rows";
  EXPECT_FALSE(std::filesystem::exists(dir.File("limited." + ext)));
  CommandResult external = Fraudops(dir, train + "--external-memory --output external." + ext, env);
  if (external.exit_code != 0) {
    ADD_FAILURE() << external.err;
    return nullptr;
  }
  return nlohmann::json::parse(external.out);
}

TEST(TrainCliTest, ExternalMemoryTrainsUnderAMemoryLimitThatInMemoryTrainingExceedsAsWell) {
  // The limit sits between what the two need on this data (measured: the release build's
  // in-memory training is killed at 200 MiB, external memory passes at 160; under ASan,
  // whose shadow memory and allocator add to both, in memory is killed at 450 at -O0 but fits
  // under 380 at -Og, and killed at 300; external memory passes at 300, peaking at 249). The
  // CSV is 1.6 times the release build's limit; docs/external-memory.md has a run at 3 times.
#if defined(__SANITIZE_ADDRESS__)
  constexpr size_t kLimitMib = 300;
#else
  constexpr size_t kLimitMib = 160;
#endif
  MemoryLimit limit(kLimitMib << 20);
  if (!limit.ok()) GTEST_SKIP() << "no memory cgroup here: " << limit.why();
  TempDir dir;
  // 500,000 rows of the built-in data: a 265 MB CSV, 62 MB of float32 values, which training in
  // memory holds about four times over.
  ASSERT_EQ(testing::WriteSynthetic(dir, "big.csv", 500000, "0.01", 5), 0);
  ASSERT_EQ(testing::WriteSynthetic(dir, "valid.csv", 20000, "0.01", 6), 0);
#if !defined(__SANITIZE_ADDRESS__)
  ASSERT_GT(std::filesystem::file_size(dir.File("big.csv")), kLimitMib << 20);
#endif
  const std::string train =
      "train --algorithm xgboost --data big.csv --valid valid.csv --library-defaults "
      "--param num_round=5 --param max_depth=4 --param eval_metric=auc --json ";
  const nlohmann::json summary = TrainOutOfMemoryOnly(dir, limit, train, "json");
  ASSERT_FALSE(summary.is_null());
  EXPECT_EQ(summary["rows"], 500000);
  EXPECT_GT(summary["peak_memory_mib"].get<double>(), 0.0);
  std::printf("external memory under a %zu MiB limit: peak resident %.1f MiB\n", kLimitMib,
              summary["peak_memory_mib"].get<double>());
  // The same quality as training in memory (without the limit) on the same data.
  CommandResult unlimited = Fraudops(dir, train + "--output memory.json", kNoQuarantine);
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.err;
  EXPECT_NEAR(summary["validation"]["auc"].get<double>(),
              nlohmann::json::parse(unlimited.out)["validation"]["auc"].get<double>(), 0.002);
}

TEST(TrainCliTest, ExternalMemoryLgbmTrainsACsvThreeTimesTheMemoryLimitToTheSameModel) {
  // lgbm keeps about 28 bytes a row in memory whatever the features (labels, gradients,
  // scores, row order); its bin columns live in a mapped file the kernel may drop under the
  // limit. Measured: the release build trains a 318 MB CSV (600,000 rows) under 48 MiB. ASan's
  // shadow memory and allocator need a larger limit, and so more rows for the same ratio: it
  // passed at 330 MiB on 2,100,000 rows but was once killed there in CI, and once at 360 MiB
  // on 2,250,000 rows (in training, after the import).
#if defined(__SANITIZE_ADDRESS__)
  constexpr size_t kLimitMib = 420;
  constexpr int kRows = 2700000;
#else
  constexpr size_t kLimitMib = 100;
  constexpr int kRows = 640000;
#endif
  MemoryLimit limit(kLimitMib << 20);
  if (!limit.ok()) GTEST_SKIP() << "no memory cgroup here: " << limit.why();
  TempDir dir;
  // A tenth of the rows generated, then written ten times over: generating millions of rows
  // took the sanitized build ~50 s; repeated rows change nothing external memory does.
  ASSERT_EQ(testing::WriteSynthetic(dir, "part.csv", kRows / 10, "0.01", 5), 0);
  {
    const std::string part = testing::ReadText(dir.File("part.csv"));
    const size_t body = part.find('\n') + 1;
    std::ofstream big(dir.File("big.csv"), std::ios::binary);
    big.write(part.data(), static_cast<std::streamsize>(part.size()));
    for (int copy = 1; copy < 10; ++copy)
      big.write(part.data() + body, static_cast<std::streamsize>(part.size() - body));
    ASSERT_TRUE(big.good());
  }
  ASSERT_EQ(testing::WriteSynthetic(dir, "valid.csv", 20000, "0.01", 6), 0);
  const uintmax_t csv = std::filesystem::file_size(dir.File("big.csv"));
  ASSERT_GT(csv, 3 * (kLimitMib << 20)) << "the CSV is not 3 times the limit";
  const std::string train =
      "train --algorithm lgbm --data big.csv --valid valid.csv --library-defaults "
      "--param num_iterations=10 --param metric=auc --json ";
  const nlohmann::json summary = TrainOutOfMemoryOnly(dir, limit, train, "txt");
  ASSERT_FALSE(summary.is_null());
  EXPECT_EQ(summary["rows"], kRows);
  std::printf(
      "lgbm external memory: a %.0f MB CSV under a %zu MiB limit (%.1fx), peak resident "
      "%.1f MiB (file pages included)\n",
      static_cast<double>(csv) / 1e6, kLimitMib,
      static_cast<double>(csv) / static_cast<double>(kLimitMib << 20),
      summary["peak_memory_mib"].get<double>());
  // The same quality as in memory: the same model, training in memory without the limit.
  CommandResult unlimited = Fraudops(dir, train + "--output memory.txt", kNoQuarantine);
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.err;
  EXPECT_EQ(testing::ReadText(dir.File("external.txt")), testing::ReadText(dir.File("memory.txt")));
  EXPECT_GT(summary["validation"]["auc"].get<double>(), 0.9);
}

TEST(TrainCliTest, ExternalMemoryRefusesWhatItCannotDo) {
  TempDir dir;
  WriteSmallData(dir);
  CommandResult workers = Fraudops(dir,
                                   "train --algorithm xgboost --data train.csv --external-memory "
                                   "--workers 2 --output model.json");
  EXPECT_EQ(workers.exit_code, 2) << workers.err;
  EXPECT_NE(workers.err.find("does not combine with --workers 2"), std::string::npos)
      << workers.err;
  CommandResult zero = Fraudops(dir,
                                "train --algorithm xgboost --data train.csv --external-memory "
                                "--batch-rows 0 --output model.json");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_NE(zero.err.find("--batch-rows"), std::string::npos) << zero.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("model.json")));
}

TEST(TrainCliTest, BadInputIsAClearErrorAndWritesNothing) {
  TempDir dir;
  WriteSmallData(dir);
  CommandResult unknown =
      Fraudops(dir, "train --data train.csv --param num_leafs=8 --output m.txt");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(
      unknown.err.find("--param num_leafs: lgbm parameter 'num_leafs' is unknown (did you mean"),
      std::string::npos)
      << unknown.err;
  CommandResult malformed =
      Fraudops(dir, "train --data train.csv --param num_leaves --output m.txt");
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_NE(malformed.err.find("expected KEY=VALUE"), std::string::npos) << malformed.err;
  CommandResult label = Fraudops(dir, "train --data train.csv --label Klass --output m.txt");
  EXPECT_EQ(label.exit_code, 3);
  EXPECT_NE(label.err.find("missing label column 'Klass' (did you mean 'Class'?)"),
            std::string::npos)
      << label.err;
  testing::WriteText(dir.File("other.csv"), "a,b,Class\n1,2,0\n3,4,1\n");
  CommandResult columns = Fraudops(dir, "train --data train.csv --valid other.csv --output m.txt");
  EXPECT_EQ(columns.exit_code, 2);
  EXPECT_NE(columns.err.find("differ from"), std::string::npos) << columns.err;
  std::filesystem::create_directories(dir.File("taken"));
  CommandResult taken =
      Fraudops(dir, "train --data train.csv --param num_iterations=3 --output taken");
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_TRUE(std::filesystem::is_directory(dir.File("taken")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("m.txt")));
  CommandResult algorithm =
      Fraudops(dir, "train --algorithm catboost --data train.csv --output m.txt");
  EXPECT_EQ(algorithm.exit_code, 2);
}

}  // namespace
}  // namespace fraudops
