#include "data/dataset.h"

#include "core/hash.h"

namespace fraudops {

std::string_view ColumnTypeName(ColumnType type) {
  return type == ColumnType::kNumeric ? "numeric" : "categorical";
}

int Dataset::FeatureIndex(std::string_view name) const {
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> Dataset::FeatureNames() const {
  std::vector<std::string> names;
  for (const ColumnSchema& column : features) names.push_back(column.name);
  return names;
}

size_t Dataset::CountPositives() const {
  size_t positives = 0;
  for (float value : label) positives += value > 0.5f;
  return positives;
}

Dataset Dataset::Take(std::span<const uint32_t> row_indices) const {
  Dataset out;
  out.features = features;
  out.label_name = label_name;
  out.label_values = label_values;
  out.columns.resize(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    std::vector<float>& target = out.columns[c];
    target.resize(row_indices.size());
    const float* source = columns[c].data();
    for (size_t i = 0; i < row_indices.size(); ++i) target[i] = source[row_indices[i]];
  }
  out.label.resize(row_indices.size());
  for (size_t i = 0; i < row_indices.size(); ++i) out.label[i] = label[row_indices[i]];
  return out;
}

std::vector<float> Dataset::RowMajor() const {
  const size_t n = rows(), f = columns.size();
  std::vector<float> matrix(n * f);
  constexpr size_t kBlock = 256;  // rows per block: keeps the written lines in cache
  for (size_t start = 0; start < n; start += kBlock) {
    size_t end = std::min(n, start + kBlock);
    for (size_t c = 0; c < f; ++c) {
      const float* column = columns[c].data();
      for (size_t r = start; r < end; ++r) matrix[r * f + c] = column[r];
    }
  }
  return matrix;
}

nlohmann::json Dataset::SchemaJson() const {
  nlohmann::json schema;
  schema["label"] = {{"name", label_name}, {"values", label_values}};
  schema["features"] = nlohmann::json::array();
  for (const ColumnSchema& column : features) {
    nlohmann::json entry = {{"name", column.name}, {"type", ColumnTypeName(column.type)}};
    if (column.type == ColumnType::kCategorical) entry["categories"] = column.categories;
    if (!column.derived.empty()) entry["derived"] = column.derived;
    schema["features"].push_back(entry);
  }
  schema["rows"] = rows();
  return schema;
}

std::string Dataset::ContentHash() const {
  Sha256 hasher;
  hasher.Update(SchemaJson().dump());
  hasher.Update(label.data(), label.size() * sizeof(float));
  for (const std::vector<float>& column : columns) {
    hasher.Update(column.data(), column.size() * sizeof(float));
  }
  return hasher.HexDigest();
}

}  // namespace fraudops
