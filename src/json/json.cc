#include "json/json.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/base64.h"
#include "json/writer.h"

namespace riffle::json {

Value Value::Bool(bool b) {
  Value v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}
Value Value::NumberText(std::string text) {
  Value v;
  v.type_ = Type::kNumber;
  v.text_ = std::move(text);
  return v;
}
Value Value::Number(int64_t n) { return NumberText(std::to_string(n)); }
Value Value::Number(uint64_t n) { return NumberText(std::to_string(n)); }
Value Value::Number(double d) {
  if (!std::isfinite(d)) return Null();
  return NumberText(fmt::format("{}", d));
}
Value Value::String(std::string s) {
  Value v;
  v.type_ = Type::kString;
  v.text_ = std::move(s);
  return v;
}
Value Value::Array() {
  Value v;
  v.type_ = Type::kArray;
  return v;
}
Value Value::Object() {
  Value v;
  v.type_ = Type::kObject;
  return v;
}

std::optional<int64_t> Value::AsInt64() const {
  if (type_ != Type::kNumber) return std::nullopt;
  if (text_.find_first_of(".eE") != std::string::npos) {
    auto d = AsDouble();
    if (!d || std::floor(*d) != *d || std::fabs(*d) > 9.2e18)
      return std::nullopt;
    return static_cast<int64_t>(*d);
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text_.c_str(), &end, 10);
  if (errno == ERANGE || end != text_.c_str() + text_.size())
    return std::nullopt;
  return v;
}

std::optional<double> Value::AsDouble() const {
  if (type_ != Type::kNumber) return std::nullopt;
  return std::strtod(text_.c_str(), nullptr);
}

const Value* Value::Find(std::string_view key) const {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}
Value* Value::Find(std::string_view key) {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

Value& Value::Push(Value v) {
  items_.push_back(std::move(v));
  return *this;
}
Value& Value::Set(std::string key, Value v) {
  if (Value* existing = Find(key)) {
    *existing = std::move(v);
  } else {
    members_.emplace_back(std::move(key), std::move(v));
  }
  return *this;
}

namespace {

// Characters that end a run of plain string bytes: the quote, the
// backslash and the control characters. One table lookup per byte keeps
// the hot loops of parsing and quoting short.
constexpr std::array<bool, 256> MakeSpecial() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = true;
  t['\\'] = true;
  return t;
}
constexpr std::array<bool, 256> kSpecial = MakeSpecial();

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options)
      : p_(text.data()),
        begin_(text.data()),
        end_(text.data() + text.size()),
        options_(options) {}

  Result<Value> ParseDocument() {
    Value v;
    RETURN_IF_ERROR(ParseValue(&v, 0));
    SkipWs();
    if (p_ != end_) return Error("unexpected data after the JSON value");
    return v;
  }

 private:
  Status Error(std::string_view what) {
    return InvalidArgument(
        fmt::format("{} at offset {}", what, static_cast<size_t>(p_ - begin_)));
  }

  void SkipWs() {
    while (p_ < end_ &&
           (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r'))
      ++p_;
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

  Status ParseValue(Value* out, int depth) {
    if (depth > options_.max_depth) return Error("nesting too deep");
    SkipWs();
    if (p_ >= end_) return Error("unexpected end of input");
    switch (*p_) {
      case '{':
        return ParseObject(out, depth);
      case '[':
        return ParseArray(out, depth);
      case '"': {
        std::string s;
        RETURN_IF_ERROR(ParseString(&s));
        *out = Value::String(std::move(s));
        return Status::Ok();
      }
      case 't':
        if (!Literal("true")) return Error("invalid literal");
        *out = Value::Bool(true);
        return Status::Ok();
      case 'f':
        if (!Literal("false")) return Error("invalid literal");
        *out = Value::Bool(false);
        return Status::Ok();
      case 'n':
        if (!Literal("null")) return Error("invalid literal");
        *out = Value::Null();
        return Status::Ok();
      default:
        return ParseNumber(out);
    }
  }

  Status ParseObject(Value* out, int depth) {
    ++p_;
    *out = Value::Object();
    SkipWs();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return Status::Ok();
    }
    while (true) {
      SkipWs();
      if (p_ >= end_ || *p_ != '"') return Error("expected a member name");
      std::string key;
      RETURN_IF_ERROR(ParseString(&key));
      SkipWs();
      if (p_ >= end_ || *p_ != ':') return Error("expected ':'");
      ++p_;
      Value v;
      RETURN_IF_ERROR(ParseValue(&v, depth + 1));
      // Appended without a duplicate check (which would make hostile input
      // quadratic); Find searches from the back, so the last one wins, as
      // in most JSON readers.
      out->members().emplace_back(std::move(key), std::move(v));
      SkipWs();
      if (p_ >= end_) return Error("unexpected end of input in object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return Status::Ok();
      }
      return Error("expected ',' or '}'");
    }
  }

  Status ParseArray(Value* out, int depth) {
    ++p_;
    *out = Value::Array();
    SkipWs();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return Status::Ok();
    }
    while (true) {
      Value v;
      RETURN_IF_ERROR(ParseValue(&v, depth + 1));
      out->Push(std::move(v));
      SkipWs();
      if (p_ >= end_) return Error("unexpected end of input in array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return Status::Ok();
      }
      return Error("expected ',' or ']'");
    }
  }

  Status ParseNumber(Value* out) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_ || !IsDigit(*p_)) return Error("invalid value");
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ >= end_ || !IsDigit(*p_)) return Error("invalid number");
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !IsDigit(*p_)) return Error("invalid number");
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    *out = Value::NumberText(std::string(start, p_));
    return Status::Ok();
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool ReadHex4(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = HexValue(p_[i]);
      if (h < 0) return false;
      v = v << 4 | h;
    }
    p_ += 4;
    *out = v;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | cp >> 6));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | cp >> 12));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | cp >> 18));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  Status ParseString(std::string* out) {
    ++p_;  // opening quote
    while (true) {
      const char* run = p_;
      while (p_ < end_ && !kSpecial[static_cast<unsigned char>(*p_)]) ++p_;
      out->append(run, p_);
      if (p_ >= end_) return Error("unterminated string");
      char c = *p_;
      if (c == '"') {
        ++p_;
        return Status::Ok();
      }
      if (c != '\\') return Error("control character in string");
      ++p_;
      if (p_ >= end_) return Error("unterminated string");
      char e = *p_++;
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!ReadHex4(&cp)) return Error("invalid \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low;
            if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
              p_ += 2;
              if (!ReadHex4(&low) || low < 0xDC00 || low > 0xDFFF)
                return Error("invalid surrogate pair");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              return Error("lone surrogate");
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Error("lone surrogate");
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Error("invalid escape");
      }
    }
  }

  const char* p_;
  const char* begin_;
  const char* end_;
  const ParseOptions& options_;
};

}  // namespace

Result<Value> Parse(std::string_view text, const ParseOptions& options) {
  return Parser(text, options).ParseDocument();
}

void AppendQuoted(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (!kSpecial[c]) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

void SerializeTo(const Value& v, std::string* out) {
  switch (v.type()) {
    case Value::Type::kNull:
      out->append("null");
      break;
    case Value::Type::kBool:
      out->append(v.bool_value() ? "true" : "false");
      break;
    case Value::Type::kNumber:
      out->append(v.text());
      break;
    case Value::Type::kString:
      AppendQuoted(v.text(), out);
      break;
    case Value::Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : v.items()) {
        if (!first) out->push_back(',');
        first = false;
        SerializeTo(item, out);
      }
      out->push_back(']');
      break;
    }
    case Value::Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const auto& [k, item] : v.members()) {
        if (!first) out->push_back(',');
        first = false;
        AppendQuoted(k, out);
        out->push_back(':');
        SerializeTo(item, out);
      }
      out->push_back('}');
      break;
    }
  }
}

std::string Serialize(const Value& value) {
  std::string out;
  SerializeTo(value, &out);
  return out;
}

Writer& Writer::Base64(std::string_view bytes) {
  Sep();
  out_->push_back('"');
  base64::EncodeAppend(bytes, out_);
  out_->push_back('"');
  return *this;
}

Writer& Writer::Double(double v) {
  Sep();
  if (std::isfinite(v)) {
    out_->append(fmt::format("{}", v));
  } else {
    out_->append("null");
  }
  return *this;
}

}  // namespace riffle::json
