#include "features/enricher.h"

#include <cmath>
#include <map>

#include "core/strings.h"
#include "features/point_in_time.h"

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

std::optional<EventTime> FeatureEnricher::TimeOf(const PolicyInput& value) {
  if (value.kind == PolicyValue::Kind::kNumber) return EventTimeFromSeconds(value.number);
  if (value.kind == PolicyValue::Kind::kString) return ParseEventTime(value.text);
  return std::nullopt;
}

std::string FeatureEnricher::KeyText(const PolicyInput& value) {
  switch (value.kind) {
    case PolicyValue::Kind::kString:
      return std::string(Trim(value.text));
    case PolicyValue::Kind::kNumber:
      return NumberText(value.number);
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

void FeatureEnricher::Put(size_t f, const PolicyValue& value, double* out) const {
  bool ok = true;
  double encoded = std::nan("");
  if (value.kind == PolicyValue::Kind::kNumber) {
    encoded = encoder_->EncodeNumber(f, value.number, &ok);
  } else if (value.kind == PolicyValue::Kind::kString) {
    encoded = encoder_->EncodeText(f, value.text, &ok);
  }
  *out = ok ? encoded : std::nan("");
}

Status FeatureEnricher::Keys(std::span<const PolicyInput> fields, size_t stride,
                             std::span<const int> slots, size_t rows, EventTime now,
                             std::vector<EventTime>* moments,
                             std::vector<std::vector<std::string>>* keys) const {
  auto field = [&](size_t row, size_t i) -> const PolicyInput* {
    const int slot = slots[i];
    return slot < 0 ? nullptr : &fields[row * stride + static_cast<size_t>(slot)];
  };
  moments->assign(rows, now);
  if (time_field_ >= 0) {
    for (size_t r = 0; r < rows; ++r) {
      const PolicyInput* t = field(r, static_cast<size_t>(time_field_));
      if (t == nullptr || t->kind == PolicyValue::Kind::kMissing) continue;
      std::optional<EventTime> parsed = TimeOf(*t);
      if (!parsed) {
        return Status::InvalidArgument("row " + std::to_string(r) + ": " + fields_[time_field_] +
                                       " is not a time; accepted: " + kEventTimeForms);
      }
      (*moments)[r] = *parsed;
    }
  }
  keys->assign(groups_.size(), std::vector<std::string>(rows));
  std::vector<std::string> texts;
  std::vector<std::string_view> parts;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t r = 0; r < rows; ++r) {
      texts.clear();
      bool missing = false;
      for (size_t k : groups_[g].key_fields) {
        const PolicyInput* value = field(r, k);
        texts.push_back(value ? KeyText(*value) : std::string());
        missing |= texts.back().empty();
      }
      if (missing) continue;
      parts.assign(texts.begin(), texts.end());
      (*keys)[g][r] = JoinEntityKey(parts);
    }
  }
  return Status::Ok();
}

Status FeatureEnricher::Enrich(OnlineStore& store, std::span<const PolicyInput> fields,
                               size_t stride, std::span<const int> slots, size_t rows,
                               double* values, EventTime now) const {
  const size_t width = encoder_->size();
  std::vector<EventTime> moments;
  std::vector<std::vector<std::string>> entity;
  FOPS_RETURN_IF_ERROR(Keys(fields, stride, slots, rows, now, &moments, &entity));
  // One lookup per (group, entity) for the batch.
  std::vector<std::string> keys;
  std::vector<std::vector<int>> key_of(groups_.size(), std::vector<int>(rows, -1));
  std::map<std::string, int> seen;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t r = 0; r < rows; ++r) {
      if (entity[g][r].empty()) continue;
      std::string key = OnlineKey(groups_[g].reader.group().name, entity[g][r]);
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
          FOPS_ASSIGN_OR_RETURN(
              OnlineRecord parsed,
              OnlineRecord::Decode(*found[static_cast<size_t>(k)], group.reader.slots()));
          decoded = std::move(parsed);
        }
        record = &*decoded;
      }
      group.reader.Read(record, moments[r], read);
      for (size_t i = 0; i < group.features.size(); ++i)
        Put(group.features[i], read[i], &values[r * width + group.features[i]]);
    }
  }
  return Status::Ok();
}

Status FeatureEnricher::EnrichAsOf(std::span<const FeatureTable* const> tables,
                                   std::span<const PolicyInput> fields, size_t stride,
                                   std::span<const int> slots, size_t rows, double* values,
                                   EventTime now, ThreadPool* pool) const {
  const size_t width = encoder_->size();
  std::vector<EventTime> moments;
  std::vector<std::vector<std::string>> entity;
  FOPS_RETURN_IF_ERROR(Keys(fields, stride, slots, rows, now, &moments, &entity));
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& group = groups_[g];
    const FeatureGroup& definition = group.reader.group();
    std::vector<std::string> names;
    for (size_t f : group.features) {
      const std::string& ref = encoder_->feature(f).feature;
      names.push_back(ref.substr(ref.find(':') + 1));
    }
    std::vector<std::string_view> keys;
    for (const std::string& key : entity[g])
      keys.push_back(key.empty() ? std::string_view("\x1e") : std::string_view(key));
    FOPS_ASSIGN_OR_RETURN(std::vector<JoinedColumn> joined,
                          PointInTimeJoin(definition, *tables[g], names, keys, moments, pool));
    for (size_t i = 0; i < group.features.size(); ++i) {
      const JoinedColumn& column = joined[i];
      for (size_t r = 0; r < rows; ++r) {
        const float v = column.values[r];
        PolicyValue value;
        if (!std::isnan(v)) {
          value = column.schema.type == ColumnType::kCategorical
                      ? PolicyValue::String(column.schema.categories[static_cast<size_t>(v)])
                      : PolicyValue::Number(v);
        }
        Put(group.features[i], value, &values[r * width + group.features[i]]);
      }
    }
  }
  return Status::Ok();
}

}  // namespace fraudops
