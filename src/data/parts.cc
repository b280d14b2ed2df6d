#include "data/parts.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/hash.h"
#include "core/strings.h"
#include "data/table.h"

namespace fraudops {

nlohmann::json PartSchema(const Dataset& part, const std::string& source) {
  nlohmann::json schema = part.SchemaJson();
  size_t positives = 0;
  for (float value : part.label) positives += value == 1.0f;
  schema["source"] = source;
  schema["negatives"] = positives < part.rows();
  schema["positives"] = positives > 0;
  return schema;
}

Result<UnifiedSchema> UnifyParts(const std::vector<nlohmann::json>& parts, bool numeric_label) {
  if (parts.empty()) return Status::Internal("no parts to unify");
  UnifiedSchema unified;
  try {
    auto names_of = [](const nlohmann::json& part) {
      std::vector<std::string> names;
      for (const nlohmann::json& feature : part.at("features"))
        names.push_back(feature.at("name").get<std::string>());
      return names;
    };
    const std::vector<std::string> names = names_of(parts[0]);
    const std::string first_source = parts[0].value("source", "part 0");
    for (size_t p = 1; p < parts.size(); ++p) {
      const std::vector<std::string> theirs = names_of(parts[p]);
      if (theirs != names) {
        return Status::DataError(parts[p].value("source", "part " + std::to_string(p)) +
                                 " has the feature columns (" + Join(theirs, ", ") + ") but " +
                                 first_source + " has (" + Join(names, ", ") +
                                 "); every part of the data needs the same columns in the "
                                 "same order");
      }
    }
    // Types: text in any part makes the column categorical in all.
    std::vector<bool> categorical(names.size(), false), numeric(names.size(), false);
    for (const nlohmann::json& part : parts) {
      const nlohmann::json& features = part.at("features");
      for (size_t f = 0; f < names.size(); ++f) {
        (features[f].at("type").get<std::string>() == "categorical" ? categorical : numeric)[f] =
            true;
      }
    }
    for (size_t f = 0; f < names.size(); ++f) {
      if (categorical[f] && numeric[f]) unified.make_categorical.push_back(names[f]);
    }
    if (!unified.make_categorical.empty()) return unified;

    // Categories merged in part order; each part's codes mapped into the merged ones.
    Dataset& schema = unified.schema;
    schema.label_name = parts[0].at("label").at("name").get<std::string>();
    unified.remap.assign(parts.size(), std::vector<std::vector<float>>(names.size()));
    for (size_t f = 0; f < names.size(); ++f) {
      ColumnSchema column;
      column.name = names[f];
      column.type = categorical[f] ? ColumnType::kCategorical : ColumnType::kNumeric;
      if (categorical[f]) {
        Dictionary dictionary;
        for (size_t p = 0; p < parts.size(); ++p) {
          for (const nlohmann::json& value : parts[p].at("features")[f].at("categories"))
            unified.remap[p][f].push_back(
                static_cast<float>(dictionary.Code(value.get<std::string>())));
        }
        column.categories = dictionary.values();
      }
      schema.features.push_back(std::move(column));
    }

    // The label: one negative text over the parts that hold negatives (a part of positives
    // only does not know it), the positive text of the first part that holds positives.
    if (!numeric_label) {
      std::optional<std::pair<std::string, std::string>> negative;  // (text, source)
      std::optional<std::string> positive;
      for (const nlohmann::json& part : parts) {
        const auto values = part.at("label").at("values").get<std::vector<std::string>>();
        if (values.size() != 2) return Status::DataError("a part's label values are not two");
        const std::string source = part.value("source", "a part");
        if (part.value("negatives", false)) {
          if (negative && negative->first != values[0]) {
            return Status::DataError(
                source + ": label column '" + schema.label_name + "' has the value '" + values[0] +
                "' where " + negative->second + " has '" + negative->first +
                "'; a label holds exactly two values, the positive one and one other");
          }
          if (!negative) negative = std::make_pair(values[0], source);
        }
        if (part.value("positives", false) && !positive) positive = values[1];
      }
      const auto first_values = parts[0].at("label").at("values").get<std::vector<std::string>>();
      schema.label_values = {negative ? negative->first : std::string("0"),
                             positive ? *positive : first_values[1]};
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::DataError(std::string("a part's schema is incomplete: ") + e.what());
  }
  return unified;
}

void RecodePart(Dataset& part, const UnifiedSchema& unified, size_t index) {
  for (size_t f = 0; f < part.features.size(); ++f) {
    const std::vector<float>& remap = unified.remap[index][f];
    if (part.features[f].type == ColumnType::kCategorical) {
      for (float& code : part.columns[f]) {
        if (!std::isnan(code)) code = remap[static_cast<size_t>(code)];
      }
    }
    part.features[f] = unified.schema.features[f];
  }
  part.label_values = unified.schema.label_values;
}

Result<Dataset> ReadParts(
    size_t count, const std::vector<std::string>& sources, bool numeric_label,
    const std::function<Result<Dataset>(size_t index, const std::vector<std::string>& categorical)>&
        read) {
  if (count == 0) return Status::Internal("no parts to read");
  std::vector<Dataset> parts(count);
  std::vector<std::string> categorical;
  for (size_t i = 0; i < count; ++i) {
    FOPS_ASSIGN_OR_RETURN(parts[i], read(i, categorical));
  }
  for (int round = 0;; ++round) {
    std::vector<nlohmann::json> schemas;
    for (size_t i = 0; i < count; ++i) schemas.push_back(PartSchema(parts[i], sources[i]));
    FOPS_ASSIGN_OR_RETURN(UnifiedSchema unified, UnifyParts(schemas, numeric_label));
    if (unified.make_categorical.empty()) {
      Dataset all;
      all.features = unified.schema.features;
      all.label_name = unified.schema.label_name;
      all.label_values = unified.schema.label_values;
      all.columns.resize(all.features.size());
      for (size_t i = 0; i < count; ++i) {
        RecodePart(parts[i], unified, i);
        all.label.insert(all.label.end(), parts[i].label.begin(), parts[i].label.end());
        for (size_t f = 0; f < all.features.size(); ++f) {
          all.columns[f].insert(all.columns[f].end(), parts[i].columns[f].begin(),
                                parts[i].columns[f].end());
        }
        parts[i] = Dataset();
      }
      return all;
    }
    if (round > 0) {
      return Status::Internal("the parts still disagree on the types of " +
                              Join(unified.make_categorical, ", ") + " after reading them again");
    }
    // Read again the parts that read one of these columns as numbers.
    categorical.insert(categorical.end(), unified.make_categorical.begin(),
                       unified.make_categorical.end());
    for (size_t i = 0; i < count; ++i) {
      const bool again = std::any_of(
          unified.make_categorical.begin(), unified.make_categorical.end(),
          [&](const std::string& name) {
            const int f = parts[i].FeatureIndex(name);
            return f >= 0 && parts[i].features[static_cast<size_t>(f)].type == ColumnType::kNumeric;
          });
      if (again) {
        FOPS_ASSIGN_OR_RETURN(parts[i], read(i, categorical));
      }
    }
  }
}

std::string CombinedContentHash(
    const std::vector<std::pair<size_t, std::string>>& rows_and_hashes) {
  std::string text = "fraudops-parts-v1\n";
  for (size_t i = 0; i < rows_and_hashes.size(); ++i) {
    text += std::to_string(i) + " " + std::to_string(rows_and_hashes[i].first) + " " +
            rows_and_hashes[i].second + "\n";
  }
  return Sha256Hex(text);
}

}  // namespace fraudops
