#include "http/aws_json.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "core/metrics.h"
#include "http/ops.h"

namespace riffle::http {
namespace {

constexpr const char* kAuth =
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abcdef";

AwsJsonService KinesisLike() {
  AwsJsonService s;
  s.target_prefix = "Kinesis_20131202";
  s.content_type = "application/x-amz-json-1.1";
  s.metrics_service = "kinesis_test";
  s.operations["ListStreams"] = [](AwsJsonCall call, AwsJsonReply reply) {
    EXPECT_EQ(call.operation, "ListStreams");
    EXPECT_TRUE(call.body.is_object());
    EXPECT_EQ(call.credentials.access_key_id, "AKID");
    EXPECT_TRUE(call.request.body.empty());
    reply.Ok(R"({"StreamNames":[]})");
  };
  s.operations["Fail"] = [](AwsJsonCall, AwsJsonReply reply) {
    reply.Error({"ResourceNotFoundException", "Stream x not found", 400});
  };
  s.operations["Throw"] = [](AwsJsonCall, AwsJsonReply) {
    throw std::runtime_error("boom");
  };
  s.operations["EchoName"] = [](AwsJsonCall call, AwsJsonReply reply) {
    // As services quote a bad name back, whatever its bytes.
    reply.Error({"ValidationException",
                 "Value '" + call.body.Find("StreamName")->text() + "'", 400});
  };
  return s;
}

AwsJsonService DynamoLike() {
  AwsJsonService s;
  s.target_prefix = "DynamoDB_20120810";
  s.content_type = "application/x-amz-json-1.0";
  s.error_prefix = "com.amazonaws.dynamodb.v20120810#";
  s.framework_error_prefix = "com.amazon.coral.service#";
  s.missing_token_message = "Request is missing Authentication Token";
  s.internal_error_type = "InternalServerError";
  s.metrics_service = "dynamodb_test";
  s.crc32_header = true;
  s.operations["ListTables"] = [](AwsJsonCall, AwsJsonReply reply) {
    reply.Ok(R"({"TableNames":[]})");
  };
  s.operations["GetItem"] = [](AwsJsonCall, AwsJsonReply reply) {
    reply.Error({"ResourceNotFoundException", "Requested resource not found"});
  };
  s.operations["Throw"] = [](AwsJsonCall, AwsJsonReply) { throw 42; };
  return s;
}

class AwsJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.AddService(KinesisLike());
    router_.AddService(DynamoLike());
    router_.SetFallback([](Request req, Responder respond) {
      Response r;
      r.status = 299;
      r.body = "fallback " + req.path;
      respond(std::move(r));
    });
    handler_ = router_.AsHandler();
  }

  Response Call(std::string target, std::string content_type, std::string body,
                bool auth = true, std::string query = "") {
    Request req;
    req.method = "POST";
    req.path = "/";
    req.target = "/";
    req.query = std::move(query);
    if (!target.empty()) req.headers.push_back({"x-amz-target", target});
    if (!content_type.empty()) {
      req.headers.push_back({"content-type", content_type});
    }
    if (auth) {
      req.headers.push_back({"authorization", kAuth});
      req.headers.push_back({"x-amz-date", "20260101T000000Z"});
    }
    req.body = std::move(body);
    Response out;
    bool called = false;
    handler_(std::move(req), [&](Response r) {
      called = true;
      out = std::move(r);
    });
    EXPECT_TRUE(called);
    return out;
  }

  static std::string HeaderOf(const Response& r, std::string_view name) {
    for (const auto& h : r.headers) {
      if (h.name == name) return h.value;
    }
    return "<none>";
  }

  AwsJsonRouter router_;
  Handler handler_;
};

constexpr const char* kJ11 = "application/x-amz-json-1.1";
constexpr const char* kJ10 = "application/x-amz-json-1.0";

TEST_F(AwsJsonTest, DispatchesToOperation) {
  Response r = Call("Kinesis_20131202.ListStreams", kJ11, "{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"StreamNames":[]})");
  EXPECT_EQ(HeaderOf(r, "content-type"), kJ11);
  std::string id = HeaderOf(r, "x-amzn-requestid");
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(HeaderOf(Call("Kinesis_20131202.ListStreams", kJ11, "{}"),
                     "x-amzn-requestid"),
            id);  // a fresh id per request
  // Charset parameters and application/json are accepted.
  EXPECT_EQ(Call("Kinesis_20131202.ListStreams",
                 "application/x-amz-json-1.1; charset=utf-8", "{}")
                .status,
            200);
  EXPECT_EQ(
      Call("Kinesis_20131202.ListStreams", "application/json", "{}").status,
      200);
}

TEST_F(AwsJsonTest, ServiceErrorsUseServicePrefix) {
  Response r = Call("Kinesis_20131202.Fail", kJ11, "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"__type":"ResourceNotFoundException","message":"Stream x not found"})");
  r = Call("DynamoDB_20120810.GetItem", kJ10, "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"})");
  EXPECT_EQ(HeaderOf(r, "content-type"), kJ10);
  EXPECT_EQ(HeaderOf(r, "x-amz-crc32"), std::to_string(Crc32Ieee(r.body)));
}

TEST_F(AwsJsonTest, UnknownOperation) {
  for (const char* target : {"Kinesis_20131202.Nope", "Kinesis_20131202",
                             "Other_1.ListStreams", "Kinesis_20131202.", ""}) {
    Response r = Call(target, kJ11, "{}");
    if (std::string_view(target).empty()) {
      // No target but the protocol's content type: still AWS's answer.
      EXPECT_EQ(r.status, 400);
    }
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.body, R"({"__type":"UnknownOperationException"})") << target;
    EXPECT_EQ(HeaderOf(r, "content-type"), kJ11);
  }
  Response r = Call("DynamoDB_20120810.Nope", kJ10, "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"__type":"com.amazon.coral.service#UnknownOperationException"})");
}

TEST_F(AwsJsonTest, WrongContentType) {
  Response r = Call("Kinesis_20131202.ListStreams", "", "{}");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("<AccessDeniedException>"), std::string::npos);
  EXPECT_NE(r.body.find("Unable to determine service/operation name to be "
                        "authorized"),
            std::string::npos);
  EXPECT_EQ(HeaderOf(r, "content-type"), "<none>");
  r = Call("Kinesis_20131202.ListStreams", kJ10, "{}", /*auth=*/false);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("<MissingAuthenticationTokenException>"),
            std::string::npos);
  r = Call("DynamoDB_20120810.ListTables", "text/plain", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "<UnknownOperationException/>\n");
}

TEST_F(AwsJsonTest, SerializationErrors) {
  for (const char* body : {"", "hello", "{", "{\"a\":1} x"}) {
    Response r = Call("Kinesis_20131202.ListStreams", kJ11, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.body, R"({"__type":"SerializationException"})") << body;
  }
  Response r = Call("Kinesis_20131202.ListStreams", kJ11, "[1]");
  EXPECT_EQ(
      r.body,
      R"({"__type":"SerializationException","Message":"Start of list found where not expected"})");
  r = Call("Kinesis_20131202.ListStreams", kJ11, "\"s\"");
  EXPECT_EQ(r.body,
            R"({"__type":"SerializationException","Message":"Expected null"})");
  r = Call("DynamoDB_20120810.ListTables", kJ10, "nope");
  EXPECT_EQ(r.body,
            R"({"__type":"com.amazon.coral.service#SerializationException"})");
  // DynamoDB checks the signature before complaining about an empty body.
  r = Call("DynamoDB_20120810.ListTables", kJ10, "", /*auth=*/false);
  EXPECT_NE(r.body.find("MissingAuthenticationTokenException"),
            std::string::npos);
  r = Call("DynamoDB_20120810.ListTables", kJ10, "");
  EXPECT_EQ(r.body,
            R"({"__type":"com.amazon.coral.service#SerializationException"})");
}

TEST_F(AwsJsonTest, Authentication) {
  Response r = Call("Kinesis_20131202.ListStreams", kJ11, "{}", false);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"})");
  r = Call("DynamoDB_20120810.ListTables", kJ10, "{}", false);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(
      r.body,
      R"({"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"Request is missing Authentication Token"})");

  Request req;
  req.method = "POST";
  req.headers = {{"x-amz-target", "Kinesis_20131202.ListStreams"},
                 {"content-type", kJ11},
                 {"authorization", "X"}};
  req.body = "{}";
  Response out;
  handler_(req, [&](Response resp) { out = std::move(resp); });
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(
      out.body,
      R"({"__type":"IncompleteSignatureException","message":"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=X"})");

  // Presigned query instead of a header.
  r = Call("Kinesis_20131202.Fail", kJ11, "{}", false,
           "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&"
           "X-Amz-Signature=b&X-Amz-SignedHeaders=host&X-Amz-Date=d");
  EXPECT_NE(r.body.find("ResourceNotFoundException"), std::string::npos);
  r = Call("Kinesis_20131202.ListStreams", kJ11, "{}", false,
           "X-Amz-Algorithm=AWS4-HMAC-SHA256");
  EXPECT_NE(r.body.find("IncompleteSignatureException"), std::string::npos);
  EXPECT_NE(r.body.find("must include 'X-Amz-Credential'"), std::string::npos);
  r = Call("Kinesis_20131202.ListStreams", kJ11, "{}", true,
           "X-Amz-Algorithm=x");
  EXPECT_EQ(
      r.body,
      R"({"__type":"InvalidSignatureException","message":"Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."})");
}

// Headers may carry any byte above 0x7f (RFC 9110 obs-text) and the JSON
// parser keeps what a string holds, but an error that quotes them must
// still be UTF-8, the only encoding JSON has: SDKs that fail to decode the
// body report a generic error instead of the AWS one.
TEST_F(AwsJsonTest, ErrorMessagesQuotingInvalidUtf8StayUtf8) {
  Request req;
  req.method = "POST";
  req.headers = {{"x-amz-target", "Kinesis_20131202.ListStreams"},
                 {"content-type", kJ11},
                 {"authorization", "AWS4-HMAC-SHA256 \xff\xfe=\xc3"}};
  req.body = "{}";
  Response out;
  handler_(req, [&](Response resp) { out = std::move(resp); });
  EXPECT_EQ(out.status, 400);
  EXPECT_NE(out.body.find("Authorization=AWS4-HMAC-SHA256 "
                          "\xef\xbf\xbd\xef\xbf\xbd=\xef\xbf\xbd\"}"),
            std::string::npos)
      << out.body;

  // Valid sequences pass; overlong, surrogate and truncated ones do not.
  Response r = Call("Kinesis_20131202.EchoName", kJ11,
                    "{\"StreamName\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|"
                    "\xc0\xaf|\xed\xa0\x80|\xe2\x82\"}");
  EXPECT_EQ(r.body,
            "{\"__type\":\"ValidationException\",\"message\":\"Value '"
            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|"
            "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
            "\xef\xbf\xbd\xef\xbf\xbd'\"}");
}

TEST_F(AwsJsonTest, HandlerExceptionsBecome500) {
  Response r = Call("Kinesis_20131202.Throw", kJ11, "{}");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"__type":"InternalFailure"})");
  r = Call("DynamoDB_20120810.Throw", kJ10, "{}");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(
      r.body,
      R"({"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"})");
}

TEST_F(AwsJsonTest, FallbackAndMetrics) {
  Response r = Call("", "", "");
  EXPECT_EQ(r.status, 299);
  EXPECT_EQ(r.body, "fallback /");

  Call("Kinesis_20131202.ListStreams", kJ11, "{}");
  Call("Kinesis_20131202.Fail", kJ11, "{}");
  std::string text = metrics::Global().RenderText();
  EXPECT_NE(text.find("riffle_requests_total{service=\"kinesis_test\","
                      "operation=\"ListStreams\",status=\"200\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("riffle_requests_total{service=\"kinesis_test\","
                      "operation=\"Fail\",status=\"400\"}"),
            std::string::npos);
  EXPECT_NE(text.find("riffle_request_duration_seconds_count{service="
                      "\"kinesis_test\",operation=\"ListStreams\"}"),
            std::string::npos);
}

TEST(AwsJson, Crc32MatchesZlib) {
  EXPECT_EQ(Crc32Ieee(""), 0u);
  EXPECT_EQ(Crc32Ieee("123456789"), 0xcbf43926u);
}

TEST(AwsJson, MakeAwsJsonError) {
  Response r = MakeAwsJsonError({"ValidationException", "bad \"x\"", 400},
                                "application/x-amz-json-1.1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"__type":"ValidationException","message":"bad \"x\""})");
}

TEST(Ops, HealthMetricsAndPassThrough) {
  metrics::Global().GetCounter("riffle_ops_test_total", {}).Add();
  Handler h = MakeOpsHandler([](Request, Responder respond) {
    Response r;
    r.status = 418;
    respond(std::move(r));
  });
  auto call = [&](std::string method, std::string path) {
    Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    Response out;
    h(std::move(req), [&](Response r) { out = std::move(r); });
    return out;
  };
  Response r = call("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  r = call("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("riffle_ops_test_total"), std::string::npos);
  EXPECT_EQ(r.headers[0].value, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(call("POST", "/health").status, 418);
  EXPECT_EQ(call("GET", "/other").status, 418);
  Response missing;
  Request other;
  other.method = "GET";
  other.path = "/x";
  MakeOpsHandler(nullptr)(other, [&](Response r) { missing = std::move(r); });
  EXPECT_EQ(missing.status, 404);
}

}  // namespace
}  // namespace riffle::http
