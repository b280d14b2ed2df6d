// Fuzzes the XGBoost JSON model loader: any input gives a model or an error, never a crash;
// a loaded model scores a row of NaNs and a row of zeros without reading out of bounds.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "model/xgboost_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ensemble = fraudops::LoadXgboostJson(text, "fuzz.json");
  if (!ensemble.ok()) return 0;
  std::vector<float> row(ensemble->num_features(), std::nanf(""));
  (void)ensemble->PredictMargin(row.data());
  std::fill(row.begin(), row.end(), 0.0f);
  (void)ensemble->PredictMargin(row.data());
  return 0;
}
