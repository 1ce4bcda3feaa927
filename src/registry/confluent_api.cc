#include "registry/confluent_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "core/logging.h"
#include "http/rest_router.h"
#include "json/json.h"
#include "json/writer.h"

namespace riffle::registry {
namespace {

using http::Request;
using http::Responder;
using http::Response;
using http::RouteMatch;
using json::Writer;

constexpr std::string_view kV1 = "application/vnd.schemaregistry.v1+json";
constexpr std::string_view kVnd = "application/vnd.schemaregistry+json";
constexpr std::string_view kJson = "application/json";

// ---- the one table: Status to Confluent's error reply ----

struct WireError {
  int http_status;
  int error_code;
  std::string message;
};

WireError ToWire(const Status& status) {
  if (std::optional<ErrorCode> code = ErrorCodeOf(status)) {
    int n = static_cast<int>(*code);
    int http = n == 409 ? 409 : n / 100;  // 40401 -> 404, 42201 -> 422, ...
    return {http, n, std::string(ErrorMessageOf(status))};
  }
  // Failures that are not the registry's own: storage, bugs, limits.
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return {422, 422, status.message()};
    case StatusCode::kNotFound:
      return {404, 404, status.message()};
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
      return {500, static_cast<int>(ErrorCode::kOperationTimeout),
              "Operation timed out: " + status.message()};
    default:
      RLOG_ERROR("registry: {}", status.ToString());
      return {500, static_cast<int>(ErrorCode::kStoreError),
              "Error in the backend datastore: " + status.message()};
  }
}

// ---- content negotiation ----

// The media type to answer with, from the Accept header (Confluent's
// producible types, the v1 type first); empty when none is acceptable.
std::string_view Negotiate(const Request& req) {
  const std::string* accept = req.FindHeader("accept");
  if (!accept || accept->empty()) return kV1;
  std::string_view best;
  double best_q = 0;
  std::string_view rest = *accept;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view type = item.substr(0, semi);
    while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    double q = 1;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      size_t qpos = params.find("q=");
      if (qpos != std::string_view::npos) {
        std::string qs(params.substr(qpos + 2));
        q = std::atof(qs.c_str());
      }
    }
    std::string lower(type);
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    std::string_view match;
    if (lower == kV1 || lower == kVnd || lower == kJson) {
      match = lower == kV1 ? kV1 : lower == kVnd ? kVnd : kJson;
    } else if (lower == "*/*" || lower == "application/*") {
      match = kV1;
    }
    if (!match.empty() && q > best_q) {
      best = match;
      best_q = q;
    }
  }
  return best;
}

// Request bodies Confluent accepts: its three JSON types and octet-stream.
bool AcceptableBodyType(const Request& req) {
  const std::string* ct = req.FindHeader("content-type");
  if (!ct || ct->empty()) return true;
  std::string lower = ct->substr(0, ct->find(';'));
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  while (!lower.empty() && lower.back() == ' ') lower.pop_back();
  return lower == kV1 || lower == kVnd || lower == kJson ||
         lower == "application/octet-stream";
}

Response Reply(std::string_view content_type, int status, std::string body) {
  Response r;
  r.status = status;
  r.SetHeader("content-type", std::string(content_type));
  r.body = std::move(body);
  return r;
}

Response ErrorReply(std::string_view content_type, int http_status,
                    int error_code, std::string_view message) {
  std::string body;
  Writer w(&body);
  w.BeginObject()
      .Key("error_code")
      .Int(error_code)
      .Key("message")
      .String(message)
      .EndObject();
  return Reply(content_type.empty() ? kV1 : content_type, http_status,
               std::move(body));
}

Response StatusReply(std::string_view content_type, const Status& status) {
  WireError e = ToWire(status);
  return ErrorReply(content_type, e.http_status, e.error_code, e.message);
}

// ---- shapes ----

void WriteReferences(Writer& w, const std::vector<Reference>& refs) {
  w.Key("references").BeginArray();
  for (const Reference& r : refs) {
    w.BeginObject()
        .Key("name")
        .String(r.name)
        .Key("subject")
        .String(r.subject)
        .Key("version")
        .Int(r.version)
        .EndObject();
  }
  w.EndArray();
}

// Confluent omits schemaType for AVRO and references when there are none.
void WriteSchemaFields(Writer& w, const StoredSchema& s) {
  if (s.type != SchemaType::kAvro) {
    w.Key("schemaType").String(SchemaTypeName(s.type));
  }
  if (!s.references.empty()) WriteReferences(w, s.references);
  w.Key("schema").String(s.schema);
}

std::string SubjectVersionBody(const VersionedSchema& vs) {
  std::string out;
  Writer w(&out);
  w.BeginObject();
  w.Key("subject").String(vs.version.subject);
  w.Key("version").Int(vs.version.version);
  w.Key("id").Int(vs.version.id);
  if (vs.schema->type != SchemaType::kAvro) {
    w.Key("schemaType").String(SchemaTypeName(vs.schema->type));
  }
  if (!vs.schema->references.empty()) {
    WriteReferences(w, vs.schema->references);
  }
  w.Key("schema").String(vs.schema->schema);
  if (vs.version.deleted) w.Key("deleted").Bool(true);
  w.EndObject();
  return out;
}

template <typename T>
std::string IntArray(const std::vector<T>& values) {
  std::string out;
  Writer w(&out);
  w.BeginArray();
  for (const auto& v : values) w.Int(v);
  w.EndArray();
  return out;
}

std::string StringArray(const std::vector<std::string>& values) {
  std::string out;
  Writer w(&out);
  w.BeginArray();
  for (const auto& v : values) w.String(v);
  w.EndArray();
  return out;
}

std::string OneField(std::string_view key, std::string_view value) {
  std::string out;
  Writer w(&out);
  w.BeginObject().Key(key).String(value).EndObject();
  return out;
}

// ---- request parsing ----

// Subjects are any text Confluent accepts, but not empty and without
// control characters (NUL separates keys on disk).
Status CheckSubject(const std::string& subject) {
  bool ok = !subject.empty();
  for (char c : subject) {
    if (static_cast<unsigned char>(c) < 0x20) ok = false;
  }
  if (ok) return Status::Ok();
  return Error(
      ErrorCode::kInvalidSubject,
      fmt::format("The specified subject '{}' is not valid.", subject));
}

// The body as a JSON object; Jackson's replies for bad JSON (400) and for a
// body of the wrong shape (422).
Result<json::Value> ParseBody(const Request& req, WireError* wire) {
  auto v = json::Parse(req.body);
  if (!v.ok()) {
    *wire = {
        400, 400,
        "Unexpected character in the request body: " + v.status().message()};
    return InvalidArgument("bad json");
  }
  if (!v->is_object()) {
    *wire = {422, 422, "Unrecognized request body: a JSON object is expected"};
    return InvalidArgument("not an object");
  }
  return std::move(v).value();
}

// A register/lookup/compatibility body: {"schema", "schemaType",
// "references", "id", "version"}. Unknown members are ignored (the
// Confluent-Accept-Unknown-Properties behaviour).
Status ReadSchemaBody(const json::Value& body, SchemaInput* input,
                      std::optional<int>* id, std::optional<int>* version) {
  const json::Value* schema = body.Find("schema");
  if (!schema || schema->is_null() ||
      (schema->is_string() && schema->text().empty())) {
    return Error(ErrorCode::kInvalidSchema, "Empty schema");
  }
  if (!schema->is_string()) {
    return Error(ErrorCode::kInvalidSchema,
                 "Invalid schema: \"schema\" must be a string");
  }
  input->schema = schema->text();
  if (const json::Value* t = body.Find("schemaType"); t && !t->is_null()) {
    auto type = t->is_string() ? ParseSchemaType(t->text()) : std::nullopt;
    if (!type) {
      return Error(ErrorCode::kInvalidSchema,
                   fmt::format("Invalid schema type {}",
                               t->is_string() ? t->text() : "(not a string)"));
    }
    input->type = *type;
  }
  if (const json::Value* refs = body.Find("references");
      refs && !refs->is_null()) {
    if (!refs->is_array()) {
      return Error(ErrorCode::kInvalidSchema,
                   "Invalid schema: \"references\" must be an array");
    }
    for (const json::Value& r : refs->items()) {
      Reference ref;
      const json::Value* name = r.Find("name");
      const json::Value* subject = r.Find("subject");
      const json::Value* ver = r.Find("version");
      if (!name || !name->is_string() || !subject || !subject->is_string() ||
          !ver || !ver->AsInt64()) {
        return Error(ErrorCode::kInvalidSchema,
                     "Invalid schema: a reference needs a name, a subject and "
                     "a version");
      }
      ref.name = name->text();
      ref.subject = subject->text();
      ref.version = static_cast<int>(*ver->AsInt64());
      input->references.push_back(std::move(ref));
    }
  }
  auto read_int = [](const json::Value* v) -> std::optional<int> {
    if (!v || v->is_null()) return std::nullopt;
    auto n = v->AsInt64();
    if (!n || *n < 0 || *n > INT32_MAX) return std::nullopt;
    return static_cast<int>(*n);
  };
  // Confluent treats id/version 0 and -1 as "not given".
  if (id) {
    *id = read_int(body.Find("id"));
    if (*id && **id <= 0) id->reset();
  }
  if (version) {
    *version = read_int(body.Find("version"));
    if (*version && **version <= 0) version->reset();
  }
  return Status::Ok();
}

// ---- the API ----

class ConfluentApi {
 public:
  explicit ConfluentApi(Service& service) : service_(service) {}

  http::Handler Build() {
    http::RestRouter router;
    Get(router, "/", [](const Call& c) { c.Ok("{}"); });
    Get(router, "/subjects", &ConfluentApi::ListSubjects);
    Post(router, "/subjects/{subject}", &ConfluentApi::LookupSchema);
    Delete(router, "/subjects/{subject}", &ConfluentApi::DeleteSubject);
    Get(router, "/subjects/{subject}/versions", &ConfluentApi::ListVersions);
    Post(router, "/subjects/{subject}/versions", &ConfluentApi::Register);
    Get(router, "/subjects/{subject}/versions/{version}",
        &ConfluentApi::GetVersion);
    Delete(router, "/subjects/{subject}/versions/{version}",
           &ConfluentApi::DeleteVersion);
    Get(router, "/subjects/{subject}/versions/{version}/schema",
        &ConfluentApi::GetVersionSchemaText);
    Get(router, "/subjects/{subject}/versions/{version}/referencedby",
        &ConfluentApi::ReferencedBy);
    Get(router, "/schemas", &ConfluentApi::ListSchemas);
    Get(router, "/schemas/types",
        [](const Call& c) { c.Ok(R"(["JSON","PROTOBUF","AVRO"])"); });
    Get(router, "/schemas/ids/{id}", &ConfluentApi::GetSchemaById);
    Get(router, "/schemas/ids/{id}/schema", &ConfluentApi::GetSchemaText);
    Get(router, "/schemas/ids/{id}/versions", &ConfluentApi::GetIdVersions);
    Get(router, "/schemas/ids/{id}/subjects", &ConfluentApi::GetIdSubjects);
    Get(router, "/config", &ConfluentApi::GetConfig);
    Put(router, "/config", &ConfluentApi::PutConfig);
    Delete(router, "/config", &ConfluentApi::DeleteConfig);
    Get(router, "/config/{subject}", &ConfluentApi::GetConfig);
    Put(router, "/config/{subject}", &ConfluentApi::PutConfig);
    Delete(router, "/config/{subject}", &ConfluentApi::DeleteConfig);
    Get(router, "/mode", &ConfluentApi::GetMode);
    Put(router, "/mode", &ConfluentApi::PutMode);
    Delete(router, "/mode", &ConfluentApi::DeleteMode);
    Get(router, "/mode/{subject}", &ConfluentApi::GetMode);
    Put(router, "/mode/{subject}", &ConfluentApi::PutMode);
    Delete(router, "/mode/{subject}", &ConfluentApi::DeleteMode);
    Post(router, "/compatibility/subjects/{subject}/versions/{version}",
         &ConfluentApi::TestCompatibility);
    Post(router, "/compatibility/subjects/{subject}/versions",
         &ConfluentApi::TestCompatibility);

    // Jersey's replies for unknown resources and methods, in Confluent's
    // error shape.
    router.SetNotFound([](Request req, Responder respond) {
      std::string_view type = Negotiate(req);
      respond(ErrorReply(type, 404, 404, "HTTP 404 Not Found"));
    });
    router.SetMethodNotAllowed(
        [](Request req, std::vector<std::string>, Responder respond) {
          std::string_view type = Negotiate(req);
          respond(ErrorReply(type, 405, 405, "HTTP 405 Method Not Allowed"));
        });
    return router.AsHandler();
  }

 private:
  // One request in flight: its parsed route, its negotiated type and its
  // responder. Copyable into async callbacks.
  struct Call {
    std::shared_ptr<Request> req;
    RouteMatch match;
    std::string_view type;
    Responder respond;

    const std::string& Param(std::string_view n) const {
      return match.Param(n);
    }
    bool Flag(std::string_view n) const { return match.QueryBool(n); }
    void Ok(std::string body) const {
      respond(Reply(type, 200, std::move(body)));
    }
    void Fail(const Status& s) const { respond(StatusReply(type, s)); }
    void Fail(const WireError& e) const {
      respond(ErrorReply(type, e.http_status, e.error_code, e.message));
    }
    // Parses the JSON body, or answers the error and returns nullopt.
    std::optional<json::Value> Body() const {
      WireError e;
      auto v = ParseBody(*req, &e);
      if (!v.ok()) {
        Fail(e);
        return std::nullopt;
      }
      return std::move(v).value();
    }
    // The subject parameter, or answers 42208 and returns nullptr.
    const std::string* Subject() const {
      const std::string& s = Param("subject");
      if (Status st = CheckSubject(s); !st.ok()) {
        Fail(st);
        return nullptr;
      }
      return &s;
    }
  };

  using Method = void (ConfluentApi::*)(const Call&);
  using Fn = std::function<void(const Call&)>;

  void Route(http::RestRouter& router, std::string method,
             std::string_view path, Fn fn, bool has_body) {
    router.Add(
        std::move(method), path,
        [fn, has_body](Request req, RouteMatch m, Responder respond) {
          Call c;
          c.type = Negotiate(req);
          if (c.type.empty()) {
            respond(ErrorReply(kV1, 406, 406, "HTTP 406 Not Acceptable"));
            return;
          }
          if (has_body && !AcceptableBodyType(req)) {
            respond(ErrorReply(c.type, 415, 415,
                               "HTTP 415 Unsupported Media Type"));
            return;
          }
          c.req = std::make_shared<Request>(std::move(req));
          c.match = std::move(m);
          c.respond = std::move(respond);
          fn(c);
        });
  }
  Fn Bind(Method m) {
    return [this, m](const Call& c) { (this->*m)(c); };
  }
  void Get(http::RestRouter& r, std::string_view p, Method m) {
    Route(r, "GET", p, Bind(m), false);
  }
  void Get(http::RestRouter& r, std::string_view p, Fn fn) {
    Route(r, "GET", p, std::move(fn), false);
  }
  void Post(http::RestRouter& r, std::string_view p, Method m) {
    Route(r, "POST", p, Bind(m), true);
  }
  void Put(http::RestRouter& r, std::string_view p, Method m) {
    Route(r, "PUT", p, Bind(m), true);
  }
  void Delete(http::RestRouter& r, std::string_view p, Method m) {
    Route(r, "DELETE", p, Bind(m), false);
  }

  // ---- subjects ----

  void ListSubjects(const Call& c) {
    c.Ok(StringArray(
        service_.ListSubjects(c.Flag("deleted"), c.Flag("deletedOnly"),
                              c.match.Query("subjectPrefix").value_or(""))));
  }

  void LookupSchema(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto body = c.Body();
    if (!body) return;
    SchemaInput input;
    if (Status s = ReadSchemaBody(*body, &input, nullptr, nullptr); !s.ok()) {
      return c.Fail(s);
    }
    input.normalize = c.Flag("normalize");
    auto found = service_.Lookup(*subject, input, c.Flag("deleted"));
    if (!found.ok()) return c.Fail(found.status());
    c.Ok(SubjectVersionBody(*found));
  }

  void DeleteSubject(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    service_.DeleteSubject(*subject, c.Flag("permanent"),
                           [c](Result<std::vector<int>> r) {
                             if (!r.ok()) return c.Fail(r.status());
                             c.Ok(IntArray(*r));
                           });
  }

  void ListVersions(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto versions = service_.ListVersions(*subject, c.Flag("deleted"),
                                          c.Flag("deletedOnly"));
    if (!versions.ok()) return c.Fail(versions.status());
    c.Ok(IntArray(*versions));
  }

  void Register(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto body = c.Body();
    if (!body) return;
    RegisterRequest request;
    request.subject = *subject;
    if (Status s = ReadSchemaBody(*body, &request.input, &request.id,
                                  &request.version);
        !s.ok()) {
      return c.Fail(s);
    }
    request.input.normalize = c.Flag("normalize");
    service_.Register(std::move(request), [c](Result<Service::Registered> r) {
      if (!r.ok()) return c.Fail(r.status());
      std::string out;
      Writer w(&out);
      w.BeginObject().Key("id").Int(r->id).EndObject();
      c.Ok(std::move(out));
    });
  }

  // ---- versions ----

  std::optional<VersionSpec> Version(const Call& c) {
    auto v = VersionSpec::Parse(c.Param("version"));
    if (!v.ok()) {
      c.Fail(v.status());
      return std::nullopt;
    }
    return *v;
  }

  void GetVersion(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto version = Version(c);
    if (!version) return;
    auto vs = service_.GetVersion(*subject, *version, c.Flag("deleted"));
    if (!vs.ok()) return c.Fail(vs.status());
    c.Ok(SubjectVersionBody(*vs));
  }

  void GetVersionSchemaText(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto version = Version(c);
    if (!version) return;
    auto vs = service_.GetVersion(*subject, *version, c.Flag("deleted"));
    if (!vs.ok()) return c.Fail(vs.status());
    c.Ok(vs->schema->schema);
  }

  void DeleteVersion(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto version = Version(c);
    if (!version) return;
    service_.DeleteVersion(*subject, *version, c.Flag("permanent"),
                           [c](Result<int> r) {
                             if (!r.ok()) return c.Fail(r.status());
                             c.Ok(std::to_string(*r));
                           });
  }

  void ReferencedBy(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    auto version = Version(c);
    if (!version) return;
    auto ids = service_.ReferencedBy(*subject, *version);
    if (!ids.ok()) return c.Fail(ids.status());
    c.Ok(IntArray(*ids));
  }

  // ---- schemas ----

  void ListSchemas(const Call& c) {
    auto all = service_.ListSchemas(c.match.Query("subjectPrefix").value_or(""),
                                    c.Flag("deleted"), c.Flag("latestOnly"));
    std::string out;
    Writer w(&out);
    w.BeginArray();
    for (const VersionedSchema& vs : all) {
      w.BeginObject();
      w.Key("subject").String(vs.version.subject);
      w.Key("version").Int(vs.version.version);
      w.Key("id").Int(vs.version.id);
      WriteSchemaFields(w, *vs.schema);
      w.EndObject();
    }
    w.EndArray();
    c.Ok(std::move(out));
  }

  std::optional<int> Id(const Call& c) {
    const std::string& text = c.Param("id");
    int id = 0;
    auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size()) {
      // JAX-RS answers a path parameter that is not an integer with 404.
      c.Fail(WireError{404, 404, "HTTP 404 Not Found"});
      return std::nullopt;
    }
    return id;
  }

  void GetSchemaById(const Call& c) {
    auto id = Id(c);
    if (!id) return;
    auto schema = service_.GetSchemaById(*id);
    if (!schema.ok()) return c.Fail(schema.status());
    std::string out;
    out.reserve((*schema)->schema.size() + 32);
    Writer w(&out);
    w.BeginObject();
    WriteSchemaFields(w, **schema);
    if (c.Flag("fetchMaxId")) w.Key("maxId").Int(service_.MaxId());
    w.EndObject();
    c.Ok(std::move(out));
  }

  void GetSchemaText(const Call& c) {
    auto id = Id(c);
    if (!id) return;
    auto schema = service_.GetSchemaById(*id);
    if (!schema.ok()) return c.Fail(schema.status());
    c.Ok((*schema)->schema);
  }

  void GetIdVersions(const Call& c) {
    auto id = Id(c);
    if (!id) return;
    auto versions = service_.VersionsOfId(*id, c.Flag("deleted"));
    if (!versions.ok()) return c.Fail(versions.status());
    std::string out;
    Writer w(&out);
    w.BeginArray();
    for (const SubjectVersion& sv : *versions) {
      w.BeginObject()
          .Key("subject")
          .String(sv.subject)
          .Key("version")
          .Int(sv.version)
          .EndObject();
    }
    w.EndArray();
    c.Ok(std::move(out));
  }

  void GetIdSubjects(const Call& c) {
    auto id = Id(c);
    if (!id) return;
    auto versions = service_.VersionsOfId(*id, c.Flag("deleted"));
    if (!versions.ok()) return c.Fail(versions.status());
    std::vector<std::string> subjects;
    for (const SubjectVersion& sv : *versions) {
      if (subjects.empty() || subjects.back() != sv.subject) {
        subjects.push_back(sv.subject);
      }
    }
    c.Ok(StringArray(subjects));
  }

  // ---- config ----

  // nullopt: the global resource (/config); else the subject's.
  std::optional<std::string> SubjectOrGlobal(const Call& c) {
    for (const auto& [k, v] : c.match.params) {
      if (k == "subject") return v;
    }
    return std::nullopt;
  }

  void GetConfig(const Call& c) {
    auto subject = SubjectOrGlobal(c);
    CompatibilityLevel level;
    if (subject) {
      if (Status s = CheckSubject(*subject); !s.ok()) return c.Fail(s);
      auto r =
          service_.SubjectCompatibility(*subject, c.Flag("defaultToGlobal"));
      if (!r.ok()) return c.Fail(r.status());
      level = *r;
    } else {
      level = service_.GlobalCompatibility();
    }
    c.Ok(OneField("compatibilityLevel", CompatibilityLevelName(level)));
  }

  void PutConfig(const Call& c) {
    auto subject = SubjectOrGlobal(c);
    if (subject) {
      if (Status s = CheckSubject(*subject); !s.ok()) return c.Fail(s);
    }
    auto body = c.Body();
    if (!body) return;
    // ConfigUpdateRequest's property is "compatibility"; Confluent also
    // reads "compatibilityLevel" (what GET answers).
    const json::Value* v = body->Find("compatibility");
    if (!v || v->is_null()) v = body->Find("compatibilityLevel");
    std::optional<CompatibilityLevel> level;
    if (v && v->is_string()) level = ParseCompatibilityLevel(v->text());
    if (!level) return c.Fail(InvalidCompatibilityLevel());
    service_.SetCompatibility(
        subject, *level, [c](Result<CompatibilityLevel> r) {
          if (!r.ok()) return c.Fail(r.status());
          c.Ok(OneField("compatibility", CompatibilityLevelName(*r)));
        });
  }

  void DeleteConfig(const Call& c) {
    auto subject = SubjectOrGlobal(c);
    if (subject) {
      if (Status s = CheckSubject(*subject); !s.ok()) return c.Fail(s);
    }
    service_.DeleteCompatibility(subject, [c](Result<CompatibilityLevel> r) {
      if (!r.ok()) return c.Fail(r.status());
      c.Ok(OneField("compatibilityLevel", CompatibilityLevelName(*r)));
    });
  }

  // ---- mode ----

  void GetMode(const Call& c) {
    auto subject = SubjectOrGlobal(c);
    Mode mode;
    if (subject) {
      if (Status s = CheckSubject(*subject); !s.ok()) return c.Fail(s);
      auto r = service_.SubjectMode(*subject, c.Flag("defaultToGlobal"));
      if (!r.ok()) return c.Fail(r.status());
      mode = *r;
    } else {
      mode = service_.GlobalMode();
    }
    c.Ok(OneField("mode", ModeName(mode)));
  }

  void PutMode(const Call& c) {
    auto subject = SubjectOrGlobal(c);
    if (subject) {
      if (Status s = CheckSubject(*subject); !s.ok()) return c.Fail(s);
    }
    auto body = c.Body();
    if (!body) return;
    const json::Value* v = body->Find("mode");
    std::optional<Mode> mode;
    if (v && v->is_string()) mode = ParseMode(v->text());
    if (!mode) return c.Fail(InvalidMode());
    service_.SetMode(subject, *mode, c.Flag("force"), [c](Result<Mode> r) {
      if (!r.ok()) return c.Fail(r.status());
      c.Ok(OneField("mode", ModeName(*r)));
    });
  }

  void DeleteMode(const Call& c) {
    auto subject = SubjectOrGlobal(c);
    if (subject) {
      if (Status s = CheckSubject(*subject); !s.ok()) return c.Fail(s);
    }
    service_.DeleteMode(subject, [c](Result<Mode> r) {
      if (!r.ok()) return c.Fail(r.status());
      c.Ok(OneField("mode", ModeName(*r)));
    });
  }

  // ---- compatibility ----

  void TestCompatibility(const Call& c) {
    const std::string* subject = c.Subject();
    if (!subject) return;
    std::optional<VersionSpec> version;
    if (!c.Param("version").empty()) {
      version = Version(c);
      if (!version) return;
    }
    auto body = c.Body();
    if (!body) return;
    SchemaInput input;
    if (Status s = ReadSchemaBody(*body, &input, nullptr, nullptr); !s.ok()) {
      return c.Fail(s);
    }
    input.normalize = c.Flag("normalize");
    auto report = service_.TestCompatibility(*subject, version, input);
    if (!report.ok()) return c.Fail(report.status());
    std::string out;
    Writer w(&out);
    w.BeginObject().Key("is_compatible").Bool(report->compatible);
    if (c.Flag("verbose")) {
      w.Key("messages").BeginArray();
      for (const std::string& m : report->messages) w.String(m);
      w.EndArray();
    }
    w.EndObject();
    c.Ok(std::move(out));
  }

  Service& service_;
};

}  // namespace

http::Handler MakeConfluentApi(Service& service) {
  auto api = std::make_shared<ConfluentApi>(service);
  http::Handler inner = api->Build();
  // The handler keeps the adapter alive.
  return [api, inner](Request req, Responder respond) {
    inner(std::move(req), std::move(respond));
  };
}

}  // namespace riffle::registry
