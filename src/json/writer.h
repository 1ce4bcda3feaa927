// A streaming JSON writer for hot response paths: appends compact JSON to a
// string without building a document. The caller keeps the structure
// balanced; misuse is a programming error. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "json/json.h"

namespace riffle::json {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  Writer& BeginObject() {
    Sep();
    out_->push_back('{');
    first_ = true;
    return *this;
  }
  Writer& EndObject() {
    out_->push_back('}');
    first_ = false;
    return *this;
  }
  Writer& BeginArray() {
    Sep();
    out_->push_back('[');
    first_ = true;
    return *this;
  }
  Writer& EndArray() {
    out_->push_back(']');
    first_ = false;
    return *this;
  }
  Writer& Key(std::string_view k) {
    Sep();
    AppendQuoted(k, out_);
    out_->push_back(':');
    after_key_ = true;
    return *this;
  }
  Writer& String(std::string_view s) {
    Sep();
    AppendQuoted(s, out_);
    return *this;
  }
  Writer& Int(int64_t v) {
    Sep();
    out_->append(std::to_string(v));
    return *this;
  }
  Writer& Uint(uint64_t v) {
    Sep();
    out_->append(std::to_string(v));
    return *this;
  }
  Writer& Double(double v);
  Writer& Bool(bool v) {
    Sep();
    out_->append(v ? "true" : "false");
    return *this;
  }
  Writer& Null() {
    Sep();
    out_->append("null");
    return *this;
  }
  // `bytes` as a base64 string value (AWS JSON blobs).
  Writer& Base64(std::string_view bytes);
  // Appends already-serialized JSON as one value.
  Writer& Raw(std::string_view json) {
    Sep();
    out_->append(json);
    return *this;
  }
  Writer& Value(const json::Value& v) {
    Sep();
    SerializeTo(v, out_);
    return *this;
  }

 private:
  void Sep() {
    if (after_key_) {
      after_key_ = false;
      first_ = false;
      return;
    }
    if (!first_) out_->push_back(',');
    first_ = false;
  }

  std::string* out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace riffle::json
