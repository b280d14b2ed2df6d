#include "cli/registry_commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "core/config.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/ids.h"
#include "core/strings.h"
#include "core/version.h"
#include "model/bundle.h"
#include "model/policy.h"
#include "pipeline/model_card.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"
#include "store/run_views.h"
#include "store/serving_store.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;

struct RegistryArgs {
  std::string config_path, home;
  bool json = false;
  // runs
  std::string experiment, status, filter, sort;
  size_t limit = 50;
  bool trials = false;  ///< runs list: tuning trials too
  std::vector<std::string> runs;
  std::vector<std::string> tags, delete_tags;
  std::string note, run_id;
  // models
  std::string target, alias, reason, directory, data_hash;
  std::vector<std::string> aliases;
  bool delete_alias = false;
  std::string policy_file;
  bool clear_policy = false;
  bool roll_back = false;  ///< reject, archive: take the version out of service first
  // models combine
  std::vector<std::string> members;
  std::string method = "mean";
  std::vector<double> weights;
  double threshold = -1;
  // models card
  std::string card_format = "markdown";
  std::string output;
};

/// The seconds between a run's start and end ("" while it runs).
std::string Duration(const RunRecord& run) {
  const auto start = ParseUtcTime(run.start_time), end = ParseUtcTime(run.end_time);
  if (!start || !end) return "-";
  const double seconds = std::chrono::duration<double>(*end - *start).count();
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", seconds);  // to a tenth, however long
  return text;
}

std::string Metric(const std::map<std::string, double>& metrics, const std::string& name) {
  auto it = metrics.find(name);
  return it == metrics.end() ? "-" : FormatDouble(it->second, 4);
}

/// The table of CompareMetrics' output, the best of each row marked " *".
void PrintMetricTable(const nlohmann::json& out, const std::vector<std::string>& ids) {
  for (const auto& [name, values] : out["metrics"].items()) {
    std::printf("  %-32s", name.c_str());
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string cell = values[i].is_null() ? "-" : FormatDouble(values[i].get<double>(), 5);
      if (out["best"].contains(name) && out["best"][name] == ids[i] && ids.size() > 1) cell += " *";
      std::printf("  %-18s", cell.c_str());
    }
    std::printf("\n");
  }
}

int RunsList(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  RunFilter filter;
  filter.experiment = args.experiment;
  filter.status = args.status;
  filter.limit = args.limit;
  filter.order_by = args.sort;
  if (!args.filter.empty()) {
    auto conditions = ParseRunFilter(args.filter);
    if (!conditions.ok()) return Fail(conditions.status());
    filter.conditions = std::move(*conditions);
  }
  filter.with_metrics = {"test.roc_auc", "test.pr_auc", "test.recall_at_fpr_1pct"};
  filter.with_tags = {kRunNameTag, "algorithm", "data_source"};
  if (!filter.order_by.empty()) filter.with_metrics.push_back(filter.order_by);
  // A tuned run leaves a trial run per trial (30 by default): listed with --trials, otherwise
  // counted under the table.
  filter.trials = args.trials ? RunFilter::Trials::kInclude : RunFilter::Trials::kExclude;
  auto runs = stores->metadata->ListRuns(filter);
  if (!runs.ok()) return Fail(runs.status());
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const RunRecord& run : *runs) out.push_back(RunJson(run, false));
    PrintJson(out);
    return kExitOk;
  }
  // The name column as wide as the longest name listed, up to 40 (a study's trials are
  // "<study> #N": cut in the middle, their numbers stay).
  size_t name_width = 4;
  for (const RunRecord& run : *runs)
    name_width = std::max(name_width, std::min<size_t>(TagOr(run, kRunNameTag).size(), 40));
  const int width = static_cast<int>(name_width);
  std::printf("%-36s  %-*s  %-11s  %-8s  %-14s  %-24s  %9s  %8s  %8s  %10s\n", "run", width, "name",
              "status", "algo", "data", "started", "duration", "roc_auc", "pr_auc", "recall@1%");
  for (const RunRecord& run : *runs) {
    std::printf("%-36s  %-*s  %-11s  %-8s  %-14s  %-24s  %9s  %8s  %8s  %10s\n", run.run_id.c_str(),
                width, Shortened(TagOr(run, kRunNameTag), 40).c_str(),
                std::string(RunStatusName(run.status)).c_str(),
                TagOr(run, "algorithm").substr(0, 8).c_str(),
                TagOr(run, "data_source").substr(0, 14).c_str(), run.start_time.c_str(),
                Duration(run).c_str(), Metric(run.metrics, "test.roc_auc").c_str(),
                Metric(run.metrics, "test.pr_auc").c_str(),
                Metric(run.metrics, "test.recall_at_fpr_1pct").c_str());
  }
  std::string trials;
  if (!args.trials) {
    auto hidden = stores->metadata->CountTrials(filter);
    if (!hidden.ok()) return Fail(hidden.status());
    if (*hidden > 0) {
      trials = "; " + std::to_string(*hidden) + " tuning trial" + (*hidden == 1 ? "" : "s") +
               " not listed (--trials lists them, fraudops tune show STUDY sums them up)";
    }
  }
  std::printf("%zu run(s)%s%s\n", runs->size(),
              runs->size() == args.limit ? " (--limit reached)" : "", trials.c_str());
  return kExitOk;
}

int RunsShow(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto run = stores->metadata->GetRun(args.runs.at(0));
  if (!run.ok()) return Fail(run.status());
  nlohmann::json out = RunJson(*run, true);
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf(
      "run %s (%s)\n  experiment %s, started %s, ended %s\n  code %s on %s by %s\n  artifacts %s\n",
      run->run_id.c_str(), std::string(RunStatusName(run->status)).c_str(), run->experiment.c_str(),
      run->start_time.c_str(), run->end_time.c_str(), run->code_version.c_str(), run->host.c_str(),
      run->user.c_str(), run->artifact_uri.c_str());
  if (!run->error.empty()) std::printf("  error: %s\n", run->error.c_str());
  std::printf("\ndatasets\n");
  for (const DatasetRecord& d : run->datasets) {
    std::printf("  %-10s %10lld rows  %s  %s\n", d.role.c_str(), static_cast<long long>(d.rows),
                d.content_hash.c_str(), d.source.c_str());
  }
  std::printf("\nmetrics\n");
  for (const auto& [name, value] : run->metrics)
    std::printf("  %-36s %s\n", name.c_str(), FormatDouble(value, 6).c_str());
  std::printf("\nartifacts\n");
  if (const auto gone = run->tags.find(kArtifactsTag); gone != run->tags.end())
    std::printf("  %s\n", gone->second.c_str());
  for (const ArtifactRecord& a : run->artifacts) {
    std::printf("  %-34s %12lld  %s\n", a.name.c_str(), static_cast<long long>(a.size),
                a.sha256.c_str());
  }
  std::printf("\ntags\n");
  for (const auto& [key, value] : run->tags)
    std::printf("  %-36s %s\n", key.c_str(), value.c_str());
  std::printf("\nparameters: %zu (fraudops runs show --json lists them)\n", run->params.size());
  // A study's trials are runs of their own, which runs list leaves out unless asked.
  if (const auto kind = run->tags.find(kRunKindTag); kind != run->tags.end() &&
                                                     kind->second == kStudyRunKind &&
                                                     run->tags.contains("fraudops.study")) {
    std::printf(
        "trials: fraudops tune show %s, or fraudops runs list --trials --filter "
        "'tags.fraudops.parent_run = %s'\n",
        run->tags.at("fraudops.study").c_str(), run->run_id.c_str());
  }
  return kExitOk;
}

int RunsCompare(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  std::vector<RunRecord> runs;
  for (const std::string& id : args.runs) {
    auto run = stores->metadata->GetRun(id);
    if (!run.ok()) return Fail(run.status());
    runs.push_back(std::move(*run));
  }
  const nlohmann::json out = CompareRunsJson(runs);
  const std::vector<std::string> ids = out["runs"].get<std::vector<std::string>>();
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf("%-34s", "");
  for (const RunRecord& run : runs) std::printf("  %-18s", run.run_id.substr(0, 18).c_str());
  std::printf("\nparameters that differ\n");
  for (const auto& [name, values] : out["params"].items()) {
    std::printf("  %-32s", name.c_str());
    for (const auto& value : values)
      std::printf("  %-18s", value.get<std::string>().substr(0, 18).c_str());
    std::printf("\n");
  }
  std::printf("metrics (* best)\n");
  PrintMetricTable(out, ids);
  return kExitOk;
}

/// runs tag (KEY=VALUE…, --delete KEY) and runs note (`note`: replaces the note).
int RunsTag(const RegistryArgs& args, bool note) {
  std::map<std::string, std::string> tags;
  if (note) {
    tags[kRunNoteTag] = args.note;
  } else {
    auto parsed = ParseRunTags(args.tags);
    if (!parsed.ok()) return Fail(parsed.status());
    tags = std::move(*parsed);
    if (tags.empty() && args.delete_tags.empty()) {
      std::fprintf(stderr, "error: runs tag needs KEY=VALUE or --delete KEY\n");
      return kExitUsage;
    }
  }
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto run = stores->metadata->GetRun(args.run_id);  // a unique prefix is enough
  if (!run.ok()) return Fail(run.status());
  Status set = stores->metadata->SetTags(run->run_id, tags, args.delete_tags);
  if (!set.ok()) return Fail(set);
  auto changed = stores->metadata->GetRun(run->run_id);
  if (!changed.ok()) return Fail(changed.status());
  if (args.json) {
    PrintJson(RunJson(*changed, false));
  } else {
    for (const auto& [key, value] : changed->tags)
      std::printf("%s=%s\n", key.c_str(), value.c_str());
  }
  return kExitOk;
}

void PrintVersionLine(const ModelVersion& v) {
  std::string metric = v.metrics.contains("test") && v.metrics["test"].contains("roc_auc")
                           ? FormatDouble(v.metrics["test"]["roc_auc"].get<double>(), 4)
                           : "-";
  std::printf("%-20s %5lld  %-9s %-8s %-22s %8s  %-24s %s\n", v.model.c_str(),
              static_cast<long long>(v.version), v.approval.c_str(),
              v.archived ? "archived" : "live", Join(v.aliases, ",").c_str(), metric.c_str(),
              v.created_at.c_str(), v.run_id.c_str());
}

int ModelsList(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto versions = stores->metadata->ListVersions(args.target);
  if (!versions.ok()) return Fail(versions.status());
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModelVersion& v : *versions) out.push_back(v.ToJson());
    PrintJson(out);
    return kExitOk;
  }
  std::printf("%-20s %5s  %-9s %-8s %-22s %8s  %-24s %s\n", "model", "ver", "approval", "state",
              "aliases", "roc_auc", "created", "run");
  for (const ModelVersion& v : *versions) PrintVersionLine(v);
  return kExitOk;
}

int ModelsShow(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto version = Resolve(*stores->metadata, args.target);
  if (!version.ok()) return Fail(version.status());
  auto audit = stores->metadata->Audit(version->model);
  if (!audit.ok()) return Fail(audit.status());
  nlohmann::json out = version->ToJson(/*with_policy=*/true);
  out["audit"] = nlohmann::json::array();
  for (const AuditEntry& entry : *audit) {
    if (entry.version == version->version) out["audit"].push_back(entry.ToJson());
  }
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf("%s@%lld  %s%s\n  aliases: %s\n  run %s, %s, threshold %s\n  bundle %s\n  data %s\n",
              version->model.c_str(), static_cast<long long>(version->version),
              version->approval.c_str(), version->archived ? " (archived)" : "",
              Join(version->aliases, ", ").c_str(), version->run_id.c_str(),
              version->algorithm.c_str(), FormatDouble(version->threshold, 6).c_str(),
              version->bundle_uri.c_str(), version->data_hash.c_str());
  if (!version->description.empty()) std::printf("  %s\n", version->description.c_str());
  if (version->policy.empty()) {
    std::printf("decision policy: none\n");
  } else {
    std::printf("decision policy (sha256 %s)\n", out["policy_sha256"].get<std::string>().c_str());
    for (const std::string& line : Split(version->policy, '\n'))
      std::printf("  | %s\n", line.c_str());
  }
  std::printf("audit\n");
  for (const auto& entry : out["audit"]) {
    std::printf("  %s  %-16s %-20s %s\n", entry["at"].get<std::string>().c_str(),
                entry["action"].get<std::string>().c_str(),
                entry["actor"].get<std::string>().c_str(), entry["details"].dump().c_str());
  }
  return kExitOk;
}

/// approve, reject, archive, alias: each a registry change with an audit entry.
int ModelsChange(const RegistryArgs& args, const std::string& action) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  MetadataStore& store = *stores->metadata;
  std::string actor = CurrentActor();
  if (action == "alias" && args.delete_alias) {
    Status deleted = store.DeleteAlias(SplitRef(args.target).first, args.alias, actor);
    if (!deleted.ok()) return Fail(deleted);
    std::printf("removed alias '%s' of %s\n", args.alias.c_str(),
                SplitRef(args.target).first.c_str());
    return kExitOk;
  }
  auto version = Resolve(store, args.target);
  if (!version.ok()) return Fail(version.status());
  Result<std::optional<RemoteAdmin>> remote = std::optional<RemoteAdmin>();
  if (action == "approve" || action == "reject") remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  Status status;
  if (*remote) {  // shared mode: the server proves who approves and checks their role
    nlohmann::json body = {{"reason", args.reason}};
    if (action == "approve") body["aliases"] = args.aliases;
    if (action == "reject") body["roll_back"] = args.roll_back;
    status = (*remote)
                 ->Call("POST",
                        "/v1/admin/models/" + PathSegment(version->model) + "/versions/" +
                            std::to_string(version->version) + "/" + action,
                        body)
                 .status();
  } else if (action == "approve")
    status = store.SetApproval(version->model, version->version, "approved", actor, args.reason,
                               args.aliases, stores->config.register_.distinct_approver);
  else if (action == "reject" || action == "archive")  // refused while it serves
    status = ServingStore(store).Retire(
        {version->model, version->version},
        action == "reject" ? RetireAction::kReject : RetireAction::kArchive, args.reason, actor,
        args.roll_back);
  else
    status = store.SetAlias(version->model, args.alias, version->version, actor);
  if (!status.ok()) return Fail(status);
  auto changed = store.GetVersion(version->model, std::to_string(version->version));
  if (!changed.ok()) return Fail(changed.status());
  if (args.json)
    PrintJson(changed->ToJson());
  else
    PrintVersionLine(*changed);
  return kExitOk;
}

/// A new version of the same model with another decision policy (or none): the same run,
/// bundle, metrics and threshold, pending approval like any new version, audited; deployed
/// like any other version (a canary of the new policy).
int ModelsPolicy(const RegistryArgs& args) {
  if (args.clear_policy == !args.policy_file.empty()) {
    std::fprintf(stderr, "error: models policy needs FILE or --clear\n");
    return kExitUsage;
  }
  std::string text;
  if (!args.clear_policy) {
    auto read = ReadFile(args.policy_file);
    if (!read.ok()) return Fail(read.status());
    auto parsed = DecisionPolicy::Parse(*read, args.policy_file);  // refused with line:column
    if (!parsed.ok()) return Fail(parsed.status());
    text = std::move(*read);
  }
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto from = Resolve(*stores->metadata, args.target);
  if (!from.ok()) return Fail(from.status());
  const std::string from_ref = from->model + "@" + std::to_string(from->version);
  if (text == from->policy) {
    return Fail(Status::Conflict(
        from_ref + (text.empty() ? " has no decision policy" : " already has this policy")));
  }
  NewVersion version;
  version.model = from->model;
  version.run_id = from->run_id;
  version.algorithm = from->algorithm;
  version.bundle_uri = from->bundle_uri;
  version.threshold = from->threshold;
  version.metrics = from->metrics;
  version.data_hash = from->data_hash;
  version.policy = text;
  version.description =
      "the model of " + from_ref +
      (text.empty() ? " without a decision policy" : " with a new decision policy");
  if (!args.reason.empty()) version.description += ": " + args.reason;
  version.audit_details = {{"policy_from", from_ref}};
  if (!args.reason.empty()) version.audit_details["reason"] = args.reason;
  auto created = stores->metadata->CreateVersion(version, CurrentActor());
  if (!created.ok()) return Fail(created.status());
  if (args.json) {
    PrintJson(created->ToJson(/*with_policy=*/true));
    return kExitOk;
  }
  PrintVersionLine(*created);
  std::printf(
      "registered %s@%lld (%s); approve it, then deploy it like any version, e.g. as a canary:\n"
      "  fraudops deploy %s@%lld --endpoint ENDPOINT --strategy canary\n",
      created->model.c_str(), static_cast<long long>(created->version), created->approval.c_str(),
      created->model.c_str(), static_cast<long long>(created->version));
  return kExitOk;
}

/// One model of a combination, exported from the registry and loaded.
struct Member {
  ModelVersion version;
  std::string ref, directory;
  ModelBundle bundle;
  nlohmann::json bundle_json;
  std::string model_text;
};

Result<Member> ExportMember(Stores& stores, const std::string& target, const std::string& dir) {
  Member member;
  FOPS_ASSIGN_OR_RETURN(member.version, Resolve(*stores.metadata, target));
  member.ref = member.version.model + "@" + std::to_string(member.version.version);
  member.directory = dir;
  FOPS_RETURN_IF_ERROR(MakeDirectories(dir));
  FOPS_RETURN_IF_ERROR(
      ExportModelFiles(*stores.metadata, *stores.artifacts, member.version, dir).status());
  FOPS_ASSIGN_OR_RETURN(member.bundle, LoadBundle(dir));
  FOPS_ASSIGN_OR_RETURN(std::string json, ReadFile(dir + "/bundle.json"));
  member.bundle_json = nlohmann::json::parse(json, nullptr, false);
  FOPS_ASSIGN_OR_RETURN(member.model_text, ReadFile(dir + "/" + member.bundle.model_file));
  return member;
}

/// Registers a version of NAME that scores with several registered models on the same
/// inputs and combines their probabilities (mean, max, weighted). Its bundle is written and
/// stored by a tracked run (experiment "combine") like a pipeline's, so export, serving,
/// batch scoring and lineage treat it like any version. Pending approval.
Result<ModelVersion> CombineModels(const RegistryArgs& args) {
  if (args.members.size() < 2)
    return Status::InvalidArgument("models combine needs at least two --model NAME@VERSION");
  FOPS_ASSIGN_OR_RETURN(CombineMethod method, ParseCombineMethod(args.method));
  if (method == CombineMethod::kWeighted && args.weights.size() != args.members.size()) {
    return Status::InvalidArgument("--method weighted needs one --weight per --model (" +
                                   std::to_string(args.members.size()) + "), in their order");
  }
  if (method != CombineMethod::kWeighted && !args.weights.empty())
    return Status::InvalidArgument("--weight is for --method weighted");
  for (double w : args.weights) {
    if (!(w >= 0) || !std::isfinite(w))
      return Status::InvalidArgument("--weight must be a number >= 0");
  }
  FOPS_ASSIGN_OR_RETURN(Stores stores, OpenStores(args.config_path, args.home, true));
  TempDirectory scratch;
  if (scratch.path().empty()) return Status::IoError("cannot create a temporary directory");
  std::vector<Member> members;
  for (size_t i = 0; i < args.members.size(); ++i) {
    FOPS_ASSIGN_OR_RETURN(Member member, ExportMember(stores, args.members[i],
                                                      scratch.path() + "/" + std::to_string(i)));
    if (member.bundle.combined())
      return Status::InvalidArgument(member.ref + " is a combination; combine its models instead");
    if (!members.empty())
      FOPS_RETURN_IF_ERROR(CheckSameInputs(members[0].bundle, member.bundle, member.ref));
    members.push_back(std::move(member));
  }
  std::vector<CombinationInput> inputs;
  double threshold = 0, total = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    CombinationInput input;
    input.bundle = &members[i].bundle;
    input.model_text = members[i].model_text;
    input.weight = method == CombineMethod::kWeighted ? args.weights[i] : 1;
    const double t = members[i].version.threshold;
    if (method == CombineMethod::kMax)
      threshold = std::max(threshold, t);
    else
      threshold += input.weight * t;
    total += input.weight;
    inputs.push_back(std::move(input));
  }
  if (!(total > 0)) return Status::InvalidArgument("the weights sum to 0");
  if (method != CombineMethod::kMax) threshold /= total;
  if (args.threshold >= 0) threshold = args.threshold;

  const std::string name = args.target;
  const std::string run_id = NewUuidV7();
  const std::string prefix = "combine/" + run_id;
  nlohmann::json refs = nlohmann::json::array();
  std::vector<std::string> names;
  for (size_t i = 0; i < members.size(); ++i) {
    refs.push_back({{"model", members[i].ref}, {"weight", inputs[i].weight}});
    names.push_back(members[i].ref);
  }
  const nlohmann::json lineage = {{"model", name},
                                  {"run_id", run_id},
                                  {"combination", refs},
                                  {"code_version", std::string(CodeVersion())}};
  std::vector<std::pair<std::string, std::string>> files;
  nlohmann::json bundle_json =
      CombinedBundleJson(members[0].bundle_json, inputs, method, threshold, lineage, &files);
  files.emplace_back("bundle.json", bundle_json.dump(2));
  if (auto baseline = ReadFile(members[0].directory + "/baseline.json"); baseline.ok())
    files.emplace_back("baseline.json", *baseline);
  // Checked by loading it the way serving will.
  const std::string out = scratch.path() + "/combined";
  FOPS_RETURN_IF_ERROR(MakeDirectories(out));
  for (const auto& [file, content] : files)
    FOPS_RETURN_IF_ERROR(WriteFileAtomic(out + "/" + file, content));
  FOPS_RETURN_IF_ERROR(LoadBundle(out).status().WithContext("the combined bundle"));

  RunRecord run;
  run.run_id = run_id;
  run.experiment = "combine";
  run.start_time = UtcNow();
  run.code_version = std::string(CodeVersion());
  const std::string actor = CurrentActor();
  run.user = actor.substr(0, actor.find('@'));
  run.host = actor.substr(actor.find('@') + 1);
  run.artifact_uri = stores.artifacts->Uri(prefix);
  run.params["combine.method"] = nlohmann::json(args.method).dump();
  run.params["combine.models"] = refs.dump();
  run.params["combine.threshold"] = nlohmann::json(threshold).dump();
  FOPS_RETURN_IF_ERROR(stores.metadata->CreateRun(run));
  std::vector<ArtifactRecord> records;
  for (const auto& [file, content] : files) {
    auto stored = stores.artifacts->Put(prefix + "/model/" + file, out + "/" + file);
    if (!stored.ok()) {
      (void)stores.metadata->EndRun(run_id, RunStatus::kFailed, stored.status().message());
      return stored.status();
    }
    stored->name = "model/" + file;
    records.push_back(std::move(*stored));
  }
  FOPS_RETURN_IF_ERROR(stores.metadata->LogArtifacts(run_id, records));
  FOPS_RETURN_IF_ERROR(stores.metadata->EndRun(run_id, RunStatus::kSucceeded, ""));

  NewVersion version;
  version.model = name;
  version.run_id = run_id;
  version.algorithm = bundle_json["algorithm"].get<std::string>();
  version.bundle_uri = stores.artifacts->Uri(prefix + "/model");
  version.threshold = threshold;
  version.metrics = {{"combination", {{"method", args.method}, {"models", refs}}}};
  version.data_hash = members[0].version.data_hash;
  for (const Member& member : members) {
    if (member.version.data_hash != version.data_hash) version.data_hash.clear();
  }
  version.description =
      args.reason.empty() ? args.method + " of " + Join(names, ", ") : args.reason;
  version.audit_details = {{"combination", refs}, {"method", args.method}};
  return stores.metadata->CreateVersion(version, CurrentActor());
}

int ModelsCombine(const RegistryArgs& args) {
  auto created = CombineModels(args);
  if (!created.ok()) return Fail(created.status());
  if (args.json) {
    PrintJson(created->ToJson());
    return kExitOk;
  }
  PrintVersionLine(*created);
  std::printf("registered %s@%lld (%s), the %s of %zu models; approve it, then deploy it\n",
              created->model.c_str(), static_cast<long long>(created->version),
              created->approval.c_str(), args.method.c_str(), args.members.size());
  return kExitOk;
}

/// A line diff of two texts (longest common subsequence): each line prefixed with "  ", "- "
/// (only in `a`) or "+ " (only in `b`).
std::vector<std::string> LineDiff(const std::string& a, const std::string& b) {
  std::vector<std::string> x = a.empty() ? std::vector<std::string>() : Split(a, '\n');
  std::vector<std::string> y = b.empty() ? std::vector<std::string>() : Split(b, '\n');
  if (!x.empty() && x.back().empty()) x.pop_back();
  if (!y.empty() && y.back().empty()) y.pop_back();
  const size_t n = x.size(), m = y.size();
  std::vector<std::vector<uint32_t>> common(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      common[i][j] =
          x[i] == y[j] ? common[i + 1][j + 1] + 1 : std::max(common[i + 1][j], common[i][j + 1]);
    }
  }
  std::vector<std::string> out;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] == y[j]) {
      out.push_back("  " + x[i++]);
      ++j;
    } else if (j < m && (i == n || common[i][j + 1] >= common[i + 1][j])) {
      out.push_back("+ " + y[j++]);
    } else {
      out.push_back("- " + x[i++]);
    }
  }
  return out;
}

/// Every number under `metrics` as "a.b.c" → value.
void FlattenMetrics(const nlohmann::json& metrics, const std::string& prefix,
                    std::map<std::string, double>& out) {
  for (const auto& [key, value] : metrics.items()) {
    if (value.is_number()) out[prefix + key] = value.get<double>();
    if (value.is_object() && key != "champion") FlattenMetrics(value, prefix + key + ".", out);
  }
}

/// Two or more versions side by side: threshold and metrics (the best marked), and the
/// decision policies as a line diff against the first.
int ModelsCompare(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  std::vector<ModelVersion> versions;
  std::vector<std::map<std::string, double>> metrics;
  for (const std::string& target : args.runs) {
    auto version = Resolve(*stores->metadata, target);
    if (!version.ok()) return Fail(version.status());
    metrics.emplace_back();
    FlattenMetrics(version->metrics, "", metrics.back());
    metrics.back()["threshold"] = version->threshold;
    versions.push_back(std::move(*version));
  }
  auto ref = [](const ModelVersion& v) { return v.model + "@" + std::to_string(v.version); };
  std::vector<std::string> ids;
  std::vector<const std::map<std::string, double>*> compared;
  for (size_t i = 0; i < versions.size(); ++i) {
    ids.push_back(ref(versions[i]));
    compared.push_back(&metrics[i]);
  }
  nlohmann::json out = {{"versions", ids}, {"policies", nlohmann::json::array()}};
  CompareMetrics(compared, ids, out);
  for (size_t i = 0; i < versions.size(); ++i) {
    nlohmann::json policy = {
        {"version", ref(versions[i])},
        {"sha256", versions[i].policy.empty() ? nlohmann::json(nullptr)
                                              : nlohmann::json(Sha256Hex(versions[i].policy))}};
    if (i > 0) {
      policy["same_as_first"] = versions[i].policy == versions[0].policy;
      policy["diff"] = LineDiff(versions[0].policy, versions[i].policy);
    }
    out["policies"].push_back(policy);
  }
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf("%-34s", "");
  for (const ModelVersion& v : versions) std::printf("  %-18s", ref(v).substr(0, 18).c_str());
  std::printf("\nmetrics (* best)\n");
  PrintMetricTable(out, ids);
  std::printf("decision policies\n");
  for (const auto& policy : out["policies"]) {
    std::printf("  %s: %s\n", policy["version"].get<std::string>().c_str(),
                policy["sha256"].is_null() ? "none" : policy["sha256"].get<std::string>().c_str());
    if (!policy.contains("diff")) continue;
    if (policy["same_as_first"].get<bool>()) {
      std::printf("    same as %s\n", out["versions"][0].get<std::string>().c_str());
      continue;
    }
    for (const auto& line : policy["diff"])
      std::printf("    %s\n", line.get<std::string>().c_str());
  }
  return kExitOk;
}

/// Copies a version's model/ artifacts into `directory`, checksums verified; "NAME@N".
Result<std::string> ExportVersion(const RegistryArgs& args, const std::string& directory,
                                  size_t* written) {
  FOPS_ASSIGN_OR_RETURN(Stores stores, OpenStores(args.config_path, args.home, true));
  FOPS_ASSIGN_OR_RETURN(ModelVersion version, Resolve(*stores.metadata, args.target));
  FOPS_ASSIGN_OR_RETURN(*written,
                        ExportModelFiles(*stores.metadata, *stores.artifacts, version, directory));
  return version.model + "@" + std::to_string(version.version);
}

/// The model card of a version (docs/model-card.md), built now: the approvals and deployments
/// up to this moment.
int ModelsCard(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, true);
  if (!stores.ok()) return Fail(stores.status());
  auto version = Resolve(*stores->metadata, args.target);
  if (!version.ok()) return Fail(version.status());
  auto card = BuildModelCard(*stores->metadata, *stores->artifacts, *version, UtcNow());
  if (!card.ok()) return Fail(card.status());
  const std::string text = args.card_format == "json"   ? card->dump(2) + "\n"
                           : args.card_format == "html" ? ModelCardHtml(*card)
                                                        : ModelCardMarkdown(*card);
  if (args.output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }
  if (Status written = WriteFileAtomic(args.output, text); !written.ok()) return Fail(written);
  std::printf("wrote the model card of %s@%lld to %s\n", version->model.c_str(),
              static_cast<long long>(version->version), args.output.c_str());
  return kExitOk;
}

int ModelsExport(const RegistryArgs& args) {
  size_t written = 0;
  auto exported = ExportVersion(args, args.directory, &written);
  if (!exported.ok()) return Fail(exported.status());
  std::printf("exported %s (%zu files, checksums verified) to %s\n", exported->c_str(), written,
              args.directory.c_str());
  return kExitOk;
}

int Lineage(const RegistryArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  MetadataStore& store = *stores->metadata;
  if (!args.data_hash.empty()) {
    // Reverse: which versions came from this data.
    std::string matched = args.data_hash;
    auto versions = store.VersionsFromData(args.data_hash, &matched);
    if (!versions.ok()) return Fail(versions.status());
    if (args.json) {
      nlohmann::json out = {{"data_hash", matched}, {"versions", nlohmann::json::array()}};
      for (const ModelVersion& v : *versions)
        out["versions"].push_back(
            {{"model", v.model}, {"version", v.version}, {"run_id", v.run_id}});
      PrintJson(out);
    } else {
      std::printf("data %s\n", matched.c_str());
      for (const ModelVersion& v : *versions)
        std::printf("  -> %s@%lld (run %s)\n", v.model.c_str(), static_cast<long long>(v.version),
                    v.run_id.c_str());
      if (versions->empty()) std::printf("  no model version was trained from it\n");
    }
    return kExitOk;
  }
  auto version = Resolve(store, args.target);
  if (!version.ok()) return Fail(version.status());
  auto run = store.GetRun(version->run_id);
  if (!run.ok()) return Fail(run.status());
  auto endpoints = ServingStore(store).ListEndpoints();
  if (!endpoints.ok()) return Fail(endpoints.status());
  const nlohmann::json out = LineageJson(*version, *run, *endpoints);
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf("model   %s@%lld (%s%s)\n", version->model.c_str(),
              static_cast<long long>(version->version), version->approval.c_str(),
              version->aliases.empty() ? "" : (", " + Join(version->aliases, ", ")).c_str());
  std::printf("  run   %s (%s, %s .. %s)\n", run->run_id.c_str(),
              std::string(RunStatusName(run->status)).c_str(), run->start_time.c_str(),
              run->end_time.c_str());
  std::printf("  code  %s on %s by %s\n", run->code_version.c_str(), run->host.c_str(),
              run->user.c_str());
  std::printf("  execution artifacts %s\n", run->artifact_uri.c_str());
  if (out.contains("tuning")) {
    const nlohmann::json& tuning = out["tuning"];
    const std::string study = tuning["study"].get<std::string>();
    std::printf("  tuned by study %s%s (fraudops tune show %s)\n", study.c_str(),
                tuning["best_trial"].is_string()
                    ? (", best trial " + tuning["best_trial"].get<std::string>()).c_str()
                    : "",
                study.c_str());
  }
  for (const DatasetRecord& d : run->datasets) {
    std::printf("  data  %-10s %10lld rows  %s\n", d.role.c_str(), static_cast<long long>(d.rows),
                d.content_hash.c_str());
    if (d.role == "raw") std::printf("        source %s\n", d.source.c_str());
  }
  for (const auto& a : out["artifacts"]) {
    std::printf("  file  %-28s sha256 %s\n", a["name"].get<std::string>().c_str(),
                a["sha256"].get<std::string>().c_str());
  }
  for (const auto& node : out["graph"]["nodes"]) {
    if (node["kind"] != "endpoint") continue;
    std::printf("  serves %s (%s)\n", node["label"].get<std::string>().c_str(),
                Join(node["roles"].get<std::vector<std::string>>(), ", ").c_str());
  }
  return kExitOk;
}

}  // namespace

Result<std::string> ExportModelBundle(const std::string& config_path, const std::string& home,
                                      const std::string& target, const std::string& directory) {
  RegistryArgs args;
  args.config_path = config_path;
  args.home = home;
  args.target = target;
  size_t written = 0;
  return ExportVersion(args, directory, &written);
}

std::function<int()> AddRegistryCommands(CLI::App& app) {
  auto args = std::make_shared<RegistryArgs>();
  auto common = [args](CLI::App* command) {
    command->add_option("--config", args->config_path,
                        "Configuration file (global.home, global.metadata_url)");
    command->add_option("--home", args->home, "Workspace directory (overrides global.home)");
    command->add_flag("--json", args->json, "Print JSON");
  };
  auto* runs = app.add_subcommand("runs", "Tracked pipeline runs.");
  runs->require_subcommand(1);
  auto* list = runs->add_subcommand("list", "List runs, newest first (or best first with --sort).");
  common(list);
  list->add_option("--experiment", args->experiment, "Only this experiment (pipeline name)");
  list->add_option("--status", args->status,
                   "Only this status: succeeded, gate_failed, failed, running");
  list->add_option("--filter", args->filter,
                   "Only runs with METRIC>=VALUE, e.g. test.roc_auc>=0.95");
  list->add_option("--sort", args->sort, "Best first by this metric, e.g. test.pr_auc");
  list->add_option("--limit", args->limit, "At most this many runs (default 50)");
  list->add_flag(
      "--trials", args->trials,
      "Tuning studies' trial runs too (left out otherwise: a tuned run makes one a trial)");
  auto* show = runs->add_subcommand("show", "One run: datasets, metrics, artifacts, parameters.");
  common(show);
  show->add_option("RUN", args->runs, "Run id or a unique prefix")->required()->expected(1);
  auto* compare = runs->add_subcommand(
      "compare", "Runs side by side: differing parameters, metrics, the best marked.");
  common(compare);
  compare->add_option("RUNS", args->runs, "Two or more run ids or unique prefixes")
      ->required()
      ->expected(2, 100);
  auto* tag = runs->add_subcommand("tag", "Set or remove a run's tags: KEY=VALUE, --delete KEY.");
  common(tag);
  tag->add_option("RUN", args->run_id, "Run id or a unique prefix")->required();
  tag->add_option("TAGS", args->tags, "KEY=VALUE (keys may not begin with fraudops.)");
  tag->add_option("--delete", args->delete_tags, "Remove this tag");
  auto* note = runs->add_subcommand("note", "Annotate a run (replaces its note).");
  common(note);
  note->add_option("RUN", args->run_id, "Run id or a unique prefix")->required();
  note->add_option("TEXT", args->note, "The note")->required();

  auto* models = app.add_subcommand("models", "The model registry: versions, approval, aliases.");
  models->require_subcommand(1);
  auto* models_list =
      models->add_subcommand("list", "Versions of one model (or of all), newest first.");
  common(models_list);
  models_list->add_option("NAME", args->target, "Model name");
  auto* models_show = models->add_subcommand("show", "One version and its audit trail.");
  common(models_show);
  models_show->add_option("MODEL", args->target, "NAME[@VERSION|@ALIAS] (default: latest)")
      ->required();
  auto* approve =
      models->add_subcommand("approve", "Approve a version (human-in-the-loop approval).");
  common(approve);
  approve->add_option("MODEL", args->target, "NAME@VERSION")->required();
  approve->add_option("--reason", args->reason, "Why (recorded in the audit log)");
  approve->add_option("--alias", args->aliases, "Move these aliases to it (e.g. champion)");
  auto* reject = models->add_subcommand("reject", "Reject a version; its aliases are removed.");
  common(reject);
  reject->add_option("MODEL", args->target, "NAME@VERSION")->required();
  reject->add_option("--reason", args->reason, "Why (recorded in the audit log)")->required();
  reject->add_flag("--rollback", args->roll_back,
                   "If it serves: roll its endpoints back (canary removed, production to the "
                   "version before, shadows removed) first");
  auto* alias = models->add_subcommand(
      "alias", "Point an alias at a version (moved atomically), or --delete it.");
  common(alias);
  alias->add_option("MODEL", args->target, "NAME@VERSION (NAME with --delete)")->required();
  alias->add_option("ALIAS", args->alias, "Alias, e.g. champion or challenger")->required();
  alias->add_flag("--delete", args->delete_alias, "Remove the alias");
  auto* archive = models->add_subcommand("archive", "Archive a version; its aliases are removed.");
  common(archive);
  archive->add_option("MODEL", args->target, "NAME@VERSION")->required();
  archive->add_option("--reason", args->reason, "Why (recorded in the audit log)");
  archive->add_flag("--rollback", args->roll_back,
                    "If it serves: roll its endpoints back first (as for reject)");
  auto* policy = models->add_subcommand(
      "policy",
      "Register a new version of MODEL with another decision policy (same run, bundle and "
      "metrics; pending approval), to deploy like any version.");
  common(policy);
  policy->add_option("MODEL", args->target, "NAME@VERSION whose model the new version keeps")
      ->required();
  policy->add_option("FILE", args->policy_file, "The decision policy (docs/decision-policies.md)");
  policy->add_flag("--clear", args->clear_policy, "A new version without a decision policy");
  policy->add_option("--reason", args->reason, "Why (recorded in the description and audit log)");
  auto* combine = models->add_subcommand(
      "combine",
      "Register a version of NAME that scores with several registered models on the same "
      "inputs and combines their probabilities (mean, max, weighted); pending approval.");
  common(combine);
  combine->add_option("NAME", args->target, "The model the new version belongs to")->required();
  combine->add_option("--model", args->members, "NAME@VERSION or NAME@ALIAS; two or more")
      ->required();
  combine->add_option("--method", args->method, "mean (default), max or weighted");
  combine->add_option("--weight", args->weights, "With --method weighted: one per --model");
  combine
      ->add_option("--threshold", args->threshold,
                   "The decision threshold (default: the models' thresholds combined alike)")
      ->check(CLI::Range(0.0, 1.0));
  combine->add_option("--reason", args->reason, "Description (default: what it combines)");
  auto* models_compare = models->add_subcommand(
      "compare",
      "Versions side by side: threshold and metrics (the best marked), decision policies "
      "diffed against the first.");
  common(models_compare);
  models_compare->add_option("MODELS", args->runs, "Two or more NAME@VERSION or NAME@ALIAS")
      ->required()
      ->expected(2, 100);
  auto* export_command = models->add_subcommand(
      "export", "Copy a version's model bundle into a directory, checksums verified.");
  common(export_command);
  export_command->add_option("MODEL", args->target, "NAME[@VERSION|@ALIAS]")->required();
  export_command->add_option("DIR", args->directory, "Directory to write")->required();

  auto* card = models->add_subcommand(
      "card",
      "A version's model card (docs/model-card.md): intended use, data, features, training, "
      "metrics with intervals, calibration, bias, explanations, limitations, approvals and "
      "deployments, monitoring plan.");
  common(card);
  card->add_option("MODEL", args->target, "NAME@VERSION or NAME@ALIAS")->required();
  card->add_option("--format", args->card_format, "markdown (default), html or json")
      ->check(CLI::IsMember({"markdown", "html", "json"}));
  card->add_option("--output", args->output, "Write to this file (default: standard output)");

  auto* lineage = app.add_subcommand("lineage",
                                     "Trace a model version to its run, code and data; or --data "
                                     "HASH to the versions trained from it.");
  common(lineage);
  lineage->add_option("MODEL", args->target, "NAME@VERSION or NAME@ALIAS");
  lineage->add_option("--data", args->data_hash,
                      "A dataset content hash: list the versions trained from it");

  return [=]() -> int {
    if (*list) return RunsList(*args);
    if (*show) return RunsShow(*args);
    if (*compare) return RunsCompare(*args);
    if (*tag) return RunsTag(*args, false);
    if (*note) return RunsTag(*args, true);
    if (*models_list) return ModelsList(*args);
    if (*models_show) return ModelsShow(*args);
    if (*approve) return ModelsChange(*args, "approve");
    if (*reject) return ModelsChange(*args, "reject");
    if (*alias) return ModelsChange(*args, "alias");
    if (*archive) return ModelsChange(*args, "archive");
    if (*export_command) return ModelsExport(*args);
    if (*card) return ModelsCard(*args);
    if (*policy) return ModelsPolicy(*args);
    if (*models_compare) return ModelsCompare(*args);
    if (*combine) return ModelsCombine(*args);
    if (*lineage) {
      if (args->target.empty() == args->data_hash.empty()) {
        std::fprintf(stderr,
                     "error: lineage needs MODEL (NAME@VERSION or NAME@ALIAS) or --data HASH\n");
        return kExitUsage;
      }
      return Lineage(*args);
    }
    return -1;
  };
}

}  // namespace fraudops
