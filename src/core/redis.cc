#include "core/redis.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "core/hash.h"
#include "core/strings.h"

namespace fraudops {

namespace {

timeval Timeval(int ms) { return {ms / 1000, (ms % 1000) * 1000}; }

RedisValue Convert(const redisReply* reply) {
  RedisValue value;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      value.type = RedisValue::Type::kString;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      value.type = RedisValue::Type::kStatus;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      value.type = RedisValue::Type::kError;
      value.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      value.type = RedisValue::Type::kInteger;
      value.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      value.type = RedisValue::Type::kArray;
      for (size_t i = 0; i < reply->elements; ++i)
        value.elements.push_back(Convert(reply->element[i]));
      break;
    default:
      break;
  }
  return value;
}

void Append(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
}

}  // namespace

Result<RedisAddress> ParseRedisUrl(std::string_view url, std::string_view setting) {
  const std::string shown = RedactUrl(url);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(
        std::string(setting) + " '" + shown + "': " + why +
        " (accepted: redis://[:PASSWORD@]HOST[:PORT][/DB], e.g. redis://127.0.0.1:6379/0)");
  };
  if (!StartsWith(url, "redis://")) return bad("not a redis:// URL");
  std::string_view rest = url.substr(8);
  RedisAddress address;
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    const size_t colon = credentials.find(':');
    address.password =
        std::string(colon == std::string_view::npos ? credentials : credentials.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  const size_t slash = rest.find('/');
  std::string_view host_port = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto n = ParseInt(db);
      if (!n || *n < 0 || *n > 1000000) return bad("the database must be a number");
      address.database = static_cast<int>(*n);
    }
  }
  const size_t bracket = host_port.find(']');  // [IPv6]:PORT
  const size_t colon = host_port.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    auto port = ParseInt(host_port.substr(colon + 1));
    if (!port || *port < 1 || *port > 65535)
      return bad("the port must be a number from 1 to 65535");
    address.port = static_cast<int>(*port);
    host_port = host_port.substr(0, colon);
  }
  if (host_port.size() >= 2 && host_port.front() == '[' && host_port.back() == ']') {
    host_port = host_port.substr(1, host_port.size() - 2);
  }
  if (host_port.empty()) return bad("it names no host");
  address.host = std::string(host_port);
  return address;
}

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const std::string& url,
                                                          std::string_view setting,
                                                          std::string what, Options options) {
  auto address = ParseRedisUrl(url, setting);
  if (!address.ok()) return address.status();
  std::unique_ptr<RedisClient> client(
      new RedisClient(*address, RedactUrl(url), std::move(what), options));
  if (!options.connect_now) return client;
  std::string error;
  redisContext* context = client->Acquire(&error);
  if (context == nullptr) return Status::IoError(error);
  client->Release(context, true);
  return client;
}

RedisClient::~RedisClient() {
  MutexLock lock(&mutex_);
  for (redisContext* context : idle_) redisFree(context);
}

redisContext* RedisClient::Acquire(std::string* error) {
  {
    MutexLock lock(&mutex_);
    if (!idle_.empty()) {
      redisContext* context = idle_.back();
      idle_.pop_back();
      return context;
    }
  }
  redisContext* context = redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                                  Timeval(options_.connect_timeout_ms));
  auto fail = [&](const std::string& why) -> redisContext* {
    *error = what_ + " " + redacted_url_ + " cannot be used: " + why;
    if (context) redisFree(context);
    return nullptr;
  };
  if (context == nullptr) return fail("out of memory");
  if (context->err) return fail(context->errstr);
  redisSetTimeout(context, Timeval(options_.command_timeout_ms));
  std::vector<std::vector<std::string>> setup;
  if (!address_.password.empty()) setup.push_back({"AUTH", address_.password});
  if (address_.database != 0) setup.push_back({"SELECT", std::to_string(address_.database)});
  setup.push_back({"PING"});
  for (const auto& command : setup) {
    Append(context, command);
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr)
      return fail(context->errstr[0] ? context->errstr : "no reply");
    auto* reply = static_cast<redisReply*>(raw);
    const bool refused = reply->type == REDIS_REPLY_ERROR;
    const std::string text = refused ? std::string(reply->str, reply->len) : "";
    freeReplyObject(reply);
    if (refused) return fail(command[0] + " refused: " + text);
  }
  return context;
}

void RedisClient::Release(redisContext* context, bool healthy) {
  if (!healthy) {
    redisFree(context);
    return;
  }
  MutexLock lock(&mutex_);
  idle_.push_back(context);
}

Result<std::vector<RedisValue>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::string error;
  redisContext* context = Acquire(&error);
  if (context == nullptr) return Status::IoError(error);
  for (const auto& command : commands) Append(context, command);
  std::vector<RedisValue> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      const std::string why = context->errstr[0] ? context->errstr : "no reply";
      Release(context, false);
      return Status::IoError(what_ + " " + redacted_url_ + " did not answer: " + why);
    }
    replies.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  Release(context, true);
  return replies;
}

Result<RedisValue> RedisClient::Command(const std::vector<std::string>& argv) {
  FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> replies, Pipeline({argv}));
  return std::move(replies[0]);
}

RedisScript::RedisScript(std::string_view source) : text(source), sha(Sha1Hex(source)) {}

Result<std::vector<RedisValue>> RedisClient::Eval(const RedisScript& script,
                                                  const std::vector<RedisScriptCall>& calls) {
  auto command = [&](const RedisScriptCall& call) {
    std::vector<std::string> argv = {"EVALSHA", script.sha, std::to_string(call.keys.size())};
    argv.insert(argv.end(), call.keys.begin(), call.keys.end());
    argv.insert(argv.end(), call.args.begin(), call.args.end());
    return argv;
  };
  std::vector<std::vector<std::string>> commands;
  for (const RedisScriptCall& call : calls) commands.push_back(command(call));
  FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> replies, Pipeline(commands));
  std::vector<size_t> refused;
  for (size_t i = 0; i < replies.size(); ++i)
    if (replies[i].is_error() && StartsWith(replies[i].text, "NOSCRIPT")) refused.push_back(i);
  if (refused.empty()) return replies;
  FOPS_ASSIGN_OR_RETURN(RedisValue loaded, Command({"SCRIPT", "LOAD", script.text}));
  if (loaded.is_error())
    return Status::IoError(what_ + " " + redacted_url_ + ": SCRIPT LOAD: " + loaded.text);
  std::vector<std::vector<std::string>> again;
  for (size_t i : refused) again.push_back(std::move(commands[i]));
  FOPS_ASSIGN_OR_RETURN(std::vector<RedisValue> retried, Pipeline(again));
  for (size_t k = 0; k < refused.size(); ++k) replies[refused[k]] = std::move(retried[k]);
  return replies;
}

}  // namespace fraudops
