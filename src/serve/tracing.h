#pragma once
/// Distributed tracing of `fraudops serve` (docs/operations.md, "Tracing"): W3C Trace Context
/// in and out (`traceparent`, `tracestate`), a span for each request and for its steps (auth,
/// body parsing, feature enrichment, scoring, policy, capture, store calls), exported as
/// OTLP/HTTP JSON (`POST …/v1/traces`, ids in hex) in bounded batches by a background worker.
/// The request path only appends finished spans to a bounded queue: when the collector is
/// slow or down, spans are dropped and counted, never waited for.
///
/// Sampling: a request whose traceparent says "sampled" (or "not sampled") follows its parent
/// when parent_based; otherwise a trace is sampled when its id falls under sample_ratio
/// (decided from the trace id's bits, so every service that samples by ratio agrees).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/background_worker.h"
#include "core/http_client.h"
#include "core/logging.h"
#include "core/mutex.h"

namespace fraudops {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

/// What a `traceparent` header carries.
struct TraceParent {
  TraceId trace_id{};
  SpanId parent_id{};
  bool sampled = false;
};

/// Parses a traceparent header (version 00; a higher version is read for its first four
/// fields, as the specification asks); nullopt when malformed, version ff, or an id is zero.
std::optional<TraceParent> ParseTraceParent(std::string_view header);
/// "00-<trace id>-<span id>-<01|00>".
std::string FormatTraceParent(const TraceId& trace_id, const SpanId& span_id, bool sampled);
/// Lowercase hex of `bytes`.
std::string HexId(const uint8_t* bytes, size_t size);
template <size_t N>
std::string HexId(const std::array<uint8_t, N>& id) {
  return HexId(id.data(), N);
}

/// One finished span.
struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_id{};  ///< all zero: a root span
  std::string name;
  int kind = 1;  ///< OTLP SpanKind: 1 internal, 2 server, 3 client
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  /// Keys are string literals (static storage): no allocation per key.
  std::vector<std::pair<std::string_view, std::string>> attributes;
  bool error = false;  ///< OTLP status code 2 (error), else 0 (unset)
};

/// The OTLP/HTTP JSON body of `spans` (ExportTraceServiceRequest), with the resource's
/// service.name and the scope fraudops at `version`.
std::string EncodeOtlpJson(const std::vector<Span>& spans, std::string_view service_name,
                           std::string_view version);

struct TracingOptions {
  std::string url;  ///< the collector's traces endpoint; empty: tracing off
  double sample_ratio = 1.0;
  bool parent_based = true;
  std::string service_name = "fraudops";
  size_t batch_spans = 512;
  size_t queue_spans = 8192;
  std::chrono::milliseconds flush_interval{1000};
  double timeout_seconds = 2;
  Logger* logger = nullptr;
};

class Tracer {
 public:
  explicit Tracer(TracingOptions options);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  bool enabled() const { return !options_.url.empty(); }
  /// The trace a request joins (its traceparent, when valid) or starts, and whether it is
  /// sampled.
  struct Decision {
    TraceId trace_id{};
    SpanId parent_id{};  ///< zero: the request started the trace
    bool sampled = false;
  };
  Decision Decide(std::string_view traceparent) const;
  /// Queues finished spans for export; drops them (counted) when the queue is full.
  void Submit(std::vector<Span>& spans) EXCLUDES(mutex_);
  /// Exports what is queued, then stops exporting (shutdown); idempotent.
  void Stop();

  uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t failed_exports() const { return failed_exports_.load(std::memory_order_relaxed); }

  static SpanId NewSpanId();
  static TraceId NewTraceId();

 private:
  BackgroundWorker::Duration Pass() EXCLUDES(mutex_);

  TracingOptions options_;
  HttpSession http_;  ///< the worker's
  Mutex mutex_;
  std::vector<Span> queue_ GUARDED_BY(mutex_);
  std::atomic<uint64_t> exported_{0}, dropped_{0}, failed_exports_{0};
  BackgroundWorker worker_;
};

/// The spans of one request, on the thread that serves it. A request's steps open
/// ScopedSpans under the server span; the trace id is set on the thread's log lines while
/// the request runs.
class RequestTrace {
 public:
  /// `tracer` null or disabled: still parses and answers traceparent (a trace id for the
  /// logs), records nothing.
  RequestTrace(Tracer* tracer, std::string_view traceparent, std::string name);
  ~RequestTrace();
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;

  /// The traceparent header of the response: this request's span in its trace.
  std::string ResponseTraceParent() const;
  std::string trace_id_hex() const { return HexId(decision_.trace_id); }
  bool sampled() const { return decision_.sampled && tracer_ != nullptr; }
  /// `key`: a string literal.
  void SetAttribute(std::string_view key, std::string value);
  void SetError() { error_ = true; }
  /// Renames the server span (the route, once it is known).
  void SetName(std::string name) { server_.name = std::move(name); }

  /// The request being served on this thread (null: none).
  static RequestTrace* Current();

  /// A child span of the current request's server span from construction to destruction;
  /// nothing when the request is not sampled.
  class ScopedSpan {
   public:
    explicit ScopedSpan(const char* name, int kind = 1);
    ~ScopedSpan();
    ScopedSpan(const ScopedSpan&) = delete;
    ScopedSpan& operator=(const ScopedSpan&) = delete;
    void SetAttribute(std::string_view key, std::string value);  ///< `key`: a literal
    void SetError();

   private:
    RequestTrace* trace_;
    size_t index_ = 0;
  };

 private:
  Tracer* tracer_;
  Tracer::Decision decision_;
  Span server_;
  std::vector<Span> children_;
  bool error_ = false;
  RequestTrace* previous_;
};

}  // namespace fraudops
