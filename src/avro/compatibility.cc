#include "avro/compatibility.h"

#include <algorithm>
#include <map>
#include <set>

namespace riffle::avro {
namespace {

std::string UpperTypeName(Type t) {
  std::string s(TypeName(t));
  for (auto& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One check. Not thread-safe; one per call.
class Checker {
 public:
  std::vector<Incompatibility> Get(const Node& r, const Node& w) {
    auto key = std::make_pair(&r, &w);
    auto it = memo_.find(key);
    if (it != memo_.end()) {
      // A pair already being checked further up is assumed compatible: any
      // problem in it is reported by that outer check.
      if (it->second.in_progress) return {};
      return it->second.result;
    }
    memo_[key].in_progress = true;
    std::vector<Incompatibility> result = Calculate(r, w);
    auto& m = memo_[key];
    m.in_progress = false;
    m.result = result;
    return result;
  }

 private:
  struct Memo {
    bool in_progress = false;
    std::vector<Incompatibility> result;
  };

  std::vector<Incompatibility> Get(const std::string& token, const Node& r,
                                   const Node& w) {
    location_.push_back(token);
    auto result = Get(r, w);
    location_.pop_back();
    return result;
  }

  std::string Location() const {
    if (location_.empty()) return "/";
    std::string s;
    for (const auto& t : location_) s += "/" + t;
    return s;
  }

  Incompatibility Make(IncompatibilityType type, const Node& r, const Node& w,
                       std::string message) const {
    return Incompatibility{type, Location(), std::move(message), &r, &w};
  }

  static void Append(std::vector<Incompatibility>* to,
                     std::vector<Incompatibility> from) {
    for (auto& i : from) to->push_back(std::move(i));
  }

  static bool NameEquals(const Node& r, const Node& w) {
    if (r.name == w.name) return true;
    return std::find(r.aliases.begin(), r.aliases.end(), w.full_name) !=
           r.aliases.end();
  }

  void CheckNames(const Node& r, const Node& w,
                  std::vector<Incompatibility>* out) {
    location_.push_back("name");
    if (!NameEquals(r, w)) {
      out->push_back(Make(IncompatibilityType::kNameMismatch, r, w,
                          "expected: " + w.full_name));
    }
    location_.pop_back();
  }

  Incompatibility TypeMismatch(const Node& r, const Node& w) const {
    return Make(
        IncompatibilityType::kTypeMismatch, r, w,
        "reader type: " + UpperTypeName(r.type) +
            " not compatible with writer type: " + UpperTypeName(w.type));
  }

  std::vector<Incompatibility> Calculate(const Node& r, const Node& w) {
    std::vector<Incompatibility> out;
    if (r.type == w.type) {
      switch (r.type) {
        case Type::kArray:
          return Get("items", *r.items, *w.items);
        case Type::kMap:
          return Get("values", *r.values, *w.values);
        case Type::kFixed:
          CheckNames(r, w, &out);
          location_.push_back("size");
          if (r.fixed_size != w.fixed_size) {
            out.push_back(Make(IncompatibilityType::kFixedSizeMismatch, r, w,
                               "expected: " + std::to_string(w.fixed_size) +
                                   ", found: " + std::to_string(r.fixed_size)));
          }
          location_.pop_back();
          return out;
        case Type::kEnum: {
          CheckNames(r, w, &out);
          location_.push_back("symbols");
          std::set<std::string> missing;
          for (const auto& s : w.symbols) {
            if (r.SymbolIndex(s) < 0) missing.insert(s);
          }
          // Avro 1.11: a reader enum default absorbs unknown symbols.
          if (!missing.empty() && !r.enum_default) {
            std::string list = "[";
            for (const auto& s : missing) {
              if (list.size() > 1) list += ", ";
              list += s;
            }
            list += "]";
            out.push_back(
                Make(IncompatibilityType::kMissingEnumSymbols, r, w, list));
          }
          location_.pop_back();
          return out;
        }
        case Type::kRecord: {
          CheckNames(r, w, &out);
          location_.push_back("fields");
          for (const Field& rf : r.fields) {
            location_.push_back(std::to_string(rf.position));
            const Field* wf = nullptr;
            int wi = w.FieldIndex(rf.name);
            if (wi >= 0) wf = &w.fields[wi];
            for (size_t a = 0; wf == nullptr && a < rf.aliases.size(); ++a) {
              wi = w.FieldIndex(rf.aliases[a]);
              if (wi >= 0) wf = &w.fields[wi];
            }
            if (wf == nullptr) {
              if (!rf.default_value) {
                out.push_back(
                    Make(IncompatibilityType::kReaderFieldMissingDefaultValue,
                         r, w, rf.name));
              }
            } else {
              Append(&out, Get("type", *rf.type, *wf->type));
            }
            location_.pop_back();
          }
          location_.pop_back();
          return out;
        }
        case Type::kUnion: {
          // Every writer branch must be readable.
          for (size_t i = 0; i < w.branches.size(); ++i) {
            location_.push_back(std::to_string(i));
            if (!Get(r, *w.branches[i]).empty()) {
              out.push_back(Make(IncompatibilityType::kMissingUnionBranch, r, w,
                                 "reader union lacking writer type: " +
                                     UpperTypeName(w.branches[i]->type)));
            }
            location_.pop_back();
          }
          return out;
        }
        default:
          return out;  // same primitive type
      }
    }
    if (w.type == Type::kUnion) {
      for (const Node* b : w.branches) Append(&out, Get(r, *b));
      return out;
    }
    switch (r.type) {
      case Type::kLong:
        if (w.type == Type::kInt) return out;
        break;
      case Type::kFloat:
        if (w.type == Type::kInt || w.type == Type::kLong) return out;
        break;
      case Type::kDouble:
        if (w.type == Type::kInt || w.type == Type::kLong ||
            w.type == Type::kFloat) {
          return out;
        }
        break;
      case Type::kBytes:
        if (w.type == Type::kString) return out;
        break;
      case Type::kString:
        if (w.type == Type::kBytes) return out;
        break;
      case Type::kUnion:
        for (const Node* b : r.branches) {
          if (Get(*b, w).empty()) return out;
        }
        out.push_back(
            Make(IncompatibilityType::kMissingUnionBranch, r, w,
                 "reader union lacking writer type: " + UpperTypeName(w.type)));
        return out;
      default:
        break;
    }
    out.push_back(TypeMismatch(r, w));
    return out;
  }

  std::map<std::pair<const Node*, const Node*>, Memo> memo_;
  std::vector<std::string> location_;
};

}  // namespace

std::string_view IncompatibilityTypeName(IncompatibilityType type) {
  switch (type) {
    case IncompatibilityType::kNameMismatch:
      return "NAME_MISMATCH";
    case IncompatibilityType::kFixedSizeMismatch:
      return "FIXED_SIZE_MISMATCH";
    case IncompatibilityType::kMissingEnumSymbols:
      return "MISSING_ENUM_SYMBOLS";
    case IncompatibilityType::kReaderFieldMissingDefaultValue:
      return "READER_FIELD_MISSING_DEFAULT_VALUE";
    case IncompatibilityType::kTypeMismatch:
      return "TYPE_MISMATCH";
    case IncompatibilityType::kMissingUnionBranch:
      return "MISSING_UNION_BRANCH";
  }
  return "UNKNOWN";
}

std::string Incompatibility::ToString() const {
  return std::string(IncompatibilityTypeName(type)) + " at " + location + ": " +
         message;
}

Compatibility CheckCompatibility(const Node& reader, const Node& writer) {
  Compatibility c;
  auto all = Checker().Get(reader, writer);
  // Memoized pairs reached twice report the same finding twice; keep one.
  std::set<std::tuple<int, std::string, std::string>> seen;
  for (auto& i : all) {
    if (seen.emplace(static_cast<int>(i.type), i.location, i.message).second) {
      c.incompatibilities.push_back(std::move(i));
    }
  }
  return c;
}

Compatibility CheckCompatibility(const Schema& reader, const Schema& writer) {
  return CheckCompatibility(reader.root(), writer.root());
}

}  // namespace riffle::avro
