#include "http/client.h"

#include <gtest/gtest.h>

#include "http/sigv4.h"
#include "http/test_util.h"

namespace riffle::http {
namespace {

TEST(ParseUrl, HostPortAndPath) {
  auto u = ParseUrl("http://127.0.0.1:4566");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 4566);
  EXPECT_EQ(u->base_path, "");
  EXPECT_EQ(u->host_header, "127.0.0.1:4566");

  u = ParseUrl("http://localhost/prefix/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->base_path, "/prefix");

  u = ParseUrl("http://[::1]:8081");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8081);
}

TEST(ParseUrl, RejectsWhatItCannotSpeak) {
  EXPECT_FALSE(ParseUrl("https://kinesis.us-east-1.amazonaws.com").ok());
  EXPECT_FALSE(ParseUrl("127.0.0.1:4566").ok());
  EXPECT_FALSE(ParseUrl("http://:80").ok());
  EXPECT_FALSE(ParseUrl("http://host:0").ok());
  EXPECT_FALSE(ParseUrl("http://host:70000").ok());
  EXPECT_FALSE(ParseUrl("http://host:12ab").ok());
  EXPECT_FALSE(ParseUrl("http://[::1:80").ok());
}

TEST(UriEncode, KeepsOnlyUnreserved) {
  EXPECT_EQ(UriEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(UriEncode("a b/c:d+"), "a%20b%2Fc%3Ad%2B");
}

// The "get-vanilla" case of AWS's SigV4 test suite.
TEST(SigV4Authorization, AmzDateIsBasicIso8601Utc) {
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
}

TEST(SigV4Authorization, MatchesAwsTestSuite) {
  const std::string auth = SigV4Authorization(
      "GET", "/", "",
      {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}},
      "", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      "us-east-1", "service", "20150830T123600Z");
  EXPECT_EQ(auth,
            "AWS4-HMAC-SHA256 "
            "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature="
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

// A Lambda REST path with an escaped character and an unsorted query: the
// path is signed encoded twice and the query sorted. Expected value from
// botocore's SigV4Auth for the same request.
TEST(SigV4Authorization, CanonicalizesPathAndQueryLikeBotocore) {
  const std::string auth = SigV4Authorization(
      "GET", "/2015-03-31/functions/my%3Afn/configuration",
      "Qualifier=a%20b&Marker=x",
      {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}},
      "", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      "us-east-1", "lambda", "20150830T123600Z");
  EXPECT_NE(auth.find("Signature=e036ff27ac1c18fef12f879c881af9a41aee90c59280"
                      "b2d872fccacb10a3dc42"),
            std::string::npos)
      << auth;
}

TEST(SignRequest, AddsDateTokenAndAuthorization) {
  AwsCredentials c{"AKID", "secret", "token", "eu-west-1"};
  std::vector<Header> headers = {{"host", "h:1"}};
  SignRequest("POST", "/", "{}", c, "kinesis", &headers);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[1].name, "x-amz-date");
  EXPECT_EQ(headers[2].name, "x-amz-security-token");
  EXPECT_EQ(headers[3].name, "authorization");
  auto parsed = ParseSigV4Authorization(headers[3].value);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->region, "eu-west-1");
  EXPECT_EQ(parsed->service, "kinesis");
  EXPECT_EQ(
      parsed->signed_headers,
      (std::vector<std::string>{"host", "x-amz-date", "x-amz-security-token"}));
}

TEST(Client, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  Client client(*ParseUrl("http://127.0.0.1:1"));
  auto r = client.Send("GET", "/", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST(Client, SendsAndKeepsTheConnectionAlive) {
  test::TestServer ts([](Request req, Responder respond) {
    Response r;
    r.status = req.method == "POST" ? 201 : 404;
    r.SetHeader("x-path", req.target);
    const std::string* h = req.FindHeader("x-custom");
    r.body = req.body + "|" + (h ? *h : "");
    respond(std::move(r));
  });
  Client client(
      *ParseUrl("http://127.0.0.1:" + std::to_string(ts.port()) + "/base"));
  for (int i = 0; i < 3; ++i) {
    auto r = client.Send("POST", "/x?y=1", {{"x-custom", "v"}}, "body");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "body|v");
    ASSERT_NE(r->FindHeader("x-path"), nullptr);
    EXPECT_EQ(*r->FindHeader("x-path"), "/base/x?y=1");
  }
  auto r = client.Send("GET", "", {}, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);  // not an error at this level
  EXPECT_EQ(*r->FindHeader("x-path"), "/base");
}

TEST(Client, SilentServerTimesOut) {
  // A listening socket that nobody accepts from: the kernel completes the
  // handshake, and no byte ever comes back.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  Client client(
      *ParseUrl("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))),
      ClientOptions{std::chrono::milliseconds(200)});
  auto r = client.Send("GET", "/", {}, "");
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace riffle::http
