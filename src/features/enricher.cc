#include "features/enricher.h"

#include <charconv>
#include <cmath>
#include <map>

#include "core/strings.h"

namespace fraudops {

Result<std::unique_ptr<FeatureEnricher>> FeatureEnricher::Create(const InputSignature& signature,
                                                                 const FeatureEncoder& encoder) {
  if (!signature.uses_feature_store()) return std::unique_ptr<FeatureEnricher>();
  std::unique_ptr<FeatureEnricher> enricher(new FeatureEnricher());
  enricher->encoder_ = &encoder;
  // The features each group provides, in encoder order.
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<size_t>>> wanted;
  for (size_t f = 0; f < encoder.size(); ++f) {
    const std::string& ref = encoder.feature(f).feature;
    if (ref.empty()) continue;
    const size_t colon = ref.find(':');
    auto& [names, indices] = wanted[ref.substr(0, colon)];
    names.push_back(ref.substr(colon + 1));
    indices.push_back(f);
  }
  for (const nlohmann::json& definition : signature.feature_groups) {
    FOPS_ASSIGN_OR_RETURN(FeatureGroup group,
                          FeatureGroup::FromJson(definition, "input.feature_groups"));
    if (definition.contains("version") && definition["version"].is_number_integer())
      group.version = definition["version"].get<int64_t>();
    auto it = wanted.find(group.name);
    if (it == wanted.end()) continue;
    FOPS_ASSIGN_OR_RETURN(GroupReader reader, GroupReader::Create(group, it->second.first));
    Group g{std::move(reader), {}, it->second.second};
    for (const std::string& entity : group.entities) {
      auto field = std::find(enricher->fields_.begin(), enricher->fields_.end(), entity);
      g.key_fields.push_back(static_cast<size_t>(field - enricher->fields_.begin()));
      if (field == enricher->fields_.end()) enricher->fields_.push_back(entity);
    }
    enricher->groups_.push_back(std::move(g));
    wanted.erase(it);
  }
  if (!wanted.empty()) {
    return Status::InvalidArgument("input.feature_groups lacks the definition of group '" +
                                   wanted.begin()->first + "', whose features the model reads");
  }
  if (!signature.feature_time.empty()) {
    enricher->time_field_ = static_cast<int>(enricher->fields_.size());
    enricher->fields_.push_back(signature.feature_time);
  }
  return enricher;
}

std::vector<std::string> FeatureEnricher::groups() const {
  std::vector<std::string> names;
  for (const Group& g : groups_) names.push_back(g.reader.group().name);
  return names;
}

std::string FeatureEnricher::KeyText(const PolicyInput& value) {
  switch (value.kind) {
    case PolicyValue::Kind::kString:
      return std::string(Trim(value.text));
    case PolicyValue::Kind::kNumber: {
      char text[32];
      const double v = value.number;
      auto written = std::abs(v) < 1e15 && v == std::floor(v)
                         ? std::to_chars(text, text + sizeof text, static_cast<long long>(v))
                         : std::to_chars(text, text + sizeof text, v);
      return std::string(text, written.ptr);
    }
    case PolicyValue::Kind::kBool:
      return value.number != 0 ? "true" : "false";
    default:
      return {};
  }
}

void FeatureEnricher::SetMissing(size_t rows, double* values) const {
  const size_t width = encoder_->size();
  for (size_t r = 0; r < rows; ++r)
    for (const Group& g : groups_)
      for (size_t f : g.features) values[r * width + f] = std::nan("");
}

Status FeatureEnricher::Enrich(OnlineStore& store, std::span<const PolicyInput> fields,
                               size_t stride, std::span<const int> slots, size_t rows,
                               double* values, EventTime now) const {
  const size_t width = encoder_->size();
  auto field = [&](size_t row, size_t i) -> const PolicyInput* {
    const int slot = slots[i];
    return slot < 0 ? nullptr : &fields[row * stride + static_cast<size_t>(slot)];
  };
  // Each row's moment.
  std::vector<EventTime> moments(rows, now);
  if (time_field_ >= 0) {
    for (size_t r = 0; r < rows; ++r) {
      const PolicyInput* t = field(r, static_cast<size_t>(time_field_));
      if (t == nullptr || t->kind == PolicyValue::Kind::kMissing) continue;
      std::optional<EventTime> parsed =
          t->kind == PolicyValue::Kind::kNumber
              ? (std::isfinite(t->number) && std::fabs(t->number) < 9e12
                     ? std::optional<EventTime>(static_cast<EventTime>(std::llround(t->number * 1e6)))
                     : std::nullopt)
              : ParseEventTime(t->text);
      if (!parsed) {
        return Status::InvalidArgument("row " + std::to_string(r) + ": " + fields_[time_field_] +
                                       " is not a time; accepted: " + kEventTimeForms);
      }
      moments[r] = *parsed;
    }
  }
  // One lookup per (group, entity) for the batch.
  std::vector<std::string> keys;
  std::vector<std::vector<int>> key_of(groups_.size(), std::vector<int>(rows, -1));
  std::map<std::string, int> seen;
  std::vector<std::string_view> parts;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& group = groups_[g];
    for (size_t r = 0; r < rows; ++r) {
      std::vector<std::string> texts;
      bool missing = false;
      for (size_t k : group.key_fields) {
        const PolicyInput* value = field(r, k);
        texts.push_back(value ? KeyText(*value) : std::string());
        missing |= texts.back().empty();
      }
      if (missing) continue;
      parts.assign(texts.begin(), texts.end());
      std::string key = OnlineKey(group.reader.group().name, JoinEntityKey(parts));
      auto [it, added] = seen.emplace(key, static_cast<int>(keys.size()));
      if (added) keys.push_back(std::move(key));
      key_of[g][r] = it->second;
    }
  }
  std::vector<std::optional<std::string>> found;
  FOPS_RETURN_IF_ERROR(store.Get(keys, &found));
  std::vector<std::optional<OnlineRecord>> records(keys.size());
  std::vector<PolicyValue> read;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& group = groups_[g];
    for (size_t r = 0; r < rows; ++r) {
      const int k = key_of[g][r];
      const OnlineRecord* record = nullptr;
      if (k >= 0 && found[static_cast<size_t>(k)]) {
        std::optional<OnlineRecord>& decoded = records[static_cast<size_t>(k)];
        if (!decoded) {
          FOPS_ASSIGN_OR_RETURN(OnlineRecord parsed,
                                OnlineRecord::Decode(*found[static_cast<size_t>(k)],
                                                     group.reader.slots()));
          decoded = std::move(parsed);
        }
        record = &*decoded;
      }
      group.reader.Read(record, moments[r], read);
      for (size_t i = 0; i < group.features.size(); ++i) {
        const size_t f = group.features[i];
        bool ok = true;
        double encoded = std::nan("");
        if (read[i].kind == PolicyValue::Kind::kNumber) {
          encoded = encoder_->EncodeNumber(f, read[i].number, &ok);
        } else if (read[i].kind == PolicyValue::Kind::kString) {
          encoded = encoder_->EncodeText(f, read[i].text, &ok);
        }
        values[r * width + f] = ok ? encoded : std::nan("");
      }
    }
  }
  return Status::Ok();
}

}  // namespace fraudops
