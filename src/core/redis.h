#pragma once
/// A Redis client shared by what fraudops keeps in Redis (quotas shared by replicas, the
/// online feature store, event streams): a small pool of hiredis connections, one per
/// concurrent caller, with connect and command timeouts; replies copied into RedisValue so
/// callers never see hiredis. An unreachable Redis is an IoError naming what it was for.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"

struct redisContext;

namespace fraudops {

struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string password;  ///< "" for none
  int database = 0;
};

/// Parses redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]; errors name `setting` (the
/// configuration key) and say what is accepted, never the password.
Result<RedisAddress> ParseRedisUrl(std::string_view url,
                                   std::string_view setting = "api.quota_url");

/// One reply.
struct RedisValue {
  enum class Type : uint8_t { kNil, kString, kInteger, kArray, kStatus, kError };
  Type type = Type::kNil;
  std::string text;  ///< kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisValue> elements;
  bool is_error() const { return type == Type::kError; }
};

/// A Lua script and its SHA-1, computed once (keep it in a static).
struct RedisScript {
  explicit RedisScript(std::string_view source);
  std::string text, sha;
};

/// One run of a script: its KEYS and its ARGV.
struct RedisScriptCall {
  std::vector<std::string> keys, args;
};

class RedisClient {
 public:
  struct Options {
    int connect_timeout_ms = 1000;
    int command_timeout_ms = 500;
    /// Connect (and PING) at once, so a wrong URL or password fails at start; false: at
    /// the first command (a server that must start while Redis is down).
    bool connect_now = true;
  };
  /// A client for `url` (`setting` names it in errors); `what` names the use in errors ("the
  /// quota store").
  static Result<std::unique_ptr<RedisClient>> Connect(const std::string& url,
                                                      std::string_view setting, std::string what,
                                                      Options options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// One command.
  Result<RedisValue> Command(const std::vector<std::string>& argv);
  /// Several commands in one round trip; a reply per command, in order.
  Result<std::vector<RedisValue>> Pipeline(const std::vector<std::vector<std::string>>& commands);
  /// `script` run for each call (EVALSHA), in one round trip; a reply per call. The calls a
  /// Redis that does not know the script yet refuses (NOSCRIPT) are run again once it has
  /// been loaded — those, and only those.
  Result<std::vector<RedisValue>> Eval(const RedisScript& script,
                                       const std::vector<RedisScriptCall>& calls);
  const std::string& what() const { return what_; }
  const std::string& redacted_url() const { return redacted_url_; }

 private:
  RedisClient(RedisAddress address, std::string redacted_url, std::string what, Options options)
      : address_(std::move(address)),
        redacted_url_(std::move(redacted_url)),
        what_(std::move(what)),
        options_(options) {}
  /// A connection from the pool, or a new one; nullptr and `error` when Redis cannot be reached.
  redisContext* Acquire(std::string* error);
  void Release(redisContext* context, bool healthy);

  RedisAddress address_;
  std::string redacted_url_;
  std::string what_;
  Options options_;
  Mutex mutex_;
  std::vector<redisContext*> idle_ GUARDED_BY(mutex_);
};

}  // namespace fraudops
