// The metadata store's tests, run against both implementations: SQLite (a file in a
// temporary directory) and PostgreSQL (a scratch database on the test server).
#include "store/metadata_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "../../tests/backend_store.h"
#include "store/schema.h"

namespace fraudops {
namespace {

class MetadataStoreTest : public testing::BackendStoreTest {
 protected:
  Result<std::unique_ptr<MetadataStore>> Open() { return MetadataStore::Open(url_, ""); }

  RunRecord MakeRun(const std::string& experiment = "exp") {
    RunRecord run;
    run.run_id = NewUuidV7Like();
    run.experiment = experiment;
    run.start_time = UtcNow();
    run.code_version = "test";
    run.host = "host";
    run.user = "user";
    run.artifact_uri = "/tmp/x";
    return run;
  }

  std::string NewUuidV7Like() {
    return "run-" + std::to_string(++counter_) + "-" + testing::RandomSuffix();
  }

  void CreateRunWithMetrics(const std::string& id, double roc) {
    RunRecord run = MakeRun();
    run.run_id = id;
    ASSERT_TRUE(store_->CreateRun(run).ok());
    ASSERT_TRUE(store_->LogMetrics(id, {{"test.roc_auc", roc}}).ok());
  }

  ModelVersion Register(const std::string& model, bool approve,
                        std::vector<std::string> aliases = {}) {
    RunRecord run = MakeRun();
    EXPECT_TRUE(store_->CreateRun(run).ok());
    NewVersion version;
    version.model = model;
    version.run_id = run.run_id;
    version.algorithm = "xgboost";
    version.bundle_uri = "/b";
    version.approve = approve;
    version.aliases = std::move(aliases);
    version.data_hash = "hash-" + run.run_id;
    auto created = store_->CreateVersion(version, "tester@host");
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : ModelVersion();
  }

  int counter_ = 0;
};

TEST_P(MetadataStoreTest, MigrationsApplyOnceAndReopenCleanly) {
  auto version = store_->SchemaVersion();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, Migrations().back().version);
  auto again = Open();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->SchemaVersion(), *version);
}

TEST_P(MetadataStoreTest, ANewerSchemaIsRefusedNamingBothVersions) {
  SqlValue row[] = {SqlValue(int64_t{999}), SqlValue(std::string("future")), SqlValue(UtcNow())};
  ASSERT_TRUE(
      store_->connection().Exec("INSERT INTO schema_migrations VALUES (?, ?, ?)", row).ok());
  auto reopened = Open();
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("schema version 999"), std::string::npos)
      << reopened.status().message();
  EXPECT_NE(reopened.status().message().find("use a newer fraudops"), std::string::npos);
}

TEST_P(MetadataStoreTest, RunRoundTripsEverythingItRecords) {
  RunRecord run = MakeRun();
  run.params = {{"train.xgboost.eta", "0.1"}, {"preprocess.data_source", "\"csv:x.csv\""}};
  run.tags = {{"algorithm", "xgboost"}};
  ASSERT_TRUE(store_->CreateRun(run).ok());
  const double exact = 0.95796859067415201;  // needs all 17 digits
  ASSERT_TRUE(store_->LogMetrics(run.run_id, {{"test.roc_auc", exact}, {"test.pr_auc", 0.8}}).ok());
  ASSERT_TRUE(store_->LogMetrics(run.run_id, {{"test.pr_auc", 0.825}}).ok());  // updates
  ASSERT_TRUE(
      store_->LogMetricHistory(run.run_id, "validation.auc", {{0, 0.9}, {1, 0.95}, {2, 0.97}})
          .ok());
  ASSERT_TRUE(
      store_->LogArtifacts(run.run_id, {{"model/model.json", "/a/model.json", 123, "abc"}}).ok());
  ASSERT_TRUE(store_
                  ->LogDatasets(run.run_id, {{"raw", "csv:x.csv", 1000, "h1", "f1"},
                                             {"test", "split", 150, "h2", ""}})
                  .ok());
  ASSERT_TRUE(store_->EndRun(run.run_id, RunStatus::kSucceeded, "").ok());

  auto loaded = store_->GetRun(run.run_id.substr(0, run.run_id.size() - 2));  // a unique prefix
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->status, RunStatus::kSucceeded);
  EXPECT_FALSE(loaded->end_time.empty());
  EXPECT_EQ(loaded->params, run.params);
  EXPECT_EQ(loaded->tags, run.tags);
  EXPECT_EQ(loaded->metrics.at("test.roc_auc"), exact);
  EXPECT_EQ(loaded->metrics.at("test.pr_auc"), 0.825);
  ASSERT_EQ(loaded->artifacts.size(), 1u);
  EXPECT_EQ(loaded->artifacts[0].sha256, "abc");
  EXPECT_EQ(loaded->artifacts[0].size, 123);
  ASSERT_EQ(loaded->datasets.size(), 2u);
  EXPECT_EQ(loaded->datasets[0].role, "raw");
  EXPECT_EQ(loaded->datasets[0].rows, 1000);
  auto history = store_->MetricHistory(run.run_id, "validation.auc");
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(*history, (std::vector<std::pair<int64_t, double>>{{0, 0.9}, {1, 0.95}, {2, 0.97}}));
  EXPECT_EQ(store_->GetRun("no-such-run").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->EndRun("no-such-run", RunStatus::kFailed, "x").code(), StatusCode::kNotFound);
}

TEST_P(MetadataStoreTest, AParameterKeepsItsFirstValue) {
  CreateRunWithMetrics("p1", 0.9);
  ASSERT_TRUE(store_->LogParams("p1", {{"eta", "0.1"}}).ok());
  EXPECT_TRUE(store_->LogParams("p1", {{"eta", "0.1"}, {"depth", "6"}}).ok());  // same: no-op
  Status changed = store_->LogParams("p1", {{"eta", "0.2"}});
  EXPECT_EQ(changed.code(), StatusCode::kConflict) << changed.ToString();
  EXPECT_EQ(store_->LogParams("nope", {{"eta", "1"}}).code(), StatusCode::kNotFound);
  auto run = store_->GetRun("p1");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->params.at("eta"), "0.1");
  EXPECT_EQ(run->params.at("depth"), "6");
}

TEST_P(MetadataStoreTest, AnAmbiguousPrefixIsAnError) {
  CreateRunWithMetrics("abc-1", 0.9);
  CreateRunWithMetrics("abc-2", 0.8);
  auto found = store_->GetRun("abc");
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("matches several runs"), std::string::npos);
}

TEST_P(MetadataStoreTest, ListRunsFiltersSortsAndLimits) {
  CreateRunWithMetrics("r1", 0.91);
  CreateRunWithMetrics("r2", 0.97);
  CreateRunWithMetrics("r3", 0.94);
  RunRecord other = MakeRun("other");
  ASSERT_TRUE(store_->CreateRun(other).ok());

  RunFilter best;
  best.experiment = "exp";
  best.order_by = "test.roc_auc";
  best.with_metrics = {"test.roc_auc"};
  auto sorted = store_->ListRuns(best);
  ASSERT_TRUE(sorted.ok()) << sorted.status().ToString();
  ASSERT_EQ(sorted->size(), 3u);
  EXPECT_EQ((*sorted)[0].run_id, "r2");
  EXPECT_EQ((*sorted)[2].run_id, "r1");
  EXPECT_EQ((*sorted)[0].metrics.at("test.roc_auc"), 0.97);

  RunFilter filtered;
  filtered.conditions = *ParseRunFilter("test.roc_auc>=0.93");
  auto good = store_->ListRuns(filtered);
  ASSERT_TRUE(good.ok());
  std::set<std::string> ids;
  for (const RunRecord& run : *good) ids.insert(run.run_id);
  EXPECT_EQ(ids, (std::set<std::string>{"r2", "r3"}));

  RunFilter limited;
  limited.limit = 2;
  EXPECT_EQ(store_->ListRuns(limited)->size(), 2u);

  // Pages: offset and limit over the order, both directions, with the total; a page beyond
  // the end is empty. Conditions checked outside the database (tags) page the same way.
  RunFilter page = best;
  page.ascending = true;
  page.limit = 1;
  page.offset = 1;
  size_t total = 0;
  auto middle = store_->ListRuns(page, &total);
  ASSERT_TRUE(middle.ok()) << middle.status().ToString();
  ASSERT_EQ(middle->size(), 1u);
  EXPECT_EQ((*middle)[0].run_id, "r3");
  EXPECT_EQ(total, 3u);
  page.offset = 3;
  EXPECT_TRUE(store_->ListRuns(page, &total)->empty());
  EXPECT_EQ(total, 3u);
  RunFilter by_id;
  by_id.order_by = "run_id";
  by_id.ascending = true;
  auto ordered = store_->ListRuns(by_id, &total);
  ASSERT_TRUE(ordered.ok());
  ASSERT_EQ(ordered->size(), 4u);
  EXPECT_EQ((*ordered)[0].run_id, "r1");
  EXPECT_EQ((*ordered)[3].run_id, other.run_id);  // "run-…" sorts after "r3"
  EXPECT_EQ(total, 4u);

  // Every operator, on metrics, parameters and tags, combined with `and`; tags set later.
  ASSERT_TRUE(store_->SetTags("r1", {{"team", "risk"}, {"fraudops.name", "baseline"}}).ok());
  ASSERT_TRUE(store_->SetTags("r3", {{"team", "ops"}}).ok());
  auto matching = [&](const std::string& text) {
    RunFilter f;
    auto conditions = ParseRunFilter(text);
    EXPECT_TRUE(conditions.ok()) << text << ": " << conditions.status().ToString();
    f.conditions = *conditions;
    f.with_tags = {"fraudops.name"};
    auto runs = store_->ListRuns(f);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    std::set<std::string> out;
    for (const RunRecord& run : *runs) out.insert(run.run_id);
    return out;
  };
  EXPECT_EQ(matching("test.roc_auc < 0.93"), (std::set<std::string>{"r1"}));
  EXPECT_EQ(matching("test.roc_auc <= 0.95"), (std::set<std::string>{"r1", "r3"}));
  EXPECT_EQ(matching("test.roc_auc = 0.97"), (std::set<std::string>{"r2"}));
  EXPECT_EQ(matching("test.roc_auc != 0.97"), (std::set<std::string>{"r1", "r3"}));
  EXPECT_EQ(matching("test.roc_auc > 0.95"), (std::set<std::string>{"r2"}));
  EXPECT_EQ(matching("tags.team = risk"), (std::set<std::string>{"r1"}));
  EXPECT_EQ(matching("tags.team != risk and test.roc_auc >= 0.9"), (std::set<std::string>{"r3"}));
  EXPECT_TRUE(matching("tags.missing = x").empty());  // a run without the tag never matches
  RunFilter named;
  named.with_tags = {"fraudops.name"};
  named.conditions = *ParseRunFilter("tags.team = risk");
  auto named_runs = store_->ListRuns(named);
  ASSERT_TRUE(named_runs.ok() && named_runs->size() == 1);
  EXPECT_EQ(named_runs->at(0).tags.at("fraudops.name"), "baseline");
  ASSERT_TRUE(store_->SetTags("r1", {}, {"team"}).ok());
  EXPECT_TRUE(matching("tags.team = risk").empty());
  EXPECT_EQ(store_->SetTags("nope", {{"a", "b"}}).code(), StatusCode::kNotFound);
  for (const char* bad : {"test.roc_auc", "= 3", "test.roc_auc >=", "a > 1 and", "and a > 1"}) {
    auto refused = ParseRunFilter(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("is not FIELD OP VALUE"), std::string::npos);
  }
  EXPECT_FALSE(ParseRunTags({"fraudops.name=x"}).ok());
  EXPECT_FALSE(ParseRunTags({"no equals"}).ok());
  EXPECT_EQ(ParseRunTags({"team=risk", "ticket=FR-1=2"})->at("ticket"), "FR-1=2");
}

TEST_P(MetadataStoreTest, TuningTrialsAreListedLeftOutOrAloneAndCounted) {
  CreateRunWithMetrics("r1", 0.91);
  RunRecord study = MakeRun();
  study.tags = {{kRunKindTag, "study"}};
  ASSERT_TRUE(store_->CreateRun(study).ok());
  std::vector<std::string> trials;
  for (int i = 0; i < 3; ++i) {
    RunRecord trial = MakeRun();
    trial.tags = {{kRunKindTag, kTrialRunKind}, {"fraudops.parent_run", study.run_id}};
    ASSERT_TRUE(store_->CreateRun(trial).ok());
    ASSERT_TRUE(store_->LogMetrics(trial.run_id, {{"test.roc_auc", 0.8 + 0.05 * i}}).ok());
    trials.push_back(trial.run_id);
  }
  auto listed = [&](RunFilter f) {
    size_t total = 0;
    auto runs = store_->ListRuns(f, &total);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    std::set<std::string> ids;
    for (const RunRecord& run : *runs) ids.insert(run.run_id);
    EXPECT_EQ(total, ids.size());
    return ids;
  };
  RunFilter all;
  EXPECT_EQ(listed(all).size(), 5u);
  RunFilter without = all;
  without.trials = RunFilter::Trials::kExclude;
  EXPECT_EQ(listed(without), (std::set<std::string>{"r1", study.run_id}));
  RunFilter only = all;
  only.trials = RunFilter::Trials::kOnly;
  EXPECT_EQ(listed(only), (std::set<std::string>(trials.begin(), trials.end())));
  EXPECT_EQ(*store_->CountTrials(without), 3u);
  // A page counts what the whole listing holds; so with an experiment (counted by a join).
  RunFilter page = without;
  page.limit = 1;
  size_t total = 0;
  EXPECT_EQ(store_->ListRuns(page, &total)->size(), 1u);
  EXPECT_EQ(total, 2u);
  page.experiment = "exp";
  EXPECT_EQ(store_->ListRuns(page, &total)->size(), 1u);
  EXPECT_EQ(total, 2u);
  page.trials = RunFilter::Trials::kOnly;
  EXPECT_EQ(store_->ListRuns(page, &total)->size(), 1u);
  EXPECT_EQ(total, 3u);
  RunFilter elsewhere = only;
  elsewhere.experiment = "other";
  EXPECT_TRUE(listed(elsewhere).empty());
  // With the rest of the filter: a metric condition (in the database) and a tag condition
  // (checked on the rows).
  without.conditions = *ParseRunFilter("test.roc_auc >= 0.85");
  EXPECT_EQ(listed(without), (std::set<std::string>{"r1"}));
  EXPECT_EQ(*store_->CountTrials(without), 2u);
  without.conditions = *ParseRunFilter("tags.fraudops.parent_run = " + study.run_id);
  EXPECT_TRUE(listed(without).empty());
  EXPECT_EQ(*store_->CountTrials(without), 3u);
  without.experiment = "other";
  EXPECT_EQ(*store_->CountTrials(without), 0u);
}

TEST_P(MetadataStoreTest, VersionsNumberUpAndApprovalIsRecordedWithWhoWhenWhy) {
  ModelVersion first = Register("fraud", /*approve=*/true);
  ModelVersion second = Register("fraud", /*approve=*/false);
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(second.version, 2);
  EXPECT_EQ(first.approval, "approved");
  EXPECT_EQ(first.approval_by, "tester@host");
  EXPECT_EQ(second.approval, "pending");
  EXPECT_EQ(Register("other", true).version, 1);  // numbering is per model

  ASSERT_TRUE(
      store_->SetApproval("fraud", 2, "approved", "alice@bank", "reviewed the report", {"champion"})
          .ok());
  auto approved = store_->GetVersion("fraud", "@champion");
  ASSERT_TRUE(approved.ok()) << approved.status().ToString();
  EXPECT_EQ(approved->version, 2);
  EXPECT_EQ(approved->approval_by, "alice@bank");
  EXPECT_EQ(approved->approval_reason, "reviewed the report");
  EXPECT_FALSE(approved->approval_at.empty());
  EXPECT_EQ(store_->SetApproval("fraud", 2, "maybe", "a", "b").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->GetVersion("fraud", "latest")->version, 2);
  EXPECT_EQ(store_->GetVersion("fraud", "7").status().code(), StatusCode::kNotFound);
  auto unknown = store_->GetVersion("fruad", "1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("did you mean 'fraud'"), std::string::npos)
      << unknown.status().message();
  auto unknown_latest = store_->GetVersion("fruad", "latest");
  ASSERT_FALSE(unknown_latest.ok());
  EXPECT_EQ(unknown_latest.status().message(),
            "no registered model 'fruad' (did you mean 'fraud'?)");
}

TEST_P(MetadataStoreTest, WithDistinctApproversTheRunsAuthorMayNotApproveItsVersion) {
  Register("fraud", /*approve=*/false);  // run by "user"
  for (const char* author : {"user@laptop", "user:user", "oidc:user"}) {
    Status refused = store_->SetApproval("fraud", 1, "approved", author, "looks fine", {}, true);
    EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied) << author;
    EXPECT_NE(refused.message().find("segregation of duties: user authored run"), std::string::npos)
        << refused.message();
  }
  EXPECT_EQ(store_->GetVersion("fraud", "1")->approval, "pending");
  auto audit = store_->Audit("fraud");
  ASSERT_TRUE(audit.ok());
  size_t refusals = 0;
  for (const AuditEntry& entry : *audit) refusals += entry.action == "approve_refused";
  EXPECT_EQ(refusals, 3u);
  // The author may still reject it; another person approves it.
  ASSERT_TRUE(store_->SetApproval("fraud", 1, "approved", "user:alice", "reviewed", {}, true).ok());
  EXPECT_EQ(store_->GetVersion("fraud", "1")->approval_by, "user:alice");
  // Without the rule (a workspace one person runs alone) the author approves.
  Register("fraud", false);
  EXPECT_TRUE(store_->SetApproval("fraud", 2, "approved", "user@laptop", "mine", {}, false).ok());
}

TEST_P(MetadataStoreTest, AliasesMoveAtomicallyAndLeaveRejectedAndArchivedVersions) {
  Register("fraud", true, {"champion"});
  Register("fraud", true, {"challenger"});
  EXPECT_EQ(store_->GetVersion("fraud", "@champion")->version, 1);
  ASSERT_TRUE(store_->SetAlias("fraud", "champion", 2, "bob@bank").ok());
  auto v2 = store_->GetVersion("fraud", "2");
  EXPECT_EQ(v2->aliases, (std::vector<std::string>{"challenger", "champion"}));
  EXPECT_TRUE(store_->GetVersion("fraud", "1")->aliases.empty());

  ASSERT_TRUE(
      store_->SetApproval("fraud", 2, "rejected", "carol@bank", "leaks a future feature").ok());
  EXPECT_EQ(store_->GetVersion("fraud", "@champion").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetAlias("fraud", "champion", 2, "bob@bank").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetAlias("fraud", "3", 1, "bob@bank").code(),
            StatusCode::kInvalidArgument);  // numbers are versions

  ASSERT_TRUE(store_->SetAlias("fraud", "champion", 1, "bob@bank").ok());
  ASSERT_TRUE(store_->Archive("fraud", 1, "bob@bank", "superseded").ok());
  EXPECT_TRUE(store_->GetVersion("fraud", "1")->archived);
  EXPECT_EQ(store_->GetVersion("fraud", "@champion").status().code(), StatusCode::kNotFound);

  // Every change is in the audit log, in order.
  auto audit = store_->Audit("fraud");
  ASSERT_TRUE(audit.ok());
  std::vector<std::string> actions;
  for (const AuditEntry& entry : *audit) actions.push_back(entry.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"version_created", "approved", "alias_set",
                                               "version_created", "approved", "alias_set",
                                               "alias_set", "rejected", "alias_set", "archived"}));
  EXPECT_EQ((*audit)[6].details["from_version"], 1) << (*audit)[6].ToJson();
  EXPECT_EQ((*audit)[7].details["aliases_removed"], nlohmann::json({"challenger", "champion"}));
  EXPECT_EQ((*audit)[7].actor, "carol@bank");
}

TEST_P(MetadataStoreTest, ConcurrentRegistrationsGetDistinctVersions) {
  // Several connections (as several processes would have) register at once.
  constexpr int kWriters = 4, kEach = 5;
  std::vector<std::string> runs;
  for (int i = 0; i < kWriters * kEach; ++i) {
    RunRecord run = MakeRun();
    ASSERT_TRUE(store_->CreateRun(run).ok());
    runs.push_back(run.run_id);
  }
  std::vector<std::thread> writers;
  std::vector<std::vector<int64_t>> numbers(kWriters);
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto store = Open();
      if (!store.ok()) {
        ++failures;
        return;
      }
      for (int i = 0; i < kEach; ++i) {
        NewVersion version;
        version.model = "fraud";
        version.run_id = runs[static_cast<size_t>(w * kEach + i)];
        version.bundle_uri = "/b";
        version.approve = true;
        version.aliases = {"latest-approved"};
        auto created = (*store)->CreateVersion(version, "w" + std::to_string(w));
        if (created.ok())
          numbers[static_cast<size_t>(w)].push_back(created->version);
        else
          ++failures;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<int64_t> all;
  for (const auto& list : numbers) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kWriters * kEach));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kWriters * kEach);
  EXPECT_EQ(store_->ListVersions("fraud")->size(), static_cast<size_t>(kWriters * kEach));
}

TEST_P(MetadataStoreTest, AFailedRegistrationLeavesNoTrace) {
  NewVersion version;
  version.model = "fraud";
  version.run_id = "not-a-run";  // violates the foreign key
  version.bundle_uri = "/b";
  EXPECT_FALSE(store_->CreateVersion(version, "t").ok());
  EXPECT_TRUE(store_->ListVersions("fraud")->empty());
  EXPECT_TRUE(store_->Audit("fraud")->empty());
  // The model row from the failed transaction was rolled back too: numbering starts at 1.
  EXPECT_EQ(Register("fraud", true).version, 1);
}

TEST_P(MetadataStoreTest, LineageFindsTheVersionsTrainedFromData) {
  RunRecord run = MakeRun();
  ASSERT_TRUE(store_->CreateRun(run).ok());
  const std::string content(64, 'a'), file = "abcdef" + std::string(58, '0');
  ASSERT_TRUE(store_->LogDatasets(run.run_id, {{"raw", "csv:x", 10, content, file}}).ok());
  NewVersion version;
  version.model = "fraud";
  version.run_id = run.run_id;
  version.bundle_uri = "/b";
  ASSERT_TRUE(store_->CreateVersion(version, "t").ok());
  Register("fraud", true);  // from other data
  // The content hash, the raw file's sha256, or a unique prefix of either (any case).
  for (const std::string& hash : {content, file, std::string("aaaaaa"), std::string("ABCDEF0")}) {
    std::string matched;
    auto found = store_->VersionsFromData(hash, &matched);
    ASSERT_TRUE(found.ok()) << hash << ": " << found.status().ToString();
    ASSERT_EQ(found->size(), 1u) << hash;
    EXPECT_EQ((*found)[0].version, 1);
    EXPECT_EQ(matched, hash.size() == 64 ? hash : (hash[0] == 'a' ? content : file));
  }
  EXPECT_TRUE(store_->VersionsFromData("0123456789")->empty());
  // Too short, not hex, or ambiguous: an error saying so.
  EXPECT_FALSE(store_->VersionsFromData("aaaa").ok());
  EXPECT_FALSE(store_->VersionsFromData("data-hash-1").ok());
  RunRecord other = MakeRun();
  ASSERT_TRUE(store_->CreateRun(other).ok());
  ASSERT_TRUE(
      store_->LogDatasets(other.run_id, {{"raw", "csv:y", 10, "abcdef" + std::string(58, '1'), ""}})
          .ok());
  auto ambiguous = store_->VersionsFromData("abcdef");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.status().message().find("is ambiguous: it begins 2 data hashes"),
            std::string::npos)
      << ambiguous.status().message();
}

INSTANTIATE_TEST_SUITE_P(Backends, MetadataStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& param_info) { return param_info.param; });

TEST(MetadataStoreErrors, WrongCredentialsAndUnreachableServersAreClearAndBounded) {
  FOPS_NEED_SERVER(admin, "FOPS_TEST_POSTGRES_URL");
  std::string wrong = admin;
  wrong.replace(wrong.find(":fraudops@"), 10, ":wrong-password@");
  auto refused = MetadataStore::Open(wrong, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("password authentication failed"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("wrong-password"), std::string::npos)
      << "the password leaked";

  auto started = std::chrono::steady_clock::now();
  auto unreachable = MetadataStore::Open("postgresql://u:p@10.255.255.1:5432/db", "");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(unreachable.ok());
  EXPECT_LT(seconds, 15.0);
  EXPECT_NE(unreachable.status().message().find("cannot connect"), std::string::npos);

  auto unsupported = MetadataStore::Open("mongodb://x/y", "");
  EXPECT_EQ(unsupported.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fraudops
