#include "serve/tracing.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <random>
#include <type_traits>

#include "core/http_client.h"
#include "core/strings.h"
#include "core/version.h"

namespace fraudops {

namespace {

thread_local RequestTrace* current_trace = nullptr;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // the specification allows lowercase only
}

/// Reads `2 * size` lowercase hex digits into `out`; false when any is not one.
bool ReadHex(std::string_view text, uint8_t* out, size_t size) {
  if (text.size() != 2 * size) return false;
  for (size_t i = 0; i < size; ++i) {
    const int high = HexDigit(text[2 * i]), low = HexDigit(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return true;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& id) {
  return std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; });
}

uint64_t UnixNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::mt19937_64& Random() {
  thread_local std::mt19937_64 generator([] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }());
  return generator;
}

/// Writes the lowercase hex of `bytes` to `text` (2 * size characters).
std::string_view HexTo(char* text, const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    text[2 * i] = kDigits[bytes[i] >> 4];
    text[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return {text, 2 * size};
}

void AppendHex(std::string& out, const uint8_t* bytes, size_t size) {
  char text[32];
  out.append(HexTo(text, bytes, size));
}

void AppendUint(std::string& out, uint64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void AppendJsonAttribute(std::string& out, std::string_view key, std::string_view value) {
  out += "{\"key\":\"";
  AppendJsonEscaped(out, key);
  out += "\",\"value\":{\"stringValue\":\"";
  AppendJsonEscaped(out, value);
  out += "\"}}";
}

void AppendJsonAttribute(std::string& out, std::string_view key, int64_t value) {
  out += "{\"key\":\"";
  AppendJsonEscaped(out, key);
  out += "\",\"value\":{\"intValue\":\"";  // int64 as a string (protobuf's JSON mapping)
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
  out += "\"}}";
}

// Protobuf wire format (the OTLP protos): varints, fixed64 and length-delimited fields.
void PutVarint(std::string& out, uint64_t value) {
  if (value < 0x80) {  // tags, kinds, short lengths
    out += static_cast<char>(value);
    return;
  }
  char bytes[10];
  size_t n = 0;
  while (value >= 0x80) {
    bytes[n++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  bytes[n++] = static_cast<char>(value);
  out.append(bytes, n);
}
void PutTag(std::string& out, uint32_t field, uint32_t wire_type) {
  PutVarint(out, (field << 3) | wire_type);
}
void PutBytes(std::string& out, uint32_t field, std::string_view bytes) {
  PutTag(out, field, 2);
  PutVarint(out, bytes.size());
  out.append(bytes);
}
void PutFixed64(std::string& out, uint32_t field, uint64_t value) {
  PutTag(out, field, 1);
  char bytes[8];
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  out.append(bytes, 8);
}
template <size_t N>
std::string_view Bytes(const std::array<uint8_t, N>& id) {
  return {reinterpret_cast<const char*>(id.data()), N};
}
/// A KeyValue (key 1, AnyValue 2: string_value 1 or int_value 3) as field `field` of `out`.
void PutKeyValue(std::string& out, uint32_t field, std::string_view key, bool is_int,
                 int64_t int_value, std::string_view string_value, std::string& scratch) {
  std::string value;
  if (is_int) {
    PutTag(value, 3, 0);
    PutVarint(value, static_cast<uint64_t>(int_value));
  } else {
    PutBytes(value, 1, string_value);
  }
  scratch.clear();
  PutBytes(scratch, 1, key);
  PutBytes(scratch, 2, value);
  PutBytes(out, field, scratch);
}

}  // namespace

std::string HexId(const uint8_t* bytes, size_t size) {
  std::string out(2 * size, '0');
  HexTo(out.data(), bytes, size);
  return out;
}

std::optional<TraceParent> ParseTraceParent(std::string_view header) {
  header = Trim(header);
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters;
  // a future version may append "-…" fields.
  if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') {
    return std::nullopt;
  }
  uint8_t version = 0, flags = 0;
  if (!ReadHex(header.substr(0, 2), &version, 1) || version == 0xff) return std::nullopt;
  if (version == 0 && header.size() != 55) return std::nullopt;
  if (version != 0 && header.size() > 55 && header[55] != '-') return std::nullopt;
  TraceParent parent;
  if (!ReadHex(header.substr(3, 32), parent.trace_id.data(), 16) ||
      !ReadHex(header.substr(36, 16), parent.parent_id.data(), 8) ||
      !ReadHex(header.substr(53, 2), &flags, 1)) {
    return std::nullopt;
  }
  if (AllZero(parent.trace_id) || AllZero(parent.parent_id)) return std::nullopt;
  parent.sampled = (flags & 1) != 0;
  return parent;
}

std::string FormatTraceParent(const TraceId& trace_id, const SpanId& span_id, bool sampled) {
  return "00-" + HexId(trace_id) + "-" + HexId(span_id) + (sampled ? "-01" : "-00");
}

void EncodeOtlpJson(std::span<const TraceRecord> records, std::string_view service_name,
                    std::string_view version, std::string& out) {
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  AppendJsonAttribute(out, "service.name", service_name);
  out += ",";
  AppendJsonAttribute(out, "service.version", version);
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"fraudops\",\"version\":\"";
  AppendJsonEscaped(out, version);
  out += "\"},\"spans\":[";
  bool first = true;
  char trace_text[32];
  for (const TraceRecord& record : records) {
    std::string_view trace_hex = HexTo(trace_text, record.trace_id.data(), 16);
    for (size_t i = 0; i < record.span_count; ++i) {
      const TraceRecord::SpanEntry& span = record.spans[i];
      if (!first) out += ',';
      first = false;
      out += "{\"traceId\":\"";
      out += trace_hex;
      out += "\",\"spanId\":\"";
      AppendHex(out, span.span_id.data(), 8);
      out += '"';
      if (const SpanId& parent = record.ParentOf(span); !AllZero(parent)) {
        out += ",\"parentSpanId\":\"";
        AppendHex(out, parent.data(), 8);
        out += '"';
      }
      out += ",\"name\":\"";
      AppendJsonEscaped(out, record.Text(span.name_offset, span.name_size));
      out += "\",\"kind\":";
      AppendUint(out, span.kind);
      out += ",\"startTimeUnixNano\":\"";
      AppendUint(out, span.start_unix_ns);
      out += "\",\"endTimeUnixNano\":\"";
      AppendUint(out, span.end_unix_ns);
      out += '"';
      bool attributes = false;
      for (size_t a = 0; a < record.attribute_count; ++a) {
        const TraceRecord::Attribute& attribute = record.attributes[a];
        if (attribute.span != i) continue;
        out += attributes ? "," : ",\"attributes\":[";
        attributes = true;
        if (attribute.is_int) {
          AppendJsonAttribute(out, attribute.key, attribute.int_value);
        } else {
          AppendJsonAttribute(out, attribute.key, record.Text(attribute.offset, attribute.size));
        }
      }
      if (attributes) out += ']';
      // The status is left out when unset (code 0), as protobuf's JSON mapping does.
      out += span.error ? ",\"status\":{\"code\":2}}" : "}";
    }
  }
  out += "]}]}]}";
}

void EncodeOtlpProtobuf(std::span<const TraceRecord> records, std::string_view service_name,
                        std::string_view version, std::string& out) {
  std::string spans, span, scratch, status;
  for (const TraceRecord& record : records) {
    for (size_t i = 0; i < record.span_count; ++i) {
      const TraceRecord::SpanEntry& entry = record.spans[i];
      span.clear();
      PutBytes(span, 1, Bytes(record.trace_id));
      PutBytes(span, 2, Bytes(entry.span_id));
      if (const SpanId& parent = record.ParentOf(entry); !AllZero(parent))
        PutBytes(span, 4, Bytes(parent));
      PutBytes(span, 5, record.Text(entry.name_offset, entry.name_size));
      PutTag(span, 6, 0);
      PutVarint(span, entry.kind);
      PutFixed64(span, 7, entry.start_unix_ns);
      PutFixed64(span, 8, entry.end_unix_ns);
      for (size_t a = 0; a < record.attribute_count; ++a) {
        const TraceRecord::Attribute& attribute = record.attributes[a];
        if (attribute.span != i) continue;
        PutKeyValue(span, 9, attribute.key, attribute.is_int, attribute.int_value,
                    record.Text(attribute.offset, attribute.size), scratch);
      }
      if (entry.error) {
        status.clear();
        PutTag(status, 3, 0);  // Status.code
        PutVarint(status, 2);  // STATUS_CODE_ERROR
        PutBytes(span, 15, status);
      }
      PutBytes(spans, 2, span);  // ScopeSpans.spans
    }
  }
  std::string scope, scope_spans, resource, resource_spans;
  PutBytes(scope, 1, "fraudops");
  PutBytes(scope, 2, version);
  PutBytes(scope_spans, 1, scope);
  scope_spans += spans;
  PutKeyValue(resource, 1, "service.name", false, 0, service_name, scratch);
  PutKeyValue(resource, 1, "service.version", false, 0, version, scratch);
  PutBytes(resource_spans, 1, resource);
  PutBytes(resource_spans, 2, scope_spans);
  PutBytes(out, 1, resource_spans);  // ExportTraceServiceRequest.resource_spans
}

// ---------------------------------------------------------------------------------------

bool TraceRecord::Store(std::string_view value, uint16_t& offset, uint16_t& size) {
  if (value.size() > kTextBytes - text_size) {
    ++overflow;
    return false;
  }
  if (!value.empty()) std::memcpy(text.data() + text_size, value.data(), value.size());
  offset = text_size;
  size = static_cast<uint16_t>(value.size());
  text_size = static_cast<uint16_t>(text_size + value.size());
  return true;
}

// A record's fixed head (ids, counts) is its first bytes, up to `spans`.
static_assert(std::is_standard_layout_v<TraceRecord> && std::is_trivially_copyable_v<TraceRecord>);
constexpr size_t kRecordHead = offsetof(TraceRecord, spans);

void TraceRecord::AppendTo(std::string& out) const {
  out.append(reinterpret_cast<const char*>(this), kRecordHead);
  out.append(reinterpret_cast<const char*>(spans.data()), span_count * sizeof(SpanEntry));
  out.append(reinterpret_cast<const char*>(attributes.data()), attribute_count * sizeof(Attribute));
  out.append(text.data(), text_size);
}

size_t TraceRecord::ReadFrom(std::string_view in) {
  std::memcpy(static_cast<void*>(this), in.data(), kRecordHead);
  const size_t span_bytes = span_count * sizeof(SpanEntry);
  const size_t attribute_bytes = attribute_count * sizeof(Attribute);
  assert(kRecordHead + span_bytes + attribute_bytes + text_size <= in.size());
  const char* at = in.data() + kRecordHead;
  std::memcpy(static_cast<void*>(spans.data()), at, span_bytes);
  std::memcpy(static_cast<void*>(attributes.data()), at += span_bytes, attribute_bytes);
  std::memcpy(text.data(), at += attribute_bytes, text_size);
  return kRecordHead + span_bytes + attribute_bytes + text_size;
}

size_t TraceRecord::AddSpan(std::string_view name, uint8_t parent, int kind,
                            uint64_t start_unix_ns) {
  if (span_count == kMaxSpans) {
    ++overflow;
    return kMaxSpans;
  }
  SpanEntry& span = spans[span_count];
  span.span_id = Tracer::NewSpanId();
  span.parent = parent;
  span.kind = static_cast<uint8_t>(kind);
  span.error = false;
  span.name_offset = span.name_size = 0;
  Store(name, span.name_offset, span.name_size);
  span.start_unix_ns = span.end_unix_ns = start_unix_ns;
  return span_count++;
}

void TraceRecord::SetName(size_t span, std::string_view name) {
  Store(name, spans[span].name_offset, spans[span].name_size);
}

void TraceRecord::AddAttribute(size_t span, const char* key, std::string_view value) {
  if (attribute_count == kMaxAttributes) {
    ++overflow;
    return;
  }
  Attribute& attribute = attributes[attribute_count];
  if (!Store(value, attribute.offset, attribute.size)) return;
  attribute.key = key;
  attribute.span = static_cast<uint8_t>(span);
  attribute.is_int = false;
  ++attribute_count;
}

void TraceRecord::AddAttribute(size_t span, const char* key, int64_t value) {
  if (attribute_count == kMaxAttributes) {
    ++overflow;
    return;
  }
  Attribute& attribute = attributes[attribute_count++];
  attribute.key = key;
  attribute.span = static_cast<uint8_t>(span);
  attribute.is_int = true;
  attribute.int_value = value;
  attribute.offset = attribute.size = 0;
}

// ---------------------------------------------------------------------------------------

Tracer::Tracer(TracingOptions options)
    : options_(std::move(options)),
      headers_({options_.protobuf ? "Content-Type: application/x-protobuf"
                                  : "Content-Type: application/json"}),
      worker_({.name = "tracing",
               .logger = options_.logger,
               .final_pass = true,
               .first_delay = options_.flush_interval,
               .on_stop = {}},
              [this] { return Pass(); }) {
  if (enabled()) worker_.Start();
}

Tracer::~Tracer() { worker_.Stop(); }

SpanId Tracer::NewSpanId() {
  SpanId id{};
  while (AllZero(id)) {
    const uint64_t bits = Random()();
    for (size_t i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(bits >> (8 * i));
  }
  return id;
}

TraceId Tracer::NewTraceId() {
  TraceId id{};
  while (AllZero(id)) {
    for (size_t half = 0; half < 2; ++half) {
      const uint64_t bits = Random()();
      for (size_t i = 0; i < 8; ++i) id[8 * half + i] = static_cast<uint8_t>(bits >> (8 * i));
    }
  }
  return id;
}

Tracer::Decision Tracer::Decide(const Tracer* tracer, std::string_view traceparent) {
  Decision decision;
  std::optional<TraceParent> parent;
  if (!traceparent.empty()) parent = ParseTraceParent(traceparent);
  if (parent) {
    decision.trace_id = parent->trace_id;
    decision.parent_id = parent->parent_id;
  } else {
    decision.trace_id = NewTraceId();
  }
  if (tracer == nullptr || !tracer->enabled()) {
    decision.sampled = parent && parent->sampled;  // not recorded here; passed on
    return decision;
  }
  const TracingOptions& options = tracer->options_;
  if (parent && options.parent_based) {
    decision.sampled = parent->sampled;
  } else {
    // The trace id's last 8 bytes as a number below 2^64 * ratio.
    uint64_t low = 0;
    for (size_t i = 8; i < 16; ++i) low = (low << 8) | decision.trace_id[i];
    decision.sampled = options.sample_ratio >= 1.0 ||
                       static_cast<double>(low) < options.sample_ratio * 18446744073709551616.0;
  }
  return decision;
}

void Tracer::Submit(const TraceRecord& record) {
  bool full_batch = false;
  {
    MutexLock lock(&mutex_);
    if (queued_spans_ + record.span_count > options_.queue_spans) {
      dropped_.fetch_add(record.span_count, std::memory_order_relaxed);
      return;
    }
    record.AppendTo(queue_);
    // Wake the exporter once, when a batch fills (not on every later request).
    full_batch = queued_spans_ < options_.batch_spans &&
                 queued_spans_ + record.span_count >= options_.batch_spans;
    queued_spans_ += record.span_count;
  }
  if (full_batch) worker_.Wake();
}

void Tracer::Stop() { worker_.Stop(); }  // its final pass exports what is queued

BackgroundWorker::Duration Tracer::Pass() {
  {
    MutexLock lock(&mutex_);  // everything queued, at once: the request path is not held up
    taken_bytes_.swap(queue_);
    queued_spans_ = 0;
  }
  for (std::string_view rest = taken_bytes_; !rest.empty();) {
    rest.remove_prefix(taken_.emplace_back().ReadFrom(rest));
  }
  taken_bytes_.clear();
  size_t from = 0;
  while (from < taken_.size()) {
    // A batch: whole requests up to batch_spans spans (at least one request).
    const size_t first = from;
    size_t spans = 0;
    while (from < taken_.size() &&
           (from == first || spans + taken_[from].span_count <= options_.batch_spans)) {
      spans += taken_[from++].span_count;
    }
    const std::span<const TraceRecord> batch(taken_.data() + first, from - first);
    body_.clear();
    if (options_.protobuf) {
      EncodeOtlpProtobuf(batch, options_.service_name, CodeVersion(), body_);
    } else {
      EncodeOtlpJson(batch, options_.service_name, CodeVersion(), body_);
    }
    auto reply = http_.Call("POST", options_.url, headers_, body_, options_.timeout_seconds);
    if (reply.ok() && reply->status >= 200 && reply->status < 300) {
      exported_.fetch_add(spans, std::memory_order_relaxed);
      continue;
    }
    // Not retried: the next spans are newer, and a collector that is down would only fill
    // the queue. This batch and the rest of the pass are dropped, counted, and logged once.
    size_t lost = spans;
    for (size_t i = from; i < taken_.size(); ++i) lost += taken_[i].span_count;
    failed_exports_.fetch_add(1, std::memory_order_relaxed);
    dropped_.fetch_add(lost, std::memory_order_relaxed);
    if (options_.logger) {
      options_.logger->Warn("tracing", "spans not exported; dropped",
                            {{"collector", options_.url},
                             {"spans", lost},
                             {"error", reply.ok() ? "HTTP " + std::to_string(reply->status)
                                                  : reply.status().message()}});
    }
    break;
  }
  taken_.clear();
  return options_.flush_interval;
}

// ---------------------------------------------------------------------------------------

RequestTrace::RequestTrace(Tracer* tracer, std::string_view traceparent)
    : tracer_(tracer), decision_(Tracer::Decide(tracer, traceparent)), previous_(current_trace) {
  span_id_ = Tracer::NewSpanId();
  sampled_ = decision_.sampled && tracer_ != nullptr && tracer_->enabled();
  HexTo(trace_hex_.data(), decision_.trace_id.data(), 16);
  if (sampled_) {
    record_.emplace();
    record_->trace_id = decision_.trace_id;
    record_->remote_parent = decision_.parent_id;
    record_->AddSpan({}, TraceRecord::kRemoteParent, 2, UnixNanos());  // span 0: the server's
    record_->spans[0].span_id = span_id_;
  }
  current_trace = this;
  SetLogTraceId(trace_id_hex());
}

RequestTrace::~RequestTrace() {
  current_trace = previous_;
  SetLogTraceId(previous_ ? previous_->trace_id_hex() : std::string_view());
  if (!record_) return;
  record_->spans[0].end_unix_ns = UnixNanos();
  tracer_->Submit(*record_);
}

std::string RequestTrace::ResponseTraceParent() const {
  return FormatTraceParent(decision_.trace_id, span_id_, decision_.sampled);
}

void RequestTrace::SetName(std::string_view method, std::string_view route) {
  if (!record_) return;
  char name[256];
  const size_t method_size = std::min(method.size(), size_t{16});
  const size_t route_size = std::min(route.size(), sizeof name - method_size - 1);
  std::memcpy(name, method.data(), method_size);
  name[method_size] = ' ';
  std::memcpy(name + method_size + 1, route.data(), route_size);
  record_->SetName(0, {name, method_size + 1 + route_size});
}

void RequestTrace::SetAttribute(const char* key, std::string_view value) {
  if (record_) record_->AddAttribute(0, key, value);
}

void RequestTrace::SetAttribute(const char* key, int64_t value) {
  if (record_) record_->AddAttribute(0, key, value);
}

RequestTrace* RequestTrace::Current() { return current_trace; }

RequestTrace::ScopedSpan::ScopedSpan(std::string_view name, int kind) : trace_(current_trace) {
  if (trace_ == nullptr || !trace_->record_) {
    trace_ = nullptr;
    return;
  }
  index_ = trace_->record_->AddSpan(name, 0, kind, UnixNanos());
  if (index_ == TraceRecord::kMaxSpans) trace_ = nullptr;  // no room: not recorded
}

RequestTrace::ScopedSpan::~ScopedSpan() {
  if (trace_) trace_->record_->spans[index_].end_unix_ns = UnixNanos();
}

void RequestTrace::ScopedSpan::SetAttribute(const char* key, std::string_view value) {
  if (trace_) trace_->record_->AddAttribute(index_, key, value);
}

void RequestTrace::ScopedSpan::SetError() {
  if (trace_) trace_->record_->spans[index_].error = true;
}

}  // namespace fraudops
