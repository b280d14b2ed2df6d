#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "../../tests/backend_store.h"
#include "../../tests/test_util.h"
#include "core/thread_pool.h"
#include "data/csv_reader.h"
#include "features/aggregation.h"
#include "features/event_time.h"
#include "features/feature_group.h"
#include "features/feature_store.h"
#include "features/feature_table.h"
#include "features/point_in_time.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"

namespace fraudops {
namespace {

constexpr EventTime kSecond = kMicrosPerSecond;
constexpr EventTime kMinute = 60 * kSecond;

TEST(EventTimeTest, ReadsNumbersDatesAndIsoTimes) {
  EXPECT_EQ(ParseEventTime("0"), 0);
  EXPECT_EQ(ParseEventTime("172792.5"), 172792500000);
  EXPECT_EQ(ParseEventTime("1700000000"), 1700000000 * kSecond);
  EXPECT_EQ(ParseEventTime("2024-03-01"), 1709251200 * kSecond);
  EXPECT_EQ(ParseEventTime("2024-03-01T12:30:05Z"), (1709251200 + 45005) * kSecond);
  EXPECT_EQ(ParseEventTime("2024-03-01 12:30:05"), (1709251200 + 45005) * kSecond);
  EXPECT_EQ(ParseEventTime("2024-03-01T12:30:05.25+01:00"),
            (1709251200 + 45005 - 3600) * kSecond + 250000);
  EXPECT_EQ(ParseEventTime("2024-03-01T12:30:05-0500"), (1709251200 + 45005 + 18000) * kSecond);
  EXPECT_EQ(ParseEventTime("2024-03-01T12:30"), (1709251200 + 45000) * kSecond);
  for (const char* bad : {"", "soon", "2024-02-30", "2024-13-01", "2024-03-01T25:00",
                          "2024-03-01T12:30:05Q", "2024-03-01T12:30:05.", "nan", "1e300"})
    EXPECT_FALSE(ParseEventTime(bad).has_value()) << bad;
  for (EventTime t : {EventTime{0}, EventTime{1709296205250000}, EventTime{-86400500000}}) {
    EXPECT_EQ(ParseEventTime(FormatEventTime(t)), t) << FormatEventTime(t);
  }
  EXPECT_EQ(FormatEventTime(1709296205 * kSecond), "2024-03-01T12:30:05Z");
}

const char* kGroups = R"(
feature_groups:
  - name: card_activity
    entities: [card_id]
    event_time: Time
    created_time: Time
    ttl: 1h
    owner: fraud-analytics
    columns: {Amount: numeric, merchant: categorical}
    aggregates:
      - {name: tx_10m, function: count, window: 10m}
      - {name: amount_1h, function: sum, column: Amount, window: 1h}
      - {name: big_10m, function: count, window: 10m, filter: "Amount > 100"}
      - {name: merchants_1h, function: distinct_count, column: merchant, window: 1h}
      - {name: mean_1h, function: mean, column: Amount, window: 1h}
      - {name: min_1h, function: min, column: Amount, window: 1h}
      - {name: max_1h, function: max, column: Amount, window: 1h}
)";

TEST(FeatureGroupTest, ParsesDefinitionsAndRoundTripsThemThroughJson) {
  auto groups = ParseFeatureGroups(kGroups, "groups.yml");
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  const FeatureGroup& g = (*groups)[0];
  EXPECT_EQ(g.entities, std::vector<std::string>{"card_id"});
  EXPECT_EQ(g.ttl, 60 * kMinute);
  EXPECT_EQ(g.FeatureNames().size(), 9u);
  EXPECT_EQ(g.MaxWindow(), 60 * kMinute);
  auto again = FeatureGroup::FromJson(g.ToJson(), "json");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->ToJson().dump(), g.ToJson().dump());
}

TEST(FeatureGroupTest, ErrorsNameTheFileLineAndWhatIsAccepted) {
  auto message = [](const std::string& yaml) {
    auto parsed = ParseFeatureGroups(yaml, "g.yml");
    EXPECT_FALSE(parsed.ok()) << yaml;
    return parsed.ok() ? std::string() : parsed.status().message();
  };
  std::string m = message("feature_groups:\n  - name: a\n    entitys: [x]\n    event_time: t\n");
  EXPECT_NE(m.find("g.yml:2:5"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'entities'"), std::string::npos) << m;
  m = message(
      "feature_groups:\n  - {name: a, entities: x, event_time: t, columns: {v: numeric},\n"
      "     aggregates: [{name: s, function: total, column: v, window: 1h}]}\n");
  EXPECT_NE(m.find("accepted: count, sum"), std::string::npos) << m;
  m = message(
      "feature_groups:\n  - {name: a, entities: x, event_time: t, columns: {v: categorical},\n"
      "     aggregates: [{name: s, function: sum, column: v, window: 1h}]}\n");
  EXPECT_NE(m.find("needs a numeric column"), std::string::npos) << m;
  m = message(
      "feature_groups:\n  - {name: a, entities: x, event_time: t, columns: {v: numeric},\n"
      "     aggregates: [{name: s, function: count, window: 1h, filter: 'w > 1'}]}\n");
  EXPECT_NE(m.find("reads 'w'"), std::string::npos) << m;
  m = message(
      "feature_groups:\n  - {name: a, entities: x, event_time: t, columns: {v: numeric},\n"
      "     aggregates: [{name: s, function: count, window: soon}]}\n");
  EXPECT_NE(m.find("'soon' is not a duration"), std::string::npos) << m;
  m = message(
      "feature_groups:\n  - {name: a__b, entities: x, event_time: t, columns: {v: numeric}}\n");
  EXPECT_NE(m.find("'__'"), std::string::npos) << m;
  m = message("feature_groups:\n  - {name: a, entities: x, event_time: t}\n");
  EXPECT_NE(m.find("has no features"), std::string::npos) << m;
  m = message("feature_groups: [\n");
  EXPECT_NE(m.find("malformed YAML"), std::string::npos) << m;
}

TEST(FeatureGroupTest, ChangesThatWouldChangeStoredRowsNeedANewName) {
  FeatureGroup a = (*ParseFeatureGroups(kGroups, "g"))[0];
  FeatureGroup b = a;
  b.description = "more words";
  b.columns.push_back({"country", true});
  EXPECT_TRUE(CheckCompatible(a, b).ok());
  b = a;
  b.columns[0].categorical = true;
  EXPECT_NE(CheckCompatible(a, b).message().find("changed type"), std::string::npos);
  b = a;
  b.entities = {"customer"};
  EXPECT_EQ(CheckCompatible(a, b).code(), StatusCode::kConflict);
}

/// A group with one numeric and one categorical column, and a table of rows built by hand.
struct FeatureFixture {
  FeatureGroup group;
  FeatureTable table;
  FeatureFixture() {
    group = (*ParseFeatureGroups(kGroups, "g"))[0];
    table.group = group.name;
    table.columns = {{"Amount", ColumnType::kNumeric, {}, ""},
                     {"merchant", ColumnType::kCategorical, {"m0", "m1", "m2"}, ""}};
    table.values.resize(2);
  }
  void Add(const std::string& key, EventTime event, EventTime available, float amount, int merchant,
           EventTime ingested = 0) {
    auto it = std::find(table.keys.begin(), table.keys.end(), key);
    if (it == table.keys.end()) {
      table.keys.push_back(key);
      it = table.keys.end() - 1;
    }
    table.key.push_back(static_cast<uint32_t>(it - table.keys.begin()));
    table.event.push_back(event);
    table.available.push_back(available);
    table.ingested.push_back(ingested);
    table.values[0].push_back(amount);
    table.values[1].push_back(merchant < 0 ? std::numeric_limits<float>::quiet_NaN()
                                           : static_cast<float>(merchant));
  }
  std::vector<JoinedColumn> Join(const std::vector<std::string>& features,
                                 const std::vector<std::string>& keys,
                                 const std::vector<EventTime>& times) {
    std::vector<std::string_view> views(keys.begin(), keys.end());
    auto joined = PointInTimeJoin(group, table, features, views, times, nullptr);
    EXPECT_TRUE(joined.ok()) << joined.status().ToString();
    return joined.ok() ? std::move(*joined) : std::vector<JoinedColumn>();
  }
};

TEST(PointInTimeTest, WindowsStartInclusiveAndEndBeforeTheMoment) {
  FeatureFixture f;
  const EventTime t = 100 * kMinute;
  f.Add("c", t - 10 * kMinute, 0, 1, 0);      // exactly at t - 10m: inside the 10m window
  f.Add("c", t - 10 * kMinute - 1, 0, 2, 0);  // one microsecond earlier: outside
  f.Add("c", t - 1, 0, 4, 1);                 // just before t: inside
  f.Add("c", t, 0, 8, 2);                     // at t: not part of t's features
  auto out = f.Join({"tx_10m", "amount_1h", "merchants_1h", "mean_1h", "min_1h", "max_1h"},
                    {"c", "c", "other"}, {t, t + 1, t});
  EXPECT_EQ(out[0].schema.name, "card_activity__tx_10m");
  EXPECT_EQ(out[0].values, (std::vector<float>{2, 2, 0}));  // at t+1 the one at t-10m left, t came
  EXPECT_EQ(out[1].values[0], 7);                           // 1 + 2 + 4
  EXPECT_EQ(out[1].values[1], 15);                          // + 8
  EXPECT_EQ(out[1].values[2], 0);                           // an unknown entity sums to 0
  EXPECT_EQ(out[2].values[0], 2);                           // m0, m1
  EXPECT_EQ(out[2].values[1], 3);
  EXPECT_FLOAT_EQ(out[3].values[0], 7.0f / 3);
  EXPECT_TRUE(std::isnan(out[3].values[2]));  // mean of nothing is missing
  EXPECT_EQ(out[4].values[0], 1);
  EXPECT_EQ(out[5].values[1], 8);
}

TEST(PointInTimeTest, LatestValuesRespectEventTimeAvailabilityAndTtl) {
  FeatureFixture f;
  const EventTime t = 1000 * kMinute;
  f.Add("a", t - 5 * kMinute, t - 5 * kMinute, 10, 0);
  f.Add("a", t - 2 * kMinute, t + 1, 20, 1);  // true before t but known only after: unseen at t
  f.Add("a", t + 1, t + 1, 30, 2);            // in the future of t
  f.Add("b", t - 60 * kMinute, t - 60 * kMinute, 40, 0);          // exactly the TTL old: kept
  f.Add("c", t - 60 * kMinute - 1, t - 60 * kMinute - 1, 50, 0);  // a microsecond older: expired
  f.Add("d", t - kMinute, t - kMinute, 60, 0, 5);
  f.Add("d", t - kMinute, t - kMinute, 61, 1, 9);  // same event time, ingested later: it wins
  auto out =
      f.Join({"Amount", "merchant"}, {"a", "a", "b", "c", "d", "zzz"}, {t, t + 1, t, t, t, t});
  EXPECT_EQ(out[0].values[0], 10);
  EXPECT_EQ(out[0].values[1], 30);
  EXPECT_EQ(out[0].values[2], 40);
  EXPECT_TRUE(std::isnan(out[0].values[3]));
  EXPECT_EQ(out[0].values[4], 61);
  EXPECT_TRUE(std::isnan(out[0].values[5]));
  // Categories: the ones used, in first-used order.
  EXPECT_EQ(out[1].schema.type, ColumnType::kCategorical);
  EXPECT_EQ(out[1].schema.categories, (std::vector<std::string>{"m0", "m2", "m1"}));
  EXPECT_EQ(out[1].values[1], 1);  // m2
}

TEST(PointInTimeTest, FilterKeepsOnlyMatchingEvents) {
  FeatureFixture f;
  const EventTime t = 100 * kMinute;
  for (int i = 0; i < 5; ++i) f.Add("c", t - (i + 1) * kMinute, 0, 60.0f * i, 0);
  auto out = f.Join({"big_10m", "tx_10m"}, {"c"}, {t});
  EXPECT_EQ(out[0].values[0], 3);  // 120, 180, 240
  EXPECT_EQ(out[1].values[0], 5);
}

/// Property: for random rows and label moments, every produced value is what a direct
/// reading of the definitions gives — never a row true or known after the moment, never
/// one older than the TTL.
TEST(PointInTimeTest, MatchesABruteForceReadingOfTheDefinitions) {
  std::mt19937_64 random(7);
  ThreadPool pool(3);
  size_t values_seen = 0, counts_seen = 0;  // the property is not met by missing values alone
  for (int round = 0; round < 60; ++round) {
    FeatureFixture f;
    const int keys = 1 + static_cast<int>(random() % 6);
    const int rows = static_cast<int>(random() % 400);
    auto time = [&] { return static_cast<EventTime>(random() % (180 * 60)) * kSecond / 3; };
    for (int r = 0; r < rows; ++r) {
      const EventTime event = time();
      const EventTime available = random() % 3 == 0 ? event + time() / 4 : event;
      const int merchant = static_cast<int>(random() % 4) - 1;
      const float amount = random() % 10 == 0 ? std::numeric_limits<float>::quiet_NaN()
                                              : static_cast<float>(random() % 400) / 2;
      f.Add("k" + std::to_string(random() % keys), event, available, amount, merchant,
            static_cast<EventTime>(random() % 3));
    }
    std::vector<std::string> label_keys;
    std::vector<EventTime> label_times;
    const int labels = 1 + static_cast<int>(random() % 300);
    for (int i = 0; i < labels; ++i) {
      label_keys.push_back("k" + std::to_string(random() % (keys + 1)));
      label_times.push_back(random() % 2 && !f.table.event.empty()
                                ? f.table.event[random() % f.table.event.size()]
                                : time());
    }
    const std::vector<std::string> features = f.group.FeatureNames();
    std::vector<std::string_view> views(label_keys.begin(), label_keys.end());
    auto joined = PointInTimeJoin(f.group, f.table, features, views, label_times,
                                  round % 2 ? &pool : nullptr);
    ASSERT_TRUE(joined.ok()) << joined.status().ToString();
    for (int i = 0; i < labels; ++i) {
      const EventTime t = label_times[i];
      // Latest values.
      int best = -1;
      for (size_t r = 0; r < f.table.rows(); ++r) {
        if (f.table.keys[f.table.key[r]] != label_keys[i] || f.table.event[r] > t ||
            f.table.available[r] > t)
          continue;
        auto rank = [&](size_t x) {
          return std::make_tuple(f.table.event[x], f.table.available[x], f.table.ingested[x], x);
        };
        if (best < 0 || rank(r) > rank(static_cast<size_t>(best))) best = static_cast<int>(r);
      }
      if (best >= 0 && f.table.event[best] < t - f.group.ttl) best = -1;
      const float amount = (*joined)[0].values[i];
      if (best < 0) {
        ASSERT_TRUE(std::isnan(amount)) << "round " << round << " label " << i;
      } else {
        ++values_seen;
        const float expected = f.table.values[0][best];
        ASSERT_TRUE(std::isnan(expected) ? std::isnan(amount) : amount == expected)
            << "round " << round << " label " << i;
        const float merchant = (*joined)[1].values[i];
        const float raw = f.table.values[1][best];
        ASSERT_EQ(std::isnan(merchant), std::isnan(raw));
        if (!std::isnan(raw)) {
          ASSERT_EQ((*joined)[1].schema.categories[static_cast<size_t>(merchant)],
                    f.table.columns[1].categories[static_cast<size_t>(raw)]);
        }
      }
      // Aggregates.
      for (size_t a = 0; a < f.group.aggregates.size(); ++a) {
        const AggregateSpec& spec = f.group.aggregates[a];
        double count = 0, sum = 0, lo = INFINITY, hi = -INFINITY, n = 0;
        std::vector<float> seen;
        for (size_t r = 0; r < f.table.rows(); ++r) {
          if (f.table.keys[f.table.key[r]] != label_keys[i] || f.table.event[r] >= t ||
              f.table.event[r] < t - spec.window || f.table.available[r] > t)
            continue;
          const float v = f.table.values[0][r];
          if (!spec.filter.empty() && !(v > 100)) continue;
          ++count;
          if (spec.function == AggregateFunction::kDistinctCount) {
            if (!std::isnan(f.table.values[1][r])) seen.push_back(f.table.values[1][r]);
            continue;
          }
          if (std::isnan(v)) continue;
          ++n;
          sum += v;
          lo = std::min<double>(lo, v);
          hi = std::max<double>(hi, v);
        }
        std::sort(seen.begin(), seen.end());
        double expected = 0;
        switch (spec.function) {
          case AggregateFunction::kCount:
            expected = count;
            break;
          case AggregateFunction::kSum:
            expected = sum;
            break;
          case AggregateFunction::kMean:
            expected = n ? sum / n : NAN;
            break;
          case AggregateFunction::kMin:
            expected = n ? lo : NAN;
            break;
          case AggregateFunction::kMax:
            expected = n ? hi : NAN;
            break;
          case AggregateFunction::kDistinctCount:
            expected = static_cast<double>(std::unique(seen.begin(), seen.end()) - seen.begin());
            break;
        }
        const float got = (*joined)[2 + a].values[i];
        counts_seen += spec.function == AggregateFunction::kCount && got > 1;
        ASSERT_TRUE(std::isnan(expected) ? std::isnan(got) : got == static_cast<float>(expected))
            << spec.name << " round " << round << " label " << i << ": " << got << " vs "
            << expected;
      }
    }
  }
  EXPECT_GT(values_seen, 1000u);
  EXPECT_GT(counts_seen, 1000u);
}

TEST(FeatureTableTest, SegmentsRoundTripAndDamageIsDetected) {
  FeatureFixture f;
  f.Add("a", 1, 2, 3.5f, 1, 4);
  f.Add(
      "b\x1f"
      "2",
      5, 6, std::numeric_limits<float>::quiet_NaN(), -1, 8);
  const std::string bytes = EncodeFeatureSegment(f.table);
  auto back = DecodeFeatureSegment(bytes, "s.ffs");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->keys, f.table.keys);
  EXPECT_EQ(back->event, f.table.event);
  EXPECT_EQ(back->available, f.table.available);
  EXPECT_EQ(back->ingested, f.table.ingested);
  EXPECT_EQ(back->columns, f.table.columns);
  EXPECT_EQ(EncodeFeatureSegment(*back), bytes);
  std::string damaged = bytes;
  damaged[damaged.size() - 3] ^= 1;
  auto refused = DecodeFeatureSegment(damaged, "s.ffs");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("SHA-256"), std::string::npos);
  for (size_t cut : {size_t{0}, size_t{10}, bytes.size() / 2, bytes.size() - 1})
    EXPECT_FALSE(DecodeFeatureSegment(bytes.substr(0, cut), "s.ffs").ok()) << cut;
}

TEST(FeatureTableTest, AppendRecodesKeysAndCategories) {
  FeatureFixture one, two;
  one.Add("a", 1, 1, 1, 0);
  two.table.columns[1].categories = {"m2", "new"};
  two.Add("b", 2, 2, 2, 1);
  two.Add("a", 3, 3, 3, 0);
  ASSERT_TRUE(one.table.Append(two.table).ok());
  EXPECT_EQ(one.table.keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(one.table.key, (std::vector<uint32_t>{0, 1, 0}));
  EXPECT_EQ(one.table.columns[1].categories, (std::vector<std::string>{"m0", "m1", "m2", "new"}));
  EXPECT_EQ(one.table.values[1], (std::vector<float>{0, 3, 2}));
}

TEST(FeatureTableTest, ReadsAGroupFromAnyTableWithExactKeysAndTimes) {
  FeatureGroup group = (*ParseFeatureGroups(kGroups, "g"))[0];
  CsvOptions options;
  options.table.label_column = "";
  options.table.categorical_columns = FeatureTextColumns(group);
  options.table.categorical_columns_origin = "feature group 'card_activity'";
  auto data = ParseCsv(
      "card_id,Time,Amount,merchant,extra\n"
      "4000123412341234,2024-03-01T10:00:00Z,12.5,shop,1\n"
      "4000123412341235,1709287200.000001,7,,2\n",
      "cards.csv", options, nullptr);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  auto table = FeatureTableFromDataset(group, *data, 99, "cards.csv");
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->keys, (std::vector<std::string>{"4000123412341234", "4000123412341235"}));
  EXPECT_EQ(table->event, (std::vector<EventTime>{1709287200 * kSecond, 1709287200 * kSecond + 1}));
  EXPECT_EQ(table->available, table->event);  // created_time is Time
  EXPECT_EQ(table->ingested, (std::vector<EventTime>{99, 99}));
  ASSERT_EQ(table->columns.size(), 2u);
  EXPECT_EQ(table->columns[1].categories, std::vector<std::string>{"shop"});

  auto bad = ParseCsv("card_id,Time,Amount,merchant\n1,yesterday,1,x\n", "c.csv", options, nullptr);
  ASSERT_TRUE(bad.ok());
  auto refused = FeatureTableFromDataset(group, *bad, 0, "c.csv");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("'yesterday', which is not a time"), std::string::npos);
  auto other = ParseCsv("card_id,When,Amount,merchant\n1,1,1,x\n", "c.csv", options, nullptr);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("feature group 'card_activity' names column 'Time'"),
            std::string::npos)
      << other.status().message();
}

/// On SQLite and on PostgreSQL (a shared registry).
class FeatureRegistryTest : public testing::BackendStoreTest {};

TEST_P(FeatureRegistryTest, VersionsDefinitionsAndKeepsRowsAppendOnly) {
  if (NotSetUp()) return;
  std::unique_ptr<MetadataStore>& store = store_;
  auto artifacts = OpenArtifactStore("", dir_.File("artifacts"));
  ASSERT_TRUE(artifacts.ok());
  FeatureRegistry registry(*store, **artifacts);
  FeatureGroup group = (*ParseFeatureGroups(kGroups, "g"))[0];
  auto applied = registry.Apply({group}, "ana");
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)[0].version, 1);
  EXPECT_TRUE((*applied)[0].changed);
  applied = registry.Apply({group}, "ana");
  EXPECT_FALSE((*applied)[0].changed);
  group.description = "now described";
  applied = registry.Apply({group}, "ana");
  EXPECT_EQ((*applied)[0].version, 2);
  FeatureGroup retyped = group;
  retyped.columns[1].categorical = false;
  EXPECT_EQ(registry.Apply({retyped}, "ana").status().code(), StatusCode::kConflict);
  auto latest = registry.Get("card_activity");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->description, "now described");
  EXPECT_EQ(registry.Get("card_activity", 1)->description, "");
  EXPECT_NE(registry.Get("card_activty").status().message().find("did you mean 'card_activity'"),
            std::string::npos);

  FeatureFixture one, two;
  one.Add("a", 1, 1, 1, 0);
  two.Add("b", 2, 2, 2, 2);
  ASSERT_TRUE(registry.Ingest(*latest, one.table, "csv:one.csv", "ana").ok());
  auto second = registry.Ingest(*latest, two.table, "csv:two.csv", "ana");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->rows, 1);
  GroupSnapshot snapshot;
  auto loaded = registry.Load(*latest, &snapshot);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->rows(), 2u);
  EXPECT_EQ(loaded->keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(snapshot.segments.size(), 2u);
  EXPECT_EQ(snapshot.rows, 2);
  EXPECT_EQ(snapshot.hash.size(), 64u);
  auto audit = store->Audit("");
  ASSERT_TRUE(audit.ok());
  int ingested = 0;
  for (const AuditEntry& entry : *audit) ingested += entry.action == "features_ingested";
  EXPECT_EQ(ingested, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, FeatureRegistryTest,
                         ::testing::Values(std::string("sqlite"), std::string("postgresql")),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace fraudops
