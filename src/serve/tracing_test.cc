#include "serve/tracing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/config.h"

namespace fraudops {
namespace {

TEST(TraceParentTest, ReadsTheW3cHeaderAndRefusesWhatTheSpecificationRefuses) {
  auto parent = ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_TRUE(parent.has_value());
  EXPECT_EQ(HexId(parent->trace_id), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(HexId(parent->parent_id), "b7ad6b7169203331");
  EXPECT_TRUE(parent->sampled);
  EXPECT_FALSE(
      ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")->sampled);
  // A later version may add fields after the flags; version 00 may not.
  EXPECT_TRUE(ParseTraceParent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-ab"));
  EXPECT_FALSE(ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-ab"));
  for (const char* bad :
       {"",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",     // no flags
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  // version ff
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  // zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  // zero parent id
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",  // uppercase
        "00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",  // wrong separator
        "00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01"}) {
    EXPECT_FALSE(ParseTraceParent(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatTraceParent(parent->trace_id, parent->parent_id, true),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(FormatTraceParent(parent->trace_id, parent->parent_id, false),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  TraceId all_ones;
  all_ones.fill(0xff);
  EXPECT_EQ(FormatTraceParent(all_ones, SpanId{1, 2, 3, 4, 5, 6, 7, 0x8a}, true),
            "00-ffffffffffffffffffffffffffffffff-010203040506078a-01");
}

TEST(TracerTest, SamplingFollowsTheParentOrTheRatioOfTheTraceId) {
  TracingOptions options;
  options.url = "http://127.0.0.1:9/v1/traces";  // never called: nothing is submitted
  options.sample_ratio = 0.25;
  Tracer tracer(options);
  EXPECT_TRUE(tracer.Decide("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").sampled);
  EXPECT_FALSE(tracer.Decide("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00").sampled);
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) sampled += tracer.Decide("").sampled;
  EXPECT_NEAR(sampled / 20000.0, 0.25, 0.02);
  // Ratio sampling depends on the trace id alone: the same id, the same decision.
  options.parent_based = false;
  Tracer by_ratio(options);
  const std::string low = "00-0af7651916cd43dd0000000000000001-b7ad6b7169203331-00";
  const std::string high = "00-0af7651916cd43ddffffffffffffffff-b7ad6b7169203331-01";
  EXPECT_TRUE(by_ratio.Decide(low).sampled);
  EXPECT_FALSE(by_ratio.Decide(high).sampled);
}

/// `records` as the exporter's queue holds them (what the encoders read).
std::string Queued(std::initializer_list<TraceRecord> records) {
  std::string queued;
  for (const TraceRecord& record : records) record.AppendTo(queued);
  return queued;
}

/// A request's record: the server span (its caller's span the parent) and two steps.
TraceRecord SampleRecord() {
  TraceRecord record;
  const auto parent = ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  record.trace_id = parent->trace_id;
  record.remote_parent = parent->parent_id;
  const size_t server = record.AddSpan({}, TraceRecord::kRemoteParent, 2, 1700000000000000000ull);
  record.SetName(server, "POST /v1/endpoints/{endpoint}/predict");
  record.AddAttribute(server, "http.route", "/v1/endpoints/{endpoint}/predict");
  record.AddAttribute(server, "http.response.status_code", int64_t{200});
  record.spans[server].end_unix_ns = 1700000000000001000ull;
  const size_t score = record.AddSpan("score \"quoted\"", 0, 1, 1700000000000000100ull);
  record.spans[score].end_unix_ns = 1700000000000000900ull;
  record.spans[score].error = true;
  record.AddAttribute(score, "fraudops.model", "fraud@1");
  return record;
}

TEST(TracerTest, OtlpJsonHasTheShapeTheSpecificationGives) {
  const TraceRecord record = SampleRecord();
  std::string buffer;
  const auto json = nlohmann::json::parse(
      EncodeOtlpJson(Queued({record}), "fraudops-eu", "0.1.0+abc", buffer).body);
  const auto& resource = json["resourceSpans"][0];
  EXPECT_EQ(resource["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(resource["resource"]["attributes"][0]["value"]["stringValue"], "fraudops-eu");
  EXPECT_EQ(resource["scopeSpans"][0]["scope"]["version"], "0.1.0+abc");
  const auto& spans = resource["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  const auto& server = spans[0];
  EXPECT_EQ(server["traceId"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(server["spanId"], HexId(record.spans[0].span_id));
  EXPECT_EQ(server["parentSpanId"], "b7ad6b7169203331");  // the caller's span
  EXPECT_EQ(server["name"], "POST /v1/endpoints/{endpoint}/predict");
  EXPECT_EQ(server["kind"], 2);
  EXPECT_EQ(server["startTimeUnixNano"], "1700000000000000000");
  EXPECT_EQ(server["endTimeUnixNano"], "1700000000000001000");
  EXPECT_EQ(server["attributes"][0]["value"]["stringValue"], "/v1/endpoints/{endpoint}/predict");
  EXPECT_EQ(server["attributes"][1]["key"], "http.response.status_code");
  EXPECT_EQ(server["attributes"][1]["value"]["intValue"], "200");  // int64: a string in JSON
  EXPECT_FALSE(server.contains("status"));  // unset: left out, as protobuf's JSON mapping does
  const auto& score = spans[1];
  EXPECT_EQ(score["parentSpanId"], server["spanId"]);
  EXPECT_EQ(score["name"], "score \"quoted\"");
  EXPECT_EQ(score["status"]["code"], 2);
  EXPECT_EQ(score["attributes"].size(), 1u);

  // A trace started here: the server span has no parent.
  TraceRecord root = record;
  root.remote_parent = {};
  EXPECT_FALSE(nlohmann::json::parse(EncodeOtlpJson(Queued({root}), "fraudops", "1", buffer)
                                         .body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
                   .contains("parentSpanId"));
}

/// A reader of the protobuf wire format, enough to turn an ExportTraceServiceRequest back
/// into the OTLP JSON encoding: the two encodings are then compared whole.
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}
  bool done() const { return at_ >= data_.size(); }
  uint64_t Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (done()) throw std::runtime_error("truncated varint");
      const auto byte = static_cast<uint8_t>(data_[at_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    throw std::runtime_error("varint longer than 10 bytes");
  }
  std::pair<uint64_t, uint64_t> Tag() {
    const uint64_t tag = Varint();
    return {tag >> 3, tag & 7};
  }
  std::string_view Bytes() {
    const uint64_t size = Varint();
    if (size > data_.size() - at_) throw std::runtime_error("truncated field");
    const std::string_view bytes = data_.substr(at_, size);
    at_ += size;
    return bytes;
  }
  uint64_t Fixed64() {
    if (data_.size() - at_ < 8) throw std::runtime_error("truncated fixed64");
    uint64_t value = 0;
    for (size_t i = 0; i < 8; ++i)
      value |= static_cast<uint64_t>(static_cast<uint8_t>(data_[at_ + i])) << (8 * i);
    at_ += 8;
    return value;
  }

 private:
  std::string_view data_;
  size_t at_ = 0;
};

std::string Hex(std::string_view bytes) {
  return HexId(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

nlohmann::json KeyValueJson(std::string_view data) {
  nlohmann::json out;
  ProtoReader reader(data);
  while (!reader.done()) {
    auto [field, wire] = reader.Tag();
    if (field == 1) {
      out["key"] = std::string(reader.Bytes());
    } else if (field == 2) {
      ProtoReader value(reader.Bytes());
      auto [kind, value_wire] = value.Tag();
      if (kind == 1) out["value"]["stringValue"] = std::string(value.Bytes());
      if (kind == 3)
        out["value"]["intValue"] = std::to_string(static_cast<int64_t>(value.Varint()));
    } else {
      throw std::runtime_error("KeyValue: unexpected field " + std::to_string(field));
    }
  }
  return out;
}

nlohmann::json SpanJson(std::string_view data) {
  nlohmann::json out;
  ProtoReader reader(data);
  while (!reader.done()) {
    auto [field, wire] = reader.Tag();
    switch (field) {
      case 1:
        out["traceId"] = Hex(reader.Bytes());
        break;
      case 2:
        out["spanId"] = Hex(reader.Bytes());
        break;
      case 4:
        out["parentSpanId"] = Hex(reader.Bytes());
        break;
      case 5:
        out["name"] = std::string(reader.Bytes());
        break;
      case 6:
        out["kind"] = reader.Varint();
        break;
      case 7:
        out["startTimeUnixNano"] = std::to_string(reader.Fixed64());
        break;
      case 8:
        out["endTimeUnixNano"] = std::to_string(reader.Fixed64());
        break;
      case 9:
        out["attributes"].push_back(KeyValueJson(reader.Bytes()));
        break;
      case 15: {
        ProtoReader status(reader.Bytes());
        EXPECT_EQ(status.Tag().first, 3u);
        out["status"]["code"] = status.Varint();
        break;
      }
      default:
        throw std::runtime_error("Span: unexpected field " + std::to_string(field));
    }
  }
  return out;
}

nlohmann::json RequestJson(std::string_view data) {
  nlohmann::json out;
  ProtoReader request(data);
  while (!request.done()) {
    EXPECT_EQ(request.Tag().first, 1u);  // resource_spans
    nlohmann::json resource_spans;
    ProtoReader rs(request.Bytes());
    while (!rs.done()) {
      auto [field, wire] = rs.Tag();
      if (field == 1) {  // resource
        ProtoReader resource(rs.Bytes());
        resource_spans["resource"]["attributes"] = nlohmann::json::array();
        while (!resource.done()) {
          EXPECT_EQ(resource.Tag().first, 1u);
          resource_spans["resource"]["attributes"].push_back(KeyValueJson(resource.Bytes()));
        }
      } else {  // scope_spans
        if (field != 2) throw std::runtime_error("ResourceSpans: unexpected field");
        nlohmann::json scope_spans;
        ProtoReader ss(rs.Bytes());
        while (!ss.done()) {
          auto [inner, inner_wire] = ss.Tag();
          if (inner == 1) {
            ProtoReader scope(ss.Bytes());
            while (!scope.done()) {
              auto [f, w] = scope.Tag();
              scope_spans["scope"][f == 1 ? "name" : "version"] = std::string(scope.Bytes());
            }
          } else {
            scope_spans["spans"].push_back(SpanJson(ss.Bytes()));
          }
        }
        resource_spans["scopeSpans"].push_back(scope_spans);
      }
    }
    out["resourceSpans"].push_back(resource_spans);
  }
  return out;
}

TEST(TracerTest, OtlpProtobufCarriesWhatTheJsonEncodingCarries) {
  TraceRecord second = SampleRecord();
  second.trace_id[15] ^= 1;
  second.remote_parent = {};
  const std::string records = Queued({SampleRecord(), second});
  std::string json_buffer, protobuf_buffer;
  const OtlpBatch json = EncodeOtlpJson(records, "fraudops-eu", "0.1.0+abc", json_buffer);
  const OtlpBatch protobuf =
      EncodeOtlpProtobuf(records, "fraudops-eu", "0.1.0+abc", protobuf_buffer);
  EXPECT_EQ(RequestJson(protobuf.body), nlohmann::json::parse(json.body));
  EXPECT_LT(protobuf.body.size() * 2, json.body.size());
  EXPECT_EQ(protobuf.queued_bytes, records.size());
  EXPECT_EQ(protobuf.spans, 4u);
  // The buffer is reused: a second, smaller body from it reads the same as one from a new one.
  const std::string one = Queued({SampleRecord()});
  std::string fresh;
  EXPECT_EQ(EncodeOtlpProtobuf(one, "svc", "1", protobuf_buffer).body,
            EncodeOtlpProtobuf(one, "svc", "1", fresh).body);
}

TEST(TracerTest, ABatchHoldsWholeRecordsUpToItsSpans) {
  // Three records of 2 spans each; batches of at most 5 spans hold two records, then one.
  TraceRecord record = SampleRecord();
  const std::string queue = Queued({record, record, record});
  std::string_view rest = queue;
  std::string buffer;
  std::vector<size_t> spans;
  while (!rest.empty()) {
    const OtlpBatch batch = EncodeOtlpProtobuf(rest, "svc", "1", buffer, 5);
    const auto json = RequestJson(batch.body);
    EXPECT_EQ(json["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), batch.spans);
    spans.push_back(batch.spans);
    rest.remove_prefix(batch.queued_bytes);
  }
  EXPECT_EQ(spans, (std::vector<size_t>{4, 2}));
  // A record larger than the limit still makes a batch (alone).
  const OtlpBatch alone = EncodeOtlpJson(queue, "svc", "1", buffer, 1);
  EXPECT_EQ(alone.spans, 2u);
  EXPECT_EQ(alone.queued_bytes, queue.size() / 3);
}

TEST(TracerTest, WhatDoesNotFitTheRecordIsLeftOutAndCounted) {
  TraceRecord record;
  for (size_t i = 0; i < TraceRecord::kMaxSpans + 2; ++i) record.AddSpan("step", 0, 1, 1);
  EXPECT_EQ(record.span_count, TraceRecord::kMaxSpans);
  EXPECT_EQ(record.overflow, 2u);
  record.AddAttribute(0, "big", std::string(TraceRecord::kTextBytes, 'x'));  // no room
  EXPECT_EQ(record.attribute_count, 0);
  EXPECT_EQ(record.overflow, 3u);
}

TEST(TracerTest, TheQueuedPartOfARecordReadsBackAsTheRecord) {
  // Records of different shapes, one after another in one buffer, as the queue holds them.
  std::vector<TraceRecord> records(3);
  records[0].trace_id[0] = 1;
  records[1].AddSpan("server", TraceRecord::kRemoteParent, 2, 10);
  records[1].AddAttribute(0, "http.route", "/v1/endpoints/{name}/predict");
  records[1].AddAttribute(0, "http.response.status_code", int64_t{200});
  records[1].overflow = 1;
  for (size_t i = 0; i < TraceRecord::kMaxSpans; ++i) {
    records[2].AddSpan("step " + std::to_string(i), 0, 1, 20 + i);
    records[2].spans[i].end_unix_ns = 30 + i;
  }
  std::string queue;
  for (const TraceRecord& record : records) record.AppendTo(queue);
  EXPECT_LT(queue.size(), 3 * sizeof(TraceRecord) / 2);  // the used parts, not whole records
  std::vector<TraceRecord> read;
  std::string again;
  for (std::string_view rest = queue; !rest.empty();) {
    const size_t size = read.emplace_back().ReadFrom(rest);
    read.back().AppendTo(again);
    EXPECT_EQ(again.size(), queue.size() - rest.size() + size);
    rest.remove_prefix(size);
  }
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(again, queue);
  EXPECT_EQ(read[0].trace_id[0], 1);
  EXPECT_EQ(read[1].overflow, 1u);
  EXPECT_EQ(read[1].Text(read[1].attributes[0].offset, read[1].attributes[0].size),
            "/v1/endpoints/{name}/predict");
  EXPECT_EQ(read[1].attributes[1].int_value, 200);
  EXPECT_EQ(read[2].span_count, TraceRecord::kMaxSpans);
  EXPECT_EQ(read[2].spans[11].end_unix_ns, 41u);
  // The encoders read the queue the same way: the three records' spans, in order.
  std::string json;
  const auto spans = nlohmann::json::parse(
      EncodeOtlpJson(queue, "svc", "1", json).body)["resourceSpans"][0]["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 1 + TraceRecord::kMaxSpans);
  EXPECT_EQ(spans[0]["name"], "server");
  EXPECT_EQ(spans[12]["name"], "step 11");
}

TEST(TracerTest, AFullQueueDropsAndCountsInsteadOfWaiting) {
  TracingOptions options;
  options.url = "http://127.0.0.1:9/v1/traces";
  options.queue_spans = 3;
  options.batch_spans = 100;
  options.flush_interval = std::chrono::hours(1);
  Tracer tracer(options);
  TraceRecord record;
  for (int i = 0; i < 2; ++i) record.AddSpan("step", 0, 1, 1);
  tracer.Submit(record);  // 2 of 3
  tracer.Submit(record);  // would be 4: dropped whole
  EXPECT_EQ(tracer.dropped(), 2u);
}

TEST(TracerTest, ABatchIsAboutAMegabyteUnlessConfigured) {
  TracingConfig config;
  EXPECT_EQ(TracingOptionsFrom(config, nullptr).batch_spans, kProtobufBatchSpans);
  config.protocol = "http/json";
  EXPECT_EQ(TracingOptionsFrom(config, nullptr).batch_spans, kJsonBatchSpans);
  config.batch_spans = 500;
  EXPECT_EQ(TracingOptionsFrom(config, nullptr).batch_spans, 500u);
  // What "about a megabyte" rests on: the defaults' bodies for scoring requests' records
  // (4 spans, 6 attributes) are between half a megabyte and a megabyte and a half.
  std::string queued, buffer;
  for (size_t i = 0; i < kProtobufBatchSpans / 4; ++i) {
    TraceRecord record;
    record.trace_id = Tracer::NewTraceId();
    const size_t server = record.AddSpan("POST /v1/endpoints/{name}/predict",
                                         TraceRecord::kRemoteParent, 2, 1764000000000000000);
    for (const char* step : {"auth", "parse", "score"})
      record.AddSpan(step, 0, 1, 1764000000000001000);
    record.AddAttribute(server, "fraudops.endpoint", "fraud-detector");
    record.AddAttribute(server, "fraudops.variant", "production");
    record.AddAttribute(server, "fraudops.model", "fraud-detector@1");
    record.AddAttribute(server, "http.request.method", "POST");
    record.AddAttribute(server, "http.route", "/v1/endpoints/{name}/predict");
    record.AddAttribute(server, "http.response.status_code", int64_t{200});
    record.AppendTo(queued);
  }
  const size_t protobuf =
      EncodeOtlpProtobuf(queued, "fraudops", "1.0.0", buffer, kProtobufBatchSpans).body.size();
  const size_t json =
      EncodeOtlpJson(queued, "fraudops", "1.0.0", buffer, kJsonBatchSpans).body.size();
  for (size_t bytes : {protobuf, json}) {
    EXPECT_GT(bytes, 500'000u);
    EXPECT_LT(bytes, 1'500'000u);
  }
}

TEST(TracerTest, WithoutTracingTheCallersSampledFlagIsPassedOn) {
  const auto sampled =
      Tracer::Decide(nullptr, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_TRUE(sampled.sampled);
  EXPECT_EQ(HexId(sampled.trace_id), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_FALSE(Tracer::Decide(nullptr, "").sampled);
  RequestTrace trace(nullptr, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_FALSE(trace.sampled());  // nothing recorded here
  EXPECT_EQ(trace.ResponseTraceParent().substr(0, 36), "00-0af7651916cd43dd8448eb211c80319c-");
  EXPECT_EQ(trace.ResponseTraceParent().substr(52), "-01");
}

TEST(TracerTest, TheSpanClockKeepsToTheWallClock) {
  // Three threads read the span clock between two readings of the wall clock for 300 ms:
  // past the 50 ms in which the rate is measured and across re-readings every 100 ms; the
  // same for steady-clock readings converted to span times.
  auto wall = [] {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  };
  std::atomic<uint64_t> worst{0}, readings{0};
  auto run = [&] {
    const uint64_t end = wall() + 300'000'000;
    uint64_t previous = 0;
    for (uint64_t before = wall(); before < end; before = wall()) {
      // Odd readings from the span clock, even ones from a steady-clock reading converted.
      const uint64_t span = readings.load(std::memory_order_relaxed) % 2
                                ? TraceClockNanos()
                                : TraceClockNanos(std::chrono::steady_clock::now());
      const uint64_t after = wall();
      // Inside the interval, give or take what a rate measured over 50 ms could drift in
      // 100 ms; and never far behind this thread's previous reading.
      const uint64_t off = span < before ? before - span : span > after ? span - after : 0;
      uint64_t seen = worst.load();
      while (off > seen && !worst.compare_exchange_weak(seen, off)) {
      }
      EXPECT_LE(off, 20'000u) << "span clock " << span << " outside [" << before << ", " << after
                              << "]";
      EXPECT_GE(span + 20'000, previous);
      previous = span;
      readings.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(run);
  for (std::thread& thread : threads) thread.join();
  EXPECT_GT(readings.load(), 1000u);
  RecordProperty("worst_offset_ns", std::to_string(worst.load()));
}

TEST(LogTraceIdTest, EveryLineOfTheThreadCarriesTheTraceIdWhileItIsSet) {
  struct Capture : LogSink {
    void Write(std::string_view, LogLevel, std::string_view, std::string_view,
               const std::vector<LogField>& fields) override {
      std::string line;
      for (const LogField& f : fields) line += f.key + "=" + f.value + ";";
      lines->push_back(line);
    }
    std::vector<std::string>* lines;
  };
  std::vector<std::string> lines;
  auto sink = std::make_unique<Capture>();
  sink->lines = &lines;
  Logger logger;
  logger.AddSink(std::move(sink));
  {
    RequestTrace trace(nullptr, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    logger.Info("serve", "inside", {{"a", "1"}});
  }
  logger.Info("serve", "outside");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "a=1;trace_id=0af7651916cd43dd8448eb211c80319c;");
  EXPECT_EQ(lines[1], "");
}

}  // namespace
}  // namespace fraudops
