#pragma once
/// The LightGBM 4.6.0 reference trainings (../shared/reference/lightgbm/SOURCE.md): the same
/// data and parameters trained by fraudops' `lgbm`, scored on the test rows and compared with
/// the probabilities real LightGBM wrote. Shared by the parity benchmark (bench/lgbm_parity.cc,
/// every set) and the parity test (tests/lgbm_parity_test.cc, the small sets).

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/context.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "data/csv_reader.h"
#include "eval/metrics.h"
#include "model/lightgbm_text.h"
#include "train/lgbm_trainer.h"

namespace fraudops::lgbm_reference {

struct Case {
  std::string name;  ///< model_<name>.txt, expected_<name>_prob.txt
  std::string data;  ///< <data>_train.csv and <data>_test.csv
  std::string label;
  bool regression = false;
  std::vector<std::pair<std::string, std::string>> params;
};

/// Every reference training, with the parameters of its configuration file (SOURCE.md).
inline std::vector<Case> Cases() {
  const std::vector<std::pair<std::string, std::string>> common = {
      {"seed", "7"}, {"num_threads", "2"}, {"learning_rate", "0.1"}};
  auto with = [&](std::vector<std::pair<std::string, std::string>> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return extra;
  };
  return {
      {"numeric", "numeric", "label", false,
       with({{"objective", "binary"},
             {"num_iterations", "200"},
             {"num_leaves", "31"},
             {"min_sum_hessian_in_leaf", "1"}})},
      {"numeric_bagging", "numeric", "label", false,
       with({{"objective", "binary"},
             {"num_iterations", "150"},
             {"num_leaves", "31"},
             {"min_sum_hessian_in_leaf", "1"},
             {"feature_fraction", "0.8"},
             {"bagging_fraction", "0.7"},
             {"bagging_freq", "1"},
             {"lambda_l1", "0.5"},
             {"lambda_l2", "2"},
             {"min_data_in_leaf", "50"},
             {"max_depth", "8"}})},
      {"missing", "missing", "label", false,
       with({{"objective", "binary"},
             {"num_iterations", "100"},
             {"num_leaves", "15"},
             {"use_missing", "true"},
             {"zero_as_missing", "false"}})},
      {"missing_zero", "missing", "label", false,
       with({{"objective", "binary"},
             {"num_iterations", "100"},
             {"num_leaves", "15"},
             {"use_missing", "true"},
             {"zero_as_missing", "true"}})},
      {"categorical", "categorical", "label", false,
       with({{"objective", "binary"},
             {"num_iterations", "100"},
             {"num_leaves", "31"},
             {"categorical_feature", "6,7,8"}})},
      {"regression", "numeric", "f29", true,
       with({{"objective", "regression"}, {"num_iterations", "100"}, {"num_leaves", "31"}})},
  };
}

struct Result {
  double train_seconds = 0;
  /// Binary: test ROC AUC and average precision; regression: RMSE (in `ours_rmse`).
  double ours_auc = 0, ours_ap = 0, reference_auc = 0, reference_ap = 0;
  double ours_rmse = 0, reference_rmse = 0;
  std::string model_text;
  std::string error;
};

/// `path`, or `path`.xz decompressed into `scratch` (xz -dc).
inline std::string Plain(const std::filesystem::path& path, const std::filesystem::path& scratch) {
  if (std::filesystem::exists(path)) return path.string();
  std::filesystem::path compressed = path.string() + ".xz";
  std::filesystem::path out = scratch / path.filename();
  if (!std::filesystem::exists(out)) {
    std::filesystem::create_directories(scratch);
    std::string command = "xz -dc '" + compressed.string() + "' > '" + out.string() +
                          ".part' && mv '" + out.string() + ".part' '" + out.string() + "'";
    if (std::system(command.c_str()) != 0) return "";
  }
  return out.string();
}

inline std::vector<double> ReadNumbers(const std::filesystem::path& path) {
  std::vector<double> values;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    values.push_back(std::strtod(line.c_str(), nullptr));
  return values;
}

/// Trains `c` on `data_dir`'s train CSV and scores its test CSV; compares with LightGBM's
/// expected output in `reference_dir`. CSVs may be plain or .xz (decompressed into `scratch`).
inline Result Run(const Case& c, const std::filesystem::path& data_dir,
                  const std::filesystem::path& reference_dir, const std::filesystem::path& scratch,
                  int threads) {
  Result out;
  Logger logger;
  logger.set_level(LogLevel::kError);
  ThreadPool pool(threads);
  Context context;
  context.logger = &logger;
  context.pool = &pool;
  context.threads = threads;
  CsvOptions options;
  options.table.label_column = c.label;
  options.table.numeric_label = c.regression;
  const std::string train_path = Plain(data_dir / (c.data + "_train.csv"), scratch);
  const std::string test_path = Plain(data_dir / (c.data + "_test.csv"), scratch);
  auto train = ReadCsvFile(train_path, options, &pool);
  auto test = ReadCsvFile(test_path, options, &pool);
  if (!train.ok() || !test.ok()) {
    out.error = !train.ok() ? train.status().message() : test.status().message();
    return out;
  }
  TrainInput input;
  input.train = &*train;
  for (const auto& [name, value] : c.params) {
    if (name == "num_threads")
      input.params[name] = HyperParameter{threads, "case"};
    else
      input.params[name] = HyperParameter{value, "case " + c.name};
  }
  LgbmTrainer trainer;
  const auto started = std::chrono::steady_clock::now();
  auto model = trainer.Train(input, context);
  out.train_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!model.ok()) {
    out.error = model.status().message();
    return out;
  }
  out.model_text = *(*model)->Serialize();
  auto ensemble = LoadLightgbmText(out.model_text, c.name);
  if (!ensemble.ok()) {
    out.error = ensemble.status().message();
    return out;
  }
  std::vector<double> margins =
      ensemble->PredictMargins(std::span<const float>(test->RowMajor()), context);
  if (c.regression) {
    std::vector<double> expected =
        ReadNumbers(reference_dir / ("expected_" + c.name + "_pred.txt"));
    double ours = 0, theirs = 0;
    for (size_t r = 0; r < margins.size() && r < expected.size(); ++r) {
      ours += (margins[r] - test->label[r]) * (margins[r] - test->label[r]);
      theirs += (expected[r] - test->label[r]) * (expected[r] - test->label[r]);
    }
    out.ours_rmse = std::sqrt(ours / static_cast<double>(margins.size()));
    out.reference_rmse = std::sqrt(theirs / static_cast<double>(margins.size()));
    return out;
  }
  std::vector<float> ours(margins.size());
  for (size_t r = 0; r < margins.size(); ++r)
    ours[r] = static_cast<float>(ensemble->ApplyLink(margins[r]));
  std::vector<double> expected = ReadNumbers(reference_dir / ("expected_" + c.name + "_prob.txt"));
  std::vector<float> theirs(expected.begin(), expected.end());
  if (theirs.size() != ours.size()) {
    out.error = "expected_" + c.name + "_prob.txt has " + std::to_string(theirs.size()) +
                " rows, the test set " + std::to_string(ours.size());
    return out;
  }
  BinaryMetrics mine = ComputeMetrics(ours, test->label, 0.5);
  BinaryMetrics reference = ComputeMetrics(theirs, test->label, 0.5);
  out.ours_auc = mine.roc_auc;
  out.ours_ap = mine.pr_auc;
  out.reference_auc = reference.roc_auc;
  out.reference_ap = reference.pr_auc;
  return out;
}

}  // namespace fraudops::lgbm_reference
