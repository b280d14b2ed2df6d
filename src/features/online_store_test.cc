#include "features/online_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>
#include <unordered_map>

#include "../../tests/server_util.h"
#include "../../tests/test_util.h"
#include "core/redis.h"
#include "features/enricher.h"
#include "features/point_in_time.h"

namespace fraudops {
namespace {

FeatureGroup CardGroup() {
  auto groups = ParseFeatureGroups(R"(
feature_groups:
  - name: cards
    entities: [card_id]
    event_time: Time
    created_time: Time
    ttl: 2h
    columns: {Amount: numeric, merchant: categorical}
    aggregates:
      - {name: n_10m, function: count, window: 10m}
      - {name: n_24h, function: count, window: 24h}
      - {name: sum_1h, function: sum, column: Amount, window: 1h}
      - {name: mean_1h, function: mean, column: Amount, window: 1h}
      - {name: min_24h, function: min, column: Amount, window: 24h}
      - {name: max_24h, function: max, column: Amount, window: 24h}
      - {name: merchants_24h, function: distinct_count, column: merchant, window: 24h}
      - {name: big_1h, function: count, window: 1h, filter: 'Amount > 150 and merchant != "m3"'}
)",
                                   "cards.yml");
  EXPECT_TRUE(groups.ok()) << groups.status().ToString();
  return (*groups)[0];
}

/// Offline = online: a stream of 100,000 card transactions replayed through the online path
/// (each event applied to its card's record — encoded and decoded every time, as a store
/// would — then the features read at its moment) gives, for every event, exactly what the
/// offline point-in-time join gives with the events as labelled rows.
TEST(OnlineStoreTest, ReplayingAStreamGivesExactlyTheOfflineFeatures) {
  const FeatureGroup group = CardGroup();
  std::mt19937_64 random(11);
  FeatureTable table;
  table.group = group.name;
  table.columns = {{"Amount", ColumnType::kNumeric, {}, ""},
                   {"merchant", ColumnType::kCategorical, {"m0", "m1", "m2", "m3", "m4"}, ""}};
  table.values.resize(2);
  const size_t events = 100000, cards = 3000;
  for (size_t i = 0; i < cards; ++i) table.keys.push_back("card-" + std::to_string(i));
  EventTime t = 1700000000 * kMicrosPerSecond;
  for (size_t i = 0; i < events; ++i) {
    t += 1 + static_cast<EventTime>(random() % (3 * kMicrosPerSecond));  // distinct, increasing
    // A few busy cards so windows fill up.
    const uint32_t card = random() % 10 == 0 ? static_cast<uint32_t>(random() % 20)
                                             : static_cast<uint32_t>(random() % cards);
    table.key.push_back(card);
    table.event.push_back(t);
    table.available.push_back(t);
    table.ingested.push_back(0);
    table.values[0].push_back(random() % 50 == 0 ? NAN
                                                 : static_cast<float>(random() % 30000) / 100);
    table.values[1].push_back(random() % 40 == 0 ? NAN : static_cast<float>(random() % 5));
  }
  const std::vector<std::string> features = group.FeatureNames();
  std::vector<std::string_view> keys;
  for (uint32_t k : table.key) keys.push_back(table.keys[k]);
  auto offline = PointInTimeJoin(group, table, features, keys, table.event, nullptr);
  ASSERT_TRUE(offline.ok()) << offline.status().ToString();

  auto updater = OnlineUpdater::Create(group);
  auto reader = GroupReader::Create(group, features);
  ASSERT_TRUE(updater.ok() && reader.ok());
  std::unordered_map<uint32_t, std::string> store;  // what an online store would hold
  std::vector<PolicyValue> columns(2), read;
  size_t compared = 0, busy = 0;
  for (size_t i = 0; i < events; ++i) {
    const uint32_t card = table.key[i];
    OnlineRecord record;
    if (auto it = store.find(card); it != store.end()) {
      auto decoded = OnlineRecord::Decode(it->second, reader->slots());
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      record = std::move(*decoded);
    }
    const float amount = table.values[0][i], merchant = table.values[1][i];
    columns[0] = std::isnan(amount) ? PolicyValue() : PolicyValue::Number(amount);
    columns[1] =
        std::isnan(merchant)
            ? PolicyValue()
            : PolicyValue::String(table.columns[1].categories[static_cast<size_t>(merchant)]);
    updater->Apply(record, table.event[i], table.available[i], columns);
    store[card] = record.Encode();
    reader->Read(&record, table.event[i], read);
    for (size_t f = 0; f < features.size(); ++f) {
      const float want = (*offline)[f].values[i];
      const JoinedColumn& column = (*offline)[f];
      if (column.schema.type == ColumnType::kCategorical) {
        ASSERT_EQ(std::isnan(want), read[f].kind == PolicyValue::Kind::kMissing) << i;
        if (!std::isnan(want)) {
          ASSERT_EQ(read[f].text, column.schema.categories[static_cast<size_t>(want)]) << i;
        }
        continue;
      }
      const float got = read[f].kind == PolicyValue::Kind::kNumber
                            ? static_cast<float>(read[f].number)
                            : std::numeric_limits<float>::quiet_NaN();
      ASSERT_TRUE(std::isnan(want) ? std::isnan(got) : got == want)
          << features[f] << " at event " << i << ": online " << got << ", offline " << want;
      ++compared;
    }
    busy += read[3].number >= 5;  // n_24h: the windows are not trivially empty
  }
  EXPECT_EQ(compared, events * (features.size() - 1));
  EXPECT_GT(busy, 10000u);
}

TEST(OnlineStoreTest, RecordsRefuseMalformedBytes) {
  OnlineRecord record;
  record.has_latest = true;
  record.event = 5;
  record.latest = {PolicyInput::Number(1.5), PolicyInput::String("shop"), PolicyInput()};
  double slot = 2;
  record.window.Add(3, 1, &slot, 1);
  const std::string bytes = record.Encode();
  auto back = OnlineRecord::Decode(bytes, 1);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->Encode(), bytes);
  for (size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_FALSE(OnlineRecord::Decode(bytes.substr(0, cut), 1).ok()) << cut;
  EXPECT_FALSE(OnlineRecord::Decode(bytes, 2).ok());  // another group's shape
  // A group without aggregates: an empty window, and no latest row yet.
  const std::string empty = OnlineRecord().Encode();
  auto none = OnlineRecord::Decode(empty, 0);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_latest);
  EXPECT_EQ(none->window.size(), 0u);
  EXPECT_EQ(none->Encode(), empty);
}

/// A counter kept in the store, incremented by `threads` writers at once.
void IncrementConcurrently(OnlineStore& a, OnlineStore& b, int per_thread) {
  const std::string key = "fraudops:features:test:counter";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      OnlineStore& store = t % 2 ? a : b;
      for (int i = 0; i < per_thread; ++i) {
        Status s = store.Update(
            std::span<const std::string>(&key, 1),
            [](size_t, const std::optional<std::string>& current) {
              return Result<std::string>(std::to_string((current ? std::stoll(*current) : 0) + 1));
            });
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST(OnlineStoreTest, TheEmbeddedStoreIsSharedByProcessesAndSurvivesRestarts) {
  testing::TempDir dir;
  OnlineStoreOptions options;
  options.embedded_path = dir.File("online/features.log");
  options.refresh = std::chrono::milliseconds(0);
  auto one = OpenOnlineStore(options);
  auto two = OpenOnlineStore(options);  // another process's view of the same file
  ASSERT_TRUE(one.ok() && two.ok()) << one.status().ToString();
  const std::pair<std::string, std::string> entry = {"k1", "v1"};
  ASSERT_TRUE((*one)->Put(std::span(&entry, 1)).ok());
  std::vector<std::optional<std::string>> got;
  const std::string k1 = "k1", missing = "nope";
  ASSERT_TRUE((*two)->Get(std::vector<std::string>{k1, missing}, &got).ok());
  EXPECT_EQ(got[0], "v1");
  EXPECT_FALSE(got[1].has_value());
  IncrementConcurrently(**one, **two, 200);
  one->reset();
  two->reset();
  auto again = OpenOnlineStore(options);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(
      (*again)->Get(std::vector<std::string>{k1, "fraudops:features:test:counter"}, &got).ok());
  EXPECT_EQ(got[0], "v1");
  EXPECT_EQ(got[1], "800");  // no update lost between the two writers
  // A damaged file is refused with what to do.
  again->reset();
  {
    std::FILE* f = std::fopen(options.embedded_path.c_str(), "ab");
    const char junk[8] = {0, 0, 0, 0, 1, 0, 0, 0};
    std::fwrite(junk, 1, sizeof junk, f);
    std::fclose(f);
  }
  auto damaged = OpenOnlineStore(options);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.status().message().find("materialize"), std::string::npos);
}

TEST(OnlineStoreTest, RedisHoldsRecordsForReplicasWithoutLostUpdates) {
  FOPS_NEED_SERVER(redis, "FOPS_TEST_REDIS_URL");
  OnlineStoreOptions options;
  options.url = redis;
  auto one = OpenOnlineStore(options);
  auto two = OpenOnlineStore(options);
  ASSERT_TRUE(one.ok() && two.ok()) << one.status().ToString();
  auto client = RedisClient::Connect(redis, "test", "redis", {});
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Command({"DEL", "fraudops:features:test:counter", "k1"}).ok());
  const std::pair<std::string, std::string> entry = {"k1", std::string("v\0 1", 4)};
  ASSERT_TRUE((*one)->Put(std::span(&entry, 1)).ok());
  std::vector<std::optional<std::string>> got;
  ASSERT_TRUE((*two)->Get(std::vector<std::string>{"k1", "nope"}, &got).ok());
  EXPECT_EQ(got[0], std::string("v\0 1", 4));
  EXPECT_FALSE(got[1].has_value());
  IncrementConcurrently(**one, **two, 100);
  ASSERT_TRUE((*one)->Get(std::vector<std::string>{"fraudops:features:test:counter"}, &got).ok());
  EXPECT_EQ(got[0], "400");
  // Unreachable: an error naming the store, after the timeout, not a hang.
  options.url = "redis://127.0.0.1:1/0";
  options.connect_now = false;
  auto down = OpenOnlineStore(options);
  ASSERT_TRUE(down.ok());
  Status refused = (*down)->Get(std::vector<std::string>{"k1"}, &got);
  EXPECT_EQ(refused.code(), StatusCode::kIoError);
  EXPECT_NE(refused.message().find("the online store redis://127.0.0.1:1/0"), std::string::npos)
      << refused.message();
}

}  // namespace
}  // namespace fraudops
