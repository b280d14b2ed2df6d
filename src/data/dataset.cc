#include "data/dataset.h"

#include <cmath>
#include <cstdio>
#include <unordered_map>

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
    if (!column.feature.empty()) entry["feature"] = column.feature;
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

Status AlignCategories(const Dataset& reference, Dataset& other, const std::string& other_name) {
  for (size_t f = 0; f < reference.num_features() && f < other.num_features(); ++f) {
    const ColumnSchema& want = reference.features[f];
    ColumnSchema& have = other.features[f];
    if (want.type != ColumnType::kCategorical) {
      if (have.type == ColumnType::kCategorical) {
        return Status::DataError(other_name + ": column '" + have.name +
                                 "' has text values, but the training data's is numeric");
      }
      continue;
    }
    std::unordered_map<std::string, float> code;
    for (size_t c = 0; c < want.categories.size(); ++c)
      code.emplace(want.categories[c], static_cast<float>(c));
    auto text_of = [&](float value) -> std::string {
      if (have.type == ColumnType::kCategorical) {
        const auto index = static_cast<size_t>(value);
        return index < have.categories.size() ? have.categories[index] : std::string();
      }
      char buffer[32];
      if (value == std::floor(value) && std::abs(value) < 1e9f) {
        std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(value));
      } else {
        std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(value));
      }
      return buffer;
    };
    for (float& value : other.columns[f]) {
      if (std::isnan(value)) continue;
      auto it = code.find(text_of(value));
      value = it == code.end() ? std::nanf("") : it->second;
    }
    have.type = ColumnType::kCategorical;
    have.categories = want.categories;
  }
  return Status::Ok();
}

}  // namespace fraudops
