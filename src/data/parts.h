#pragma once
/// Data read in parts — several files, or one worker's share of a source in sharded reading
/// (docs/distributed-training.md) — brought to one schema. Each part is read on its own, so
/// its category codes follow its own first-seen order and, for files typed from their own
/// first rows, a column may read as numbers in one part and as text in another. The parts'
/// schemas (PartSchema, small: names, types, categories, label values) are exchanged — in
/// memory, or through the training collective — and UnifyParts decides the one schema:
///   - column names must be the same, in the same order;
///   - a column that any part reads as text is categorical everywhere (the parts that read it
///     as numbers read again with it in categorical_columns);
///   - categories are merged in part order, each part's in its first-seen order, so the parts
///     of one file (in order) are coded exactly as one reader of the whole file codes them;
///   - the label has one negative text over all parts.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fraudops {

/// What the other parts need to know of `part` to agree: feature names, types, categories,
/// label values and which classes it holds, its rows; `source` names it in errors.
nlohmann::json PartSchema(const Dataset& part, const std::string& source);

struct UnifiedSchema {
  /// Columns some part read as numbers and another as text: every part reads again with
  /// them categorical (then unifies again). Empty when the parts agree.
  std::vector<std::string> make_categorical;
  Dataset schema;  ///< the features (merged categories), label name and values; no rows
  /// remap[part][feature]: a categorical feature's part codes → unified codes (empty for
  /// numeric features).
  std::vector<std::vector<std::vector<float>>> remap;
};

/// The one schema of the parts whose PartSchema are `parts`, in part order. `numeric_label`:
/// the label is a regression target (its values are numbers, not classes).
Result<UnifiedSchema> UnifyParts(const std::vector<nlohmann::json>& parts, bool numeric_label);

/// Re-codes part `index`'s categories and label values into `unified`'s.
void RecodePart(Dataset& part, const UnifiedSchema& unified, size_t index);

/// The parts (read in order) as one dataset: unified, re-coded and concatenated. `read` reads
/// part i with the given extra categorical columns; it is called again for a part when the
/// parts disagree on a column's type. `sources` name the parts in errors.
Result<Dataset> ReadParts(
    size_t count, const std::vector<std::string>& sources, bool numeric_label,
    const std::function<Result<Dataset>(size_t index, const std::vector<std::string>& categorical)>&
        read);

/// The data fingerprint of data read in parts: SHA-256 over "fraudops-parts-v1\n" then one
/// line per part, in part order, "<index> <rows> <content hash>\n" — stable for a given
/// partitioning of the same data.
std::string CombinedContentHash(const std::vector<std::pair<size_t, std::string>>& rows_and_hashes);

}  // namespace fraudops
