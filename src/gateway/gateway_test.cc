#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "core/base64.h"
#include "gateway/cursor.h"
#include "gateway/deadline_timer.h"
#include "gateway/functions_client.h"
#include "gateway/http_api_event.h"
#include "gateway/plain_json.h"
#include "gateway/read_api.h"
#include "gateway/tables_client.h"
#include "gtest/gtest.h"
#include "http/rest_router.h"
#include "json/json.h"
#include "storage/kv/kv.h"
#include "tables/attribute_json.h"

namespace riffle::gateway {
namespace {

namespace fs = std::filesystem;
using tables::AttributeType;
using tables::Item;
using namespace std::string_view_literals;

Item I(std::string_view text) {
  auto j = json::Parse(text);
  EXPECT_TRUE(j.ok()) << text;
  auto item = tables::ItemFromJson(*j);
  EXPECT_TRUE(item.ok()) << text;
  return *item;
}

tables::Number N(std::string_view text) {
  auto n = tables::Number::Parse(text);
  EXPECT_TRUE(n.ok()) << text;
  return *n;
}

// --- Plain JSON -------------------------------------------------------------

TEST(PlainJson, EveryType) {
  Item item = I(R"({"s":{"S":"a\"b"},"n":{"N":"12.50"},"b":{"B":"AAE="},
    "t":{"BOOL":true},"z":{"NULL":true},"ss":{"SS":["y","x"]},
    "ns":{"NS":["2","1"]},"bs":{"BS":["AA=="]},
    "m":{"M":{"k":{"L":[{"N":"1"},{"S":"x"}]}}}})");
  EXPECT_EQ(PlainItemJson(item),
            R"({"b":"AAE=","bs":["AA=="],"m":{"k":[1,"x"]},"n":12.5,)"
            R"("ns":[1,2],"s":"a\"b","ss":["x","y"],"t":true,"z":null})");
}

TEST(PlainJson, NumbersAreJsonNumbersOnlyWhenExact) {
  struct Case {
    const char* number;
    bool exact;
  } cases[] = {
      {"0", true},
      {"-1.5", true},
      {"123456789012345", true},                // 15 digits
      {"0.123456789012345", true},              // 15 digits
      {"9007199254740992", true},               // 2^53
      {"-9007199254740992", true},              //
      {"9007199254740993", false},              // 2^53 + 1
      {"10000000000000000", true},              // one digit: 1e16
      {"12345678901234567", false},             // 17 digits
      {"0.1234567890123456", false},            // 16 digits, fraction
      {"1234567890123456.5", false},            //
      {"1E+125", true},                         //
      {"12345678901234567890123456789", false}  // an id
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsExactAsDouble(N(c.number)), c.exact) << c.number;
  }
  EXPECT_EQ(PlainItemJson(I(R"({"id":{"N":"12345678901234567890"}})")),
            R"({"id":"12345678901234567890"})");
}

// --- Cursors ----------------------------------------------------------------

TEST(Cursor, RoundTripAndBinding) {
  CursorCodec codec(std::string(32, 'k'));
  Item key = I(R"({"accountId":{"S":"a1"},"paymentId":{"S":"p9"}})");
  std::string c = codec.Encode("route\0a1"sv, key);
  EXPECT_EQ(c.find_first_of("+/="), std::string::npos);
  auto back = codec.Decode("route\0a1"sv, c);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(tables::ItemToJson(*back), tables::ItemToJson(key));
  // Another binding (another account, order, route) rejects it.
  EXPECT_FALSE(codec.Decode("route\0a2"sv, c).ok());
  // Another secret (another data directory) rejects it.
  EXPECT_FALSE(CursorCodec(std::string(32, 'j')).Decode("route\0a1"sv, c).ok());
}

TEST(Cursor, EveryFlippedBitIsDetected) {
  CursorCodec codec(std::string(32, 'k'));
  Item key = I(R"({"pk":{"S":"a"},"sk":{"N":"5"}})");
  std::string c = codec.Encode("b", key);
  auto raw = Base64UrlDecode(c);
  ASSERT_TRUE(raw);
  for (size_t i = 0; i < raw->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = *raw;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      auto r = codec.Decode("b", Base64UrlEncode(t));
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
  // Truncated, extended, garbage, padded, standard alphabet.
  for (std::string bad :
       {c.substr(0, c.size() - 1), c.substr(0, 10), c + "A", std::string(""),
        std::string("!!!!"), c + "=", std::string("a+b/")}) {
    EXPECT_FALSE(codec.Decode("b", bad).ok()) << bad;
  }
}

TEST(Cursor, SecretIsCreatedOnceAndKept) {
  fs::path dir = fs::temp_directory_path() /
                 ("riffle_gw_secret_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto a = LoadOrCreateSecret(dir / "gateway" / "cursor.key");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size(), 32u);
  auto b = LoadOrCreateSecret(dir / "gateway" / "cursor.key");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(
      fs::status(dir / "gateway" / "cursor.key").permissions() & fs::perms::all,
      fs::perms::owner_read | fs::perms::owner_write);
  fs::remove_all(dir);
}

// --- Route validation
// ---------------------------------------------------------

TEST(Routes, PathTemplates) {
  std::vector<std::string> p;
  EXPECT_TRUE(PathParams("/accounts/{accountId}/payments", &p));
  EXPECT_EQ(p, std::vector<std::string>{"accountId"});
  for (const char* bad : {"", "accounts", "/a//b", "/a/", "/{}", "/a{b}",
                          "/{a b}", "/a?x", "/%20"}) {
    EXPECT_FALSE(PathParams(bad, &p)) << bad;
  }
}

// --- The API over a real tables::Service ------------------------------------

class ReadApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_gateway_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    kv::Options o;
    o.path = dir_.string();
    auto s = kv::Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    service_ = std::make_unique<tables::Service>(*store_);
    client_ = std::make_unique<LocalTablesClient>(*service_);
    api_ = std::make_unique<ReadApi>(*client_, std::string(32, 's'));

    tables::TableSpec spec;
    spec.name = "payments";
    spec.key.hash = {"paymentId", AttributeType::kS};
    tables::IndexSpec gsi;
    gsi.name = "byAccount";
    gsi.key.hash = {"accountId", AttributeType::kS};
    gsi.key.range = tables::KeyElement{"createdAt", AttributeType::kS};
    spec.indexes.push_back(gsi);
    spec.billing_mode = "PAY_PER_REQUEST";
    ASSERT_TRUE(service_->CreateTable(spec).ok());
    for (int i = 0; i < 7; ++i) {
      Put(fmt(R"({"paymentId":{"S":"p%d"},"accountId":{"S":"a1"},)"
              R"("createdAt":{"S":"2024-01-0%d"},"amount":{"N":"%d.25"}})",
              i, i + 1, i));
    }
    Put(R"({"paymentId":{"S":"q"},"accountId":{"S":"a2"},"createdAt":{"S":"x"}})");

    Config config;
    Route get;
    get.name = "getPayment";
    get.path = "/payments/{paymentId}";
    get.table = "payments";
    Route list;
    list.name = "listPayments";
    list.path = "/accounts/{accountId}/payments";
    list.kind = RouteKind::kQuery;
    list.table = "payments";
    list.index = "byAccount";
    list.sort_key = {"from", "to", "prefix"};
    list.default_limit = 3;
    list.max_limit = 5;
    list.projection = {"paymentId", "amount"};
    config.routes = {get, list};
    config.cors.allowed_origins = {"https://app.example"};
    ASSERT_TRUE(api_->SetConfig(config).ok());
  }
  void TearDown() override {
    api_.reset();
    client_.reset();
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  static std::string fmt(const char* f, int a, int b, int c) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, a, b, c);
    return buf;
  }

  void Put(std::string_view item) {
    std::promise<Status> p;
    service_->PutItem("payments", I(item), {},
                      [&](Result<tables::WriteResult> r) {
                        p.set_value(r.ok() ? Status::Ok() : r.status());
                      });
    ASSERT_TRUE(p.get_future().get().ok());
  }

  http::Response Call(std::string method, std::string target,
                      std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = std::move(method);
    r.target = target;
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.headers = std::move(headers);
    std::optional<http::Response> out;
    api_->Handle(std::move(r), [&](http::Response resp) { out = resp; });
    EXPECT_TRUE(out);  // the local client answers inline
    return out ? *out : http::Response{};
  }

  static std::string Header(const http::Response& r, std::string_view name) {
    for (const auto& h : r.headers) {
      if (h.name == name) return h.value;
    }
    return "";
  }

  static json::Value Body(const http::Response& r) {
    auto v = json::Parse(r.body);
    EXPECT_TRUE(v.ok()) << r.body;
    return v.ok() ? *v : json::Value();
  }

  fs::path dir_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<tables::Service> service_;
  std::unique_ptr<LocalTablesClient> client_;
  std::unique_ptr<ReadApi> api_;
};

TEST_F(ReadApiTest, GetItem) {
  auto r = Call("GET", "/payments/p2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"accountId":"a1","amount":2.25,"createdAt":"2024-01-03",)"
            R"("paymentId":"p2"})");
  EXPECT_EQ(Header(r, "content-type"), "application/json");
  std::string etag = Header(r, "etag");
  ASSERT_FALSE(etag.empty());
  auto again = Call("GET", "/payments/p2", {{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(
      Call("GET", "/payments/p2", {{"if-none-match", "\"other\""}}).status,
      200);
  EXPECT_EQ(Call("GET", "/payments/p2", {{"if-none-match", "*"}}).status, 304);

  auto missing = Call("GET", "/payments/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Body(missing).Find("code")->text(), "NotFound");
}

TEST_F(ReadApiTest, QueryPagesToTheEnd) {
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = Call("GET", "/accounts/a1/payments" +
                             (cursor.empty() ? "" : "?cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << r.body;
    json::Value body = Body(r);
    for (const json::Value& item : body.Find("items")->items()) {
      seen.push_back(item.Find("paymentId")->text());
      EXPECT_EQ(item.members().size(), 2u);  // the projection
    }
    const json::Value* c = body.Find("cursor");
    cursor = c ? c->text() : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4", "p5",
                                            "p6"}));
  EXPECT_EQ(pages, 3);
}

TEST_F(ReadApiTest, OrderAndSortKeyConditions) {
  auto first = [&](std::string target) {
    auto r = Call("GET", target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    std::vector<std::string> ids;
    json::Value body = Body(r);  // outlives the loop over its items
    for (const json::Value& item : body.Find("items")->items())
      ids.push_back(item.Find("paymentId")->text());
    return ids;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(first("/accounts/a1/payments?order=desc&limit=2"), (V{"p6", "p5"}));
  EXPECT_EQ(first("/accounts/a1/payments?from=2024-01-02&to=2024-01-04"),
            (V{"p1", "p2", "p3"}));
  EXPECT_EQ(first("/accounts/a1/payments?from=2024-01-06"), (V{"p5", "p6"}));
  EXPECT_EQ(first("/accounts/a1/payments?to=2024-01-01"), (V{"p0"}));
  EXPECT_EQ(first("/accounts/a1/payments?prefix=2024-01-0&limit=1"), (V{"p0"}));
  EXPECT_EQ(first("/accounts/nobody/payments"), V{});
}

TEST_F(ReadApiTest, BadInputIsJson4xx) {
  auto r = Call("GET", "/accounts/a1/payments?limit=2");
  std::string cursor = Body(r).Find("cursor")->text();
  std::string other = cursor;
  other[other.size() / 2] = other[other.size() / 2] == 'A' ? 'B' : 'A';
  struct Case {
    std::string method, target;
    int status;
    std::string code;
  } cases[] = {
      {"GET", "/accounts/a1/payments?limit=abc", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?limit=0", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?limit=6", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?limit=-1", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?limit=99999999999999", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?limit=", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?order=up", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?cursor=" + other, 400, "InvalidCursor"},
      {"GET", "/accounts/a1/payments?cursor=%%%", 400, "InvalidCursor"},
      {"GET", "/accounts/a1/payments?cursor=garbage", 400, "InvalidCursor"},
      {"GET", "/accounts/a2/payments?cursor=" + cursor, 400, "InvalidCursor"},
      {"GET", "/accounts/a1/payments?order=desc&cursor=" + cursor, 400,
       "InvalidCursor"},
      {"GET", "/accounts/a1/payments?prefix=a&from=b", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?from=b&to=a", 400, "BadRequest"},
      {"GET", "/accounts/a1/payments?bogus=1", 400, "BadRequest"},
      {"GET", "/payments/p1?limit=1", 400, "BadRequest"},
      {"GET", "/nowhere", 404, "NotFound"},
      {"GET", "/payments", 404, "NotFound"},
      {"POST", "/payments/p1", 405, "MethodNotAllowed"},
      {"DELETE", "/accounts/a1/payments", 405, "MethodNotAllowed"},
      {"POST", "/openapi.json", 405, "MethodNotAllowed"},
  };
  for (const Case& c : cases) {
    auto resp = Call(c.method, c.target);
    EXPECT_EQ(resp.status, c.status) << c.method << " " << c.target;
    json::Value body = Body(resp);
    ASSERT_TRUE(body.is_object()) << c.target;
    ASSERT_TRUE(body.Find("code")) << c.target;
    EXPECT_EQ(body.Find("code")->text(), c.code) << c.target;
    EXPECT_EQ(Header(resp, "content-type"), "application/json");
  }
}

TEST_F(ReadApiTest, Cors) {
  auto r = Call("GET", "/payments/p1", {{"origin", "https://app.example"}});
  EXPECT_EQ(Header(r, "access-control-allow-origin"), "https://app.example");
  EXPECT_EQ(Header(r, "vary"), "Origin");
  auto foreign = Call("GET", "/payments/p1", {{"origin", "https://evil"}});
  EXPECT_EQ(Header(foreign, "access-control-allow-origin"), "");
  auto missing =
      Call("GET", "/payments/zz", {{"origin", "https://app.example"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Header(missing, "access-control-allow-origin"),
            "https://app.example");
  auto pre = Call("OPTIONS", "/accounts/a1/payments",
                  {{"origin", "https://app.example"},
                   {"access-control-request-method", "GET"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(Header(pre, "access-control-allow-methods"), "GET, HEAD, OPTIONS");
  EXPECT_NE(Header(pre, "access-control-allow-headers").find("if-none-match"),
            std::string::npos);
}

TEST_F(ReadApiTest, OpenApiDescribesEveryRoute) {
  auto r = Call("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  json::Value doc = Body(r);
  EXPECT_EQ(doc.Find("openapi")->text(), "3.1.0");
  const json::Value* paths = doc.Find("paths");
  ASSERT_TRUE(paths);
  EXPECT_EQ(paths->Find("/payments/{paymentId}")
                ->Find("get")
                ->Find("operationId")
                ->text(),
            "getPayment");
  const json::Value* list =
      paths->Find("/accounts/{accountId}/payments")->Find("get");
  std::vector<std::string> names;
  for (const json::Value& p : list->Find("parameters")->items())
    names.push_back(p.Find("name")->text());
  EXPECT_EQ(names, (std::vector<std::string>{"accountId", "limit", "cursor",
                                             "order", "from", "to", "prefix"}));
}

TEST_F(ReadApiTest, ConfigErrorsNameTheRoute) {
  Route r;
  r.name = "x";
  r.path = "/a/{id}/{id}";
  r.table = "t";
  auto s = api_->SetConfig(Config{{r}, {}, ""});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("route x"), std::string::npos) << s.message();
  Route a = r, b = r;
  a.path = "/a/{id}";
  b.name = "y";
  b.path = "/a/{other}";
  s = api_->SetConfig(Config{{a, b}, {}, ""});
  EXPECT_NE(s.message().find("another route"), std::string::npos)
      << s.message();
  // A missing table is the deployment's problem: 503, never 500 or 404.
  Route t;
  t.name = "t";
  t.path = "/t/{id}";
  t.table = "absent";
  ASSERT_TRUE(api_->SetConfig(Config{{t}, {}, ""}).ok());
  EXPECT_EQ(Call("GET", "/t/1").status, 503);
}

TEST_F(ReadApiTest, QueryRunsOnTheBlockingPoolWhenGiven) {
  ThreadPool pool(1);
  LocalTablesClient pooled(*service_, &pool);
  ReadApi api(pooled, std::string(32, 's'));
  Route list;
  list.name = "list";
  list.path = "/accounts/{accountId}/payments";
  list.kind = RouteKind::kQuery;
  list.table = "payments";
  list.index = "byAccount";
  ASSERT_TRUE(api.SetConfig(Config{{list}, {}, ""}).ok());
  http::Request r;
  r.method = "GET";
  r.target = r.path = "/accounts/a1/payments";
  std::promise<std::pair<http::Response, std::thread::id>> done;
  api.Handle(std::move(r), [&](http::Response resp) {
    done.set_value({std::move(resp), std::this_thread::get_id()});
  });
  auto [resp, thread] = done.get_future().get();
  EXPECT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(Body(resp).Find("items")->items().size(), 7u);
  EXPECT_NE(thread, std::this_thread::get_id());
}

// --- Function routes: API Gateway's HTTP API payload format 2.0 ------------

http::Request MakeRequest(std::string method, std::string target,
                          std::vector<http::Header> headers = {},
                          std::string body = "") {
  http::Request r;
  r.method = std::move(method);
  r.target = target;
  size_t q = target.find('?');
  std::string path = target.substr(0, q);
  EXPECT_TRUE(http::PercentDecode(path, &r.path));
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.headers = std::move(headers);
  r.body = std::move(body);
  r.remote_address = "127.0.0.9";
  return r;
}

HttpApiContext TestContext() {
  HttpApiContext c;
  c.account_id = "000000000000";
  c.api_id = "abcdefghij";
  c.request_id = "JKJaXmPLvHcESHA=";
  c.time_ms = 1583348638390;  // 04/Mar/2020:19:03:58 +0000
  c.source_ip = "127.0.0.9";
  return c;
}

Route FunctionRoute(std::string method, std::string path) {
  Route r;
  r.name = "fn";
  r.kind = RouteKind::kFunction;
  r.method = std::move(method);
  r.path = std::move(path);
  r.function = "handler";
  return r;
}

TEST(HttpApiEvent, EveryFieldOfAGet) {
  Route route = FunctionRoute("GET", "/payments/{id}");
  http::Request req = MakeRequest("GET", "/payments/p%2F1?a=1&b=x%20y&a=2&flag",
                                  {{"host", "api.example.com:8080"},
                                   {"user-agent", "curl/8.0"},
                                   {"x-multi", "one"},
                                   {"cookie", "c1=v1; c2=v2"},
                                   {"x-multi", "two"},
                                   {"cookie", "c3=v3"}});
  http::RouteMatch match;
  match.params = {{"id", "p/1"}};
  match.query = http::ParseQuery(req.query);
  auto event = json::Parse(HttpApiEvent(req, route, match, TestContext()));
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(
      json::Serialize(*event),
      R"({"version":"2.0","routeKey":"GET /payments/{id}",)"
      R"("rawPath":"/payments/p%2F1","rawQueryString":"a=1&b=x%20y&a=2&flag",)"
      R"("cookies":["c1=v1","c2=v2","c3=v3"],)"
      R"("headers":{"host":"api.example.com:8080","user-agent":"curl/8.0",)"
      R"("x-multi":"one,two"},)"
      R"("queryStringParameters":{"a":"1,2","b":"x y","flag":""},)"
      R"("requestContext":{"accountId":"000000000000","apiId":"abcdefghij",)"
      R"("domainName":"api.example.com","domainPrefix":"api",)"
      R"("http":{"method":"GET","path":"/payments/p%2F1",)"
      R"("protocol":"HTTP/1.1","sourceIp":"127.0.0.9",)"
      R"("userAgent":"curl/8.0"},"requestId":"JKJaXmPLvHcESHA=",)"
      R"("routeKey":"GET /payments/{id}","stage":"$default",)"
      R"("time":"04/Mar/2020:19:03:58 +0000","timeEpoch":1583348638390},)"
      R"("pathParameters":{"id":"p/1"},"isBase64Encoded":false})");
}

TEST(HttpApiEvent, NoQueryNoParamsNoBody) {
  Route route = FunctionRoute("GET", "/ping");
  http::Request req = MakeRequest("GET", "/ping", {{"host", "127.0.0.1:1"}});
  req.http_major = 2;
  auto event = json::Parse(HttpApiEvent(req, route, {}, TestContext()));
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->Find("rawQueryString")->text(), "");
  EXPECT_FALSE(event->Find("queryStringParameters"));
  EXPECT_FALSE(event->Find("pathParameters"));
  EXPECT_FALSE(event->Find("cookies"));
  EXPECT_FALSE(event->Find("body"));
  EXPECT_FALSE(event->Find("isBase64Encoded")->bool_value());
  const json::Value* ctx = event->Find("requestContext");
  EXPECT_EQ(ctx->Find("domainName")->text(), "127.0.0.1");
  EXPECT_EQ(ctx->Find("http")->Find("protocol")->text(), "HTTP/2.0");
}

TEST(HttpApiEvent, TextAndBinaryBodies) {
  Route route = FunctionRoute("POST", "/upload");
  struct Case {
    std::string content_type, body;
    bool base64;
  } cases[] = {
      {"application/json", R"({"a":"é"})", false},
      {"text/plain; charset=utf-8", "hello", false},
      {"", "no type", false},
      {"application/vnd.api+json", "{}", false},
      {"application/octet-stream", "bytes", true},
      {"image/png", std::string("\x89PNG\0\x01", 6), true},
      {"text/plain", std::string("\xff\xfe", 2), true},  // not UTF-8
  };
  for (const Case& c : cases) {
    std::vector<http::Header> headers;
    if (!c.content_type.empty())
      headers.push_back({"content-type", c.content_type});
    http::Request req = MakeRequest("POST", "/upload", headers, c.body);
    auto event = json::Parse(HttpApiEvent(req, route, {}, TestContext()));
    ASSERT_TRUE(event.ok()) << c.content_type;
    EXPECT_EQ(event->Find("isBase64Encoded")->bool_value(), c.base64)
        << c.content_type;
    std::string body = event->Find("body")->text();
    if (c.base64) {
      auto decoded = base64::Decode(body);
      ASSERT_TRUE(decoded);
      body = *decoded;
    }
    EXPECT_EQ(body, c.body) << c.content_type;
  }
}

TEST(HttpApiEvent, HostileHeaderBytesStayValidJson) {
  Route route = FunctionRoute("GET", "/x");
  http::Request req =
      MakeRequest("GET", "/x", {{"x-bad", std::string("a\xff\"b\x01", 5)}});
  auto event = json::Parse(HttpApiEvent(req, route, {}, TestContext()));
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->Find("headers")->Find("x-bad")->text(),
            "a\xEF\xBF\xBD\"b\x01");
}

TEST(HttpApiResponse, StructuredResponse) {
  std::string why;
  http::Response r = HttpApiResponse(
      R"({"statusCode":201,"headers":{"Content-Type":"text/plain","X-N":5,
          "content-length":"999"},"cookies":["a=1","b=2; Path=/"],
          "body":"made"})",
      &why);
  EXPECT_EQ(why, "");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "made");
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : r.headers) headers.emplace_back(h.name, h.value);
  EXPECT_EQ(headers, (std::vector<std::pair<std::string, std::string>>{
                         {"content-type", "text/plain"},
                         {"x-n", "5"},
                         {"set-cookie", "a=1"},
                         {"set-cookie", "b=2; Path=/"}}));
}

TEST(HttpApiResponse, Base64BodyAndNoBody) {
  http::Response r = HttpApiResponse(
      R"({"statusCode":200,"isBase64Encoded":true,"body":"AAH/"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string("\x00\x01\xff", 3));
  http::Response empty = HttpApiResponse(R"({"statusCode":204})");
  EXPECT_EQ(empty.status, 204);
  EXPECT_EQ(empty.body, "");
  EXPECT_TRUE(empty.headers.empty());
}

TEST(HttpApiResponse, AnythingElseIsA200JsonBody) {
  struct Case {
    std::string payload, body;
  } cases[] = {
      {R"({"message":"hi","n":1.50})", R"({"message":"hi","n":1.50})"},
      {R"("Hello from Lambda!")", "Hello from Lambda!"},
      {"[1,2]", "[1,2]"},
      {"42", "42"},
      {"null", "null"},
      {" true\n", "true"},
      {"", ""},
      // statusCode must be a member of an object to count.
      {R"([{"statusCode":500}])", R"([{"statusCode":500}])"},
  };
  for (const Case& c : cases) {
    std::string why;
    http::Response r = HttpApiResponse(c.payload, &why);
    EXPECT_EQ(why, "") << c.payload;
    EXPECT_EQ(r.status, 200) << c.payload;
    EXPECT_EQ(r.body, c.body) << c.payload;
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].name, "content-type");
    EXPECT_EQ(r.headers[0].value, "application/json");
  }
}

TEST(HttpApiResponse, MalformedStructuredResponsesAre500) {
  for (std::string payload : {
           R"({"statusCode":"200"})",
           R"({"statusCode":99})",
           R"({"statusCode":600})",
           R"({"statusCode":200.5})",
           R"({"statusCode":200,"body":{"a":1}})",
           R"({"statusCode":200,"headers":[]})",
           R"({"statusCode":200,"headers":{"x":{"y":1}}})",
           R"({"statusCode":200,"headers":{"x":"a\r\nb"}})",
           R"({"statusCode":200,"cookies":"a=1"})",
           R"({"statusCode":200,"isBase64Encoded":"yes","body":""})",
           R"({"statusCode":200,"isBase64Encoded":true,"body":"%%%"})",
           "not json",
       }) {
    std::string why;
    http::Response r = HttpApiResponse(payload, &why);
    EXPECT_EQ(r.status, 500) << payload;
    EXPECT_EQ(r.body, R"({"message":"Internal Server Error"})") << payload;
    EXPECT_NE(why, "") << payload;
  }
}

TEST(HttpApiResponse, TextContentTypes) {
  for (const char* t : {"", "text/html", "Application/JSON; charset=utf-8",
                        "application/problem+json", "application/xml",
                        "application/x-www-form-urlencoded"}) {
    EXPECT_TRUE(IsTextContentType(t)) << t;
  }
  for (const char* t : {"application/octet-stream", "image/png",
                        "multipart/form-data; boundary=x", "application/zip"}) {
    EXPECT_FALSE(IsTextContentType(t)) << t;
  }
}

// A FunctionsClient that records the event and answers as told, inline or
// later (as a real function answers, from another thread).
class FakeFunctions : public FunctionsClient {
 public:
  void Invoke(const std::string& name, std::string payload,
              std::function<void(Result<FunctionReply>)> done) override {
    names.push_back(name);
    events.push_back(std::move(payload));
    if (defer) {
      pending.push_back(std::move(done));
      return;
    }
    done(next);
  }
  std::string AccountId() const override { return "111122223333"; }

  std::vector<std::string> names, events;
  Result<FunctionReply> next = FunctionReply{};
  bool defer = false;
  std::vector<std::function<void(Result<FunctionReply>)>> pending;
};

class FunctionRouteTest : public ReadApiTest {
 protected:
  void SetUp() override {
    ReadApiTest::SetUp();
    api_->SetFunctions(&functions_);
    Config config;
    Route get = FunctionRoute("GET", "/hello/{name}");
    get.name = "hello";
    Route post = FunctionRoute("POST", "/hello/{name}");
    post.name = "helloPost";
    post.function = "poster";
    Route table;
    table.name = "getPayment";
    table.path = "/payments/{paymentId}";
    table.table = "payments";
    config.routes = {get, post, table};
    config.cors.allowed_origins = {"*"};
    ASSERT_TRUE(api_->SetConfig(config).ok());
  }
  http::Response CallWithBody(std::string method, std::string target,
                              std::string body) {
    std::optional<http::Response> out;
    api_->Handle(MakeRequest(std::move(method), std::move(target),
                             {{"content-type", "text/plain"},
                              {"origin", "https://app.example"}},
                             std::move(body)),
                 [&](http::Response resp) { out = resp; });
    EXPECT_TRUE(out);
    return out ? *out : http::Response{};
  }

  FakeFunctions functions_;
};

TEST_F(FunctionRouteTest, InvokesWithTheEventAndMapsTheReply) {
  functions_.next = FunctionReply{
      R"({"statusCode":202,"headers":{"x-fn":"yes"},"body":"queued"})", false,
      "req-1"};
  http::Response r = CallWithBody("POST", "/hello/ann?x=1", "payload");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "queued");
  EXPECT_EQ(Header(r, "x-fn"), "yes");
  EXPECT_EQ(Header(r, "access-control-allow-origin"), "*");
  std::string request_id = Header(r, "apigw-requestid");
  EXPECT_EQ(request_id.size(), 16u);
  ASSERT_EQ(functions_.names, std::vector<std::string>{"poster"});
  auto event = json::Parse(functions_.events[0]);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->Find("routeKey")->text(), "POST /hello/{name}");
  EXPECT_EQ(event->Find("pathParameters")->Find("name")->text(), "ann");
  EXPECT_EQ(event->Find("queryStringParameters")->Find("x")->text(), "1");
  EXPECT_EQ(event->Find("body")->text(), "payload");
  const json::Value* ctx = event->Find("requestContext");
  EXPECT_EQ(ctx->Find("accountId")->text(), "111122223333");
  EXPECT_EQ(ctx->Find("requestId")->text(), request_id);
  EXPECT_EQ(ctx->Find("apiId")->text().size(), 10u);
  EXPECT_EQ(ctx->Find("http")->Find("sourceIp")->text(), "127.0.0.9");
}

TEST_F(FunctionRouteTest, FailuresAreApiGateways500) {
  functions_.next = FunctionReply{
      R"({"errorType":"Error","errorMessage":"boom"})", true, "req-2"};
  http::Response r = Call("GET", "/hello/x");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"message":"Internal Server Error"})");
  functions_.next = ResourceExhausted("throttled");
  EXPECT_EQ(Call("GET", "/hello/x").status, 500);
  functions_.next = NotFound("no such function");
  EXPECT_EQ(Call("GET", "/hello/x").status, 500);
  api_->SetFunctions(nullptr);
  EXPECT_EQ(Call("GET", "/hello/x").status, 500);
}

TEST_F(FunctionRouteTest, AnswersLaterWithoutHoldingTheCaller) {
  functions_.defer = true;
  std::optional<http::Response> out;
  api_->Handle(MakeRequest("GET", "/hello/later"),
               [&](http::Response resp) { out = resp; });
  EXPECT_FALSE(out);  // Handle returned; the function has not answered
  ASSERT_EQ(functions_.pending.size(), 1u);
  // The configuration may change meanwhile: the call keeps its route.
  ASSERT_TRUE(api_->SetConfig(Config{}).ok());
  std::thread([&] {
    functions_.pending[0](FunctionReply{R"("done")", false, "r"});
  }).join();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_EQ(out->body, "done");
}

TEST_F(FunctionRouteTest, MethodsPreflightAndOpenApi) {
  EXPECT_EQ(Call("PUT", "/hello/x").status, 405);
  EXPECT_EQ(Header(Call("PUT", "/hello/x"), "allow"), "GET, POST, OPTIONS");
  // HEAD is not GET for a function route.
  EXPECT_EQ(Call("HEAD", "/hello/x").status, 405);
  auto pre = Call("OPTIONS", "/hello/x", {{"origin", "https://a"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(Header(pre, "allow"), "GET, POST, OPTIONS");
  EXPECT_EQ(Header(pre, "access-control-allow-methods"), "GET, POST, OPTIONS");
  EXPECT_EQ(Header(Call("OPTIONS", "/payments/x"), "allow"),
            "GET, HEAD, OPTIONS");

  json::Value doc = Body(Call("GET", "/openapi.json"));
  const json::Value* path = doc.Find("paths")->Find("/hello/{name}");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->Find("get")->Find("operationId")->text(), "hello");
  EXPECT_FALSE(path->Find("get")->Find("requestBody"));
  const json::Value* post = path->Find("post");
  ASSERT_TRUE(post);
  EXPECT_TRUE(post->Find("requestBody"));
  EXPECT_TRUE(post->Find("responses")->Find("500"));
  EXPECT_NE(post->Find("summary")->text().find("poster"), std::string::npos);
  EXPECT_TRUE(
      doc.Find("components")->Find("schemas")->Find("IntegrationError"));
}

TEST_F(FunctionRouteTest, OnePreflightPerPathShape) {
  // A table route and a function route on one path shape, with their own
  // parameter names: each serves its method, one preflight lists both.
  Config config;
  Route get;
  get.name = "getPayment";
  get.path = "/payments/{paymentId}";
  get.table = "payments";
  Route post = FunctionRoute("POST", "/payments/{id}");
  config.routes = {get, post};
  ASSERT_TRUE(api_->SetConfig(config).ok());
  EXPECT_EQ(Call("GET", "/payments/p1").status, 200);
  http::Response r = CallWithBody("POST", "/payments/p1", "x");
  EXPECT_EQ(r.status, 200);
  auto event = json::Parse(functions_.events.back());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->Find("pathParameters")->Find("id")->text(), "p1");
  EXPECT_EQ(Header(Call("OPTIONS", "/payments/p1"), "allow"),
            "GET, HEAD, POST, OPTIONS");
}

TEST_F(FunctionRouteTest, TimeoutAnswers503AndTheLateReplyIsDropped) {
  Config config;
  Route slow = FunctionRoute("GET", "/slow");
  slow.timeout_ms = 50;
  config.routes = {slow};
  ASSERT_TRUE(api_->SetConfig(config).ok());
  functions_.defer = true;
  std::promise<http::Response> answer;
  int answers = 0;
  auto start = std::chrono::steady_clock::now();
  api_->Handle(MakeRequest("GET", "/slow"), [&](http::Response r) {
    if (++answers == 1) answer.set_value(std::move(r));
  });
  http::Response r = answer.get_future().get();
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(50));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, R"({"message":"Service Unavailable"})");
  EXPECT_EQ(Header(r, "apigw-requestid").size(), 16u);
  ASSERT_EQ(functions_.pending.size(), 1u);
  functions_.pending[0](FunctionReply{R"("late")", false, "r"});
  EXPECT_EQ(answers, 1);
}

// API Gateway's ANY and $default routes: a route of the request's method
// beats ANY on the same path, a more specific path beats both, and
// $default takes what nothing else matches (405s included).
class RouteKeyTest : public FunctionRouteTest {
 protected:
  void SetUp() override {
    FunctionRouteTest::SetUp();
    Route any = FunctionRoute("ANY", "/orders/{id}");
    any.name = "anyOrder";
    any.function = "any-fn";
    Route get = FunctionRoute("GET", "/orders/{id}");
    get.name = "getOrder";
    get.function = "get-fn";
    Route special = FunctionRoute("ANY", "/orders/special");
    special.name = "special";
    special.function = "special-fn";
    Route fallback = FunctionRoute("ANY", "$default");
    fallback.name = "fallback";
    fallback.function = "default-fn";
    Route table;
    table.name = "getPayment";
    table.path = "/payments/{paymentId}";
    table.table = "payments";
    config_.routes = {any, get, special, fallback, table};
    config_.cors.allowed_origins = {"*"};
    ASSERT_TRUE(api_->SetConfig(config_).ok());
    functions_.next =
        FunctionReply{R"({"statusCode":200,"body":"ok"})", false, "r"};
  }
  // The function and routeKey of the last invocation.
  std::pair<std::string, std::string> Last() {
    if (functions_.events.empty()) return {};
    auto event = json::Parse(functions_.events.back());
    EXPECT_TRUE(event.ok());
    return {functions_.names.back(),
            event.ok() ? event->Find("routeKey")->text() : ""};
  }
  Config config_;
};

TEST_F(RouteKeyTest, SpecificMethodThenAnyThenDefault) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(Call("GET", "/orders/1").status, 200);
  EXPECT_EQ(Last(), (P{"get-fn", "GET /orders/{id}"}));
  EXPECT_EQ(CallWithBody("POST", "/orders/1", "x").status, 200);
  EXPECT_EQ(Last(), (P{"any-fn", "ANY /orders/{id}"}));
  auto event = json::Parse(functions_.events.back());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->Find("requestContext")->Find("http")->Find("method")->text(),
            "POST");
  EXPECT_EQ(event->Find("requestContext")->Find("routeKey")->text(),
            "ANY /orders/{id}");
  EXPECT_EQ(event->Find("pathParameters")->Find("id")->text(), "1");
  Call("DELETE", "/orders/2");
  EXPECT_EQ(Last(), (P{"any-fn", "ANY /orders/{id}"}));
  // HEAD reaches ANY (the server sends the reply's length, not its body).
  EXPECT_EQ(Call("HEAD", "/orders/3").status, 200);
  EXPECT_EQ(Last(), (P{"any-fn", "ANY /orders/{id}"}));
  // A literal path beats a parameter whatever the methods.
  Call("GET", "/orders/special");
  EXPECT_EQ(Last(), (P{"special-fn", "ANY /orders/special"}));

  // $default: an unknown path, a path too long, a method the table route
  // does not serve; no path parameters, the query as sent.
  size_t before = functions_.events.size();
  EXPECT_EQ(Call("GET", "/nothing/here?a=1&a=2").status, 200);
  EXPECT_EQ(Last(), (P{"default-fn", "$default"}));
  event = json::Parse(functions_.events.back());
  ASSERT_TRUE(event.ok());
  EXPECT_FALSE(event->Find("pathParameters"));
  EXPECT_EQ(event->Find("rawPath")->text(), "/nothing/here");
  EXPECT_EQ(event->Find("queryStringParameters")->Find("a")->text(), "1,2");
  EXPECT_EQ(event->Find("requestContext")->Find("routeKey")->text(),
            "$default");
  Call("GET", "/orders/1/items");
  EXPECT_EQ(Last(), (P{"default-fn", "$default"}));
  CallWithBody("POST", "/payments/p1", "x");
  EXPECT_EQ(Last(), (P{"default-fn", "$default"}));
  EXPECT_EQ(functions_.events.size(), before + 3);
  // Table routes and /openapi.json are unchanged.
  EXPECT_EQ(Call("GET", "/payments/p1").status, 200);
  EXPECT_EQ(Call("GET", "/payments/none").status, 404);
  EXPECT_EQ(Call("GET", "/openapi.json").status, 200);
  EXPECT_EQ(functions_.events.size(), before + 3);
}

TEST_F(RouteKeyTest, PreflightWithAndWithoutCors) {
  // CORS configured: riffle answers every preflight, as API Gateway does.
  size_t before = functions_.events.size();
  http::Response pre =
      Call("OPTIONS", "/orders/1", {{"origin", "https://app.example"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(Header(pre, "allow"),
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  EXPECT_EQ(Header(pre, "access-control-allow-origin"), "*");
  pre = Call("OPTIONS", "/unrouted", {{"origin", "https://app.example"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(Header(pre, "access-control-allow-methods"),
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  EXPECT_EQ(functions_.events.size(), before);
  // No CORS: OPTIONS is a method like any other, for ANY and $default.
  config_.cors = Cors{};
  ASSERT_TRUE(api_->SetConfig(config_).ok());
  Call("OPTIONS", "/orders/1");
  EXPECT_EQ(Last(), (std::pair<std::string, std::string>{"any-fn",
                                                         "ANY /orders/{id}"}));
  Call("OPTIONS", "/unrouted");
  EXPECT_EQ(Last(),
            (std::pair<std::string, std::string>{"default-fn", "$default"}));
  // A path without ANY keeps its own preflight.
  EXPECT_EQ(Header(Call("OPTIONS", "/payments/p1"), "allow"),
            "GET, HEAD, OPTIONS");
}

TEST_F(RouteKeyTest, WithoutDefaultUnmatchedIsStill404And405) {
  config_.routes.erase(config_.routes.begin() + 3);  // $default
  ASSERT_TRUE(api_->SetConfig(config_).ok());
  http::Response r = Call("GET", "/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Body(r).Find("code")->text(), "NotFound");
  r = Call("POST", "/payments/p1");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "allow"), "GET, HEAD, OPTIONS");
}

TEST_F(RouteKeyTest, OpenApiWritesAnyAndDefaultAsApiGatewayExportsThem) {
  json::Value doc = Body(Call("GET", "/openapi.json"));
  const json::Value* paths = doc.Find("paths");
  const json::Value* any =
      paths->Find("/orders/{id}")->Find("x-amazon-apigateway-any-method");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->Find("operationId")->text(), "anyOrder");
  EXPECT_EQ(
      paths->Find("/orders/{id}")->Find("get")->Find("operationId")->text(),
      "getOrder");
  const json::Value* fallback =
      paths->Find("$default")->Find("x-amazon-apigateway-any-method");
  ASSERT_TRUE(fallback);
  EXPECT_TRUE(fallback->Find("isDefaultRoute")->bool_value());
  EXPECT_EQ(fallback->Find("operationId")->text(), "fallback");
}

TEST_F(RouteKeyTest, AnEventOverLambdasLimitIs413) {
  size_t before = functions_.events.size();
  // Text stays text: the event is the body plus ~1 KB.
  http::Response r =
      CallWithBody("POST", "/orders/1", std::string(6 << 20, 'a'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"message":"Request Entity Too Large"})");
  EXPECT_EQ(Header(r, "apigw-requestid").size(), 16u);
  EXPECT_EQ(functions_.events.size(), before);
  // Binary bodies are base64 in the event: 4.5 MB is over 6 MB there.
  std::optional<http::Response> out;
  api_->Handle(MakeRequest("POST", "/orders/1",
                           {{"content-type", "application/octet-stream"}},
                           std::string(4608 << 10, '\xff')),
               [&](http::Response resp) { out = resp; });
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 413);
  EXPECT_EQ(CallWithBody("POST", "/orders/1", std::string(5 << 20, 'a')).status,
            200);
}

TEST(DeadlineTimer, RunsInDeadlineOrderAndCancels) {
  DeadlineTimer timer;
  std::mutex mu;
  std::vector<int> ran;
  std::promise<void> last;
  auto now = DeadlineTimer::Clock::now();
  auto note = [&](int n) {
    return [&, n] {
      std::lock_guard l(mu);
      ran.push_back(n);
      if (n == 3) last.set_value();
    };
  };
  timer.At(now + std::chrono::milliseconds(30), note(3));
  timer.At(now + std::chrono::milliseconds(10), note(1));
  auto cancelled = timer.At(now + std::chrono::milliseconds(20), note(2));
  timer.At(now - std::chrono::milliseconds(5), note(0));  // already due
  timer.Cancel(cancelled);
  last.get_future().get();
  std::lock_guard l(mu);
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 3}));
}

TEST(FunctionRouteConfig, Validation) {
  Route ok = FunctionRoute("DELETE", "/x/{id}");
  EXPECT_TRUE(ValidateRoute(ok).ok());
  Route r = ok;
  r.method = "OPTIONS";
  EXPECT_FALSE(ValidateRoute(r).ok());
  r = ok;
  r.method = "HEAD";
  EXPECT_FALSE(ValidateRoute(r).ok());
  r = ok;
  r.function = "";
  EXPECT_FALSE(ValidateRoute(r).ok());
  r = ok;
  r.timeout_ms = 49;
  EXPECT_FALSE(ValidateRoute(r).ok());
  r.timeout_ms = 30001;
  EXPECT_FALSE(ValidateRoute(r).ok());
  r = ok;
  r.table = "t";
  EXPECT_FALSE(ValidateRoute(r).ok());
  Route table;
  table.name = "t";
  table.path = "/t/{id}";
  table.table = "t";
  table.function = "f";
  EXPECT_FALSE(ValidateRoute(table).ok());
  table.function = "";
  table.method = "POST";
  EXPECT_FALSE(ValidateRoute(table).ok());
  table.method = "ANY";
  EXPECT_FALSE(ValidateRoute(table).ok());

  Route any = FunctionRoute("ANY", "/x/{id}");
  EXPECT_TRUE(ValidateRoute(any).ok());
  Route fallback = FunctionRoute("ANY", "$default");
  EXPECT_TRUE(ValidateRoute(fallback).ok());
  fallback.method = "GET";
  Status s = ValidateRoute(fallback);
  EXPECT_NE(s.message().find("its method is ANY"), std::string::npos)
      << s.message();
  Route table_default = table;
  table_default.method = "GET";
  table_default.path = "$default";
  s = ValidateRoute(table_default);
  EXPECT_NE(s.message().find("$default route invokes a function"),
            std::string::npos)
      << s.message();
  // Only the whole path is special.
  EXPECT_FALSE(ValidateRoute(FunctionRoute("ANY", "/$default/{x}/")).ok());
  EXPECT_FALSE(ValidateRoute(FunctionRoute("any", "/x")).ok());
}

// API Gateway's greedy path variables: "{proxy+}" ends a path and takes
// the rest of it; any route without one matches first.
TEST_F(RouteKeyTest, GreedyPathVariables) {
  Route pets = FunctionRoute("GET", "/pets/{proxy+}");
  pets.name = "pets";
  pets.function = "pets-fn";
  Route all = FunctionRoute("ANY", "/{proxy+}");
  all.name = "all";
  all.function = "all-fn";
  Route files;
  files.name = "files";
  files.path = "/files/{paymentId+}";
  files.table = "payments";
  config_.routes.push_back(pets);
  config_.routes.push_back(all);
  config_.routes.push_back(files);
  ASSERT_TRUE(api_->SetConfig(config_).ok());
  using P = std::pair<std::string, std::string>;
  Call("GET", "/pets/cat/1%2F2");
  EXPECT_EQ(Last(), (P{"pets-fn", "GET /pets/{proxy+}"}));
  auto event = json::Parse(functions_.events.back());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->Find("pathParameters")->Find("proxy")->text(), "cat/1/2");
  EXPECT_EQ(event->Find("rawPath")->text(), "/pets/cat/1%2F2");
  CallWithBody("POST", "/pets/cat", "x");
  EXPECT_EQ(Last(), (P{"all-fn", "ANY /{proxy+}"}));
  // Routes without a greedy variable first; $default only for "/".
  Call("GET", "/orders/1");
  EXPECT_EQ(Last(), (P{"get-fn", "GET /orders/{id}"}));
  Call("GET", "/orders/1/lines");
  EXPECT_EQ(Last(), (P{"all-fn", "ANY /{proxy+}"}));
  Call("GET", "/");
  EXPECT_EQ(Last(), (P{"default-fn", "$default"}));
  // A table route may end with one too: the key is the rest of the path.
  EXPECT_EQ(Call("GET", "/files/p1").status, 200);
  EXPECT_EQ(Call("GET", "/files/p1/x").status, 404);
  EXPECT_EQ(Call("GET", "/openapi.json").status, 200);
  json::Value doc = Body(Call("GET", "/openapi.json"));
  const json::Value* get =
      doc.Find("paths")->Find("/pets/{proxy+}")->Find("get");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->Find("parameters")->items()[0].Find("name")->text(), "proxy");
}

TEST(FunctionRouteConfig, GreedyTemplates) {
  std::vector<std::string> params;
  EXPECT_TRUE(PathParams("/a/{b}/{rest+}", &params));
  EXPECT_EQ(params, (std::vector<std::string>{"b", "rest"}));
  EXPECT_TRUE(PathParams("/{proxy+}", &params));
  EXPECT_EQ(params, std::vector<std::string>{"proxy"});
  EXPECT_FALSE(PathParams("/{proxy+}/b", &params));
  EXPECT_FALSE(PathParams("/{+}", &params));
  EXPECT_FALSE(PathParams("/a{b+}", &params));
}

// One route per method and path shape, whatever the names; a greedy
// variable is another shape than a plain one.
TEST_F(FunctionRouteTest, GreedyShapes) {
  Config config;
  Route a = FunctionRoute("GET", "/a/{x+}");
  a.name = "a";
  Route b = FunctionRoute("GET", "/a/{y+}");
  b.name = "b";
  config.routes = {a, b};
  Status s = api_->SetConfig(config);
  EXPECT_NE(s.message().find("another route serves GET /a/{y+}"),
            std::string::npos)
      << s.message();
  b.path = "/a/{y}";
  config.routes = {a, b};
  EXPECT_TRUE(api_->SetConfig(config).ok());
}

TEST(FunctionRouteConfig, RouteKeys) {
  EXPECT_EQ(RouteKey(FunctionRoute("GET", "/a/{b}")), "GET /a/{b}");
  EXPECT_EQ(RouteKey(FunctionRoute("ANY", "/a/{b}")), "ANY /a/{b}");
  EXPECT_EQ(RouteKey(FunctionRoute("ANY", "$default")), "$default");
}

}  // namespace
}  // namespace riffle::gateway
