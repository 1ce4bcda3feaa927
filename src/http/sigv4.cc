#include "http/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "core/clock.h"
#include "http/client.h"

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

namespace riffle::http {
namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(digest, len);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
       &len);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// Decodes then strictly re-encodes, so that "a b", "a%20b" and "a+b"... sign
// the way AWS recomputes them ('+' stays a literal plus, as AWS reads it).
std::string Reencode(std::string_view s) {
  std::string decoded;
  if (!PercentDecode(s, &decoded)) decoded.assign(s);
  return UriEncode(decoded);
}

std::string CanonicalPath(std::string_view path) {
  if (path.empty()) return "/";
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string_view segment = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos
                                               : slash - start);
    // Non-S3 services sign the path encoded twice: once on the wire, once
    // more here.
    out.append(UriEncode(segment));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    params.emplace_back(
        Reencode(part.substr(0, eq)),
        eq == std::string_view::npos ? "" : Reencode(part.substr(eq + 1)));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(name).append("=").append(value);
  }
  return out;
}

}  // namespace

AwsCredentials AwsCredentials::FromEnvironment() {
  AwsCredentials c;
  c.access_key_id = EnvOr("AWS_ACCESS_KEY_ID", "riffle");
  c.secret_access_key = EnvOr("AWS_SECRET_ACCESS_KEY", "riffle");
  c.session_token = EnvOr("AWS_SESSION_TOKEN", "");
  c.region = EnvOr("AWS_REGION", EnvOr("AWS_DEFAULT_REGION", "us-east-1"));
  return c;
}

std::string AmzDate(std::time_t t) {
  return FormatUtc(static_cast<int64_t>(t) * 1000, "%Y%m%dT%H%M%SZ");
}

std::string SigV4Authorization(
    std::string_view method, std::string_view path, std::string_view query,
    const std::vector<Header>& headers, std::string_view body,
    std::string_view access_key, std::string_view secret_key,
    std::string_view region, std::string_view service,
    std::string_view amz_date) {
  std::vector<std::pair<std::string, std::string>> sorted;
  sorted.reserve(headers.size());
  for (const Header& h : headers) sorted.emplace_back(h.name, h.value);
  std::sort(sorted.begin(), sorted.end());
  std::string canonical_headers;
  std::string signed_headers;
  for (const auto& [name, value] : sorted) {
    canonical_headers.append(name).append(":").append(value).append("\n");
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers.append(name);
  }
  std::string canonical;
  canonical.append(method).append("\n");
  canonical.append(CanonicalPath(path)).append("\n");
  canonical.append(CanonicalQuery(query)).append("\n");
  canonical.append(canonical_headers).append("\n");
  canonical.append(signed_headers).append("\n");
  canonical.append(Sha256Hex(body));
  const std::string_view date = amz_date.substr(0, 8);
  std::string scope;
  scope.append(date).append("/").append(region).append("/");
  scope.append(service).append("/aws4_request");
  std::string to_sign = "AWS4-HMAC-SHA256\n";
  to_sign.append(amz_date).append("\n").append(scope).append("\n");
  to_sign.append(Sha256Hex(canonical));
  std::string key = Hmac("AWS4" + std::string(secret_key), date);
  key = Hmac(key, region);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  const std::string signature = Hmac(key, to_sign);
  std::string out = "AWS4-HMAC-SHA256 Credential=";
  out.append(access_key).append("/").append(scope);
  out.append(", SignedHeaders=").append(signed_headers);
  out.append(", Signature=")
      .append(Hex(reinterpret_cast<const unsigned char*>(signature.data()),
                  signature.size()));
  return out;
}

void SignRequest(std::string_view method, std::string_view target,
                 std::string_view body, const AwsCredentials& credentials,
                 std::string_view service, std::vector<Header>* headers) {
  const std::string amz_date = AmzDate(std::time(nullptr));
  headers->push_back({"x-amz-date", amz_date});
  if (!credentials.session_token.empty()) {
    headers->push_back({"x-amz-security-token", credentials.session_token});
  }
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  std::string auth = SigV4Authorization(
      method, path, query, *headers, body, credentials.access_key_id,
      credentials.secret_access_key, credentials.region, service, amz_date);
  headers->push_back({"authorization", std::move(auth)});
}

}  // namespace riffle::http
