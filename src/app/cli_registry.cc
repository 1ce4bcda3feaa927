#include "app/cli_registry.h"

#include <string_view>

#include "json/json.h"

namespace riffle::app {
namespace {

Result<std::shared_ptr<const avro::Schema>> ParseSchema(
    const std::string& text, const std::string& what) {
  auto schema = avro::Schema::Parse(text);
  if (!schema.ok()) {
    return InvalidArgument(what + ": " + schema.status().message());
  }
  return std::shared_ptr<const avro::Schema>(*schema);
}

}  // namespace

CliRegistryClient::CliRegistryClient(http::Url url) : http_(std::move(url)) {}

Result<std::string> CliRegistryClient::Call(std::string_view method,
                                            const std::string& target,
                                            std::string_view body) {
  std::vector<http::Header> headers = {
      {"accept", "application/vnd.schemaregistry.v1+json"}};
  if (!body.empty()) {
    headers.push_back(
        {"content-type", "application/vnd.schemaregistry.v1+json"});
  }
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   http_.Send(method, target, headers, body));
  if (r.status >= 200 && r.status < 300) return std::move(r.body);
  std::string message = r.body;
  if (auto j = json::Parse(r.body); j.ok()) {
    if (const json::Value* m = j->Find("message"); m && m->is_string()) {
      message = m->text();
    }
  }
  message = "registry " + std::string(method) + " " + target + ": HTTP " +
            std::to_string(r.status) + ": " + message;
  if (r.status == 404) return NotFound(message);
  if (r.status == 409 || r.status == 422) return InvalidArgument(message);
  return Unavailable(message);
}

Result<RegisteredSchema> CliRegistryClient::Latest(const std::string& subject) {
  ASSIGN_OR_RETURN(
      std::string body,
      Call("GET", "/subjects/" + http::UriEncode(subject) + "/versions/latest",
           ""));
  auto j = json::Parse(body);
  const json::Value* id = j.ok() ? j->Find("id") : nullptr;
  const json::Value* schema = j.ok() ? j->Find("schema") : nullptr;
  if (id == nullptr || !id->AsInt64() || schema == nullptr ||
      !schema->is_string()) {
    return Internal("registry: unexpected reply to the latest-version lookup");
  }
  RegisteredSchema out;
  out.id = static_cast<uint32_t>(*id->AsInt64());
  ASSIGN_OR_RETURN(out.schema,
                   ParseSchema(schema->text(), "subject " + subject));
  by_id_[out.id] = out.schema;
  return out;
}

Result<RegisteredSchema> CliRegistryClient::Register(
    const std::string& subject, const std::string& schema_text) {
  RegisteredSchema out;
  ASSIGN_OR_RETURN(out.schema, ParseSchema(schema_text, "schema"));
  json::Value request = json::Value::Object();
  request.Set("schema", json::Value::String(schema_text));
  ASSIGN_OR_RETURN(
      std::string body,
      Call("POST", "/subjects/" + http::UriEncode(subject) + "/versions",
           json::Serialize(request)));
  auto j = json::Parse(body);
  const json::Value* id = j.ok() ? j->Find("id") : nullptr;
  if (id == nullptr || !id->AsInt64()) {
    return Internal("registry: unexpected reply to the registration");
  }
  out.id = static_cast<uint32_t>(*id->AsInt64());
  by_id_[out.id] = out.schema;
  return out;
}

Result<std::shared_ptr<const avro::Schema>> CliRegistryClient::ById(
    uint32_t id) {
  if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  ASSIGN_OR_RETURN(std::string body,
                   Call("GET", "/schemas/ids/" + std::to_string(id), ""));
  auto j = json::Parse(body);
  const json::Value* schema = j.ok() ? j->Find("schema") : nullptr;
  if (schema == nullptr || !schema->is_string()) {
    return Internal("registry: unexpected reply to the schema lookup");
  }
  ASSIGN_OR_RETURN(auto parsed, ParseSchema(schema->text(),
                                            "schema id " + std::to_string(id)));
  by_id_[id] = parsed;
  return parsed;
}

}  // namespace riffle::app
