// libFuzzer target: the feature store's formats — any bytes read as a segment file, an online
// record, feature group definitions or an event time give a value or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "features/event_time.h"
#include "features/feature_group.h"
#include "features/feature_table.h"
#include "features/online_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 4) {
    case 0: {
      auto table = fraudops::DecodeFeatureSegment(bytes, "fuzz.ffs", false);
      if (table.ok()) (void)fraudops::EncodeFeatureSegment(*table);
      break;
    }
    case 1: {
      auto record = fraudops::OnlineRecord::Decode(bytes, data[1] % 4);
      if (record.ok()) (void)record->Encode();
      break;
    }
    case 2: {
      auto groups = fraudops::ParseFeatureGroups(bytes, "fuzz.yml");
      if (groups.ok()) {
        for (const auto& group : *groups)
          (void)fraudops::FeatureGroup::FromJson(group.ToJson(), "j");
      }
      break;
    }
    default: {
      auto time = fraudops::ParseEventTime(bytes);
      if (time) (void)fraudops::FormatEventTime(*time);
    }
  }
  return 0;
}
