// The bias and explanation report end to end (bench/responsible_ai.sh): read a CSV in the
// reference format and an XGBoost model, explain every row with exact TreeSHAP (the explain
// step's ExplainGlobally), predict, and compute every bias metric of one facet with 1,000
// bootstrap resamples and the flip test (the bias step's ComputeBias). Prints one JSON line
// of timings. Usage: fraudops_responsible_ai_bench MODEL_JSON DATA_CSV FACET_COLUMN THRESHOLD
// SCORE_THRESHOLD THREADS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/files.h"
#include "core/logging.h"
#include "core/thread_pool.h"
#include "data/source.h"
#include "eval/bias.h"
#include "model/bundle.h"
#include "model/global_explanations.h"

using namespace fraudops;

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: %s MODEL_JSON DATA_CSV FACET_COLUMN THRESHOLD SCORE_THRESHOLD THREADS\n",
                 argv[0]);
    return 2;
  }
  const std::string model_path = argv[1], data_path = argv[2], facet_column = argv[3];
  const double facet_threshold = std::atof(argv[4]), score_threshold = std::atof(argv[5]);
  const int threads = std::atoi(argv[6]);
  Logger logger(LogLevel::kOff);
  ThreadPool pool(threads);
  Context context{.logger = &logger, .pool = &pool, .threads = threads};
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  const auto start = Clock::now();
  auto text = ReadFile(model_path);
  if (!text.ok()) return std::fprintf(stderr, "%s\n", text.status().ToString().c_str()), 1;
  auto engine = ParseModelText(*text, model_path);
  if (!engine.ok()) return std::fprintf(stderr, "%s\n", engine.status().ToString().c_str()), 1;
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  SourceOptions options;
  options.csv.table.drop_columns = {"Time"};  // the default pipeline's model leaves it out
  auto loaded = sources.Load(data_path, options, context);
  if (!loaded.ok()) return std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str()), 1;
  const Dataset& data = loaded->dataset;
  const std::vector<float> rows = data.RowMajor();
  const double read_s = seconds(start);

  auto t = Clock::now();
  auto explained = ExplainGlobally(*engine, rows, {}, context);
  if (!explained.ok())
    return std::fprintf(stderr, "%s\n", explained.status().ToString().c_str()), 1;
  const double explain_s = seconds(t);

  t = Clock::now();
  const std::vector<double> margins = engine->PredictMargins(std::span<const float>(rows), context);
  const int column = data.FeatureIndex(facet_column);
  if (column < 0) return std::fprintf(stderr, "no column %s\n", facet_column.c_str()), 1;
  std::vector<int8_t> facet(data.rows());
  std::vector<uint8_t> label(data.rows()), predicted(data.rows());
  for (size_t r = 0; r < data.rows(); ++r) {
    facet[r] = data.columns[static_cast<size_t>(column)][r] > facet_threshold;
    label[r] = data.label[r] > 0.5f;
    predicted[r] = engine->ApplyLink(margins[r]) >= score_threshold;
  }
  BiasInput input;
  input.facet = facet;
  input.label = label;
  input.predicted = predicted;
  for (const std::vector<float>& values : data.columns) input.features.push_back(values);
  const BiasReport report = ComputeBias(input, {.bootstrap = 1000});
  const double bias_s = seconds(t);
  nlohmann::json di;
  for (const BiasMetric& m : report.post_training) {
    if (m.name == "DI" && m.value) di = *m.value;
  }
  std::printf("%s\n", nlohmann::json{{"rows", data.rows()},
                                     {"read_s", read_s},
                                     {"explain_s", explain_s},
                                     {"bias_s", bias_s},
                                     {"total_s", seconds(start)},
                                     {"top_feature", explained->features[0].name},
                                     {"max_additivity_error", explained->max_additivity_error},
                                     {"DI", di}}
                          .dump()
                          .c_str());
  return 0;
}
