#include "cli/serve_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/monitor_commands.h"
#include "cli/remote.h"
#include "core/files.h"
#include "core/logging.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "monitor/ab_report.h"
#include "serve/server.h"
#include "store/serving_store.h"

namespace fraudops {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct ServeArgs {
  std::string config_path, home;
  bool json = false;
  // serve
  std::string listen, port_file;
  int port = -1;  ///< --port: api.listen's host with this port
  long long workers = -1;
  bool console_only = false;  ///< fraudops ui: no periodic monitor or in-process scheduler
  // deploy
  std::string target, endpoint, strategy, reason;
  double canary_percent = -1, bake_seconds = -1, step_percent = -1, step_seconds = -1;
  double weight = -1;
  std::string assignment_field, winner, labels;
  std::vector<std::string> weights, routes, pins;
  std::string routing_field, default_target;
  std::string environment;  // deploy environment, promote --to
  bool wait = false;
  double wait_seconds = 600;
  size_t limit = 20;
  // keys and plans
  std::string name, plan, key_id;
  std::vector<std::string> scopes, endpoints;
  double rate = 0;
  long long burst = 0, daily = 0, monthly = 0;
  bool replace = false;
};

std::string Describe(const VariantRef& v) { return v.empty() ? "-" : v.ToString(); }

void PrintDeployment(const DeploymentRecord& d) {
  std::printf("%s  %-12s %-22s %-11s %5.1f%%  %s  %s\n", d.created_at.c_str(), d.strategy.c_str(),
              d.target.ToString().c_str(), std::string(DeploymentStatusName(d.status)).c_str(),
              d.traffic_percent, d.id.c_str(), d.reason.c_str());
}

// ---------------------------------------------------------------------------------------
// serve

int Serve(const ServeArgs& args) {
  LoadOptions options;
  options.config_path = args.config_path;
  auto config = LoadCheckedConfig(options);
  if (!config.ok()) return Fail(config.status());
  if (!args.home.empty()) config->global.home = args.home;
  Logger logger;
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config->global.log_level, &level);
  logger.set_level(level);
  const std::string& format = config->global.log_format;
  logger.AddSink(MakeStreamSink(stderr, format == "json"    ? LogFormat::kJson
                                        : format == "human" ? LogFormat::kHuman
                                                            : LogFormat::kAuto));
  const fs::path home = fs::absolute(config->Resolve(config->global.home)).lexically_normal();
  if (config->global.metadata_url.empty() && !FileExists((home / "fraudops.db").string())) {
    return Fail(Status::NotFound("no metadata store at " + (home / "fraudops.db").string() +
                                 " (global.home); run `fraudops run` first, or "
                                 "set global.metadata_url"));
  }
  // Signals are taken by this thread alone (sigwait): every thread started
  // later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ServeOptions serve;
  serve.listen = args.listen;
  if (args.port >= 0) {
    const std::string& listen = config->api.listen;
    serve.listen = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(args.port);
  }
  serve.workers = args.workers;
  auto server = ScoringServer::Create(*config, serve, logger);
  if (!server.ok()) return Fail(server.status());
  // The A/B report of the admin API: the monitor's, over a connection of its
  // own.
  auto report_stores = std::make_shared<Stores>();
  auto report_mutex = std::make_shared<Mutex>();
  (*server)->SetAbReporter(
      [config = *config, report_stores, report_mutex](const std::string& endpoint) -> Result<Json> {
        MutexLock lock(report_mutex.get());
        if (!report_stores->metadata) {
          FOPS_ASSIGN_OR_RETURN(*report_stores, OpenStoresFor(config, /*need_artifacts=*/false));
        }
        return AbReportFor(config, *report_stores->metadata, endpoint, "", nullptr,
                           std::chrono::system_clock::now());
      });
  if (Status started = (*server)->Start(); !started.ok()) return Fail(started);
  // The periodic monitor (monitor.serve_interval) and the in-process scheduler
  // (schedule.in_serve).
  // `fraudops ui` only shows the workspace: it runs neither.
  auto jobs = std::make_shared<BackgroundJobs>(*config, logger);
  if (!args.console_only) {
    if (Status started = jobs->Start(); !started.ok()) return Fail(started);
    (*server)->metrics().AddCollector([jobs](std::string& out) { jobs->WriteGauges(out); });
  }
  std::string host = serve.listen.empty() ? config->api.listen : serve.listen;
  host = host.substr(0, host.rfind(':'));
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  const std::string url = std::string((*server)->tls() ? "https" : "http") + "://" + host + ":" +
                          std::to_string((*server)->port());
  if (args.console_only)
    std::printf("fraudops ui: the console is at %s/ui (Ctrl-C stops)\n", url.c_str());
  else
    std::printf("fraudops serve: listening on %s (the console: %s/ui)\n", url.c_str(), url.c_str());
  std::fflush(stdout);
  if (!args.port_file.empty()) {
    if (Status written = WriteFileAtomic(args.port_file, std::to_string((*server)->port()) + "\n");
        !written.ok()) {
      return Fail(written);
    }
  }
  while (true) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      auto reloaded = LoadCheckedConfig(options);
      if (!reloaded.ok()) {
        logger.Error("serve", "configuration not reloaded; keeping the running one",
                     {{"error", reloaded.status().message()}});
        continue;
      }
      if (!args.home.empty()) reloaded->global.home = args.home;
      (*server)->Reload(*reloaded);
      continue;
    }
    // Not ready first, still serving, while the balancer's health checks notice (a second
    // SIGTERM or SIGINT cuts the wait short); then drain.
    (*server)->BeginDrain();
    if (signal == SIGTERM && config->api.drain_delay_ms > 0) {
      logger.Info("serve", "not ready; draining after api.drain_delay_ms",
                  {{"delay_ms", config->api.drain_delay_ms}});
      const auto end =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(config->api.drain_delay_ms);
      sigset_t stops;
      sigemptyset(&stops);
      sigaddset(&stops, SIGINT);
      sigaddset(&stops, SIGTERM);
      for (auto now = std::chrono::steady_clock::now(); now < end;
           now = std::chrono::steady_clock::now()) {
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(end - now);
        timespec wait = {static_cast<time_t>(left.count() / 1000000000),
                         static_cast<long>(left.count() % 1000000000)};
        if (sigtimedwait(&stops, nullptr, &wait) > 0) break;
      }
    }
    logger.Info("serve", "draining", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    (*server)->Drain();
    jobs->Stop();
    logger.Info("serve", "stopped");
    return kExitOk;
  }
}

// ---------------------------------------------------------------------------------------
// deploy

int Deploy(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto version = Resolve(*stores->metadata, args.target);
  if (!version.ok()) return Fail(version.status());
  const DeployConfig& deploy = stores->config.deploy;
  DeploymentParams params = DeploymentParamsFrom(deploy);
  if (args.canary_percent >= 0) params.canary_percent = args.canary_percent;
  if (args.bake_seconds >= 0) params.bake_seconds = args.bake_seconds;
  if (args.step_percent >= 0) params.linear_step_percent = args.step_percent;
  if (args.step_seconds >= 0) params.linear_step_seconds = args.step_seconds;
  if (args.weight >= 0) params.ab_weight = args.weight;
  if (!args.assignment_field.empty()) params.ab_assignment_field = args.assignment_field;
  const std::string endpoint = args.endpoint.empty() ? deploy.endpoint_name : args.endpoint;
  ServingStore serving(*stores->metadata);
  const std::string strategy_name = args.strategy.empty() ? deploy.strategy : args.strategy;
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  Result<DeploymentRecord> deployed = Status::Internal("not deployed");
  if (*remote) {  // shared mode: through the server, as the signed-in user
    Json body = params.ToJson();
    body["model"] = version->model;
    body["version"] = version->version;
    body["strategy"] = strategy_name;
    auto answer = (*remote)->Call("POST", "/v1/admin/endpoints/" + endpoint + "/deployments", body);
    if (!answer.ok()) return Fail(answer.status());
    deployed = serving.GetDeployment(answer->value("id", ""));
  } else {
    auto rules = DeployRulesFrom(stores->config);
    if (!rules.ok()) return Fail(rules.status());
    deployed = serving.Deploy(endpoint, {version->model, version->version}, strategy_name, params,
                              CurrentActor(), *rules);
  }
  if (!deployed.ok()) return Fail(deployed.status());
  DeploymentRecord d = *deployed;
  if (args.wait && d.status == DeploymentStatus::kBaking) {
    // Follow the deployment until a running server promotes it or rolls it
    // back.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(args.wait_seconds);
    while (d.status == DeploymentStatus::kBaking && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto current = serving.GetDeployment(d.id);
      if (!current.ok()) return Fail(current.status());
      d = *current;
    }
  }
  if (args.json) {
    PrintJson(d.ToJson());
  } else {
    std::printf("deployment %s: %s on endpoint %s (%s) — %s\n", d.id.c_str(),
                d.target.ToString().c_str(), endpoint.c_str(), d.strategy.c_str(),
                std::string(DeploymentStatusName(d.status)).c_str());
    std::printf("  %s\n", d.reason.c_str());
    if (d.status == DeploymentStatus::kBaking) {
      auto strategy = DeploymentStrategies().Find(d.strategy);
      std::printf(
          "  the canary takes %.4g%% of traffic; a running `fraudops "
          "serve` watches its alarms and "
          "promotes it "
          "after %.4g s or rolls it back (fraudops deploy status "
          "--endpoint %s)\n",
          d.traffic_percent,
          strategy.ok() ? (*strategy)->StepSeconds(d.params) : d.params.bake_seconds,
          endpoint.c_str());
    }
  }
  if (d.status == DeploymentStatus::kRolledBack) return kExitGateFailed;
  return kExitOk;
}

int DeployStatus(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  auto endpoints = serving.ListEndpoints();
  if (!endpoints.ok()) return Fail(endpoints.status());
  Json out = Json::array();
  for (const EndpointRecord& e : *endpoints) {
    if (!args.endpoint.empty() && e.name != args.endpoint) continue;
    Json item = e.ToJson();
    if (!e.deployment_id.empty()) {
      auto d = serving.GetDeployment(e.deployment_id);
      if (d.ok()) item["deployment"] = d->ToJson();
    }
    out.push_back(item);
  }
  if (!args.endpoint.empty() && out.empty()) return Fail(serving.NoSuchEndpoint(args.endpoint));
  if (args.json) {
    PrintJson(out);
    return kExitOk;
  }
  if (out.empty()) std::printf("no endpoints yet (fraudops deploy NAME@VERSION --endpoint E)\n");
  for (const EndpointRecord& e : *endpoints) {
    if (!args.endpoint.empty() && e.name != args.endpoint) continue;
    std::printf("endpoint %s (generation %lld, updated %s)\n", e.name.c_str(),
                static_cast<long long>(e.generation), e.updated_at.c_str());
    std::printf("  production  %s\n", Describe(e.production).c_str());
    if (!e.canary.empty())
      std::printf("  canary      %s at %.4g%%\n", e.canary.ToString().c_str(), e.canary_percent);
    for (const VariantRef& s : e.shadows) std::printf("  shadow      %s\n", s.ToString().c_str());
    for (const WeightedVariant& v : e.ab_variants) {
      std::printf("  A/B %-7s %s at %.4g%%%s\n", v.name().c_str(), v.ref.ToString().c_str(),
                  v.weight,
                  e.assignment_field.empty() ? "" : (" (by " + e.assignment_field + ")").c_str());
    }
    if (!e.deployment_id.empty()) {
      auto d = serving.GetDeployment(e.deployment_id);
      if (d.ok()) {
        std::printf("  deployment  %s %s since %s (%s)\n", d->strategy.c_str(),
                    std::string(DeploymentStatusName(d->status)).c_str(),
                    d->step_started_at.c_str(), d->reason.c_str());
      }
    }
  }
  return kExitOk;
}

int DeployHistory(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  const std::string endpoint =
      args.endpoint.empty() ? stores->config.deploy.endpoint_name : args.endpoint;
  auto history = serving.History(endpoint, args.limit);
  if (!history.ok()) return Fail(history.status());
  if (args.json) {
    Json out = Json::array();
    for (const auto& d : *history) out.push_back(d.ToJson());
    PrintJson(out);
    return kExitOk;
  }
  std::printf("deployments of endpoint %s, newest first\n", endpoint.c_str());
  for (const auto& d : *history) PrintDeployment(d);
  if (history->empty()) std::printf("  none\n");
  return kExitOk;
}

int DeployRollback(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  const std::string endpoint =
      args.endpoint.empty() ? stores->config.deploy.endpoint_name : args.endpoint;
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  Result<DeploymentRecord> d = Status::Internal("not rolled back");
  if (*remote) {
    auto answer = (*remote)->Call("POST", "/v1/admin/endpoints/" + endpoint + "/rollback",
                                  {{"reason", args.reason.empty() ? "rolled back" : args.reason}});
    if (!answer.ok()) return Fail(answer.status());
    d = serving.GetDeployment(answer->value("id", ""));
  } else {
    d = serving.Rollback(endpoint, args.reason, CurrentActor());
  }
  if (!d.ok()) return Fail(d.status());
  if (args.json) {
    PrintJson(d->ToJson());
  } else {
    std::printf("endpoint %s: %s (%s)\n", endpoint.c_str(),
                d->strategy == "rollback"
                    ? ("production is now " + d->target.ToString()).c_str()
                    : ("canary " + d->target.ToString() + " rolled back").c_str(),
                d->reason.c_str());
  }
  return kExitOk;
}

/// The A/B report of `endpoint` as a table.
void PrintAbReport(const Json& report) {
  std::printf("A/B test on %s since %s (%s; %.4g%% confidence, recall at FPR %.4g)\n",
              report["endpoint"].get<std::string>().c_str(),
              report["since"].get<std::string>().c_str(),
              report["assignment_field"].is_null()
                  ? "random assignment"
                  : ("assigned by " + report["assignment_field"].get<std::string>()).c_str(),
              100 * report["confidence"].get<double>(), report["fpr_target"].get<double>());
  auto interval = [](const Json& rate) {
    return FormatDouble(rate["value"].get<double>(), 4) + " [" +
           FormatDouble(rate["low"].get<double>(), 4) + ", " +
           FormatDouble(rate["high"].get<double>(), 4) + "]";
  };
  std::printf("\n  %-8s %7s %9s %-28s %9s %9s %-28s %-28s %-28s\n", "variant", "weight", "requests",
              "alert rate", "p99 ms", "labelled", "ROC AUC", "recall at FPR", "precision");
  for (const Json& v : report["variants"]) {
    std::printf("  %-8s %6.4g%% %9llu %-28s %9.3f %9llu %-28s %-28s %-28s\n",
                v["name"].get<std::string>().c_str(), v["weight"].get<double>(),
                static_cast<unsigned long long>(v["requests"].get<uint64_t>()),
                interval(v["alert_rate"]).c_str(), v["latency_ms"]["p99"].get<double>(),
                static_cast<unsigned long long>(v["labelled"].get<uint64_t>()),
                v["roc_auc"].is_null() ? "-" : interval(v["roc_auc"]).c_str(),
                interval(v["recall_at_fpr"]).c_str(), interval(v["precision"]).c_str());
  }
  for (const Json& c : report["comparisons"]) {
    std::printf("\n  %s against %s:\n", c["variant"].get<std::string>().c_str(),
                c["against"].get<std::string>().c_str());
    for (const char* metric : {"alert_rate", "recall_at_fpr", "roc_auc"}) {
      std::printf("    %-14s difference %+.4g  z %+.3f  p %.4g\n", metric,
                  c[metric]["difference"].get<double>(), c[metric]["z"].get<double>(),
                  c[metric]["p_value"].get<double>());
    }
    std::printf(
        "    sample size to detect an alert-rate change of %.4g: %llu per "
        "variant (%s)\n",
        report["min_effect"].get<double>(),
        static_cast<unsigned long long>(c["min_sample_size"].get<uint64_t>()),
        c["sample_size_reached"].get<bool>() ? "reached" : "not reached yet");
  }
}

int DeployWeights(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  std::map<std::string, double> weights;
  for (const std::string& item : args.weights) {
    const size_t equals = item.find('=');
    auto weight = equals == std::string::npos ? std::nullopt : ParseDouble(item.substr(equals + 1));
    if (!weight) {
      return Fail(Status::InvalidArgument("'" + item + "' is not VARIANT=WEIGHT (e.g. v7=30)"));
    }
    weights[item.substr(0, equals)] = *weight;
  }
  ServingStore serving(*stores->metadata);
  if (Status set = serving.SetAbWeights(args.endpoint, weights, CurrentActor()); !set.ok())
    return Fail(set);
  auto endpoint = serving.FindEndpoint(args.endpoint);
  if (!endpoint.ok()) return Fail(endpoint.status());
  if (args.json) {
    PrintJson((*endpoint)->AbJson());
  } else {
    for (const WeightedVariant& v : (*endpoint)->ab_variants) {
      std::printf("%s  %s  %.4g%%\n", v.name().c_str(), v.ref.ToString().c_str(), v.weight);
    }
  }
  return kExitOk;
}

/// The A/B report of args.endpoint now (labels: the feedback table and
/// args.labels).
Result<Json> AbReportNow(const Stores& stores, const ServeArgs& args) {
  ThreadPool pool(static_cast<int>(stores.config.global.threads));
  return AbReportFor(stores.config, *stores.metadata, args.endpoint, args.labels, &pool,
                     std::chrono::system_clock::now());
}

int DeployAbReport(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto report = AbReportNow(*stores, args);
  if (!report.ok()) return Fail(report.status());
  if (args.json) {
    PrintJson(*report);
  } else {
    PrintAbReport(*report);
  }
  return kExitOk;
}

int DeployConclude(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  // The report the decision was made on goes into the audit log with it.
  auto report = AbReportNow(*stores, args);
  Json evidence = report.ok() ? *report : Json{{"report_error", report.status().message()}};
  ServingStore serving(*stores->metadata);
  auto d = serving.ConcludeAb(args.endpoint, args.winner, args.reason, evidence, CurrentActor());
  if (!d.ok()) return Fail(d.status());
  if (args.json) {
    PrintJson(d->ToJson());
  } else {
    std::printf("endpoint %s: production is now %s, the A/B test is over (%s)\n",
                args.endpoint.c_str(), d->target.ToString().c_str(), d->reason.c_str());
  }
  return kExitOk;
}

int DeployMulti(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  MultiModelSpec spec;
  spec.routing_field = args.routing_field;
  spec.default_target = args.default_target;
  spec.pinned = args.pins;
  for (const std::string& route : args.routes) {
    const size_t equals = route.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == route.size()) {
      return Fail(Status::InvalidArgument("--route '" + route +
                                          "' is not VALUE=MODEL (e.g. eu=fraud-eu@champion)"));
    }
    spec.routes[route.substr(0, equals)] = route.substr(equals + 1);
  }
  if (!spec.routes.empty() && spec.routing_field.empty()) {
    return Fail(
        Status::InvalidArgument("--route needs --routing-field (the request "
                                "field the routes are chosen by)"));
  }
  ServingStore serving(*stores->metadata);
  if (Status set = serving.SetMultiModel(args.endpoint, spec, CurrentActor()); !set.ok())
    return Fail(set);
  if (args.json) {
    PrintJson(spec.ToJson());
  } else {
    std::printf("endpoint %s serves many models, chosen per request:\n", args.endpoint.c_str());
    for (const auto& [value, target] : spec.routes) {
      std::printf("  %s = %-12s -> %s\n", spec.routing_field.c_str(), value.c_str(),
                  target.c_str());
    }
    if (!spec.default_target.empty())
      std::printf("  default          -> %s\n", spec.default_target.c_str());
    for (const std::string& pin : spec.pinned) std::printf("  pinned           %s\n", pin.c_str());
    std::printf(
        "  and any registered model named in the "
        "x-fraudops-target-model header\n");
  }
  return kExitOk;
}

int DeployEnvironment(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  const std::string environment = args.environment == "none" ? "" : args.environment;
  Status set = *remote ? (*remote)
                             ->Call("PUT", "/v1/admin/endpoints/" + args.endpoint + "/environment",
                                    {{"environment", environment}})
                             .status()
                       : ServingStore(*stores->metadata)
                             .SetEnvironment(args.endpoint, environment, CurrentActor());
  if (!set.ok()) return Fail(set);
  std::printf("endpoint %s: environment %s\n", args.endpoint.c_str(),
              environment.empty() ? "none" : environment.c_str());
  return kExitOk;
}

void PrintPromotionCheck(const PromotionCheck& check) {
  std::printf("promotion policy of %s (promote.%s)\n", check.environment.c_str(),
              check.environment.c_str());
  for (const auto& r : check.requirements) {
    std::printf("  %s %-44s %s\n", r.met ? "met  " : "UNMET", r.text.c_str(), r.evidence.c_str());
  }
}

int Promote(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto version = Resolve(*stores->metadata, args.target);
  if (!version.ok()) return Fail(version.status());
  auto rules = DeployRulesFrom(stores->config);
  if (!rules.ok()) return Fail(rules.status());
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  const DeployConfig& deploy = stores->config.deploy;
  const std::string strategy = args.strategy.empty() ? deploy.strategy : args.strategy;
  ServingStore serving(*stores->metadata);
  PromotionCheck check;
  Result<DeploymentRecord> deployed = Status::Internal("not promoted");
  if (*remote) {
    Json body = {{"to", args.environment}, {"strategy", strategy}};
    if (!args.endpoint.empty()) body["endpoint"] = args.endpoint;
    auto answer = (*remote)->Call("POST",
                                  "/v1/admin/models/" + PathSegment(version->model) + "/versions/" +
                                      std::to_string(version->version) + "/promote",
                                  body);
    if (!answer.ok()) return Fail(answer.status());
    deployed = serving.GetDeployment((*answer)["deployment"].value("id", ""));
  } else {
    deployed =
        serving.Promote({version->model, version->version}, args.environment, args.endpoint,
                        strategy, DeploymentParamsFrom(deploy), CurrentActor(), *rules, &check);
    if (!args.json && !check.requirements.empty()) PrintPromotionCheck(check);
  }
  if (!deployed.ok()) return Fail(deployed.status());
  if (args.json) {
    Json out = deployed->ToJson();
    out["check"] = check.ToJson();
    PrintJson(out);
  } else {
    std::printf("promoted %s to %s: deployment %s on endpoint %s (%s) — %s\n",
                deployed->target.ToString().c_str(), args.environment.c_str(), deployed->id.c_str(),
                deployed->endpoint.c_str(), deployed->strategy.c_str(),
                std::string(DeploymentStatusName(deployed->status)).c_str());
  }
  return kExitOk;
}

int DeployRemoveShadow(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  auto version = Resolve(*stores->metadata, args.target);
  if (!version.ok()) return Fail(version.status());
  ServingStore serving(*stores->metadata);
  const std::string endpoint =
      args.endpoint.empty() ? stores->config.deploy.endpoint_name : args.endpoint;
  Status removed =
      serving.RemoveShadow(endpoint, {version->model, version->version}, CurrentActor());
  if (!removed.ok()) return Fail(removed);
  std::printf("%s@%lld no longer shadows %s\n", version->model.c_str(),
              static_cast<long long>(version->version), endpoint.c_str());
  return kExitOk;
}

// ---------------------------------------------------------------------------------------
// keys and plans

std::vector<std::string> SplitList(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    for (std::string_view part : Split(v, ',')) {
      std::string item(Trim(part));
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

int KeysCreate(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  auto scopes = SplitList(args.scopes);
  auto endpoints = SplitList(args.endpoints);
  if (scopes.empty()) scopes = {"invoke"};
  if (endpoints.empty()) endpoints = {"*"};
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  Result<CreatedKey> created = Status::Internal("no key");
  if (*remote) {
    Json body = {{"name", args.name}, {"scopes", scopes}, {"endpoints", endpoints}};
    if (!args.plan.empty()) body["plan"] = args.plan;
    auto answer = (*remote)->Call("POST", "/v1/admin/keys", body);
    if (!answer.ok()) return Fail(answer.status());
    CreatedKey made;
    made.key = answer->value("key", "");
    made.record.id = answer->value("id", "");
    made.record.name = args.name;
    made.record.scopes = scopes;
    made.record.endpoints = endpoints;
    made.record.plan = args.plan;
    created = made;
  } else {
    created = serving.CreateKey(args.name, scopes, endpoints, args.plan, CurrentActor());
  }
  if (!created.ok()) return Fail(created.status());
  if (args.json) {
    Json out = created->record.ToJson();
    out["key"] = created->key;
    PrintJson(out);
  } else {
    std::printf("%s\n", created->key.c_str());
    std::fprintf(stderr,
                 "key %s (%s): scopes %s, endpoints %s%s. Shown once: only its "
                 "salted hash is stored.\n",
                 created->record.id.c_str(), args.name.c_str(), Join(scopes, ",").c_str(),
                 Join(endpoints, ",").c_str(),
                 args.plan.empty() ? "" : (", plan " + args.plan).c_str());
  }
  return kExitOk;
}

int KeysList(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  if (*remote) {  // the list needs the admin role, proven by the server
    if (auto answer = (*remote)->Call("GET", "/v1/admin/keys"); !answer.ok())
      return Fail(answer.status());
  }
  auto keys = serving.ListKeys();
  if (!keys.ok()) return Fail(keys.status());
  if (args.json) {
    Json out = Json::array();
    for (const auto& k : *keys) out.push_back(k.ToJson());
    PrintJson(out);
    return kExitOk;
  }
  std::printf("%-12s %-20s %-24s %-16s %-12s %s\n", "ID", "NAME", "SCOPES", "ENDPOINTS", "PLAN",
              "STATE");
  for (const auto& k : *keys) {
    std::printf("%-12s %-20s %-24s %-16s %-12s %s\n", k.id.c_str(), k.name.c_str(),
                Join(k.scopes, ",").c_str(), Join(k.endpoints, ",").c_str(),
                k.plan.empty() ? "-" : k.plan.c_str(),
                k.revoked_at.empty() ? "active" : ("revoked " + k.revoked_at).c_str());
  }
  return kExitOk;
}

int KeysRevoke(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  std::string id = args.key_id;
  std::string_view key_id, secret;
  if (SplitApiKey(id, &key_id, &secret)) id = std::string(key_id);  // the whole key works too
  auto remote = GovernedRemote(stores->config);
  if (!remote.ok()) return Fail(remote.status());
  Status revoked = *remote ? (*remote)->Call("DELETE", "/v1/admin/keys/" + id).status()
                           : serving.RevokeKey(id, CurrentActor());
  if (!revoked.ok()) return Fail(revoked);
  std::printf("key %s revoked; running servers refuse it within api.poll_interval_ms\n",
              id.c_str());
  return kExitOk;
}

/// A plan's terms as people read them: the burst in force (the rate's when none was set),
/// "none" for no quota, "unlimited" for no rate.
struct PlanTerms {
  explicit PlanTerms(const UsagePlan& plan)
      : rate(plan.rate_per_second > 0 ? FormatDouble(plan.rate_per_second, 6) + "/s" : "unlimited"),
        burst(plan.rate_per_second > 0 ? FormatDouble(plan.BucketSize(), 6) : "-"),
        daily(plan.daily_quota > 0 ? std::to_string(plan.daily_quota) : "none"),
        monthly(plan.monthly_quota > 0 ? std::to_string(plan.monthly_quota) : "none") {}
  std::string rate, burst, daily, monthly;
};

int PlansCreate(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  UsagePlan plan;
  plan.name = args.name;
  plan.rate_per_second = args.rate;
  plan.burst = args.burst;
  plan.daily_quota = args.daily;
  plan.monthly_quota = args.monthly;
  if (Status put = serving.PutPlan(plan, args.replace, CurrentActor()); !put.ok()) return Fail(put);
  const PlanTerms terms(plan);
  std::printf("plan %s: rate %s, burst %s, daily quota %s, monthly quota %s\n", plan.name.c_str(),
              terms.rate.c_str(), terms.burst.c_str(), terms.daily.c_str(), terms.monthly.c_str());
  return kExitOk;
}

int PlansList(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  auto plans = serving.ListPlans();
  if (!plans.ok()) return Fail(plans.status());
  if (args.json) {
    Json out = Json::array();
    for (const auto& p : *plans) out.push_back(p.ToJson());
    PrintJson(out);
    return kExitOk;
  }
  std::printf("%-16s %12s %8s %12s %14s\n", "PLAN", "RATE", "BURST", "DAILY", "MONTHLY");
  for (const auto& p : *plans) {
    const PlanTerms terms(p);
    std::printf("%-16s %12s %8s %12s %14s\n", p.name.c_str(), terms.rate.c_str(),
                terms.burst.c_str(), terms.daily.c_str(), terms.monthly.c_str());
  }
  return kExitOk;
}

int PlansAttach(const ServeArgs& args) {
  auto stores = OpenStores(args.config_path, args.home, false);
  if (!stores.ok()) return Fail(stores.status());
  ServingStore serving(*stores->metadata);
  if (Status attached = serving.AttachPlan(args.key_id, args.name, CurrentActor()); !attached.ok())
    return Fail(attached);
  std::printf("key %s now uses plan %s\n", args.key_id.c_str(),
              args.name.empty() ? "(none)" : args.name.c_str());
  return kExitOk;
}

}  // namespace

std::function<int()> AddServeCommands(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto common = [args](CLI::App* command, bool json = true) {
    command->add_option("--config", args->config_path,
                        "Configuration file (default: $FRAUDOPS_CONFIG, else ./config.yml)");
    command->add_option("--home", args->home, "Workspace directory (overrides global.home)");
    if (json) command->add_flag("--json", args->json, "Print JSON");
  };
  auto add_listen = [args](CLI::App* command) {
    auto* listen = command->add_option(
        "--listen", args->listen, "HOST:PORT (overrides api.listen; port 0 picks a free port)");
    command
        ->add_option("--port", args->port,
                     "PORT on api.listen's host (0 picks a free port; or --listen HOST:PORT)")
        ->check(CLI::Range(0, 65535))
        ->excludes(listen);
  };
  auto* serve =
      app.add_subcommand("serve",
                         "Serve the deployed endpoints over HTTP (docs/api.md): predict, Open "
                         "Inference "
                         "Protocol, feedback, metrics, admin. SIGTERM drains, SIGHUP reloads.");
  common(serve, false);
  add_listen(serve);
  serve->add_option("--workers", args->workers,
                    "HTTP worker threads (overrides api.workers; 0: one per core)");
  serve->add_option("--port-file", args->port_file,
                    "Write the port listened on to this file once ready");

  auto* ui = app.add_subcommand(
      "ui",
      "Serve the web console for this workspace (docs/console.md): runs, registry, endpoints, "
      "monitoring, the audit log; the same server as serve, without its periodic monitor and "
      "scheduler.");
  common(ui, false);
  add_listen(ui);
  ui->add_option("--port-file", args->port_file,
                 "Write the port listened on to this file once ready");

  auto* deploy = app.add_subcommand("deploy",
                                    "Deploy a registered version to an endpoint, or see and roll "
                                    "back deployments.");
  common(deploy);
  deploy->add_option("MODEL", args->target, "NAME@VERSION or NAME@ALIAS (NAME alone: latest)");
  deploy->add_option("--endpoint", args->endpoint, "Endpoint (default: deploy.endpoint_name)");
  deploy->add_option("--strategy", args->strategy,
                     Join(DeploymentStrategies().Names(), ", ") + " (default: deploy.strategy)");
  deploy->add_option("--canary-percent", args->canary_percent,
                     "Canary's share of traffic (default: deploy.canary_percent)");
  deploy->add_option("--bake-seconds", args->bake_seconds,
                     "How long the canary is watched (default: deploy.bake_seconds)");
  deploy->add_option("--step-percent", args->step_percent,
                     "Linear: traffic added per step (default: deploy.linear_step_percent)");
  deploy->add_option("--step-seconds", args->step_seconds,
                     "Linear: seconds per step (default: deploy.linear_step_seconds)");
  deploy->add_flag("--wait", args->wait,
                   "Wait until a running server promotes or rolls back the "
                   "canary (exit 4 if rolled back)");
  deploy->add_option("--wait-seconds", args->wait_seconds,
                     "Give up waiting after this long (default 600)");
  deploy->add_option("--weight", args->weight,
                     "ab: the new variant's share of traffic in percent "
                     "(default: deploy.ab_weight)");
  deploy->add_option("--assignment-field", args->assignment_field,
                     "ab: the request field (e.g. card_id) that keeps a card on one variant "
                     "(default: deploy.ab_assignment_field; empty: random)");
  auto* weights = deploy->add_subcommand(
      "weights", "Change an A/B test's weights: deploy weights E v7=30 v6=70.");
  common(weights, false);
  weights->add_option("ENDPOINT", args->endpoint, "Endpoint")->required();
  weights->add_option("WEIGHTS", args->weights, "VARIANT=PERCENT for every variant, summing to 100")
      ->required();
  auto* multi = deploy->add_subcommand("multi",
                                       "Make an endpoint serve many registered models, chosen per "
                                       "request (header, routing field).");
  common(multi, false);
  multi
      ->add_option("ENDPOINT", args->endpoint,
                   "Endpoint (a new name, or one without a production variant)")
      ->required();
  multi->add_option("--routing-field", args->routing_field,
                    "The request field whose value picks a route");
  multi->add_option("--route", args->routes, "VALUE=MODEL, e.g. eu=fraud-eu@champion (repeat)");
  multi->add_option("--default", args->default_target, "The model when no header or route decides");
  multi->add_option("--pin", args->pins,
                    "A model kept loaded whatever api.model_cache_bytes (repeat)");
  auto* ab_report = deploy->add_subcommand("ab-report",
                                           "Compare an A/B test's variants: rates and AUC with "
                                           "intervals, tests, sample size.");
  common(ab_report);
  ab_report->add_option("ENDPOINT", args->endpoint, "Endpoint")->required();
  ab_report->add_option("--labels", args->labels,
                        "CSV of delayed labels besides the feedback: request_id,label");
  auto* conclude = deploy->add_subcommand("conclude",
                                          "End an A/B test: the winner becomes the sole production "
                                          "variant (audited with the report).");
  common(conclude);
  conclude->add_option("ENDPOINT", args->endpoint, "Endpoint")->required();
  conclude->add_option("--winner", args->winner, "The variant that stays, e.g. v7")->required();
  conclude->add_option("--reason", args->reason,
                       "Why (recorded in the deployment history and audit log)");
  conclude->add_option("--labels", args->labels,
                       "CSV of delayed labels for the report kept as evidence");
  auto* status =
      deploy->add_subcommand("status", "Endpoints, their variants and deployments in progress.");
  common(status);
  status->add_option("--endpoint", args->endpoint, "Only this endpoint");
  auto* history = deploy->add_subcommand("history", "An endpoint's deployments, newest first.");
  common(history);
  history->add_option("--endpoint", args->endpoint, "Endpoint (default: deploy.endpoint_name)");
  history->add_option("--limit", args->limit, "At most this many (default 20)");
  auto* rollback = deploy->add_subcommand(
      "rollback", "Roll back the canary, or production to the version before it.");
  common(rollback);
  rollback->add_option("--endpoint", args->endpoint, "Endpoint (default: deploy.endpoint_name)");
  rollback->add_option("--reason", args->reason,
                       "Why (recorded in the deployment history and audit log)");
  auto* environment =
      deploy->add_subcommand("environment",
                             "Label an endpoint dev, staging or production (none: no label); its "
                             "environment's promotion policy then applies to it.");
  common(environment, false);
  environment->add_option("ENDPOINT", args->endpoint, "Endpoint")->required();
  environment->add_option("ENVIRONMENT", args->environment, "dev, staging, production or none")
      ->required();
  auto* promote = app.add_subcommand(
      "promote",
      "Deploy a version to the endpoint of an environment once its promotion policy "
      "holds; says which condition is unmet (docs/governance.md).");
  common(promote);
  promote->add_option("MODEL", args->target, "NAME@VERSION or NAME@ALIAS")->required();
  promote->add_option("--to", args->environment, "dev, staging or production")->required();
  promote->add_option("--endpoint", args->endpoint,
                      "The endpoint, when several are labelled with the environment");
  promote->add_option("--strategy", args->strategy,
                      "How it reaches traffic (default: "
                      "deploy.strategy)");
  auto* remove_shadow =
      deploy->add_subcommand("remove-shadow", "Stop sending traffic copies to a shadow variant.");
  common(remove_shadow, false);
  remove_shadow->add_option("MODEL", args->target, "NAME@VERSION of the shadow")->required();
  remove_shadow->add_option("--endpoint", args->endpoint,
                            "Endpoint (default: deploy.endpoint_name)");

  auto* keys = app.add_subcommand("keys", "API keys for the REST API.");
  keys->require_subcommand(1);
  auto* keys_create = keys->add_subcommand(
      "create", "Create a key; it is printed once, only its salted hash is stored.");
  common(keys_create);
  keys_create
      ->add_option("NAME,--name", args->name,
                   "What the key is for (e.g. the calling service); given alone or as --name")
      ->required();
  keys_create->add_option(
      "--scope", args->scopes,
      Join(KeyScopes(), ", ") + " (repeat or comma-separate; default invoke; docs/api.md)");
  keys_create->add_option("--endpoint", args->endpoints,
                          "Endpoints it may call (repeat or comma-separate; default * = all)");
  keys_create->add_option("--plan", args->plan, "Usage plan (fraudops plans create)");
  auto* keys_list =
      keys->add_subcommand("list", "Keys with their scopes, endpoints and plans (never the key).");
  common(keys_list);
  auto* keys_revoke = keys->add_subcommand("revoke", "Revoke a key (by id, or the key itself).");
  common(keys_revoke, false);
  keys_revoke->add_option("KEY", args->key_id, "Key id (fraudops keys list)")->required();

  auto* plans = app.add_subcommand("plans", "Usage plans: rate limits and quotas for API keys.");
  plans->require_subcommand(1);
  auto* plans_create = plans->add_subcommand("create", "Create (or --replace) a plan.");
  common(plans_create, false);
  plans_create->add_option("NAME", args->name, "Plan name")->required();
  plans_create->add_option("--rate", args->rate,
                           "Requests per second, a token bucket (0: no limit)");
  plans_create->add_option("--burst", args->burst,
                           "Bucket size: requests allowed at once (default: the rate)");
  plans_create->add_option("--daily-quota", args->daily, "Requests per UTC day (0: none)");
  plans_create->add_option("--monthly-quota", args->monthly, "Requests per UTC month (0: none)");
  plans_create->add_flag("--replace", args->replace, "Replace a plan of the same name");
  auto* plans_list = plans->add_subcommand("list", "Usage plans.");
  common(plans_list);
  auto* plans_attach = plans->add_subcommand("attach", "Attach a plan to a key.");
  common(plans_attach, false);
  plans_attach->add_option("PLAN", args->name, "Plan name ('' detaches)")->required();
  plans_attach->add_option("--key", args->key_id, "Key id")->required();

  return [=]() -> int {
    if (*serve) return Serve(*args);
    if (*ui) {
      args->console_only = true;
      return Serve(*args);
    }
    if (*status) return DeployStatus(*args);
    if (*history) return DeployHistory(*args);
    if (*rollback) return DeployRollback(*args);
    if (*remove_shadow) return DeployRemoveShadow(*args);
    if (*environment) return DeployEnvironment(*args);
    if (*promote) return Promote(*args);
    if (*weights) return DeployWeights(*args);
    if (*multi) return DeployMulti(*args);
    if (*ab_report) return DeployAbReport(*args);
    if (*conclude) return DeployConclude(*args);
    if (*deploy) {
      if (args->target.empty()) {
        return Fail(Status::InvalidArgument(
            "deploy needs MODEL (NAME@VERSION or NAME@ALIAS), or one of "
            "status, history, "
            "rollback, remove-shadow, weights, ab-report, conclude, multi, environment"));
      }
      return Deploy(*args);
    }
    if (*keys_create) return KeysCreate(*args);
    if (*keys_list) return KeysList(*args);
    if (*keys_revoke) return KeysRevoke(*args);
    if (*plans_create) return PlansCreate(*args);
    if (*plans_list) return PlansList(*args);
    if (*plans_attach) return PlansAttach(*args);
    return -1;
  };
}

}  // namespace fraudops
