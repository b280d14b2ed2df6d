#include "features/feature_table.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "core/numbers.h"
#include "core/strings.h"

namespace fraudops {

namespace {

constexpr char kMagic[8] = {'F', 'O', 'P', 'S', 'F', 'S', 'E', 'G'};

template <typename T>
void PutArray(std::string& out, std::span<const T> values) {
  static_assert(std::endian::native == std::endian::little, "segments are little-endian");
  if (values.empty()) return;  // a null data() may not reach append
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
void PutValue(std::string& out, T value) {
  PutArray<T>(out, std::span<const T>(&value, 1));
}

/// A cursor over the payload that refuses to read past its end.
struct Reader {
  std::string_view bytes;
  size_t at = 0;
  template <typename T>
  bool Array(size_t count, std::vector<T>* out) {
    if (count > (bytes.size() - at) / sizeof(T)) return false;
    out->resize(count);
    if (count > 0) std::memcpy(out->data(), bytes.data() + at, count * sizeof(T));
    at += count * sizeof(T);
    return true;
  }
};

}  // namespace

int FeatureTable::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

Status FeatureTable::Append(const FeatureTable& other) {
  const size_t before = rows();
  // Keys.
  std::vector<uint32_t> remap(other.keys.size());
  if (keys.empty()) {
    keys = other.keys;
    for (size_t i = 0; i < remap.size(); ++i) remap[i] = static_cast<uint32_t>(i);
  } else {
    std::unordered_map<std::string, uint32_t> codes;
    codes.reserve(keys.size() + other.keys.size());
    for (size_t i = 0; i < keys.size(); ++i) codes.emplace(keys[i], static_cast<uint32_t>(i));
    for (size_t i = 0; i < other.keys.size(); ++i) {
      auto [it, added] = codes.emplace(other.keys[i], static_cast<uint32_t>(keys.size()));
      if (added) keys.push_back(other.keys[i]);
      remap[i] = it->second;
    }
  }
  key.reserve(before + other.rows());
  for (uint32_t code : other.key) key.push_back(remap[code]);
  event.insert(event.end(), other.event.begin(), other.event.end());
  available.insert(available.end(), other.available.begin(), other.available.end());
  ingested.insert(ingested.end(), other.ingested.begin(), other.ingested.end());
  // Columns.
  std::vector<bool> filled(columns.size(), false);
  for (size_t oc = 0; oc < other.columns.size(); ++oc) {
    const ColumnSchema& theirs = other.columns[oc];
    int c = ColumnIndex(theirs.name);
    if (c < 0) {
      columns.push_back({theirs.name, theirs.type, {}, ""});
      values.emplace_back(before, kMissing);
      filled.push_back(false);
      c = static_cast<int>(columns.size() - 1);
    }
    ColumnSchema& ours = columns[static_cast<size_t>(c)];
    if (ours.type != theirs.type) {
      return Status::DataError("feature group '" + group + "': column '" + theirs.name + "' is " +
                               std::string(ColumnTypeName(theirs.type)) + " in one ingestion and " +
                               std::string(ColumnTypeName(ours.type)) + " in another");
    }
    std::vector<float>& out = values[static_cast<size_t>(c)];
    const std::vector<float>& in = other.values[oc];
    if (ours.type == ColumnType::kNumeric) {
      out.insert(out.end(), in.begin(), in.end());
    } else {
      std::unordered_map<std::string, float> category_codes;
      for (size_t i = 0; i < ours.categories.size(); ++i)
        category_codes.emplace(ours.categories[i], static_cast<float>(i));
      std::vector<float> category_remap(theirs.categories.size());
      for (size_t i = 0; i < theirs.categories.size(); ++i) {
        auto [it, added] = category_codes.emplace(theirs.categories[i],
                                                  static_cast<float>(ours.categories.size()));
        if (added) ours.categories.push_back(theirs.categories[i]);
        category_remap[i] = it->second;
      }
      for (float v : in)
        out.push_back(std::isnan(v) ? kMissing : category_remap[static_cast<size_t>(v)]);
    }
    filled[static_cast<size_t>(c)] = true;
  }
  for (size_t c = 0; c < columns.size(); ++c)
    if (!filled[c]) values[c].resize(rows(), kMissing);
  return Status::Ok();
}

GroupRowReader::GroupRowReader(const FeatureGroup& group, const FeatureTable& table)
    : group_(group), table_(table), table_column_(group.columns.size()) {
  for (size_t c = 0; c < group.columns.size(); ++c)
    table_column_[c] = table.ColumnIndex(group.columns[c].name);
}

void GroupRowReader::Read(uint32_t row, std::vector<PolicyValue>& out) const {
  for (size_t c = 0; c < table_column_.size(); ++c) {
    const int tc = table_column_[c];
    const float v = tc < 0 ? kMissing : table_.values[static_cast<size_t>(tc)][row];
    if (std::isnan(v)) {
      out[c] = PolicyValue();
    } else if (group_.columns[c].categorical) {
      out[c] = PolicyValue::String(
          table_.columns[static_cast<size_t>(tc)].categories[static_cast<size_t>(v)]);
    } else {
      out[c] = PolicyValue::Number(v);
    }
  }
}

std::vector<std::string> FeatureTextColumns(const FeatureGroup& group) {
  std::vector<std::string> columns = group.entities;
  columns.push_back(group.event_time);
  if (!group.created_time.empty() && group.created_time != group.event_time)
    columns.push_back(group.created_time);
  for (const GroupColumn& column : group.columns)
    if (column.categorical) columns.push_back(column.name);
  return columns;
}

Result<std::vector<EventTime>> ColumnTimes(const Dataset& data, size_t index,
                                           const std::string& source) {
  const ColumnSchema& column = data.features[index];
  const std::vector<float>& codes = data.columns[index];
  if (column.type == ColumnType::kNumeric) {
    std::vector<EventTime> out(codes.size());
    for (size_t r = 0; r < codes.size(); ++r) {
      const float v = codes[r];
      if (std::isnan(v)) {
        return Status::DataError(source + ": column '" + column.name + "' is missing in row " +
                                 std::to_string(r + 1) + "; every row needs its time");
      }
      if (std::fabs(v) >= 16777216.0f) {
        return Status::DataError(source + ": column '" + column.name +
                                 "' holds seconds too large for the source's float32 numbers; "
                                 "read it from a source that keeps its text (CSV, SQL)");
      }
      out[r] = static_cast<EventTime>(std::llround(static_cast<double>(v) * 1e6));
    }
    return out;
  }
  std::vector<EventTime> parsed(column.categories.size());
  for (size_t i = 0; i < column.categories.size(); ++i) {
    std::optional<EventTime> time = ParseEventTime(column.categories[i]);
    if (!time) {
      return Status::DataError(source + ": column '" + column.name + "' has '" +
                               column.categories[i].substr(0, 60) +
                               "', which is not a time; accepted: " + kEventTimeForms);
    }
    parsed[i] = *time;
  }
  std::vector<EventTime> out(codes.size());
  for (size_t r = 0; r < codes.size(); ++r) {
    if (std::isnan(codes[r])) {
      return Status::DataError(source + ": column '" + column.name + "' is missing in row " +
                               std::to_string(r + 1) + "; every row needs its time");
    }
    out[r] = parsed[static_cast<size_t>(codes[r])];
  }
  return out;
}

std::string_view KeyCellText(const Dataset& data, size_t column, size_t row, std::string& scratch) {
  const float v = data.columns[column][row];
  if (std::isnan(v)) return {};
  const ColumnSchema& schema = data.features[column];
  if (schema.type == ColumnType::kCategorical) return schema.categories[static_cast<size_t>(v)];
  char text[32];
  auto written = std::fabs(v) < 1e15f && v == std::floor(v)
                     ? std::to_chars(text, text + sizeof text, static_cast<long long>(v))
                     : std::to_chars(text, text + sizeof text, v);
  scratch.assign(text, written.ptr);
  return scratch;
}

Result<FeatureTable> FeatureTableFromDataset(const FeatureGroup& group, const Dataset& data,
                                             EventTime ingested, const std::string& source) {
  FeatureTable table;
  table.group = group.name;
  const std::vector<std::string> names = data.FeatureNames();
  auto find = [&](const std::string& name, const std::string& role) -> Result<int> {
    const int index = data.FeatureIndex(name);
    if (index < 0) {
      return Status::DataError(source + ": feature group '" + group.name + "' needs column '" +
                               name + "' (" + role + ")" + DidYouMean(name, names) +
                               "; the data has: " + Join(names, ", "));
    }
    return index;
  };
  // Keys: the parts' text joined.
  std::vector<int> key_columns;
  for (const std::string& entity : group.entities) {
    FOPS_ASSIGN_OR_RETURN(int index, find(entity, "entity key"));
    key_columns.push_back(index);
  }
  const size_t rows = data.rows();
  std::unordered_map<std::string, uint32_t> key_codes;
  std::vector<std::string_view> parts(key_columns.size());
  std::vector<std::string> scratch(key_columns.size());
  table.key.resize(rows);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < key_columns.size(); ++k) {
      const size_t c = static_cast<size_t>(key_columns[k]);
      parts[k] = KeyCellText(data, c, r, scratch[k]);
      if (parts[k].empty()) {
        return Status::DataError(source + ": entity key '" + data.features[c].name +
                                 "' is missing in row " + std::to_string(r + 1));
      }
    }
    std::string joined = JoinEntityKey(parts);
    auto [it, added] = key_codes.emplace(joined, static_cast<uint32_t>(table.keys.size()));
    if (added) table.keys.push_back(std::move(joined));
    table.key[r] = it->second;
  }
  FOPS_ASSIGN_OR_RETURN(int event_index, find(group.event_time, "event time"));
  FOPS_ASSIGN_OR_RETURN(table.event, ColumnTimes(data, static_cast<size_t>(event_index), source));
  table.ingested.assign(rows, ingested);
  if (group.created_time.empty()) {
    table.available = table.ingested;
  } else {
    FOPS_ASSIGN_OR_RETURN(int created_index, find(group.created_time, "created time"));
    FOPS_ASSIGN_OR_RETURN(table.available,
                          ColumnTimes(data, static_cast<size_t>(created_index), source));
  }
  for (const GroupColumn& column : group.columns) {
    FOPS_ASSIGN_OR_RETURN(int index, find(column.name, "a declared column"));
    const ColumnSchema& read = data.features[static_cast<size_t>(index)];
    const bool categorical = read.type == ColumnType::kCategorical;
    if (categorical && !column.categorical) {
      return Status::DataError(source + ": column '" + column.name +
                               "' holds text, but feature group '" + group.name +
                               "' declares it numeric (declare it categorical, or fix the data)");
    }
    ColumnSchema schema{column.name,
                        column.categorical ? ColumnType::kCategorical : ColumnType::kNumeric,
                        read.categories, ""};
    if (column.categorical && !categorical) {
      return Status::Internal(source + ": column '" + column.name + "' was not read as text");
    }
    table.columns.push_back(std::move(schema));
    table.values.push_back(data.columns[static_cast<size_t>(index)]);
  }
  return table;
}

std::string EncodeFeatureSegment(const FeatureTable& table) {
  std::string payload;
  std::vector<uint64_t> offsets = {0};
  std::string key_bytes;
  for (const std::string& k : table.keys) {
    key_bytes += k;
    offsets.push_back(key_bytes.size());
  }
  PutArray<uint64_t>(payload, offsets);
  payload += key_bytes;
  PutArray<uint32_t>(payload, table.key);
  PutArray<EventTime>(payload, table.event);
  PutArray<EventTime>(payload, table.available);
  PutArray<EventTime>(payload, table.ingested);
  nlohmann::json columns = nlohmann::json::array();
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const ColumnSchema& column = table.columns[c];
    nlohmann::json item = {{"name", column.name}, {"type", ColumnTypeName(column.type)}};
    if (column.type == ColumnType::kCategorical) item["categories"] = column.categories;
    columns.push_back(std::move(item));
    PutArray<float>(payload, table.values[c]);
  }
  const nlohmann::json header = {{"format", "fraudops-feature-segment"},
                                 {"group", table.group},
                                 {"rows", table.rows()},
                                 {"keys", table.keys.size()},
                                 {"columns", columns},
                                 {"payload_sha256", Sha256Hex(payload)}};
  const std::string header_text = header.dump();
  std::string out(kMagic, sizeof kMagic);
  PutValue<uint32_t>(out, kFeatureSegmentVersion);
  PutValue<uint32_t>(out, static_cast<uint32_t>(header_text.size()));
  out += header_text;
  out += payload;
  return out;
}

Result<FeatureTable> DecodeFeatureSegment(std::string_view bytes, const std::string& source,
                                          bool verify_checksum) {
  auto bad = [&](const std::string& what) {
    return Status::DataError(source + ": not a valid feature segment: " + what);
  };
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return bad("it does not start with FOPSFSEG");
  uint32_t version = 0, header_size = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&header_size, bytes.data() + 12, 4);
  if (version != kFeatureSegmentVersion) {
    return bad("version " + std::to_string(version) + "; this build reads version " +
               std::to_string(kFeatureSegmentVersion));
  }
  if (header_size > bytes.size() - 16) return bad("the header runs past the end of the file");
  const nlohmann::json header =
      nlohmann::json::parse(bytes.substr(16, header_size), nullptr, false);
  if (header.is_discarded() || !header.is_object()) return bad("the header is not JSON");
  const std::string_view payload = bytes.substr(16 + header_size);
  try {
    if (header.at("format").get<std::string>() != "fraudops-feature-segment")
      return bad("format is not fraudops-feature-segment");
    if (verify_checksum && Sha256Hex(payload) != header.at("payload_sha256").get<std::string>())
      return bad("the payload's SHA-256 does not match its header (a damaged file)");
    FeatureTable table;
    table.group = header.at("group").get<std::string>();
    const uint64_t rows = header.at("rows").get<uint64_t>();
    const uint64_t keys = header.at("keys").get<uint64_t>();
    if (rows > payload.size() || keys > payload.size()) return bad("counts larger than the file");
    Reader in{payload};
    std::vector<uint64_t> offsets;
    if (!in.Array(keys + 1, &offsets) || offsets[0] != 0) return bad("key offsets");
    for (size_t i = 0; i < keys; ++i)
      if (offsets[i + 1] < offsets[i]) return bad("key offsets out of order");
    if (offsets[keys] > payload.size() - in.at) return bad("key bytes past the end");
    const std::string_view key_bytes = payload.substr(in.at, offsets[keys]);
    in.at += offsets[keys];
    table.keys.reserve(keys);
    for (size_t i = 0; i < keys; ++i)
      table.keys.emplace_back(key_bytes.substr(offsets[i], offsets[i + 1] - offsets[i]));
    if (!in.Array(rows, &table.key) || !in.Array(rows, &table.event) ||
        !in.Array(rows, &table.available) || !in.Array(rows, &table.ingested)) {
      return bad("rows past the end");
    }
    for (uint32_t code : table.key)
      if (code >= keys) return bad("a row's key code is out of range");
    for (const nlohmann::json& column : header.at("columns")) {
      ColumnSchema schema;
      schema.name = column.at("name").get<std::string>();
      const std::string type = column.at("type").get<std::string>();
      if (type == "categorical") {
        schema.type = ColumnType::kCategorical;
        schema.categories = column.at("categories").get<std::vector<std::string>>();
      } else if (type != "numeric") {
        return bad("column type '" + type + "'");
      }
      std::vector<float> values;
      if (!in.Array(rows, &values)) return bad("column '" + schema.name + "' past the end");
      if (schema.type == ColumnType::kCategorical) {
        for (float v : values) {
          if (!std::isnan(v) &&
              (v < 0 || v >= static_cast<float>(schema.categories.size()) || v != std::floor(v))) {
            return bad("column '" + schema.name + "' has a category code out of range");
          }
        }
      }
      table.columns.push_back(std::move(schema));
      table.values.push_back(std::move(values));
    }
    if (in.at != payload.size()) return bad("bytes left after the last column");
    return table;
  } catch (const nlohmann::json::exception& error) {
    return bad(std::string("header: ") + error.what());
  }
}

}  // namespace fraudops
