// Parsing of the AWS Signature Version 4 Authorization header. riffle
// accepts any signature for now (verification comes later), but every
// request's credentials are parsed here, in one place.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

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

}  // namespace riffle::http
