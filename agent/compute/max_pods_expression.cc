#include "agent/compute/max_pods_expression.h"

#include <cctype>
#include <limits>
#include <memory>
#include <vector>

#include <fmt/format.h>

namespace agent::compute {
namespace {

constexpr std::int64_t kMaxInt32 = std::numeric_limits<std::int32_t>::max();

struct Value {
  bool is_bool = false;
  std::int64_t i = 0;
  bool b = false;
  const char* type() const { return is_bool ? "bool" : "int"; }
};

// The parsed expression: a tree, evaluated after the whole text compiled (so an undeclared
// name in an unused branch is still a compile error, as in CEL).
struct Node {
  enum class Kind { Int, Bool, Var, Neg, Not, Binary, Cond } kind = Kind::Int;
  std::int64_t i = 0;
  bool b = false;
  int var = 0;          // 0 default_enis, 1 ips_per_eni, 2 max_pods
  std::string op;       // Binary
  std::unique_ptr<Node> a, b2, c;
};
using NodePtr = std::unique_ptr<Node>;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<NodePtr> parse() {
    AGENT_TRY(NodePtr n, conditional());
    skip();
    if (pos_ < s_.size()) return fail(fmt::format("unexpected '{}' at column {}", s_[pos_], pos_ + 1));
    return n;
  }

 private:
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(std::string_view tok) {
    skip();
    if (s_.substr(pos_, tok.size()) != tok) return false;
    // "<" must not eat the start of "<=", "!" not of "!=", "=" alone is not an operator.
    if ((tok == "<" || tok == ">" || tok == "!") && pos_ + 1 < s_.size() && s_[pos_ + 1] == '=') return false;
    pos_ += tok.size();
    return true;
  }
  Error fail(const std::string& why) const {
    return Error{Errc::Invalid, "failed to compile custom max pods expression: " + why};
  }
  static NodePtr binary(std::string op, NodePtr a, NodePtr b) {
    auto n = std::make_unique<Node>();
    n->kind = Node::Kind::Binary;
    n->op = std::move(op);
    n->a = std::move(a);
    n->b2 = std::move(b);
    return n;
  }

  Result<NodePtr> conditional() {
    AGENT_TRY(NodePtr cond, logical_or());
    if (!eat("?")) return cond;
    AGENT_TRY(NodePtr yes, conditional());
    if (!eat(":")) return fail(fmt::format("expected ':' at column {}", pos_ + 1));
    AGENT_TRY(NodePtr no, conditional());
    auto n = std::make_unique<Node>();
    n->kind = Node::Kind::Cond;
    n->a = std::move(cond), n->b2 = std::move(yes), n->c = std::move(no);
    return n;
  }
  Result<NodePtr> logical_or() {
    AGENT_TRY(NodePtr left, logical_and());
    while (eat("||")) {
      AGENT_TRY(NodePtr right, logical_and());
      left = binary("||", std::move(left), std::move(right));
    }
    return left;
  }
  Result<NodePtr> logical_and() {
    AGENT_TRY(NodePtr left, relation());
    while (eat("&&")) {
      AGENT_TRY(NodePtr right, relation());
      left = binary("&&", std::move(left), std::move(right));
    }
    return left;
  }
  Result<NodePtr> relation() {
    AGENT_TRY(NodePtr left, additive());
    for (;;) {
      std::string op;
      for (const char* o : {"<=", ">=", "==", "!=", "<", ">"}) {
        if (eat(o)) {
          op = o;
          break;
        }
      }
      if (op.empty()) return left;
      AGENT_TRY(NodePtr right, additive());
      left = binary(op, std::move(left), std::move(right));
    }
  }
  Result<NodePtr> additive() {
    AGENT_TRY(NodePtr left, multiplicative());
    for (;;) {
      std::string op = eat("+") ? "+" : eat("-") ? "-" : "";
      if (op.empty()) return left;
      AGENT_TRY(NodePtr right, multiplicative());
      left = binary(op, std::move(left), std::move(right));
    }
  }
  Result<NodePtr> multiplicative() {
    AGENT_TRY(NodePtr left, unary());
    for (;;) {
      std::string op = eat("*") ? "*" : eat("/") ? "/" : eat("%") ? "%" : "";
      if (op.empty()) return left;
      AGENT_TRY(NodePtr right, unary());
      left = binary(op, std::move(left), std::move(right));
    }
  }
  Result<NodePtr> unary() {
    if (eat("-")) {
      AGENT_TRY(NodePtr inner, unary());
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::Neg;
      n->a = std::move(inner);
      return n;
    }
    if (eat("!")) {
      AGENT_TRY(NodePtr inner, unary());
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::Not;
      n->a = std::move(inner);
      return n;
    }
    return primary();
  }
  Result<NodePtr> primary() {
    skip();
    if (eat("(")) {
      AGENT_TRY(NodePtr inner, conditional());
      if (!eat(")")) return fail(fmt::format("expected ')' at column {}", pos_ + 1));
      return inner;
    }
    if (pos_ >= s_.size()) return fail("unexpected end of expression");
    auto n = std::make_unique<Node>();
    if (std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      std::int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        const int d = s_[pos_++] - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - d) / 10) return fail("integer literal out of range");
        v = v * 10 + d;
      }
      n->kind = Node::Kind::Int;
      n->i = v;
      return n;
    }
    if (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_') {
      const size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
      const std::string_view name = s_.substr(start, pos_ - start);
      if (name == "true" || name == "false") {
        n->kind = Node::Kind::Bool;
        n->b = name == "true";
        return n;
      }
      static constexpr std::string_view kVars[] = {"default_enis", "ips_per_eni", "max_pods"};
      for (int i = 0; i < 3; ++i) {
        if (name == kVars[i]) {
          n->kind = Node::Kind::Var;
          n->var = i;
          return n;
        }
      }
      return fail(fmt::format("undeclared reference to '{}' (known: default_enis, ips_per_eni, max_pods)", name));
    }
    return fail(fmt::format("unexpected '{}' at column {}", s_[pos_], pos_ + 1));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

Result<Value> eval(const Node& n, const MaxPodsVariables& v) {
  auto as_int = [](const Value& x, const char* op) -> Result<std::int64_t> {
    if (x.is_bool) return make_error(Errc::Invalid, "no such overload: '{}' on bool", op);
    return x.i;
  };
  auto as_bool = [](const Value& x, const char* op) -> Result<bool> {
    if (!x.is_bool) return make_error(Errc::Invalid, "no such overload: '{}' on int", op);
    return x.b;
  };
  switch (n.kind) {
    case Node::Kind::Int: return Value{.i = n.i};
    case Node::Kind::Bool: return Value{.is_bool = true, .b = n.b};
    case Node::Kind::Var: return Value{.i = n.var == 0 ? v.default_enis : n.var == 1 ? v.ips_per_eni : v.max_pods};
    case Node::Kind::Neg: {
      AGENT_TRY(Value a, eval(*n.a, v));
      AGENT_TRY(std::int64_t i, as_int(a, "-"));
      if (i == std::numeric_limits<std::int64_t>::min()) return make_error(Errc::Invalid, "integer overflow");
      return Value{.i = -i};
    }
    case Node::Kind::Not: {
      AGENT_TRY(Value a, eval(*n.a, v));
      AGENT_TRY(bool b, as_bool(a, "!"));
      return Value{.is_bool = true, .b = !b};
    }
    case Node::Kind::Cond: {
      AGENT_TRY(Value c, eval(*n.a, v));
      AGENT_TRY(bool b, as_bool(c, "?:"));
      return eval(b ? *n.b2 : *n.c, v);
    }
    case Node::Kind::Binary: break;
  }
  const std::string& op = n.op;
  AGENT_TRY(Value a, eval(*n.a, v));
  if (op == "&&" || op == "||") {
    AGENT_TRY(bool left, as_bool(a, op.c_str()));
    if (op == "&&" && !left) return Value{.is_bool = true, .b = false};
    if (op == "||" && left) return Value{.is_bool = true, .b = true};
    AGENT_TRY(Value b, eval(*n.b2, v));
    AGENT_TRY(bool right, as_bool(b, op.c_str()));
    return Value{.is_bool = true, .b = right};
  }
  AGENT_TRY(Value b, eval(*n.b2, v));
  if (op == "==" || op == "!=") {
    if (a.is_bool != b.is_bool) return make_error(Errc::Invalid, "no such overload: {} {} {}", a.type(), op, b.type());
    const bool eq = a.is_bool ? a.b == b.b : a.i == b.i;
    return Value{.is_bool = true, .b = op == "==" ? eq : !eq};
  }
  AGENT_TRY(std::int64_t x, as_int(a, op.c_str()));
  AGENT_TRY(std::int64_t y, as_int(b, op.c_str()));
  if (op == "<") return Value{.is_bool = true, .b = x < y};
  if (op == "<=") return Value{.is_bool = true, .b = x <= y};
  if (op == ">") return Value{.is_bool = true, .b = x > y};
  if (op == ">=") return Value{.is_bool = true, .b = x >= y};
  std::int64_t r = 0;
  if (op == "+" && __builtin_add_overflow(x, y, &r)) return make_error(Errc::Invalid, "integer overflow");
  if (op == "-" && __builtin_sub_overflow(x, y, &r)) return make_error(Errc::Invalid, "integer overflow");
  if (op == "*" && __builtin_mul_overflow(x, y, &r)) return make_error(Errc::Invalid, "integer overflow");
  if (op == "/" || op == "%") {
    if (y == 0) return make_error(Errc::Invalid, "{}", op == "/" ? "division by zero" : "modulus by zero");
    if (x == std::numeric_limits<std::int64_t>::min() && y == -1) return make_error(Errc::Invalid, "integer overflow");
    r = op == "/" ? x / y : x % y;
  }
  return Value{.i = r};
}

}  // namespace

Result<int> evaluate_max_pods_expression(std::string_view expression, const MaxPodsVariables& vars) {
  AGENT_TRY(NodePtr tree, Parser(expression).parse());
  auto value = eval(*tree, vars);
  if (!value) {
    return make_error(Errc::Invalid, "failed to evaluate custom max pods expression: {}", value.error().message);
  }
  if (value->is_bool) {
    return make_error(Errc::Invalid,
                      "could not interpret result \"{}\" from evaluation of custom max pods expression as an "
                      "integer: type conversion error from 'bool' to 'int'",
                      value->b ? "true" : "false");
  }
  if (value->i <= 0 || value->i > kMaxInt32) {
    return make_error(Errc::Invalid,
                      "max pods value {} from custom expression evaluation is invalid: value must be a positive "
                      "integer less than {}",
                      value->i, kMaxInt32);
  }
  return static_cast<int>(value->i);
}

}  // namespace agent::compute
