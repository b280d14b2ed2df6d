#include "cli/stream_commands.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "core/metrics_text.h"
#include "core/strings.h"
#include "serve/http_server.h"
#include "store/serving_store.h"
#include "stream/stream.h"

namespace fraudops {

namespace {

struct StreamArgs {
  std::string config_path, home, consumer, metrics_listen;
  std::vector<std::string> groups;
};

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

/// stream.url, else features.online_url when it is Redis.
Result<std::string> StreamUrl(const Config& config) {
  if (!config.stream.url.empty()) return config.stream.url;
  if (StartsWith(config.features.online_url, "redis://")) return config.features.online_url;
  return Status::InvalidArgument(
      "streams live in Redis: set stream.url (or features.online_url) to redis://HOST:PORT");
}

std::string DefaultConsumer() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

/// GET /metrics of a consumer, when --metrics-listen names an address.
class MetricsEndpoint {
 public:
  Status Start(const std::string& listen, StreamConsumer& consumer, StreamCounters& counters,
               const std::string& role, const StreamOptions& options) {
    if (listen.empty()) return Status::Ok();
    FOPS_ASSIGN_OR_RETURN(auto address, ParseListenAddress(listen));
    server_ = std::make_unique<HttpServer>(HttpLimits{}, [&consumer, &counters, role, options](
                                                             const HttpRequest& request,
                                                             HttpResponse& response) {
      if (request.path() != "/metrics") {
        response.status = 404;
        response.body = R"({"error":{"code":"not_found","status":404}})";
        return;
      }
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      std::string& out = response.body;
      const std::vector<std::string> names = {"role", "stream", "group"};
      const std::vector<std::string> values = {role, options.input, options.group};
      auto counter = [&](const char* name, const char* help, uint64_t value) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
        out += MetricLine(name, names, values) + " " + std::to_string(value) + "\n";
      };
      counter("fraudops_stream_processed_total",
              "Entries whose effect was written, then acknowledged.", counters.processed);
      counter("fraudops_stream_duplicates_total",
              "Redelivered transactions already in the output (not written again).",
              counters.duplicates);
      counter("fraudops_stream_failures_total",
              "Failed attempts (the entry stays pending for a retry).", counters.failures);
      counter("fraudops_stream_dead_lettered_total", "Entries moved to the dead-letter stream.",
              counters.dead_lettered);
      counter("fraudops_stream_reclaimed_total",
              "Entries taken over from other consumers or retried.", counters.reclaimed);
      if (auto lag = consumer.Lag(); lag.ok()) {
        auto gauge = [&](const char* name, const char* help, int64_t value) {
          out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
          out += MetricLine(name, names, values) + " " + std::to_string(value) + "\n";
        };
        gauge("fraudops_stream_lag", "Entries of the stream not yet delivered to the group.",
              (*lag)[0]);
        gauge("fraudops_stream_pending", "Entries delivered and not yet acknowledged.", (*lag)[1]);
        gauge("fraudops_stream_dead_letter_entries", "Entries in the dead-letter stream.",
              (*lag)[2]);
      }
    });
    FOPS_RETURN_IF_ERROR(server_->Start(address.first, address.second, 1));
    std::fprintf(stderr, "metrics on http://%s:%u/metrics\n", address.first.c_str(),
                 static_cast<unsigned>(server_->port()));
    return Status::Ok();
  }
  ~MetricsEndpoint() {
    if (server_) server_->Drain(std::chrono::milliseconds(1000));
  }

 private:
  std::unique_ptr<HttpServer> server_;
};

struct Common {
  std::unique_ptr<Session> session;
  Stores stores;
  std::unique_ptr<RedisClient> redis;
  StreamOptions options;
};

Result<Common> Open(const StreamArgs& args, bool score) {
  Common c;
  FOPS_ASSIGN_OR_RETURN(c.session, OpenSession(args.config_path));
  Config config = c.session->config;
  if (!args.home.empty()) config.global.home = args.home;
  FOPS_ASSIGN_OR_RETURN(c.stores, OpenStoresFor(config, true, !score));
  FOPS_ASSIGN_OR_RETURN(std::string url, StreamUrl(config));
  RedisClient::Options redis;
  redis.command_timeout_ms = static_cast<int>(config.stream.block_ms) + 5000;  // BLOCK waits
  FOPS_ASSIGN_OR_RETURN(c.redis,
                        RedisClient::Connect(url, "stream.url", "the stream store", redis));
  StreamOptions& o = c.options;
  o.input = config.stream.input;
  o.group = score ? config.stream.score_group : config.stream.ingest_group;
  o.consumer = args.consumer.empty() ? DefaultConsumer() : args.consumer;
  o.dead_letter = config.stream.dead_letter;
  o.batch = static_cast<size_t>(config.stream.batch);
  o.block = std::chrono::milliseconds(config.stream.block_ms);
  o.claim_idle = std::chrono::milliseconds(config.stream.claim_idle_ms);
  o.max_deliveries = config.stream.max_deliveries;
  o.logger = &c.session->logger;
  return c;
}

void InstallStopSignals() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

/// The endpoint's production model, exported from the registry and loaded.
Result<std::pair<ModelBundle, std::string>> LoadProduction(Stores& stores,
                                                           const std::string& endpoint) {
  ServingStore serving(*stores.metadata);
  FOPS_ASSIGN_OR_RETURN(auto found, serving.FindEndpoint(endpoint));
  if (!found || found->production.empty()) {
    return Status::NotFound("endpoint '" + endpoint +
                            "' serves no production model (fraudops deploy MODEL --endpoint " +
                            endpoint + ")");
  }
  FOPS_ASSIGN_OR_RETURN(ModelVersion version,
                        stores.metadata->GetVersion(found->production.model,
                                                    std::to_string(found->production.version)));
  TempDirectory scratch;
  if (scratch.path().empty()) return Status::IoError("cannot create a temporary directory");
  FOPS_RETURN_IF_ERROR(
      ExportModelFiles(*stores.metadata, *stores.artifacts, version, scratch.path()).status());
  FOPS_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(scratch.path()));
  FOPS_RETURN_IF_ERROR(SetPolicy(bundle, version.policy, found->production.ToString() + " policy"));
  return std::make_pair(std::move(bundle), found->production.ToString());
}

/// Scores with the endpoint's production model and follows its deployments: between batches,
/// at most every api.poll_interval_ms, it asks the store what production is, and a new
/// version takes over from the next batch (each result names the model that scored it). A
/// version that cannot be loaded leaves the current one scoring, with a warning, and is
/// tried again at the next check.
class ProductionScorer final : public StreamHandler {
 public:
  ProductionScorer(Common& common, std::string endpoint, StreamCounters& counters)
      : common_(common), endpoint_(std::move(endpoint)), counters_(counters) {
    const Config& config = common.stores.config;
    check_every_ = std::chrono::milliseconds(config.api.poll_interval_ms);
    ttl_ = std::chrono::seconds(ParseDurationSeconds(config.stream.dedup_ttl).value_or(7 * 86400));
  }

  /// Loads the production model now.
  Status Start() { return Load(); }
  const std::string& model_ref() const { return model_ref_; }

  std::vector<Status> Handle(const std::vector<StreamEntry>& entries) override {
    if (const auto now = std::chrono::steady_clock::now(); now >= next_check_) {
      next_check_ = now + check_every_;
      if (Status loaded = FollowProduction(); !loaded.ok()) {
        common_.session->logger.Warn("stream", "the new production model cannot be used; " +
                                                   model_ref_ +
                                                   " keeps scoring: " + loaded.message());
      }
    }
    return handler_->Handle(entries);
  }

 private:
  /// Loads production when it is another version than the one scoring.
  Status FollowProduction() {
    FOPS_ASSIGN_OR_RETURN(auto found,
                          ServingStore(*common_.stores.metadata).FindEndpoint(endpoint_));
    if (!found || found->production.empty() || found->production.ToString() == model_ref_)
      return Status::Ok();
    const std::string previous = model_ref_;
    FOPS_RETURN_IF_ERROR(Load());
    common_.session->logger.Info("stream", "production changed",
                                 {{"endpoint", endpoint_}, {"from", previous}, {"to", model_ref_}});
    return Status::Ok();
  }

  Status Load() {
    const Config& config = common_.stores.config;
    FOPS_ASSIGN_OR_RETURN(auto model, LoadProduction(common_.stores, endpoint_));
    if (!online_ && FeatureEncoder(model.first.input).has_store_features()) {
      FOPS_ASSIGN_OR_RETURN(online_, OpenOnlineStore(OnlineStoreOptionsFrom(config)));
    }
    auto handler = std::make_unique<ScoreHandler>(*common_.redis, std::move(model.first),
                                                  model.second, online_.get(), config.stream.output,
                                                  config.stream.id_field, ttl_, counters_);
    FOPS_RETURN_IF_ERROR(handler->Init());
    handler_ = std::move(handler);
    model_ref_ = model.second;
    next_check_ = std::chrono::steady_clock::now() + check_every_;
    return Status::Ok();
  }

  Common& common_;
  std::string endpoint_;
  StreamCounters& counters_;
  std::chrono::milliseconds check_every_{250};
  std::chrono::seconds ttl_{0};
  std::chrono::steady_clock::time_point next_check_{};
  std::unique_ptr<OnlineStore> online_;
  std::unique_ptr<ScoreHandler> handler_;
  std::string model_ref_;
};

int Score(const StreamArgs& args) {
  auto common = Open(args, true);
  if (!common.ok()) return Fail(common.status());
  const Config& config = common->stores.config;
  const std::string endpoint =
      config.stream.endpoint.empty() ? config.deploy.endpoint_name : config.stream.endpoint;
  StreamCounters counters;
  ProductionScorer handler(*common, endpoint, counters);
  if (Status s = handler.Start(); !s.ok()) return Fail(s);
  StreamConsumer consumer(*common->redis, common->options, handler, counters);
  MetricsEndpoint metrics;
  if (Status s = metrics.Start(args.metrics_listen, consumer, counters, "score", common->options);
      !s.ok())
    return Fail(s);
  InstallStopSignals();
  common->session->logger.Info("stream", "scoring",
                               {{"stream", common->options.input},
                                {"group", common->options.group},
                                {"consumer", common->options.consumer},
                                {"model", handler.model_ref()},
                                {"output", config.stream.output}});
  if (Status s = consumer.Run(g_stop); !s.ok()) return Fail(s);
  common->session->logger.Info(
      "stream", "stopped",
      {{"processed", static_cast<long long>(counters.processed.load())},
       {"duplicates", static_cast<long long>(counters.duplicates.load())},
       {"dead_lettered", static_cast<long long>(counters.dead_lettered.load())}});
  return kExitOk;
}

int Ingest(const StreamArgs& args) {
  auto common = Open(args, false);
  if (!common.ok()) return Fail(common.status());
  const Config& config = common->stores.config;
  FeatureRegistry registry(*common->stores.metadata, *common->stores.artifacts);
  auto selected = registry.Select(args.groups);
  if (!selected.ok()) return Fail(selected.status());
  std::vector<FeatureGroup> groups = std::move(*selected);
  if (groups.empty())
    return Fail(
        Status::InvalidArgument("no feature groups to keep current (fraudops features apply)"));
  auto online = OpenOnlineStore(OnlineStoreOptionsFrom(config));
  if (!online.ok()) return Fail(online.status());
  IngestHandler handler(groups, **online, &registry,
                        static_cast<size_t>(config.stream.segment_rows));
  if (Status s = handler.Init(); !s.ok()) return Fail(s);
  StreamCounters counters;
  StreamConsumer consumer(*common->redis, common->options, handler, counters);
  MetricsEndpoint metrics;
  if (Status s = metrics.Start(args.metrics_listen, consumer, counters, "ingest", common->options);
      !s.ok())
    return Fail(s);
  InstallStopSignals();
  common->session->logger.Info("stream", "ingesting",
                               {{"stream", common->options.input},
                                {"group", common->options.group},
                                {"consumer", common->options.consumer},
                                {"feature_groups", static_cast<long long>(groups.size())}});
  Status ran = consumer.Run(g_stop);
  Status flushed = handler.Flush();
  if (!ran.ok()) return Fail(ran);
  if (!flushed.ok()) return Fail(flushed);
  return kExitOk;
}

}  // namespace

std::function<int()> AddStreamCommands(CLI::App& app) {
  auto args = std::make_shared<StreamArgs>();
  auto* stream = app.add_subcommand("stream", "Redis Streams consumers (docs/streaming.md)");
  stream->require_subcommand(1);
  auto common = [&](CLI::App* command) {
    command->add_option("--config", args->config_path, "Configuration file");
    command->add_option("--home", args->home, "Workspace directory (global.home)");
    command->add_option("--consumer", args->consumer,
                        "This consumer's name in its group (default HOST:PID)");
    command->add_option("--metrics-listen", args->metrics_listen,
                        "Serve GET /metrics on HOST:PORT (lag, pending, dead letters, counts)");
  };
  auto* score = stream->add_subcommand(
      "score",
      "Score transactions from stream.input with the endpoint's production model; results to "
      "stream.output, each transaction once");
  common(score);
  auto* ingest = stream->add_subcommand(
      "ingest", "Keep feature groups current from the events of stream.input (online and offline)");
  ingest->add_option("--group", args->groups, "Feature groups (default: all)");
  common(ingest);
  return [=]() -> int {
    if (*score) return Score(*args);
    if (*ingest) return Ingest(*args);
    return -1;
  };
}

}  // namespace fraudops
