#pragma once
/// Batch scoring (`fraudops predict`): a CSV or JSON Lines file in, one output row per input
/// row out (CSV or JSON Lines) with the probability, the margin, the label at the threshold,
/// optional TreeSHAP reason codes and pass-through columns — the reference design's batch
/// transform with a join source. The input is streamed in chunks of whole records, each
/// chunk encoded, scored and formatted in parallel, so memory stays bounded. The output is
/// written to a temporary file and renamed into place only when every row scored: a bad row
/// leaves no output behind.

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/status.h"
#include "model/bundle.h"
#include "model/policy.h"

namespace fraudops {

struct BatchScoringOptions {
  std::string input;                ///< path, or "-" for standard input
  std::string output;               ///< path, or "-" for standard output
  std::string input_format;         ///< "csv", "jsonl", or "" to decide by the input's extension
  std::string output_format;        ///< "csv", "jsonl", or "" to decide by the output's extension
  size_t explain = 0;               ///< top-K reason codes per row (0: none)
  std::vector<std::string> keep;    ///< input columns copied to the output, in this order
  std::optional<double> threshold;  ///< overrides the bundle's decision threshold
  /// Decides each row (docs/decision-policies.md): `decision` and `rule` columns. Its fields
  /// are input columns (a CSV input must have them; a JSON Lines member may be absent:
  /// missing) and `score`.
  const DecisionPolicy* policy = nullptr;
  /// How a model with feature store features gets them (features/enricher.h): the input
  /// columns it reads per row (entity keys, then the time; a CSV input must have the keys),
  /// and `fill`, called for each chunk once its rows are encoded, with each row's values of
  /// those columns at fields[row * stride + slots[i]]. Required for such a model.
  struct Enrichment {
    std::vector<std::string> fields;
    std::function<Status(std::span<const PolicyInput> fields, size_t stride,
                         std::span<const int> slots, size_t rows, double* values)>
        fill;
  };
  const Enrichment* enrichment = nullptr;
  size_t chunk_rows = 65536;
};

struct BatchScoringResult {
  size_t rows = 0;
  size_t positives = 0;  ///< rows labelled positive (when a threshold is known)
  double seconds = 0;
};

Result<BatchScoringResult> ScoreFile(const ModelBundle& bundle, const BatchScoringOptions& options,
                                     const Context& context);

}  // namespace fraudops
