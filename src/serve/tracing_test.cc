#include "serve/tracing.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

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

TEST(TracerTest, OtlpJsonHasTheShapeTheSpecificationGives) {
  Span span;
  span.trace_id =
      ParseTraceParent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")->trace_id;
  span.span_id = Tracer::NewSpanId();
  span.name = "score \"quoted\"";
  span.kind = 2;
  span.start_unix_ns = 1700000000000000000ull;
  span.end_unix_ns = 1700000000000001000ull;
  span.attributes = {{"http.route", "/v1/endpoints/{endpoint}/predict"}};
  span.error = true;
  const auto json = nlohmann::json::parse(EncodeOtlpJson({span}, "fraudops-eu", "0.1.0+abc"));
  const auto& resource = json["resourceSpans"][0];
  EXPECT_EQ(resource["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(resource["resource"]["attributes"][0]["value"]["stringValue"], "fraudops-eu");
  const auto& s = resource["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(s["traceId"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(s["spanId"].get<std::string>().size(), 16u);
  EXPECT_FALSE(s.contains("parentSpanId"));  // a root span
  EXPECT_EQ(s["name"], "score \"quoted\"");
  EXPECT_EQ(s["kind"], 2);
  EXPECT_EQ(s["startTimeUnixNano"], "1700000000000000000");
  EXPECT_EQ(s["endTimeUnixNano"], "1700000000000001000");
  EXPECT_EQ(s["attributes"][0]["value"]["stringValue"], "/v1/endpoints/{endpoint}/predict");
  EXPECT_EQ(s["status"]["code"], 2);
}

TEST(TracerTest, AFullQueueDropsAndCountsInsteadOfWaiting) {
  TracingOptions options;
  options.url = "http://127.0.0.1:9/v1/traces";
  options.queue_spans = 3;
  options.batch_spans = 100;
  options.flush_interval = std::chrono::hours(1);
  Tracer tracer(options);
  std::vector<Span> spans(5);
  tracer.Submit(spans);
  EXPECT_EQ(tracer.dropped(), 2u);
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
    RequestTrace trace(nullptr, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x");
    logger.Info("serve", "inside", {{"a", "1"}});
  }
  logger.Info("serve", "outside");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "a=1;trace_id=0af7651916cd43dd8448eb211c80319c;");
  EXPECT_EQ(lines[1], "");
}

}  // namespace
}  // namespace fraudops
