#include "http/aws_input.h"

#include <fmt/format.h>

#include "core/base64.h"

namespace riffle::http {

std::string LowerFirst(std::string_view name) {
  std::string out(name);
  if (!out.empty() && out[0] >= 'A' && out[0] <= 'Z')
    out[0] = out[0] - 'A' + 'a';
  return out;
}

bool MatchesNamePattern(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool MatchesDecimalPattern(std::string_view s, size_t max_digits) {
  if (s == "0") return true;
  if (s.empty() || s.size() > max_digits || s[0] < '1' || s[0] > '9')
    return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

AwsInput::AwsInput(const json::Value& object, std::string path)
    : AwsInput(object, std::move(path),
               std::make_shared<std::optional<std::string>>(),
               std::make_shared<std::vector<std::string>>()) {}

AwsInput::AwsInput(const json::Value& object, std::string path,
                   std::shared_ptr<std::optional<std::string>> serialization,
                   std::shared_ptr<std::vector<std::string>> violations)
    : object_(object),
      path_(std::move(path)),
      serialization_(std::move(serialization)),
      violations_(std::move(violations)) {}

AwsInput AwsInput::Child(const json::Value& object,
                         std::string_view member_path) {
  return AwsInput(object, std::string(member_path), serialization_,
                  violations_);
}

AwsInput AwsInput::ListMember(const json::Value& object,
                              std::string_view list_path, size_t index) {
  AwsInput child(object, "", serialization_, violations_);
  child.list_path_ = list_path;
  child.list_index_ = index;
  return child;
}

std::string AwsInput::PathOf(std::string_view name) const {
  if (list_index_ > 0) {
    return fmt::format("{}.{}.member.{}", list_path_, list_index_,
                       LowerFirst(name));
  }
  return path_.empty() ? LowerFirst(name) : path_ + "." + LowerFirst(name);
}

const json::Value* AwsInput::Member(std::string_view name) const {
  const json::Value* v = object_.Find(name);
  return v && !v->is_null() ? v : nullptr;
}

void AwsInput::SerializationError(std::string message) {
  if (!*serialization_) *serialization_ = std::move(message);
}

namespace {

// The wording of the Java deserializer AWS runs, per JSON type found.
std::string FoundInsteadOf(const json::Value& v, std::string_view wanted) {
  switch (v.type()) {
    case json::Value::Type::kArray:
      return "Start of list found where not expected";
    case json::Value::Type::kObject:
      return "Start of structure or map found where not expected.";
    case json::Value::Type::kBool:
      return fmt::format(
          "class java.lang.Boolean can not be converted to an {}", wanted);
    case json::Value::Type::kNumber:
      return fmt::format(
          "class java.math.BigDecimal can not be converted to an {}", wanted);
    case json::Value::Type::kString:
      return fmt::format("class java.lang.String can not be converted to an {}",
                         wanted);
    default:
      return "Unexpected value";
  }
}

}  // namespace

const std::string* AwsInput::String(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return nullptr;
  if (!v->is_string()) {
    SerializationError(FoundInsteadOf(*v, "String"));
    return nullptr;
  }
  return &v->text();
}

std::optional<int64_t> AwsInput::Int(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    SerializationError(FoundInsteadOf(*v, "Integer"));
    return std::nullopt;
  }
  if (auto i = v->AsInt64()) return i;
  // Fractions are truncated, as AWS's deserializer does; huge values clamp.
  double d = v->AsDouble().value_or(0);
  if (d > 9.2e18) return INT64_MAX;
  if (d < -9.2e18) return INT64_MIN;
  return static_cast<int64_t>(d);
}

std::optional<double> AwsInput::Double(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    SerializationError(FoundInsteadOf(*v, "Double"));
    return std::nullopt;
  }
  return v->AsDouble();
}

std::optional<bool> AwsInput::Bool(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    SerializationError(FoundInsteadOf(*v, "Boolean"));
    return std::nullopt;
  }
  return v->bool_value();
}

std::optional<std::string> AwsInput::Blob(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    std::string msg = FoundInsteadOf(*v, "Blob");
    // The Java wording for blobs says "a Blob", not "an Blob".
    if (auto p = msg.find("an Blob"); p != std::string::npos)
      msg.replace(p, 7, "a Blob");
    SerializationError(std::move(msg));
    return std::nullopt;
  }
  const std::string& text = v->text();
  if (text.size() % 4 != 0) {
    SerializationError(
        fmt::format("'{}' can not be converted to a Blob: Base64 encoded "
                    "length is expected a "
                    "multiple of 4 bytes but found: {}",
                    text, text.size()));
    return std::nullopt;
  }
  auto decoded = base64::Decode(text);
  if (!decoded) {
    SerializationError(fmt::format(
        "'{}' can not be converted to a Blob: Invalid Base64 character", text));
    return std::nullopt;
  }
  return decoded;
}

const json::Value* AwsInput::List(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return nullptr;
  if (!v->is_array()) {
    SerializationError(
        v->is_object() ? "Start of structure or map found where not expected."
                       : "Expected list or null");
    return nullptr;
  }
  return v;
}

const json::Value* AwsInput::Map(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return nullptr;
  if (!v->is_object()) {
    SerializationError(v->is_array() ? "Start of list found where not expected"
                                     : "Expected map or null");
    return nullptr;
  }
  return v;
}

const json::Value* AwsInput::Struct(std::string_view name) {
  const json::Value* v = Member(name);
  if (!v) return nullptr;
  if (!v->is_object()) {
    SerializationError(v->is_array() ? "Start of list found where not expected"
                                     : "Expected null");
    return nullptr;
  }
  return v;
}

void AwsInput::AddViolation(std::string_view name, std::string_view value_text,
                            std::string_view constraint) {
  violations_->push_back(
      fmt::format("Value {} at '{}' failed to satisfy constraint: {}",
                  value_text, PathOf(name), constraint));
}

void AwsInput::Required(std::string_view name, bool present) {
  if (!present) AddViolation(name, "null", "Member must not be null");
}

void AwsInput::Length(std::string_view name, const std::string* value,
                      size_t min, size_t max) {
  if (!value) return;
  // AWS counts characters; for the ASCII-only members checked here bytes do.
  if (value->size() < min) {
    AddViolation(
        name, fmt::format("'{}'", *value),
        fmt::format("Member must have length greater than or equal to {}",
                    min));
  } else if (value->size() > max) {
    AddViolation(
        name, fmt::format("'{}'", *value),
        fmt::format("Member must have length less than or equal to {}", max));
  }
}

void AwsInput::BlobLength(std::string_view name,
                          const std::optional<std::string>& value, size_t min,
                          size_t max) {
  if (!value) return;
  std::string shown = fmt::format(
      "'java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]'", value->size());
  if (value->size() < min) {
    AddViolation(
        name, shown,
        fmt::format("Member must have length greater than or equal to {}",
                    min));
  } else if (value->size() > max) {
    AddViolation(
        name, shown,
        fmt::format("Member must have length less than or equal to {}", max));
  }
}

namespace {

// A list or map as the Java front end prints it: "[a, b]", "{k=v}".
std::string JavaToString(const json::Value& v) {
  auto scalar = [](const json::Value& x) {
    return x.is_string() || x.is_number() ? x.text() : std::string("...");
  };
  std::string out;
  if (v.is_array()) {
    out = "[";
    for (size_t i = 0; i < v.items().size(); ++i) {
      if (i) out += ", ";
      out += scalar(v.items()[i]);
    }
    return out + "]";
  }
  out = "{";
  for (size_t i = 0; i < v.members().size(); ++i) {
    if (i) out += ", ";
    out += v.members()[i].first + "=" + scalar(v.members()[i].second);
  }
  return out + "}";
}

}  // namespace

void AwsInput::ListLength(std::string_view name, const json::Value* list,
                          size_t min, size_t max) {
  if (!list) return;
  size_t n = list->is_array() ? list->items().size() : list->members().size();
  if (n >= min && n <= max) return;
  std::string shown = "'" + JavaToString(*list) + "'";
  if (n < min) {
    AddViolation(
        name, shown,
        fmt::format("Member must have length greater than or equal to {}",
                    min));
  } else {
    AddViolation(
        name, shown,
        fmt::format("Member must have length less than or equal to {}", max));
  }
}

void AwsInput::Range(std::string_view name, std::optional<int64_t> value,
                     int64_t min, int64_t max) {
  if (!value) return;
  if (*value < min) {
    AddViolation(
        name, fmt::format("'{}'", *value),
        fmt::format("Member must have value greater than or equal to {}", min));
  } else if (*value > max) {
    AddViolation(
        name, fmt::format("'{}'", *value),
        fmt::format("Member must have value less than or equal to {}", max));
  }
}

void AwsInput::Pattern(std::string_view name, const std::string* value,
                       std::string_view pattern,
                       const std::function<bool(std::string_view)>& matches) {
  if (!value || matches(*value)) return;
  AddViolation(name, fmt::format("'{}'", *value),
               fmt::format("Member must satisfy regular expression pattern: {}",
                           pattern));
}

void AwsInput::Enum(std::string_view name, const std::string* value,
                    std::initializer_list<std::string_view> allowed) {
  if (!value) return;
  for (auto a : allowed) {
    if (*value == a) return;
  }
  AddViolation(name, fmt::format("'{}'", *value),
               fmt::format("Member must satisfy enum value set: [{}]",
                           fmt::join(allowed, ", ")));
}

std::optional<AwsError> AwsInput::Error() const {
  if (*serialization_) {
    // Coral's type-conversion errors spell the key "Message".
    AwsError e{"SerializationException", **serialization_, 400};
    e.capitalized_message_key = true;
    return e;
  }
  if (violations_->empty()) return std::nullopt;
  size_t n = violations_->size();
  std::string message =
      fmt::format("{} validation error{} detected: {}", n, n > 1 ? "s" : "",
                  fmt::join(*violations_, "; "));
  return AwsError{"ValidationException", std::move(message), 400};
}

}  // namespace riffle::http
