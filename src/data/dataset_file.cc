#include "data/dataset_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "core/files.h"
#include "core/hash.h"
#include "core/strings.h"

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
    WriteBack(out.get());  // a file larger than memory is written under a memory limit
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

Result<std::unique_ptr<ColumnSpill>> ColumnSpill::Create(const std::string& dir, size_t blocks) {
  std::unique_ptr<ColumnSpill> spill(new ColumnSpill());
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  FOPS_RETURN_IF_ERROR(MakeDirectories(dir));
  spill->dir_ = dir;
  spill->unsynced_.assign(blocks, 0);
  for (size_t i = 0; i < blocks; ++i) {
    spill->paths_.push_back(dir + "/" + std::to_string(i) + ".f32");
    spill->files_.emplace_back(std::fopen(spill->paths_.back().c_str(), "w+b"), std::fclose);
    if (!spill->files_.back()) {
      return Status::IoError("cannot create " + spill->paths_.back() + ": " + std::strerror(errno));
    }
  }
  return spill;
}

ColumnSpill::~ColumnSpill() {
  files_.clear();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

Status ColumnSpill::Append(size_t block, std::span<const float> values) {
  if (std::fwrite(values.data(), sizeof(float), values.size(), files_[block].get()) !=
      values.size()) {
    return Status::IoError("cannot write " + paths_[block] + " (disk full?)");
  }
  // Clean pages every few MiB: the spill of data larger than memory must not pile up dirty.
  unsynced_[block] += values.size_bytes();
  if (unsynced_[block] >= (size_t{8} << 20)) {
    WriteBack(files_[block].get());
    unsynced_[block] = 0;
  }
  return Status::Ok();
}

Result<DatasetFileInfo> ColumnSpill::Write(const nlohmann::json& schema,
                                           const std::vector<size_t>& kept, const std::string& path,
                                           const std::vector<float>& label_map) {
  for (size_t block : kept) {
    if (std::fflush(files_[block].get()) != 0)
      return Status::IoError("cannot write " + paths_[block] + " (disk full?)");
  }
  auto read_block = [&](size_t index, const std::function<void(std::string_view)>& sink) -> Status {
    FILE* in = files_[kept[index]].get();
    std::rewind(in);
    std::vector<float> piece(1 << 18);
    size_t n;
    while ((n = std::fread(piece.data(), sizeof(float), piece.size(), in)) > 0) {
      if (index == 0 && !label_map.empty()) {
        for (size_t i = 0; i < n; ++i) piece[i] = label_map[static_cast<size_t>(piece[i])];
      }
      sink(std::string_view(reinterpret_cast<const char*>(piece.data()), n * sizeof(float)));
    }
    if (std::ferror(in)) return Status::IoError("cannot read " + paths_[kept[index]]);
    return Status::Ok();
  };
  return WriteDatasetFileFromBlocks(schema, kept.size(), read_block, path);
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

DatasetFileReader::~DatasetFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<DatasetFileReader>> DatasetFileReader::Open(const std::string& path) {
  std::unique_ptr<DatasetFileReader> reader(new DatasetFileReader());
  reader->path_ = path;
  reader->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader->fd_ < 0)
    return Status::DataError("cannot read " + path + ": " + std::strerror(errno));
  struct stat status {};
  if (::fstat(reader->fd_, &status) != 0)
    return Status::DataError("cannot read " + path + ": " + std::strerror(errno));
  const size_t file_size = static_cast<size_t>(status.st_size);
  auto corrupt = [&](const std::string& what) {
    return Status::DataError(path + ": not a valid fraudops dataset file: " + what);
  };
  char preamble[kPreamble];
  if (file_size < kPreamble || ::pread(reader->fd_, preamble, kPreamble, 0) != kPreamble ||
      std::memcmp(preamble, kMagic, sizeof kMagic) != 0) {
    return corrupt("bad magic bytes (expected 'FOPSDSET')");
  }
  const uint32_t version = GetU32(preamble + 8);
  if (version < 1 || version > kDatasetFileVersion) {
    return corrupt("version " + std::to_string(version) +
                   " is not supported (this build reads 1.." + std::to_string(kDatasetFileVersion) +
                   ")");
  }
  const uint32_t header_size = GetU32(preamble + 12);
  if (kPreamble + header_size > file_size) return corrupt("truncated header");
  std::string header_text(header_size, '\0');
  if (::pread(reader->fd_, header_text.data(), header_size, kPreamble) !=
      static_cast<ssize_t>(header_size))
    return corrupt("truncated header");
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return corrupt("malformed JSON header");

  Dataset& schema = reader->schema_;
  DatasetFileInfo& info = reader->info_;
  try {
    info.rows = header.at("rows").get<size_t>();
    reader->stride_ = header.at("column_stride").get<size_t>();
    schema.label_name = header.at("label").at("name").get<std::string>();
    schema.label_values = header.at("label").at("values").get<std::vector<std::string>>();
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
      schema.features.push_back(std::move(column));
    }
    info.payload_sha256 = header.value("payload_sha256", "");
    info.content_hash = header.value("content_hash", "");
  } catch (const nlohmann::json::exception& error) {
    return corrupt(std::string("header: ") + error.what());
  }
  info.version = static_cast<int>(version);
  reader->payload_offset_ = AlignUp(kPreamble + header_size);
  const size_t blocks = schema.features.size() + 1;
  // Checked by division, so that a header claiming absurd sizes cannot overflow the product.
  if (info.rows > reader->stride_ / sizeof(float) || reader->payload_offset_ > file_size ||
      (file_size - reader->payload_offset_) / blocks != reader->stride_ ||
      (file_size - reader->payload_offset_) % blocks != 0) {
    return corrupt("size " + std::to_string(file_size) + " does not match the header's layout");
  }
  return reader;
}

Status DatasetFileReader::Read(size_t index, size_t begin, std::span<float> out) const {
  if (index > schema_.features.size() || begin > info_.rows || out.size() > info_.rows - begin) {
    return Status::Internal(path_ + ": read of block " + std::to_string(index) + " rows [" +
                            std::to_string(begin) + ", " + std::to_string(begin + out.size()) +
                            ") is outside the file's " + std::to_string(info_.rows) + " rows");
  }
  char* to = reinterpret_cast<char*>(out.data());
  size_t left = out.size_bytes();
  off_t at = static_cast<off_t>(payload_offset_ + index * stride_ + begin * sizeof(float));
  while (left > 0) {
    const ssize_t n = ::pread(fd_, to, left, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return Status::DataError(
          path_ + ": cannot read: " + (n < 0 ? std::strerror(errno) : "the file ended early"));
    }
    to += n;
    left -= static_cast<size_t>(n);
    at += n;
  }
  return Status::Ok();
}

namespace {

Status ChecksumMismatch(const std::string& path, const std::string& digest,
                        const std::string& expected) {
  return Status::DataError(path + ": checksum mismatch: the payload's SHA-256 is " + digest +
                           " but the header records " + expected + "; the file is corrupted");
}

}  // namespace

namespace {

/// Block `index` of `reader` a piece at a time (1 MiB of values), each handed to `use`.
Status ForEachPiece(const DatasetFileReader& reader, size_t index,
                    const std::function<void(std::span<const float>)>& use) {
  std::vector<float> piece(std::min<size_t>(1 << 18, reader.rows()));
  for (size_t begin = 0; begin < reader.rows(); begin += piece.size()) {
    std::span<float> part(piece.data(), std::min(piece.size(), reader.rows() - begin));
    FOPS_RETURN_IF_ERROR(reader.Read(index, begin, part));
    use(part);
  }
  return Status::Ok();
}

}  // namespace

Status DatasetFileReader::Verify() const {
  Sha256 payload_hash;
  for (size_t index = 0; index <= schema_.features.size(); ++index) {
    FOPS_RETURN_IF_ERROR(ForEachPiece(*this, index, [&](std::span<const float> part) {
      payload_hash.Update(reinterpret_cast<const char*>(part.data()), part.size_bytes());
    }));
  }
  const std::string digest = payload_hash.HexDigest();
  if (digest != info_.payload_sha256) return ChecksumMismatch(path_, digest, info_.payload_sha256);
  return Status::Ok();
}

Result<DatasetFileView> DatasetFileView::Make(const DatasetFileReader& reader,
                                              const std::vector<std::string>& drop) {
  DatasetFileView view;
  view.reader_ = &reader;
  const Dataset& file = reader.schema();
  view.schema_.label_name = file.label_name;
  view.schema_.label_values = file.label_values;
  for (const std::string& name : drop) {
    if (file.FeatureIndex(name) < 0) {
      const std::vector<std::string> names = file.FeatureNames();
      return Status::DataError(reader.path() + ": preprocess.drop_columns names column '" + name +
                               "', which the data does not have" + DidYouMean(name, names) +
                               "; its columns are: " + Join(names, ", "));
    }
  }
  for (size_t f = 0; f < file.num_features(); ++f) {
    if (std::find(drop.begin(), drop.end(), file.features[f].name) != drop.end()) continue;
    view.schema_.features.push_back(file.features[f]);
    view.columns_.push_back(f);
    view.recode_.emplace_back();
  }
  return view;
}

Status DatasetFileView::AlignTo(const DatasetFileView& reference) {
  for (size_t f = 0; f < schema_.num_features(); ++f) {
    const ColumnSchema& want = reference.schema_.features[f];
    ColumnSchema& have = schema_.features[f];
    if (want.type != have.type) {
      return Status::DataError(reader_->path() + ": column '" + have.name + "' is " +
                               std::string(ColumnTypeName(have.type)) +
                               ", but the training data's is " +
                               std::string(ColumnTypeName(want.type)) +
                               "; import both with the same preprocess.categorical_columns");
    }
    if (want.type != ColumnType::kCategorical || want.categories == have.categories) continue;
    std::unordered_map<std::string_view, float> code;
    for (size_t c = 0; c < want.categories.size(); ++c)
      code.emplace(want.categories[c], static_cast<float>(c));
    std::vector<float>& recode = recode_[f];
    recode.clear();
    for (const std::string& category : have.categories) {
      auto it = code.find(category);
      recode.push_back(it == code.end() ? std::nanf("") : it->second);
    }
    have.categories = want.categories;
  }
  return Status::Ok();
}

Status DatasetFileView::ReadFeature(size_t feature, size_t begin, std::span<float> out) const {
  FOPS_RETURN_IF_ERROR(reader_->Read(columns_[feature] + 1, begin, out));
  const std::vector<float>& recode = recode_[feature];
  if (recode.empty()) return Status::Ok();
  for (float& value : out) {
    if (std::isnan(value)) continue;
    const auto index = static_cast<size_t>(value);
    value = value >= 0 && index < recode.size() ? recode[index] : std::nanf("");
  }
  return Status::Ok();
}

Result<size_t> DatasetFileView::CountPositives() const {
  size_t positives = 0;
  FOPS_RETURN_IF_ERROR(ForEachPiece(*reader_, 0, [&](std::span<const float> part) {
    for (float value : part) positives += value > 0.5f;
  }));
  return positives;
}

Result<Dataset> DatasetFileView::SchemaWithLabels() const {
  Dataset dataset;
  dataset.features = schema_.features;
  dataset.label_name = schema_.label_name;
  dataset.label_values = schema_.label_values;
  dataset.label.resize(rows());
  FOPS_RETURN_IF_ERROR(ReadLabels(0, dataset.label));
  return dataset;
}

Result<Dataset> ReadDatasetFile(const std::string& path, DatasetFileInfo* info) {
  FOPS_ASSIGN_OR_RETURN(std::unique_ptr<DatasetFileReader> reader, DatasetFileReader::Open(path));
  const size_t rows = reader->rows();
  Dataset dataset;
  dataset.features = reader->schema().features;
  dataset.label_name = reader->schema().label_name;
  dataset.label_values = reader->schema().label_values;
  Sha256 payload_hash;
  auto read_block = [&](size_t index, std::vector<float>& out) -> Status {
    out.resize(rows);
    FOPS_RETURN_IF_ERROR(reader->Read(index, 0, out));
    payload_hash.Update(reinterpret_cast<const char*>(out.data()), rows * sizeof(float));
    return Status::Ok();
  };
  FOPS_RETURN_IF_ERROR(read_block(0, dataset.label));
  dataset.columns.resize(dataset.features.size());
  for (size_t c = 0; c < dataset.features.size(); ++c)
    FOPS_RETURN_IF_ERROR(read_block(c + 1, dataset.columns[c]));
  const std::string digest = payload_hash.HexDigest();
  if (digest != reader->info().payload_sha256)
    return ChecksumMismatch(path, digest, reader->info().payload_sha256);
  if (info != nullptr) *info = reader->info();
  return dataset;
}

Result<Dataset> ReadDatasetFileRows(const DatasetFileReader& reader, size_t begin, size_t end) {
  if (begin > end || end > reader.rows()) {
    return Status::InvalidArgument(reader.path() + ": rows [" + std::to_string(begin) + ", " +
                                   std::to_string(end) + ") are not within its " +
                                   std::to_string(reader.rows()) + " rows");
  }
  Dataset dataset;
  dataset.features = reader.schema().features;
  dataset.label_name = reader.schema().label_name;
  dataset.label_values = reader.schema().label_values;
  dataset.label.resize(end - begin);
  FOPS_RETURN_IF_ERROR(reader.Read(0, begin, dataset.label));
  dataset.columns.resize(dataset.features.size());
  for (size_t c = 0; c < dataset.features.size(); ++c) {
    dataset.columns[c].resize(end - begin);
    FOPS_RETURN_IF_ERROR(reader.Read(c + 1, begin, dataset.columns[c]));
  }
  return dataset;
}

}  // namespace fraudops
