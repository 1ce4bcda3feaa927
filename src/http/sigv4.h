// AWS Signature Version 4: parsing of the Authorization header on the
// server side (riffle accepts any signature for now; verification comes
// later, but every request's credentials are parsed here, in one place),
// and signing on the client side (http::Client callers in src/client and
// the command-line tools).
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/message.h"

namespace riffle::http {

struct SigV4Credentials {
  std::string access_key_id;
  std::string date;     // YYYYMMDD from the credential scope
  std::string region;   // e.g. us-east-1
  std::string service;  // e.g. kinesis
  std::vector<std::string> signed_headers;
  std::string signature;  // hex
};

// Parses "AWS4-HMAC-SHA256
// Credential=AKID/20260101/us-east-1/kinesis/aws4_request,
// SignedHeaders=host;x-amz-date, Signature=abcd". InvalidArgument when the
// header is not a well-formed SigV4 header.
Result<SigV4Credentials> ParseSigV4Authorization(std::string_view header);

// What a client signs with. Plain data.
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" unless temporary credentials
  std::string region;

  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
  // AWS_REGION (else AWS_DEFAULT_REGION, else us-east-1). Keys default to
  // "riffle": riffle accepts any credentials, so the tools work with none
  // configured, as a local development server should; AWS itself needs
  // real ones.
  static AwsCredentials FromEnvironment();
};

// "YYYYMMDDTHHMMSSZ" for `t`, as x-amz-date wants it.
std::string AmzDate(std::time_t t);

// The SigV4 Authorization header value for one request.
// `path` and `query` are as sent on the wire (percent-encoded, query
// without '?'); they are canonicalized here (path segments encoded once
// more and the query sorted, as AWS does for every service but S3).
// `headers` holds every header to sign, names lower case, including host
// and x-amz-date; `amz_date` is "YYYYMMDDTHHMMSSZ".
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
std::string SigV4Authorization(
    std::string_view method, std::string_view path, std::string_view query,
    const std::vector<Header>& headers, std::string_view body,
    std::string_view access_key, std::string_view secret_key,
    std::string_view region, std::string_view service,
    std::string_view amz_date);

// Signs a request to `service` now: adds x-amz-date, x-amz-security-token
// (with a session token) and authorization to `headers`, which must
// already hold host and every other header to sign. `target` is the path
// and query as sent.
void SignRequest(std::string_view method, std::string_view target,
                 std::string_view body, const AwsCredentials& credentials,
                 std::string_view service, std::vector<Header>* headers);

}  // namespace riffle::http
