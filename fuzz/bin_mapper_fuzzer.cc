// BinMapper::Parse: the bins a data-parallel lgbm worker receives from the others.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "train/lgbm_bins.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto mapper =
      fraudops::BinMapper::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (mapper.ok()) {
    // What a parsed mapper is used for must not crash either.
    (void)mapper->FeatureInfo();
    for (double value : {-1.0, 0.0, 0.5, 3.0, 1e30}) (void)mapper->ValueToBin(value);
    if (mapper->Serialize() != std::string_view(reinterpret_cast<const char*>(data), size))
      __builtin_trap();
  }
  return 0;
}
