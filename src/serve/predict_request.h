#pragma once
/// Turning request bodies into model input rows (docs/api.md): the fraudops predict body
/// (one transaction as a JSON object of features, a batch as {"instances": [...]} of
/// objects or of arrays in signature order, or CSV with a header line) and the Open
/// Inference Protocol v2 infer body (one [N, F] tensor in signature order, or one tensor per
/// feature named after it). JSON is parsed with simdjson; values are encoded by the
/// bundle's FeatureEncoder, the code batch scoring uses, so a request means what the same
/// row in a file means.
///
/// A problem is a RequestError: 400 for malformed JSON (with the byte offset) or a body of
/// the wrong shape, 413 for too many rows, 422 for missing, extra or mistyped features
/// (every one listed, with the first row it happened in).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/bundle.h"
#include "model/policy.h"

namespace fraudops {

struct RequestError {
  int status = 400;
  std::string code;  ///< malformed_json, invalid_body, too_many_rows, invalid_features
  std::string message;
  nlohmann::json details = nlohmann::json::object();
};

/// The request fields a decision policy reads, by its slots (DecisionPolicy::fields()):
/// features, whose raw values are kept beside their encoding, and other members, which a
/// body may then carry beside the features. "score" is the model's: never read from a body.
class RequestFields {
 public:
  RequestFields(const FeatureEncoder& encoder, const std::vector<std::string>& names);
  size_t size() const { return size_; }
  /// The slot of feature `feature`, or -1 when the policy does not read it.
  int SlotOfFeature(size_t feature) const { return feature_slot_[feature]; }
  /// The slot of a member that is not a feature, or -1.
  int SlotOfOther(std::string_view name) const;

 private:
  size_t size_ = 0;
  std::vector<int> feature_slot_;
  std::vector<std::pair<std::string, int>> others_;
};

struct ParsedRows {
  std::vector<double> values;  ///< rows x features, row-major, encoded
  size_t rows = 0;
  /// With RequestFields: rows x fields, row-major, the values as the request wrote them
  /// (missing where a row lacks one).
  std::vector<PolicyInput> fields;
  /// The body was a batch ("instances", CSV, a tensor): the response lists predictions.
  bool batch = false;
  std::string id;  ///< OIP: the request's "id", echoed back
};

/// A predict body. `content_type` "text/csv" (with any parameters) reads CSV; anything else
/// JSON. `body` may be padded in place for the parser. `passthrough_field` (an A/B test's
/// assignment field, e.g. a card id) may appear beside the features and is not one.
/// `fields` (a decision policy's) collects their values per row.
bool ParsePredictBody(std::string& body, std::string_view content_type,
                      const FeatureEncoder& encoder, size_t max_rows, ParsedRows* out,
                      RequestError* error, std::string_view passthrough_field = {},
                      const RequestFields* fields = nullptr);

/// The value of the top-level member `field` of a JSON predict body, or of the first
/// instance's in a batch, as text (a string's content, a number's literal); nullopt when
/// absent or the body is not JSON. Picks an A/B variant before the body is parsed against
/// the variant's signature; `body` may be padded in place.
std::optional<std::string> AssignmentValue(std::string& body, std::string_view field);

/// An Open Inference Protocol v2 infer body.
bool ParseInferBody(std::string& body, const FeatureEncoder& encoder, size_t max_rows,
                    ParsedRows* out, RequestError* error, const RequestFields* fields = nullptr);

/// The byte offset and message of the first JSON syntax error in `text`, or false when the
/// text is valid JSON.
bool FindJsonSyntaxError(std::string_view text, size_t* offset, std::string* message);

}  // namespace fraudops
