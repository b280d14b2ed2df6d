#pragma once
/// Distributed tracing of `fraudops serve` (docs/operations.md, "Tracing"): W3C Trace Context
/// in and out (`traceparent`, `tracestate`), a span for each request and for its steps (auth,
/// body parsing, feature enrichment, scoring, policy, capture, store calls), exported as
/// OTLP/HTTP (`POST …/v1/traces`, JSON with ids in hex, or protobuf) in bounded batches by a
/// background worker. The request path records its spans into one fixed-size TraceRecord
/// (no allocation) and copies it into a bounded queue when it ends: when the collector is
/// slow or down, spans are dropped and counted, never waited for.
///
/// Sampling: a request whose traceparent says "sampled" (or "not sampled") follows its parent
/// when parent_based; otherwise a trace is sampled when its id falls under sample_ratio
/// (decided from the trace id's bits, so every service that samples by ratio agrees).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/background_worker.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "serve/http_connection.h"

namespace fraudops {

struct TracingConfig;

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
/// The wall clock (Unix nanoseconds) for span times, at a third of clock_gettime's cost where
/// the kernel keeps time by the TSC (x86-64 with an invariant, synchronized counter): each
/// thread reads the clock once every 100 ms and converts the ticks since at the rate it
/// measured over the interval before (so it follows the clock when it is slewed or stepped);
/// elsewhere, and for a thread's first 50 ms, the monotonic clock as TraceClockNanos(at) below.
uint64_t TraceClockNanos();
/// A reading of the monotonic clock (`std::chrono::steady_clock`, which the server reads for
/// its latency metrics) as wall-clock Unix nanoseconds: plus the wall clock's offset from it,
/// which each thread re-reads every 100 ms (both clocks are slewed alike, so the offset only
/// moves when the wall clock is stepped). A span can so take the readings a request already
/// makes instead of reading the clock again.
uint64_t TraceClockNanos(std::chrono::steady_clock::time_point at);
/// Lowercase hex of `bytes`.
std::string HexId(const uint8_t* bytes, size_t size);
template <size_t N>
std::string HexId(const std::array<uint8_t, N>& id) {
  return HexId(id.data(), N);
}

/// The spans of one request, as fixed-size records: span names and attribute values are
/// copied into `text`, attribute keys are string literals. What does not fit (more than
/// kMaxSpans spans, kMaxAttributes attributes or kTextBytes of text) is left out and counted
/// in `overflow`.
struct TraceRecord {
  static constexpr size_t kMaxSpans = 12, kMaxAttributes = 16, kTextBytes = 512;
  static constexpr uint8_t kRemoteParent = 0xff;  ///< the caller's span (or none)

  // Set whole by AddSpan and AddAttribute: a new record's slots are left unwritten (a
  // sampled request does not zero 1.4 KB it mostly does not use).
  struct SpanEntry {
    SpanId span_id;
    uint8_t parent;                   ///< index of the parent span in this record
    uint8_t kind;                     ///< OTLP SpanKind: 1 internal, 2 server, 3 client
    bool error;                       ///< OTLP status code 2 (error), else 0 (unset)
    uint16_t name_offset, name_size;  ///< in text
    uint64_t start_unix_ns, end_unix_ns;
  };
  struct Attribute {
    const char* key;  ///< a string literal's characters, key_size of them
    uint8_t span;
    bool is_int;
    uint8_t key_size;
    int64_t int_value;
    uint16_t offset, size;  ///< a string value, in text
    std::string_view Key() const { return {key, key_size}; }
  };

  TraceRecord() {}  // NOLINT(modernize-use-equals-default): `= default` would zero the slots

  TraceId trace_id{};
  SpanId remote_parent{};  ///< all zero: the trace started here
  uint8_t span_count = 0, attribute_count = 0;
  uint16_t text_size = 0;
  uint32_t overflow = 0;
  std::array<SpanEntry, kMaxSpans> spans;
  std::array<Attribute, kMaxAttributes> attributes;
  std::array<char, kTextBytes> text;

  /// A new span (its id drawn here); kMaxSpans when it does not fit.
  size_t AddSpan(std::string_view name, uint8_t parent, int kind, uint64_t start_unix_ns);
  void SetName(size_t span, std::string_view name);
  /// `key`: a string literal (kept as a pointer), at most 255 characters.
  void AddAttribute(size_t span, std::string_view key, std::string_view value);
  void AddAttribute(size_t span, std::string_view key, int64_t value);
  std::string_view Text(uint16_t offset, uint16_t size) const {
    return {text.data() + offset, size};
  }
  /// The parent span id of `span` (all zero: a root span).
  const SpanId& ParentOf(const SpanEntry& span) const {
    return span.parent == kRemoteParent ? remote_parent : spans[span.parent].span_id;
  }
  /// Appends the used part of this record to `out` (in-process only: attribute keys stay
  /// pointers): a request with four spans copies about 400 bytes, not the whole record. The
  /// exporter's queue and the encoders' input are records appended one after another.
  void AppendTo(std::string& out) const;
  /// Reads a record that AppendTo wrote at the start of `in`; the bytes it took.
  size_t ReadFrom(std::string_view in);

 private:
  /// The bytes AppendTo writes for this record.
  size_t QueuedSize() const;
  /// The next attribute slot with its key and span set (not yet counted); null (and counted)
  /// when every slot is taken.
  Attribute* NextAttribute(size_t span, std::string_view key);
  /// Copies `value` into text; false (and counted) when it does not fit.
  bool Store(std::string_view value, uint16_t& offset, uint16_t& size);
};

/// An OTLP/HTTP body the encoders made from the records at the start of a queue.
struct OtlpBatch {
  std::string_view body;    ///< in the encoder's buffer, until its next use
  size_t queued_bytes = 0;  ///< the records it holds: this many bytes of the queue
  size_t spans = 0;
};

/// The OTLP/HTTP body (ExportTraceServiceRequest) of the records at the start of `queued` (as
/// TraceRecord::AppendTo writes them, one after another): whole records while their spans
/// come to at most `max_spans` (at least one record), with the resource's service.name and
/// service.version and the scope fraudops at `version`. The JSON encoding (hex ids,
/// nanoseconds as strings) and the protobuf encoding (written in one pass over the queue).
/// `buffer` holds the body; reused from batch to batch, it keeps its memory.
OtlpBatch EncodeOtlpJson(std::string_view queued, std::string_view service_name,
                         std::string_view version, std::string& buffer,
                         size_t max_spans = SIZE_MAX);
OtlpBatch EncodeOtlpProtobuf(std::string_view queued, std::string_view service_name,
                             std::string_view version, std::string& buffer,
                             size_t max_spans = SIZE_MAX);

/// Spans a post by default, about 1 MB of body either way: a post's fixed cost (its wake-up,
/// system calls, the wait for the answer) is ~125 µs, so fewer, larger posts cost less CPU a
/// span (BENCHMARKS.md); collectors commonly accept several MB a request.
inline constexpr size_t kProtobufBatchSpans = 8192, kJsonBatchSpans = 2048;

struct TracingOptions {
  std::string url;       ///< the collector's traces endpoint; empty: tracing off
  bool protobuf = true;  ///< http/protobuf (OTLP's default) rather than http/json
  double sample_ratio = 1.0;
  bool parent_based = true;
  std::string service_name = "fraudops";
  size_t batch_spans = kProtobufBatchSpans;
  size_t queue_spans = 32768;
  std::chrono::milliseconds flush_interval{1000};
  double timeout_seconds = 2;
  Logger* logger = nullptr;
};

/// The tracer's options from the configuration's `tracing:` section.
TracingOptions TracingOptionsFrom(const TracingConfig& config, Logger* logger);

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
  /// `tracer` null or disabled: the caller's sampled flag is passed on (W3C), nothing is
  /// sampled here.
  static Decision Decide(const Tracer* tracer, std::string_view traceparent);
  Decision Decide(std::string_view traceparent) const { return Decide(this, traceparent); }
  /// Queues a finished request's spans for export (the used part of the record); drops them
  /// (counted) when the queue is full.
  void Submit(const TraceRecord& record) EXCLUDES(mutex_);
  /// Exports what is queued, then stops exporting (shutdown); idempotent.
  void Stop();

  uint64_t exported() const { return exported_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t failed_exports() const { return failed_exports_.load(std::memory_order_relaxed); }

  static SpanId NewSpanId();
  static TraceId NewTraceId();

 private:
  BackgroundWorker::Duration Pass() EXCLUDES(mutex_);
  /// One batch to the collector, on the connection kept from the last.
  Result<HttpReply> Post(std::string_view body);

  TracingOptions options_;
  const std::string_view content_type_;  ///< of each export post
  Mutex mutex_;
  std::string queue_ GUARDED_BY(mutex_);  ///< records, as TraceRecord::AppendTo writes them
  size_t queued_spans_ GUARDED_BY(mutex_) = 0;
  // The worker's: what a pass took from the queue (swapped with it, so both keep their
  // capacity), the encoders' buffer, and the connection to the collector.
  std::string taken_;
  std::string body_;
  std::unique_ptr<HttpConnection> collector_;  ///< opened by the first pass
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
  /// `start`: when the request began (the server span's start).
  RequestTrace(Tracer* tracer, std::string_view traceparent,
               std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now());
  ~RequestTrace();
  RequestTrace(const RequestTrace&) = delete;
  RequestTrace& operator=(const RequestTrace&) = delete;

  /// The traceparent header of the response: this request's span in its trace.
  std::string ResponseTraceParent() const;
  std::string_view trace_id_hex() const { return {trace_hex_.data(), trace_hex_.size()}; }
  bool sampled() const { return sampled_; }
  /// On the server span; `key`: a string literal.
  void SetAttribute(std::string_view key, std::string_view value);
  void SetAttribute(std::string_view key, int64_t value);
  void SetError() {
    if (record_) record_->spans[0].error = true;
  }
  /// Names the server span "METHOD ROUTE" (the route, once it is known).
  void SetName(std::string_view method, std::string_view route);

  /// The request being served on this thread (null: none).
  static RequestTrace* Current();

  /// A finished child span of the current request's server span, from steady-clock readings
  /// the caller took anyway (nothing when no sampled request is being served on this thread).
  static void AddSpan(std::string_view name, std::chrono::steady_clock::time_point start,
                      std::chrono::steady_clock::time_point end);

  /// A child span of the current request's server span from construction to destruction;
  /// nothing when the request is not sampled.
  class ScopedSpan {
   public:
    /// `start`: a steady-clock reading the caller took anyway (none: the clock is read here).
    explicit ScopedSpan(std::string_view name, int kind = 1,
                        std::optional<std::chrono::steady_clock::time_point> start = {});
    ~ScopedSpan();
    ScopedSpan(const ScopedSpan&) = delete;
    ScopedSpan& operator=(const ScopedSpan&) = delete;
    void SetAttribute(std::string_view key, std::string_view value);  ///< `key`: a literal
    void SetError();

   private:
    RequestTrace* trace_;
    size_t index_ = TraceRecord::kMaxSpans;
  };

 private:
  Tracer* tracer_;
  Tracer::Decision decision_;
  bool sampled_ = false;
  SpanId span_id_{};  ///< the server span's
  std::array<char, 32> trace_hex_{};
  std::optional<TraceRecord> record_;  ///< only when sampled
  RequestTrace* previous_;
};

}  // namespace fraudops
