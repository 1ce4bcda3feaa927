#include "app/cli_http_client.h"

#include <vector>

namespace riffle::app {

AwsJsonClient::AwsJsonClient(http::Url url, std::string service,
                             std::string target_prefix,
                             std::string json_version)
    : http_(std::move(url)),
      service_(std::move(service)),
      target_prefix_(std::move(target_prefix)),
      content_type_("application/x-amz-json-" + json_version),
      credentials_(http::AwsCredentials::FromEnvironment()) {}

Result<http::ClientResponse> AwsJsonClient::Call(std::string_view op,
                                                 std::string_view body) {
  std::vector<http::Header> headers = {
      {"content-type", content_type_},
      {"host", http_.url().host_header},
      {"x-amz-target", target_prefix_ + "." + std::string(op)},
  };
  const std::string path =
      http_.url().base_path.empty() ? std::string("/") : http_.url().base_path;
  http::SignRequest("POST", path, body, credentials_, service_, &headers);
  return http_.Send("POST", "", headers, body);
}

}  // namespace riffle::app
