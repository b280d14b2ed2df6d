#include "pipeline/bias_facets.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "core/strings.h"

namespace fraudops {

namespace {

std::optional<double> Number(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

}  // namespace

Result<FacetSpec> ParseFacet(const std::string& text, const std::string& where) {
  const size_t at = text.find_first_of("=>");
  const std::string accepted =
      "; accepted: COLUMN=VALUE, COLUMN=V1|V2 (any of the values) or COLUMN>NUMBER";
  if (at == std::string::npos || at == 0) {
    return Status::InvalidArgument(where + " = '" + text + "': no column and value" + accepted);
  }
  FacetSpec facet;
  facet.text = text;
  facet.column = std::string(Trim(text.substr(0, at)));
  const std::string rest(Trim(text.substr(at + 1)));
  if (facet.column.empty() || rest.empty()) {
    return Status::InvalidArgument(where + " = '" + text + "': no column and value" + accepted);
  }
  if (text[at] == '>') {
    facet.threshold = Number(rest);
    if (!facet.threshold) {
      return Status::InvalidArgument(where + " = '" + text + "': '" + rest + "' is not a number" +
                                     accepted);
    }
    return facet;
  }
  for (const std::string& value : Split(rest, '|')) {
    const std::string trimmed(Trim(value));
    if (trimmed.empty()) {
      return Status::InvalidArgument(where + " = '" + text + "': an empty value" + accepted);
    }
    facet.values.push_back(trimmed);
  }
  return facet;
}

Result<std::vector<int8_t>> FacetRows(const FacetSpec& facet, const ColumnSchema& schema,
                                      std::span<const float> values, const std::string& where) {
  std::vector<int8_t> rows(values.size(), -1);
  if (schema.type == ColumnType::kCategorical) {
    if (facet.threshold) {
      return Status::InvalidArgument(
          where + " = '" + facet.text + "': '" + schema.name +
          "' is categorical; name its values with '=' (e.g. " + schema.name + "=" +
          (schema.categories.empty() ? "VALUE" : schema.categories[0]) + ")");
    }
    std::vector<bool> in_facet(schema.categories.size(), false);
    for (const std::string& value : facet.values) {
      const auto it = std::find(schema.categories.begin(), schema.categories.end(), value);
      if (it == schema.categories.end()) {
        return Status::InvalidArgument(where + " = '" + facet.text + "': column '" + schema.name +
                                       "' holds no value '" + value + "'" +
                                       DidYouMean(value, schema.categories));
      }
      in_facet[static_cast<size_t>(it - schema.categories.begin())] = true;
    }
    for (size_t r = 0; r < values.size(); ++r) {
      const float v = values[r];
      if (!(v >= 0 && v < static_cast<float>(in_facet.size()))) continue;  // NaN too
      rows[r] = in_facet[static_cast<size_t>(v)] ? 1 : 0;
    }
    return rows;
  }
  std::vector<double> numbers;
  for (const std::string& value : facet.values) {
    const std::optional<double> number = Number(value);
    if (!number) {
      return Status::InvalidArgument(where + " = '" + facet.text + "': column '" + schema.name +
                                     "' is numeric and '" + value +
                                     "' is not a number; use COLUMN=NUMBER or COLUMN>NUMBER");
    }
    numbers.push_back(*number);
  }
  for (size_t r = 0; r < values.size(); ++r) {
    const float v = values[r];
    if (std::isnan(v)) continue;
    bool in = facet.threshold && v > *facet.threshold;
    for (double number : numbers) in = in || static_cast<double>(v) == number;
    rows[r] = in ? 1 : 0;
  }
  return rows;
}

std::vector<int32_t> GroupCodes(std::span<const float> values) {
  std::map<float, int32_t> codes;  // numeric: by value; NaN keyed apart below
  for (float v : values) {
    if (!std::isnan(v)) codes.emplace(v, 0);
  }
  int32_t next = 0;
  for (auto& [value, code] : codes) code = next++;
  const int32_t missing = next;
  std::vector<int32_t> out(values.size());
  for (size_t r = 0; r < values.size(); ++r)
    out[r] = std::isnan(values[r]) ? missing : codes.at(values[r]);
  return out;
}

}  // namespace fraudops
