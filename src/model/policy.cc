#include "model/policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>

#include "core/strings.h"

namespace fraudops {

namespace {

enum class Token : uint8_t {
  kEnd,
  kNewline,
  kName,
  kNumber,
  kString,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kColon,
  kArrow,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kEqual,
  kNotEqual,
  kPlus,
  kMinus,
  kStar,
  kSlash
};

struct Lexeme {
  Token token = Token::kEnd;
  std::string text;  ///< kName, kString (unescaped), kNumber (as written)
  double number = 0;
  int line = 1, column = 1;
};

const char* Describe(Token token) {
  switch (token) {
    case Token::kEnd:
      return "the end";
    case Token::kNewline:
      return "the end of the line";
    case Token::kName:
      return "a name";
    case Token::kNumber:
      return "a number";
    case Token::kString:
      return "a string";
    case Token::kLParen:
      return "'('";
    case Token::kRParen:
      return "')'";
    case Token::kLBracket:
      return "'['";
    case Token::kRBracket:
      return "']'";
    case Token::kComma:
      return "','";
    case Token::kColon:
      return "':'";
    case Token::kArrow:
      return "'->'";
    case Token::kLess:
      return "'<'";
    case Token::kLessEqual:
      return "'<='";
    case Token::kGreater:
      return "'>'";
    case Token::kGreaterEqual:
      return "'>='";
    case Token::kEqual:
      return "'=='";
    case Token::kNotEqual:
      return "'!='";
    case Token::kPlus:
      return "'+'";
    case Token::kMinus:
      return "'-'";
    case Token::kStar:
      return "'*'";
    case Token::kSlash:
      return "'/'";
  }
  return "a token";
}

}  // namespace

/// Recursive descent over the grammar of docs/decision-policies.md.
class PolicyParser {
 public:
  PolicyParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Result<DecisionPolicy> Parse() {
    FOPS_RETURN_IF_ERROR(Lex());
    std::set<std::string> names;
    bool has_default = false;
    while (true) {
      while (Peek().token == Token::kNewline) ++at_;
      if (Peek().token == Token::kEnd) break;
      const Lexeme& start = Peek();
      if (has_default) return Error(start, "nothing may follow the default rule; it is the last");
      if (start.token != Token::kName)
        return Expected(start, "a rule: NAME: CONDITION -> DECISION, or default -> DECISION");
      if (start.text == "default") {
        ++at_;
        FOPS_RETURN_IF_ERROR(Expect(Token::kArrow, "'->' after default"));
        FOPS_ASSIGN_OR_RETURN(policy_.default_decision_, Decision());
        has_default = true;
      } else {
        if (IsKeyword(start.text))
          return Error(start, "'" + start.text + "' is a keyword, not a rule name");
        if (!names.insert(start.text).second)
          return Error(start, "a second rule named '" + start.text + "'");
        ++at_;
        FOPS_RETURN_IF_ERROR(Expect(Token::kColon, "':' after the rule's name"));
        DecisionPolicy::Rule rule;
        rule.name = start.text;
        FOPS_ASSIGN_OR_RETURN(rule.condition, Or());
        FOPS_RETURN_IF_ERROR(Expect(Token::kArrow, "'->' and a decision after the condition"));
        FOPS_ASSIGN_OR_RETURN(rule.decision, Decision());
        policy_.rules_.push_back(std::move(rule));
      }
      const Lexeme& end = Peek();
      if (end.token != Token::kNewline && end.token != Token::kEnd)
        return Expected(end, "the end of the line");
    }
    if (!has_default) {
      return Status::InvalidArgument(source_ +
                                     ": a policy ends with a default rule (default -> approve)");
    }
    // The distinct decisions, in order of first use; each rule knows its decision's index.
    auto index_of = [&](const std::string& decision) {
      auto& list = policy_.decisions_;
      auto it = std::find(list.begin(), list.end(), decision);
      if (it == list.end()) it = list.insert(list.end(), decision);
      return static_cast<uint16_t>(it - list.begin());
    };
    for (DecisionPolicy::Rule& rule : policy_.rules_) rule.decision_index = index_of(rule.decision);
    policy_.default_index_ = index_of(policy_.default_decision_);
    return std::move(policy_);
  }

  /// One expression, the whole text (blank lines and comments around it allowed).
  Result<PolicyExpression> ParseExpression() {
    FOPS_RETURN_IF_ERROR(Lex());
    while (Peek().token == Token::kNewline) ++at_;
    if (Peek().token == Token::kEnd) return Expected(Peek(), "an expression");
    PolicyExpression expression;
    FOPS_ASSIGN_OR_RETURN(expression.root_, Or());
    while (Peek().token == Token::kNewline) ++at_;
    if (Peek().token != Token::kEnd) return Expected(Peek(), "the end of the expression");
    expression.program_ = std::move(policy_);
    return expression;
  }

 private:
  using Node = DecisionPolicy::Node;
  using Op = Node::Op;

  static bool IsKeyword(const std::string& word) {
    return word == "and" || word == "or" || word == "not" || word == "in" || word == "true" ||
           word == "false" || word == "null" || word == "default";
  }

  Status Lex() {
    int line = 1, column = 1;
    size_t i = 0;
    auto advance = [&](size_t n) {
      for (size_t k = 0; k < n; ++k, ++i) {
        if (text_[i] == '\n') {
          ++line;
          column = 1;
        } else {
          ++column;
        }
      }
    };
    while (i < text_.size()) {
      const char c = text_[i];
      Lexeme lexeme;
      lexeme.line = line;
      lexeme.column = column;
      if (c == '#') {
        while (i < text_.size() && text_[i] != '\n') advance(1);
        continue;
      }
      if (c == '\n') {
        lexeme.token = Token::kNewline;
        advance(1);
        tokens_.push_back(lexeme);
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r') {
        advance(1);
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t j = i;
        while (j < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[j])) ||
                                    text_[j] == '_' || text_[j] == '.')) {
          ++j;
        }
        lexeme.token = Token::kName;
        lexeme.text = std::string(text_.substr(i, j - i));
        advance(j - i);
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && i + 1 < text_.size() &&
                  std::isdigit(static_cast<unsigned char>(text_[i + 1])))) {
        size_t j = i;
        while (j < text_.size() &&
               (std::isalnum(static_cast<unsigned char>(text_[j])) || text_[j] == '.' ||
                ((text_[j] == '+' || text_[j] == '-') &&
                 (text_[j - 1] == 'e' || text_[j - 1] == 'E')))) {
          ++j;
        }
        lexeme.token = Token::kNumber;
        lexeme.text = std::string(text_.substr(i, j - i));
        auto number = ParseDouble(lexeme.text);
        if (!number || !std::isfinite(*number))
          return Error(lexeme, "'" + lexeme.text + "' is not a number");
        lexeme.number = *number;
        advance(j - i);
      } else if (c == '"') {
        size_t j = i + 1;
        std::string value;
        while (j < text_.size() && text_[j] != '"' && text_[j] != '\n') {
          if (text_[j] == '\\' && j + 1 < text_.size() &&
              (text_[j + 1] == '"' || text_[j + 1] == '\\'))
            ++j;
          value += text_[j++];
        }
        if (j >= text_.size() || text_[j] != '"')
          return Error(lexeme, "a string without its closing '\"'");
        lexeme.token = Token::kString;
        lexeme.text = std::move(value);
        advance(j + 1 - i);
      } else {
        const std::string_view two = text_.substr(i, 2);
        struct Symbol {
          std::string_view text;
          Token token;
        };
        static constexpr Symbol kSymbols[] = {
            {"->", Token::kArrow},   {"<=", Token::kLessEqual}, {">=", Token::kGreaterEqual},
            {"==", Token::kEqual},   {"!=", Token::kNotEqual},  {"<", Token::kLess},
            {">", Token::kGreater},  {"(", Token::kLParen},     {")", Token::kRParen},
            {"[", Token::kLBracket}, {"]", Token::kRBracket},   {",", Token::kComma},
            {":", Token::kColon},    {"+", Token::kPlus},       {"-", Token::kMinus},
            {"*", Token::kStar},     {"/", Token::kSlash}};
        const Symbol* found = nullptr;
        for (const Symbol& symbol : kSymbols) {
          if (two.substr(0, symbol.text.size()) == symbol.text) {
            found = &symbol;
            break;
          }
        }
        if (found == nullptr) {
          const unsigned char u = static_cast<unsigned char>(c);
          return Error(lexeme, std::isprint(u) ? std::string("unexpected '") + c + "'"
                                               : "unexpected byte " + std::to_string(u));
        }
        lexeme.token = found->token;
        advance(found->text.size());
      }
      tokens_.push_back(std::move(lexeme));
    }
    Lexeme end;
    end.line = line;
    end.column = column;
    tokens_.push_back(end);
    return Status::Ok();
  }

  const Lexeme& Peek() const { return tokens_[at_]; }

  Status Error(const Lexeme& where, const std::string& message) const {
    return Status::InvalidArgument(source_ + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " + message);
  }
  Status Expected(const Lexeme& where, const std::string& what) const {
    const std::string found = where.token == Token::kName || where.token == Token::kNumber
                                  ? "'" + where.text + "'"
                              : where.token == Token::kString ? "\"" + where.text + "\""
                                                              : Describe(where.token);
    return Error(where, "expected " + what + ", found " + found);
  }
  Status Expect(Token token, const std::string& what) {
    if (Peek().token != token) return Expected(Peek(), what);
    ++at_;
    return Status::Ok();
  }
  bool Accept(Token token) {
    if (Peek().token != token) return false;
    ++at_;
    return true;
  }
  bool AcceptWord(std::string_view word) {
    if (Peek().token != Token::kName || Peek().text != word) return false;
    ++at_;
    return true;
  }

  Result<std::string> Decision() {
    const Lexeme& word = Peek();
    if (word.token != Token::kName || IsKeyword(word.text)) {
      return Expected(word, "a decision (approve, review, decline, …)");
    }
    ++at_;
    return word.text;
  }

  uint32_t Add(Node node) {
    policy_.nodes_.push_back(std::move(node));
    return static_cast<uint32_t>(policy_.nodes_.size() - 1);
  }
  uint32_t Binary(Op op, uint32_t a, uint32_t b) {
    Node node;
    node.op = op;
    node.a = a;
    node.b = b;
    return Add(std::move(node));
  }

  Result<uint32_t> Or() {
    FOPS_ASSIGN_OR_RETURN(uint32_t left, And());
    while (AcceptWord("or")) {
      FOPS_ASSIGN_OR_RETURN(uint32_t right, And());
      left = Binary(Op::kOr, left, right);
    }
    return left;
  }
  Result<uint32_t> And() {
    FOPS_ASSIGN_OR_RETURN(uint32_t left, Not());
    while (AcceptWord("and")) {
      FOPS_ASSIGN_OR_RETURN(uint32_t right, Not());
      left = Binary(Op::kAnd, left, right);
    }
    return left;
  }
  Result<uint32_t> Not() {
    if (++depth_ > kMaxDepth) return Error(Peek(), "the expression nests too deeply");
    if (AcceptWord("not")) {
      FOPS_ASSIGN_OR_RETURN(uint32_t operand, Not());
      --depth_;
      return Binary(Op::kNot, operand, 0);
    }
    Result<uint32_t> out = Comparison();
    --depth_;
    return out;
  }
  Result<uint32_t> Comparison() {
    FOPS_ASSIGN_OR_RETURN(uint32_t left, Sum());
    static constexpr std::pair<Token, Op> kCompare[] = {
        {Token::kLess, Op::kLess},       {Token::kLessEqual, Op::kLessEqual},
        {Token::kGreater, Op::kGreater}, {Token::kGreaterEqual, Op::kGreaterEqual},
        {Token::kEqual, Op::kEqual},     {Token::kNotEqual, Op::kNotEqual}};
    for (const auto& [token, op] : kCompare) {
      if (Accept(token)) {
        FOPS_ASSIGN_OR_RETURN(uint32_t right, Sum());
        return Binary(op, left, right);
      }
    }
    bool negated = false;
    if (Peek().token == Token::kName && Peek().text == "not" && at_ + 1 < tokens_.size() &&
        tokens_[at_ + 1].token == Token::kName && tokens_[at_ + 1].text == "in") {
      at_ += 1;
      negated = true;
    }
    if (AcceptWord("in")) {
      FOPS_RETURN_IF_ERROR(Expect(Token::kLBracket, "'[' and a list of values after in"));
      Node node;
      node.op = negated ? Op::kNotIn : Op::kIn;
      node.a = left;
      if (!Accept(Token::kRBracket)) {
        do {
          FOPS_ASSIGN_OR_RETURN(uint32_t item, Literal("a number or a string in the list"));
          node.list.push_back(item);
        } while (Accept(Token::kComma));
        FOPS_RETURN_IF_ERROR(Expect(Token::kRBracket, "',' or ']' in the list"));
      }
      return Add(std::move(node));
    }
    return left;
  }
  Result<uint32_t> Sum() {
    FOPS_ASSIGN_OR_RETURN(uint32_t left, Product());
    while (true) {
      Op op;
      if (Accept(Token::kPlus)) {
        op = Op::kAdd;
      } else if (Accept(Token::kMinus)) {
        op = Op::kSubtract;
      } else {
        return left;
      }
      FOPS_ASSIGN_OR_RETURN(uint32_t right, Product());
      left = Binary(op, left, right);
    }
  }
  Result<uint32_t> Product() {
    FOPS_ASSIGN_OR_RETURN(uint32_t left, Unary());
    while (true) {
      Op op;
      if (Accept(Token::kStar)) {
        op = Op::kMultiply;
      } else if (Accept(Token::kSlash)) {
        op = Op::kDivide;
      } else {
        return left;
      }
      FOPS_ASSIGN_OR_RETURN(uint32_t right, Unary());
      left = Binary(op, left, right);
    }
  }
  Result<uint32_t> Unary() {
    if (++depth_ > kMaxDepth) return Error(Peek(), "the expression nests too deeply");
    Result<uint32_t> out = Status::Internal("");
    if (Accept(Token::kMinus)) {
      Result<uint32_t> operand = Unary();
      out = operand.ok() ? Result<uint32_t>(Binary(Op::kNegate, *operand, 0)) : operand;
    } else {
      out = Primary();
    }
    --depth_;
    return out;
  }
  Result<uint32_t> Literal(const std::string& what) {
    const Lexeme& lexeme = Peek();
    Node node;
    if (lexeme.token == Token::kNumber) {
      node.kind = PolicyValue::Kind::kNumber;
      node.number = lexeme.number;
    } else if (lexeme.token == Token::kString) {
      node.kind = PolicyValue::Kind::kString;
      node.slot = static_cast<uint32_t>(policy_.strings_.size());
      policy_.strings_.push_back(lexeme.text);
    } else if (lexeme.token == Token::kMinus && tokens_[at_ + 1].token == Token::kNumber) {
      ++at_;
      node.kind = PolicyValue::Kind::kNumber;
      node.number = -Peek().number;
    } else {
      return Expected(lexeme, what);
    }
    ++at_;
    return Add(std::move(node));
  }
  Result<uint32_t> Primary() {
    const Lexeme& lexeme = Peek();
    if (lexeme.token == Token::kNumber || lexeme.token == Token::kString) return Literal("a value");
    if (Accept(Token::kLParen)) {
      FOPS_ASSIGN_OR_RETURN(uint32_t inner, Or());
      FOPS_RETURN_IF_ERROR(Expect(Token::kRParen, "')'"));
      return inner;
    }
    if (lexeme.token != Token::kName) return Expected(lexeme, "a field, a number, a string or '('");
    const std::string name = lexeme.text;
    ++at_;
    if (name == "true" || name == "false") {
      Node node;
      node.kind = PolicyValue::Kind::kBool;
      node.number = name == "true";
      return Add(std::move(node));
    }
    if (name == "null") return Add(Node());
    if (IsKeyword(name)) return Error(lexeme, "expected a value, found the keyword '" + name + "'");
    if (Accept(Token::kLParen)) {  // a function
      struct Function {
        std::string_view name;
        Op op;
        int arity;
      };
      static constexpr Function kFunctions[] = {
          {"abs", Op::kAbs, 1},         {"log", Op::kLog, 1},   {"missing", Op::kMissing, 1},
          {"floor", Op::kFloor, 1},     {"sqrt", Op::kSqrt, 1}, {"hour", Op::kHour, 1},
          {"weekday", Op::kWeekday, 1}, {"min", Op::kMin, 2},   {"max", Op::kMax, 2}};
      const Function* function = nullptr;
      for (const Function& f : kFunctions) {
        if (f.name == name) function = &f;
      }
      if (function == nullptr) {
        return Error(lexeme, "unknown function '" + name +
                                 "'; known: abs, floor, hour, log, max, min, missing, sqrt, "
                                 "weekday");
      }
      FOPS_ASSIGN_OR_RETURN(uint32_t first, Or());
      uint32_t second = 0;
      if (function->arity == 2) {
        FOPS_RETURN_IF_ERROR(Expect(Token::kComma, "',' and the function's second argument"));
        FOPS_ASSIGN_OR_RETURN(second, Or());
      }
      FOPS_RETURN_IF_ERROR(Expect(Token::kRParen, function->arity == 2
                                                      ? "')' after the function's two arguments"
                                                      : "')' after the function's argument"));
      return Binary(function->op, first, second);
    }
    Node node;
    node.op = Op::kField;
    auto found = std::find(policy_.fields_.begin(), policy_.fields_.end(), name);
    node.slot = static_cast<uint32_t>(found - policy_.fields_.begin());
    if (found == policy_.fields_.end()) policy_.fields_.push_back(name);
    return Add(std::move(node));
  }

  static constexpr int kMaxDepth = 200;
  std::string_view text_;
  std::string source_;
  std::vector<Lexeme> tokens_;
  size_t at_ = 0;
  int depth_ = 0;
  DecisionPolicy policy_;
};

Result<DecisionPolicy> DecisionPolicy::Parse(std::string_view text, const std::string& source) {
  return PolicyParser(text, source).Parse();
}

Result<PolicyExpression> PolicyExpression::Parse(std::string_view text, const std::string& source) {
  return PolicyParser(text, source).ParseExpression();
}

PolicyInput PolicyInput::OfText(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return {};
  if (auto number = ParseDouble(text)) return Number(*number);
  return String(text);
}

int DecisionPolicy::score_slot() const {
  auto it = std::find(fields_.begin(), fields_.end(), "score");
  return it == fields_.end() ? -1 : static_cast<int>(it - fields_.begin());
}

std::vector<std::string> DecisionPolicy::rule_names() const {
  std::vector<std::string> names;
  for (const Rule& rule : rules_) names.push_back(rule.name);
  names.push_back("default");
  return names;
}

namespace {

/// The hour (0-23) and weekday (Monday 0 … Sunday 6) of a time.
struct TimeParts {
  int hour = 0, weekday = 0;
};

/// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

int WeekdayOfDays(int64_t days) {  // 1970-01-01 was a Thursday (3)
  return static_cast<int>(((days % 7) + 7 + 3) % 7);
}

/// Seconds since the Unix epoch, in UTC.
std::optional<TimeParts> TimeOfSeconds(double seconds) {
  if (!std::isfinite(seconds) || std::abs(seconds) > 1e13) return std::nullopt;
  const double days = std::floor(seconds / 86400);
  const double second_of_day = seconds - days * 86400;
  TimeParts parts;
  parts.hour = std::min(23, static_cast<int>(second_of_day / 3600));
  parts.weekday = WeekdayOfDays(static_cast<int64_t>(days));
  return parts;
}

/// An ISO 8601 date-time, "YYYY-MM-DDTHH…" (or a space for T): the hour as written.
std::optional<TimeParts> TimeOfText(std::string_view text) {
  auto digits = [&](size_t at, size_t n, int* out) {
    if (at + n > text.size()) return false;
    int value = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0;
  if (!digits(0, 4, &year) || text.size() < 13 || text[4] != '-' || !digits(5, 2, &month) ||
      text[7] != '-' || !digits(8, 2, &day) || (text[10] != 'T' && text[10] != ' ') ||
      !digits(11, 2, &hour) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23) {
    return std::nullopt;
  }
  TimeParts parts;
  parts.hour = hour;
  parts.weekday = WeekdayOfDays(DaysFromCivil(year, month, day));
  return parts;
}

bool SameValue(const PolicyValue& a, const PolicyValue& b) {
  if (a.kind != b.kind || a.kind == PolicyValue::Kind::kMissing) return false;
  if (a.kind == PolicyValue::Kind::kString) return a.text == b.text;
  return a.number == b.number;
}

}  // namespace

PolicyValue DecisionPolicy::Eval(uint32_t index, std::span<const PolicyValue> values) const {
  using Kind = PolicyValue::Kind;
  const Node& node = nodes_[index];
  auto truth = [&](uint32_t child) {
    const PolicyValue v = Eval(child, values);
    return v.kind == Kind::kBool && v.number != 0;
  };
  auto numbers = [&](double* x, double* y) {
    const PolicyValue a = Eval(node.a, values), b = Eval(node.b, values);
    *x = a.number;
    *y = b.number;
    return a.kind == Kind::kNumber && b.kind == Kind::kNumber;
  };
  double x = 0, y = 0;
  switch (node.op) {
    case Node::Op::kLiteral:
      if (node.kind == Kind::kString) return PolicyValue::String(strings_[node.slot]);
      return {node.kind, node.number, {}};
    case Node::Op::kField:
      return node.slot < values.size() ? values[node.slot] : PolicyValue();
    case Node::Op::kOr:
      return PolicyValue::Bool(truth(node.a) || truth(node.b));
    case Node::Op::kAnd:
      return PolicyValue::Bool(truth(node.a) && truth(node.b));
    case Node::Op::kNot: {
      const PolicyValue v = Eval(node.a, values);
      return v.kind == Kind::kBool ? PolicyValue::Bool(v.number == 0) : PolicyValue();
    }
    case Node::Op::kLess:
      return PolicyValue::Bool(numbers(&x, &y) && x < y);
    case Node::Op::kLessEqual:
      return PolicyValue::Bool(numbers(&x, &y) && x <= y);
    case Node::Op::kGreater:
      return PolicyValue::Bool(numbers(&x, &y) && x > y);
    case Node::Op::kGreaterEqual:
      return PolicyValue::Bool(numbers(&x, &y) && x >= y);
    case Node::Op::kEqual:
      return PolicyValue::Bool(SameValue(Eval(node.a, values), Eval(node.b, values)));
    case Node::Op::kNotEqual: {
      const PolicyValue a = Eval(node.a, values), b = Eval(node.b, values);
      if (a.kind == Kind::kMissing || b.kind == Kind::kMissing) return PolicyValue::Bool(false);
      return PolicyValue::Bool(!SameValue(a, b));
    }
    case Node::Op::kIn:
    case Node::Op::kNotIn: {
      const PolicyValue v = Eval(node.a, values);
      if (v.kind == Kind::kMissing) return PolicyValue::Bool(false);
      bool found = false;
      for (uint32_t item : node.list) found = found || SameValue(v, Eval(item, values));
      return PolicyValue::Bool(node.op == Node::Op::kIn ? found : !found);
    }
    case Node::Op::kAdd:
      return numbers(&x, &y) ? PolicyValue::Number(x + y) : PolicyValue();
    case Node::Op::kSubtract:
      return numbers(&x, &y) ? PolicyValue::Number(x - y) : PolicyValue();
    case Node::Op::kMultiply:
      return numbers(&x, &y) ? PolicyValue::Number(x * y) : PolicyValue();
    case Node::Op::kDivide:
      return numbers(&x, &y) && y != 0 ? PolicyValue::Number(x / y)
                                       : PolicyValue();  // x/0 is missing
    case Node::Op::kNegate: {
      const PolicyValue v = Eval(node.a, values);
      return v.kind == Kind::kNumber ? PolicyValue::Number(-v.number) : PolicyValue();
    }
    case Node::Op::kAbs: {
      const PolicyValue v = Eval(node.a, values);
      return v.kind == Kind::kNumber ? PolicyValue::Number(std::abs(v.number)) : PolicyValue();
    }
    case Node::Op::kLog: {
      const PolicyValue v = Eval(node.a, values);
      return v.kind == Kind::kNumber && v.number > 0 ? PolicyValue::Number(std::log(v.number))
                                                     : PolicyValue();
    }
    case Node::Op::kMissing:
      return PolicyValue::Bool(Eval(node.a, values).kind == Kind::kMissing);
    case Node::Op::kFloor: {
      const PolicyValue v = Eval(node.a, values);
      return v.kind == Kind::kNumber ? PolicyValue::Number(std::floor(v.number)) : PolicyValue();
    }
    case Node::Op::kSqrt: {
      const PolicyValue v = Eval(node.a, values);
      return v.kind == Kind::kNumber && v.number >= 0 ? PolicyValue::Number(std::sqrt(v.number))
                                                      : PolicyValue();
    }
    case Node::Op::kHour:
    case Node::Op::kWeekday: {
      const PolicyValue v = Eval(node.a, values);
      const std::optional<TimeParts> parts = v.kind == Kind::kNumber   ? TimeOfSeconds(v.number)
                                             : v.kind == Kind::kString ? TimeOfText(v.text)
                                                                       : std::nullopt;
      if (!parts) return PolicyValue();
      return PolicyValue::Number(node.op == Node::Op::kHour ? parts->hour : parts->weekday);
    }
    case Node::Op::kMin:
    case Node::Op::kMax:
      if (!numbers(&x, &y)) return PolicyValue();
      return PolicyValue::Number(node.op == Node::Op::kMin ? std::min(x, y) : std::max(x, y));
  }
  return PolicyValue();
}

PolicyDecision DecisionPolicy::Evaluate(std::span<const PolicyValue> values) const {
  for (const Rule& rule : rules_) {
    const PolicyValue holds = Eval(rule.condition, values);
    if (holds.kind == PolicyValue::Kind::kBool && holds.number != 0)
      return {rule.decision, rule.name, rule.decision_index};
  }
  return {default_decision_, "default", default_index_};
}

}  // namespace fraudops
