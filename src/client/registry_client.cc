#include "client/registry_client.h"

#include <string_view>

#include "json/json.h"

namespace riffle::client {
namespace {

constexpr std::string_view kContentType =
    "application/vnd.schemaregistry.v1+json";

Result<std::shared_ptr<const avro::Schema>> ParseAvro(const std::string& text,
                                                      const std::string& what) {
  auto schema = avro::Schema::Parse(text);
  if (!schema.ok()) {
    return FailedPrecondition(
        what + " is not a usable Avro schema: " + schema.status().message());
  }
  return std::shared_ptr<const avro::Schema>(*schema);
}

std::string SubjectPath(const std::string& subject) {
  return "/subjects/" + http::UriEncode(subject);
}

std::string ConfigPath(const std::string& subject) {
  return subject.empty() ? "/config" : "/config/" + http::UriEncode(subject);
}

}  // namespace

RegistryClient::RegistryClient(http::Url url, http::ClientOptions options)
    : pool_(std::move(url), options) {}

Result<std::string> RegistryClient::Call(std::string_view method,
                                         const std::string& target,
                                         std::string_view body) {
  std::vector<http::Header> headers = {{"accept", std::string(kContentType)}};
  if (!body.empty()) {
    headers.push_back({"content-type", std::string(kContentType)});
  }
  ASSIGN_OR_RETURN(http::ClientResponse r,
                   pool_.Send(method, target, headers, body));
  if (r.status >= 200 && r.status < 300) return std::move(r.body);
  std::string message = r.body.substr(0, 300);
  int64_t error_code = r.status;
  if (auto j = json::Parse(r.body); j.ok() && j->is_object()) {
    if (const json::Value* m = j->Find("message"); m && m->is_string()) {
      message = m->text();
    }
    if (const json::Value* c = j->Find("error_code"); c && c->AsInt64()) {
      error_code = *c->AsInt64();
    }
  }
  message = "registry " + std::to_string(error_code) + ": " + message + " (" +
            std::string(method) + " " + target + ")";
  if (r.status == 404) return NotFound(message);
  if (r.status == 409) return FailedPrecondition(message);
  if (r.status == 422 || r.status == 400) return InvalidArgument(message);
  if (r.status == 429) return ResourceExhausted(message);
  return Unavailable(message);
}

void RegistryClient::Remember(uint32_t id,
                              std::shared_ptr<const avro::Schema> schema) {
  std::lock_guard lock(mu_);
  by_id_.emplace(id, std::move(schema));
}

Result<RegisteredSchema> RegistryClient::ParseReply(
    const std::string& body, const std::string& subject,
    std::shared_ptr<const avro::Schema> known, const std::string& what) {
  auto j = json::Parse(body);
  const json::Value* id = j.ok() ? j->Find("id") : nullptr;
  if (id == nullptr || !id->AsInt64() || *id->AsInt64() < 0) {
    return Unavailable("registry: unexpected reply to " + what);
  }
  RegisteredSchema out;
  out.id = static_cast<uint32_t>(*id->AsInt64());
  out.subject = subject;
  if (const json::Value* v = j->Find("version"); v && v->AsInt64()) {
    out.version = static_cast<int>(*v->AsInt64());
  }
  if (known == nullptr) {
    const json::Value* text = j->Find("schema");
    if (text == nullptr || !text->is_string()) {
      return Unavailable("registry: no schema in the reply to " + what);
    }
    ASSIGN_OR_RETURN(known, ParseAvro(text->text(), "subject " + subject));
  }
  out.schema = std::move(known);
  Remember(out.id, out.schema);
  return out;
}

Result<RegisteredSchema> RegistryClient::Register(
    const std::string& subject, const std::string& schema_text) {
  ASSIGN_OR_RETURN(auto schema, ParseAvro(schema_text, "the schema"));
  json::Value request = json::Value::Object();
  request.Set("schema", json::Value::String(schema_text));
  ASSIGN_OR_RETURN(std::string body,
                   Call("POST", SubjectPath(subject) + "/versions",
                        json::Serialize(request)));
  return ParseReply(body, subject, std::move(schema), "the registration");
}

Result<RegisteredSchema> RegistryClient::Lookup(
    const std::string& subject, const std::string& schema_text) {
  ASSIGN_OR_RETURN(auto schema, ParseAvro(schema_text, "the schema"));
  json::Value request = json::Value::Object();
  request.Set("schema", json::Value::String(schema_text));
  ASSIGN_OR_RETURN(std::string body, Call("POST", SubjectPath(subject),
                                          json::Serialize(request)));
  return ParseReply(body, subject, std::move(schema), "the lookup");
}

Result<RegisteredSchema> RegistryClient::Latest(const std::string& subject) {
  ASSIGN_OR_RETURN(std::string body,
                   Call("GET", SubjectPath(subject) + "/versions/latest", ""));
  return ParseReply(body, subject, nullptr, "the latest-version lookup");
}

Result<std::shared_ptr<const avro::Schema>> RegistryClient::GetById(
    uint32_t id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  }
  // Two threads may fetch one id at once; both get the same answer, and the
  // first one cached wins. Cheaper than holding the lock over a request.
  ASSIGN_OR_RETURN(std::string body,
                   Call("GET", "/schemas/ids/" + std::to_string(id), ""));
  auto j = json::Parse(body);
  const json::Value* schema = j.ok() ? j->Find("schema") : nullptr;
  if (schema == nullptr || !schema->is_string()) {
    return Unavailable("registry: unexpected reply to the schema lookup");
  }
  if (const json::Value* type = j->Find("schemaType");
      type && type->is_string() && type->text() != "AVRO") {
    return FailedPrecondition("schema id " + std::to_string(id) + " is " +
                              type->text() + ", not Avro");
  }
  ASSIGN_OR_RETURN(auto parsed, ParseAvro(schema->text(),
                                          "schema id " + std::to_string(id)));
  Remember(id, parsed);
  std::lock_guard lock(mu_);
  return by_id_.at(id);
}

Result<std::vector<std::string>> RegistryClient::TestCompatibility(
    const std::string& subject, const std::string& schema_text) {
  ASSIGN_OR_RETURN(auto schema, ParseAvro(schema_text, "the schema"));
  json::Value request = json::Value::Object();
  request.Set("schema", json::Value::String(schema_text));
  auto body =
      Call("POST",
           "/compatibility" + SubjectPath(subject) + "/versions?verbose=true",
           json::Serialize(request));
  // 40401: no version to be incompatible with.
  if (!body.ok() && body.status().code() == StatusCode::kNotFound)
    return std::vector<std::string>();
  if (!body.ok()) return body.status();
  auto j = json::Parse(*body);
  const json::Value* ok = j.ok() ? j->Find("is_compatible") : nullptr;
  if (ok == nullptr || !ok->is_bool()) {
    return Unavailable("registry: unexpected reply to the compatibility test");
  }
  std::vector<std::string> reasons;
  if (ok->bool_value()) return reasons;
  if (const json::Value* m = j->Find("messages"); m && m->is_array()) {
    for (const json::Value& r : m->items())
      if (r.is_string()) reasons.push_back(r.text());
  }
  if (reasons.empty()) reasons.push_back("incompatible");
  return reasons;
}

Result<std::string> RegistryClient::GetCompatibility(
    const std::string& subject) {
  ASSIGN_OR_RETURN(std::string body, Call("GET", ConfigPath(subject), ""));
  auto j = json::Parse(body);
  const json::Value* level = j.ok() ? j->Find("compatibilityLevel") : nullptr;
  if (level == nullptr || !level->is_string()) {
    return Unavailable("registry: unexpected reply to the config lookup");
  }
  return level->text();
}

Status RegistryClient::SetCompatibility(const std::string& subject,
                                        const std::string& level) {
  json::Value request = json::Value::Object();
  request.Set("compatibility", json::Value::String(level));
  return Call("PUT", ConfigPath(subject), json::Serialize(request)).status();
}

}  // namespace riffle::client
