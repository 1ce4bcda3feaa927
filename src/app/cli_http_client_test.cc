#include "app/cli_http_client.h"

#include <gtest/gtest.h>

namespace riffle::app {
namespace {

TEST(ParseCliUrl, HostPortAndPath) {
  auto u = ParseCliUrl("http://127.0.0.1:4566");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 4566);
  EXPECT_EQ(u->base_path, "");
  EXPECT_EQ(u->host_header, "127.0.0.1:4566");

  u = ParseCliUrl("http://localhost/prefix/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->base_path, "/prefix");

  u = ParseCliUrl("http://[::1]:8081");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8081);
}

TEST(ParseCliUrl, RejectsWhatItCannotSpeak) {
  EXPECT_FALSE(ParseCliUrl("https://kinesis.us-east-1.amazonaws.com").ok());
  EXPECT_FALSE(ParseCliUrl("127.0.0.1:4566").ok());
  EXPECT_FALSE(ParseCliUrl("http://:80").ok());
  EXPECT_FALSE(ParseCliUrl("http://host:0").ok());
  EXPECT_FALSE(ParseCliUrl("http://host:70000").ok());
  EXPECT_FALSE(ParseCliUrl("http://host:12ab").ok());
}

// The "get-vanilla" case of AWS's SigV4 test suite.
TEST(SigV4Authorization, MatchesAwsTestSuite) {
  const std::string auth = SigV4Authorization(
      "GET", "/",
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

TEST(CliHttpClient, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  CliHttpClient client(*ParseCliUrl("http://127.0.0.1:1"));
  auto r = client.Send("GET", "/", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace riffle::app
