#include "http/message.h"

#include <gtest/gtest.h>

#include "http/sigv4.h"

namespace riffle::http {
namespace {

TEST(Message, FindAndSetHeader) {
  Request req;
  req.headers = {
      {"content-type", "a"}, {"x-amz-target", "b"}, {"content-type", "c"}};
  ASSERT_NE(req.FindHeader("content-type"), nullptr);
  EXPECT_EQ(*req.FindHeader("content-type"), "a");
  EXPECT_EQ(req.FindHeader("missing"), nullptr);

  Response r;
  r.SetHeader("Content-Type", "x").SetHeader("content-type", "y");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "content-type");
  EXPECT_EQ(r.headers[0].value, "y");
}

TEST(Message, PercentDecode) {
  std::string out;
  EXPECT_TRUE(PercentDecode("/a%20b%2Fc+d", &out));
  EXPECT_EQ(out, "/a b/c+d");
  EXPECT_TRUE(PercentDecode("", &out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(PercentDecode("%e2%82%AC", &out));
  EXPECT_EQ(out, "\xe2\x82\xac");
  for (const char* bad : {"%", "%2", "%zz", "a%g0", "%0"}) {
    EXPECT_FALSE(PercentDecode(bad, &out)) << bad;
  }
}

TEST(Message, ParseQuery) {
  auto q = ParseQuery("a=1&b=x%20y&&c&d=&e=%zz&a=2");
  ASSERT_EQ(q.size(), 6u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(q[1], (std::pair<std::string, std::string>{"b", "x y"}));
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(q[3], (std::pair<std::string, std::string>{"d", ""}));
  EXPECT_EQ(q[4], (std::pair<std::string, std::string>{"e", "%zz"}));
  EXPECT_EQ(q[5], (std::pair<std::string, std::string>{"a", "2"}));
  EXPECT_TRUE(ParseQuery("").empty());
}

TEST(SigV4, ParsesCanonicalHeader) {
  auto c = ParseSigV4Authorization(
      "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/"
      "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, "
      "Signature=0123abcdef");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKID");
  EXPECT_EQ(c->date, "20260101");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->service, "kinesis");
  EXPECT_EQ(c->signed_headers,
            (std::vector<std::string>{"host", "x-amz-date", "x-amz-target"}));
  EXPECT_EQ(c->signature, "0123abcdef");
}

TEST(SigV4, ToleratesSpacingAndOrder) {
  for (const char* h : {
           "AWS4-HMAC-SHA256 Signature=ab,Credential=K/20260101/r/s/"
           "aws4_request,SignedHeaders=host",
           "  AWS4-HMAC-SHA256   SignedHeaders=host   Signature=ab "
           "Credential=K/20260101/r/s/aws4_request/  ",
           "AWS4-HMAC-SHA256 Credential=K/20260101/r/s/aws4_request,\t"
           "SignedHeaders=host, Signature=ab, Extra=1",
       }) {
    auto c = ParseSigV4Authorization(h);
    ASSERT_TRUE(c.ok()) << h << ": " << c.status().ToString();
    EXPECT_EQ(c->access_key_id, "K");
    EXPECT_EQ(c->service, "s");
    EXPECT_EQ(c->signature, "ab");
  }
}

TEST(SigV4, RejectsMalformed) {
  struct Case {
    const char* header;
    const char* message_part;
  } cases[] = {
      {"", "requires 'Credential'"},
      {"X",
       "Authorization header requires 'Credential' parameter. "
       "Authorization header requires 'Signature' parameter. "
       "Authorization header requires 'SignedHeaders' parameter. "
       "Authorization=X"},
      {"AWS4-HMAC-SHA256 Credential=K/20260101/r/s/aws4_request, "
       "Signature=ab",
       "requires 'SignedHeaders'"},
      {"AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=ab",
       "missing equal-sign"},
      {"AWS4-HMAC-SHA1 Credential=K/20260101/r/s/aws4_request, "
       "SignedHeaders=host, Signature=ab",
       "Unsupported AWS 'algorithm'"},
      {"AWS4-HMAC-SHA256 Credential=K/20260101/r/s, SignedHeaders=host, "
       "Signature=ab",
       "exactly 5 slash-delimited"},
      {"AWS4-HMAC-SHA256 Credential=K/2026/r/s/aws4_request, "
       "SignedHeaders=host, Signature=ab",
       "YYYYMMDD"},
      {"AWS4-HMAC-SHA256 Credential=K/20260101/r/s/aws4_request, "
       "SignedHeaders=host, Signature=xyz",
       "hexadecimal"},
      {"AWS4-HMAC-SHA256 Credential=K/20260101/r/s/aws4_request, "
       "SignedHeaders=host, Signature=ab, Signature=cd",
       "duplicate"},
  };
  for (const auto& c : cases) {
    auto r = ParseSigV4Authorization(c.header);
    ASSERT_FALSE(r.ok()) << c.header;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << c.header << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace riffle::http
