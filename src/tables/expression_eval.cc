// Evaluation of parsed expressions against items: conditions, updates and
// projections, with DynamoDB's semantics.
#include <algorithm>

#include "tables/expressions.h"

namespace riffle::tables {
namespace {

constexpr std::string_view kInvalidPath =
    "The document path provided in the update expression is invalid for update";
constexpr std::string_view kMissingAttribute =
    "The provided expression refers to an attribute that does not exist in the "
    "item";
constexpr std::string_view kWrongType =
    "An operand in the update expression has an incorrect data type";

AttributeValue* ResolveMutable(Item& item, const DocumentPath& path,
                               size_t length) {
  if (length == 0) return nullptr;
  auto it = item.find(path[0].name);
  if (it == item.end()) return nullptr;
  AttributeValue* v = &it->second;
  for (size_t i = 1; i < length; ++i) {
    const PathElement& e = path[i];
    if (e.is_index) {
      if (!v->is(AttributeType::kL) || e.index >= v->list().size())
        return nullptr;
      v = &v->list()[e.index];
    } else {
      if (!v->is(AttributeType::kM)) return nullptr;
      auto m = v->map().find(e.name);
      if (m == v->map().end()) return nullptr;
      v = &m->second;
    }
  }
  return v;
}

// The value of a condition operand; `scratch` holds computed values.
const AttributeValue* EvalOperand(const Operand& o, const Item& item,
                                  AttributeValue* scratch) {
  switch (o.kind) {
    case Operand::Kind::kPath:
      return ResolvePath(item, o.path);
    case Operand::Kind::kValue:
      return &o.value;
    case Operand::Kind::kSize: {
      AttributeValue inner_scratch;
      const AttributeValue* v = EvalOperand(o.args[0], item, &inner_scratch);
      if (v == nullptr || v->is(AttributeType::kN) ||
          v->is(AttributeType::kBool) || v->is(AttributeType::kNull)) {
        return nullptr;
      }
      *scratch = AttributeValue::N(
          Number::FromInt64(static_cast<int64_t>(v->ElementCount())));
      return scratch;
    }
    default:
      return nullptr;
  }
}

bool Orderable(const AttributeValue* a, const AttributeValue* b) {
  return a && b && a->type() == b->type() &&
         (a->is(AttributeType::kS) || a->is(AttributeType::kN) ||
          a->is(AttributeType::kB));
}

bool Compare(Comparator op, const AttributeValue* a, const AttributeValue* b) {
  switch (op) {
    case Comparator::kEq:
      return a && b && *a == *b;
    case Comparator::kNe:
      // DynamoDB: a missing attribute is "not equal" to any value.
      return !(a && b && *a == *b);
    default:
      break;
  }
  if (!Orderable(a, b)) return false;
  int c = CompareKeyValues(*a, *b);
  switch (op) {
    case Comparator::kLt:
      return c < 0;
    case Comparator::kLe:
      return c <= 0;
    case Comparator::kGt:
      return c > 0;
    case Comparator::kGe:
      return c >= 0;
    default:
      return false;
  }
}

bool Contains(const AttributeValue& haystack, const AttributeValue& needle) {
  switch (haystack.type()) {
    case AttributeType::kS:
    case AttributeType::kB:
      return needle.type() == haystack.type() &&
             haystack.bytes().find(needle.bytes()) != std::string::npos;
    case AttributeType::kSS:
      return needle.is(AttributeType::kS) &&
             std::binary_search(haystack.strings().begin(),
                                haystack.strings().end(), needle.bytes());
    case AttributeType::kBS:
      return needle.is(AttributeType::kB) &&
             std::binary_search(haystack.strings().begin(),
                                haystack.strings().end(), needle.bytes());
    case AttributeType::kNS:
      return needle.is(AttributeType::kN) &&
             std::binary_search(haystack.numbers().begin(),
                                haystack.numbers().end(), needle.number());
    case AttributeType::kL:
      return std::find(haystack.list().begin(), haystack.list().end(),
                       needle) != haystack.list().end();
    default:
      return false;
  }
}

// ---------------------------------------------------------------- updates

Result<AttributeValue> EvalUpdateOperand(const Operand& o,
                                         const Item& original) {
  switch (o.kind) {
    case Operand::Kind::kValue:
      return o.value;
    case Operand::Kind::kPath: {
      const AttributeValue* v = ResolvePath(original, o.path);
      if (v == nullptr) return InvalidArgument(std::string(kMissingAttribute));
      return *v;
    }
    case Operand::Kind::kIfNotExists: {
      const AttributeValue* v = ResolvePath(original, o.args[0].path);
      if (v != nullptr) return *v;
      return EvalUpdateOperand(o.args[1], original);
    }
    case Operand::Kind::kListAppend: {
      ASSIGN_OR_RETURN(AttributeValue a,
                       EvalUpdateOperand(o.args[0], original));
      ASSIGN_OR_RETURN(AttributeValue b,
                       EvalUpdateOperand(o.args[1], original));
      if (!a.is(AttributeType::kL) || !b.is(AttributeType::kL)) {
        return InvalidArgument(std::string(kWrongType));
      }
      for (auto& v : b.list()) a.list().push_back(std::move(v));
      return a;
    }
    case Operand::Kind::kPlus:
    case Operand::Kind::kMinus: {
      ASSIGN_OR_RETURN(AttributeValue a,
                       EvalUpdateOperand(o.args[0], original));
      ASSIGN_OR_RETURN(AttributeValue b,
                       EvalUpdateOperand(o.args[1], original));
      if (!a.is(AttributeType::kN) || !b.is(AttributeType::kN)) {
        return InvalidArgument(std::string(kWrongType));
      }
      ASSIGN_OR_RETURN(Number n,
                       o.kind == Operand::Kind::kPlus
                           ? Number::Add(a.number(), b.number())
                           : Number::Subtract(a.number(), b.number()));
      return AttributeValue::N(std::move(n));
    }
    case Operand::Kind::kSize:
      break;
  }
  return Internal("operand not valid in an update");
}

// The container that holds the last element of `path`, or nullptr.
AttributeValue* ParentOf(Item& item, const DocumentPath& path) {
  return ResolveMutable(item, path, path.size() - 1);
}

Status SetPath(Item& item, const DocumentPath& path, AttributeValue value) {
  if (path.size() == 1) {
    item.insert_or_assign(path[0].name, std::move(value));
    return Status::Ok();
  }
  AttributeValue* parent = ParentOf(item, path);
  const PathElement& last = path.back();
  if (parent == nullptr) return InvalidArgument(std::string(kInvalidPath));
  if (last.is_index) {
    if (!parent->is(AttributeType::kL))
      return InvalidArgument(std::string(kInvalidPath));
    auto& list = parent->list();
    // Past the end appends, as DynamoDB does.
    if (last.index < list.size()) {
      list[last.index] = std::move(value);
    } else {
      list.push_back(std::move(value));
    }
    return Status::Ok();
  }
  if (!parent->is(AttributeType::kM))
    return InvalidArgument(std::string(kInvalidPath));
  parent->map().insert_or_assign(last.name, std::move(value));
  return Status::Ok();
}

void RemovePath(Item& item, const DocumentPath& path) {
  if (path.size() == 1) {
    item.erase(path[0].name);
    return;
  }
  AttributeValue* parent = ParentOf(item, path);
  if (parent == nullptr) return;
  const PathElement& last = path.back();
  if (last.is_index) {
    if (parent->is(AttributeType::kL) && last.index < parent->list().size()) {
      parent->list().erase(parent->list().begin() + last.index);
    }
  } else if (parent->is(AttributeType::kM)) {
    parent->map().erase(last.name);
  }
}

Status AddToPath(Item& item, const DocumentPath& path,
                 const AttributeValue& value) {
  AttributeValue* target = ResolveMutable(item, path, path.size());
  if (target == nullptr) {
    if (!value.is(AttributeType::kN) && !value.is_set()) {
      return InvalidArgument(std::string(kWrongType));
    }
    return SetPath(item, path, value);
  }
  if (target->type() != value.type())
    return InvalidArgument(std::string(kWrongType));
  switch (value.type()) {
    case AttributeType::kN: {
      ASSIGN_OR_RETURN(Number sum,
                       Number::Add(target->number(), value.number()));
      *target = AttributeValue::N(std::move(sum));
      return Status::Ok();
    }
    case AttributeType::kSS:
    case AttributeType::kBS: {
      std::vector<std::string> members = target->strings();
      members.insert(members.end(), value.strings().begin(),
                     value.strings().end());
      *target = value.is(AttributeType::kSS)
                    ? AttributeValue::SS(std::move(members))
                    : AttributeValue::BS(std::move(members));
      return Status::Ok();
    }
    case AttributeType::kNS: {
      std::vector<Number> members = target->numbers();
      members.insert(members.end(), value.numbers().begin(),
                     value.numbers().end());
      *target = AttributeValue::NS(std::move(members));
      return Status::Ok();
    }
    default:
      return InvalidArgument(std::string(kWrongType));
  }
}

Status DeleteFromPath(Item& item, const DocumentPath& path,
                      const AttributeValue& value) {
  AttributeValue* target = ResolveMutable(item, path, path.size());
  if (target == nullptr) return Status::Ok();
  if (target->type() != value.type() || !value.is_set()) {
    return InvalidArgument(std::string(kWrongType));
  }
  bool empty;
  if (value.is(AttributeType::kNS)) {
    auto& members = target->numbers();
    std::erase_if(members, [&](const Number& n) {
      return std::binary_search(value.numbers().begin(), value.numbers().end(),
                                n);
    });
    empty = members.empty();
  } else {
    auto& members = target->strings();
    std::erase_if(members, [&](const std::string& s) {
      return std::binary_search(value.strings().begin(), value.strings().end(),
                                s);
    });
    empty = members.empty();
  }
  // DynamoDB has no empty sets: removing the last member removes the
  // attribute.
  if (empty) RemovePath(item, path);
  return Status::Ok();
}

// Descending path order: for one list, higher indexes are removed first, so
// every REMOVE index refers to the list as it was.
bool PathGreater(const DocumentPath* a, const DocumentPath* b) {
  size_t n = std::min(a->size(), b->size());
  for (size_t i = 0; i < n; ++i) {
    const PathElement& x = (*a)[i];
    const PathElement& y = (*b)[i];
    if (x.is_index != y.is_index) return x.is_index > y.is_index;
    if (x.is_index) {
      if (x.index != y.index) return x.index > y.index;
    } else if (x.name != y.name) {
      return x.name > y.name;
    }
  }
  return a->size() > b->size();
}

// Projection tree: which parts of a value to keep.
struct ProjectionNode {
  bool whole = false;
  std::map<std::string, ProjectionNode, std::less<>> names;
  std::map<uint32_t, ProjectionNode> indexes;
};

std::optional<AttributeValue> ProjectValue(const AttributeValue& v,
                                           const ProjectionNode& n) {
  if (n.whole) return v;
  if (v.is(AttributeType::kM) && !n.names.empty()) {
    AttributeValue::Map out;
    for (const auto& [name, child] : n.names) {
      auto it = v.map().find(name);
      if (it == v.map().end()) continue;
      if (auto p = ProjectValue(it->second, child))
        out.emplace(name, std::move(*p));
    }
    if (out.empty()) return std::nullopt;
    return AttributeValue::M(std::move(out));
  }
  if (v.is(AttributeType::kL) && !n.indexes.empty()) {
    AttributeValue::List out;
    for (const auto& [index, child] : n.indexes) {
      if (index >= v.list().size()) continue;
      if (auto p = ProjectValue(v.list()[index], child))
        out.push_back(std::move(*p));
    }
    if (out.empty()) return std::nullopt;
    return AttributeValue::L(std::move(out));
  }
  return std::nullopt;
}

}  // namespace

const AttributeValue* ResolvePath(const Item& item, const DocumentPath& path) {
  return ResolveMutable(const_cast<Item&>(item), path, path.size());
}

bool EvaluateCondition(const Condition& c, const Item& item) {
  AttributeValue s0, s1, s2;
  switch (c.kind) {
    case Condition::Kind::kAnd:
      return EvaluateCondition(c.children[0], item) &&
             EvaluateCondition(c.children[1], item);
    case Condition::Kind::kOr:
      return EvaluateCondition(c.children[0], item) ||
             EvaluateCondition(c.children[1], item);
    case Condition::Kind::kNot:
      return !EvaluateCondition(c.children[0], item);
    case Condition::Kind::kCompare:
      return Compare(c.op, EvalOperand(c.operands[0], item, &s0),
                     EvalOperand(c.operands[1], item, &s1));
    case Condition::Kind::kBetween: {
      const AttributeValue* v = EvalOperand(c.operands[0], item, &s0);
      const AttributeValue* low = EvalOperand(c.operands[1], item, &s1);
      const AttributeValue* high = EvalOperand(c.operands[2], item, &s2);
      return Orderable(v, low) && Orderable(v, high) &&
             CompareKeyValues(*v, *low) >= 0 &&
             CompareKeyValues(*v, *high) <= 0;
    }
    case Condition::Kind::kIn: {
      const AttributeValue* v = EvalOperand(c.operands[0], item, &s0);
      if (v == nullptr) return false;
      for (size_t i = 1; i < c.operands.size(); ++i) {
        const AttributeValue* candidate = EvalOperand(c.operands[i], item, &s1);
        if (candidate && *candidate == *v) return true;
      }
      return false;
    }
    case Condition::Kind::kAttributeExists:
      return ResolvePath(item, c.operands[0].path) != nullptr;
    case Condition::Kind::kAttributeNotExists:
      return ResolvePath(item, c.operands[0].path) == nullptr;
    case Condition::Kind::kAttributeType: {
      const AttributeValue* v = ResolvePath(item, c.operands[0].path);
      const AttributeValue* t = EvalOperand(c.operands[1], item, &s1);
      return v && t && t->is(AttributeType::kS) &&
             AttributeTypeName(v->type()) == t->bytes();
    }
    case Condition::Kind::kBeginsWith: {
      const AttributeValue* v = EvalOperand(c.operands[0], item, &s0);
      const AttributeValue* prefix = EvalOperand(c.operands[1], item, &s1);
      return v && prefix && v->type() == prefix->type() &&
             (v->is(AttributeType::kS) || v->is(AttributeType::kB)) &&
             v->bytes().starts_with(prefix->bytes());
    }
    case Condition::Kind::kContains: {
      const AttributeValue* v = EvalOperand(c.operands[0], item, &s0);
      const AttributeValue* needle = EvalOperand(c.operands[1], item, &s1);
      return v && needle && Contains(*v, *needle);
    }
  }
  return false;
}

Status ApplyUpdate(const UpdateExpression& update, Item* item) {
  const Item original = *item;
  // Right-hand sides first, all against the original item.
  std::vector<AttributeValue> set_values;
  for (const UpdateAction& a : update.actions) {
    if (a.kind != UpdateAction::Kind::kSet) continue;
    ASSIGN_OR_RETURN(AttributeValue v, EvalUpdateOperand(a.value, original));
    set_values.push_back(std::move(v));
  }
  size_t next_set = 0;
  std::vector<const DocumentPath*> removes;
  for (const UpdateAction& a : update.actions) {
    switch (a.kind) {
      case UpdateAction::Kind::kSet:
        RETURN_IF_ERROR(
            SetPath(*item, a.path, std::move(set_values[next_set++])));
        break;
      case UpdateAction::Kind::kAdd:
        RETURN_IF_ERROR(AddToPath(*item, a.path, a.value.value));
        break;
      case UpdateAction::Kind::kDelete:
        RETURN_IF_ERROR(DeleteFromPath(*item, a.path, a.value.value));
        break;
      case UpdateAction::Kind::kRemove:
        removes.push_back(&a.path);
        break;
    }
  }
  std::sort(removes.begin(), removes.end(), PathGreater);
  for (const DocumentPath* p : removes) RemovePath(*item, *p);
  return Status::Ok();
}

Item Project(const Item& item, const std::vector<DocumentPath>& paths) {
  ProjectionNode root;
  for (const DocumentPath& path : paths) {
    ProjectionNode* n = &root;
    for (const PathElement& e : path) {
      n = e.is_index ? &n->indexes[e.index] : &n->names[e.name];
    }
    n->whole = true;
  }
  Item out;
  for (const auto& [name, child] : root.names) {
    auto it = item.find(name);
    if (it == item.end()) continue;
    if (auto v = ProjectValue(it->second, child))
      out.emplace(name, std::move(*v));
  }
  return out;
}

}  // namespace riffle::tables
