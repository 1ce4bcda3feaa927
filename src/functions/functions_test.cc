// Function configuration, ARNs and names, the Lambda error shape, and the
// process runtime against real child processes (a small python3 runtime
// speaking the Runtime API).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "functions/function_config.h"
#include "functions/lambda_api.h"
#include "functions/process_runtime.h"
#include "http/server.h"
#include "json/json.h"

namespace riffle::functions {
namespace {

namespace fs = std::filesystem;

TEST(FunctionNameTest, AcceptsNamesAndArns) {
  EXPECT_EQ(*ParseFunctionName("my-fn"), "my-fn");
  EXPECT_EQ(*ParseFunctionName("my-fn:$LATEST"), "my-fn");
  EXPECT_EQ(*ParseFunctionName("123456789012:function:my-fn"), "my-fn");
  EXPECT_EQ(
      *ParseFunctionName("arn:aws:lambda:us-east-1:123456789012:function:f_1"),
      "f_1");
  EXPECT_EQ(ParseFunctionName("bad name").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFunctionName("f:prod").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(IsValidFunctionName(std::string(65, 'a')));
}

TEST(FunctionConfigTest, StoredJsonRoundTrips) {
  FunctionConfig c;
  c.name = "f";
  c.runtime = "provided.al2";
  c.environment = {{"A", "1"}};
  c.reserved_concurrency = 2;
  c.timeout_seconds = 7;
  Result<FunctionConfig> back = FunctionFromStoredJson(ToStoredJson(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->environment, c.environment);
  EXPECT_EQ(back->reserved_concurrency, 2);
  EXPECT_EQ(back->timeout_seconds, 7);

  MappingConfig m;
  m.uuid = "u";
  m.function_name = "f";
  m.starting_position = StartingPosition::kAtTimestamp;
  m.starting_position_timestamp_ms = 1234;
  m.report_batch_item_failures = true;
  Result<MappingConfig> mb = MappingFromStoredJson(ToStoredJson(m));
  ASSERT_TRUE(mb.ok());
  EXPECT_EQ(mb->starting_position, StartingPosition::kAtTimestamp);
  EXPECT_EQ(mb->starting_position_timestamp_ms, 1234);
  EXPECT_TRUE(mb->report_batch_item_failures);
}

TEST(FunctionConfigTest, WireShapeHasLambdaFields) {
  FunctionConfig c;
  c.name = "f";
  c.runtime = "nodejs20.x";
  json::Value v = FunctionConfigurationJson(c, ArnContext{});
  EXPECT_EQ(v.Find("FunctionArn")->text(),
            "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_EQ(v.Find("Version")->text(), "$LATEST");
  EXPECT_EQ(v.Find("State")->text(), "Active");
  EXPECT_EQ(LambdaTimestamp(0), "1970-01-01T00:00:00.000+0000");
  EXPECT_EQ(*StreamNameFromArn("arn:aws:kinesis:us-east-1:0:stream/s1"), "s1");
  EXPECT_FALSE(StreamNameFromArn("arn:aws:sqs:us-east-1:0:q").ok());
}

TEST(LambdaErrorTest, ShapeAndTable) {
  http::Response r = LambdaError(NotFound("Function not found: x"));
  EXPECT_EQ(r.status, 404);
  bool found = false;
  for (const auto& h : r.headers)
    if (h.name == "x-amzn-errortype" && h.value == "ResourceNotFoundException")
      found = true;
  EXPECT_TRUE(found);
  json::Value body = *json::Parse(r.body);
  EXPECT_EQ(body.Find("Type")->text(), "User");
  EXPECT_EQ(body.Find("message")->text(), "Function not found: x");
  EXPECT_EQ(LambdaError(AlreadyExists("x")).status, 409);
  EXPECT_EQ(LambdaError(InvalidArgument("x")).status, 400);
  EXPECT_EQ(LambdaError(ResourceExhausted("x")).status, 429);
  EXPECT_EQ(LambdaError(Internal("x")).status, 500);
  EXPECT_TRUE(IsLambdaPath("/2015-03-31/functions/f/invocations"));
  EXPECT_TRUE(IsLambdaPath("/2017-10-31/functions/f/concurrency"));
  EXPECT_FALSE(IsLambdaPath("/health"));
}

// A runtime written in python3 (standard library only): it loops on GET
// next and answers by the event's "action".
constexpr char kBootstrap[] = R"(#!/usr/bin/env python3
import ctypes, json, os, sys, time, urllib.request
inherited = [fd for fd in range(3, 256) if os.path.exists(f"/proc/self/fd/{fd}")]
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
print("init", os.environ["AWS_LAMBDA_FUNCTION_NAME"], flush=True)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        assert r.headers["Lambda-Runtime-Deadline-Ms"]
        assert r.headers["Lambda-Runtime-Invoked-Function-Arn"]
        event = json.loads(r.read())
    action = event.get("action")
    print("handling", action, flush=True)
    if action == "sleep":
        time.sleep(10)
    if action == "exit":
        sys.exit(3)
    if action == "inspect":
        sig = ctypes.c_int(0)
        ctypes.CDLL(None).prctl(2, ctypes.byref(sig))  # PR_GET_PDEATHSIG
        event = {"inherited": inherited, "pdeathsig": sig.value}
    if action == "error":
        body = json.dumps({"errorType": "Boom", "errorMessage": "bad"}).encode()
        urllib.request.urlopen(urllib.request.Request(
            api + "/invocation/" + rid + "/error", data=body, method="POST"))
        continue
    body = json.dumps({"echo": event, "env": os.environ.get("MY_VAR")}).encode()
    urllib.request.urlopen(urllib.request.Request(
        api + "/invocation/" + rid + "/response", data=body, method="POST"))
)";

class ProcessRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle-fn-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "bootstrap") << kBootstrap;
    fs::permissions(dir_ / "bootstrap", fs::perms::owner_all);
    io_.Start();
    ProcessSpec spec;
    spec.argv = {(dir_ / "bootstrap").string()};
    spec.cwd = dir_.string();
    spec.env = {{"PATH", "/usr/bin:/bin"},
                {"AWS_LAMBDA_FUNCTION_NAME", "f"},
                {"MY_VAR", "v1"}};
    spec.timeout_seconds = 1;
    spec.max_processes = 2;
    spec.function_arn = "arn:aws:lambda:us-east-1:0:function:f";
    runtime_ = std::make_shared<ProcessRuntime>(
        io_, "f", spec, [](std::string_view) {}, nullptr);
    poller_ = std::thread([this] {
      while (!stop_) {
        std::vector<int> fds;
        runtime_->Poll(&fds);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    poller_.join();
    runtime_->Shutdown(Unavailable("test over"));
    runtime_.reset();
    io_.Stop();
    fs::remove_all(dir_);
  }
  InvokeResult Call(const std::string& payload) {
    std::promise<InvokeResult> p;
    runtime_->Invoke(payload, "",
                     [&p](InvokeResult r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    return f.get();
  }

  fs::path dir_;
  http::IoPool io_{1};
  std::shared_ptr<ProcessRuntime> runtime_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

TEST_F(ProcessRuntimeTest, InvokesErrorsTimesOutAndRecoversFromCrashes) {
  InvokeResult ok = Call(R"({"action":"echo","n":1})");
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.function_error, "");
  json::Value v = *json::Parse(ok.payload);
  EXPECT_EQ(v.Find("env")->text(), "v1");
  EXPECT_NE(ok.log.find("handling echo"), std::string::npos) << ok.log;
  EXPECT_NE(ok.log.find("START RequestId: " + ok.request_id),
            std::string::npos);
  EXPECT_NE(ok.log.find("REPORT RequestId: "), std::string::npos);

  InvokeResult err = Call(R"({"action":"error"})");
  EXPECT_EQ(err.function_error, "Unhandled");
  EXPECT_EQ(json::Parse(err.payload)->Find("errorType")->text(), "Boom");

  InvokeResult slow = Call(R"({"action":"sleep"})");
  EXPECT_EQ(slow.function_error, "Unhandled");
  EXPECT_EQ(json::Parse(slow.payload)->Find("errorType")->text(),
            "Sandbox.Timedout");

  InvokeResult crash = Call(R"({"action":"exit"})");
  EXPECT_EQ(crash.function_error, "Unhandled");
  EXPECT_NE(crash.payload.find("exit status 3"), std::string::npos)
      << crash.payload;

  // A fresh process takes over.
  InvokeResult again = Call(R"({"action":"echo"})");
  EXPECT_EQ(again.function_error, "");
  EXPECT_LE(runtime_->process_count(), 2u);
}

// A process gets none of riffle's descriptors (its listeners and other
// processes' connections would outlive riffle in it) and dies with riffle
// (SIGKILL), so that a kill -9 leaves no handler behind.
TEST_F(ProcessRuntimeTest, ProcessesInheritNoDescriptorAndDieWithRiffle) {
  InvokeResult r = Call(R"({"action":"inspect"})");
  ASSERT_EQ(r.function_error, "") << r.payload;
  json::Value v = *json::Parse(r.payload);
  const json::Value* echo = v.Find("echo");
  ASSERT_NE(echo, nullptr) << r.payload;
  EXPECT_TRUE(echo->Find("inherited")->items().empty()) << r.payload;
  EXPECT_EQ(echo->Find("pdeathsig")->AsInt64(), SIGKILL) << r.payload;
}

TEST_F(ProcessRuntimeTest, ConcurrentInvocationsUseSeveralProcesses) {
  std::vector<std::promise<InvokeResult>> ps(6);
  for (auto& p : ps)
    runtime_->Invoke(R"({"action":"echo"})", "",
                     [&p](InvokeResult r) { p.set_value(std::move(r)); });
  for (auto& p : ps) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    EXPECT_EQ(f.get().function_error, "");
  }
  EXPECT_LE(runtime_->process_count(), 2u);
}

}  // namespace
}  // namespace riffle::functions
