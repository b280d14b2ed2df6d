#include "serve/predict_request.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/strings.h"
#include "data/record_stream.h"

namespace fraudops {

namespace dom = simdjson::dom;

namespace {

constexpr size_t kMaxListed = 20;  ///< mistyped values listed in a 422 before "…and N more"

/// Parses into the calling thread's parser (its buffers are reused request after request).
simdjson::error_code ParseJson(std::string& body, dom::element* root) {
  thread_local dom::parser parser;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING)
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return parser.parse(body.data(), body.size(), false).get(*root);
}

bool MalformedJson(std::string_view body, simdjson::error_code code, RequestError* error) {
  size_t offset = 0;
  std::string message;
  error->status = 400;
  error->code = "malformed_json";
  if (FindJsonSyntaxError(body, &offset, &message)) {
    error->message = "malformed JSON at byte " + std::to_string(offset) + ": " + message;
    error->details = {{"offset", offset}};
  } else {
    error->message = std::string("the JSON cannot be read: ") + simdjson::error_message(code);
    error->details = {{"offset", nullptr}};
  }
  return false;
}

bool BadBody(RequestError* error, std::string message, int status = 400,
             std::string code = "invalid_body") {
  error->status = status;
  error->code = std::move(code);
  error->message = std::move(message);
  return false;
}

bool TooManyRows(size_t rows, size_t max_rows, RequestError* error) {
  return BadBody(error,
                 std::to_string(rows) + " rows in one request; at most api.max_rows = " +
                     std::to_string(max_rows) + " are accepted",
                 413, "too_many_rows");
}

const char* JsonTypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "array";
    case dom::element_type::OBJECT:
      return "object";
    case dom::element_type::BOOL:
      return "boolean";
    case dom::element_type::STRING:
      return "string";
    case dom::element_type::NULL_VALUE:
      return "null";
    default:
      return "number";
  }
}

/// Feature problems of a request, gathered over all rows, reported together.
class FeatureProblems {
 public:
  explicit FeatureProblems(const FeatureEncoder& encoder)
      : encoder_(encoder), seen_(encoder.size()) {}

  void StartRow() { std::fill(seen_.begin(), seen_.end(), 0); }
  /// True the first time `feature` is set in this row.
  bool MarkSeen(size_t feature) { return seen_[feature]++ == 0; }
  /// A member that is no feature: refused, unless the bundle says the model leaves it out.
  void Extra(std::string_view name, size_t row) {
    if (!encoder_.IsIgnored(name)) extra_.emplace(std::string(name), row);
  }
  void Duplicate(size_t feature, size_t row) { duplicate_.emplace(feature, row); }
  void Mistyped(size_t feature, size_t row, std::string_view got) {
    if (mistyped_.size() < kMaxListed) {
      const FeatureSpec& spec = encoder_.feature(feature);
      mistyped_.push_back({{"feature", spec.name},
                           {"row", row},
                           {"got", got},
                           {"expected", spec.categorical && !spec.categories.empty()
                                            ? "a category (string) or null"
                                            : "a number, a numeric string or null"}});
    }
    ++mistyped_count_;
  }
  void EndRow(size_t row) {
    for (size_t f = 0; f < encoder_.input_size(); ++f) {  // derived features are computed
      if (!seen_[f]) missing_.emplace(f, row);
    }
  }
  bool any() const {
    return !missing_.empty() || !extra_.empty() || !duplicate_.empty() || mistyped_count_ > 0;
  }

  bool Report(RequestError* error) const {
    error->status = 422;
    error->code = "invalid_features";
    // Missing and doubled features in the order of the model's input signature; unknown
    // members by name, each with a hint when one is known.
    std::map<std::string, std::string> hints = Hints();
    std::vector<std::pair<std::string, size_t>> missing, duplicate, extra;
    for (const auto& [f, row] : missing_) missing.emplace_back(encoder_.feature(f).name, row);
    for (const auto& [f, row] : duplicate_) duplicate.emplace_back(encoder_.feature(f).name, row);
    for (const auto& [name, row] : extra_) extra.emplace_back(name, row);
    auto listed = [](const std::vector<std::pair<std::string, size_t>>& features) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [name, row] : features) list.push_back({{"feature", name}, {"row", row}});
      return list;
    };
    auto joined = [](const std::vector<std::pair<std::string, size_t>>& features,
                     const std::map<std::string, std::string>& notes) {
      std::string text;
      size_t shown = 0;
      for (const auto& [name, row] : features) {
        if (shown++ == kMaxListed) {
          text += ", …";
          break;
        }
        auto note = notes.find(name);
        text += (text.empty() ? "" : ", ") + name +
                (note == notes.end() ? "" : " (" + note->second + ")");
      }
      return text;
    };
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing " + joined(missing, {}));
    if (!extra.empty()) parts.push_back("unknown " + joined(extra, hints));
    if (!duplicate.empty()) parts.push_back("given twice " + joined(duplicate, {}));
    if (mistyped_count_ > 0)
      parts.push_back(std::to_string(mistyped_count_) + " value(s) of the wrong type");
    error->message = "the features do not match the model's input signature: " + Join(parts, "; ");
    error->details = {{"missing", listed(missing)},
                      {"extra", listed(extra)},
                      {"duplicate", listed(duplicate)},
                      {"mistyped", mistyped_},
                      {"mistyped_count", mistyped_count_}};
    if (!hints.empty()) error->details["hints"] = hints;
    return false;
  }

 private:
  /// What each unknown member may have meant: a feature of a similar name, or why a derived
  /// or feature-store feature is not sent.
  std::map<std::string, std::string> Hints() const {
    std::map<std::string, std::string> hints;
    if (extra_.empty()) return hints;
    std::vector<std::string> valid;
    for (size_t f = 0; f < encoder_.input_size(); ++f) valid.push_back(encoder_.feature(f).name);
    for (const auto& [name, row] : extra_) {
      const std::optional<std::string> close = ClosestMatch(name, valid);
      std::string hint = close ? "did you mean '" + *close + "'?" : "";
      for (size_t f = encoder_.input_size(); f < encoder_.size(); ++f) {
        const FeatureSpec& spec = encoder_.feature(f);
        if (spec.name != name) continue;
        hint = !spec.feature.empty() ? "it comes from the feature store (" + spec.feature +
                                           "): send the entity key, not it"
                                     : "it is derived (" + spec.derived +
                                           "): send the fields it is computed from, not it";
      }
      if (name == encoder_.label()) {
        hint =
            "the label: a score does not take it; send it to the endpoint's /feedback once "
            "known";
      }
      if (!hint.empty()) hints[name] = hint;
    }
    return hints;
  }

  const FeatureEncoder& encoder_;
  std::vector<uint8_t> seen_;
  std::map<size_t, size_t> missing_, duplicate_;  // feature (signature order) -> first row
  std::map<std::string, size_t> extra_;           // name -> first row
  nlohmann::json mistyped_ = nlohmann::json::array();
  size_t mistyped_count_ = 0;
};

/// Encodes one JSON value for `feature`; a wrong type is recorded.
double EncodeElement(const FeatureEncoder& encoder, size_t feature, dom::element value, size_t row,
                     FeatureProblems& problems) {
  bool ok = true;
  double encoded = std::nan("");
  switch (value.type()) {
    case dom::element_type::INT64:
      encoded = encoder.EncodeNumber(feature, static_cast<double>(int64_t(value)), &ok);
      break;
    case dom::element_type::UINT64:
      encoded = encoder.EncodeNumber(feature, static_cast<double>(uint64_t(value)), &ok);
      break;
    case dom::element_type::DOUBLE:
      encoded = encoder.EncodeNumber(feature, double(value), &ok);
      break;
    case dom::element_type::NULL_VALUE:
      break;
    case dom::element_type::STRING:
      encoded = encoder.EncodeText(feature, std::string_view(value), &ok);
      break;
    default:
      ok = false;
  }
  if (!ok) {
    std::string got = JsonTypeName(value.type());
    if (value.type() == dom::element_type::STRING)
      got = "\"" + std::string(std::string_view(value).substr(0, 40)) + "\"";
    problems.Mistyped(feature, row, got);
  }
  return encoded;
}

/// Computes every row's derived features once its raw ones are encoded; returns true.
bool DeriveRows(const FeatureEncoder& encoder, ParsedRows* out) {
  // With feature store features the scorer derives once it has filled them.
  if (encoder.input_size() == encoder.size() || encoder.has_store_features()) return true;
  for (size_t r = 0; r < out->rows; ++r) encoder.Derive(out->values.data() + r * encoder.size());
  return true;
}

/// A JSON value as a policy reads it: numbers, strings, booleans; anything else is missing.
PolicyInput InputOf(dom::element value) {
  switch (value.type()) {
    case dom::element_type::INT64:
      return PolicyInput::Number(static_cast<double>(int64_t(value)));
    case dom::element_type::UINT64:
      return PolicyInput::Number(static_cast<double>(uint64_t(value)));
    case dom::element_type::DOUBLE:
      return PolicyInput::Number(double(value));
    case dom::element_type::STRING:
      return PolicyInput::String(std::string_view(value));
    case dom::element_type::BOOL:
      return PolicyInput::Bool(bool(value));
    default:
      return {};
  }
}

/// Where the policy fields' values go: the request's rows x fields (nothing without fields).
struct FieldSink {
  const RequestFields* fields = nullptr;
  ParsedRows* out = nullptr;
  void Start(size_t rows) const {
    if (fields) out->fields.assign(rows * fields->size(), PolicyInput());
  }
  void Feature(size_t row, size_t feature, dom::element value) const {
    if (!fields) return;
    const int slot = fields->SlotOfFeature(feature);
    if (slot >= 0) out->fields[row * fields->size() + static_cast<size_t>(slot)] = InputOf(value);
  }
  /// True when `name` (not a feature) is a policy field; its value is kept.
  bool Other(size_t row, std::string_view name, dom::element value) const {
    const int slot = fields ? fields->SlotOfOther(name) : -1;
    if (slot < 0) return false;
    out->fields[row * fields->size() + static_cast<size_t>(slot)] = InputOf(value);
    return true;
  }
  PolicyInput* Slot(size_t row, int slot) const {
    return fields && slot >= 0 ? &out->fields[row * fields->size() + static_cast<size_t>(slot)]
                               : nullptr;
  }
};

void EncodeObject(const FeatureEncoder& encoder, dom::object object, size_t row, double* out,
                  FeatureProblems& problems, std::string_view passthrough, const FieldSink& sink) {
  problems.StartRow();
  size_t next = 0;  // where the next feature is when the client keeps the signature's order
  for (dom::key_value_pair field : object) {
    int feature = encoder.Find(field.key, next);
    if (feature < 0 && !passthrough.empty() && field.key == passthrough) {
      sink.Other(row, field.key, field.value);
      continue;
    }
    if (feature < 0 && sink.Other(row, field.key, field.value)) continue;
    next = static_cast<size_t>(feature + 1);
    if (feature < 0) {
      problems.Extra(field.key, row);
      continue;
    }
    if (!problems.MarkSeen(static_cast<size_t>(feature))) {
      problems.Duplicate(static_cast<size_t>(feature), row);
      continue;
    }
    out[feature] = EncodeElement(encoder, static_cast<size_t>(feature), field.value, row, problems);
    sink.Feature(row, static_cast<size_t>(feature), field.value);
  }
  problems.EndRow(row);
}

bool EncodeArrayRow(const FeatureEncoder& encoder, dom::array array, size_t row, double* out,
                    FeatureProblems& problems, RequestError* error, const FieldSink& sink) {
  if (array.size() != encoder.input_size()) {
    return BadBody(error, "instance " + std::to_string(row) + " has " +
                              std::to_string(array.size()) + " values; the model takes " +
                              std::to_string(encoder.input_size()) +
                              " in its signature's order (GET /v2/models/{endpoint} lists them)");
  }
  size_t f = 0;
  for (dom::element value : array) {
    out[f] = EncodeElement(encoder, f, value, row, problems);
    sink.Feature(row, f, value);
    ++f;
  }
  return true;
}

bool ParseCsv(std::string_view body, const FeatureEncoder& encoder, size_t max_rows,
              std::string_view passthrough, const RequestFields* request_fields, ParsedRows* out,
              RequestError* error) {
  auto reader = RecordReader::FromMemory(body, true, "request body");
  if (!reader.ok()) return BadBody(error, reader.status().message());
  RecordChunk chunk;
  auto more = (*reader)->Next(chunk, max_rows + 2);
  if (!more.ok()) return BadBody(error, more.status().message());
  if (chunk.size() == 0)
    return BadBody(error, "the CSV body is empty; it needs a header line and at least one row");
  const char delimiter = DetectCsvDelimiter(chunk.record(0));
  std::vector<std::string_view> fields;
  std::string scratch;
  SplitCsvRecord(chunk.record(0), delimiter, fields);
  FeatureProblems problems(encoder);
  std::vector<int> column_feature(fields.size(), -1);
  std::vector<int> column_slot(fields.size(), -1);  // the policy field each column holds
  std::vector<std::string> header;
  problems.StartRow();
  for (size_t c = 0; c < fields.size(); ++c) {
    std::string name(Trim(UnquoteCsvField(fields[c], scratch)));
    int feature = encoder.Find(name);
    if (request_fields) {
      column_slot[c] = feature >= 0 ? request_fields->SlotOfFeature(static_cast<size_t>(feature))
                                    : request_fields->SlotOfOther(name);
    }
    if (feature < 0 && (column_slot[c] >= 0 || (!passthrough.empty() && name == passthrough)))
      continue;
    if (feature < 0) {
      problems.Extra(name, 0);
    } else if (!problems.MarkSeen(static_cast<size_t>(feature))) {
      problems.Duplicate(static_cast<size_t>(feature), 0);
    } else {
      column_feature[c] = feature;
    }
  }
  problems.EndRow(0);
  if (problems.any()) return problems.Report(error);
  const size_t rows = chunk.size() - 1;
  if (rows == 0) return BadBody(error, "the CSV body has a header line but no rows");
  if (rows > max_rows)
    return TooManyRows(rows, max_rows, error);  // at least max_rows + 1 were read
  const size_t width = encoder.size();
  out->values.assign(rows * width, std::nan(""));
  out->rows = rows;
  out->batch = true;
  const FieldSink sink{request_fields, out};
  sink.Start(rows);
  for (size_t r = 0; r < rows; ++r) {
    SplitCsvRecord(chunk.record(r + 1), delimiter, fields);
    if (fields.size() != column_feature.size()) {
      return BadBody(error, "CSV line " + std::to_string(chunk.line[r + 1]) + " has " +
                                std::to_string(fields.size()) + " fields; the header has " +
                                std::to_string(column_feature.size()));
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      if (PolicyInput* slot = sink.Slot(r, column_slot[c]))
        *slot = PolicyInput::OfText(UnquoteCsvField(fields[c], scratch));
      if (column_feature[c] < 0) continue;  // a passthrough or policy column
      const size_t f = static_cast<size_t>(column_feature[c]);
      bool ok = true;
      std::string_view text = UnquoteCsvField(fields[c], scratch);
      out->values[r * width + f] = encoder.EncodeText(f, text, &ok);
      if (!ok) problems.Mistyped(f, r, "\"" + std::string(text.substr(0, 40)) + "\"");
    }
  }
  if (problems.any()) return problems.Report(error);
  return DeriveRows(encoder, out);
}

}  // namespace

namespace {

/// A member's value as assignment text: a string's content or a number's literal.
std::optional<std::string> AssignmentText(simdjson::ondemand::value value) {
  std::string_view text;
  if (!value.get_string().get(text)) return std::string(text);
  simdjson::ondemand::json_type type;
  if (value.type().get(type) || type != simdjson::ondemand::json_type::number) return std::nullopt;
  return std::string(Trim(value.raw_json_token()));
}

}  // namespace

std::optional<std::string> AssignmentValue(std::string& body, std::string_view field) {
  namespace od = simdjson::ondemand;
  thread_local od::parser parser;
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING)
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  od::document doc;
  if (parser.iterate(body.data(), body.size(), body.capacity()).get(doc)) return std::nullopt;
  od::object object;
  if (doc.get_object().get(object)) return std::nullopt;
  for (auto member : object) {
    std::string_view key;
    if (member.unescaped_key().get(key)) return std::nullopt;
    od::value value;
    if (member.value().get(value)) return std::nullopt;
    if (key == field) return AssignmentText(value);
    if (key != "instances") continue;
    od::array instances;
    if (value.get_array().get(instances)) return std::nullopt;
    for (auto item : instances) {  // the first instance decides for the batch
      od::object first;
      if (item.get_object().get(first)) return std::nullopt;
      for (auto inner : first) {
        std::string_view name;
        if (inner.unescaped_key().get(name)) return std::nullopt;
        od::value inner_value;
        if (inner.value().get(inner_value)) return std::nullopt;
        if (name == field) return AssignmentText(inner_value);
      }
      return std::nullopt;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

RequestFields::RequestFields(const FeatureEncoder& encoder, const std::vector<std::string>& names)
    : size_(names.size()), feature_slot_(encoder.size(), -1) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "score") continue;  // the model's, filled by the scorer
    const int feature = encoder.Find(names[i]);
    if (feature >= 0)
      feature_slot_[static_cast<size_t>(feature)] = static_cast<int>(i);
    else
      others_.emplace_back(names[i], static_cast<int>(i));
  }
}

int RequestFields::SlotOfOther(std::string_view name) const {
  for (const auto& [other, slot] : others_) {
    if (other == name) return slot;
  }
  return -1;
}

bool FindJsonSyntaxError(std::string_view text, size_t* offset, std::string* message) {
  // nlohmann's SAX parser (no document built, no recursion) reports the byte position.
  struct Sax : nlohmann::json::json_sax_t {
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string&,
                     const nlohmann::json::exception& e) override {
      failed = true;
      at = position;
      what = e.what();
      return false;
    }
    bool failed = false;
    size_t at = 0;
    std::string what;
  } sax;
  nlohmann::json::sax_parse(text.begin(), text.end(), &sax, nlohmann::json::input_format_t::json,
                            true);
  if (!sax.failed) return false;
  *offset = sax.at;
  // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." -> after
  // the first ": "
  std::string what = sax.what;
  size_t colon = what.find(": ");
  *message = colon == std::string::npos ? what : what.substr(colon + 2);
  return true;
}

bool ParsePredictBody(std::string& body, std::string_view content_type,
                      const FeatureEncoder& encoder, size_t max_rows, ParsedRows* out,
                      RequestError* error, std::string_view passthrough_field,
                      const RequestFields* fields) {
  *out = ParsedRows();
  std::string_view media = Trim(content_type.substr(0, content_type.find(';')));
  if (media == "text/csv" || media == "application/csv")
    return ParseCsv(body, encoder, max_rows, passthrough_field, fields, out, error);
  const FieldSink sink{fields, out};
  if (Trim(body).empty())
    return BadBody(error, "the request body is empty; send a JSON object of features");
  dom::element root;
  if (auto code = ParseJson(body, &root)) return MalformedJson(body, code, error);
  dom::object object;
  if (root.get(object)) {
    return BadBody(error,
                   std::string("the body is a JSON ") + JsonTypeName(root.type()) +
                       "; send an object of features, or {\"instances\": [...]} for a batch");
  }
  const size_t width = encoder.size();
  FeatureProblems problems(encoder);
  dom::element instances;
  if (object.size() == 1 && !object["instances"].get(instances) && encoder.Find("instances") < 0) {
    dom::array list;
    if (instances.get(list))
      return BadBody(error, "\"instances\" must be an array of transactions");
    if (list.size() == 0)
      return BadBody(error, "\"instances\" is empty; send at least one transaction");
    if (list.size() > max_rows) return TooManyRows(list.size(), max_rows, error);
    out->rows = list.size();
    out->batch = true;
    out->values.assign(out->rows * width, std::nan(""));
    sink.Start(out->rows);
    size_t row = 0;
    for (dom::element item : list) {
      double* values = out->values.data() + row * width;
      dom::object item_object;
      dom::array item_array;
      if (!item.get(item_object)) {
        EncodeObject(encoder, item_object, row, values, problems, passthrough_field, sink);
      } else if (!item.get(item_array)) {
        if (!EncodeArrayRow(encoder, item_array, row, values, problems, error, sink)) return false;
      } else {
        return BadBody(error, "instance " + std::to_string(row) + " is a " +
                                  JsonTypeName(item.type()) +
                                  "; each instance is an object of features or an array of values");
      }
      ++row;
    }
  } else {
    out->rows = 1;
    out->values.assign(width, std::nan(""));
    sink.Start(1);
    EncodeObject(encoder, object, 0, out->values.data(), problems, passthrough_field, sink);
  }
  if (problems.any()) return problems.Report(error);
  return DeriveRows(encoder, out);
}

namespace {

/// Appends the values of a (possibly nested) JSON array, depth-first.
bool Flatten(dom::element element, std::vector<dom::element>& out, size_t limit, int depth = 0) {
  dom::array array;
  if (element.get(array)) {
    out.push_back(element);
    return out.size() <= limit;
  }
  if (depth > 8) return false;
  for (dom::element child : array) {
    if (!Flatten(child, out, limit, depth + 1)) return false;
  }
  return true;
}

bool ShapeOf(dom::object tensor, std::vector<int64_t>* shape) {
  dom::array dims;
  if (tensor["shape"].get(dims)) return false;
  for (dom::element d : dims) {
    int64_t v = 0;
    if (d.get(v) || v < 0) return false;
    shape->push_back(v);
  }
  return true;
}

}  // namespace

bool ParseInferBody(std::string& body, const FeatureEncoder& encoder, size_t max_rows,
                    ParsedRows* out, RequestError* error, const RequestFields* fields) {
  *out = ParsedRows();
  const FieldSink sink{fields, out};
  out->batch = true;
  if (Trim(body).empty())
    return BadBody(error, "the request body is empty; send an inference request");
  dom::element root;
  if (auto code = ParseJson(body, &root)) return MalformedJson(body, code, error);
  dom::object request;
  if (root.get(request))
    return BadBody(error, "an inference request is a JSON object with \"inputs\"");
  std::string_view id;
  if (!request["id"].get(id)) out->id = std::string(id);
  dom::array inputs;
  if (request["inputs"].get(inputs) || inputs.size() == 0) {
    return BadBody(error,
                   "\"inputs\" must be a non-empty array of tensors ({\"name\", \"shape\", "
                   "\"datatype\", \"data\"})");
  }
  const size_t width = encoder.size();
  const size_t inputs_width = encoder.input_size();  // what clients send
  FeatureProblems problems(encoder);
  const size_t value_limit = (max_rows + 1) * std::max<size_t>(inputs_width, 1);
  std::vector<dom::element> values;
  // One [N, F] tensor whose name is not a feature: rows in signature order.
  if (inputs.size() == 1) {
    dom::object tensor;
    std::string_view name;
    if (inputs.at(0).get(tensor) || tensor["name"].get(name))
      return BadBody(error, "inputs[0] needs a \"name\"");
    if (encoder.Find(name) < 0 || inputs_width == 1) {
      std::vector<int64_t> shape;
      if (!ShapeOf(tensor, &shape) || shape.empty() || shape.size() > 2) {
        return BadBody(error, "inputs[0].shape must be [N, " + std::to_string(inputs_width) +
                                  "] (or [" + std::to_string(inputs_width) + "] for one row)");
      }
      const int64_t rows = shape.size() == 2 ? shape[0] : 1;
      const int64_t columns = shape.back();
      if (columns != static_cast<int64_t>(inputs_width)) {
        return BadBody(error, "inputs[0].shape says " + std::to_string(columns) +
                                  " features per row; the model takes " +
                                  std::to_string(inputs_width) +
                                  " (GET /v2/models/{model} lists them)");
      }
      if (rows == 0) return BadBody(error, "inputs[0] has no rows");
      if (static_cast<size_t>(rows) > max_rows)
        return TooManyRows(static_cast<size_t>(rows), max_rows, error);
      dom::element data;
      if (tensor["data"].get(data) || !Flatten(data, values, value_limit)) {
        return BadBody(error, "inputs[0].data must be an array of " +
                                  std::to_string(rows * columns) + " values");
      }
      if (values.size() != static_cast<size_t>(rows * columns)) {
        return BadBody(error, "inputs[0].data has " + std::to_string(values.size()) +
                                  " values; shape " + std::to_string(rows) + " x " +
                                  std::to_string(columns) + " needs " +
                                  std::to_string(rows * columns));
      }
      out->rows = static_cast<size_t>(rows);
      out->values.assign(out->rows * width, std::nan(""));
      sink.Start(out->rows);
      for (size_t r = 0; r < out->rows; ++r) {
        for (size_t f = 0; f < inputs_width; ++f) {
          const dom::element value = values[r * inputs_width + f];
          out->values[r * width + f] = EncodeElement(encoder, f, value, r, problems);
          sink.Feature(r, f, value);
        }
      }
      if (problems.any()) return problems.Report(error);
      return DeriveRows(encoder, out);
    }
  }
  // One tensor per feature, named after it, each of shape [N] or [N, 1].
  size_t rows = 0;
  size_t index = 0;
  std::vector<std::vector<dom::element>> columns(width);
  std::vector<std::pair<int, std::vector<dom::element>>> others;  // policy fields' tensors
  problems.StartRow();
  for (dom::element input : inputs) {
    dom::object tensor;
    std::string_view name;
    const std::string where = "inputs[" + std::to_string(index++) + "]";
    if (input.get(tensor) || tensor["name"].get(name))
      return BadBody(error, where + " needs a \"name\"");
    int feature = encoder.Find(name);
    const int other_slot = feature < 0 && fields ? fields->SlotOfOther(name) : -1;
    if (feature < 0 && other_slot < 0) {
      problems.Extra(name, 0);
      continue;
    }
    if (feature >= 0 && !problems.MarkSeen(static_cast<size_t>(feature))) {
      problems.Duplicate(static_cast<size_t>(feature), 0);
      continue;
    }
    std::vector<int64_t> shape;
    if (!ShapeOf(tensor, &shape) || shape.empty() || shape.size() > 2 ||
        (shape.size() == 2 && shape[1] != 1)) {
      return BadBody(error, where + " (" + std::string(name) + "): shape must be [N] or [N, 1]");
    }
    if (index == 1 || rows == 0) rows = static_cast<size_t>(shape[0]);
    if (static_cast<size_t>(shape[0]) != rows) {
      return BadBody(error, where + " (" + std::string(name) + ") has " + std::to_string(shape[0]) +
                                " rows; the first tensor has " + std::to_string(rows));
    }
    if (rows > max_rows) return TooManyRows(rows, max_rows, error);
    dom::element data;
    if (feature < 0) others.emplace_back(other_slot, std::vector<dom::element>());
    auto& column = feature < 0 ? others.back().second : columns[static_cast<size_t>(feature)];
    if (tensor["data"].get(data) || !Flatten(data, column, rows + 1) || column.size() != rows) {
      return BadBody(error, where + " (" + std::string(name) + "): data must hold " +
                                std::to_string(rows) + " values");
    }
  }
  problems.EndRow(0);
  if (problems.any()) return problems.Report(error);
  if (rows == 0) return BadBody(error, "the tensors have no rows");
  out->rows = rows;
  out->values.assign(rows * width, std::nan(""));
  sink.Start(rows);
  for (size_t f = 0; f < inputs_width; ++f) {
    for (size_t r = 0; r < rows; ++r) {
      out->values[r * width + f] = EncodeElement(encoder, f, columns[f][r], r, problems);
      sink.Feature(r, f, columns[f][r]);
    }
  }
  for (const auto& [slot, column] : others) {
    for (size_t r = 0; r < rows; ++r) *sink.Slot(r, slot) = InputOf(column[r]);
  }
  if (problems.any()) return problems.Report(error);
  return DeriveRows(encoder, out);
}

}  // namespace fraudops
