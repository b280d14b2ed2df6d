// Fuzzes the bundle reader: any bundle.json gives a bundle or an error naming the JSON
// pointer, never a crash. The model file it names is a small fixed XGBoost model with the
// features "a" and "b" (other names are errors); a loaded bundle encodes and scores a row,
// and its calibration (format 5) maps edge probabilities to probabilities.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/bundle.h"
#include "model_scoring.h"

namespace {

const char kModel[] = R"({"learner": {"feature_names": ["a", "b"], "feature_types": ["float", "c"],
  "gradient_booster": {"name": "gbtree", "model": {"trees": [{"tree_param": {"num_nodes": "3"},
  "left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [0, 0, 0],
  "split_conditions": [0.5, -1.0, 1.0], "default_left": [1, 0, 0], "split_type": [0, 0, 0],
  "sum_hessian": [10, 4, 6]}]}}, "learner_model_param": {"base_score": "5E-1", "num_feature": "2"},
  "objective": {"name": "binary:logistic"}}, "version": [1, 7, 4]})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto read = [](const std::string& name) -> fraudops::Result<std::string> {
    if (name == "model.json") return std::string(kModel);
    return fraudops::Status::NotFound(name + ": no such file");
  };
  auto bundle = fraudops::ParseBundle(text, "fuzz/bundle.json", read);
  if (!bundle.ok()) return 0;
  ScoreEdgeRows(bundle->ensemble);
  for (double p : {0.0, 1e-300, 1e-12, 0.25, 0.5, 1 - 1e-12, 1.0}) {
    const double calibrated = bundle->Calibrated(p);
    if (!(calibrated >= 0 && calibrated <= 1)) std::abort();  // a probability, never NaN
  }
  fraudops::FeatureEncoder encoder(bundle->input);
  bool ok = false;
  for (size_t f = 0; f < encoder.size(); ++f) {
    (void)encoder.EncodeText(f, "1.5", &ok);
    (void)encoder.EncodeText(f, "x", &ok);
    (void)encoder.EncodeJson(f, nlohmann::json(nullptr), &ok);
  }
  return 0;
}
