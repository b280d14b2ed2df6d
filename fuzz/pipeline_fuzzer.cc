// libFuzzer target: what the pipeline reads besides its configuration file — the gathered row
// blocks and the job stages a sharded run's workers exchange (DecodeGatheredRows,
// MakeShardedStages) and the bias step's facets (ParseFacet, FacetRows) — gives a result or
// an error for any bytes, never a crash.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/context.h"
#include "pipeline/bias_facets.h"
#include "pipeline/sharded.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      fraudops::Dataset schema;
      schema.features.resize(data[0] / 3 % 4);
      schema.columns.resize(schema.features.size());
      auto gathered = fraudops::DecodeGatheredRows(schema, bytes);
      if (gathered.ok() && gathered->columns.size() != schema.features.size()) __builtin_trap();
      break;
    }
    case 1: {
      const nlohmann::json stages =
          nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
      fraudops::Context context;
      auto made = fraudops::MakeShardedStages(stages, "/nonexistent", context);
      (void)made;
      break;
    }
    default: {
      auto facet = fraudops::ParseFacet(std::string(bytes), "bias.facets[0]");
      if (!facet.ok()) break;
      fraudops::ColumnSchema categorical;
      categorical.name = "band";
      categorical.type = fraudops::ColumnType::kCategorical;
      categorical.categories = {"18-25", "26+"};
      fraudops::ColumnSchema numeric;
      numeric.name = "amount";
      const float values[] = {0, 1, 2, -1, std::nanf(""), 1e30f};
      for (const auto* schema : {&categorical, &numeric}) {
        auto rows = fraudops::FacetRows(*facet, *schema, values, "bias.facets[0]");
        if (rows.ok() && rows->size() != std::size(values)) __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
