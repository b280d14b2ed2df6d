#include "serve/tracing.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <type_traits>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "core/config.h"
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
  static_assert(N % 8 == 0);
  uint64_t bits = 0;
  for (size_t i = 0; i < N; i += 8) {  // whole words: two loads for a trace id, one for a span's
    uint64_t word;
    std::memcpy(&word, id.data() + i, 8);
    bits |= word;
  }
  return bits == 0;
}

/// 64 random bits for an id: SplitMix64 over a per-thread counter that starts at a random
/// point (the system's entropy). Eight bytes of state: a request draws five or so ids, and a
/// Mersenne Twister's 2.5 KB went cold between requests. Each thread's ids are distinct.
uint64_t RandomBits() {
  thread_local uint64_t state = [] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }();
  uint64_t x = state += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
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

// Protobuf wire format (the OTLP protos): varints, fixed64 and length-delimited fields,
// written at a cursor into a body sized beforehand.
struct ProtoWriter {
  char* at;
};
void PutVarint(ProtoWriter& out, uint64_t value) {
  while (value >= 0x80) {
    *out.at++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *out.at++ = static_cast<char>(value);
}
void PutTag(ProtoWriter& out, uint32_t field, uint32_t wire_type) {
  *out.at++ = static_cast<char>((field << 3) | wire_type);  // fields below 16: one byte
}
void PutBytes(ProtoWriter& out, uint32_t field, std::string_view bytes) {
  PutTag(out, field, 2);
  PutVarint(out, bytes.size());
  if (!bytes.empty()) std::memcpy(out.at, bytes.data(), bytes.size());
  out.at += bytes.size();
}
void PutFixed64(ProtoWriter& out, uint32_t field, uint64_t value) {
  static_assert(std::endian::native == std::endian::little);  // fixed64 is little-endian
  PutTag(out, field, 1);
  std::memcpy(out.at, &value, 8);
  out.at += 8;
}
/// An id as a bytes field: its size known here, so the copy is a move of 8 or 16 bytes.
template <size_t N>
void PutId(ProtoWriter& out, uint32_t field, const std::array<uint8_t, N>& id) {
  static_assert(N < 0x80);
  PutTag(out, field, 2);
  *out.at++ = static_cast<char>(N);
  std::memcpy(out.at, id.data(), N);
  out.at += N;
}
// Sizes of encoded fields, so that each message's length is written before it and its
// fields go straight into the body (no message is encoded apart and copied). Every field
// number used is below 16: a tag is one byte.
size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}
size_t BytesFieldSize(size_t length) { return 1 + VarintSize(length) + length; }
/// A KeyValue (key 1, AnyValue 2: string_value 1 or int_value 3).
struct KeyValueField {
  std::string_view key;
  bool is_int;
  int64_t int_value;
  std::string_view string_value;

  size_t AnyValueSize() const {
    return is_int ? 1 + VarintSize(static_cast<uint64_t>(int_value))
                  : BytesFieldSize(string_value.size());
  }
  size_t Size() const { return BytesFieldSize(key.size()) + BytesFieldSize(AnyValueSize()); }
  /// As field `field` of the message being written to `out`; `size`: Size().
  void Put(ProtoWriter& out, uint32_t field, size_t size) const {
    PutTag(out, field, 2);
    PutVarint(out, size);
    PutBytes(out, 1, key);
    PutTag(out, 2, 2);
    PutVarint(out, AnyValueSize());
    if (is_int) {
      PutTag(out, 3, 0);
      PutVarint(out, static_cast<uint64_t>(int_value));
    } else {
      PutBytes(out, 1, string_value);
    }
  }
};
constexpr size_t kStatusSize = 2;  // Status { code (3): STATUS_CODE_ERROR (2) }

/// One record's spans as Span messages (field 2 of ScopeSpans): each attribute's KeyValue
/// and each span's size are computed once, then the spans are written in order.
class RecordSpans {
 public:
  explicit RecordSpans(const TraceRecord& record) : record_(record) {
    for (size_t a = 0; a < record.attribute_count; ++a) {
      const TraceRecord::Attribute& attribute = record.attributes[a];
      attributes_[a] = {attribute.Key(), attribute.is_int, attribute.int_value,
                        record.Text(attribute.offset, attribute.size)};
      attribute_sizes_[a] = attributes_[a].Size();
    }
    for (size_t i = 0; i < record.span_count; ++i) {
      const TraceRecord::SpanEntry& entry = record.spans[i];
      size_t size = BytesFieldSize(16) + BytesFieldSize(8) +
                    (AllZero(record.ParentOf(entry)) ? 0 : BytesFieldSize(8)) +
                    BytesFieldSize(entry.name_size) + 1 + VarintSize(entry.kind) + 2 * 9 +
                    (entry.error ? BytesFieldSize(kStatusSize) : 0);
      for (size_t a = 0; a < record.attribute_count; ++a) {
        if (record.attributes[a].span == i) size += BytesFieldSize(attribute_sizes_[a]);
      }
      span_sizes_[i] = size;
      size_ += BytesFieldSize(size);
    }
  }
  /// The bytes Put writes.
  size_t size() const { return size_; }

  void Put(ProtoWriter& out) const {
    for (size_t i = 0; i < record_.span_count; ++i) {
      const TraceRecord::SpanEntry& entry = record_.spans[i];
      PutTag(out, 2, 2);
      PutVarint(out, span_sizes_[i]);
      PutId(out, 1, record_.trace_id);
      PutId(out, 2, entry.span_id);
      if (const SpanId& parent = record_.ParentOf(entry); !AllZero(parent)) PutId(out, 4, parent);
      PutBytes(out, 5, record_.Text(entry.name_offset, entry.name_size));
      PutTag(out, 6, 0);
      PutVarint(out, entry.kind);
      PutFixed64(out, 7, entry.start_unix_ns);
      PutFixed64(out, 8, entry.end_unix_ns);
      for (size_t a = 0; a < record_.attribute_count; ++a) {
        if (record_.attributes[a].span == i) attributes_[a].Put(out, 9, attribute_sizes_[a]);
      }
      if (entry.error) {
        PutTag(out, 15, 2);
        PutVarint(out, kStatusSize);
        PutTag(out, 3, 0);  // Status.code
        PutVarint(out, 2);  // STATUS_CODE_ERROR
      }
    }
  }

 private:
  const TraceRecord& record_;
  std::array<KeyValueField, TraceRecord::kMaxAttributes> attributes_;
  std::array<size_t, TraceRecord::kMaxAttributes> attribute_sizes_;
  std::array<size_t, TraceRecord::kMaxSpans> span_sizes_;
  size_t size_ = 0;
};

}  // namespace

std::string HexId(const uint8_t* bytes, size_t size) {
  std::string out(2 * size, '0');
  HexTo(out.data(), bytes, size);
  return out;
}

namespace {

uint64_t ClockUnixNanos() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec);
}

/// The wall clock and another clock (`read_other`) read together: the other clock read on both
/// sides of the wall clock, the pair retried when something (preemption) came between them
/// (more than `max_gap` of the other clock's units). Returns {the other's midpoint, Unix ns}.
template <class ReadOther>
std::pair<uint64_t, uint64_t> ReadWallClockBetween(ReadOther read_other, uint64_t max_gap) {
  uint64_t before = 0, unix_ns = 0, after = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    before = read_other();
    unix_ns = ClockUnixNanos();
    after = read_other();
    if (after - before < max_gap) break;
  }
  return {before + (after - before) / 2, unix_ns};
}

#if defined(__x86_64__)
/// Whether the kernel keeps time by the TSC: it does so only when the counter is invariant and
/// synchronized across cores, so that ticks read on any core convert to time alike.
bool KernelClockIsTsc() {
  static const bool tsc = [] {
    std::ifstream in("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string name;
    return static_cast<bool>(in >> name) && name == "tsc";
  }();
  return tsc;
}

/// A thread's last reading of the wall clock, the TSC at that moment, and the clock's rate in
/// nanoseconds per tick over the interval before it.
struct TscAnchor {
  uint64_t tsc = 0, unix_ns = 0;
  double ns_per_tick = 0;
  uint64_t valid_ticks = 0;  ///< how long the anchor is used: 0 until the rate is known
};
constexpr uint64_t kRateIntervalNs = 50'000'000, kAnchorLifeNs = 100'000'000;

uint64_t Reanchor(TscAnchor& anchor) {
  // Retried past 20,000 ticks: 5-20 µs at the TSC rates in use (1-4 GHz).
  const auto [tsc, unix_ns] = ReadWallClockBetween([] { return __rdtsc(); }, 20'000);
  anchor.valid_ticks = 0;
  if (anchor.tsc != 0 && tsc > anchor.tsc && unix_ns > anchor.unix_ns) {
    // The rate over the last interval (so it follows the clock's slewing), once the interval is
    // long enough for the reads' jitter not to matter (~20 ns in 50 ms: 4e-7).
    const uint64_t elapsed = unix_ns - anchor.unix_ns;
    if (elapsed >= kRateIntervalNs) {
      anchor.ns_per_tick = static_cast<double>(elapsed) / static_cast<double>(tsc - anchor.tsc);
    } else if (anchor.ns_per_tick == 0) {
      return unix_ns;  // no rate yet: the interval keeps its start until it is long enough
    }
    if (anchor.ns_per_tick > 0.01 && anchor.ns_per_tick < 100) {
      anchor.valid_ticks = static_cast<uint64_t>(kAnchorLifeNs / anchor.ns_per_tick);
    }
  }
  anchor.tsc = tsc;
  anchor.unix_ns = unix_ns;
  return unix_ns;
}
#endif

/// A thread's offset of the wall clock from the monotonic one, and the monotonic time until
/// which it is used.
struct SteadyAnchor {
  int64_t offset_ns = 0, until_ns = 0;
};
constexpr int64_t kSteadyAnchorLifeNs = 100'000'000;

int64_t SteadyNanos(std::chrono::steady_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

void AnchorToWallClock(SteadyAnchor& anchor) {
  const auto [steady, unix_ns] = ReadWallClockBetween(
      [] { return static_cast<uint64_t>(SteadyNanos(std::chrono::steady_clock::now())); }, 20'000);
  anchor.offset_ns = static_cast<int64_t>(unix_ns) - static_cast<int64_t>(steady);
  anchor.until_ns = static_cast<int64_t>(steady) + kSteadyAnchorLifeNs;
}

}  // namespace

uint64_t TraceClockNanos(std::chrono::steady_clock::time_point at) {
  thread_local SteadyAnchor anchor;
  const int64_t steady = SteadyNanos(at);
  if (steady >= anchor.until_ns) AnchorToWallClock(anchor);
  return static_cast<uint64_t>(steady + anchor.offset_ns);
}

uint64_t TraceClockNanos() {
#if defined(__x86_64__)
  if (KernelClockIsTsc()) {
    thread_local TscAnchor anchor;
    const uint64_t ticks = __rdtsc() - anchor.tsc;
    if (ticks < anchor.valid_ticks) {
      return anchor.unix_ns +
             static_cast<uint64_t>(static_cast<double>(ticks) * anchor.ns_per_tick);
    }
    return Reanchor(anchor);
  }
#endif
  return TraceClockNanos(std::chrono::steady_clock::now());
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
  std::string out = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-00";  // one allocation
  HexTo(out.data() + 3, trace_id.data(), 16);
  HexTo(out.data() + 36, span_id.data(), 8);
  if (sampled) out[54] = '1';
  return out;
}

namespace {

/// Reads the records at the start of `queued` back into one scratch record (which stays in
/// cache, where records read into slots of their own would each be cold) and calls `visit`
/// with each: whole records while their spans come to at most `max_spans` (at least one
/// record). Returns the bytes and the spans visited.
template <class Visit>
std::pair<size_t, size_t> ForEachQueued(std::string_view queued, size_t max_spans, Visit&& visit) {
  TraceRecord record;
  size_t bytes = 0, spans = 0;
  while (bytes < queued.size()) {
    const size_t size = record.ReadFrom(queued.substr(bytes));
    if (bytes > 0 && spans + record.span_count > max_spans) break;
    bytes += size;
    spans += record.span_count;
    visit(static_cast<const TraceRecord&>(record));
  }
  return {bytes, spans};
}

}  // namespace

OtlpBatch EncodeOtlpJson(std::string_view queued, std::string_view service_name,
                         std::string_view version, std::string& buffer, size_t max_spans) {
  std::string& out = buffer;
  out.clear();
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  AppendJsonAttribute(out, "service.name", service_name);
  out += ",";
  AppendJsonAttribute(out, "service.version", version);
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"fraudops\",\"version\":\"";
  AppendJsonEscaped(out, version);
  out += "\"},\"spans\":[";
  bool first = true;
  char trace_text[32];
  const auto [bytes, spans] = ForEachQueued(queued, max_spans, [&](const TraceRecord& record) {
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
          AppendJsonAttribute(out, attribute.Key(), attribute.int_value);
        } else {
          AppendJsonAttribute(out, attribute.Key(), record.Text(attribute.offset, attribute.size));
        }
      }
      if (attributes) out += ']';
      // The status is left out when unset (code 0), as protobuf's JSON mapping does.
      out += span.error ? ",\"status\":{\"code\":2}}" : "}";
    }
  });
  out += "]}]}]}";
  return {out, bytes, spans};
}

OtlpBatch EncodeOtlpProtobuf(std::string_view queued, std::string_view service_name,
                             std::string_view version, std::string& buffer, size_t max_spans) {
  const std::string_view scope_name = "fraudops";
  const size_t scope_size = BytesFieldSize(scope_name.size()) + BytesFieldSize(version.size());
  const KeyValueField resource_attributes[] = {{"service.name", false, 0, service_name},
                                               {"service.version", false, 0, version}};
  size_t resource_size = 0;
  for (const KeyValueField& attribute : resource_attributes)
    resource_size += BytesFieldSize(attribute.Size());
  // One pass: the spans are written first, after room for the longest head (the messages'
  // tags and lengths before the first span, each length at most 10 bytes); the head is then
  // written right before them, where its exact size puts it. `buffer` is used as storage
  // (its size only grows; new bytes are not zeroed on every batch).
  const size_t head_room =
      2 * (1 + 10) + BytesFieldSize(resource_size) + BytesFieldSize(scope_size);
  size_t at = head_room;
  if (buffer.size() < head_room + 4096) buffer.resize(head_room + 4096);
  const auto [bytes, spans] = ForEachQueued(queued, max_spans, [&](const TraceRecord& record) {
    const RecordSpans encoded(record);
    if (buffer.size() - at < encoded.size())
      buffer.resize(std::max(2 * buffer.size(), at + encoded.size()));
    ProtoWriter out{buffer.data() + at};
    encoded.Put(out);
    at += encoded.size();
    assert(out.at == buffer.data() + at);
  });
  const size_t scope_spans_size = BytesFieldSize(scope_size) + (at - head_room);
  const size_t resource_spans_size =
      BytesFieldSize(resource_size) + BytesFieldSize(scope_spans_size);
  const size_t head = 1 + VarintSize(resource_spans_size) + BytesFieldSize(resource_size) + 1 +
                      VarintSize(scope_spans_size) + BytesFieldSize(scope_size);
  const size_t start = head_room - head;
  ProtoWriter body{buffer.data() + start};
  PutTag(body, 1, 2);  // ExportTraceServiceRequest.resource_spans
  PutVarint(body, resource_spans_size);
  PutTag(body, 1, 2);  // ResourceSpans.resource
  PutVarint(body, resource_size);
  for (const KeyValueField& attribute : resource_attributes)
    attribute.Put(body, 1, attribute.Size());
  PutTag(body, 2, 2);  // ResourceSpans.scope_spans
  PutVarint(body, scope_spans_size);
  PutTag(body, 1, 2);  // ScopeSpans.scope
  PutVarint(body, scope_size);
  PutBytes(body, 1, scope_name);
  PutBytes(body, 2, version);
  assert(body.at == buffer.data() + head_room);
  return {std::string_view(buffer).substr(start, at - start), bytes, spans};
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

size_t TraceRecord::QueuedSize() const {
  return kRecordHead + span_count * sizeof(SpanEntry) + attribute_count * sizeof(Attribute) +
         text_size;
}

size_t TraceRecord::ReadFrom(std::string_view in) {
  std::memcpy(static_cast<void*>(this), in.data(), kRecordHead);
  const size_t span_bytes = span_count * sizeof(SpanEntry);
  const size_t attribute_bytes = attribute_count * sizeof(Attribute);
  assert(QueuedSize() <= in.size());
  const char* at = in.data() + kRecordHead;
  std::memcpy(static_cast<void*>(spans.data()), at, span_bytes);
  std::memcpy(static_cast<void*>(attributes.data()), at += span_bytes, attribute_bytes);
  std::memcpy(text.data(), at += attribute_bytes, text_size);
  return QueuedSize();
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

TraceRecord::Attribute* TraceRecord::NextAttribute(size_t span, std::string_view key) {
  if (attribute_count == kMaxAttributes) {
    ++overflow;
    return nullptr;
  }
  Attribute& attribute = attributes[attribute_count];
  assert(key.size() <= UINT8_MAX);
  attribute.key = key.data();
  attribute.key_size = static_cast<uint8_t>(std::min<size_t>(key.size(), UINT8_MAX));
  attribute.span = static_cast<uint8_t>(span);
  return &attribute;
}

void TraceRecord::AddAttribute(size_t span, std::string_view key, std::string_view value) {
  Attribute* attribute = NextAttribute(span, key);
  if (attribute == nullptr || !Store(value, attribute->offset, attribute->size)) return;
  attribute->is_int = false;
  ++attribute_count;
}

void TraceRecord::AddAttribute(size_t span, std::string_view key, int64_t value) {
  Attribute* attribute = NextAttribute(span, key);
  if (attribute == nullptr) return;
  attribute->is_int = true;
  attribute->int_value = value;
  attribute->offset = attribute->size = 0;
  ++attribute_count;
}

// ---------------------------------------------------------------------------------------

TracingOptions TracingOptionsFrom(const TracingConfig& config, Logger* logger) {
  TracingOptions options;
  options.url = config.otlp_url;
  options.protobuf = config.protocol == "http/protobuf";
  options.sample_ratio = config.sample_ratio;
  options.parent_based = config.parent_based;
  options.service_name = config.service_name;
  if (config.batch_spans > 0) {
    options.batch_spans = static_cast<size_t>(config.batch_spans);
  } else {
    options.batch_spans = options.protobuf ? kProtobufBatchSpans : kJsonBatchSpans;
  }
  options.queue_spans = static_cast<size_t>(config.queue_spans);
  options.flush_interval = std::chrono::milliseconds(config.flush_ms);
  options.timeout_seconds = static_cast<double>(config.timeout_ms) / 1000;
  options.logger = logger;
  return options;
}

Tracer::Tracer(TracingOptions options)
    : options_(std::move(options)),
      content_type_(options_.protobuf ? "application/x-protobuf" : "application/json"),
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
    const uint64_t bits = RandomBits();
    for (size_t i = 0; i < 8; ++i) id[i] = static_cast<uint8_t>(bits >> (8 * i));
  }
  return id;
}

TraceId Tracer::NewTraceId() {
  TraceId id{};
  while (AllZero(id)) {
    for (size_t half = 0; half < 2; ++half) {
      const uint64_t bits = RandomBits();
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

Result<HttpReply> Tracer::Post(std::string_view body) {
  if (!collector_) {
    auto opened = HttpConnection::Open(options_.url);
    if (!opened.ok()) return opened.status();
    collector_ = std::move(*opened);
  }
  return collector_->Post(content_type_, body, options_.timeout_seconds);
}

BackgroundWorker::Duration Tracer::Pass() {
  size_t taken_spans = 0;
  {
    MutexLock lock(&mutex_);  // everything queued, at once: the request path is not held up
    taken_.swap(queue_);
    taken_spans = queued_spans_;
    queued_spans_ = 0;
  }
  std::string_view rest = taken_;
  while (!rest.empty()) {
    // A batch: whole requests up to batch_spans spans (at least one request).
    const OtlpBatch batch = options_.protobuf
                                ? EncodeOtlpProtobuf(rest, options_.service_name, CodeVersion(),
                                                     body_, options_.batch_spans)
                                : EncodeOtlpJson(rest, options_.service_name, CodeVersion(), body_,
                                                 options_.batch_spans);
    rest.remove_prefix(batch.queued_bytes);
    const Result<HttpReply> reply = Post(batch.body);
    if (reply.ok() && reply->status >= 200 && reply->status < 300) {
      exported_.fetch_add(batch.spans, std::memory_order_relaxed);
      taken_spans -= batch.spans;
      continue;
    }
    // Not retried: the next spans are newer, and a collector that is down would only fill
    // the queue. This batch and the rest of the pass are dropped, counted, and logged once.
    failed_exports_.fetch_add(1, std::memory_order_relaxed);
    dropped_.fetch_add(taken_spans, std::memory_order_relaxed);
    if (options_.logger) {
      options_.logger->Warn("tracing", "spans not exported; dropped",
                            {{"collector", options_.url},
                             {"spans", taken_spans},
                             {"error", reply.ok() ? "HTTP " + std::to_string(reply->status)
                                                  : reply.status().message()}});
    }
    break;
  }
  taken_.clear();
  return options_.flush_interval;
}

// ---------------------------------------------------------------------------------------

RequestTrace::RequestTrace(Tracer* tracer, std::string_view traceparent,
                           std::chrono::steady_clock::time_point start)
    : tracer_(tracer), decision_(Tracer::Decide(tracer, traceparent)), previous_(current_trace) {
  span_id_ = Tracer::NewSpanId();
  sampled_ = decision_.sampled && tracer_ != nullptr && tracer_->enabled();
  HexTo(trace_hex_.data(), decision_.trace_id.data(), 16);
  if (sampled_) {
    record_.emplace();
    record_->trace_id = decision_.trace_id;
    record_->remote_parent = decision_.parent_id;
    record_->AddSpan({}, TraceRecord::kRemoteParent, 2,
                     TraceClockNanos(start));  // span 0: the server's
    record_->spans[0].span_id = span_id_;
  }
  current_trace = this;
  SetLogTraceId(trace_id_hex());
}

RequestTrace::~RequestTrace() {
  current_trace = previous_;
  SetLogTraceId(previous_ ? previous_->trace_id_hex() : std::string_view());
  if (!record_) return;
  record_->spans[0].end_unix_ns = TraceClockNanos();
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

void RequestTrace::SetAttribute(std::string_view key, std::string_view value) {
  if (record_) record_->AddAttribute(0, key, value);
}

void RequestTrace::SetAttribute(std::string_view key, int64_t value) {
  if (record_) record_->AddAttribute(0, key, value);
}

RequestTrace* RequestTrace::Current() { return current_trace; }

void RequestTrace::AddSpan(std::string_view name, std::chrono::steady_clock::time_point start,
                           std::chrono::steady_clock::time_point end) {
  RequestTrace* trace = current_trace;
  if (trace == nullptr || !trace->record_) return;
  const size_t index = trace->record_->AddSpan(name, 0, 1, TraceClockNanos(start));
  if (index < TraceRecord::kMaxSpans)
    trace->record_->spans[index].end_unix_ns = TraceClockNanos(end);
}

RequestTrace::ScopedSpan::ScopedSpan(std::string_view name, int kind,
                                     std::optional<std::chrono::steady_clock::time_point> start)
    : trace_(current_trace) {
  if (trace_ == nullptr || !trace_->record_) {
    trace_ = nullptr;
    return;
  }
  index_ =
      trace_->record_->AddSpan(name, 0, kind, start ? TraceClockNanos(*start) : TraceClockNanos());
  if (index_ == TraceRecord::kMaxSpans) trace_ = nullptr;  // no room: not recorded
}

RequestTrace::ScopedSpan::~ScopedSpan() {
  if (trace_) trace_->record_->spans[index_].end_unix_ns = TraceClockNanos();
}

void RequestTrace::ScopedSpan::SetAttribute(std::string_view key, std::string_view value) {
  if (trace_) trace_->record_->AddAttribute(index_, key, value);
}

void RequestTrace::ScopedSpan::SetError() {
  if (trace_) trace_->record_->spans[index_].error = true;
}

}  // namespace fraudops
