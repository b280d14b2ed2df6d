#pragma once
/// The bias step's facets and group variable (docs/bias.md) read from config.yml's
/// `bias.facets` and `bias.group_variable`, and turned into the rows eval/bias.h takes.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

struct FacetSpec {
  std::string text;  ///< as configured, e.g. "age_band=18-25"
  std::string column;
  std::vector<std::string> values;  ///< "=": the facet holds rows of any of these values
  std::optional<double> threshold;  ///< ">": the facet holds rows above it
};

/// "COLUMN=VALUE", "COLUMN=V1|V2" or "COLUMN>NUMBER"; errors name `where` and what is accepted.
Result<FacetSpec> ParseFacet(const std::string& text, const std::string& where);

/// Per row of a column (`schema`, `values`): 1 in the facet, 0 not, -1 the value missing.
/// A value the column never holds, or ">" on a categorical column, is an error naming it.
Result<std::vector<int8_t>> FacetRows(const FacetSpec& facet, const ColumnSchema& schema,
                                      std::span<const float> values, const std::string& where);

/// Per row, a code of the column's value (category codes and numbers alike; a missing value
/// its own code): the group variable.
std::vector<int32_t> GroupCodes(std::span<const float> values);

}  // namespace fraudops
