// The feature store's speed (BENCHMARKS.md): the point-in-time join of 284,807 labelled rows
// against 2,000,000 feature rows over 3 groups, and online reads of one entity's record
// (embedded store; Redis when FOPS_BENCH_REDIS_URL is set).
//
//   fraudops_features_bench join DIR [REPEATS]   writes DIR/labels.csv and DIR/<group>.csv (the
//                                                data, for pandas), times the join, writes
//                                                DIR/fraudops.csv (the joined values)
//   fraudops_features_bench online DIR           p50/p99 of single-entity reads
//   fraudops_features_bench stream-load URL STREAM N   appends N transactions to STREAM
//
// The data: 3 groups keyed by card (100,000), merchant (20,000) and device (200,000), each
// row a numeric value at an event time over 30 days; each labelled row names one of each and
// a moment. Created time = event time, TTL 7 days (pandas: merge_asof with tolerance).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/redis.h"
#include "core/thread_pool.h"
#include "features/online_store.h"
#include "features/point_in_time.h"

namespace fraudops {
namespace {

constexpr size_t kLabels = 284807;
constexpr size_t kRowsPerGroup[3] = {1000000, 400000, 600000};  // 2,000,000 in all
constexpr size_t kEntities[3] = {100000, 20000, 200000};
constexpr const char* kGroups[3] = {"card", "merchant", "device"};
constexpr EventTime kSpan = 30LL * 86400 * kMicrosPerSecond;

FeatureGroup Group(size_t g) {
  FeatureGroup group;
  group.name = kGroups[g];
  group.entities = {"key"};
  group.event_time = "t";
  group.created_time = "t";
  group.ttl = 7LL * 86400 * kMicrosPerSecond;
  group.columns = {{"value", false}};
  return group;
}

/// Times in whole seconds so both sides read the same numbers from the CSV.
FeatureTable Table(size_t g, std::mt19937_64& random) {
  FeatureTable table;
  table.group = kGroups[g];
  for (size_t e = 0; e < kEntities[g]; ++e) table.keys.push_back(std::to_string(e));
  table.columns = {{"value", ColumnType::kNumeric, {}, ""}};
  table.values.resize(1);
  for (size_t r = 0; r < kRowsPerGroup[g]; ++r) {
    table.key.push_back(static_cast<uint32_t>(random() % kEntities[g]));
    const EventTime t =
        static_cast<EventTime>(random() % (kSpan / kMicrosPerSecond)) * kMicrosPerSecond;
    table.event.push_back(t);
    table.available.push_back(t);
    table.ingested.push_back(0);
    table.values[0].push_back(static_cast<float>(random() % 100000) / 100.0f);
  }
  return table;
}

int Join(const std::string& dir, int repeats) {
  std::mt19937_64 random(2026);
  std::vector<FeatureTable> tables;
  for (size_t g = 0; g < 3; ++g) tables.push_back(Table(g, random));
  std::vector<std::vector<std::string>> keys(3, std::vector<std::string>(kLabels));
  std::vector<EventTime> times(kLabels);
  for (size_t i = 0; i < kLabels; ++i) {
    for (size_t g = 0; g < 3; ++g) keys[g][i] = std::to_string(random() % kEntities[g]);
    times[i] = static_cast<EventTime>(random() % (kSpan / kMicrosPerSecond)) * kMicrosPerSecond;
  }
  // The data as CSV, for the peer.
  {
    std::ofstream labels(dir + "/labels.csv");
    labels << "row,card,merchant,device,t\n";
    for (size_t i = 0; i < kLabels; ++i)
      labels << i << ',' << keys[0][i] << ',' << keys[1][i] << ',' << keys[2][i] << ','
             << times[i] / kMicrosPerSecond << '\n';
    for (size_t g = 0; g < 3; ++g) {
      std::ofstream out(dir + "/" + kGroups[g] + ".csv");
      out << "key,t,value\n";
      char value[32];
      for (size_t r = 0; r < tables[g].rows(); ++r) {
        std::snprintf(value, sizeof value, "%.2f", static_cast<double>(tables[g].values[0][r]));
        out << tables[g].keys[tables[g].key[r]] << ',' << tables[g].event[r] / kMicrosPerSecond
            << ',' << value << '\n';
      }
    }
  }
  ThreadPool pool(0);
  std::vector<std::vector<JoinedColumn>> joined(3);
  std::vector<double> seconds;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    for (size_t g = 0; g < 3; ++g) {
      std::vector<std::string_view> views(keys[g].begin(), keys[g].end());
      auto result = PointInTimeJoin(Group(g), tables[g], {"value"}, views, times, &pool);
      if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
        return 1;
      }
      joined[g] = std::move(*result);
    }
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf(
      "fraudops_pit_join seconds=%.4f (median of %d; best %.4f) labels=%zu feature_rows=%zu "
      "threads=%d\n",
      seconds[seconds.size() / 2], repeats, seconds[0], kLabels,
      kRowsPerGroup[0] + kRowsPerGroup[1] + kRowsPerGroup[2], pool.size());
  std::ofstream out(dir + "/fraudops.csv");
  out << "row,card,merchant,device\n";
  char text[96];
  for (size_t i = 0; i < kLabels; ++i) {
    std::snprintf(
        text, sizeof text, "%zu,%.9g,%.9g,%.9g\n", i, static_cast<double>(joined[0][0].values[i]),
        static_cast<double>(joined[1][0].values[i]), static_cast<double>(joined[2][0].values[i]));
    out << text;
  }
  return 0;
}

int Online(const std::string& dir) {
  std::mt19937_64 random(7);
  FeatureGroup group;
  group.name = "card";
  group.entities = {"key"};
  group.event_time = "t";
  group.created_time = "t";
  group.columns = {{"value", false}};
  group.aggregates = {{"n_1h", AggregateFunction::kCount, "", 3600 * kMicrosPerSecond, ""},
                      {"n_24h", AggregateFunction::kCount, "", 86400 * kMicrosPerSecond, ""},
                      {"sum_1h", AggregateFunction::kSum, "value", 3600 * kMicrosPerSecond, ""},
                      {"max_24h", AggregateFunction::kMax, "value", 86400 * kMicrosPerSecond, ""}};
  FeatureTable table;
  table.group = "card";
  const size_t entities = 100000;
  for (size_t e = 0; e < entities; ++e) table.keys.push_back(std::to_string(e));
  table.columns = {{"value", ColumnType::kNumeric, {}, ""}};
  table.values.resize(1);
  const EventTime day = 86400 * kMicrosPerSecond;
  for (size_t r = 0; r < 2000000; ++r) {  // 20 events a card over 2 days
    table.key.push_back(static_cast<uint32_t>(random() % entities));
    const EventTime t = static_cast<EventTime>(random() % (2 * day));
    table.event.push_back(t);
    table.available.push_back(t);
    table.ingested.push_back(0);
    table.values[0].push_back(static_cast<float>(random() % 100000) / 100.0f);
  }
  auto reader = GroupReader::Create(group, group.FeatureNames());
  std::vector<std::pair<std::string, OnlineStoreOptions>> stores;
  OnlineStoreOptions embedded;
  embedded.embedded_path = dir + "/online/features.log";
  std::filesystem::remove_all(dir + "/online");
  stores.emplace_back("embedded", embedded);
  if (const char* redis = std::getenv("FOPS_BENCH_REDIS_URL"); redis && *redis) {
    OnlineStoreOptions options;
    options.url = redis;
    stores.emplace_back("redis", options);
  }
  for (auto& [name, options] : stores) {
    auto store = OpenOnlineStore(options);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    auto written = Materialize(**store, group, table, 2 * day);
    if (!written.ok()) {
      std::fprintf(stderr, "%s\n", written.status().ToString().c_str());
      return 1;
    }
    std::vector<double> get_us, read_us;
    std::vector<std::optional<std::string>> found;
    std::vector<PolicyValue> values;
    for (int i = 0; i < 100000; ++i) {
      const std::string key = OnlineKey("card", std::to_string(random() % entities));
      const auto start = std::chrono::steady_clock::now();
      Status got = (*store)->Get(std::span<const std::string>(&key, 1), &found);
      const auto fetched = std::chrono::steady_clock::now();
      if (!got.ok() || !found[0]) return 1;
      auto record = OnlineRecord::Decode(*found[0], reader->slots());
      reader->Read(&*record, 2 * day, values);
      const auto done = std::chrono::steady_clock::now();
      get_us.push_back(std::chrono::duration<double, std::micro>(fetched - start).count());
      read_us.push_back(std::chrono::duration<double, std::micro>(done - start).count());
    }
    auto pct = [](std::vector<double>& v, double p) {
      std::sort(v.begin(), v.end());
      return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
    };
    std::printf(
        "online_read store=%s entities=%zu window_events=%zu get_p50_us=%.2f get_p99_us=%.2f "
        "get_and_compute_p50_us=%.2f get_and_compute_p99_us=%.2f (100,000 single-entity reads)\n",
        name.c_str(), written->entities, written->events, pct(get_us, 0.5), pct(get_us, 0.99),
        pct(read_us, 0.5), pct(read_us, 0.99));
  }
  return 0;
}

/// Appends `events` transactions (the built-in data's shape, as JSON in `data`) to `stream`.
int StreamLoad(const std::string& url, const std::string& stream, size_t events) {
  auto redis = RedisClient::Connect(url, "url", "redis", {});
  if (!redis.ok()) {
    std::fprintf(stderr, "%s\n", redis.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 random(3);
  std::vector<std::vector<std::string>> batch;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < events; ++i) {
    std::string data = "{\"transaction_id\": \"tx-" + std::to_string(i) +
                       "\", \"Time\": " + std::to_string(random() % 172800);
    for (int v = 1; v <= 28; ++v) {
      data +=
          ", \"V" + std::to_string(v) + "\": " +
          std::to_string(static_cast<double>(static_cast<int64_t>(random() % 4000) - 2000) / 1000);
    }
    data += ", \"Amount\": " + std::to_string(random() % 50000 / 100.0) + "}";
    batch.push_back({"XADD", stream, "*", "data", std::move(data)});
    if (batch.size() == 1000 || i + 1 == events) {
      if (!(*redis)->Pipeline(batch).ok()) return 1;
      batch.clear();
    }
  }
  std::printf("loaded %zu events in %.2f s\n", events,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace
}  // namespace fraudops

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fraudops_features_bench join|online DIR [REPEATS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "join") return fraudops::Join(argv[2], argc > 3 ? std::atoi(argv[3]) : 3);
  if (mode == "online") return fraudops::Online(argv[2]);
  if (mode == "stream-load" && argc > 4)
    return fraudops::StreamLoad(argv[2], argv[3], static_cast<size_t>(std::atoll(argv[4])));
  return 2;
}
