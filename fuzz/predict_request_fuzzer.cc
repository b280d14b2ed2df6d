// Fuzzes the serving request path: any body, as a predict request (JSON, then as CSV) and as
// an Open Inference Protocol request, gives rows or a RequestError with a 4xx status, never
// a crash; rows it gives score. The signature has a numeric feature, a named-category
// feature and a feature literally named "instances". A second signature adds derived
// features, parsed with a decision policy's request fields (a feature and a member that is
// not one): every row then has one value per field.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "model/bundle.h"
#include "serve/predict_request.h"

namespace {

const fraudops::InputSignature& Signature() {
  static const fraudops::InputSignature signature = [] {
    fraudops::InputSignature s;
    s.features = {{"amount", false, {}, {}},
                  {"merchant", true, {"grocery", "travel", "online"}, {}},
                  {"V1", false, {}, {}}};
    return s;
  }();
  return signature;
}

const fraudops::InputSignature& DerivedSignature() {
  static const fraudops::InputSignature signature = [] {
    fraudops::InputSignature s = Signature();
    s.features.push_back({"log_amount", false, {}, "log(amount + 1)"});
    s.features.push_back({"ratio", false, {}, "amount / (V1 - log_amount)"});
    return s;
  }();
  return signature;
}

void Check(bool ok, const fraudops::ParsedRows& rows, const fraudops::RequestError& error,
           size_t width) {
  if (ok) {
    if (rows.rows == 0 || rows.values.size() != rows.rows * width) std::abort();
  } else if (error.status < 400 || error.status > 499 || error.message.empty()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fraudops::FeatureEncoder encoder(Signature());
  const std::string input(reinterpret_cast<const char*>(data), size);
  fraudops::ParsedRows rows;
  fraudops::RequestError error;
  std::string body = input;
  Check(fraudops::ParsePredictBody(body, "application/json", encoder, 100, &rows, &error), rows,
        error, encoder.size());
  body = input;
  Check(fraudops::ParsePredictBody(body, "text/csv; charset=utf-8", encoder, 100, &rows, &error),
        rows, error, encoder.size());
  body = input;
  Check(fraudops::ParseInferBody(body, encoder, 100, &rows, &error), rows, error, encoder.size());
  // An A/B test's assignment field: read before the body is parsed, then passed through.
  body = input;
  std::optional<std::string> card = fraudops::AssignmentValue(body, "card_id");
  if (card && card->size() > input.size()) std::abort();
  body = input;
  Check(
      fraudops::ParsePredictBody(body, "application/json", encoder, 100, &rows, &error, "card_id"),
      rows, error, encoder.size());
  // Derived features and a policy's fields.
  static const fraudops::FeatureEncoder derived(DerivedSignature());
  static const fraudops::RequestFields fields(derived, {"score", "amount", "country", "ratio"});
  for (const char* type : {"application/json", "text/csv"}) {
    body = input;
    const bool ok =
        fraudops::ParsePredictBody(body, type, derived, 100, &rows, &error, "card_id", &fields);
    Check(ok, rows, error, derived.size());
    if (ok && rows.fields.size() != rows.rows * fields.size()) std::abort();
  }
  body = input;
  const bool inferred = fraudops::ParseInferBody(body, derived, 100, &rows, &error, &fields);
  Check(inferred, rows, error, derived.size());
  if (inferred && rows.fields.size() != rows.rows * fields.size()) std::abort();
  return 0;
}
