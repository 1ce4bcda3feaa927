#include "http/rest_router.h"

#include <gtest/gtest.h>

namespace riffle::http {
namespace {

Request Make(std::string method, std::string target) {
  Request r;
  r.method = std::move(method);
  r.target = target;
  size_t q = target.find('?');
  r.query = q == std::string::npos ? "" : target.substr(q + 1);
  PercentDecode(target.substr(0, q), &r.path);
  return r;
}

// Routes every answer into `last` ("route|params|query").
class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto named = [](std::string name) {
      return [name](Request, RouteMatch m, Responder respond) {
        Response r;
        r.body = name;
        for (const auto& [k, v] : m.params) r.body += "|" + k + "=" + v;
        for (const auto& [k, v] : m.query) r.body += "|?" + k + "=" + v;
        respond(std::move(r));
      };
    };
    router_.Add("GET", "/", named("root"));
    router_.Add("GET", "/subjects", named("list"));
    router_.Add("GET", "/subjects/{subject}/versions", named("versions"));
    router_.Add("POST", "/subjects/{subject}/versions", named("register"));
    router_.Add("GET", "/subjects/{subject}/versions/{version}",
                named("version"));
    router_.Add("DELETE", "/subjects/{subject}/versions/{version}",
                named("delete"));
    router_.Add("GET", "/schemas/{x}", named("schema"));
    router_.Add("GET", "/schemas/types", named("types"));
    router_.Add("PUT", "/mode/{subject}", named("put-mode"));
    router_.Add("PUT", "/mode/special", named("put-special"));
  }

  Response Call(std::string method, std::string target) {
    Response out;
    bool called = false;
    router_.AsHandler()(Make(std::move(method), std::move(target)),
                        [&](Response r) {
                          out = std::move(r);
                          called = true;
                        });
    EXPECT_TRUE(called);
    return out;
  }

  RestRouter router_;
};

TEST_F(RouterTest, MatchesLiteralsAndParams) {
  EXPECT_EQ(Call("GET", "/").body, "root");
  EXPECT_EQ(Call("GET", "/subjects").body, "list");
  EXPECT_EQ(Call("GET", "/subjects/").body, "list");
  EXPECT_EQ(Call("GET", "/subjects/s1/versions").body, "versions|subject=s1");
  EXPECT_EQ(Call("POST", "/subjects/s1/versions?normalize=true").body,
            "register|subject=s1|?normalize=true");
  EXPECT_EQ(Call("GET", "/subjects/a/versions/latest?deleted=true&x").body,
            "version|subject=a|version=latest|?deleted=true|?x=");
}

TEST_F(RouterTest, DecodesEachSegmentAlone) {
  EXPECT_EQ(Call("GET", "/subjects/a%2Fb%20c/versions").body,
            "versions|subject=a/b c");
  EXPECT_EQ(Call("GET", "/subjects/%E2%82%AC/versions/1").body,
            "version|subject=\xE2\x82\xAC|version=1");
  EXPECT_EQ(Call("GET", "/subjects?subjectPrefix=a%3Ab").body,
            "list|?subjectPrefix=a:b");
  EXPECT_EQ(Call("GET", "/subjects/%zz/versions").status, 404);
}

TEST_F(RouterTest, LiteralBeatsParam) {
  EXPECT_EQ(Call("GET", "/schemas/types").body, "types");
  EXPECT_EQ(Call("GET", "/schemas/ids").body, "schema|x=ids");
  EXPECT_EQ(Call("PUT", "/mode/special").body, "put-special");
  EXPECT_EQ(Call("PUT", "/mode/other").body, "put-mode|subject=other");
}

TEST_F(RouterTest, NotFoundAndMethodNotAllowed) {
  EXPECT_EQ(Call("GET", "/nothing").status, 404);
  EXPECT_EQ(Call("GET", "/subjects/s/versions/1/extra").status, 404);
  Response r = Call("PUT", "/subjects/s/versions/1");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.at(0).name, "allow");
  EXPECT_EQ(r.headers.at(0).value, "GET, DELETE");
  // A literal route under another method shadows a parameter route.
  EXPECT_EQ(Call("GET", "/mode/special").status, 405);

  router_.SetNotFound([](Request req, Responder respond) {
    Response r;
    r.status = 404;
    r.body = "custom " + req.path;
    respond(std::move(r));
  });
  router_.SetMethodNotAllowed(
      [](Request, std::vector<std::string> allowed, Responder respond) {
        Response r;
        r.status = 405;
        r.body = std::to_string(allowed.size());
        respond(std::move(r));
      });
  EXPECT_EQ(Call("GET", "/x%20y").body, "custom /x y");
  EXPECT_EQ(Call("POST", "/").body, "1");
}

// Routes of any method: a route of the request's method wins on the same
// pattern, a more specific pattern wins whatever its method, and a path
// they match is never a 405.
TEST(RestRouterAnyMethod, SpecificMethodThenAny) {
  RestRouter router;
  auto named = [](std::string name) {
    return [name](Request, RouteMatch m, Responder respond) {
      Response r;
      r.body = name;
      for (const auto& [k, v] : m.params) r.body += "|" + k + "=" + v;
      respond(std::move(r));
    };
  };
  router.Add(std::string(RestRouter::kAnyMethod), "/orders/{id}", named("any"));
  router.Add("GET", "/orders/{id}", named("get"));
  router.Add("DELETE", "/orders/special", named("delete-special"));
  router.Add(std::string(RestRouter::kAnyMethod), "/things/{x}/y",
             named("any-things"));
  router.Add("GET", "/things/a/y", named("get-a"));
  auto call = [&](std::string method, std::string target) {
    Response out;
    router.Dispatch(Make(std::move(method), std::move(target)),
                    [&](Response r) { out = std::move(r); });
    return out;
  };
  EXPECT_EQ(call("GET", "/orders/1").body, "get|id=1");
  EXPECT_EQ(call("POST", "/orders/1").body, "any|id=1");
  EXPECT_EQ(call("PROPFIND", "/orders/1").body, "any|id=1");
  EXPECT_EQ(call("DELETE", "/orders/special").body, "delete-special");
  // /orders/special is DELETE's alone, but ANY /orders/{id} matches the
  // others by method and path: no 405.
  EXPECT_EQ(call("GET", "/orders/special").body, "get|id=special");
  EXPECT_EQ(call("PUT", "/orders/special").body, "any|id=special");
  EXPECT_EQ(call("GET", "/things/a/y").body, "get-a");
  EXPECT_EQ(call("POST", "/things/a/y").body, "any-things|x=a");
  EXPECT_EQ(call("GET", "/things/b/y").body, "any-things|x=b");
  EXPECT_EQ(call("GET", "/orders").status, 404);
}

// Greedy variables: one segment or more, after every pattern without one,
// the longer literal prefix first; methods as for other patterns.
TEST(RestRouterAnyMethod, GreedyVariables) {
  RestRouter router;
  auto named = [](std::string name) {
    return [name](Request, RouteMatch m, Responder respond) {
      Response r;
      r.body = name;
      for (const auto& [k, v] : m.params) r.body += "|" + k + "=" + v;
      respond(std::move(r));
    };
  };
  std::string any(RestRouter::kAnyMethod);
  router.Add("GET", "/pets/dog/1", named("dog1"));
  router.Add("GET", "/pets/dog/{id}", named("dog"));
  router.Add("GET", "/pets/{proxy+}", named("pets"));
  router.Add(any, "/{proxy+}", named("all"));
  router.Add("GET", "/{x}/b", named("xb"));
  auto call = [&](std::string method, std::string target) {
    Response out;
    router.Dispatch(Make(std::move(method), std::move(target)),
                    [&](Response r) { out = std::move(r); });
    return out;
  };
  // API Gateway's own example of route selection.
  EXPECT_EQ(call("GET", "/pets/dog/1").body, "dog1");
  EXPECT_EQ(call("GET", "/pets/dog/2").body, "dog|id=2");
  EXPECT_EQ(call("GET", "/pets/cat/1").body, "pets|proxy=cat/1");
  EXPECT_EQ(call("POST", "/pets/dog/1").body, "all|proxy=pets/dog/1");
  EXPECT_EQ(call("GET", "/pets/a%2Fb/c%20d").body, "pets|proxy=a/b/c d");
  EXPECT_EQ(call("GET", "/pets").body, "all|proxy=pets");
  // A full match beats a greedy one whatever its segments.
  EXPECT_EQ(call("GET", "/pets/b").body, "xb|x=pets");
  EXPECT_EQ(call("DELETE", "/pets/b").body, "all|proxy=pets/b");
  // At least one segment: "/" is nobody's.
  EXPECT_EQ(call("GET", "/").status, 404);
}

TEST(SplitPath, Forms) {
  std::vector<std::string> s;
  ASSERT_TRUE(SplitPath("/a//b/?q=1", &s));
  EXPECT_EQ(s, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(SplitPath("http://h:1/x%2F", &s));
  EXPECT_EQ(s, (std::vector<std::string>{"x/"}));
  ASSERT_TRUE(SplitPath("/", &s));
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(SplitPath("/%4", &s));
}

}  // namespace
}  // namespace riffle::http
