#include "store/promotion.h"

#include <algorithm>

#include "core/strings.h"

namespace fraudops {

const std::vector<std::string>& EnvironmentNames() {
  static const std::vector<std::string> kNames = {"dev", "staging", "production"};
  return kNames;
}

Status CheckEnvironment(const std::string& environment) {
  const auto& names = EnvironmentNames();
  if (environment.empty() || std::find(names.begin(), names.end(), environment) != names.end())
    return Status::Ok();
  return Status::InvalidArgument("environment '" + environment +
                                 "' is not known; accepted: dev, staging, production");
}

namespace {

Result<PromotionCondition> ParseCondition(const std::string& text, const std::string& where) {
  PromotionCondition c;
  c.text = text;
  if (text == "approved") return c;
  if (text == "champion_passed") {
    c.kind = PromotionCondition::Kind::kChampionPassed;
    return c;
  }
  const std::vector<std::string> parts = Split(text, ':');
  if (parts.size() == 3 && (parts[0] == "served" || parts[0] == "shadowed")) {
    c.kind = parts[0] == "served" ? PromotionCondition::Kind::kServed
                                  : PromotionCondition::Kind::kShadowed;
    c.environment = std::string(parts[1]);
    if (Status known = CheckEnvironment(c.environment); !known.ok())
      return Status::InvalidArgument(where + ": " + known.message());
    auto seconds = ParseDurationSeconds(parts[2]);
    if (c.environment.empty() || !seconds || *seconds <= 0) {
      return Status::InvalidArgument(where + ": '" + text +
                                     "' needs an environment and a positive duration, e.g. "
                                     "served:staging:24h");
    }
    c.seconds = static_cast<double>(*seconds);
    return c;
  }
  return Status::InvalidArgument(where + ": unknown condition '" + text +
                                 "'; accepted: approved, champion_passed, served:ENV:DURATION, "
                                 "shadowed:ENV:DURATION (alternatives joined by '|')");
}

}  // namespace

Result<PromotionPolicy> PromotionPolicy::Parse(const std::string& environment,
                                               const std::vector<std::string>& entries,
                                               const std::string& key) {
  PromotionPolicy policy;
  policy.environment = environment;
  for (size_t i = 0; i < entries.size(); ++i) {
    std::vector<PromotionCondition> alternatives;
    for (const std::string& part : Split(entries[i], '|')) {
      FOPS_ASSIGN_OR_RETURN(
          PromotionCondition c,
          ParseCondition(std::string(Trim(part)), key + "[" + std::to_string(i) + "]"));
      alternatives.push_back(std::move(c));
    }
    policy.requirements.push_back(std::move(alternatives));
  }
  return policy;
}

bool PromotionCheck::allowed() const {
  return std::all_of(requirements.begin(), requirements.end(),
                     [](const Requirement& r) { return r.met; });
}

std::string PromotionCheck::Unmet() const {
  std::string out;
  for (const Requirement& r : requirements) {
    if (!r.met) out += (out.empty() ? "" : "; ") + r.text + " (" + r.evidence + ")";
  }
  return out;
}

nlohmann::json PromotionCheck::ToJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const Requirement& r : requirements)
    list.push_back({{"requirement", r.text}, {"met", r.met}, {"evidence", r.evidence}});
  return {{"environment", environment}, {"allowed", allowed()}, {"requirements", list}};
}

}  // namespace fraudops
