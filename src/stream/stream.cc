#include "stream/stream.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/files.h"
#include "core/strings.h"

namespace fraudops {

namespace {

using Json = nlohmann::json;

Status Unexpected(const RedisClient& redis, const RedisValue& reply, const std::string& command) {
  return Status::IoError("the stream store " + redis.redacted_url() + ": " + command +
                         " gave an unexpected answer" +
                         (reply.is_error() ? ": " + reply.text : std::string()));
}

/// [id, [field, value, …]] → an entry (`ok` false when it is not that shape; a deleted
/// entry has no fields and an empty `data`).
bool ParseEntry(const RedisValue& value, StreamEntry* entry) {
  if (value.type != RedisValue::Type::kArray || value.elements.size() != 2 ||
      value.elements[0].type != RedisValue::Type::kString) {
    return false;
  }
  entry->id = value.elements[0].text;
  const RedisValue& fields = value.elements[1];
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].text == "data") entry->data = fields.elements[i + 1].text;
  }
  return true;
}

std::string ErrorsKey(const StreamOptions& o) {
  return "fraudops:stream-errors:" + o.input + ":" + o.group;
}

/// KEYS[1] the output stream, KEYS[2] the transaction's marker; ARGV[1] the marker's TTL in
/// seconds, then the output's field-value pairs. Writes the output only with a new marker:
/// 1 written, 0 already written before.
constexpr std::string_view kWriteOnce = R"lua(
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
  return 1
end
return 0
)lua";

std::string Number(double v) {
  char text[32];
  auto end = std::to_chars(text, text + sizeof text, v).ptr;
  return std::string(text, end);
}

}  // namespace

Status StreamConsumer::Prepare() {
  FOPS_ASSIGN_OR_RETURN(RedisValue reply, redis_.Command({"XGROUP", "CREATE", options_.input,
                                                          options_.group, "0", "MKSTREAM"}));
  if (reply.is_error() && !StartsWith(reply.text, "BUSYGROUP"))
    return Unexpected(redis_, reply, "XGROUP CREATE");
  return Status::Ok();
}

Result<size_t> StreamConsumer::Poll() {
  std::vector<StreamEntry> entries;
  // Entries idle past claim_idle: a dead consumer's, or failures due for a retry.
  FOPS_ASSIGN_OR_RETURN(
      RedisValue claimed,
      redis_.Command({"XAUTOCLAIM", options_.input, options_.group, options_.consumer,
                      std::to_string(options_.claim_idle.count()), claim_cursor_, "COUNT",
                      std::to_string(options_.batch)}));
  if (claimed.type != RedisValue::Type::kArray || claimed.elements.size() < 2)
    return Unexpected(redis_, claimed, "XAUTOCLAIM");
  claim_cursor_ = claimed.elements[0].text;
  for (const RedisValue& value : claimed.elements[1].elements) {
    StreamEntry entry;
    if (ParseEntry(value, &entry)) entries.push_back(std::move(entry));
  }
  if (!entries.empty()) {
    counters_.reclaimed += entries.size();
    // How often each was delivered (XPENDING's extended form, this consumer's range).
    FOPS_ASSIGN_OR_RETURN(
        RedisValue pending,
        redis_.Command({"XPENDING", options_.input, options_.group, entries.front().id,
                        entries.back().id, std::to_string(entries.size() * 2 + 10),
                        options_.consumer}));
    std::map<std::string, int64_t> deliveries;
    for (const RedisValue& p : pending.elements) {
      if (p.elements.size() == 4) deliveries[p.elements[0].text] = p.elements[3].integer;
    }
    for (StreamEntry& entry : entries) {
      if (auto it = deliveries.find(entry.id); it != deliveries.end())
        entry.deliveries = it->second;
    }
  } else {
    FOPS_ASSIGN_OR_RETURN(
        RedisValue read,
        redis_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                        std::to_string(options_.batch), "BLOCK",
                        std::to_string(options_.block.count()), "STREAMS", options_.input, ">"}));
    if (read.is_error()) return Unexpected(redis_, read, "XREADGROUP");
    for (const RedisValue& stream : read.elements) {
      if (stream.elements.size() != 2) continue;
      for (const RedisValue& value : stream.elements[1].elements) {
        StreamEntry entry;
        if (ParseEntry(value, &entry)) entries.push_back(std::move(entry));
      }
    }
  }
  const size_t seen = entries.size();
  if (seen > 0) FOPS_RETURN_IF_ERROR(Process(std::move(entries)));
  return seen;
}

Status StreamConsumer::Process(std::vector<StreamEntry> entries) {
  const std::string errors_key = ErrorsKey(options_);
  // Past max_deliveries: to the dead-letter stream, with the last error.
  std::vector<StreamEntry> live, dead;
  for (StreamEntry& entry : entries)
    (entry.deliveries > options_.max_deliveries ? dead : live).push_back(std::move(entry));
  if (!dead.empty()) {
    std::vector<std::vector<std::string>> reads;
    for (const StreamEntry& entry : dead) reads.push_back({"HGET", errors_key, entry.id});
    FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> reasons, redis_.Pipeline(reads));
    std::vector<std::vector<std::string>> moves;
    std::vector<std::string> ack = {"XACK", options_.input, options_.group};
    std::vector<std::string> forget = {"HDEL", errors_key};
    for (size_t i = 0; i < dead.size(); ++i) {
      const std::string reason =
          reasons[i].type == RedisValue::Type::kString ? reasons[i].text : "no error was recorded";
      moves.push_back({"XADD", options_.dead_letter, "*", "entry", dead[i].id, "stream",
                       options_.input, "group", options_.group, "deliveries",
                       std::to_string(dead[i].deliveries), "reason", reason, "data", dead[i].data});
      ack.push_back(dead[i].id);
      forget.push_back(dead[i].id);
      if (options_.logger) {
        options_.logger->Warn("stream", "entry moved to the dead-letter stream",
                              {{"entry", dead[i].id}, {"reason", reason}});
      }
    }
    moves.push_back(ack);
    moves.push_back(forget);
    FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> done, redis_.Pipeline(moves));
    for (const RedisValue& reply : done)
      if (reply.is_error()) return Unexpected(redis_, reply, "dead-lettering");
    counters_.dead_lettered += dead.size();
  }
  if (live.empty()) return Status::Ok();
  std::vector<Status> results = handler_.Handle(live);
  FaultPoint("stream_before_ack");
  std::vector<std::string> ack = {"XACK", options_.input, options_.group};
  std::vector<std::string> forget = {"HDEL", errors_key};
  std::vector<std::vector<std::string>> commands;
  for (size_t i = 0; i < live.size(); ++i) {
    if (results[i].ok()) {
      ack.push_back(live[i].id);
      if (live[i].deliveries > 1) forget.push_back(live[i].id);
    } else {
      commands.push_back({"HSET", errors_key, live[i].id, results[i].message()});
      ++counters_.failures;
    }
  }
  if (ack.size() > 3) commands.push_back(ack);
  if (forget.size() > 2) commands.push_back(forget);
  if (commands.empty()) return Status::Ok();
  FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> replies, redis_.Pipeline(commands));
  for (const RedisValue& reply : replies)
    if (reply.is_error()) return Unexpected(redis_, reply, "acknowledging");
  counters_.processed += ack.size() - 3;
  return Status::Ok();
}

Status StreamConsumer::Run(const std::atomic<bool>& stop) {
  FOPS_RETURN_IF_ERROR(Prepare());
  while (!stop.load()) {
    Result<size_t> polled = Poll();
    if (!polled.ok()) {
      if (options_.logger)
        options_.logger->Warn("stream", "poll failed", {{"error", polled.status().message()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // Redis away: back off
    }
  }
  return Status::Ok();
}

Result<std::array<int64_t, 3>> StreamConsumer::Lag() {
  FOPS_ASSIGN_OR_RETURN(
      std::vector<RedisValue> replies,
      redis_.Pipeline({{"XINFO", "GROUPS", options_.input}, {"XLEN", options_.dead_letter}}));
  std::array<int64_t, 3> out = {0, 0, replies[1].integer};
  for (const RedisValue& group : replies[0].elements) {
    std::map<std::string, const RedisValue*> fields;
    for (size_t i = 0; i + 1 < group.elements.size(); i += 2)
      fields[group.elements[i].text] = &group.elements[i + 1];
    if (!fields.count("name") || fields["name"]->text != options_.group) continue;
    if (fields.count("lag")) out[0] = fields["lag"]->integer;
    if (fields.count("pending")) out[1] = fields["pending"]->integer;
  }
  return out;
}

ScoreHandler::ScoreHandler(RedisClient& redis, ModelBundle bundle, std::string model_ref,
                           OnlineStore* online, std::string output, std::string id_field,
                           std::chrono::seconds dedup_ttl, StreamCounters& counters)
    : redis_(redis),
      bundle_(std::move(bundle)),
      model_ref_(std::move(model_ref)),
      online_(online),
      output_(std::move(output)),
      id_field_(std::move(id_field)),
      dedup_ttl_(dedup_ttl),
      counters_(counters) {}

Status ScoreHandler::Init() {
  encoder_ = std::make_unique<FeatureEncoder>(bundle_.input);
  FOPS_ASSIGN_OR_RETURN(enricher_, FeatureEnricher::Create(bundle_.input, *encoder_));
  if (bundle_.policy) fields_ = bundle_.policy->fields();
  if (enricher_) {
    if (online_ == nullptr) return Status::Internal("the model needs the online store");
    for (const std::string& field : enricher_->fields()) {
      auto it = std::find(fields_.begin(), fields_.end(), field);
      enricher_slots_.push_back(static_cast<int>(it - fields_.begin()));
      if (it == fields_.end()) fields_.push_back(field);
    }
  }
  return Status::Ok();
}

std::vector<Status> ScoreHandler::Handle(const std::vector<StreamEntry>& entries) {
  std::vector<Status> results(entries.size());
  const size_t width = encoder_->size();
  std::vector<double> matrix;
  std::vector<PolicyInput> fields;
  std::vector<size_t> rows;  // entry index of each parsed row
  std::vector<std::string> ids;
  for (size_t e = 0; e < entries.size(); ++e) {
    const Json event = Json::parse(entries[e].data, nullptr, false);
    if (event.is_discarded() || !event.is_object()) {
      results[e] = Status::InvalidArgument("entry " + entries[e].id +
                                           ": `data` is not a JSON object of the transaction");
      continue;
    }
    std::vector<double> row(width, std::nan(""));
    std::string error;
    if (!encoder_->EncodeJsonObject(event, "entry " + entries[e].id, row.data(), &error)) {
      results[e] = Status::InvalidArgument(error);
      continue;
    }
    for (const std::string& name : fields_) {
      auto it = event.find(name);
      fields.push_back(it == event.end() ? PolicyInput() : PolicyInputOfJson(*it));
    }
    std::string id = entries[e].id;
    if (!id_field_.empty()) {
      auto it = event.find(id_field_);
      if (it != event.end() && (it->is_string() || it->is_number()))
        id = it->is_string() ? it->get<std::string>() : it->dump();
    }
    ids.push_back(std::move(id));
    matrix.insert(matrix.end(), row.begin(), row.end());
    rows.push_back(e);
  }
  if (rows.empty()) return results;
  if (enricher_) {
    Status enriched = enricher_->Enrich(*online_, fields, fields_.size(), enricher_slots_,
                                        rows.size(), matrix.data(), EventTimeNow());
    if (!enriched.ok()) {
      for (size_t r : rows) results[r] = enriched;
      return results;
    }
  }
  const double threshold = bundle_.threshold.value_or(0.5);
  static const RedisScript script(kWriteOnce);
  std::vector<RedisScriptCall> writes;
  const size_t policy_count = bundle_.policy ? bundle_.policy->fields().size() : 0;
  std::vector<PolicyValue> values(policy_count);
  for (size_t i = 0; i < rows.size(); ++i) {
    double* row = matrix.data() + i * width;
    encoder_->Derive(row);
    const double score = bundle_.PredictProbability(row);
    RedisScriptCall call{{output_, "fraudops:stream-done:" + output_ + ":" + ids[i]},
                         {std::to_string(dedup_ttl_.count()), "transaction_id", ids[i], "score",
                          Number(score), "label", score >= threshold ? "1" : "0", "model",
                          model_ref_, "entry", entries[rows[i]].id}};
    if (bundle_.policy) {
      const int score_slot = bundle_.policy->score_slot();
      for (size_t p = 0; p < policy_count; ++p) values[p] = fields[i * fields_.size() + p].View();
      if (score_slot >= 0) values[static_cast<size_t>(score_slot)] = PolicyValue::Number(score);
      const PolicyDecision decision = bundle_.policy->Evaluate(values);
      call.args.insert(call.args.end(), {"decision", std::string(decision.decision), "rule",
                                         std::string(decision.rule)});
    }
    writes.push_back(std::move(call));
  }
  Result<std::vector<RedisValue>> replies = redis_.Eval(script, writes);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!replies.ok()) {
      results[rows[i]] = replies.status();
    } else if ((*replies)[i].is_error()) {
      results[rows[i]] = Status::IoError("writing the output: " + (*replies)[i].text);
    } else if ((*replies)[i].integer == 0) {
      ++counters_.duplicates;  // written before this delivery: only acknowledged now
    }
  }
  return results;
}

IngestHandler::IngestHandler(std::vector<FeatureGroup> groups, OnlineStore& online,
                             FeatureRegistry* offline, size_t segment_rows)
    : online_(online), offline_(offline), segment_rows_(segment_rows) {
  for (FeatureGroup& group : groups) groups_.push_back({std::move(group), {}, {}, {}});
}

Status IngestHandler::Init() {
  for (Group& g : groups_) {
    FOPS_ASSIGN_OR_RETURN(g.updater, OnlineUpdater::Create(g.definition));
    g.pending.group = g.definition.name;
    for (const GroupColumn& column : g.definition.columns) {
      g.pending.columns.push_back(
          {column.name,
           column.categorical ? ColumnType::kCategorical : ColumnType::kNumeric,
           {},
           ""});
    }
    g.pending.values.resize(g.definition.columns.size());
  }
  return Status::Ok();
}

std::vector<Status> IngestHandler::Handle(const std::vector<StreamEntry>& entries) {
  std::vector<Status> results(entries.size());
  const EventTime now = EventTimeNow();
  std::vector<Json> events(entries.size());
  for (size_t e = 0; e < entries.size(); ++e) {
    events[e] = Json::parse(entries[e].data, nullptr, false);
    if (events[e].is_discarded() || !events[e].is_object()) {
      results[e] = Status::InvalidArgument("entry " + entries[e].id +
                                           ": `data` is not a JSON object of the event");
    }
  }
  for (Group& g : groups_) {
    const FeatureGroup& group = g.definition;
    // The events of each entity, in stream order: (entry, event time, available time).
    std::map<std::string, std::vector<std::tuple<size_t, EventTime, EventTime>>> by_key;
    for (size_t e = 0; e < entries.size(); ++e) {
      if (!results[e].ok()) continue;
      const Json& event = events[e];
      std::vector<std::string> parts;
      for (const std::string& entity : group.entities) {
        auto it = event.find(entity);
        if (it == event.end() || it->is_null()) break;
        parts.push_back(FeatureEnricher::KeyText(PolicyInputOfJson(*it)));
      }
      if (parts.size() != group.entities.size()) continue;  // not an event of this group
      auto time_of = [&](const std::string& field) -> std::optional<EventTime> {
        auto it = event.find(field);
        if (it == event.end()) return std::nullopt;
        return FeatureEnricher::TimeOf(PolicyInputOfJson(*it));
      };
      std::optional<EventTime> event_time = time_of(group.event_time);
      if (!event_time) {
        results[e] =
            Status::InvalidArgument("entry " + entries[e].id + ": /" + group.event_time +
                                    " is missing or not a time; accepted: " + kEventTimeForms);
        continue;
      }
      EventTime available = now;
      if (!group.created_time.empty()) {
        std::optional<EventTime> created = time_of(group.created_time);
        if (created) available = *created;
      }
      std::vector<std::string_view> views(parts.begin(), parts.end());
      by_key[JoinEntityKey(views)].emplace_back(e, *event_time, available);
    }
    if (by_key.empty()) continue;
    std::vector<std::string> keys;
    std::vector<const std::vector<std::tuple<size_t, EventTime, EventTime>>*> lists;
    for (const auto& [key, list] : by_key) {
      keys.push_back(OnlineKey(group.name, key));
      lists.push_back(&list);
    }
    EventTime newest = 0;
    std::vector<PolicyValue> values(group.columns.size());
    std::vector<std::string> texts(group.columns.size());
    auto column_values = [&](const Json& event) {
      for (size_t c = 0; c < group.columns.size(); ++c) {
        auto it = event.find(group.columns[c].name);
        values[c] = PolicyValue();
        if (it == event.end() || it->is_null()) continue;
        if (group.columns[c].categorical) {
          texts[c] = it->is_string() ? it->get<std::string>() : it->dump();
          values[c] = PolicyValue::String(texts[c]);
        } else if (it->is_number()) {
          values[c] = PolicyValue::Number(static_cast<float>(it->get<double>()));
        }
      }
    };
    Status updated = online_.Update(
        keys, [&](size_t i, const std::optional<std::string>& current) -> Result<std::string> {
          OnlineRecord record;
          if (current) {
            FOPS_ASSIGN_OR_RETURN(record, OnlineRecord::Decode(*current, g.updater.plan().slots()));
          }
          for (const auto& [e, event_time, available] : *lists[i]) {
            column_values(events[e]);
            g.updater.Apply(record, event_time, available, values);
            newest = std::max(newest, event_time);
          }
          return record.Encode();
        });
    if (updated.ok()) updated = RecordFreshness(online_, group.name, newest);
    if (!updated.ok()) {
      for (Status& result : results)
        if (result.ok()) result = updated;
      return results;
    }
    // The offline store: the same rows, a segment per segment_rows.
    if (offline_ != nullptr) {
      for (const auto& [key, list] : by_key) {
        auto [found, added] =
            g.key_codes.emplace(key, static_cast<uint32_t>(g.pending.keys.size()));
        if (added) g.pending.keys.push_back(key);
        const uint32_t code = found->second;
        for (const auto& [e, event_time, available] : list) {
          column_values(events[e]);
          g.pending.key.push_back(code);
          g.pending.event.push_back(event_time);
          g.pending.available.push_back(available);
          g.pending.ingested.push_back(now);
          for (size_t c = 0; c < values.size(); ++c) {
            float v = std::nanf("");
            if (values[c].kind == PolicyValue::Kind::kNumber) {
              v = static_cast<float>(values[c].number);
            } else if (values[c].kind == PolicyValue::Kind::kString) {
              auto& categories = g.pending.columns[c].categories;
              auto at = std::find(categories.begin(), categories.end(), values[c].text);
              v = static_cast<float>(at - categories.begin());
              if (at == categories.end()) categories.emplace_back(values[c].text);
            }
            g.pending.values[c].push_back(v);
          }
        }
      }
    }
  }
  if (offline_ != nullptr) {
    for (Group& g : groups_) {
      if (g.pending.rows() < segment_rows_) continue;
      Status flushed = Flush();
      if (!flushed.ok()) {
        for (Status& result : results)
          if (result.ok()) result = flushed;
      }
      break;
    }
  }
  return results;
}

Status IngestHandler::Flush() {
  if (offline_ == nullptr) return Status::Ok();
  for (Group& g : groups_) {
    if (g.pending.rows() == 0) continue;
    FOPS_RETURN_IF_ERROR(
        offline_->Ingest(g.definition, g.pending, "stream", "stream ingest").status());
    g.pending.keys.clear();
    g.key_codes.clear();
    g.pending.key.clear();
    g.pending.event.clear();
    g.pending.available.clear();
    g.pending.ingested.clear();
    for (auto& column : g.pending.values) column.clear();
  }
  return Status::Ok();
}

}  // namespace fraudops
