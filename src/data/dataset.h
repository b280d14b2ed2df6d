#pragma once
/// The in-memory columnar dataset every step passes along: float32 feature columns (a
/// categorical column holds its category codes 0..k-1 as floats), NaN for missing values,
/// a 0/1 label, and the schema that says what each column is. Move-only: a dataset of the
/// reference size is ~35 MB.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace fraudops {

enum class ColumnType { kNumeric, kCategorical };

std::string_view ColumnTypeName(ColumnType type);

struct ColumnSchema {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  std::vector<std::string> categories;  ///< categorical only: code i means categories[i]
  std::string derived;  ///< a derived feature's expression (model/derived_features.h), or ""
  /// A feature store feature's reference "GROUP:FEATURE" (docs/features.md), or "".
  std::string feature = {};

  bool operator==(const ColumnSchema&) const = default;
};

class Dataset {
 public:
  Dataset() = default;
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;
  Dataset(Dataset&&) = default;
  Dataset& operator=(Dataset&&) = default;

  size_t rows() const { return label.size(); }
  size_t num_features() const { return features.size(); }

  /// Index of the feature named `name`, or -1.
  int FeatureIndex(std::string_view name) const;
  std::vector<std::string> FeatureNames() const;
  size_t CountPositives() const;

  /// A new dataset with the given rows, in the given order.
  Dataset Take(std::span<const uint32_t> row_indices) const;
  /// The features as one row-major matrix (rows x num_features), as libraries want them.
  std::vector<float> RowMajor() const;
  /// The schema (features, label name and values) as JSON; part of the content hash.
  nlohmann::json SchemaJson() const;
  /// SHA-256 over the schema and every value: equal for equal data from any source.
  std::string ContentHash() const;

  std::vector<ColumnSchema> features;
  std::vector<std::vector<float>> columns;  ///< columns[f][row]
  std::vector<float> label;                 ///< 1 = positive (fraud), 0 = negative
  std::string label_name = "Class";
  /// The label's text values: [negative, positive].
  std::vector<std::string> label_values = {"0", "1"};
};

/// Re-encodes `other`'s categorical columns with `reference`'s dictionaries (code i means
/// reference's categories[i]), so a validation or test file read on its own means what the
/// training file meant: a category `reference` never saw becomes missing, as in scoring. A
/// column `reference` reads as categorical that `other` read as numbers is mapped by the
/// numbers' text. Both must have the same feature names in order; `other_name` names it in
/// errors (a column numeric in `reference` but text in `other`).
Status AlignCategories(const Dataset& reference, Dataset& other, const std::string& other_name);

}  // namespace fraudops
