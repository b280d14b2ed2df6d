#include "features/online_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/config.h"
#include "core/files.h"
#include "core/mutex.h"
#include "core/redis.h"
#include "core/strings.h"

namespace fraudops {

namespace {

constexpr uint8_t kRecordVersion = 1;

template <typename T>
void PutBytes(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

struct Cursor {
  std::string_view bytes;
  size_t at = 0;
  template <typename T>
  bool Get(T* value) {
    if (bytes.size() - at < sizeof(T)) return false;
    std::memcpy(value, bytes.data() + at, sizeof(T));
    at += sizeof(T);
    return true;
  }
  bool Take(size_t n, std::string_view* out) {
    if (bytes.size() - at < n) return false;
    *out = bytes.substr(at, n);
    at += n;
    return true;
  }
};

}  // namespace

std::string OnlineRecord::Encode() const {
  std::string out;
  PutBytes<uint8_t>(out, kRecordVersion);
  PutBytes<uint8_t>(out, has_latest ? 1 : 0);
  PutBytes<EventTime>(out, event);
  PutBytes<EventTime>(out, available);
  PutBytes<uint32_t>(out, static_cast<uint32_t>(latest.size()));
  for (const PolicyInput& value : latest) {
    if (value.kind == PolicyValue::Kind::kNumber) {
      PutBytes<uint8_t>(out, 1);
      PutBytes<double>(out, value.number);
    } else if (value.kind == PolicyValue::Kind::kString) {
      PutBytes<uint8_t>(out, 2);
      PutBytes<uint32_t>(out, static_cast<uint32_t>(value.text.size()));
      out += value.text;
    } else {
      PutBytes<uint8_t>(out, 0);
    }
  }
  std::string window_bytes;
  window.Encode(window_bytes);
  PutBytes<uint32_t>(out, static_cast<uint32_t>(window_bytes.size()));
  out += window_bytes;
  return out;
}

Result<OnlineRecord> OnlineRecord::Decode(std::string_view bytes, size_t slots) {
  auto bad = [](const std::string& what) {
    return Status::DataError("malformed online record: " + what);
  };
  Cursor in{bytes};
  uint8_t version = 0, has_latest = 0;
  OnlineRecord record;
  uint32_t columns = 0;
  if (!in.Get(&version) || version != kRecordVersion) return bad("unknown version");
  if (!in.Get(&has_latest) || has_latest > 1 || !in.Get(&record.event) ||
      !in.Get(&record.available) || !in.Get(&columns)) {
    return bad("truncated header");
  }
  if (columns > bytes.size()) return bad("more columns than bytes");
  record.has_latest = has_latest == 1;
  record.latest.resize(columns);
  for (PolicyInput& value : record.latest) {
    uint8_t kind = 0;
    if (!in.Get(&kind)) return bad("truncated column");
    if (kind == 1) {
      double number = 0;
      if (!in.Get(&number)) return bad("truncated number");
      value = PolicyInput::Number(number);
    } else if (kind == 2) {
      uint32_t size = 0;
      std::string_view text;
      if (!in.Get(&size) || !in.Take(size, &text)) return bad("truncated text");
      value = PolicyInput::String(text);
    } else if (kind != 0) {
      return bad("unknown value kind");
    }
  }
  uint32_t window_size = 0;
  std::string_view window_bytes;
  if (!in.Get(&window_size) || !in.Take(window_size, &window_bytes)) return bad("truncated window");
  if (in.at != bytes.size()) return bad("bytes after the window");
  FOPS_ASSIGN_OR_RETURN(record.window, EntityWindow::Decode(window_bytes, slots));
  return record;
}

std::string OnlineKey(std::string_view group, std::string_view entity) {
  std::string key = "fraudops:features:";
  key += group;
  key += ':';
  key += entity;
  return key;
}

std::string FreshnessKey(std::string_view group) {
  return "fraudops:features-freshness:" + std::string(group);
}

Result<OnlineUpdater> OnlineUpdater::Create(const FeatureGroup& group) {
  OnlineUpdater updater;
  updater.group_ = group;
  FOPS_ASSIGN_OR_RETURN(updater.plan_, AggregatePlan::Create(group));
  return updater;
}

void OnlineUpdater::Apply(OnlineRecord& record, EventTime event, EventTime available,
                          std::span<const PolicyValue> columns) const {
  const bool newer = !record.has_latest || event > record.event ||
                     (event == record.event && available >= record.available);
  if (newer) {
    record.has_latest = true;
    record.event = event;
    record.available = available;
    record.latest.resize(columns.size());
    for (size_t c = 0; c < columns.size(); ++c) {
      const PolicyValue& v = columns[c];
      record.latest[c] = v.kind == PolicyValue::Kind::kString ? PolicyInput::String(v.text)
                                                              : PolicyInput{v.kind, v.number, {}};
    }
  }
  if (plan_.empty()) return;
  double slots[64];
  std::vector<double> many;
  double* values = slots;
  if (plan_.slots() > 64) {
    many.resize(plan_.slots());
    values = many.data();
  }
  uint64_t mask = 0;
  plan_.Prepare(columns, values, &mask);
  record.window.Add(event, mask, values, plan_.slots());
  record.window.Expire(record.window.newest() - plan_.max_window());
}

Result<GroupReader> GroupReader::Create(const FeatureGroup& group,
                                        const std::vector<std::string>& features) {
  GroupReader reader;
  reader.group_ = group;
  FOPS_ASSIGN_OR_RETURN(reader.plan_, AggregatePlan::Create(group));
  for (const std::string& feature : features) {
    Output output;
    if (const int c = group.ColumnIndex(feature); c >= 0) {
      output.index = static_cast<size_t>(c);
    } else {
      auto it = std::find_if(group.aggregates.begin(), group.aggregates.end(),
                             [&](const AggregateSpec& a) { return a.name == feature; });
      if (it == group.aggregates.end()) {
        return Status::InvalidArgument("feature group '" + group.name + "' (v" +
                                       std::to_string(group.version) + ") has no feature '" +
                                       feature + "'");
      }
      output.aggregate = true;
      output.index = static_cast<size_t>(it - group.aggregates.begin());
    }
    reader.outputs_.push_back(output);
  }
  return reader;
}

void GroupReader::Read(const OnlineRecord* record, EventTime t,
                       std::vector<PolicyValue>& out) const {
  out.resize(outputs_.size());
  double aggregates[64];
  std::vector<double> many;
  double* computed = aggregates;
  if (plan_.size() > 64) {
    many.resize(plan_.size());
    computed = many.data();
  }
  if (!plan_.empty()) {
    if (record != nullptr) {
      record->window.Compute(plan_, t, computed);
    } else {
      EntityWindow().Compute(plan_, t, computed);
    }
  }
  const bool fresh = record != nullptr && record->has_latest && record->event <= t &&
                     (group_.ttl == 0 || record->event >= t - group_.ttl);
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const Output& output = outputs_[i];
    if (output.aggregate) {
      out[i] = PolicyValue::Number(computed[output.index]);
    } else if (fresh && output.index < record->latest.size()) {
      out[i] = record->latest[output.index].View();
    } else {
      out[i] = PolicyValue();
    }
  }
}

namespace {

// ---------------------------------------------------------------------------------------
// The embedded store: an append-only log of (key, value) records.

constexpr uint32_t kMaxKey = 1 << 16;
constexpr uint32_t kMaxValue = 1 << 28;

class EmbeddedStore final : public OnlineStore {
 public:
  static Result<std::unique_ptr<OnlineStore>> Open(const std::string& path,
                                                   std::chrono::milliseconds refresh) {
    std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(path, refresh));
    FOPS_RETURN_IF_ERROR(MakeDirectories(std::filesystem::path(path).parent_path().string()));
    {
      MutexLock lock(&store->file_mutex_);
      FOPS_RETURN_IF_ERROR(store->Reopen());
    }
    FOPS_RETURN_IF_ERROR(store->CompactIfWorthIt());
    return std::unique_ptr<OnlineStore>(std::move(store));
  }
  ~EmbeddedStore() override {
    MutexLock lock(&file_mutex_);
    if (fd_ >= 0) ::close(fd_);
  }

  std::string Describe() const override { return "embedded " + path_; }

  Status Get(std::span<const std::string> keys,
             std::vector<std::optional<std::string>>* values) override {
    FOPS_RETURN_IF_ERROR(RefreshIfDue());
    ReaderLock lock(&map_mutex_);
    values->assign(keys.size(), std::nullopt);
    for (size_t i = 0; i < keys.size(); ++i) {
      auto it = map_.find(keys[i]);
      if (it != map_.end()) (*values)[i] = it->second;
    }
    return Status::Ok();
  }

  Status Update(std::span<const std::string> keys, const Updater& update) override {
    MutexLock writer(&file_mutex_);
    FOPS_RETURN_IF_ERROR(LockFile(LOCK_EX));
    Status status = UpdateLocked(keys, update);
    (void)LockFile(LOCK_UN);
    return status;
  }

  Status Put(std::span<const std::pair<std::string, std::string>> entries) override {
    MutexLock writer(&file_mutex_);
    FOPS_RETURN_IF_ERROR(LockFile(LOCK_EX));
    Status status = CatchUpLocked();
    if (status.ok()) status = AppendLocked(entries);
    (void)LockFile(LOCK_UN);
    return status;
  }

 private:
  EmbeddedStore(std::string path, std::chrono::milliseconds refresh)
      : path_(std::move(path)), refresh_(refresh) {}

  Status Fail(const std::string& what) const {  // errno describes the failure
    return Status::IoError("the online store " + path_ + ": " + what + ": " + std::strerror(errno));
  }

  Status LockFile(int operation) REQUIRES(file_mutex_) {
    while (::flock(fd_, operation) != 0) {
      if (errno != EINTR) return Fail("cannot lock");
    }
    return Status::Ok();
  }

  /// Opens the file (again, after another process compacted it) and reads it all.
  Status Reopen() REQUIRES(file_mutex_) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return Fail("cannot open");
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    struct stat st {};
    ::fstat(fd_, &st);
    inode_ = st.st_ino;
    {
      WriterLock lock(&map_mutex_);
      map_.clear();
      live_bytes_ = 0;
    }
    offset_ = 0;
    return CatchUpLocked();
  }

  /// Reads records appended since the last read (stops before a record still being written).
  Status CatchUpLocked() REQUIRES(file_mutex_) {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return Fail("cannot stat");
    if (static_cast<uint64_t>(st.st_size) <= offset_) return Status::Ok();
    std::string buffer(static_cast<size_t>(st.st_size) - offset_, '\0');
    size_t read = 0;
    while (read < buffer.size()) {
      const ssize_t n = ::pread(fd_, buffer.data() + read, buffer.size() - read,
                                static_cast<off_t>(offset_ + read));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail("cannot read");
      if (n == 0) break;
      read += static_cast<size_t>(n);
    }
    buffer.resize(read);
    size_t at = 0;
    WriterLock lock(&map_mutex_);
    while (buffer.size() - at >= 8) {
      uint32_t key_size = 0, value_size = 0;
      std::memcpy(&key_size, buffer.data() + at, 4);
      std::memcpy(&value_size, buffer.data() + at + 4, 4);
      if (key_size == 0 || key_size > kMaxKey || value_size > kMaxValue) {
        return Status::DataError("the online store " + path_ + " is damaged at byte " +
                                 std::to_string(offset_ + at) +
                                 " (remove it and run fraudops features materialize)");
      }
      if (buffer.size() - at - 8 < static_cast<size_t>(key_size) + value_size) break;
      std::string key = buffer.substr(at + 8, key_size);
      std::string value = buffer.substr(at + 8 + key_size, value_size);
      auto [it, added] = map_.try_emplace(std::move(key));
      if (!added) live_bytes_ -= it->first.size() + it->second.size() + 8;
      live_bytes_ += it->first.size() + value.size() + 8;
      it->second = std::move(value);
      at += 8 + key_size + value_size;
    }
    offset_ += at;
    file_bytes_ = offset_;
    last_refresh_ = std::chrono::steady_clock::now();
    return Status::Ok();
  }

  Status RefreshIfDue() {
    if (std::chrono::steady_clock::now() - last_refresh_.load() < refresh_) return Status::Ok();
    MutexLock writer(&file_mutex_);
    if (std::chrono::steady_clock::now() - last_refresh_.load() < refresh_) return Status::Ok();
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && st.st_ino != inode_) return Reopen();
    return CatchUpLocked();
  }

  Status AppendLocked(std::span<const std::pair<std::string, std::string>> entries)
      REQUIRES(file_mutex_) {
    std::string out;
    for (const auto& [key, value] : entries) {
      PutBytes<uint32_t>(out, static_cast<uint32_t>(key.size()));
      PutBytes<uint32_t>(out, static_cast<uint32_t>(value.size()));
      out += key;
      out += value;
    }
    size_t written = 0;
    while (written < out.size()) {
      const ssize_t n = ::write(fd_, out.data() + written, out.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail("cannot append");
      written += static_cast<size_t>(n);
    }
    return CatchUpLocked();  // our own records, like anyone's
  }

  /// Under the file lock, caught up: each key's new value appended.
  Status UpdateLocked(std::span<const std::string> keys, const Updater& update)
      REQUIRES(file_mutex_) {
    FOPS_RETURN_IF_ERROR(CatchUpLocked());
    std::vector<std::pair<std::string, std::string>> changed;
    {
      ReaderLock lock(&map_mutex_);
      for (size_t i = 0; i < keys.size(); ++i) {
        auto it = map_.find(keys[i]);
        std::optional<std::string> current;
        if (it != map_.end()) current = it->second;
        // A key named twice in one batch sees its own earlier update.
        for (auto c = changed.rbegin(); c != changed.rend(); ++c) {
          if (c->first == keys[i]) {
            current = c->second;
            break;
          }
        }
        FOPS_ASSIGN_OR_RETURN(std::string next, update(i, current));
        changed.emplace_back(keys[i], std::move(next));
      }
    }
    return AppendLocked(changed);
  }

  /// Rewrites the file with only the live records when most of it is superseded.
  Status CompactIfWorthIt() {
    MutexLock writer(&file_mutex_);
    if (file_bytes_ < (8u << 20) || file_bytes_ < 2 * live_bytes_) return Status::Ok();
    FOPS_RETURN_IF_ERROR(LockFile(LOCK_EX));
    Status status = CompactLocked();
    (void)LockFile(LOCK_UN);
    FOPS_RETURN_IF_ERROR(status);
    return Reopen();
  }

  Status CompactLocked() REQUIRES(file_mutex_) {
    FOPS_RETURN_IF_ERROR(CatchUpLocked());
    std::string out;
    {
      ReaderLock lock(&map_mutex_);
      out.reserve(live_bytes_);
      for (const auto& [key, value] : map_) {
        PutBytes<uint32_t>(out, static_cast<uint32_t>(key.size()));
        PutBytes<uint32_t>(out, static_cast<uint32_t>(value.size()));
        out += key;
        out += value;
      }
    }
    return WriteFileAtomic(path_, out);
  }

  // file_mutex_ serializes this process's work on the file (the flock, other processes');
  // map_mutex_ guards the map readers use.
  const std::string path_;
  const std::chrono::milliseconds refresh_;
  Mutex file_mutex_;
  int fd_ GUARDED_BY(file_mutex_) = -1;
  ino_t inode_ GUARDED_BY(file_mutex_) = 0;
  uint64_t offset_ GUARDED_BY(file_mutex_) = 0;
  uint64_t file_bytes_ GUARDED_BY(file_mutex_) = 0;
  size_t live_bytes_ GUARDED_BY(file_mutex_) = 0;
  std::atomic<std::chrono::steady_clock::time_point> last_refresh_{};
  SharedMutex map_mutex_;
  std::unordered_map<std::string, std::string> map_ GUARDED_BY(map_mutex_);
};

// ---------------------------------------------------------------------------------------
// Redis.

/// KEYS[1]: the key. ARGV[1]: "1" when a current value was read, "0" when there was none;
/// ARGV[2]: that value; ARGV[3]: the new one. Sets it only when the key still holds what was
/// read: 1 when set, 0 on a conflict.
constexpr std::string_view kCompareAndSet = R"lua(
local current = redis.call('GET', KEYS[1])
if (ARGV[1] == '0' and current == false) or (ARGV[1] == '1' and current == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3])
  return 1
end
return 0
)lua";

class RedisStore final : public OnlineStore {
 public:
  explicit RedisStore(std::unique_ptr<RedisClient> redis) : redis_(std::move(redis)) {}

  std::string Describe() const override { return "redis " + redis_->redacted_url(); }

  Status Get(std::span<const std::string> keys,
             std::vector<std::optional<std::string>>* values) override {
    values->assign(keys.size(), std::nullopt);
    if (keys.empty()) return Status::Ok();
    std::vector<std::string> argv = {"MGET"};
    argv.insert(argv.end(), keys.begin(), keys.end());
    FOPS_ASSIGN_OR_RETURN(RedisValue reply, redis_->Command(argv));
    if (reply.type != RedisValue::Type::kArray || reply.elements.size() != keys.size())
      return Unexpected(reply);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (reply.elements[i].type == RedisValue::Type::kString)
        (*values)[i] = std::move(reply.elements[i].text);
    }
    return Status::Ok();
  }

  Status Update(std::span<const std::string> keys, const Updater& update) override {
    // A key named twice in one batch: its updates chain through `pending`.
    std::vector<size_t> todo(keys.size());
    for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
    // Optimistic: on a conflict the key is read and tried again, after a random pause that
    // doubles (up to 20 ms) so writers contending for one key take turns instead of
    // colliding forever.
    std::mt19937 random(std::random_device{}());
    constexpr int kAttempts = 200;
    for (int attempt = 0; attempt < kAttempts && !todo.empty(); ++attempt) {
      if (attempt > 0) {
        const int ceiling_us = std::min(20000, 50 << std::min(attempt, 9));
        std::this_thread::sleep_for(
            std::chrono::microseconds(std::uniform_int_distribution<int>(0, ceiling_us)(random)));
      }
      std::vector<std::string> unique_keys;
      std::unordered_map<std::string, size_t> slot;
      for (size_t i : todo) {
        if (slot.emplace(keys[i], unique_keys.size()).second) unique_keys.push_back(keys[i]);
      }
      std::vector<std::optional<std::string>> current;
      FOPS_RETURN_IF_ERROR(Get(unique_keys, &current));
      std::vector<std::optional<std::string>> next = current;
      for (size_t i : todo) {
        const size_t s = slot[keys[i]];
        FOPS_ASSIGN_OR_RETURN(std::string value, update(i, next[s]));
        next[s] = std::move(value);
      }
      static const RedisScript script(kCompareAndSet);
      std::vector<RedisScriptCall> calls;
      for (size_t s = 0; s < unique_keys.size(); ++s) {
        calls.push_back(
            {{unique_keys[s]},
             {current[s] ? "1" : "0", current[s] ? *current[s] : std::string(), *next[s]}});
      }
      FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> replies, redis_->Eval(script, calls));
      std::vector<size_t> conflicts;
      for (size_t i : todo) {
        const RedisValue& reply = replies[slot[keys[i]]];
        if (reply.is_error()) return Unexpected(reply);
        if (reply.integer == 0) conflicts.push_back(i);
      }
      todo = std::move(conflicts);
    }
    if (!todo.empty()) {
      return Status::IoError(
          "the online store " + redis_->redacted_url() + ": " + std::to_string(todo.size()) +
          " records kept changing under this writer (" + std::to_string(kAttempts) + " attempts)");
    }
    return Status::Ok();
  }

  Status Put(std::span<const std::pair<std::string, std::string>> entries) override {
    std::vector<std::vector<std::string>> commands;
    for (const auto& [key, value] : entries) commands.push_back({"SET", key, value});
    FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> replies, redis_->Pipeline(commands));
    for (const RedisValue& reply : replies)
      if (reply.is_error()) return Unexpected(reply);
    return Status::Ok();
  }

 private:
  Status Unexpected(const RedisValue& reply) const {
    return Status::IoError("the online store " + redis_->redacted_url() +
                           " gave an unexpected answer" +
                           (reply.is_error() ? ": " + reply.text : std::string()));
  }
  std::unique_ptr<RedisClient> redis_;
};

}  // namespace

Result<std::unique_ptr<OnlineStore>> OpenOnlineStore(const OnlineStoreOptions& options) {
  if (options.url.empty()) return EmbeddedStore::Open(options.embedded_path, options.refresh);
  RedisClient::Options redis;
  redis.command_timeout_ms = options.timeout_ms;
  redis.connect_now = options.connect_now;
  FOPS_ASSIGN_OR_RETURN(
      std::unique_ptr<RedisClient> client,
      RedisClient::Connect(options.url, "features.online_url", "the online store", redis));
  return std::unique_ptr<OnlineStore>(new RedisStore(std::move(client)));
}

OnlineStoreOptions OnlineStoreOptionsFrom(const Config& config) {
  OnlineStoreOptions options;
  options.url = config.features.online_url;
  options.embedded_path =
      (std::filesystem::absolute(config.Resolve(config.global.home)) / "online" / "features.log")
          .lexically_normal()
          .string();
  options.timeout_ms = static_cast<int>(config.features.online_timeout_ms);
  return options;
}

Status RecordFreshness(OnlineStore& store, std::string_view group, EventTime newest) {
  const std::string key = FreshnessKey(group);
  return store.Update(
      std::span<const std::string>(&key, 1),
      [&](size_t, const std::optional<std::string>& current) -> Result<std::string> {
        EventTime kept = newest;
        if (current) {
          if (auto old = ParseInt(Split(*current, ' ')[0]); old && *old > kept) kept = *old;
        }
        return std::to_string(kept) + " " + std::to_string(EventTimeNow());
      });
}

Result<MaterializeResult> Materialize(OnlineStore& store, const FeatureGroup& group,
                                      const FeatureTable& table, EventTime now) {
  FOPS_ASSIGN_OR_RETURN(OnlineUpdater updater, OnlineUpdater::Create(group));
  MaterializeResult result;
  result.group = group.name;
  // Rows by entity, in the order they became known (then stored order).
  std::vector<uint32_t> order(table.rows());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (table.key[a] != table.key[b]) return table.key[a] < table.key[b];
    return std::max(table.event[a], table.available[a]) <
           std::max(table.event[b], table.available[b]);
  });
  const GroupRowReader row_reader(group, table);
  std::vector<PolicyValue> values(group.columns.size());
  std::vector<std::pair<std::string, std::string>> batch;
  size_t i = 0;
  while (i < order.size()) {
    const uint32_t entity = table.key[order[i]];
    OnlineRecord record;
    for (; i < order.size() && table.key[order[i]] == entity; ++i) {
      const uint32_t row = order[i];
      if (table.available[row] > now) continue;  // not yet known
      row_reader.Read(row, values);
      updater.Apply(record, table.event[row], table.available[row], values);
      result.newest = std::max(result.newest, table.event[row]);
    }
    if (!record.has_latest) continue;
    result.events += record.window.size();
    ++result.entities;
    batch.emplace_back(OnlineKey(group.name, table.keys[entity]), record.Encode());
    if (batch.size() == 1000) {
      FOPS_RETURN_IF_ERROR(store.Put(batch));
      batch.clear();
    }
  }
  if (!batch.empty()) FOPS_RETURN_IF_ERROR(store.Put(batch));
  if (result.entities > 0) FOPS_RETURN_IF_ERROR(RecordFreshness(store, group.name, result.newest));
  return result;
}

}  // namespace fraudops
