#pragma once
/// The fraudops predict response (docs/api.md): one transaction answers
///   {"request_id", "endpoint", "model", "version", "variant", "threshold", "score",
///    "label"[, "reasons"]}
/// and a batch lists {"request_id": "<id>-<row>", "score", "label"[, "reasons"]} under
/// "predictions". Written by hand into one string: the hot path allocates once.

#include <cstddef>
#include <string>

#include "serve/scored_rows.h"

namespace fraudops {

/// Appends the response to `out`. With `explain` > 0 and an `explainer` each row carries
/// its top `explain` reasons (TreeSHAP contributions).
void EncodeV1Response(const ScoredRows& scored, const TreeShap* explainer, size_t explain,
                      std::string& out);

}  // namespace fraudops
