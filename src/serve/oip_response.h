#pragma once
/// The Open Inference Protocol v2 side of `fraudops serve` (KServe's predict protocol,
/// docs/api.md): the infer response, two output tensors "score" (FP64) and "label" (INT64)
/// with the request's id and fraudops' own fields under "parameters", and the model
/// metadata document. The request side is ParseInferBody (predict_request.h).

#include <nlohmann/json.hpp>
#include <string>

#include "serve/endpoints.h"
#include "serve/scored_rows.h"

namespace fraudops {

/// Appends the infer response to `out`.
void EncodeInferResponse(const ScoredRows& scored, std::string& out);

/// GET /v2/models/{name}: the production model's inputs and outputs, and the versions the
/// endpoint serves (production, then the canary's).
nlohmann::json InferModelMetadata(const std::string& name, const EndpointSnapshot& endpoint);

}  // namespace fraudops
