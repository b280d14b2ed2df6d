#pragma once
/// Decision policies (docs/decision-policies.md): what a fraud operation does with a score —
/// rules over the request's fields and the score, evaluated in order, the first that holds
/// deciding (approve, review, decline, or any word the operation uses), a default when none
/// does:
///
///     # high amounts need a second look
///     high_amount: amount > 5000 and score > 0.3 -> review
///     blocked:     country in ["XX", "YY"] -> decline
///     very_high:   score >= 0.9 -> decline
///     default -> approve
///
/// A small expression language with its own parser (errors name line:column and what was
/// expected) and evaluator; nothing is ever executed as code. Values are numbers, strings,
/// true/false, and missing (a field the request lacks, or null): a comparison with a missing
/// or mistyped operand is false, so a rule that cannot be decided does not fire; `missing(x)`
/// tests for it.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace fraudops {

/// One value a policy reads or computes.
struct PolicyValue {
  enum class Kind : uint8_t { kMissing, kNumber, kString, kBool };
  Kind kind = Kind::kMissing;
  double number = 0;
  std::string_view text;  ///< kString: a view the caller keeps alive during Evaluate
  static PolicyValue Number(double v) { return {Kind::kNumber, v, {}}; }
  static PolicyValue String(std::string_view v) { return {Kind::kString, 0, v}; }
  static PolicyValue Bool(bool v) { return {Kind::kBool, v ? 1.0 : 0.0, {}}; }
};

/// A value owned (a request's or a row's field, kept until its policy decides); View() is
/// what Evaluate takes.
struct PolicyInput {
  PolicyValue::Kind kind = PolicyValue::Kind::kMissing;
  double number = 0;
  std::string text;
  PolicyValue View() const {
    if (kind == PolicyValue::Kind::kString) return PolicyValue::String(text);
    return {kind, number, {}};
  }
  /// A CSV field's text: empty is missing, a number is a number, the rest a string.
  static PolicyInput OfText(std::string_view text);
  static PolicyInput Number(double v) { return {PolicyValue::Kind::kNumber, v, {}}; }
  static PolicyInput String(std::string_view v) {
    return {PolicyValue::Kind::kString, 0, std::string(v)};
  }
  static PolicyInput Bool(bool v) { return {PolicyValue::Kind::kBool, v ? 1.0 : 0.0, {}}; }
};

struct PolicyDecision {
  std::string_view decision;  ///< "review", …: views into the policy
  std::string_view rule;      ///< the rule that fired, or "default"
  uint16_t index = 0;         ///< the decision's index in the policy's decisions()
};

class PolicyExpression;

class DecisionPolicy {
 public:
  /// Parses `text` (`source` names it in errors: "policy.txt:3:17: expected '->' …").
  static Result<DecisionPolicy> Parse(std::string_view text, const std::string& source);

  /// The fields the rules read, in the order Evaluate takes their values ("score" among
  /// them when a rule reads it).
  const std::vector<std::string>& fields() const { return fields_; }
  /// The index of "score" in fields(), or -1 when no rule reads it.
  int score_slot() const;
  /// The rule names in order, then "default".
  std::vector<std::string> rule_names() const;
  /// The distinct decisions, in order of first use (rules, then the default).
  const std::vector<std::string>& decisions() const { return decisions_; }
  /// Decides for one request; `values` holds fields()' values in order.
  PolicyDecision Evaluate(std::span<const PolicyValue> values) const;

  /// The parsed form: expression nodes (children by index), literals' strings apart (so
  /// nodes hold no views into themselves).
  struct Node {
    enum class Op : uint8_t {
      kLiteral,
      kField,
      kOr,
      kAnd,
      kNot,
      kLess,
      kLessEqual,
      kGreater,
      kGreaterEqual,
      kEqual,
      kNotEqual,
      kIn,
      kNotIn,
      kAdd,
      kSubtract,
      kMultiply,
      kDivide,
      kNegate,
      kAbs,
      kLog,
      kMissing,
      kFloor,
      kSqrt,
      kHour,
      kWeekday,
      kMin,
      kMax
    };
    Op op = Op::kLiteral;
    uint32_t a = 0, b = 0;  ///< operands (node indices)
    uint32_t slot = 0;      ///< kField: the field's index; kLiteral string: its string's
    PolicyValue::Kind kind = PolicyValue::Kind::kMissing;  ///< kLiteral
    double number = 0;                                     ///< kLiteral number or bool
    std::vector<uint32_t> list;  ///< kIn, kNotIn: the literal nodes of the list
  };
  struct Rule {
    std::string name;
    uint32_t condition = 0;
    std::string decision;
    uint16_t decision_index = 0;
  };

 private:
  friend class PolicyParser;
  friend class PolicyExpression;
  PolicyValue Eval(uint32_t node, std::span<const PolicyValue> values) const;

  std::vector<std::string> fields_;
  std::vector<std::string> strings_;
  std::vector<Node> nodes_;
  std::vector<Rule> rules_;
  std::string default_decision_;
  uint16_t default_index_ = 0;
  std::vector<std::string> decisions_;
};

/// One expression of the language on its own, e.g. `log(Amount + 1)` or `hour(Time)`: a
/// derived feature's definition (model/derived_features.h).
class PolicyExpression {
 public:
  static Result<PolicyExpression> Parse(std::string_view text, const std::string& source);
  /// The fields it reads, in the order Evaluate takes their values.
  const std::vector<std::string>& fields() const { return program_.fields(); }
  PolicyValue Evaluate(std::span<const PolicyValue> values) const {
    return program_.Eval(root_, values);
  }

 private:
  friend class PolicyParser;
  DecisionPolicy program_;  ///< its nodes, fields and strings; no rules
  uint32_t root_ = 0;
};

}  // namespace fraudops
