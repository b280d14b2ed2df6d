#include "data/dataset_file.h"

#include <cstdio>
#include <cstring>

#include "core/files.h"
#include "core/hash.h"

namespace fraudops {

namespace {

constexpr char kMagic[8] = {'F', 'O', 'P', 'S', 'D', 'S', 'E', 'T'};
constexpr size_t kAlignment = 64;
constexpr size_t kPreamble = 16;  // magic, u32 version, u32 header length

size_t AlignUp(size_t offset) { return (offset + kAlignment - 1) / kAlignment * kAlignment; }

void PutU32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

uint32_t GetU32(const char* data) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << (8 * i);
  return value;
}

}  // namespace

Result<std::string> WriteDatasetFile(const Dataset& dataset, const std::string& path) {
  const size_t rows = dataset.rows();
  const size_t block = rows * sizeof(float);
  const size_t stride = AlignUp(block);

  Sha256 payload_hash;
  payload_hash.Update(dataset.label.data(), block);
  for (const auto& column : dataset.columns) payload_hash.Update(column.data(), block);

  nlohmann::json header = dataset.SchemaJson();
  header["format"] = "fraudops-dataset";
  header["version"] = kDatasetFileVersion;
  header["dtype"] = "float32-le";
  header["alignment"] = kAlignment;
  header["column_stride"] = stride;
  header["payload_sha256"] = payload_hash.HexDigest();
  header["content_hash"] = dataset.ContentHash();
  std::string header_text = header.dump();

  std::string preamble(kMagic, sizeof kMagic);
  PutU32(preamble, kDatasetFileVersion);
  PutU32(preamble, static_cast<uint32_t>(header_text.size()));
  const size_t payload_offset = AlignUp(kPreamble + header_text.size());

  const std::string padding(kAlignment, '\0');
  const std::string_view pad(padding);
  std::vector<std::string_view> parts = {preamble, header_text,
                                         pad.substr(0, payload_offset - kPreamble - header_text.size())};
  auto add_block = [&](const std::vector<float>& values) {
    parts.emplace_back(reinterpret_cast<const char*>(values.data()), block);
    parts.push_back(pad.substr(0, stride - block));
  };
  add_block(dataset.label);
  for (const auto& column : dataset.columns) add_block(column);
  FOPS_RETURN_IF_ERROR(WriteFileAtomic(path, parts));
  return header["payload_sha256"].get<std::string>();
}

Result<Dataset> ReadDatasetFile(const std::string& path, DatasetFileInfo* info) {
  auto content = ReadFile(path);
  if (!content.ok()) return Status::DataError(content.status().message());
  const std::string& data = *content;
  auto corrupt = [&](const std::string& what) {
    return Status::DataError(path + ": not a valid fraudops dataset file: " + what);
  };
  if (data.size() < kPreamble || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    return corrupt("bad magic bytes (expected 'FOPSDSET')");
  }
  uint32_t version = GetU32(data.data() + 8);
  if (version < 1 || version > kDatasetFileVersion) {
    return corrupt("version " + std::to_string(version) + " is not supported (this build reads 1.." +
                   std::to_string(kDatasetFileVersion) + ")");
  }
  uint32_t header_size = GetU32(data.data() + 12);
  if (kPreamble + header_size > data.size()) return corrupt("truncated header");
  nlohmann::json header = nlohmann::json::parse(data.substr(kPreamble, header_size), nullptr, false);
  if (header.is_discarded() || !header.is_object()) return corrupt("malformed JSON header");

  Dataset dataset;
  size_t rows = 0, stride = 0;
  try {
    rows = header.at("rows").get<size_t>();
    stride = header.at("column_stride").get<size_t>();
    dataset.label_name = header.at("label").at("name").get<std::string>();
    dataset.label_values = header.at("label").at("values").get<std::vector<std::string>>();
    for (const auto& entry : header.at("features")) {
      ColumnSchema column;
      column.name = entry.at("name").get<std::string>();
      std::string type = entry.at("type").get<std::string>();
      if (type != "numeric" && type != "categorical") return corrupt("unknown column type '" + type + "'");
      column.type = type == "numeric" ? ColumnType::kNumeric : ColumnType::kCategorical;
      if (column.type == ColumnType::kCategorical) {
        column.categories = entry.at("categories").get<std::vector<std::string>>();
      }
      dataset.features.push_back(std::move(column));
    }
  } catch (const nlohmann::json::exception& error) {
    return corrupt(std::string("header: ") + error.what());
  }
  const size_t block = rows * sizeof(float);
  const size_t payload_offset = AlignUp(kPreamble + header_size);
  const size_t blocks = dataset.features.size() + 1;
  if (stride < block || payload_offset + blocks * stride != data.size()) {
    return corrupt("size " + std::to_string(data.size()) + " does not match the header's layout");
  }
  Sha256 payload_hash;
  auto read_block = [&](size_t index, std::vector<float>& out) {
    const char* start = data.data() + payload_offset + index * stride;
    out.resize(rows);
    std::memcpy(out.data(), start, block);
    payload_hash.Update(start, block);
  };
  read_block(0, dataset.label);
  dataset.columns.resize(dataset.features.size());
  for (size_t c = 0; c < dataset.features.size(); ++c) read_block(c + 1, dataset.columns[c]);
  std::string digest = payload_hash.HexDigest();
  std::string expected = header.value("payload_sha256", "");
  if (digest != expected) {
    return Status::DataError(path + ": checksum mismatch: the payload's SHA-256 is " + digest +
                             " but the header records " + expected + "; the file is corrupted");
  }
  if (info != nullptr) {
    info->version = static_cast<int>(version);
    info->rows = rows;
    info->payload_sha256 = digest;
    info->content_hash = header.value("content_hash", "");
  }
  return dataset;
}

}  // namespace fraudops
