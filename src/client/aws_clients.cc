#include "client/aws_clients.h"

#include <vector>

#include "client/aws_error.h"

namespace riffle::client {
namespace {

// The type and message of an AWS error body (both JSON protocols and
// Lambda's REST errors).
Status ErrorFromReply(const http::ClientResponse& r) {
  std::string type;
  std::string message;
  if (const std::string* h = r.FindHeader("x-amzn-errortype")) type = *h;
  if (auto j = json::Parse(r.body); j.ok() && j->is_object()) {
    for (const char* name : {"__type", "Type", "code"}) {
      const json::Value* t = j->Find(name);
      // Lambda's "Type" is "User"/"Service", not the error's type.
      if (t && t->is_string() && type.empty() && t->text() != "User" &&
          t->text() != "Service") {
        type = t->text();
      }
    }
    for (const char* name : {"message", "Message", "errorMessage"}) {
      const json::Value* m = j->Find(name);
      if (m && m->is_string()) {
        message = m->text();
        break;
      }
    }
  } else {
    message = r.body.substr(0, 200);
  }
  return StatusFromAwsError(r.status, type, message);
}

}  // namespace

Result<AwsEndpoint> ParseAwsEndpoint(std::string_view url) {
  AwsEndpoint e;
  ASSIGN_OR_RETURN(e.url, http::ParseUrl(url));
  return e;
}

AwsJsonClient::AwsJsonClient(AwsEndpoint endpoint, AwsJsonProtocol protocol)
    : endpoint_(std::move(endpoint)),
      service_(protocol.service),
      target_prefix_(protocol.target_prefix),
      content_type_("application/x-amz-json-" +
                    std::string(protocol.json_version)),
      pool_(endpoint_.url, http::ClientOptions{endpoint_.timeout}) {}

Result<std::string> AwsJsonClient::CallText(std::string_view op,
                                            std::string_view body) {
  std::vector<http::Header> headers = {
      {"content-type", content_type_},
      {"host", endpoint_.url.host_header},
      {"x-amz-target", target_prefix_ + "." + std::string(op)},
  };
  const std::string path =
      endpoint_.url.base_path.empty() ? "/" : endpoint_.url.base_path;
  http::SignRequest("POST", path, body, endpoint_.credentials, service_,
                    &headers);
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   pool_.Send("POST", "", headers, body));
  if (r.status != 200) return ErrorFromReply(r);
  return std::move(r.body);
}

Result<json::Value> AwsJsonClient::Call(std::string_view op,
                                        const json::Value& request) {
  ASSIGN_OR_RETURN(std::string text, CallText(op, json::Serialize(request)));
  auto parsed = json::Parse(text);
  if (!parsed.ok()) {
    return Unavailable(std::string(op) +
                       ": the reply is not JSON: " + parsed.status().message());
  }
  return std::move(parsed).value();
}

LambdaClient::LambdaClient(AwsEndpoint endpoint)
    : endpoint_(std::move(endpoint)),
      pool_(endpoint_.url, http::ClientOptions{endpoint_.timeout}) {}

Result<std::string> LambdaClient::CallText(
    std::string_view method, std::string_view target, std::string_view body,
    std::vector<http::Header>* reply_headers) {
  std::vector<http::Header> headers = {{"host", endpoint_.url.host_header}};
  if (!body.empty()) headers.push_back({"content-type", "application/json"});
  http::SignRequest(method, endpoint_.url.base_path + std::string(target), body,
                    endpoint_.credentials, "lambda", &headers);
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   pool_.Send(method, target, headers, body));
  if (r.status < 200 || r.status >= 300) return ErrorFromReply(r);
  if (reply_headers != nullptr) *reply_headers = std::move(r.headers);
  return std::move(r.body);
}

Result<json::Value> LambdaClient::Call(std::string_view method,
                                       std::string_view target,
                                       const json::Value& body) {
  ASSIGN_OR_RETURN(
      std::string text,
      CallText(method, target, body.is_null() ? "" : json::Serialize(body)));
  if (text.empty()) return json::Value::Null();
  auto parsed = json::Parse(text);
  if (!parsed.ok()) {
    return Unavailable(std::string(method) + " " + std::string(target) +
                       ": the reply is not JSON");
  }
  return std::move(parsed).value();
}

}  // namespace riffle::client
