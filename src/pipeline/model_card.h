#pragma once
/// The model card of a registered version (docs/model-card.md): what the model is for, the
/// data it learned from (sources, hashes, time range, validation), its features and training,
/// its metrics with confidence intervals, calibration, bias and explanations, limitations,
/// approvals and deployments, and how it is monitored — assembled from the registry (the
/// version, its audit entries), the version's run and its artifacts (each read back through
/// its recorded checksum). The pipeline writes one beside the bundle when it registers a
/// version; `fraudops models card` builds it again with the approvals and deployments since.

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"

namespace fraudops {

/// The card as JSON ({"format": "fraudops-model-card/1", …}); `generated_at` is an ISO time.
Result<nlohmann::json> BuildModelCard(MetadataStore& store, ArtifactStore& artifacts,
                                      const ModelVersion& version, const std::string& generated_at);

/// The card as Markdown, and as one self-contained HTML page (the same content).
std::string ModelCardMarkdown(const nlohmann::json& card);
std::string ModelCardHtml(const nlohmann::json& card);

}  // namespace fraudops
