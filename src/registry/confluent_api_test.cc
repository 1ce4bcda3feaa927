#include "registry/confluent_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <random>

#include "json/json.h"

namespace riffle::registry {
namespace {

namespace fs = std::filesystem;

// Drives the adapter's Handler directly (no sockets).
class ConfluentApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("confluent_api_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(std::random_device{}()));
    kv::Options o;
    o.path = (dir_ / "kv").string();
    o.sync = false;
    store_ = std::move(kv::Store::Open(o)).value();
    pool_ = std::make_unique<ThreadPool>(1);
    service_ = std::move(Service::Open({store_.get(), pool_.get()})).value();
    handler_ = MakeConfluentApi(*service_);
  }
  void TearDown() override {
    handler_ = nullptr;
    service_.reset();
    pool_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  http::Response Call(std::string method, std::string target,
                      std::string body = "",
                      std::vector<http::Header> headers = {}) {
    http::Request r;
    r.method = std::move(method);
    r.target = target;
    size_t q = target.find('?');
    r.query = q == std::string::npos ? "" : target.substr(q + 1);
    http::PercentDecode(target.substr(0, q), &r.path);
    r.body = std::move(body);
    r.headers = std::move(headers);
    std::promise<http::Response> p;
    handler_(std::move(r), [&p](http::Response resp) { p.set_value(resp); });
    return p.get_future().get();
  }
  static std::string Header(const http::Response& r, std::string_view name) {
    for (const auto& h : r.headers) {
      if (h.name == name) return h.value;
    }
    return "";
  }
  static int64_t ErrorCode(const http::Response& r) {
    auto v = json::Parse(r.body);
    if (!v.ok() || !v->Find("error_code")) return 0;
    return *v->Find("error_code")->AsInt64();
  }

  fs::path dir_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Service> service_;
  http::Handler handler_;
};

constexpr char kBody[] =
    R"({"schema":"{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"})";

TEST_F(ConfluentApiTest, RegisterGetLookup) {
  auto r = Call("POST", "/subjects/a%2Fb-value/versions", kBody);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"id":1})");
  EXPECT_EQ(Header(r, "content-type"),
            "application/vnd.schemaregistry.v1+json");
  r = Call("GET", "/schemas/ids/1");
  EXPECT_EQ(
      r.body,
      R"({"schema":"{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"})");
  r = Call("GET", "/schemas/ids/1?fetchMaxId=true");
  EXPECT_NE(r.body.find(R"("maxId":1)"), std::string::npos);
  r = Call("GET", "/subjects/a%2Fb-value/versions/latest");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind(R"({"subject":"a/b-value","version":1,"id":1,)", 0),
            0u)
      << r.body;
  r = Call("POST", "/subjects/a%2Fb-value", kBody);
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/subjects/a%2Fb-value/versions/1/schema");
  EXPECT_EQ(r.body.rfind(R"({"type":"record")", 0), 0u);
  r = Call("GET", "/subjects");
  EXPECT_EQ(r.body, R"(["a/b-value"])");
  r = Call("GET", "/schemas/ids/1/versions");
  EXPECT_EQ(r.body, R"([{"subject":"a/b-value","version":1}])");
  r = Call("GET", "/schemas/types");
  EXPECT_EQ(r.body, R"(["JSON","PROTOBUF","AVRO"])");
}

TEST_F(ConfluentApiTest, Errors) {
  struct Case {
    std::string method, target, body;
    int status;
    int64_t code;
  };
  ASSERT_EQ(Call("POST", "/subjects/s/versions", kBody).status, 200);
  for (const Case& c : std::vector<Case>{
           {"GET", "/subjects/nope/versions", "", 404, 40401},
           {"GET", "/subjects/s/versions/9", "", 404, 40402},
           {"GET", "/subjects/s/versions/zero", "", 422, 42202},
           {"GET", "/subjects/s/versions/0", "", 422, 42202},
           {"GET", "/schemas/ids/77", "", 404, 40403},
           {"GET", "/schemas/ids/abc", "", 404, 404},
           {"POST", "/subjects/s/versions", R"({"schema":"{"})", 422, 42201},
           {"POST", "/subjects/s/versions", R"({})", 422, 42201},
           {"POST", "/subjects/s/versions", R"({"schema":"\"int\"",
             "schemaType":"XML"})",
            422, 42201},
           {"POST", "/subjects/s/versions", "not json", 400, 400},
           {"PUT", "/config", R"({"compatibility":"SIDEWAYS"})", 422, 42203},
           {"PUT", "/mode", R"({"mode":"WRITEONLY"})", 422, 42204},
           {"GET", "/config/s", "", 404, 40408},
           {"GET", "/mode/s", "", 404, 40409},
           {"DELETE", "/subjects/s?permanent=true", "", 404, 40405},
           {"DELETE", "/subjects/s/versions/1?permanent=true", "", 404, 40407},
           {"GET", "/nowhere", "", 404, 404},
           {"PATCH", "/subjects", "", 405, 405},
       }) {
    auto r = Call(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status)
        << c.method << " " << c.target << " " << r.body;
    EXPECT_EQ(ErrorCode(r), c.code)
        << c.method << " " << c.target << " " << r.body;
  }
}

TEST_F(ConfluentApiTest, ContentNegotiation) {
  auto r = Call("GET", "/", "", {{"accept", "application/json"}});
  EXPECT_EQ(Header(r, "content-type"), "application/json");
  r = Call("GET", "/", "",
           {{"accept",
             "application/vnd.schemaregistry+json; q=0.9, "
             "application/vnd.schemaregistry.v1+json"}});
  EXPECT_EQ(Header(r, "content-type"),
            "application/vnd.schemaregistry.v1+json");
  r = Call("GET", "/", "", {{"accept", "text/html"}});
  EXPECT_EQ(r.status, 406);
  r = Call("POST", "/subjects/s/versions", kBody,
           {{"content-type", "text/plain"}});
  EXPECT_EQ(r.status, 415);
  r = Call("POST", "/subjects/s/versions", kBody,
           {{"content-type", "application/json; charset=utf-8"}});
  EXPECT_EQ(r.status, 200);
}

TEST_F(ConfluentApiTest, ConfigAndCompatibility) {
  auto r = Call("GET", "/config");
  EXPECT_EQ(r.body, R"({"compatibilityLevel":"BACKWARD"})");
  r = Call("PUT", "/config/s", R"({"compatibility":"full"})");
  EXPECT_EQ(r.body, R"({"compatibility":"FULL"})");
  r = Call("GET", "/config/s");
  EXPECT_EQ(r.body, R"({"compatibilityLevel":"FULL"})");
  r = Call("GET", "/config/other?defaultToGlobal=true");
  EXPECT_EQ(r.body, R"({"compatibilityLevel":"BACKWARD"})");
  ASSERT_EQ(Call("POST", "/subjects/s/versions", kBody).status, 200);
  std::string incompatible =
      R"({"schema":"{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"b\",\"type\":\"int\"}]}"})";
  r = Call("POST", "/compatibility/subjects/s/versions/latest?verbose=true",
           incompatible);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind(R"({"is_compatible":false,"messages":[)", 0), 0u)
      << r.body;
  r = Call("POST", "/compatibility/subjects/s/versions", incompatible);
  EXPECT_EQ(r.body, R"({"is_compatible":false})");
  r = Call("POST", "/subjects/s/versions", incompatible);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(ErrorCode(r), 409);
}

}  // namespace
}  // namespace riffle::registry
