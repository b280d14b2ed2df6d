#include "model/policy.h"

#include <gtest/gtest.h>

#include <map>

namespace fraudops {
namespace {

const char* kPolicy = R"(# the fraud team's policy
high_amount: amount > 5000 and score > 0.3 -> review
blocked:     country in ["XX", "YY"] -> decline
very_high:   score >= 0.9 -> decline
new_card:    missing(card_age_days) and score > 0.5 -> review
ratio:       amount / (avg_amount + 1) > 10 and not (country == "CH") -> review
default -> approve
)";

/// Decides for named values (absent names are missing).
PolicyDecision Decide(const DecisionPolicy& policy,
                      const std::map<std::string, PolicyValue>& named) {
  std::vector<PolicyValue> values;
  for (const std::string& field : policy.fields()) {
    auto found = named.find(field);
    values.push_back(found == named.end() ? PolicyValue() : found->second);
  }
  return policy.Evaluate(values);
}

TEST(DecisionPolicyTest, EveryRuleFiresInOrderAndTheDefaultDecidesTheRest) {
  auto parsed = DecisionPolicy::Parse(kPolicy, "policy.txt");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const DecisionPolicy& policy = *parsed;
  EXPECT_EQ(policy.fields(), (std::vector<std::string>{"amount", "score", "country",
                                                       "card_age_days", "avg_amount"}));
  EXPECT_EQ(policy.rule_names(), (std::vector<std::string>{"high_amount", "blocked", "very_high",
                                                           "new_card", "ratio", "default"}));
  using V = PolicyValue;
  auto base = [] {
    return std::map<std::string, PolicyValue>{{"amount", V::Number(50)},
                                              {"score", V::Number(0.1)},
                                              {"country", V::String("FR")},
                                              {"card_age_days", V::Number(400)},
                                              {"avg_amount", V::Number(40)}};
  };
  auto with = [&](std::string name, PolicyValue value) {
    auto named = base();
    named[name] = value;
    return named;
  };
  EXPECT_EQ(Decide(policy, base()).rule, "default");
  EXPECT_EQ(Decide(policy, base()).decision, "approve");
  auto high = with("amount", V::Number(6000));
  high["score"] = V::Number(0.4);
  EXPECT_EQ(Decide(policy, high).rule, "high_amount");
  EXPECT_EQ(Decide(policy, high).decision, "review");
  EXPECT_EQ(Decide(policy, with("country", V::String("XX"))).rule, "blocked");
  EXPECT_EQ(Decide(policy, with("country", V::String("XX"))).decision, "decline");
  EXPECT_EQ(Decide(policy, with("score", V::Number(0.95))).rule, "very_high");
  // Earlier rules win: a blocked country at a very high score is "blocked".
  auto both = with("country", V::String("YY"));
  both["score"] = V::Number(0.99);
  EXPECT_EQ(Decide(policy, both).rule, "blocked");
  auto fresh = with("card_age_days", V());
  fresh["score"] = V::Number(0.6);
  EXPECT_EQ(Decide(policy, fresh).rule, "new_card");
  EXPECT_EQ(Decide(policy, with("amount", V::Number(1000))).rule, "ratio");  // 1000 / 41 > 10
  auto swiss = with("amount", V::Number(1000));
  swiss["country"] = V::String("CH");
  EXPECT_EQ(Decide(policy, swiss).rule, "default");
  // Each decision's index in decisions(), which the rollout statistics count by.
  EXPECT_EQ(policy.decisions(), (std::vector<std::string>{"review", "decline", "approve"}));
  EXPECT_EQ(policy.score_slot(), 1);
  EXPECT_EQ(Decide(policy, high).index, 0);
  EXPECT_EQ(Decide(policy, both).index, 1);
  EXPECT_EQ(Decide(policy, base()).index, 2);
}

TEST(DecisionPolicyTest, MissingOrMistypedValuesNeverFireARule) {
  auto policy = DecisionPolicy::Parse(
      "a: amount > 10 -> review\nb: amount != 3 -> decline\n"
      "c: -amount < -100 or abs(delta) >= 2 -> review\nd: log(x) > 0 -> review\n"
      "default -> approve\n",
      "p");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  using V = PolicyValue;
  EXPECT_EQ(policy->Evaluate(std::vector<V>{V(), V(), V()}).rule, "default");
  EXPECT_EQ(policy->Evaluate(std::vector<V>{V::String("lots"), V(), V()}).rule,
            "b");  // "lots" != 3
  EXPECT_EQ(policy->Evaluate(std::vector<V>{V::Number(5), V::Number(-2.5), V()}).rule, "b");
  EXPECT_EQ(policy->Evaluate(std::vector<V>{V::Number(3), V::Number(-2.5), V()}).rule, "c");
  EXPECT_EQ(policy->Evaluate(std::vector<V>{V::Number(3), V(), V::Number(2)}).rule, "d");
  EXPECT_EQ(policy->Evaluate(std::vector<V>{V::Number(3), V(), V::Number(-1)}).rule,
            "default");  // log(-1)
}

TEST(DecisionPolicyTest, AMalformedPolicySaysWhereAndWhatWasExpected) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"a: amount > -> review\ndefault -> approve",
       "p:1:13: expected a field, a number, a string or '(', found '->'"},
      {"a: amount > 5 review\ndefault -> approve",
       "p:1:15: expected '->' and a decision after the condition, found 'review'"},
      {"a: amount > 5 -> review", "p: a policy ends with a default rule"},
      {"a: x > 1 -> review\na: y > 1 -> decline\ndefault -> approve",
       "p:2:1: a second rule named 'a'"},
      {"default -> approve\na: x > 1 -> review", "p:2:1: nothing may follow the default rule"},
      {"a: country in [\"XX\" -> decline\ndefault -> approve",
       "p:1:21: expected ',' or ']' in the list, found '->'"},
      {"a: name == \"open -> review", "p:1:12: a string without its closing '\"'"},
      {"a: x @ 3 -> review", "p:1:6: unexpected '@'"},
      {"a: cube(x) > 3 -> review",
       "p:1:4: unknown function 'cube'; known: abs, floor, hour, log, max, min, missing, sqrt, "
       "weekday"},
      {"a: max(x) > 3 -> review", "p:1:9: expected ',' and the function's second argument"},
      {"a: x > 1 -> and\ndefault -> approve",
       "p:1:13: expected a decision (approve, review, decline, …), found 'and'"},
      {"and: x > 1 -> review", "p:1:1: 'and' is a keyword, not a rule name"},
      {"a: 1e999 > x -> review", "p:1:4: '1e999' is not a number"},
  };
  for (const Case& c : cases) {
    auto parsed = DecisionPolicy::Parse(c.text, "p");
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().rfind(c.error, 0), 0u) << parsed.status().message();
  }
  // Deep nesting is refused, not a stack overflow.
  std::string deep = "a: " + std::string(10000, '(') + "x" + std::string(10000, ')') +
                     " > 1 -> review\ndefault -> approve";
  auto nested = DecisionPolicy::Parse(deep, "p");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("nests too deeply"), std::string::npos);
}

}  // namespace
}  // namespace fraudops
