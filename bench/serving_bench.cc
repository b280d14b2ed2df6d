// What an A/B endpoint adds to a request (issue 16's goal: <= 2 us): reading the assignment
// field from the JSON body (simdjson On-Demand, before the body is parsed against the
// variant's signature), hashing it to a bucket and finding the arm; and the same request's
// full parse against the model's signature, for scale. bench/serve_variants.sh measures the
// whole request over HTTP.

#include <benchmark/benchmark.h>

#include <string>

#include "model/policy.h"
#include "serve/endpoints.h"
#include "serve/predict_request.h"
#include "serve/tracing.h"

namespace fraudops::bench {
namespace {

/// A transaction of the built-in dataset's shape (Time, V1..V28, Amount) and a card id.
std::string Transaction(int card) {
  std::string body = "{\"Time\":9674.0";
  for (int i = 1; i <= 28; ++i)
    body += ",\"V" + std::to_string(i) + "\":" + std::to_string(0.1234567 * i - 1.5);
  body += ",\"Amount\":42.5,\"card_id\":\"card-" + std::to_string(card) + "\"}";
  return body;
}

InputSignature Signature() {
  InputSignature signature;
  signature.features.push_back({"Time", false, {}, {}});
  for (int i = 1; i <= 28; ++i)
    signature.features.push_back({"V" + std::to_string(i), false, {}, {}});
  signature.features.push_back({"Amount", false, {}, {}});
  return signature;
}

void BM_AbChoice(benchmark::State& state) {
  EndpointSnapshot snapshot;
  snapshot.ab.resize(2);
  snapshot.ab[0].name = "v6";
  snapshot.ab[0].end = kAbBuckets * 7 / 10;
  snapshot.ab[1].name = "v7";
  snapshot.ab[1].end = kAbBuckets;
  std::vector<std::string> bodies;
  for (int card = 0; card < 1024; ++card) bodies.push_back(Transaction(card));
  size_t i = 0, to_v7 = 0;
  for (auto _ : state) {
    std::string& body = bodies[i++ & 1023];
    auto value = AssignmentValue(body, "card_id");
    const AbArm& arm = snapshot.ArmFor(AbBucket(*value));
    to_v7 += arm.name == "v7";
    benchmark::DoNotOptimize(to_v7);
  }
  state.counters["share_v7"] = static_cast<double>(to_v7) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_AbChoice);

void BM_ParsePredictBody(benchmark::State& state) {
  const FeatureEncoder encoder(Signature());
  std::string body = Transaction(7);
  ParsedRows rows;
  RequestError error;
  for (auto _ : state) {
    bool ok = ParsePredictBody(body, "application/json", encoder, 100, &rows, &error, "card_id");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_ParsePredictBody);

/// A policy of 20 rules over amount, country, hour, card age and the score, for a request that
/// none of them catches (every rule is evaluated; the default decides): the worst case.
void BM_Policy20Rules(benchmark::State& state) {
  std::string text;
  for (int i = 0; i < 20; ++i) {
    switch (i % 4) {
      case 0:
        text += "r" + std::to_string(i) + ": amount > " + std::to_string(5000 + i) +
                " and score > 0.3 -> review\n";
        break;
      case 1:
        text += "r" + std::to_string(i) + ": country in [\"XX\", \"YY\", \"Z" + std::to_string(i) +
                "\"] -> decline\n";
        break;
      case 2:
        text += "r" + std::to_string(i) + ": hour < 5 and amount / (avg_amount + 1) > " +
                std::to_string(i) + " -> review\n";
        break;
      default:
        text += "r" + std::to_string(i) + ": missing(card_age) or score >= 0.9" +
                std::to_string(i) + " -> decline\n";
        break;
    }
  }
  text += "default -> approve\n";
  auto policy = DecisionPolicy::Parse(text, "bench");
  if (!policy.ok()) {
    state.SkipWithError(policy.status().message().c_str());
    return;
  }
  std::vector<PolicyValue> values;
  for (const std::string& field : policy->fields()) {
    if (field == "country")
      values.push_back(PolicyValue::String("FR"));
    else if (field == "hour")
      values.push_back(PolicyValue::Number(14));
    else if (field == "score")
      values.push_back(PolicyValue::Number(0.12));
    else
      values.push_back(PolicyValue::Number(120));
  }
  for (auto _ : state) {
    PolicyDecision decision = policy->Evaluate(values);
    benchmark::DoNotOptimize(decision);
  }
}
BENCHMARK(BM_Policy20Rules);

/// What tracing adds to a scoring request's own thread (issue 19's goal: <= 5 % of the
/// throughput at 100 % sampling): the spans of a scoring request as the server records them
/// (server, auth, parse, score; six attributes) and their hand-over to the exporter's queue.
/// Argument 0: tracing off (a trace id for the logs, nothing recorded); 1: on, every request
/// sampled. The exporter posts to a closed port: its failures drop batches on its own thread,
/// so the queue never fills and each iteration pays the full hand-over.
void BM_RequestTrace(benchmark::State& state) {
  Tracer tracer({.url = state.range(0) ? "http://127.0.0.1:1/v1/traces" : "",
                 .queue_spans = 65536,
                 .flush_interval = std::chrono::milliseconds(5),
                 .timeout_seconds = 1});
  const std::string_view parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  for (auto _ : state) {
    // The clock readings the server takes for its metrics whether it traces or not (the
    // request's start, the scoring handler's start, the scoring's start and end), which the
    // trace reuses.
    RequestTrace trace(&tracer, parent, std::chrono::steady_clock::now());
    { RequestTrace::ScopedSpan span("auth", 1, std::chrono::steady_clock::now()); }
    trace.SetAttribute("fraudops.endpoint", "fraud-detector");
    trace.SetAttribute("fraudops.variant", "production");
    trace.SetAttribute("fraudops.model", "fraud-detector@1");
    { RequestTrace::ScopedSpan span("parse"); }
    const auto scoring_start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(scoring_start);
    RequestTrace::AddSpan("score", scoring_start, std::chrono::steady_clock::now());
    if (trace.sampled()) {
      trace.SetName("POST", "/v1/endpoints/{name}/predict");
      trace.SetAttribute("http.request.method", "POST");
      trace.SetAttribute("http.route", "/v1/endpoints/{name}/predict");
      trace.SetAttribute("http.response.status_code", int64_t{200});
    }
    std::string header = trace.ResponseTraceParent();
    benchmark::DoNotOptimize(header);
  }
  state.counters["dropped"] = static_cast<double>(tracer.dropped());
}
BENCHMARK(BM_RequestTrace)->Arg(0)->Arg(1);

/// The exporter's encoding of a batch (512 scoring requests' records as BM_RequestTrace
/// records them: 4 spans, 7 attributes each, queued one after another) into one OTLP/HTTP
/// body; per span.
/// Argument 0: JSON; 1: protobuf.
void BM_OtlpEncode(benchmark::State& state) {
  std::string queued;
  for (size_t i = 0; i < 512; ++i) {
    TraceRecord record;
    record.trace_id = Tracer::NewTraceId();
    const size_t server = record.AddSpan("POST /v1/endpoints/{name}/predict",
                                         TraceRecord::kRemoteParent, 2, 1764000000000000000);
    for (const char* step : {"auth", "parse", "score"}) {
      const size_t span =
          record.AddSpan(step, static_cast<uint8_t>(server), 1, 1764000000000001000);
      record.spans[span].end_unix_ns = 1764000000000002000;
    }
    record.AddAttribute(server, "fraudops.endpoint", "fraud-detector");
    record.AddAttribute(server, "fraudops.variant", "production");
    record.AddAttribute(server, "fraudops.model", "fraud-detector@1");
    record.AddAttribute(server, "http.request.method", "POST");
    record.AddAttribute(server, "http.route", "/v1/endpoints/{name}/predict");
    record.AddAttribute(server, "http.response.status_code", int64_t{200});
    record.spans[server].end_unix_ns = 1764000000000040000;
    record.AppendTo(queued);
  }
  std::string buffer;
  OtlpBatch batch;
  for (auto _ : state) {
    batch = state.range(0) == 1 ? EncodeOtlpProtobuf(queued, "fraudops", "1.0.0", buffer)
                                : EncodeOtlpJson(queued, "fraudops", "1.0.0", buffer);
    benchmark::DoNotOptimize(batch.body.data());
  }
  state.SetItemsProcessed(state.iterations() * 512 * 4);  // spans
  state.counters["body_bytes"] = static_cast<double>(batch.body.size());
}
BENCHMARK(BM_OtlpEncode)->Arg(0)->Arg(1);

}  // namespace
}  // namespace fraudops::bench
