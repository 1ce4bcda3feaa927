#include "gateway/read_api.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "core/base64.h"
#include "core/clock.h"
#include "core/logging.h"
#include "gateway/http_api_event.h"
#include "gateway/plain_json.h"
#include "http/rest_router.h"
#include "json/writer.h"
#include "tables/expressions.h"

namespace riffle::gateway {

constexpr std::string_view kOpenApiPath = "/openapi.json";

struct ReadApi::State {
  Config config;
  http::RestRouter router;
  std::string api_id;  // requestContext.apiId of function routes
  // The $default route (in config.routes), or null: serves what the
  // router matches to no route.
  const Route* default_route = nullptr;
};

namespace {

using tables::AttributeType;
using tables::AttributeValue;
using tables::Item;

// The one place that builds error replies.
http::Response Error(int status, std::string_view code,
                     std::string_view message) {
  http::Response r;
  r.status = status;
  r.SetHeader("content-type", "application/json");
  json::Writer w(&r.body);
  w.BeginObject().Key("code").String(code).Key("message").String(message);
  w.EndObject();
  return r;
}

// Status from the tables client to a reply. A missing table is the
// deployment's fault, not the caller's: 503 rather than 404, which would
// read as "no such item".
http::Response ErrorFromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return Error(400, "BadRequest", s.message());
    case StatusCode::kNotFound:
      return Error(503, "TableUnavailable", s.message());
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
      return Error(503, "Unavailable", s.message());
    default:
      RLOG_ERROR("read API: {}", s.ToString());
      return Error(500, "InternalError", "internal error");
  }
}

std::string ETagOf(std::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(),
         digest);
  // Hex by hand: fmt::format per byte was 2-3% of a GetItem route's CPU.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag(34, '"');
  for (int i = 0; i < 16; ++i) {
    tag[1 + 2 * i] = kHex[digest[i] >> 4];
    tag[2 + 2 * i] = kHex[digest[i] & 0xf];
  }
  return tag;
}

// RFC 9110 section 13.1.2: a list of entity tags or "*", compared weakly.
bool NoneMatch(const std::string* header, const std::string& etag) {
  if (!header) return false;
  std::string_view h = *header;
  while (!h.empty()) {
    size_t comma = h.find(',');
    std::string_view one = h.substr(0, comma);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one[0])))
      one.remove_prefix(1);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one.back())))
      one.remove_suffix(1);
    if (one == "*") return true;
    if (one.substr(0, 2) == "W/") one.remove_prefix(2);
    if (one == etag) return true;
    if (comma == std::string_view::npos) break;
    h.remove_prefix(comma + 1);
  }
  return false;
}

// A 200 with a JSON body, or 304 when the client holds it already.
http::Response JsonOk(const http::Request& request, std::string body) {
  http::Response r;
  std::string etag = ETagOf(body);
  r.SetHeader("etag", etag);
  // Clients may keep a copy but must revalidate: items change.
  r.SetHeader("cache-control", "no-cache");
  if (NoneMatch(request.FindHeader("if-none-match"), etag)) {
    r.status = 304;
    return r;
  }
  r.SetHeader("content-type", "application/json");
  r.body = std::move(body);
  return r;
}

// A path or query parameter as a key attribute of `type`.
Result<AttributeValue> KeyValue(std::string_view what, const std::string& text,
                                AttributeType type) {
  if (text.empty()) {
    return InvalidArgument(fmt::format("{} must not be empty", what));
  }
  switch (type) {
    case AttributeType::kN: {
      auto n = tables::Number::Parse(text);
      if (!n.ok()) {
        return InvalidArgument(fmt::format("{} must be a number", what));
      }
      return AttributeValue::N(*n);
    }
    case AttributeType::kB: {
      auto bytes = base64::Decode(text);
      if (!bytes)
        return InvalidArgument(fmt::format("{} must be base64", what));
      return AttributeValue::B(std::move(*bytes));
    }
    default:
      return AttributeValue::S(text);
  }
}

bool IsCorsAllowed(const Cors& cors, const std::string& origin) {
  for (const std::string& o : cors.allowed_origins) {
    if (o == "*" || o == origin) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::find(v.begin(), v.begin() + i, v[i]) != v.begin() + i) continue;
    if (!out.empty()) out += ", ";
    out += v[i];
  }
  return out;
}

// What an ANY route or the $default route serves, for Allow headers.
const std::vector<std::string>& AnyMethods() {
  static const std::vector<std::string> kMethods = {
      "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  return kMethods;
}

// Lambda's limit on a synchronous invocation's request payload
// (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); the
// Lambda API's Invoke refuses the same (functions/lambda_api.cc).
constexpr size_t kMaxEventBytes = 6 * 1024 * 1024;

// The answer to a CORS preflight (OPTIONS) on a path serving `allow`.
http::Response Preflight(const Cors& cors, const http::Request& request,
                         const std::string& allow) {
  http::Response r;
  r.status = 204;
  r.SetHeader("allow", allow);
  const std::string* origin = request.FindHeader("origin");
  if (origin && IsCorsAllowed(cors, *origin)) {
    r.SetHeader("access-control-allow-methods", allow);
    r.SetHeader("access-control-allow-headers", Join(cors.allowed_headers));
    r.SetHeader("access-control-max-age", std::to_string(cors.max_age_seconds));
  }
  return r;
}

// Adds the CORS response headers for an allowed Origin.
void AddCors(const Cors& cors, const std::string* origin, http::Response& r) {
  if (!origin || !IsCorsAllowed(cors, *origin)) return;
  bool any = std::find(cors.allowed_origins.begin(), cors.allowed_origins.end(),
                       "*") != cors.allowed_origins.end();
  r.SetHeader("access-control-allow-origin", any ? "*" : *origin);
  if (!any) r.SetHeader("vary", "Origin");
  r.SetHeader("access-control-expose-headers", "ETag");
}

std::vector<std::string> AllowedQuery(const Route& route) {
  if (route.kind != RouteKind::kQuery) return {};
  std::vector<std::string> q = {"limit", "cursor", "order"};
  for (const std::string* p :
       {&route.sort_key.from, &route.sort_key.to, &route.sort_key.prefix}) {
    if (!p->empty()) q.push_back(*p);
  }
  return q;
}

// Serves one matched route. Owns nothing; lives for one request.
class RouteCall : public std::enable_shared_from_this<RouteCall> {
 public:
  RouteCall(std::shared_ptr<const ReadApi::State> state, const Route& route,
            TablesClient& tables, FunctionsClient* functions,
            DeadlineTimer& deadlines, const CursorCodec& cursors,
            http::Request request, http::RouteMatch match,
            http::Responder respond)
      : state_(std::move(state)),
        route_(route),
        tables_(tables),
        functions_(functions),
        deadlines_(deadlines),
        cursors_(cursors),
        request_(std::move(request)),
        match_(std::move(match)),
        respond_(std::move(respond)) {}

  void Run() {
    // A function takes any query: it is the function's to judge.
    if (route_.kind == RouteKind::kFunction) return InvokeFunction();
    std::vector<std::string> allowed = AllowedQuery(route_);
    for (const auto& [name, value] : match_.query) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        return Reply(Error(
            400, "BadRequest",
            allowed.empty()
                ? fmt::format("unknown query parameter {}: this route takes "
                              "none",
                              name)
                : fmt::format("unknown query parameter {}; expected one of: {}",
                              name, Join(allowed))));
      }
    }
    auto self = shared_from_this();
    tables_.DescribeKey(route_.table, route_.index,
                        [self](Result<tables::KeySchema> key) {
                          if (!key.ok()) {
                            return self->Reply(ErrorFromStatus(key.status()));
                          }
                          if (self->route_.kind == RouteKind::kGetItem) {
                            self->GetItem(*key);
                          } else {
                            self->Query(*key);
                          }
                        });
  }

 private:
  void Reply(http::Response r) { respond_(std::move(r)); }

  // API Gateway's Lambda proxy integration (payload format 2.0). The
  // function runs elsewhere (a process, or the supervisor's queue): the
  // network thread only builds the event and returns.
  void InvokeFunction() {
    HttpApiContext context;
    context.request_id = NewHttpApiRequestId();
    context.api_id = state_->api_id;
    context.time_ms = NowMillis();
    context.source_ip = request_.remote_address;
    if (functions_) context.account_id = functions_->AccountId();
    std::string request_id = context.request_id;
    // The first of the function's reply and the route's timeout answers.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto reply = [self = shared_from_this(), request_id,
                  answered](http::Response r) {
      if (answered->exchange(true)) return;
      // API Gateway names its request on every reply of an HTTP API.
      r.SetHeader("apigw-requestid", request_id);
      self->Reply(std::move(r));
    };
    if (!functions_) {
      RLOG_ERROR("read API: route {}: functions are not available",
                 route_.name);
      return reply(HttpApiInternalError());
    }
    std::string event = HttpApiEvent(request_, route_, match_, context);
    if (event.size() > kMaxEventBytes) {
      // Lambda would refuse the invocation; API Gateway passes that on
      // as its own 413 (a body under the port's 10 MB limit can still
      // make an event over 6 MB, base64 making binary bodies 4/3 larger).
      RLOG_WARN(
          "read API: route {}: the event of {} bytes exceeds Lambda's "
          "{}-byte payload limit",
          route_.name, event.size(), kMaxEventBytes);
      return reply(HttpApiPayloadTooLarge());
    }
    // API Gateway's integration timeout: the client gets a 503 while the
    // function runs on to its own timeout.
    DeadlineTimer::Ticket ticket = deadlines_.At(
        DeadlineTimer::Clock::now() +
            std::chrono::milliseconds(route_.timeout_ms),
        [reply, route = route_.name, function = route_.function,
         ms = route_.timeout_ms] {
          RLOG_WARN(
              "read API: route {}: function {} did not answer within "
              "{} ms",
              route, function, ms);
          reply(HttpApiServiceUnavailable());
        });
    DeadlineTimer* deadlines = &deadlines_;
    functions_->Invoke(
        route_.function, std::move(event),
        [reply = std::move(reply), route = route_.name,
         function = route_.function, deadlines,
         ticket](Result<FunctionReply> r) mutable {
          deadlines->Cancel(ticket);
          if (!r.ok()) {
            RLOG_WARN("read API: route {}: cannot invoke {}: {}", route,
                      function, r.status().ToString());
            return reply(HttpApiInternalError());
          }
          if (r->function_error) {
            RLOG_WARN("read API: route {}: function {} failed (request {}): {}",
                      route, function, r->request_id,
                      std::string_view(r->payload).substr(0, 500));
            return reply(HttpApiInternalError());
          }
          std::string why;
          http::Response response = HttpApiResponse(r->payload, &why);
          if (!why.empty()) {
            RLOG_WARN("read API: route {}: function {} (request {}): {}", route,
                      function, r->request_id, why);
          }
          reply(std::move(response));
        });
  }

  // The key attribute `element` from the path parameter of its name.
  Result<AttributeValue> FromPath(const tables::KeyElement& element) {
    for (const auto& [name, value] : match_.params) {
      if (name == element.name) {
        return KeyValue(fmt::format("path parameter {}", name), value,
                        element.type);
      }
    }
    // The route does not bind a key attribute: a stack file mistake that
    // ValidateRoute cannot see (it does not know the table).
    return FailedPrecondition(fmt::format(
        "route {} has no path parameter {{{}}} for key attribute {} of {}",
        route_.name, element.name, element.name, route_.table));
  }

  void GetItem(const tables::KeySchema& schema) {
    Item key;
    std::vector<const tables::KeyElement*> elements = {&schema.hash};
    if (schema.range) elements.push_back(&*schema.range);
    for (const tables::KeyElement* e : elements) {
      auto v = FromPath(*e);
      if (!v.ok()) return Reply(RouteError(v.status()));
      key.emplace(e->name, std::move(v).value());
    }
    auto self = shared_from_this();
    tables_.GetItem(
        route_.table, std::move(key), [self](Result<std::optional<Item>> item) {
          if (!item.ok()) {
            return self->Reply(ErrorFromStatus(item.status()));
          }
          if (!item->has_value()) {
            return self->Reply(Error(404, "NotFound", "no such item"));
          }
          self->Reply(
              JsonOk(self->request_, PlainItemJson(self->Project(**item))));
        });
  }

  http::Response RouteError(const Status& s) {
    if (s.code() == StatusCode::kFailedPrecondition) {
      RLOG_ERROR("read API: {}", s.message());
      return Error(500, "RouteMisconfigured", s.message());
    }
    return ErrorFromStatus(s);
  }

  Item Project(Item item) const {
    if (route_.projection.empty()) return item;
    Item out;
    for (const std::string& name : route_.projection) {
      auto it = item.find(name);
      if (it != item.end()) out.emplace(name, std::move(it->second));
    }
    return out;
  }

  void Query(const tables::KeySchema& schema) {
    tables::QueryRequest q;
    q.table = route_.table;
    q.index = route_.index;
    auto hash = FromPath(schema.hash);
    if (!hash.ok()) return Reply(RouteError(hash.status()));
    tables::KeyCondition eq;
    eq.attribute = schema.hash.name;
    eq.op = tables::KeyCondition::Op::kEq;
    eq.values.push_back(std::move(hash).value());
    q.key_conditions.push_back(std::move(eq));

    // The cursor is bound to everything that selects the result set.
    std::string binding = route_.name;
    for (const auto& [name, value] : match_.params) {
      binding += '\0' + name + '=' + value;
    }

    int limit = route_.default_limit;
    if (auto text = match_.Query("limit")) {
      bool digits = !text->empty() && text->size() <= 9 &&
                    std::all_of(text->begin(), text->end(),
                                [](char c) { return c >= '0' && c <= '9'; });
      int n = digits ? std::stoi(*text) : 0;
      if (n < 1 || n > route_.max_limit) {
        return Reply(Error(400, "BadRequest",
                           fmt::format("limit must be an integer from 1 to {}",
                                       route_.max_limit)));
      }
      limit = n;
    }
    q.limit = limit;

    std::string order = match_.Query("order").value_or("asc");
    if (order != "asc" && order != "desc") {
      return Reply(Error(400, "BadRequest", "order must be asc or desc"));
    }
    q.forward = order == "asc";
    binding += std::string(1, '\0') + "order=" + order;

    const SortKeyParams& p = route_.sort_key;
    std::optional<std::string> from, to, prefix;
    if (!p.from.empty()) from = match_.Query(p.from);
    if (!p.to.empty()) to = match_.Query(p.to);
    if (!p.prefix.empty()) prefix = match_.Query(p.prefix);
    if ((from || to || prefix) && !schema.range) {
      return Reply(RouteError(FailedPrecondition(fmt::format(
          "route {}: sort key conditions on {} which has no sort key",
          route_.name, route_.index.empty() ? route_.table : route_.index))));
    }
    if (prefix && (from || to)) {
      return Reply(Error(400, "BadRequest",
                         fmt::format("{} cannot be combined with {} or {}",
                                     p.prefix, p.from, p.to)));
    }
    if (from || to || prefix) {
      const tables::KeyElement& sort = *schema.range;
      tables::KeyCondition c;
      c.attribute = sort.name;
      if (prefix) {
        if (sort.type == AttributeType::kN) {
          return Reply(Error(400, "BadRequest",
                             fmt::format("{} does not apply to the numeric "
                                         "sort key {}",
                                         p.prefix, sort.name)));
        }
        c.op = tables::KeyCondition::Op::kBeginsWith;
      } else if (from && to) {
        c.op = tables::KeyCondition::Op::kBetween;
      } else {
        c.op = from ? tables::KeyCondition::Op::kGe
                    : tables::KeyCondition::Op::kLe;
      }
      for (const auto& [name, text] :
           {std::pair{p.from, from}, std::pair{p.to, to},
            std::pair{p.prefix, prefix}}) {
        if (!text) continue;
        auto v =
            KeyValue(fmt::format("query parameter {}", name), *text, sort.type);
        if (!v.ok()) return Reply(ErrorFromStatus(v.status()));
        c.values.push_back(std::move(v).value());
        binding += '\0' + name + '=' + *text;
      }
      if (c.op == tables::KeyCondition::Op::kBetween &&
          tables::CompareKeyValues(c.values[0], c.values[1]) > 0) {
        return Reply(
            Error(400, "BadRequest",
                  fmt::format("{} must not be after {}", p.from, p.to)));
      }
      q.key_conditions.push_back(std::move(c));
    }

    if (auto cursor = match_.Query("cursor")) {
      auto start = cursors_.Decode(binding, *cursor);
      if (!start.ok()) {
        return Reply(Error(400, "InvalidCursor", start.status().message()));
      }
      q.exclusive_start_key = std::move(start).value();
    }
    auto self = shared_from_this();
    tables_.Query(std::move(q), [self, binding = std::move(binding)](
                                    Result<tables::ReadResult> r) {
      if (!r.ok()) return self->Reply(ErrorFromStatus(r.status()));
      std::string body;
      json::Writer w(&body);
      w.BeginObject().Key("items").BeginArray();
      for (Item& item : r->items) {
        WritePlainItem(w, self->Project(std::move(item)));
      }
      w.EndArray();
      if (r->last_evaluated_key) {
        w.Key("cursor").String(
            self->cursors_.Encode(binding, *r->last_evaluated_key));
      }
      w.EndObject();
      self->Reply(JsonOk(self->request_, std::move(body)));
    });
  }

  std::shared_ptr<const ReadApi::State> state_;  // keeps route_ alive
  const Route& route_;
  TablesClient& tables_;
  FunctionsClient* const functions_;  // may be null
  DeadlineTimer& deadlines_;
  const CursorCodec& cursors_;
  http::Request request_;
  http::RouteMatch match_;
  http::Responder respond_;
};

bool IsParamSegment(std::string_view s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

// A path template with its parameter names blanked ("/a/{}/b", "/a/{+}"):
// templates of one shape match the same requests.
std::string PathShape(std::string_view path) {
  std::string shape;
  while (!path.empty()) {
    size_t open = path.find('{');
    shape.append(path.substr(0, open));
    if (open == std::string_view::npos) break;
    size_t close = path.find('}', open);
    shape += path[close - 1] == '+' ? "{+}" : "{}";
    path = path.substr(close + 1);
  }
  return shape;
}

}  // namespace

bool PathParams(std::string_view path, std::vector<std::string>* params) {
  params->clear();
  if (path.empty() || path[0] != '/') return false;
  std::string_view rest = path.substr(1);
  if (rest.empty()) return true;  // "/"
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return false;  // "//" or a trailing slash
    if (IsParamSegment(seg)) {
      std::string_view name = seg.substr(1, seg.size() - 2);
      // API Gateway's greedy variable "{proxy+}" ends the path.
      if (!name.empty() && name.back() == '+') {
        if (slash != std::string_view::npos) return false;
        name.remove_suffix(1);
      }
      if (name.empty()) return false;
      for (char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' &&
            c != '-' && c != '.') {
          return false;
        }
      }
      params->emplace_back(name);
    } else {
      for (char c : seg) {
        if (c == '{' || c == '}' || c == '?' || c == '#' || c == '%' ||
            std::isspace(static_cast<unsigned char>(c))) {
          return false;
        }
      }
    }
    if (slash == std::string_view::npos) return true;
    rest = rest.substr(slash + 1);
  }
}

Status ValidateRoute(const Route& route) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("route {}: {}", route.name, why));
  };
  if (route.name.empty()) return InvalidArgument("a route has no name");
  const bool is_default = route.path == kDefaultRoute;
  if (is_default && route.kind != RouteKind::kFunction) {
    return bad("the $default route invokes a function");
  }
  if (is_default && route.method != kAnyMethod) {
    return bad("the $default route serves every method: its method is ANY");
  }
  if (route.kind == RouteKind::kFunction) {
    static const std::set<std::string, std::less<>> kMethods = {
        "GET", "POST", "PUT", "PATCH", "DELETE", std::string(kAnyMethod)};
    if (!kMethods.count(route.method)) {
      return bad("method must be GET, POST, PUT, PATCH, DELETE or ANY");
    }
    if (route.function.empty()) return bad("no function");
    if (route.timeout_ms < 50 || route.timeout_ms > 30000) {
      return bad("timeout_ms must be from 50 to 30000");
    }
    if (!route.table.empty() || !route.index.empty() ||
        !route.projection.empty() || !route.sort_key.from.empty() ||
        !route.sort_key.to.empty() || !route.sort_key.prefix.empty()) {
      return bad(
          "a function route has no table, index, projection or "
          "sort key parameters");
    }
  } else if (route.method != "GET") {
    return bad("method must be GET (table routes only read)");
  } else if (!route.function.empty()) {
    return bad("a table route invokes no function");
  }
  if (is_default) return Status::Ok();
  std::vector<std::string> params;
  if (!PathParams(route.path, &params)) {
    return bad(
        fmt::format("path {} must be /-separated literal and {{name}} "
                    "segments (the last may be a greedy {{name+}})",
                    route.path));
  }
  if (route.path == kOpenApiPath) return bad("/openapi.json is reserved");
  std::set<std::string> unique(params.begin(), params.end());
  if (unique.size() != params.size()) return bad("duplicate path parameter");
  if (route.kind != RouteKind::kFunction && route.table.empty()) {
    return bad("no table");
  }
  if (route.kind == RouteKind::kGetItem && !route.index.empty()) {
    return bad("GetItem reads the table, not an index");
  }
  if (route.kind == RouteKind::kQuery) {
    if (route.max_limit < 1 || route.max_limit > 1000) {
      return bad("max_limit must be from 1 to 1000");
    }
    if (route.default_limit < 1 || route.default_limit > route.max_limit) {
      return bad("default_limit must be from 1 to max_limit");
    }
    std::set<std::string> names = {"limit", "cursor", "order"};
    for (const std::string* p :
         {&route.sort_key.from, &route.sort_key.to, &route.sort_key.prefix}) {
      if (p->empty()) continue;
      if (!names.insert(*p).second) {
        return bad(fmt::format("query parameter {} declared twice", *p));
      }
    }
  }
  return Status::Ok();
}

ReadApi::ReadApi(TablesClient& tables, std::string cursor_secret)
    : tables_(tables), cursors_(std::move(cursor_secret)) {
  Status s = SetConfig(Config{});
  (void)s;  // an empty configuration is always valid
}

ReadApi::~ReadApi() = default;

void ReadApi::SetFunctions(FunctionsClient* functions) {
  functions_.store(functions);
}

std::shared_ptr<const ReadApi::State> ReadApi::Snapshot() const {
  std::lock_guard l(mu_);
  return state_;
}

Status ReadApi::SetConfig(Config config) {
  std::set<std::string> names, endpoints;
  for (const Route& r : config.routes) {
    RETURN_IF_ERROR(ValidateRoute(r));
    if (!names.insert(r.name).second) {
      return InvalidArgument(fmt::format("route {}: duplicate name", r.name));
    }
    // The same path with other parameter names is the same endpoint.
    if (!endpoints.insert(r.method + " " + PathShape(r.path)).second) {
      return InvalidArgument(fmt::format("route {}: another route serves {} {}",
                                         r.name, r.method, r.path));
    }
  }
  auto state = std::make_shared<State>();
  state->config = std::move(config);
  // API Gateway ids are 10 lower-case letters and digits; this one is
  // stable per title, so a function sees the same id across restarts.
  {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    const std::string& title = state->config.title;
    SHA256(reinterpret_cast<const unsigned char*>(title.data()), title.size(),
           digest);
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 10; ++i) state->api_id += kAlphabet[digest[i] % 36];
  }
  // Handlers reach the state through a weak pointer: the state owns the
  // router, which owns the handlers.
  std::weak_ptr<const State> weak = state;
  TablesClient* tables = &tables_;
  const std::atomic<FunctionsClient*>* functions = &functions_;
  DeadlineTimer* deadlines = &deadlines_;
  const CursorCodec* cursors = &cursors_;
  http::RestRouter& router = state->router;
  // API Gateway answers preflights itself only where CORS is configured;
  // elsewhere an OPTIONS request is the ANY and $default routes' to serve.
  const bool cors = !state->config.cors.allowed_origins.empty();
  // The methods each path shape serves, for the preflight's Allow, the
  // first template of that shape, where the preflight is routed, and
  // whether an ANY route serves it.
  struct Shape {
    std::string path;
    std::vector<std::string> methods;
    bool any = false;
  };
  std::map<std::string, Shape> shapes;
  auto serve_route = [weak, tables, functions, deadlines,
                      cursors](const Route& route) {
    return [weak, &route, tables, functions, deadlines, cursors](
               http::Request request, http::RouteMatch match,
               http::Responder respond) {
      auto state = weak.lock();
      if (!state) return respond(Error(503, "Unavailable", "reconfiguring"));
      std::make_shared<RouteCall>(state, route, *tables, functions->load(),
                                  *deadlines, *cursors, std::move(request),
                                  std::move(match), std::move(respond))
          ->Run();
    };
  };
  for (const Route& route : state->config.routes) {
    if (route.path == kDefaultRoute) {
      state->default_route = &route;
      continue;
    }
    http::RestHandler serve = serve_route(route);
    Shape& shape = shapes[PathShape(route.path)];
    if (shape.path.empty()) shape.path = route.path;
    if (route.method == kAnyMethod) {
      router.Add(std::string(http::RestRouter::kAnyMethod), route.path, serve);
      shape.any = true;
      const std::vector<std::string>& all = AnyMethods();
      shape.methods.insert(shape.methods.end(), all.begin(), all.end() - 1);
      continue;
    }
    router.Add(route.method, route.path, serve);
    shape.methods.push_back(route.method);
    // HEAD is GET without the body for the table routes; a function
    // decides for itself what its methods mean (API Gateway routes HEAD
    // only where it is declared).
    if (route.kind != RouteKind::kFunction) {
      router.Add("HEAD", route.path, serve);
      shape.methods.push_back("HEAD");
    }
  }
  // Preflight for every path a route serves.
  for (auto& [key, shape] : shapes) {
    if (shape.any && !cors) continue;
    shape.methods.push_back("OPTIONS");
    router.Add(
        "OPTIONS", shape.path,
        [weak, allow = Join(shape.methods)](
            http::Request request, http::RouteMatch, http::Responder respond) {
          auto state = weak.lock();
          respond(state ? Preflight(state->config.cors, request, allow)
                        : Preflight(Cors{}, request, allow));
        });
  }
  // What no route matches goes to $default, 405s included: API Gateway
  // matches a route by method and path together and has no 405.
  std::optional<http::RestHandler> fallback;
  if (state->default_route) {
    http::RestHandler serve = serve_route(*state->default_route);
    fallback = [serve, cors, weak](http::Request request, http::RouteMatch,
                                   http::Responder respond) {
      auto state = weak.lock();
      if (cors && state && request.method == "OPTIONS") {
        return respond(
            Preflight(state->config.cors, request, Join(AnyMethods())));
      }
      http::RouteMatch match;
      match.query = http::ParseQuery(request.query);
      serve(std::move(request), std::move(match), std::move(respond));
    };
  }
  router.SetNotFound(
      [fallback](http::Request request, http::Responder respond) {
        if (fallback)
          return (*fallback)(std::move(request), {}, std::move(respond));
        respond(Error(404, "NotFound", "no route for this path"));
      });
  router.SetMethodNotAllowed([fallback](http::Request request,
                                        std::vector<std::string> allowed,
                                        http::Responder respond) {
    if (fallback)
      return (*fallback)(std::move(request), {}, std::move(respond));
    http::Response r =
        Error(405, "MethodNotAllowed",
              fmt::format("{} is not allowed here", request.method));
    r.SetHeader("allow", Join(allowed));
    respond(std::move(r));
  });
  std::lock_guard l(mu_);
  state_ = std::move(state);
  return Status::Ok();
}

void ReadApi::Handle(http::Request request, http::Responder respond) const {
  std::shared_ptr<const State> state = Snapshot();
  // CORS headers go on every answer, errors included, or a browser hides
  // the error from the page.
  std::string origin;
  if (const std::string* o = request.FindHeader("origin")) origin = *o;
  // A HEAD reply keeps its body here: the server sends its length as
  // Content-Length and drops the bytes (a header set here would be
  // replaced by the length of an empty body).
  http::Responder reply = [state, origin,
                           respond = std::move(respond)](http::Response r) {
    AddCors(state->config.cors, origin.empty() ? nullptr : &origin, r);
    respond(std::move(r));
  };
  if (request.path == kOpenApiPath) {
    if (request.method != "GET" && request.method != "HEAD") {
      http::Response r =
          Error(405, "MethodNotAllowed",
                fmt::format("{} is not allowed here", request.method));
      r.SetHeader("allow", "GET, HEAD");
      return reply(std::move(r));
    }
    return reply(JsonOk(request, OpenApiJson()));
  }
  state->router.Dispatch(std::move(request), std::move(reply));
}

http::Handler ReadApi::AsHandler() {
  return [this](http::Request request, http::Responder respond) {
    Handle(std::move(request), std::move(respond));
  };
}

std::string ReadApi::OpenApiJson() const {
  std::shared_ptr<const State> state = Snapshot();
  const Config& config = state->config;
  std::string out;
  json::Writer w(&out);
  auto error_ref = [&](int status, std::string_view what) {
    w.Key(std::to_string(status)).BeginObject().Key("description").String(what);
    w.Key("content").BeginObject().Key("application/json").BeginObject();
    w.Key("schema").BeginObject().Key("$ref").String(
        "#/components/schemas/Error");
    w.EndObject().EndObject().EndObject().EndObject();
  };
  auto param = [&](std::string_view name, std::string_view in, bool required,
                   std::string_view type, std::string_view description) {
    w.BeginObject().Key("name").String(name).Key("in").String(in);
    w.Key("required").Bool(required);
    if (!description.empty()) w.Key("description").String(description);
    w.Key("schema").BeginObject().Key("type").String(type).EndObject();
    w.EndObject();
  };
  w.BeginObject().Key("openapi").String("3.1.0");
  w.Key("info").BeginObject().Key("title").String(config.title);
  w.Key("version").String("1").EndObject();
  w.Key("paths").BeginObject();
  std::vector<std::string> paths;
  for (const Route& r : config.routes) {
    if (std::find(paths.begin(), paths.end(), r.path) == paths.end())
      paths.push_back(r.path);
  }
  for (const std::string& path : paths) {
    w.Key(path).BeginObject();
    for (const Route& r : config.routes) {
      if (r.path != path) continue;
      std::string method = r.method;
      for (char& c : method) c = static_cast<char>(std::tolower(c));
      // API Gateway's own export of an HTTP API writes ANY routes, and the
      // $default route under the path "$default", with this extension.
      if (r.method == kAnyMethod) method = "x-amazon-apigateway-any-method";
      w.Key(method).BeginObject().Key("operationId").String(r.name);
      if (r.path == kDefaultRoute) w.Key("isDefaultRoute").Bool(true);
      w.Key("summary").String(
          !r.description.empty() ? r.description
          : r.kind == RouteKind::kGetItem
              ? fmt::format("One item of table {}", r.table)
          : r.kind == RouteKind::kQuery
              ? fmt::format("Query {}{}", r.table,
                            r.index.empty() ? "" : "." + r.index)
              : fmt::format("Invokes function {} (API Gateway payload "
                            "format 2.0)",
                            r.function));
      w.Key("parameters").BeginArray();
      std::vector<std::string> params;
      (void)PathParams(r.path, &params);
      for (const std::string& p : params) param(p, "path", true, "string", "");
      if (r.kind == RouteKind::kQuery) {
        param("limit", "query", false, "integer",
              fmt::format("Items per page, 1 to {} (default {})", r.max_limit,
                          r.default_limit));
        param("cursor", "query", false, "string",
              "The cursor of the previous page");
        param("order", "query", false, "string",
              "asc (default) or desc, by sort key");
        if (!r.sort_key.from.empty())
          param(r.sort_key.from, "query", false, "string",
                "Lowest sort key (inclusive)");
        if (!r.sort_key.to.empty())
          param(r.sort_key.to, "query", false, "string",
                "Highest sort key (inclusive)");
        if (!r.sort_key.prefix.empty())
          param(r.sort_key.prefix, "query", false, "string", "Sort key prefix");
      }
      w.EndArray();
      if (r.kind == RouteKind::kFunction) {
        // What the function takes and answers is its own business: any
        // body, any reply; the gateway adds only its failure shape.
        if (r.method != "GET" && r.method != "DELETE") {
          w.Key("requestBody").BeginObject().Key("required").Bool(false);
          w.Key("content").BeginObject().Key("*/*").BeginObject();
          w.Key("schema").BeginObject().EndObject();
          w.EndObject().EndObject().EndObject();
        }
        w.Key("responses").BeginObject();
        w.Key("default")
            .BeginObject()
            .Key("description")
            .String("What the function returns");
        w.EndObject();
        w.Key("500")
            .BeginObject()
            .Key("description")
            .String("The function failed, timed out or could not run");
        w.Key("content").BeginObject().Key("application/json").BeginObject();
        w.Key("schema").BeginObject().Key("$ref").String(
            "#/components/schemas/IntegrationError");
        w.EndObject().EndObject().EndObject().EndObject();
        w.EndObject();  // responses
        w.EndObject();  // operation
        continue;
      }
      w.Key("responses").BeginObject();
      w.Key("200").BeginObject().Key("description").String("OK");
      w.Key("headers").BeginObject().Key("ETag").BeginObject();
      w.Key("schema").BeginObject().Key("type").String("string").EndObject();
      w.EndObject().EndObject();
      w.Key("content").BeginObject().Key("application/json").BeginObject();
      w.Key("schema").BeginObject().Key("$ref").String(
          r.kind == RouteKind::kGetItem ? "#/components/schemas/Item"
                                        : "#/components/schemas/Page");
      w.EndObject().EndObject().EndObject().EndObject();
      w.Key("304")
          .BeginObject()
          .Key("description")
          .String("Not modified (If-None-Match)");
      w.EndObject();
      error_ref(400, "Bad parameter or cursor");
      error_ref(404, r.kind == RouteKind::kGetItem ? "No such item"
                                                   : "No such route");
      w.EndObject();  // responses
      w.EndObject();  // operation
    }
    w.EndObject();
  }
  w.EndObject();  // paths
  w.Key("components").BeginObject().Key("schemas").BeginObject();
  w.Key("Item").BeginObject().Key("type").String("object");
  w.Key("description")
      .String(
          "An item as plain JSON (see docs/read-api.md: numbers that a double "
          "cannot hold exactly are strings)");
  w.EndObject();
  w.Key("Page").BeginObject().Key("type").String("object");
  w.Key("required").BeginArray().String("items").EndArray();
  w.Key("properties").BeginObject();
  w.Key("items").BeginObject().Key("type").String("array");
  w.Key("items").BeginObject().Key("$ref").String("#/components/schemas/Item");
  w.EndObject().EndObject();
  w.Key("cursor").BeginObject().Key("type").String("string");
  w.Key("description").String("Absent on the last page");
  w.EndObject();
  w.EndObject().EndObject();
  w.Key("Error").BeginObject().Key("type").String("object");
  w.Key("required").BeginArray().String("code").String("message").EndArray();
  w.Key("properties").BeginObject();
  w.Key("code").BeginObject().Key("type").String("string").EndObject();
  w.Key("message").BeginObject().Key("type").String("string").EndObject();
  w.EndObject().EndObject();
  // API Gateway's own error shape, for function routes.
  w.Key("IntegrationError").BeginObject().Key("type").String("object");
  w.Key("required").BeginArray().String("message").EndArray();
  w.Key("properties").BeginObject();
  w.Key("message").BeginObject().Key("type").String("string").EndObject();
  w.EndObject().EndObject();
  w.EndObject().EndObject();  // schemas, components
  w.EndObject();
  return out;
}

}  // namespace riffle::gateway
