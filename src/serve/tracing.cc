#include "serve/tracing.h"

#include <algorithm>
#include <charconv>
#include <random>

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

void AppendHex(std::string& out, const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
}

void AppendUint(std::string& out, uint64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

void AppendAttribute(std::string& out, std::string_view key, std::string_view value) {
  out += "{\"key\":\"";
  AppendJsonEscaped(out, key);
  out += "\",\"value\":{\"stringValue\":\"";
  AppendJsonEscaped(out, value);
  out += "\"}}";
}

}  // namespace

std::string HexId(const uint8_t* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * size, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
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

std::string EncodeOtlpJson(const std::vector<Span>& spans, std::string_view service_name,
                           std::string_view version) {
  std::string out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  AppendAttribute(out, "service.name", service_name);
  out += ",";
  AppendAttribute(out, "service.version", version);
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"fraudops\",\"version\":\"";
  AppendJsonEscaped(out, version);
  out += "\"},\"spans\":[";
  out.reserve(out.size() + spans.size() * 320);
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& s = spans[i];
    if (i > 0) out += ',';
    out += "{\"traceId\":\"";
    AppendHex(out, s.trace_id.data(), 16);
    out += "\",\"spanId\":\"";
    AppendHex(out, s.span_id.data(), 8);
    out += '"';
    if (!AllZero(s.parent_id)) {
      out += ",\"parentSpanId\":\"";
      AppendHex(out, s.parent_id.data(), 8);
      out += '"';
    }
    out += ",\"name\":\"";
    AppendJsonEscaped(out, s.name);
    out += "\",\"kind\":";
    AppendUint(out, static_cast<uint64_t>(s.kind));
    out += ",\"startTimeUnixNano\":\"";
    AppendUint(out, s.start_unix_ns);
    out += "\",\"endTimeUnixNano\":\"";
    AppendUint(out, s.end_unix_ns);
    out += "\",\"attributes\":[";
    for (size_t a = 0; a < s.attributes.size(); ++a) {
      if (a > 0) out += ',';
      AppendAttribute(out, s.attributes[a].first, s.attributes[a].second);
    }
    out += s.error ? "],\"status\":{\"code\":2}}" : "],\"status\":{\"code\":0}}";
  }
  out += "]}]}]}";
  return out;
}

// ---------------------------------------------------------------------------------------

Tracer::Tracer(TracingOptions options)
    : options_(std::move(options)),
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

Tracer::Decision Tracer::Decide(std::string_view traceparent) const {
  Decision decision;
  std::optional<TraceParent> parent;
  if (!traceparent.empty()) parent = ParseTraceParent(traceparent);
  if (parent) {
    decision.trace_id = parent->trace_id;
    decision.parent_id = parent->parent_id;
  } else {
    decision.trace_id = NewTraceId();
  }
  if (!enabled()) return decision;
  if (parent && options_.parent_based) {
    decision.sampled = parent->sampled;
  } else {
    // The trace id's last 8 bytes as a number below 2^64 * ratio.
    uint64_t low = 0;
    for (size_t i = 8; i < 16; ++i) low = (low << 8) | decision.trace_id[i];
    decision.sampled = options_.sample_ratio >= 1.0 ||
                       static_cast<double>(low) < options_.sample_ratio * 18446744073709551616.0;
  }
  return decision;
}

void Tracer::Submit(std::vector<Span>& spans) {
  bool full_batch = false;
  {
    MutexLock lock(&mutex_);
    const size_t room =
        options_.queue_spans > queue_.size() ? options_.queue_spans - queue_.size() : 0;
    const size_t taken = std::min(room, spans.size());
    const size_t before = queue_.size();
    for (size_t i = 0; i < taken; ++i) queue_.push_back(std::move(spans[i]));
    if (taken < spans.size()) dropped_.fetch_add(spans.size() - taken, std::memory_order_relaxed);
    // Wake the exporter once, when a batch fills (not on every later request).
    full_batch = before < options_.batch_spans && queue_.size() >= options_.batch_spans;
  }
  if (full_batch) worker_.Wake();
}

void Tracer::Stop() { worker_.Stop(); }  // its final pass exports what is queued

BackgroundWorker::Duration Tracer::Pass() {
  std::vector<Span> taken;  // everything queued, at once: the request path is not held up
  {
    MutexLock lock(&mutex_);
    taken.swap(queue_);
    queue_.reserve(std::min(options_.queue_spans, 2 * options_.batch_spans));
  }
  for (size_t from = 0; from < taken.size(); from += options_.batch_spans) {
    const size_t to = std::min(taken.size(), from + options_.batch_spans);
    std::vector<Span> batch(std::make_move_iterator(taken.begin() + static_cast<ptrdiff_t>(from)),
                            std::make_move_iterator(taken.begin() + static_cast<ptrdiff_t>(to)));
    auto reply = http_.Call("POST", options_.url, {"Content-Type: application/json"},
                            EncodeOtlpJson(batch, options_.service_name, CodeVersion()),
                            options_.timeout_seconds);
    if (reply.ok() && reply->status >= 200 && reply->status < 300) {
      exported_.fetch_add(batch.size(), std::memory_order_relaxed);
      continue;
    }
    // Not retried: the next spans are newer, and a collector that is down would only fill
    // the queue. This batch and the rest of the pass are dropped, counted, and logged once.
    failed_exports_.fetch_add(1, std::memory_order_relaxed);
    dropped_.fetch_add(taken.size() - from, std::memory_order_relaxed);
    if (options_.logger) {
      options_.logger->Warn("tracing", "spans not exported; dropped",
                            {{"collector", options_.url},
                             {"spans", taken.size() - from},
                             {"error", reply.ok() ? "HTTP " + std::to_string(reply->status)
                                                  : reply.status().message()}});
    }
    break;
  }
  return options_.flush_interval;
}

// ---------------------------------------------------------------------------------------

RequestTrace::RequestTrace(Tracer* tracer, std::string_view traceparent, std::string name)
    : tracer_(tracer && tracer->enabled() ? tracer : nullptr), previous_(current_trace) {
  if (tracer) {
    decision_ = tracer->Decide(traceparent);
  } else if (auto parent = ParseTraceParent(traceparent); parent && !traceparent.empty()) {
    decision_.trace_id = parent->trace_id;  // answered and logged; nothing recorded
    decision_.parent_id = parent->parent_id;
    decision_.sampled = parent->sampled;
  } else {
    decision_.trace_id = Tracer::NewTraceId();
  }
  server_.trace_id = decision_.trace_id;
  server_.span_id = Tracer::NewSpanId();
  server_.parent_id = decision_.parent_id;
  server_.name = std::move(name);
  server_.kind = 2;
  server_.start_unix_ns = UnixNanos();
  if (sampled()) children_.reserve(8);  // the steps of a request, without regrowing
  current_trace = this;
  SetLogTraceId(trace_id_hex());
}

RequestTrace::~RequestTrace() {
  current_trace = previous_;
  SetLogTraceId(previous_ ? previous_->trace_id_hex() : "");
  if (!sampled()) return;
  server_.end_unix_ns = UnixNanos();
  server_.error = error_;
  children_.push_back(std::move(server_));
  tracer_->Submit(children_);
}

std::string RequestTrace::ResponseTraceParent() const {
  return FormatTraceParent(decision_.trace_id, server_.span_id, decision_.sampled);
}

void RequestTrace::SetAttribute(std::string_view key, std::string value) {
  if (sampled()) server_.attributes.emplace_back(key, std::move(value));
}

RequestTrace* RequestTrace::Current() { return current_trace; }

RequestTrace::ScopedSpan::ScopedSpan(const char* name, int kind) : trace_(current_trace) {
  if (trace_ == nullptr || !trace_->sampled()) {
    trace_ = nullptr;
    return;
  }
  Span span;
  span.trace_id = trace_->server_.trace_id;
  span.span_id = Tracer::NewSpanId();
  span.parent_id = trace_->server_.span_id;
  span.name = name;
  span.kind = kind;
  span.start_unix_ns = UnixNanos();
  index_ = trace_->children_.size();
  trace_->children_.push_back(std::move(span));
}

RequestTrace::ScopedSpan::~ScopedSpan() {
  if (trace_) trace_->children_[index_].end_unix_ns = UnixNanos();
}

void RequestTrace::ScopedSpan::SetAttribute(std::string_view key, std::string value) {
  if (trace_) trace_->children_[index_].attributes.emplace_back(key, std::move(value));
}

void RequestTrace::ScopedSpan::SetError() {
  if (trace_) trace_->children_[index_].error = true;
}

}  // namespace fraudops
