#include "cli/features_commands.h"

#include <cstdio>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "core/files.h"
#include "core/strings.h"
#include "data/source.h"
#include "features/feature_store.h"
#include "features/online_store.h"
#include "pipeline/pipeline.h"

namespace fraudops {

namespace {

using Json = nlohmann::json;

struct FeaturesArgs {
  std::string config_path, home;
  bool json = false;
  std::string file, group, data;
  std::vector<std::string> groups;
  int64_t version = 0;
};

Json GroupJson(const FeatureGroup& group) {
  Json out = group.ToJson();
  out["version"] = group.version;
  return out;
}

/// Definitions from FILE, or from the configuration file's feature_groups.
Result<std::vector<FeatureGroup>> Definitions(const FeaturesArgs& args, const Config& config) {
  const std::string path = args.file.empty() ? config.config_path : args.file;
  if (path.empty()) {
    return Status::InvalidArgument(
        "no definitions: name a file (fraudops features apply FILE) or declare feature_groups "
        "in config.yml");
  }
  FOPS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  FOPS_ASSIGN_OR_RETURN(std::vector<FeatureGroup> groups, ParseFeatureGroups(text, path));
  if (groups.empty())
    return Status::InvalidArgument(path + ": declares no feature_groups (docs/features.md)");
  return groups;
}

int Apply(const FeaturesArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, true, true);
  if (!stores.ok()) return Fail(stores.status());
  auto groups = Definitions(args, stores->config);
  if (!groups.ok()) return Fail(groups.status());
  FeatureRegistry registry(*stores->metadata, *stores->artifacts);
  auto applied = registry.Apply(*groups, CurrentActor());
  if (!applied.ok()) return Fail(applied.status());
  Json out = Json::array();
  for (const AppliedGroup& group : *applied) {
    out.push_back({{"group", group.name}, {"version", group.version}, {"changed", group.changed}});
    if (!args.json) {
      std::printf("%-32s v%-4lld %s\n", group.name.c_str(), static_cast<long long>(group.version),
                  group.changed ? "recorded" : "unchanged");
    }
  }
  if (args.json) PrintJson(out);
  return kExitOk;
}

int List(const FeaturesArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, true);
  if (!stores.ok()) return Fail(stores.status());
  FeatureRegistry registry(*stores->metadata, *stores->artifacts);
  auto groups = registry.List();
  if (!groups.ok()) return Fail(groups.status());
  Json out = Json::array();
  if (!args.json) {
    std::printf("%-28s %-7s %-20s %-9s %-9s %-12s %s\n", "GROUP", "VERSION", "ENTITIES", "FEATURES",
                "SEGMENTS", "ROWS", "NEWEST EVENT");
  }
  for (const FeatureGroup& group : *groups) {
    auto segments = registry.Segments(group.name);
    if (!segments.ok()) return Fail(segments.status());
    int64_t rows = 0;
    EventTime newest = 0;
    for (const SegmentRecord& s : *segments) {
      rows += s.rows;
      newest = std::max(newest, s.max_event);
    }
    Json item = GroupJson(group);
    item["segments"] = segments->size();
    item["rows"] = rows;
    if (!segments->empty()) item["newest_event_time"] = FormatEventTime(newest);
    out.push_back(item);
    if (!args.json) {
      std::printf("%-28s v%-6lld %-20s %-9zu %-9zu %-12lld %s\n", group.name.c_str(),
                  static_cast<long long>(group.version), Join(group.entities, ",").c_str(),
                  group.FeatureNames().size(), segments->size(), static_cast<long long>(rows),
                  segments->empty() ? "-" : FormatEventTime(newest).c_str());
    }
  }
  if (args.json) PrintJson(out);
  return kExitOk;
}

int Show(const FeaturesArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, true);
  if (!stores.ok()) return Fail(stores.status());
  FeatureRegistry registry(*stores->metadata, *stores->artifacts);
  auto group = registry.Get(args.group, args.version);
  if (!group.ok()) return Fail(group.status());
  auto versions = registry.Versions(args.group);
  if (!versions.ok()) return Fail(versions.status());
  auto segments = registry.Segments(args.group);
  if (!segments.ok()) return Fail(segments.status());
  Json out = GroupJson(*group);
  out["versions"] = versions->size();
  out["segments"] = Json::array();
  for (const SegmentRecord& s : *segments) out["segments"].push_back(s.ToJson());
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf("feature group %s v%lld (of %zu)\n", group->name.c_str(),
              static_cast<long long>(group->version), versions->size());
  if (!group->description.empty()) std::printf("  %s\n", group->description.c_str());
  std::printf("  entities:     %s\n", Join(group->entities, ", ").c_str());
  std::printf("  event time:   %s\n", group->event_time.c_str());
  std::printf("  created time: %s\n",
              group->created_time.empty() ? "(ingestion time)" : group->created_time.c_str());
  std::printf("  ttl:          %s\n",
              group->ttl ? FormatDuration(group->ttl / kMicrosPerSecond).c_str() : "none");
  if (!group->owner.empty()) std::printf("  owner:        %s\n", group->owner.c_str());
  if (!group->source.empty()) std::printf("  source:       %s\n", group->source.c_str());
  std::printf("  columns:\n");
  for (const GroupColumn& c : group->columns)
    std::printf("    %-28s %s\n", c.name.c_str(), c.categorical ? "categorical" : "numeric");
  if (!group->aggregates.empty()) std::printf("  aggregates:\n");
  for (const AggregateSpec& a : group->aggregates) {
    std::printf("    %-28s %s(%s) over %s%s%s\n", a.name.c_str(),
                std::string(AggregateFunctionName(a.function)).c_str(), a.column.c_str(),
                FormatDuration(a.window / kMicrosPerSecond).c_str(),
                a.filter.empty() ? "" : " where ", a.filter.c_str());
  }
  std::printf("  segments: %zu\n", segments->size());
  for (const SegmentRecord& s : *segments) {
    std::printf("    %s  %lld rows, %lld entities, events %s … %s, from %s\n",
                s.ingested_at.c_str(), static_cast<long long>(s.rows),
                static_cast<long long>(s.entities), FormatEventTime(s.min_event).c_str(),
                FormatEventTime(s.max_event).c_str(), s.source.c_str());
  }
  return kExitOk;
}

int Ingest(const FeaturesArgs& args) {
  auto session = OpenSession(args.config_path);
  if (!session.ok()) return Fail(session.status());
  Config config = (*session)->config;
  if (!args.home.empty()) config.global.home = args.home;
  auto stores = OpenStoresFor(config, true, true);
  if (!stores.ok()) return Fail(stores.status());
  FeatureRegistry registry(*stores->metadata, *stores->artifacts);
  auto group = registry.Get(args.group);
  if (!group.ok()) return Fail(group.status());
  std::string uri = args.data.empty() ? group->source : args.data;
  if (uri.empty()) {
    return Fail(Status::InvalidArgument("feature group '" + group->name +
                                        "' declares no source; name one with --data SOURCE"));
  }
  auto options = SourceOptionsFrom(stores->config);
  if (!options.ok()) return Fail(options.status());
  TableOptions& table = options->csv.table;
  table.label_column.clear();
  table.drop_columns.clear();
  table.categorical_columns = FeatureTextColumns(*group);
  table.categorical_columns_origin = "feature group '" + group->name + "'";
  SourceRegistry sources;
  RegisterBuiltinSources(sources);
  auto loaded = sources.Load(uri, *options, (*session)->context);
  if (!loaded.ok()) return Fail(loaded.status());
  const std::string where = RedactUrl(uri);
  auto rows = FeatureTableFromDataset(*group, loaded->dataset, EventTimeNow(), where);
  if (!rows.ok()) return Fail(rows.status());
  auto segment = registry.Ingest(*group, *rows, where, CurrentActor());
  if (!segment.ok()) return Fail(segment.status());
  if (args.json) {
    PrintJson(segment->ToJson());
  } else {
    std::printf("ingested %lld rows (%lld entities, events %s … %s) into %s v%lld\n",
                static_cast<long long>(segment->rows), static_cast<long long>(segment->entities),
                FormatEventTime(segment->min_event).c_str(),
                FormatEventTime(segment->max_event).c_str(), group->name.c_str(),
                static_cast<long long>(group->version));
  }
  return kExitOk;
}

int MaterializeCommand(const FeaturesArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, true);
  if (!stores.ok()) return Fail(stores.status());
  FeatureRegistry registry(*stores->metadata, *stores->artifacts);
  auto groups = registry.Select(args.groups);
  if (!groups.ok()) return Fail(groups.status());
  auto online = OpenOnlineStore(OnlineStoreOptionsFrom(stores->config));
  if (!online.ok()) return Fail(online.status());
  Json out = Json::array();
  const EventTime now = EventTimeNow();
  for (const FeatureGroup& group : *groups) {
    auto table = registry.Load(group);
    if (!table.ok()) return Fail(table.status());
    auto written = Materialize(**online, group, *table, now);
    if (!written.ok()) return Fail(written.status());
    Json item = {{"group", group.name},
                 {"version", group.version},
                 {"entities", written->entities},
                 {"window_events", written->events},
                 {"store", (*online)->Describe()}};
    if (written->entities) item["newest_event_time"] = FormatEventTime(written->newest);
    out.push_back(item);
    if (!args.json) {
      std::printf("%-28s v%-4lld %zu entities, %zu window events, newest event %s -> %s\n",
                  group.name.c_str(), static_cast<long long>(group.version), written->entities,
                  written->events,
                  written->entities ? FormatEventTime(written->newest).c_str() : "-",
                  (*online)->Describe().c_str());
    }
  }
  if (args.json) PrintJson(out);
  return kExitOk;
}

}  // namespace

std::function<int()> AddFeaturesCommands(CLI::App& app) {
  auto args = std::make_shared<FeaturesArgs>();
  auto* features =
      app.add_subcommand("features", "Feature groups and the offline store (docs/features.md)");
  features->require_subcommand(1);
  auto common = [&](CLI::App* command) {
    command->add_option("--config", args->config_path, "Configuration file");
    command->add_option("--home", args->home, "Workspace directory (global.home)");
    command->add_flag("--json", args->json, "Print JSON");
  };
  auto* apply = features->add_subcommand(
      "apply", "Record feature group definitions (a changed group gets a new version)");
  apply->add_option("FILE", args->file,
                    "YAML file with feature_groups (default: those of the configuration file)");
  common(apply);
  auto* list = features->add_subcommand("list", "The feature groups, their versions and rows");
  common(list);
  auto* show = features->add_subcommand("show", "One feature group: definition and segments");
  show->add_option("GROUP", args->group, "Feature group")->required();
  show->add_option("--version", args->version, "A version (default: the latest)");
  common(show);
  auto* ingest = features->add_subcommand(
      "ingest", "Append rows to a group's offline store from any data source");
  ingest->add_option("GROUP", args->group, "Feature group")->required();
  ingest->add_option("--data", args->data,
                     "Data source URI (default: the group's source): CSV, sqlite:, postgresql://, "
                     "mysql://, s3://, fds:");
  common(ingest);
  auto* materialize = features->add_subcommand(
      "materialize",
      "Write the online store from the offline store: each entity's latest row and recent "
      "events");
  materialize->add_option("GROUP", args->groups, "Feature groups (default: all)");
  common(materialize);
  return [=]() -> int {
    if (*apply) return Apply(*args);
    if (*list) return List(*args);
    if (*show) return Show(*args);
    if (*ingest) return Ingest(*args);
    if (*materialize) return MaterializeCommand(*args);
    return -1;
  };
}

}  // namespace fraudops
