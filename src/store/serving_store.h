#pragma once
/// What serving keeps in the metadata store (schema migration 2): endpoints and
/// their variants (production, canary with its traffic share, shadows), the
/// deployment history, API keys (salted hashes, never the key), usage plans and
/// their counters, and delayed labels (feedback). Every change commits with its
/// audit entry in one transaction and bumps a change counter, which running
/// servers poll to pick up what another process did. docs/serving.md describes
/// the deployment states; docs/formats/metadata-schema.md the tables.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "store/deployment_strategy.h"
#include "store/identity.h"
#include "store/metadata_store.h"
#include "store/promotion.h"

namespace fraudops {

/// A model version a variant serves.
struct VariantRef {
  std::string model;
  int64_t version = 0;
  bool empty() const { return model.empty(); }
  std::string ToString() const { return model + "@" + std::to_string(version); }
  bool operator==(const VariantRef&) const = default;
};

/// A production variant of an A/B test and its share of the traffic.
struct WeightedVariant {
  VariantRef ref;
  double weight = 0;  ///< percent; an endpoint's weights sum to 100
  /// The name requests, responses and reports use: "v<version>".
  std::string name() const { return "v" + std::to_string(ref.version); }
  bool operator==(const WeightedVariant&) const = default;
};

/// A multi-model endpoint: which registered model answers a request is chosen
/// per request (docs/serving.md#multi-model-endpoints). Targets are
/// "NAME@VERSION", "NAME@ALIAS" or "NAME" (its latest version).
struct MultiModelSpec {
  std::string routing_field;  ///< the request field whose value picks a route; "": none
  std::map<std::string, std::string> routes;  ///< routing field value -> target
  std::string default_target;                 ///< when neither header nor route decides; "": 400
  std::vector<std::string> pinned;            ///< targets kept loaded whatever the cache's budget
  bool empty() const {
    return routing_field.empty() && routes.empty() && default_target.empty() && pinned.empty();
  }
  nlohmann::json ToJson() const;
  /// Errors name the member (JSON pointer).
  static Result<MultiModelSpec> FromJson(const nlohmann::json& json);
  bool operator==(const MultiModelSpec&) const = default;
};

/// "NAME@VERSION", "NAME@ALIAS" or "NAME" as (name, the registry's ref: a
/// version number,
/// "@alias" or "latest"); an error for an empty name.
Result<std::pair<std::string, std::string>> SplitModelTarget(std::string_view target);

struct EndpointRecord {
  std::string name, created_at, updated_at;
  /// A multi-model endpoint (no production variant); empty: a variant endpoint.
  MultiModelSpec multi_model;
  VariantRef production;  ///< empty: nothing deployed yet
  VariantRef canary;      ///< empty: no canary
  double canary_percent = 0;
  std::vector<VariantRef> shadows;
  /// An A/B test in progress: every production variant with its weight, the one
  /// that was production before the test first (it stays `production`); empty:
  /// no test.
  std::vector<WeightedVariant> ab_variants;
  /// A/B: the request field whose value picks the variant (sticky); "": random
  /// by weight.
  std::string assignment_field;
  std::string ab_started_at;  ///< A/B: when the test began (its report starts there)
  /// The A/B variant named `name` ("v7" or "7"), or null.
  const WeightedVariant* FindAbVariant(std::string_view name) const;
  /// The A/B variants' names, in order.
  std::vector<std::string> AbVariantNames() const;
  std::string deployment_id;  ///< the deployment in progress (canary or linear), or ""
  /// dev, staging, production, or "" (store/promotion.h): its environment's promotion policy
  /// applies to every deployment that changes what answers here.
  std::string environment;
  int64_t generation = 0;  ///< counts changes, so servers see when to reload
  nlohmann::json ToJson() const;
  /// {"variants": [{"name", "model", "version", "weight"}], "assignment_field",
  /// "started_at"}, or null without a test.
  nlohmann::json AbJson() const;
};

/// How a deployment moves traffic and when it rolls back (deploy.* in the
/// configuration).
struct DeploymentParams {
  double canary_percent = 10;
  double bake_seconds = 300;
  double linear_step_percent = 25;
  double linear_step_seconds = 60;
  double max_error_rate = 0.01;
  double max_p99_ms = 50;           ///< 0: off
  double max_score_psi = 0.25;      ///< 0: off
  double max_decision_shift = 0.1;  ///< 0: off
  int64_t min_requests = 100;
  double ab_weight = 50;            ///< ab: the new variant's share of traffic, percent
  std::string ab_assignment_field;  ///< ab: the request field for sticky
                                    ///< assignment ("": random)
  nlohmann::json ToJson() const;
  static DeploymentParams FromJson(const nlohmann::json& json);
};

/// The deploy.* settings as deployment parameters.
DeploymentParams DeploymentParamsFrom(const DeployConfig& deploy);

struct DeploymentRecord {
  std::string id, endpoint, created_at, updated_at, actor;
  std::string strategy;  ///< a registered strategy's name, or "rollback"
                         ///< (Rollback's record)
  VariantRef target;     ///< the version deployed
  VariantRef previous;   ///< production before it (empty: none)
  DeploymentParams params;
  DeploymentStatus status = DeploymentStatus::kCompleted;
  std::string reason;
  double traffic_percent = 0;   ///< the target's share of traffic now
  std::string step_started_at;  ///< when the current traffic share began
  nlohmann::json ToJson() const;
};

/// A usage plan: a token bucket (rate per second, burst) and quotas (0:
/// unlimited).
struct UsagePlan {
  std::string name;
  double rate_per_second = 0;  ///< 0: no rate limit
  int64_t burst = 0;           ///< bucket size; 0: max(1, rate)
  int64_t daily_quota = 0;
  int64_t monthly_quota = 0;
  std::string created_at;
  nlohmann::json ToJson() const;
  /// The bucket size in force: `burst`, or max(1, rate) when it is 0.
  double BucketSize() const {
    return burst > 0 ? static_cast<double>(burst) : std::max(1.0, rate_per_second);
  }
};

/// Scopes a key can hold.
inline const std::vector<std::string>& KeyScopes() {
  static const std::vector<std::string> kScopes = {"invoke", "feedback", "features", "admin"};
  return kScopes;
}

struct ApiKeyRecord {
  std::string id;  ///< public part of the key, "fops_<id>_<secret>"
  std::string name;
  std::string salt, hash;  ///< hash = sha256(salt ":" secret), hex
  std::vector<std::string> scopes;
  std::vector<std::string> endpoints;  ///< "*" for all
  std::string plan;                    ///< "" for none
  std::string created_at, created_by, revoked_at;
  /// A personal access token's user ("": a service key, whose scopes decide). It acts with
  /// the user's roles while the user is enabled.
  std::string owner;
  std::string expires_at;  ///< "": never
  /// Without salt and hash.
  nlohmann::json ToJson() const;
};

struct CreatedKey {
  ApiKeyRecord record;
  std::string key;  ///< the whole key; shown once, stored only as a salted hash
};

/// The parts of "fops_<id>_<secret>", or false when `key` does not have that
/// form.
bool SplitApiKey(std::string_view key, std::string_view* id, std::string_view* secret);
/// sha256(salt ":" secret) as hex.
std::string HashKeySecret(std::string_view salt, std::string_view secret);

struct FeedbackRecord {
  std::string request_id;
  double label = 0;
  std::string label_time;  ///< when the truth became known (ISO 8601); default: received
  std::string received_at;
};

/// Where a version serves: an endpoint and the part it plays there.
struct ServedAt {
  enum class Role : uint8_t { kProduction, kCanary, kShadow, kAbVariant, kMultiModelTarget };
  std::string endpoint;
  Role role = Role::kProduction;
  /// "endpoint fraud (production)".
  std::string ToString() const;
};

/// What a deployment checks beyond approval (register.* in the configuration).
struct DeployRules {
  bool shadow_pending = false;             ///< a pending version may run as a shadow
  bool distinct_approver = false;          ///< its (human) approver may not deploy it
  std::vector<PromotionPolicy> promotion;  ///< by environment (promote.*)
  const PromotionPolicy* PolicyFor(const std::string& environment) const;
};
/// register.shadow_pending, register.distinct_approver and the promote.* policies (checked
/// when the configuration was loaded; an error names the key).
Result<DeployRules> DeployRulesFrom(const Config& config);

enum class RetireAction : uint8_t { kReject, kArchive };

/// Whether `version` may be deployed: approved, not archived; a pending one only as a shadow
/// (`shadow`) when `shadow_of_pending_allowed` (register.shadow_pending). Conflict saying why.
Status Servable(const ModelVersion& version, bool shadow_of_pending_allowed, bool shadow);

class ServingStore {
 public:
  explicit ServingStore(MetadataStore& store) : store_(store), db_(store.connection()) {}

  // Endpoints and deployments.
  Result<std::optional<EndpointRecord>> FindEndpoint(const std::string& name);
  Result<std::vector<EndpointRecord>> ListEndpoints();
  /// NotFound for a name that is no endpoint, with the closest endpoint's name and the known
  /// ones (or that nothing was deployed yet), for an endpoint a person typed.
  Status NoSuchEndpoint(const std::string& name);
  /// Starts a deployment of `target` on `endpoint` (created when new) with the
  /// registered strategy named `strategy` (deployment_strategy.h), which plans what
  /// changes. Only an approved version is deployed — a pending one only as a shadow,
  /// and only when `shadow_of_pending_allowed` (register.shadow_pending); any other
  /// is refused (Conflict, audited as deploy_refused), whichever path asks (CLI,
  /// admin API, the pipeline, the scheduler). A deployment still baking there is
  /// superseded by one that changes production. With nothing in production, canary
  /// and linear deploy all at once (there is nothing to compare against), and the
  /// reason says so. With `rules.distinct_approver`, the person who approved a version (by
  /// hand) may not deploy it (PermissionDenied, audited as deploy_refused). On an endpoint
  /// labelled with an environment, its promotion policy must hold (Conflict naming what is
  /// unmet, audited as promotion_refused); the check goes to `promotion` when given.
  Result<DeploymentRecord> Deploy(const std::string& endpoint, const VariantRef& target,
                                  const std::string& strategy, const DeploymentParams& params,
                                  const std::string& actor, const DeployRules& rules = {},
                                  PromotionCheck* promotion = nullptr);
  /// Moves a baking linear deployment to `percent` of traffic. False when it is
  /// no longer baking (another server decided first).
  Result<bool> SetTraffic(const std::string& deployment_id, double percent,
                          const std::string& actor);
  /// Ends a baking deployment: kPromoted (the canary becomes production) or
  /// kRolledBack (the canary is removed). False when it was no longer baking.
  Result<bool> FinishDeployment(const std::string& deployment_id, DeploymentStatus outcome,
                                const std::string& reason, const std::string& actor);
  /// Rolls `endpoint` back: a baking deployment is rolled back; otherwise
  /// production returns to the version before the last deployment, recorded as
  /// a "rollback" deployment.
  Result<DeploymentRecord> Rollback(const std::string& endpoint, const std::string& reason,
                                    const std::string& actor);
  /// Sets the weights of an A/B test's variants (by name: "v7"); every variant
  /// must be given and the weights must sum to 100.
  Status SetAbWeights(const std::string& endpoint, const std::map<std::string, double>& weights,
                      const std::string& actor);
  /// Ends an A/B test: `winner` ("v7") becomes the sole production variant.
  /// Recorded as an "ab_conclusion" deployment and audited with `evidence` (the
  /// report it was decided on).
  Result<DeploymentRecord> ConcludeAb(const std::string& endpoint, const std::string& winner,
                                      const std::string& reason, const nlohmann::json& evidence,
                                      const std::string& actor);
  /// Makes `endpoint` (created when new) a multi-model endpoint with `spec`,
  /// replacing its definition; every target must name a registered version now.
  /// Refused on an endpoint with a production variant.
  Status SetMultiModel(const std::string& endpoint, const MultiModelSpec& spec,
                       const std::string& actor);
  /// Labels `endpoint` (created when new) with an environment (dev, staging, production, or
  /// "" for none); audited as environment_set.
  Status SetEnvironment(const std::string& endpoint, const std::string& environment,
                        const std::string& actor);
  /// Checks `policy` for `version`: approval, the champion comparison of its run, and how
  /// long it served or shadowed on endpoints of the environments the policy names.
  Result<PromotionCheck> CheckPromotion(const VariantRef& version, const PromotionPolicy& policy);
  /// Deploys `version` to the endpoint labelled `environment` (`endpoint` picks one when
  /// several are; "" otherwise): Deploy, which holds it to the environment's promotion policy
  /// and hands the check to `check`.
  Result<DeploymentRecord> Promote(const VariantRef& version, const std::string& environment,
                                   const std::string& endpoint, const std::string& strategy,
                                   const DeploymentParams& params, const std::string& actor,
                                   const DeployRules& rules, PromotionCheck* check);
  /// Every place `version` serves, including multi-model definitions naming it (by
  /// version, or by an alias or "latest" that points at it now).
  Result<std::vector<ServedAt>> WhereServed(const VariantRef& version);
  /// Rejects or archives `version` (MetadataStore::SetApproval, Archive). When it
  /// serves, refused (Conflict naming where, audited as reject_refused /
  /// archive_refused) unless `roll_back`: then first its canary is rolled back, its
  /// production rolled back to the (approved) version before, its shadows removed;
  /// an A/B variant or a multi-model target is refused with what to do instead.
  Status Retire(const VariantRef& version, RetireAction action, const std::string& reason,
                const std::string& actor, bool roll_back);
  /// Stops sending traffic copies to a shadow variant.
  Status RemoveShadow(const std::string& endpoint, const VariantRef& shadow,
                      const std::string& actor);
  /// Newest first.
  Result<std::vector<DeploymentRecord>> History(const std::string& endpoint, size_t limit);
  Result<DeploymentRecord> GetDeployment(const std::string& id);

  // Keys and plans.
  Result<CreatedKey> CreateKey(const std::string& name, const std::vector<std::string>& scopes,
                               const std::vector<std::string>& endpoints, const std::string& plan,
                               const std::string& actor);
  /// A personal access token of `user` for `lifetime`, audited as `action` (token_created, or
  /// login when a password was checked).
  Result<CreatedKey> CreateUserToken(const std::string& user, const std::string& name,
                                     std::chrono::seconds lifetime, const std::string& actor,
                                     const std::string& action = "token_created");
  /// Every key, revoked ones too, with salt and hash (the server needs them).
  Result<std::vector<ApiKeyRecord>> ListKeys();
  Status RevokeKey(const std::string& id, const std::string& actor);
  /// Attaches `plan` to a key ("" detaches).
  Status AttachPlan(const std::string& key_id, const std::string& plan, const std::string& actor);
  /// Creates a plan, or replaces one of the same name when `replace`.
  Status PutPlan(const UsagePlan& plan, bool replace, const std::string& actor);
  Result<std::vector<UsagePlan>> ListPlans();
  /// Adds counts to usage counters: (key id, period) -> requests.
  Status AddUsage(const std::map<std::pair<std::string, std::string>, int64_t>& counts);
  /// Counters for the given periods (e.g. "d2026-11-23", "m2026-11"): (key,
  /// period) -> used.
  Result<std::map<std::pair<std::string, std::string>, int64_t>> Usage(
      const std::vector<std::string>& periods);

  // Users (store/identity.h). Changes bump the "keys" counter: servers reload who may call.
  /// `password_hash`: HashPassword's, or "" (signs in by token or OIDC only).
  Status CreateUser(const std::string& name, const std::vector<std::string>& roles,
                    const std::string& password_hash, const std::string& actor);
  struct UserChange {
    std::optional<std::vector<std::string>> roles;
    std::optional<bool> disabled;
    std::optional<std::string> password_hash;
  };
  Status ChangeUser(const std::string& name, const UserChange& change, const std::string& actor);
  Result<std::optional<UserRecord>> FindUser(const std::string& name);
  Result<std::vector<UserRecord>> ListUsers();
  /// The user when `password` is theirs and they are enabled; otherwise Unauthenticated
  /// (the same answer whatever was wrong), audited as login_failed.
  Result<UserRecord> CheckPassword(const std::string& name, std::string_view password);

  // Delayed labels.
  /// Stores labels; a request id already labelled is updated (the later truth
  /// wins).
  Status RecordFeedback(const std::string& endpoint, const std::vector<FeedbackRecord>& labels);
  Result<std::vector<FeedbackRecord>> Feedback(const std::string& endpoint);

  /// The change counters ("endpoints", "keys"): a server reloads what changed. On
  /// PostgreSQL every change is also NOTIFYed on kChangeChannel with the counter's name.
  Result<std::map<std::string, int64_t>> ChangeCounters();
  static constexpr std::string_view kChangeChannel = "fraudops_changes";

  /// Audit entries of serving actions go to the registry's audit log (model =
  /// the model for deployments, "" for keys and plans).
  MetadataStore& metadata() { return store_; }

 private:
  /// Ok when `plan` is a usage plan; NotFound with the closest plan's name and the plans, or
  /// how to make one, otherwise.
  Status RequirePlan(const std::string& plan);
  /// Records `refusal` in the audit log (`action`, details and its message) and returns it.
  Status Refused(const Status& refusal, const std::string& action, const VariantRef& target,
                 nlohmann::json details, const std::string& actor);
  Result<std::optional<EndpointRecord>> LoadEndpoint(const std::string& name);
  /// LoadEndpoint inside a write transaction that will change the endpoint: on PostgreSQL it
  /// first takes the endpoint-change lock (kEndpointChangeLock) until the transaction ends.
  Result<std::optional<EndpointRecord>> LoadEndpointForChange(const std::string& name);
  static constexpr int64_t kEndpointChangeLock = 727365;  // the migration lock is 727364
  /// The stored endpoint (false), or a new one created `now` (true: to be inserted).
  Result<std::pair<EndpointRecord, bool>> LoadOrNewEndpoint(const std::string& name,
                                                            const std::string& now);
  Status SaveEndpoint(const EndpointRecord& endpoint, bool insert);
  Status InsertDeployment(const DeploymentRecord& deployment);
  Status UpdateDeploymentStatus(const std::string& id, DeploymentStatus status,
                                const std::string& reason);
  Status Bump(const std::string& counter);
  /// A fresh key (id, secret, salt, hash) made by `actor`; scopes and the rest are the caller's.
  static CreatedKey NewKey(const std::string& name, const std::string& actor);
  /// Inserts `key` and its audit entry (`action`); inside a transaction.
  Status InsertKey(const ApiKeyRecord& key, const std::string& action,
                   const nlohmann::json& details);
  /// Saves an endpoint whose production `d` (a completed deployment) just
  /// changed: drops the new production from the shadows, records `d`, bumps the
  /// counter.
  Status SaveProductionChange(EndpointRecord& e, const DeploymentRecord& d);

  MetadataStore& store_;
  SqlConnection& db_;
};

}  // namespace fraudops
