#include "cli/artifacts_commands.h"

#include <cstdio>
#include <set>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "store/retention.h"

namespace fraudops {

namespace {

using Json = nlohmann::json;

struct ArtifactsArgs {
  std::string config_path, home;
  bool json = false, apply = false;
  double days = -1;
  std::string storage_class;
};

/// Storage classes that must be restored before an object can be read.
bool NeedsRestore(const std::string& storage_class) {
  return storage_class == "DEEP_ARCHIVE" || storage_class == "GLACIER";
}

int Run(const ArtifactsArgs& args, RetentionAction action) {
  auto stores = OpenStores(args.config_path, args.home, true);
  if (!stores.ok()) return Fail(stores.status());
  const ArtifactsConfig& config = stores->config.artifacts;
  const bool gc = action == RetentionAction::kDelete;
  const double days = args.days >= 0 ? args.days : gc ? config.keep_days : config.archive_days;
  const std::string storage_class =
      gc ? "" : (args.storage_class.empty() ? config.archive_storage_class : args.storage_class);
  static const std::set<std::string> kClasses = {
      "GLACIER_IR", "DEEP_ARCHIVE", "GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING"};
  if (!storage_class.empty() && !kClasses.count(storage_class)) {
    return Fail(Status::InvalidArgument(
        "storage class '" + storage_class +
        "': accepted: GLACIER_IR, DEEP_ARCHIVE, GLACIER, STANDARD_IA, ONEZONE_IA, "
        "INTELLIGENT_TIERING (empty: move under the archive/ prefix)"));
  }
  if (!storage_class.empty() && stores->artifacts->IsLocal()) {
    return Fail(Status::InvalidArgument(
        "storage classes are S3's and global.artifact_url is local: archive without "
        "--storage-class (files move under archive/)"));
  }
  ServingStore serving(*stores->metadata);
  auto plan = PlanRetention(*stores->metadata, serving, action, days, NeedsRestore(storage_class),
                            std::chrono::system_clock::now());
  if (!plan.ok()) return Fail(plan.status());
  if (args.apply) {
    Status done = gc ? ApplyGc(*stores->metadata, *stores->artifacts, *plan, CurrentActor())
                     : ApplyArchive(*stores->metadata, *stores->artifacts, *plan, storage_class,
                                    CurrentActor());
    if (!done.ok()) return Fail(done);
  }
  Json runs = Json::array(), kept = Json::array();
  for (const RunRecord& run : plan->runs) {
    int64_t bytes = 0;
    for (const ArtifactRecord& a : run.artifacts) bytes += a.size;
    runs.push_back({{"run_id", run.run_id},
                    {"pipeline", run.experiment},
                    {"ended", run.end_time},
                    {"files", run.artifacts.size()},
                    {"bytes", bytes}});
  }
  for (const auto& [run_id, why] : plan->kept) kept.push_back({{"run_id", run_id}, {"why", why}});
  const std::string verb =
      gc ? (args.apply ? "deleted" : "would delete") : (args.apply ? "archived" : "would archive");
  if (args.json) {
    PrintJson({{"action", gc ? "gc" : "archive"},
               {"applied", args.apply},
               {"older_than_days", days},
               {"storage_class", storage_class},
               {"runs", runs},
               {"bytes", plan->bytes},
               {"kept", kept}});
    return kExitOk;
  }
  std::printf("%s the artifacts of %zu runs that ended more than %g days ago (%.1f MB)%s\n",
              verb.c_str(), plan->runs.size(), days, static_cast<double>(plan->bytes) / 1e6,
              gc || storage_class.empty() ? "" : (" into " + storage_class).c_str());
  for (const Json& run : runs) {
    std::printf("  %s  %-24s ended %s  %3zu files  %10lld bytes\n",
                run["run_id"].get<std::string>().c_str(),
                run["pipeline"].get<std::string>().c_str(), run["ended"].get<std::string>().c_str(),
                run["files"].get<size_t>(), run["bytes"].get<long long>());
  }
  if (!plan->kept.empty()) std::printf("kept:\n");
  for (const auto& [run_id, why] : plan->kept)
    std::printf("  %s  %s\n", run_id.c_str(), why.c_str());
  if (!args.apply && !plan->runs.empty()) std::printf("(a dry run: --apply to do it)\n");
  return kExitOk;
}

}  // namespace

std::function<int()> AddArtifactsCommands(CLI::App& app) {
  auto args = std::make_shared<ArtifactsArgs>();
  auto* artifacts = app.add_subcommand(
      "artifacts", "Retention and archival of run artifacts (docs/operations.md)");
  artifacts->require_subcommand(1);
  auto common = [&](CLI::App* command) {
    command->add_option("--config", args->config_path, "Configuration file");
    command->add_option("--home", args->home, "Workspace directory (global.home)");
    command->add_flag("--json", args->json, "Print JSON");
    command->add_flag("--apply", args->apply, "Do it (without: print what would be done)");
  };
  auto* gc = artifacts->add_subcommand(
      "gc",
      "Delete the artifacts of runs older than artifacts.keep_days that no registered version "
      "needs (dry run unless --apply)");
  gc->add_option("--keep-days", args->days,
                 "Keep runs younger than this (default: artifacts.keep_days)")
      ->check(CLI::Range(0.0, 36500.0));
  common(gc);
  auto* archive = artifacts->add_subcommand(
      "archive",
      "Move the artifacts of runs older than artifacts.archive_days that nothing serves to the "
      "archive/ prefix, or an S3 storage class (dry run unless --apply)");
  archive
      ->add_option("--older-than-days", args->days,
                   "Archive runs older than this (default: artifacts.archive_days)")
      ->check(CLI::Range(0.0, 36500.0));
  archive->add_option("--storage-class", args->storage_class,
                      "GLACIER_IR, DEEP_ARCHIVE, … (default: artifacts.archive_storage_class; "
                      "empty: the archive/ prefix)");
  common(archive);
  return [=]() -> int {
    if (*gc) return Run(*args, RetentionAction::kDelete);
    if (*archive) return Run(*args, RetentionAction::kArchive);
    return -1;
  };
}

}  // namespace fraudops
