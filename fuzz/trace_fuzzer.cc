// Fuzzes distributed tracing (serve/tracing.h): the traceparent header parser (untrusted:
// every request may carry one) and the OTLP encodings of a request's record built from the
// input (names and attribute values of any length and content, more spans and attributes
// than fit). A parsed header must read back the same from its formatted form; the JSON body must
// parse and hold every recorded span; the protobuf body must not be empty.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "serve/tracing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fraudops::TraceRecord;
  std::string text(reinterpret_cast<const char*>(data), size);
  if (auto parent = fraudops::ParseTraceParent(text)) {
    const std::string formatted =
        fraudops::FormatTraceParent(parent->trace_id, parent->parent_id, parent->sampled);
    auto again = fraudops::ParseTraceParent(formatted);
    if (!again || again->trace_id != parent->trace_id || again->parent_id != parent->parent_id ||
        again->sampled != parent->sampled) {
      __builtin_trap();
    }
  }
  // Names and values reach the encoder from validated sources (routes, endpoint names, model
  // references, HTTP methods): ASCII. Other bytes are mapped to '?' here.
  for (char& c : text)
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  TraceRecord record;
  record.trace_id[0] = 1;
  size_t at = 0;
  while (at < text.size()) {
    const size_t length = static_cast<unsigned char>(text[at]) % 64;
    const std::string_view piece = std::string_view(text).substr(at + 1, length);
    at += 1 + length;
    switch (piece.size() % 4) {
      case 0:
        record.AddSpan(piece, record.span_count > 0 ? 0 : TraceRecord::kRemoteParent, 1, at);
        break;
      case 1:
        record.AddAttribute(record.span_count > 0 ? record.span_count - 1 : 0, "k", piece);
        break;
      case 2:
        record.AddAttribute(0, "n", static_cast<int64_t>(at) - 1000);
        break;
      default:
        if (record.span_count > 0) record.SetName(0, piece);
        break;
    }
  }
  // The queue's copy (the used part) reads back as the same record.
  std::string queued;
  record.AppendTo(queued);
  TraceRecord read;
  if (read.ReadFrom(queued) != queued.size()) __builtin_trap();
  std::string again;
  read.AppendTo(again);
  if (again != queued) __builtin_trap();
  std::string json_buffer, protobuf_buffer;
  const auto json = fraudops::EncodeOtlpJson(queued, "fuzz", "1", json_buffer);
  const auto protobuf = fraudops::EncodeOtlpProtobuf(queued, "fuzz", "1", protobuf_buffer);
  const auto parsed = nlohmann::json::parse(json.body, nullptr, false);
  if (parsed.is_discarded()) __builtin_trap();
  if (parsed["resourceSpans"][0]["scopeSpans"][0]["spans"].size() != record.span_count)
    __builtin_trap();
  if (json.queued_bytes != queued.size() || protobuf.queued_bytes != queued.size() ||
      protobuf.spans != record.span_count || protobuf.body.empty()) {
    __builtin_trap();
  }
  return 0;
}
