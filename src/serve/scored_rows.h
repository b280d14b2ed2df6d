#pragma once
/// What one predict request produced, as the response encoders (v1_response.h,
/// oip_response.h) and the capture record (capture.h) read it. Views only: valid while the
/// request is handled.

#include <cstddef>
#include <string_view>

#include "serve/endpoints.h"
#include "serve/predict_request.h"

namespace fraudops {

struct ScoredRows {
  std::string_view request_id;  ///< the request's id (x-request-id or a new UUIDv7)
  std::string_view trace_id;    ///< its W3C trace id (hex; empty: none)
  std::string_view endpoint;
  const LoadedModel* model = nullptr;  ///< the variant's model that scored
  VariantRole variant = VariantRole::kProduction;
  /// What responses and capture call the variant: its role's name, or an A/B variant's
  /// name ("v7").
  std::string_view variant_name = "production";
  const ParsedRows* rows = nullptr;  ///< the encoded input
  const double* scores = nullptr;    ///< rows->rows probabilities
  /// rows->rows decisions of the model's decision policy; null when it has none.
  const PolicyDecision* decisions = nullptr;
};

}  // namespace fraudops
