// Fuzzes the XGBoost JSON model loader: any input gives a model or an error, never a crash;
// a loaded model scores edge-case rows without reading out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/xgboost_json.h"
#include "model_scoring.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ensemble = fraudops::LoadXgboostJson(text, "fuzz.json");
  if (ensemble.ok()) ScoreEdgeRows(*ensemble);
  return 0;
}
