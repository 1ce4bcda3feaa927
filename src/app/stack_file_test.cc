#include "app/stack_file.h"

#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"

namespace riffle::app {
namespace {

namespace fs = std::filesystem;

class StackFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_stack_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "fn");
    std::ofstream(dir_ / "payment.avsc") << R"({"type":"string"})";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<Stack> Parse(const std::string& text) {
    return ParseStack(dir_ / "stack.yaml", text);
  }
  // The error message, or "ok".
  std::string Error(const std::string& text) {
    auto s = Parse(text);
    return s.ok() ? "ok" : s.status().message();
  }

  fs::path dir_;
};

constexpr char kFull[] = R"(
streams:
  payments: {shards: 2, retention_hours: 48}
  events: {mode: on-demand}
schemas:
  payments-value: {file: payment.avsc, compatibility: BACKWARD}
tables:
  payments:
    partition_key: {name: paymentId, type: S}
    ttl: expiresAt
    indexes:
      byAccount:
        partition_key: {name: accountId}
        sort_key: {name: createdAt, type: N}
        projection: [amount]
functions:
  store:
    runtime: riffle:avro-to-table
    environment: {TABLE: payments}
    concurrency: 2
  echo:
    runtime: provided.al2
    code: fn
    timeout_seconds: 10
mappings:
  - function: store
    stream: payments
    batch_size: 50
    report_batch_item_failures: true
    on_failure: events
read_api:
  title: Payments
  cors: {allowed_origins: ["*"], max_age_seconds: 60}
routes:
  getPayment:
    path: /payments/{paymentId}
    action: get_item
    table: payments
  listPayments:
    path: /accounts/{accountId}/payments
    action: query
    table: payments
    index: byAccount
    sort_key_params: {from: from, to: to}
    limit: {default: 10, max: 50}
    projection: [paymentId, amount]
    examples: ["/accounts/a-1/payments?limit=5"]
)";

TEST_F(StackFileTest, EveryKind) {
  auto s = Parse(kFull);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->streams.size(), 2u);
  EXPECT_EQ(s->streams[0].name, "payments");
  EXPECT_EQ(*s->streams[0].shards, 2);
  EXPECT_EQ(s->streams[0].retention_hours, 48);
  EXPECT_EQ(s->streams[1].mode, streams::StreamMode::kOnDemand);
  ASSERT_EQ(s->schemas.size(), 1u);
  EXPECT_EQ(s->schemas[0].schema, R"({"type":"string"})");
  EXPECT_EQ(*s->schemas[0].compatibility, "BACKWARD");
  ASSERT_EQ(s->tables.size(), 1u);
  const tables::TableSpec& t = s->tables[0].spec;
  EXPECT_EQ(t.key.hash.name, "paymentId");
  EXPECT_FALSE(t.key.range);
  ASSERT_EQ(t.indexes.size(), 1u);
  EXPECT_EQ(t.indexes[0].key.range->type, tables::AttributeType::kN);
  EXPECT_EQ(t.indexes[0].projection, tables::ProjectionType::kInclude);
  EXPECT_EQ(t.attributes.size(), 3u);
  EXPECT_EQ(*s->tables[0].ttl, "expiresAt");
  ASSERT_EQ(s->functions.size(), 2u);
  EXPECT_EQ(s->functions[0].config.environment.at("TABLE"), "payments");
  EXPECT_EQ(*s->functions[0].concurrency, 2);
  EXPECT_EQ(*s->functions[1].code, dir_ / "fn");
  ASSERT_EQ(s->mappings.size(), 1u);
  EXPECT_EQ(s->mappings[0].config.batch_size, 50);
  EXPECT_EQ(s->mappings[0].config.starting_position,
            functions::StartingPosition::kTrimHorizon);
  EXPECT_EQ(s->mappings[0].on_failure_stream, "events");
  ASSERT_EQ(s->read_api.routes.size(), 2u);
  EXPECT_EQ(s->read_api.routes[1].kind, gateway::RouteKind::kQuery);
  EXPECT_EQ(s->read_api.routes[1].max_limit, 50);
  ASSERT_EQ(s->route_examples.size(), 1u);
  EXPECT_EQ(s->route_examples.at("listPayments"),
            std::vector<std::string>{"/accounts/a-1/payments?limit=5"});
  EXPECT_EQ(s->read_api.cors.allowed_origins, std::vector<std::string>{"*"});
}

TEST_F(StackFileTest, EmptyStack) {
  EXPECT_EQ(Error(""), "ok");
  EXPECT_EQ(Error("streams: {}\n"), "ok");
}

TEST_F(StackFileTest, FunctionRoutes) {
  auto s = Parse(R"(
routes:
  hello:
    method: POST
    path: /hello/{name}
    function: greeter
    description: Says hello
    timeout_ms: 5000
    examples: [/hello/ann]
  plain:
    path: /plain
    function: greeter
)");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->read_api.routes.size(), 2u);
  const gateway::Route& r = s->read_api.routes[0];
  EXPECT_EQ(r.kind, gateway::RouteKind::kFunction);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.function, "greeter");
  EXPECT_EQ(r.table, "");
  EXPECT_EQ(r.timeout_ms, 5000);
  EXPECT_EQ(s->read_api.routes[1].method, "GET");
  EXPECT_EQ(s->read_api.routes[1].timeout_ms, 30000);
  EXPECT_EQ(s->route_examples["hello"], std::vector<std::string>{"/hello/ann"});
}

// API Gateway's route keys "ANY /path" and "$default".
TEST_F(StackFileTest, AnyAndDefaultRoutes) {
  auto s = Parse(R"(
routes:
  orders:
    method: ANY
    path: /orders/{id}
    function: api
  fallback:
    path: $default
    function: api
  fallback2:
    method: ANY
    path: /other
    function: api
)");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->read_api.routes.size(), 3u);
  EXPECT_EQ(s->read_api.routes[0].method, "ANY");
  EXPECT_EQ(gateway::RouteKey(s->read_api.routes[0]), "ANY /orders/{id}");
  EXPECT_EQ(s->read_api.routes[1].method, "ANY");
  EXPECT_EQ(s->read_api.routes[1].path, "$default");
  EXPECT_EQ(gateway::RouteKey(s->read_api.routes[1]), "$default");
}

// Every mapping option, and the Lambda names they become.
TEST_F(StackFileTest, EveryMappingOption) {
  auto s = Parse(R"(
mappings:
  - function: f
    stream: in
    starting_position: AT_TIMESTAMP
    starting_position_timestamp: 2024-05-01T14:00:00.250+02:00
    batch_size: 500
    batching_window_seconds: 5
    parallelization_factor: 4
    maximum_retry_attempts: 3
    maximum_record_age_seconds: 3600
    bisect_batch_on_function_error: true
    report_batch_item_failures: true
    on_failure: dlq
    tumbling_window_seconds: 60
    enabled: false
    filters:
      - data:
          kind: [payment]
          amount: [{numeric: [">", 100, "<=", 1.5e3]}]
          code: ["100", 100]
          flag: [true, "true", null]
      - '{"kinesis": {"partitionKey": [{"prefix": "eu-"}]}}'
  - function: g
    stream: in
    starting_position_timestamp: 1714564800.5
    starting_position: AT_TIMESTAMP
)");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->mappings.size(), 2u);
  const functions::MappingConfig& c = s->mappings[0].config;
  EXPECT_EQ(c.starting_position, functions::StartingPosition::kAtTimestamp);
  EXPECT_EQ(c.starting_position_timestamp_ms, 1714564800250);  // 12:00:00.25Z
  EXPECT_EQ(c.batch_size, 500);
  EXPECT_EQ(c.maximum_batching_window_seconds, 5);
  EXPECT_EQ(c.parallelization_factor, 4);
  EXPECT_EQ(c.maximum_retry_attempts, 3);
  EXPECT_EQ(c.maximum_record_age_seconds, 3600);
  EXPECT_TRUE(c.bisect_batch_on_function_error);
  EXPECT_TRUE(c.report_batch_item_failures);
  EXPECT_EQ(s->mappings[0].on_failure_stream, "dlq");
  EXPECT_EQ(c.tumbling_window_seconds, 60);
  EXPECT_FALSE(c.enabled);
  // Quoted YAML scalars are strings; plain ones numbers, booleans or null.
  std::vector<std::string> want = {
      R"({"data":{"kind":["payment"],"amount":[{"numeric":[">",100,"<=",)"
      R"(1.5e3]}],"code":["100",100],"flag":[true,"true",null]}})",
      R"({"kinesis": {"partitionKey": [{"prefix": "eu-"}]}})"};
  EXPECT_EQ(c.filter_patterns, want);
  EXPECT_EQ(s->mappings[1].config.starting_position_timestamp_ms,
            1714564800500);
  EXPECT_TRUE(s->mappings[1].config.filter_patterns.empty());
  EXPECT_EQ(s->mappings[1].config.tumbling_window_seconds, 0);
}

// Each error names the file, the line and the field.
TEST_F(StackFileTest, ErrorsNameFileLineAndField) {
  std::string file = (dir_ / "stack.yaml").string();
  struct Case {
    const char* yaml;
    std::string expected;  // after "FILE:"
  } cases[] = {
      {"streams:\n  s: {shards: two}\n",
       "2: streams.s.shards: must be an integer"},
      {"streams:\n  s: {shards: 0}\n",
       "2: streams.s.shards: must be from 1 to 10000"},
      {"streams:\n  s:\n    mode: fast\n",
       "3: streams.s.mode: must be provisioned or on-demand"},
      {"streams:\n  s: {}\n",
       "2: streams.s.shards: is required for a provisioned stream"},
      {"\n\nstreems: {}\n", "3: streems: unknown field"},
      {"tables:\n  t:\n    partition_key: {name: id, type: X}\n",
       "3: tables.t.partition_key.type: must be S, N or B"},
      {"tables:\n  t:\n    sort_key: {name: id}\n",
       "3: tables.t.partition_key: is required"},
      {"tables:\n  t:\n    partition_key: {name: id}\n    shards: 1\n",
       "4: tables.t.shards: unknown field"},
      {"schemas:\n  s-value:\n    file: missing.avsc\n",
       "3: schemas.s-value.file: cannot read"},
      {"schemas:\n  s-value: {file: payment.avsc, compatibility: SOME}\n",
       "2: schemas.s-value.compatibility: must be NONE"},
      {"functions:\n  f:\n    runtime: cobol\n",
       "3: functions.f.runtime: is not a runtime"},
      {"functions:\n  f:\n    runtime: provided.al2\n",
       "3: functions.f.code: is required"},
      {"mappings:\n  - function: f\n    stream: s\n    batch_size: -5\n",
       "4: mappings[0].batch_size: must be from 1 to 10000"},
      {"mappings:\n  - function: f\n", "2: mappings[0].stream: is required"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    tumbling_window_seconds: 901\n",
       "4: mappings[0].tumbling_window_seconds: must be from 0 to 900"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    maximum_record_age_seconds: 30\n",
       "4: mappings[0].maximum_record_age_seconds: must be -1 or from 60"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    starting_position: AT_TIMESTAMP\n",
       "2: mappings[0].starting_position_timestamp: is required with "
       "AT_TIMESTAMP"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    starting_position: AT_TIMESTAMP\n"
       "    starting_position_timestamp: 2024-13-01T00:00:00Z\n",
       "5: mappings[0].starting_position_timestamp: must be an ISO 8601"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    starting_position_timestamp: 1714564800\n",
       "4: mappings[0].starting_position_timestamp: applies to "
       "starting_position AT_TIMESTAMP"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    starting_position: EARLIEST\n",
       "4: mappings[0].starting_position: must be TRIM_HORIZON, LATEST or "
       "AT_TIMESTAMP"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    filters: {data: {a: [1]}}\n",
       "4: mappings[0].filters: must be a list of patterns"},
      {"mappings:\n  - function: f\n    stream: s\n    filters:\n"
       "      - {data: {a: [1]}}\n      - {data: {a: 1}}\n",
       "6: mappings[0].filters[1]: Invalid filter pattern definition."},
      {"mappings:\n  - function: f\n    stream: s\n    filters:\n"
       "      - '{\"data\": '\n",
       "5: mappings[0].filters[0]: must be a mapping or a JSON object"},
      {"mappings:\n  - function: f\n    stream: s\n"
       "    filters: [{a: [1]}, {a: [2]}, {a: [3]}, {a: [4]}, {a: [5]},"
       " {a: [6]}]\n",
       "4: mappings[0].filters: at most 5 patterns"},
      {"routes:\n  r:\n    path: /a/{id}\n    action: put\n    table: t\n",
       "4: routes.r.action: must be get_item or query"},
      {"routes:\n  r:\n    path: /a/{id}\n    action: get_item\n"
       "    table: t\n    examples: [a/1]\n",
       "6: routes.r.examples: each example is a path starting with /"},
      {"routes:\n  r:\n    path: nope\n    action: get_item\n    table: t\n",
       "3: routes.r: route r: path nope must be"},
      {"tables:\n  t: {partition_key: {name: id}}\nroutes:\n  r:\n"
       "    path: /a/{id}\n    action: query\n    table: t\n    index: i\n",
       "8: routes.r.index: table t declares no index i"},
      {"routes:\n  r:\n    path: /a/{id}\n    action: query\n    table: t\n"
       "    limit: {max: 5000}\n",
       "6: routes.r.limit.max: must be from 1 to 1000"},
      {"routes:\n  r:\n    path: /a\n    function: f\n    table: t\n",
       "5: routes.r.table: does not apply to a function route"},
      {"routes:\n  r:\n    path: /a\n    method: OPTIONS\n    function: f\n",
       "3: routes.r: route r: method must be GET, POST, PUT, PATCH, DELETE "
       "or ANY"},
      {"routes:\n  r:\n    path: $default\n    method: GET\n"
       "    function: f\n",
       "4: routes.r.method: the $default route serves every method: leave "
       "method out or write ANY"},
      {"routes:\n  r:\n    path: $default\n    action: get_item\n"
       "    table: t\n",
       "3: routes.r: route r: the $default route invokes a function"},
      {"routes:\n  r:\n    path: /a\n    method: ANY\n    action: get_item\n"
       "    table: t\n",
       "3: routes.r: route r: method must be GET (table routes only read)"},
      {"routes:\n  r:\n    path: /a\n    method: any\n    function: f\n",
       "3: routes.r: route r: method must be GET, POST, PUT, PATCH, DELETE "
       "or ANY"},
      {"routes:\n  r:\n    path: $default\n    function: f\n"
       "  s:\n    path: $default\n    method: ANY\n    function: g\n",
       "6: routes.s.path: route r serves it already"},
      {"routes:\n  r:\n    path: /a\n    function: \"\"\n",
       "4: routes.r.function: must not be empty"},
      {"routes:\n  r:\n    path: /a\n    method: POST\n    action: get_item\n"
       "    table: t\n",
       "3: routes.r: route r: method must be GET (table routes only read)"},
      {"routes:\n  r:\n    path: /a\n    action: get_item\n    table: t\n"
       "    timeout_ms: 100\n",
       "6: routes.r.timeout_ms: applies to function routes"},
      {"routes:\n  r:\n    path: /a\n    function: f\n    timeout_ms: 40000\n",
       "5: routes.r.timeout_ms: must be from 50 to 30000"},
      {"streams: [1, 2\n", ""},  // YAML syntax: the parser's own words
  };
  for (const Case& c : cases) {
    std::string e = Error(c.yaml);
    EXPECT_EQ(e.rfind(file + ":" + c.expected, 0), 0u)
        << "yaml:\n"
        << c.yaml << "\ngot: " << e << "\nwant prefix: " << file << ":"
        << c.expected;
  }
}

}  // namespace
}  // namespace riffle::app
