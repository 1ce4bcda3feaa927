#include "http/message.h"

#include <cctype>

namespace riffle::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool EqualsLower(std::string_view lower, std::string_view s) {
  if (lower.size() != s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (lower[i] !=
        static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])))) {
      return false;
    }
  }
  return true;
}

}  // namespace

const std::string* Request::FindHeader(std::string_view lower_name) const {
  for (const Header& h : headers) {
    if (h.name == lower_name) return &h.value;
  }
  return nullptr;
}

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

Response& Response::SetHeader(std::string name, std::string value) {
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (Header& h : headers) {
    if (EqualsLower(name, h.name)) {
      h.value = std::move(value);
      return *this;
    }
  }
  headers.push_back(Header{std::move(name), std::move(value)});
  return *this;
}

bool PercentDecode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = HexValue(s[i + 1]);
    int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(
    std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    std::string n, v;
    // A bad escape keeps the raw text: a lenient reading serves clients
    // better than dropping the parameter.
    if (!PercentDecode(name, &n)) n.assign(name);
    if (!PercentDecode(value, &v)) v.assign(value);
    out.emplace_back(std::move(n), std::move(v));
  }
  return out;
}

}  // namespace riffle::http
