#include "functions/filter_pattern.h"

#include <cctype>
#include <cmath>

namespace riffle::functions {

struct FilterPattern::Condition {
  enum class Kind {
    kExact,
    kPrefix,
    kSuffix,
    kEqualsIgnoreCase,
    kWildcard,
    kAnythingBut,
    kNumeric,
    kExists,
  };
  struct Bound {
    std::string op;  // "=", "<", "<=", ">", ">="
    double value = 0;
  };

  Kind kind = Kind::kExact;
  bool ignore_case = false;  // kPrefix, kSuffix
  json::Value exact;         // kExact
  std::string text;          // kPrefix, kSuffix, kEqualsIgnoreCase, kWildcard
  std::vector<Condition> excluded;  // kAnythingBut: none of them may match
  std::vector<Bound> bounds;        // kNumeric
  bool exists = true;               // kExists
};

struct FilterPattern::Node {
  struct Field {
    std::string key;
    std::vector<Condition> conditions;   // a leaf: any may match
    std::shared_ptr<const Node> nested;  // or an object pattern
  };
  std::vector<Field> fields;
  std::vector<std::vector<Node>> ors;  // "$or": one of each group
};

namespace {

using Condition = FilterPattern::Condition;
using Node = FilterPattern::Node;
using Kind = Condition::Kind;

Status Invalid() {
  return InvalidArgument("Invalid filter pattern definition.");
}

bool IsScalar(const json::Value& v) {
  return v.is_string() || v.is_number() || v.is_bool() || v.is_null();
}

// The single member of a one-key operator object, or nullptr.
const json::Value::Member* OnlyMember(const json::Value& v) {
  return v.is_object() && v.members().size() == 1 ? &v.members()[0] : nullptr;
}

Result<Condition> ParseStringOperator(const json::Value& v, Kind kind) {
  // "prefix"/"suffix" take a string or {"equals-ignore-case": string}.
  Condition c;
  c.kind = kind;
  if (v.is_string()) {
    c.text = v.text();
    return c;
  }
  const json::Value::Member* m = OnlyMember(v);
  if (kind != Kind::kEqualsIgnoreCase && m &&
      m->first == "equals-ignore-case" && m->second.is_string()) {
    c.text = m->second.text();
    c.ignore_case = true;
    return c;
  }
  return Invalid();
}

Result<Condition> ParseCondition(const json::Value& v, bool inside_but);

Result<Condition> ParseAnythingBut(const json::Value& v) {
  Condition c;
  c.kind = Kind::kAnythingBut;
  if (IsScalar(v) && !v.is_null()) {
    c.excluded.push_back(Condition{Kind::kExact, false, v, {}, {}, {}, true});
    return c;
  }
  if (v.is_array()) {
    if (v.items().empty()) return Invalid();
    for (const json::Value& item : v.items()) {
      if (!IsScalar(item) || item.is_null()) return Invalid();
      c.excluded.push_back(
          Condition{Kind::kExact, false, item, {}, {}, {}, true});
    }
    return c;
  }
  const json::Value::Member* m = OnlyMember(v);
  if (!m) return Invalid();
  if (m->first == "equals-ignore-case" && m->second.is_array()) {
    if (m->second.items().empty()) return Invalid();
    for (const json::Value& item : m->second.items()) {
      if (!item.is_string()) return Invalid();
      Condition e;
      e.kind = Kind::kEqualsIgnoreCase;
      e.text = item.text();
      c.excluded.push_back(std::move(e));
    }
    return c;
  }
  if (m->first != "prefix" && m->first != "suffix" &&
      m->first != "equals-ignore-case" && m->first != "wildcard")
    return Invalid();
  ASSIGN_OR_RETURN(Condition inner, ParseCondition(v, /*inside_but=*/true));
  c.excluded.push_back(std::move(inner));
  return c;
}

Result<Condition> ParseNumeric(const json::Value& v) {
  if (!v.is_array() || v.items().empty() || v.items().size() % 2 != 0 ||
      v.items().size() > 4)
    return Invalid();
  Condition c;
  c.kind = Kind::kNumeric;
  bool lower = false, upper = false;
  for (size_t i = 0; i < v.items().size(); i += 2) {
    const json::Value& op = v.items()[i];
    const json::Value& n = v.items()[i + 1];
    if (!op.is_string() || !n.is_number()) return Invalid();
    std::optional<double> d = n.AsDouble();
    if (!d || !std::isfinite(*d)) return Invalid();
    const std::string& o = op.text();
    if (o == "=") {
      if (v.items().size() != 2) return Invalid();
    } else if (o == ">" || o == ">=") {
      if (lower) return Invalid();
      lower = true;
    } else if (o == "<" || o == "<=") {
      if (upper) return Invalid();
      upper = true;
    } else {
      return Invalid();
    }
    c.bounds.push_back({o, *d});
  }
  return c;
}

Result<Condition> ParseCondition(const json::Value& v, bool inside_but) {
  if (IsScalar(v)) {
    Condition c;
    c.kind = Kind::kExact;
    c.exact = v;
    return c;
  }
  const json::Value::Member* m = OnlyMember(v);
  if (!m) return Invalid();
  const std::string& op = m->first;
  if (op == "prefix") return ParseStringOperator(m->second, Kind::kPrefix);
  if (op == "suffix") return ParseStringOperator(m->second, Kind::kSuffix);
  if (op == "equals-ignore-case") {
    if (!m->second.is_string()) return Invalid();
    Condition c;
    c.kind = Kind::kEqualsIgnoreCase;
    c.text = m->second.text();
    return c;
  }
  if (op == "wildcard") {
    if (!m->second.is_string()) return Invalid();
    // Lambda refuses consecutive wildcards ("**").
    if (m->second.text().find("**") != std::string::npos) return Invalid();
    Condition c;
    c.kind = Kind::kWildcard;
    c.text = m->second.text();
    return c;
  }
  if (inside_but) return Invalid();
  if (op == "anything-but") return ParseAnythingBut(m->second);
  if (op == "numeric") return ParseNumeric(m->second);
  if (op == "exists") {
    if (!m->second.is_bool()) return Invalid();
    Condition c;
    c.kind = Kind::kExists;
    c.exists = m->second.bool_value();
    return c;
  }
  return Invalid();
}

Result<Node> ParseNode(const json::Value& v) {
  if (!v.is_object() || v.members().empty()) return Invalid();
  Node node;
  for (const auto& [key, value] : v.members()) {
    if (key == "$or") {
      if (!value.is_array() || value.items().size() < 2) return Invalid();
      std::vector<Node> group;
      for (const json::Value& alt : value.items()) {
        ASSIGN_OR_RETURN(Node n, ParseNode(alt));
        group.push_back(std::move(n));
      }
      node.ors.push_back(std::move(group));
      continue;
    }
    Node::Field field;
    field.key = key;
    if (value.is_object()) {
      ASSIGN_OR_RETURN(Node nested, ParseNode(value));
      field.nested = std::make_shared<const Node>(std::move(nested));
    } else if (value.is_array() && !value.items().empty()) {
      for (const json::Value& c : value.items()) {
        ASSIGN_OR_RETURN(Condition cond, ParseCondition(c, false));
        field.conditions.push_back(std::move(cond));
      }
    } else {
      return Invalid();
    }
    node.fields.push_back(std::move(field));
  }
  return node;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool WildcardMatch(std::string_view pattern, std::string_view s) {
  // Greedy matching with backtracking to the last '*': linear in practice.
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pattern.size() && pattern[p] == s[i]) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ExactEquals(const json::Value& want, const json::Value& got) {
  if (want.type() != got.type()) return false;
  switch (want.type()) {
    case json::Value::Type::kNull:
      return true;
    case json::Value::Type::kBool:
      return want.bool_value() == got.bool_value();
    case json::Value::Type::kString:
      return want.text() == got.text();
    case json::Value::Type::kNumber: {
      // By value: 5 matches 5.0 and 5e0.
      std::optional<double> a = want.AsDouble(), b = got.AsDouble();
      return a && b && *a == *b;
    }
    default:
      return false;
  }
}

// One condition against one present value (never an array).
bool MatchValue(const Condition& c, const json::Value& v) {
  switch (c.kind) {
    case Kind::kExact:
      return ExactEquals(c.exact, v);
    case Kind::kPrefix:
      if (!v.is_string() || v.text().size() < c.text.size()) return false;
      return c.ignore_case ? EqualsIgnoreCase(std::string_view(v.text()).substr(
                                                  0, c.text.size()),
                                              c.text)
                           : v.text().compare(0, c.text.size(), c.text) == 0;
    case Kind::kSuffix: {
      if (!v.is_string() || v.text().size() < c.text.size()) return false;
      std::string_view tail =
          std::string_view(v.text()).substr(v.text().size() - c.text.size());
      return c.ignore_case ? EqualsIgnoreCase(tail, c.text) : tail == c.text;
    }
    case Kind::kEqualsIgnoreCase:
      return v.is_string() && EqualsIgnoreCase(v.text(), c.text);
    case Kind::kWildcard:
      return v.is_string() && WildcardMatch(c.text, v.text());
    case Kind::kAnythingBut:
      for (const Condition& e : c.excluded)
        if (MatchValue(e, v)) return false;
      return true;
    case Kind::kNumeric: {
      if (!v.is_number()) return false;
      std::optional<double> d = v.AsDouble();
      if (!d) return false;
      for (const Condition::Bound& b : c.bounds) {
        bool ok = b.op == "="    ? *d == b.value
                  : b.op == "<"  ? *d < b.value
                  : b.op == "<=" ? *d <= b.value
                  : b.op == ">"  ? *d > b.value
                                 : *d >= b.value;
        if (!ok) return false;
      }
      return true;
    }
    case Kind::kExists:
      return c.exists;
  }
  return false;
}

bool MatchNode(const Node& node, const json::Value& event);

bool MatchField(const Node::Field& f, const json::Value* v) {
  if (f.nested) {
    if (!v) return false;
    if (v->is_array()) {
      for (const json::Value& item : v->items())
        if (MatchNode(*f.nested, item)) return true;
      return false;
    }
    return MatchNode(*f.nested, *v);
  }
  for (const Condition& c : f.conditions) {
    if (!v) {
      if (c.kind == Kind::kExists && !c.exists) return true;
      continue;
    }
    if (v->is_array()) {
      // exists:true holds for a present array even when it is empty.
      if (c.kind == Kind::kExists) {
        if (c.exists) return true;
        continue;
      }
      for (const json::Value& item : v->items())
        if (MatchValue(c, item)) return true;
      continue;
    }
    if (MatchValue(c, *v)) return true;
  }
  return false;
}

bool MatchNode(const Node& node, const json::Value& event) {
  for (const Node::Field& f : node.fields)
    if (!MatchField(f, event.Find(f.key))) return false;
  for (const std::vector<Node>& group : node.ors) {
    bool any = false;
    for (const Node& alt : group)
      if (MatchNode(alt, event)) {
        any = true;
        break;
      }
    if (!any) return false;
  }
  return true;
}

}  // namespace

Result<FilterPattern> FilterPattern::Parse(std::string_view pattern_json) {
  if (pattern_json.size() > 4096) return Invalid();
  json::ParseOptions options;
  options.max_depth = 32;
  Result<json::Value> v = json::Parse(pattern_json, options);
  if (!v.ok()) return Invalid();
  ASSIGN_OR_RETURN(Node root, ParseNode(*v));
  FilterPattern p;
  p.root_ = std::make_shared<const Node>(std::move(root));
  return p;
}

bool FilterPattern::Matches(const json::Value& event) const {
  return root_ && MatchNode(*root_, event);
}

Result<FilterSet> FilterSet::Parse(const std::vector<std::string>& patterns) {
  if (patterns.size() > kMaxFilters)
    return InvalidArgument(
        "Invalid filter criteria: an event source mapping can have at most 5 "
        "filters.");
  FilterSet set;
  for (const std::string& p : patterns) {
    ASSIGN_OR_RETURN(FilterPattern fp, FilterPattern::Parse(p));
    set.patterns_.push_back(std::move(fp));
  }
  return set;
}

bool FilterSet::Matches(const json::Value& event) const {
  if (patterns_.empty()) return true;
  for (const FilterPattern& p : patterns_)
    if (p.Matches(event)) return true;
  return false;
}

}  // namespace riffle::functions
