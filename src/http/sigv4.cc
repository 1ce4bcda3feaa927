#include "http/sigv4.h"

#include <cctype>

namespace riffle::http {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

bool IsDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

}  // namespace

Result<SigV4Credentials> ParseSigV4Authorization(std::string_view header) {
  std::string_view rest = header;
  while (!rest.empty() && IsSpace(rest.front())) rest.remove_prefix(1);
  size_t end = 0;
  while (end < rest.size() && !IsSpace(rest[end]) && rest[end] != ',') ++end;
  std::string_view algorithm = rest.substr(0, end);
  rest.remove_prefix(end);

  // Components are comma- and/or space-separated "Key=Value" pairs in any
  // order; AWS accepts "a=1, b=2", "a=1,b=2" and "a=1 b=2" alike.
  std::string_view credential, signed_headers, signature;
  bool have_credential = false, have_signed = false, have_signature = false;
  while (!rest.empty()) {
    if (IsSpace(rest.front()) || rest.front() == ',') {
      rest.remove_prefix(1);
      continue;
    }
    size_t n = 0;
    while (n < rest.size() && !IsSpace(rest[n]) && rest[n] != ',') ++n;
    std::string_view pair = rest.substr(0, n);
    rest.remove_prefix(n);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(
          "'" + std::string(pair) +
          "' not a valid key=value pair (missing equal-sign) "
          "in Authorization header: '" +
          std::string(header) + "'.");
    }
    std::string_view key = pair.substr(0, eq);
    std::string_view value = pair.substr(eq + 1);
    auto take = [&](std::string_view* slot, bool* seen) -> Status {
      if (*seen) {
        return InvalidArgument(
            "Authorization header has a duplicate '" + std::string(key) +
            "' parameter. Authorization=" + std::string(header));
      }
      *slot = value;
      *seen = true;
      return Status::Ok();
    };
    if (key == "Credential") {
      RETURN_IF_ERROR(take(&credential, &have_credential));
    } else if (key == "SignedHeaders") {
      RETURN_IF_ERROR(take(&signed_headers, &have_signed));
    } else if (key == "Signature") {
      RETURN_IF_ERROR(take(&signature, &have_signature));
    }
    // Unknown components are ignored, as AWS does.
  }

  // AWS reports every missing component at once, in this order.
  std::string missing;
  if (credential.empty()) {
    missing += "Authorization header requires 'Credential' parameter. ";
  }
  if (signature.empty()) {
    missing += "Authorization header requires 'Signature' parameter. ";
  }
  if (!have_signed) {
    missing += "Authorization header requires 'SignedHeaders' parameter. ";
  }
  if (!missing.empty()) {
    return InvalidArgument(missing + "Authorization=" + std::string(header));
  }
  if (algorithm != kAlgorithm) {
    return InvalidArgument("Unsupported AWS 'algorithm': '" +
                           std::string(algorithm) +
                           "' (only AWS4-HMAC-SHA256 for now). ");
  }

  std::string_view scope = credential;
  // Trailing slashes are ignored by AWS.
  while (!scope.empty() && scope.back() == '/') scope.remove_suffix(1);
  std::vector<std::string> parts = Split(scope, '/');
  if (parts.size() != 5) {
    return InvalidArgument(
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got '" +
        std::string(credential) + "'");
  }
  if (parts[0].empty() || parts[1].size() != 8 || !IsDigits(parts[1]) ||
      parts[2].empty() || parts[3].empty() || parts[4] != "aws4_request") {
    return InvalidArgument(
        "Credential is not scoped as "
        "keyid/YYYYMMDD/region/service/aws4_request: '" +
        std::string(credential) + "'");
  }
  if (!IsHex(signature)) {
    return InvalidArgument("Signature is not hexadecimal: '" +
                           std::string(signature) + "'");
  }

  SigV4Credentials out;
  out.access_key_id = std::move(parts[0]);
  out.date = std::move(parts[1]);
  out.region = std::move(parts[2]);
  out.service = std::move(parts[3]);
  if (!signed_headers.empty()) {
    out.signed_headers = Split(signed_headers, ';');
    for (auto& h : out.signed_headers) {
      for (char& c : h) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
  }
  out.signature = std::string(signature);
  return out;
}

}  // namespace riffle::http
