// libFuzzer target: the formats a sharded pipeline run's workers exchange — gathered row
// blocks (DecodeGatheredRows) and the stages of their job (MakeShardedStages) — give a result
// or an error for any bytes, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/context.h"
#include "pipeline/sharded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fraudops::Dataset schema;
    schema.features.resize(data[0] / 2 % 4);
    schema.columns.resize(schema.features.size());
    auto gathered = fraudops::DecodeGatheredRows(schema, bytes);
    if (gathered.ok() && gathered->columns.size() != schema.features.size()) __builtin_trap();
    return 0;
  }
  const nlohmann::json stages = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  fraudops::Context context;
  auto made = fraudops::MakeShardedStages(stages, "/nonexistent", context);
  (void)made;
  return 0;
}
