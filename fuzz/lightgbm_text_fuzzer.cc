// Fuzzes the LightGBM text model loader: any input gives a model or an error naming the line,
// never a crash; a loaded model scores edge-case rows without reading out of bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/lightgbm_text.h"
#include "model_scoring.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ensemble = fraudops::LoadLightgbmText(text, "fuzz.txt");
  if (ensemble.ok()) ScoreEdgeRows(*ensemble);
  return 0;
}
