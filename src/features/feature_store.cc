#include "features/feature_store.h"

#include <algorithm>
#include <set>

#include "core/hash.h"
#include "core/ids.h"
#include "core/strings.h"
#include "store/artifact_store.h"
#include "store/metadata_store.h"
#include "store/sql_values.h"

namespace fraudops {

using store_internal::Int;
using store_internal::Text;

namespace {

constexpr const char* kSegmentColumns =
    "id, group_name, group_version, uri, sha256, bytes, rows_count, entities, min_event, "
    "max_event, ingested_at, source, actor";

SegmentRecord SegmentFromRow(const SqlRow& row) {
  SegmentRecord s;
  s.id = AsText(row[0]);
  s.group = AsText(row[1]);
  s.group_version = AsInt(row[2]);
  s.uri = AsText(row[3]);
  s.sha256 = AsText(row[4]);
  s.bytes = AsInt(row[5]);
  s.rows = AsInt(row[6]);
  s.entities = AsInt(row[7]);
  s.min_event = AsInt(row[8]);
  s.max_event = AsInt(row[9]);
  s.ingested_at = AsText(row[10]);
  s.source = AsText(row[11]);
  s.actor = AsText(row[12]);
  return s;
}

Result<FeatureGroup> GroupFromRow(const SqlRow& row) {
  const std::string name = AsText(row[0]);
  nlohmann::json definition = nlohmann::json::parse(AsText(row[2]), nullptr, false);
  if (definition.is_discarded())
    return Status::DataError("feature group '" + name + "': its stored definition is not JSON");
  FOPS_ASSIGN_OR_RETURN(FeatureGroup group,
                        FeatureGroup::FromJson(definition, "stored feature group '" + name + "'"));
  group.version = AsInt(row[1]);
  return group;
}

}  // namespace

nlohmann::json SegmentRecord::ToJson() const {
  return {{"id", id},
          {"group", group},
          {"group_version", group_version},
          {"uri", uri},
          {"sha256", sha256},
          {"bytes", bytes},
          {"rows", rows},
          {"entities", entities},
          {"min_event_time", FormatEventTime(min_event)},
          {"max_event_time", FormatEventTime(max_event)},
          {"ingested_at", ingested_at},
          {"source", source},
          {"actor", actor}};
}

Result<std::vector<AppliedGroup>> FeatureRegistry::Apply(const std::vector<FeatureGroup>& groups,
                                                         const std::string& actor) {
  std::vector<AppliedGroup> applied;
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    applied.clear();
    SqlConnection& db = store_.connection();
    for (const FeatureGroup& group : groups) {
      FOPS_RETURN_IF_ERROR(group.Validate("feature group '" + group.name + "'"));
      SqlValue p[] = {Text(group.name)};
      FOPS_ASSIGN_OR_RETURN(SqlResult r, db.Query("SELECT name, version, definition FROM "
                                                  "feature_groups WHERE name = ? ORDER BY "
                                                  "version DESC LIMIT 1",
                                                  p));
      AppliedGroup result{group.name, 1, true};
      const std::string definition = group.ToJson().dump();
      if (!r.rows.empty()) {
        FOPS_ASSIGN_OR_RETURN(FeatureGroup latest, GroupFromRow(r.rows[0]));
        if (latest.ToJson().dump() == definition) {
          applied.push_back({group.name, latest.version, false});
          continue;
        }
        FOPS_RETURN_IF_ERROR(CheckCompatible(latest, group));
        result.version = latest.version + 1;
      }
      SqlValue insert[] = {Text(group.name), Int(result.version), Text(definition), Text(UtcNow()),
                           Text(actor)};
      FOPS_RETURN_IF_ERROR(
          db.Exec("INSERT INTO feature_groups (name, version, definition, created_at, created_by) "
                  "VALUES (?, ?, ?, ?, ?)",
                  insert));
      FOPS_RETURN_IF_ERROR(store_.AppendAudit(
          actor, "feature_group_applied", "", 0,
          {{"group", group.name}, {"version", result.version}, {"definition", group.ToJson()}}));
      applied.push_back(result);
    }
    return Status::Ok();
  }));
  return applied;
}

Result<std::vector<FeatureGroup>> FeatureRegistry::List() {
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r,
      store_.connection().Query(
          "SELECT g.name, g.version, g.definition FROM feature_groups g WHERE g.version = "
          "(SELECT MAX(version) FROM feature_groups h WHERE h.name = g.name) ORDER BY g.name"));
  std::vector<FeatureGroup> groups;
  for (const SqlRow& row : r.rows) {
    FOPS_ASSIGN_OR_RETURN(FeatureGroup group, GroupFromRow(row));
    groups.push_back(std::move(group));
  }
  return groups;
}

Result<std::vector<FeatureGroup>> FeatureRegistry::Select(const std::vector<std::string>& names) {
  if (names.empty()) return List();
  std::vector<FeatureGroup> groups;
  for (const std::string& name : names) {
    FOPS_ASSIGN_OR_RETURN(FeatureGroup group, Get(name));
    groups.push_back(std::move(group));
  }
  return groups;
}

Result<std::vector<FeatureGroup>> FeatureRegistry::Versions(const std::string& name) {
  SqlValue p[] = {Text(name)};
  FOPS_ASSIGN_OR_RETURN(
      SqlResult r, store_.connection().Query("SELECT name, version, definition FROM feature_groups "
                                             "WHERE name = ? ORDER BY version",
                                             p));
  std::vector<FeatureGroup> groups;
  for (const SqlRow& row : r.rows) {
    FOPS_ASSIGN_OR_RETURN(FeatureGroup group, GroupFromRow(row));
    groups.push_back(std::move(group));
  }
  return groups;
}

Result<FeatureGroup> FeatureRegistry::Get(const std::string& name, int64_t version) {
  FOPS_ASSIGN_OR_RETURN(std::vector<FeatureGroup> versions, Versions(name));
  if (versions.empty()) {
    FOPS_ASSIGN_OR_RETURN(std::vector<FeatureGroup> all, List());
    std::vector<std::string> names;
    for (const FeatureGroup& g : all) names.push_back(g.name);
    return Status::NotFound("no feature group '" + name + "'" + DidYouMean(name, names) +
                            (names.empty()
                                 ? std::string("; none is declared (fraudops features apply FILE)")
                                 : "; declared: " + Join(names, ", ")));
  }
  if (version == 0) return versions.back();
  for (const FeatureGroup& g : versions)
    if (g.version == version) return g;
  return Status::NotFound("feature group '" + name + "' has no version " + std::to_string(version) +
                          "; its latest is " + std::to_string(versions.back().version));
}

Result<SegmentRecord> FeatureRegistry::Ingest(const FeatureGroup& group, const FeatureTable& table,
                                              const std::string& source, const std::string& actor) {
  if (artifacts_ == nullptr) return Status::Internal("the feature registry has no artifact store");
  if (table.rows() == 0) return Status::DataError(source + ": no rows to ingest");
  SegmentRecord record;
  record.id = NewUuidV7();
  record.group = group.name;
  record.group_version = group.version;
  record.rows = static_cast<int64_t>(table.rows());
  record.entities = static_cast<int64_t>(table.keys.size());
  record.min_event = *std::min_element(table.event.begin(), table.event.end());
  record.max_event = *std::max_element(table.event.begin(), table.event.end());
  record.source = source;
  record.actor = actor;
  const std::string bytes = EncodeFeatureSegment(table);
  Result<ArtifactRecord> put =
      artifacts_->PutBytes("features/" + group.name + "/" + record.id + ".ffs", bytes);
  if (!put.ok()) return put.status();
  record.uri = put->uri;
  record.sha256 = put->sha256;
  record.bytes = put->size;
  record.ingested_at = UtcNow();
  FOPS_RETURN_IF_ERROR(store_.InTransaction([&]() -> Status {
    SqlValue p[] = {Text(record.id),       Text(record.group),       Int(record.group_version),
                    Text(record.uri),      Text(record.sha256),      Int(record.bytes),
                    Int(record.rows),      Int(record.entities),     Int(record.min_event),
                    Int(record.max_event), Text(record.ingested_at), Text(record.source),
                    Text(record.actor)};
    FOPS_RETURN_IF_ERROR(
        store_.connection().Exec(std::string("INSERT INTO feature_segments (") + kSegmentColumns +
                                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 p));
    return store_.AppendAudit(actor, "features_ingested", "", 0,
                              {{"group", group.name},
                               {"version", group.version},
                               {"segment", record.id},
                               {"rows", record.rows},
                               {"source", source}});
  }));
  return record;
}

Result<std::vector<SegmentRecord>> FeatureRegistry::Segments(const std::string& group) {
  SqlValue p[] = {Text(group)};
  FOPS_ASSIGN_OR_RETURN(SqlResult r,
                        store_.connection().Query(std::string("SELECT ") + kSegmentColumns +
                                                      " FROM feature_segments WHERE "
                                                      "group_name = ? ORDER BY id",
                                                  p));
  std::vector<SegmentRecord> out;
  for (const SqlRow& row : r.rows) out.push_back(SegmentFromRow(row));
  return out;
}

Result<FeatureTable> FeatureRegistry::Load(const FeatureGroup& group, GroupSnapshot* snapshot) {
  if (artifacts_ == nullptr) return Status::Internal("the feature registry has no artifact store");
  FOPS_ASSIGN_OR_RETURN(std::vector<SegmentRecord> segments, Segments(group.name));
  FeatureTable table;
  table.group = group.name;
  Sha256 hash;
  for (const SegmentRecord& segment : segments) {
    FOPS_ASSIGN_OR_RETURN(std::string bytes, artifacts_->Read(segment.uri, segment.sha256));
    FOPS_ASSIGN_OR_RETURN(FeatureTable part, DecodeFeatureSegment(bytes, segment.uri));
    if (table.rows() == 0 && table.columns.empty()) {
      table = std::move(part);
    } else {
      FOPS_RETURN_IF_ERROR(table.Append(part));
    }
    hash.Update(segment.sha256);
  }
  table.group = group.name;
  if (snapshot) {
    snapshot->group = group.name;
    snapshot->version = group.version;
    snapshot->segments.clear();
    for (const SegmentRecord& segment : segments) snapshot->segments.push_back(segment.id);
    snapshot->rows = static_cast<int64_t>(table.rows());
    snapshot->hash = hash.HexDigest();
  }
  return table;
}

}  // namespace fraudops
