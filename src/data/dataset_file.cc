#include "data/dataset_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

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
  for (int i = 0; i < 4; ++i)
    value |= static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << (8 * i);
  return value;
}

}  // namespace

Result<DatasetFileInfo> WriteDatasetFileFromBlocks(const nlohmann::json& schema, size_t blocks,
                                                   const BlockReader& read_block,
                                                   const std::string& path) {
  const size_t rows = schema.at("rows").get<size_t>();
  const size_t block = rows * sizeof(float);
  const size_t stride = AlignUp(block);

  // Pass 1: the payload checksum and the content hash (schema, then the same values).
  Sha256 payload_hash, content_hash;
  content_hash.Update(schema.dump());
  for (size_t i = 0; i < blocks; ++i) {
    size_t seen = 0;
    FOPS_RETURN_IF_ERROR(read_block(i, [&](std::string_view bytes) {
      payload_hash.Update(bytes);
      content_hash.Update(bytes);
      seen += bytes.size();
    }));
    if (seen != block) {
      return Status::Internal(path + ": block " + std::to_string(i) + " has " +
                              std::to_string(seen) + " bytes, expected " + std::to_string(block));
    }
  }
  DatasetFileInfo info;
  info.version = kDatasetFileVersion;
  info.rows = rows;
  info.payload_sha256 = payload_hash.HexDigest();
  info.content_hash = content_hash.HexDigest();

  nlohmann::json header = schema;
  header["format"] = "fraudops-dataset";
  header["version"] = kDatasetFileVersion;
  header["dtype"] = "float32-le";
  header["alignment"] = kAlignment;
  header["column_stride"] = stride;
  header["payload_sha256"] = info.payload_sha256;
  header["content_hash"] = info.content_hash;
  std::string header_text = header.dump();
  std::string preamble(kMagic, sizeof kMagic);
  PutU32(preamble, kDatasetFileVersion);
  PutU32(preamble, static_cast<uint32_t>(header_text.size()));
  const size_t payload_offset = AlignUp(kPreamble + header_text.size());

  // Pass 2: the file, under a temporary name until it is complete.
  FOPS_RETURN_IF_ERROR(MakeDirectories(std::filesystem::path(path).parent_path().string()));
  const std::string temp = TempPathFor(path);
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(temp.c_str(), "wb"), std::fclose);
  if (!out) return Status::IoError("cannot create " + temp + ": " + std::strerror(errno));
  const std::string padding(kAlignment, '\0');
  bool written = true;
  auto write = [&](std::string_view bytes) {
    written = written && std::fwrite(bytes.data(), 1, bytes.size(), out.get()) == bytes.size();
  };
  write(preamble);
  write(header_text);
  write(std::string_view(padding).substr(0, payload_offset - kPreamble - header_text.size()));
  for (size_t i = 0; i < blocks; ++i) {
    FOPS_RETURN_IF_ERROR(read_block(i, write));
    write(std::string_view(padding).substr(0, stride - block));
  }
  written = written && std::fflush(out.get()) == 0;
  if (!written) {
    std::remove(temp.c_str());
    return Status::IoError("cannot write " + temp + ": " + std::strerror(errno));
  }
  out.reset();
  FOPS_RETURN_IF_ERROR(CommitTempFile(temp, path));
  return info;
}

Result<DatasetFileInfo> WriteDatasetFile(const Dataset& dataset, const std::string& path) {
  auto read_block = [&](size_t index, const std::function<void(std::string_view)>& sink) {
    const std::vector<float>& values = index == 0 ? dataset.label : dataset.columns[index - 1];
    sink(std::string_view(reinterpret_cast<const char*>(values.data()),
                          values.size() * sizeof(float)));
    return Status::Ok();
  };
  return WriteDatasetFileFromBlocks(dataset.SchemaJson(), dataset.columns.size() + 1, read_block,
                                    path);
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
    return corrupt("version " + std::to_string(version) +
                   " is not supported (this build reads 1.." + std::to_string(kDatasetFileVersion) +
                   ")");
  }
  uint32_t header_size = GetU32(data.data() + 12);
  if (kPreamble + header_size > data.size()) return corrupt("truncated header");
  nlohmann::json header =
      nlohmann::json::parse(data.substr(kPreamble, header_size), nullptr, false);
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
      if (type != "numeric" && type != "categorical")
        return corrupt("unknown column type '" + type + "'");
      column.type = type == "numeric" ? ColumnType::kNumeric : ColumnType::kCategorical;
      if (column.type == ColumnType::kCategorical) {
        column.categories = entry.at("categories").get<std::vector<std::string>>();
      }
      if (entry.contains("derived")) column.derived = entry.at("derived").get<std::string>();
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
