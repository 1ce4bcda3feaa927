// The apply decisions (stack_apply.h) against an in-memory fake backend:
// what is created, what differs and which update fixes it, the report's
// wording, the dry run, and errors naming the file, line and field.
#include "app/stack_apply.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "gtest/gtest.h"

namespace riffle::app {
namespace {

namespace fs = std::filesystem;

// Holds every item in maps and records each mutation by name, so that a
// test sees exactly which calls an apply made. Not thread-safe.
class FakeBackend : public StackBackend {
 public:
  std::map<std::string, std::string> compat;
  std::map<std::string, std::vector<std::string>> schemas;  // by subject
  std::map<std::string, StreamState> streams;
  std::map<std::string, TableState> tables;
  std::map<std::string, functions::FunctionConfig> functions;
  std::vector<functions::MappingConfig> mappings;
  std::string routes;
  std::vector<std::string> calls;

  std::string Describe() const override { return "fake"; }

  Result<std::optional<std::string>> SubjectCompatibility(
      const std::string& s) override {
    auto it = compat.find(s);
    if (it == compat.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status SetSubjectCompatibility(const std::string& s,
                                 const std::string& l) override {
    calls.push_back("SetCompatibility " + s);
    compat[s] = l;
    return Status::Ok();
  }
  Result<std::optional<SchemaRef>> LookupSchema(
      const std::string& s, const std::string& text) override {
    auto& v = schemas[s];
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] == text)
        return std::optional<SchemaRef>(
            SchemaRef{static_cast<int>(i + 1), static_cast<int64_t>(i + 1)});
    return std::optional<SchemaRef>();
  }
  Result<SchemaRef> RegisterSchema(const std::string& s,
                                   const std::string& text) override {
    calls.push_back("RegisterSchema " + s);
    schemas[s].push_back(text);
    int n = static_cast<int>(schemas[s].size());
    return SchemaRef{n, n};
  }

  // Subjects whose next version the registry would refuse, and why.
  std::map<std::string, std::vector<std::string>> incompatible;
  Result<std::vector<std::string>> TestCompatibility(
      const std::string& s, const std::string&) override {
    auto it = incompatible.find(s);
    if (it == incompatible.end()) return std::vector<std::string>();
    return it->second;
  }

  Result<std::optional<StreamState>> DescribeStream(
      const std::string& name) override {
    auto it = streams.find(name);
    if (it == streams.end()) return std::optional<StreamState>();
    return std::optional<StreamState>(it->second);
  }
  Status CreateStream(const StackStream& s) override {
    calls.push_back("CreateStream " + s.name);
    streams[s.name] = {"arn:stream/" + s.name, s.mode, s.shards.value_or(4),
                       24};
    return Status::Ok();
  }
  Status UpdateStreamMode(const std::string& n,
                          streams::StreamMode m) override {
    calls.push_back("UpdateStreamMode " + n);
    streams[n].mode = m;
    return Status::Ok();
  }
  Status UpdateShardCount(const std::string& n, int shards) override {
    calls.push_back("UpdateShardCount " + n + " " + std::to_string(shards));
    streams[n].open_shards = shards;
    return Status::Ok();
  }
  Status SetRetention(const std::string& n, int hours, bool inc) override {
    calls.push_back(std::string(inc ? "Increase" : "Decrease") + "Retention " +
                    n);
    streams[n].retention_hours = hours;
    return Status::Ok();
  }

  Result<std::optional<TableState>> DescribeTable(
      const std::string& name) override {
    auto it = tables.find(name);
    if (it == tables.end()) return std::optional<TableState>();
    return std::optional<TableState>(it->second);
  }
  Status CreateTable(const tables::TableSpec& spec) override {
    calls.push_back("CreateTable " + spec.name);
    tables[spec.name] = {spec.key, spec.indexes, {}};
    return Status::Ok();
  }
  Status AddIndexes(const std::string& t,
                    const std::vector<tables::KeyElement>&,
                    const std::vector<tables::IndexSpec>& add) override {
    for (const auto& i : add) {
      calls.push_back("AddIndex " + t + " " + i.name);
      tables[t].indexes.push_back(i);
    }
    return Status::Ok();
  }
  Status UpdateTimeToLive(const std::string& t,
                          const tables::TimeToLive& ttl) override {
    calls.push_back("UpdateTimeToLive " + t);
    tables[t].ttl = ttl;
    return Status::Ok();
  }

  Result<CodePackage> PackageCode(const fs::path& dir) override {
    if (!fs::is_directory(dir))
      return InvalidArgument(dir.string() + " is not a directory");
    CodePackage p;
    p.directory = dir.string();
    p.sha256 = "sha:" + dir.string() + ":" + code_version;
    return p;
  }
  std::string code_version = "1";
  Result<std::optional<functions::FunctionConfig>> GetFunction(
      const std::string& name) override {
    auto it = functions.find(name);
    if (it == functions.end())
      return std::optional<functions::FunctionConfig>();
    return std::optional<functions::FunctionConfig>(it->second);
  }
  Status CreateFunction(const functions::FunctionConfig& c,
                        const CodePackage* code) override {
    calls.push_back("CreateFunction " + c.name);
    functions[c.name] = c;
    if (code) functions[c.name].code_sha256 = code->sha256;
    return Status::Ok();
  }
  Status UpdateFunctionConfiguration(
      const std::string& n, const functions::FunctionUpdate& u) override {
    calls.push_back("UpdateFunctionConfiguration " + n);
    if (u.environment) functions[n].environment = *u.environment;
    if (u.timeout_seconds) functions[n].timeout_seconds = *u.timeout_seconds;
    if (u.memory_mb) functions[n].memory_mb = *u.memory_mb;
    if (u.handler) functions[n].handler = *u.handler;
    if (u.description) functions[n].description = *u.description;
    if (u.runtime) functions[n].runtime = *u.runtime;
    return Status::Ok();
  }
  Status UpdateFunctionCode(const std::string& n,
                            const CodePackage& code) override {
    calls.push_back("UpdateFunctionCode " + n);
    functions[n].code_sha256 = code.sha256;
    return Status::Ok();
  }
  Status PutFunctionConcurrency(const std::string& n,
                                std::optional<int> r) override {
    calls.push_back("PutFunctionConcurrency " + n);
    functions[n].reserved_concurrency = r;
    return Status::Ok();
  }

  Result<std::optional<functions::MappingConfig>> FindMapping(
      const std::string& f, const std::string& arn) override {
    for (const auto& m : mappings)
      if (m.function_name == f && m.event_source_arn == arn)
        return std::optional<functions::MappingConfig>(m);
    return std::optional<functions::MappingConfig>();
  }
  Result<std::string> CreateMapping(
      const functions::MappingConfig& c) override {
    calls.push_back("CreateMapping " + c.function_name);
    mappings.push_back(c);
    mappings.back().uuid = "uuid-" + std::to_string(mappings.size());
    return mappings.back().uuid;
  }
  Status UpdateMapping(const functions::MappingConfig& c) override {
    calls.push_back("UpdateMapping " + c.uuid);
    for (auto& m : mappings)
      if (m.uuid == c.uuid) m = c;
    return Status::Ok();
  }

  Result<std::string> RoutesDocument() override { return routes; }
  Status SetRoutes(const Stack& stack) override {
    calls.push_back("SetRoutes");
    routes = stack.routes_document;
    return Status::Ok();
  }
};

constexpr char kStack[] = R"(
schemas:
  payments-value: {file: payment.avsc, compatibility: BACKWARD}
streams:
  payments: {shards: 2}
tables:
  payments:
    partition_key: {name: paymentId}
    indexes:
      byAccount:
        partition_key: {name: accountId}
        sort_key: {name: createdAt}
functions:
  store:
    runtime: provided.al2
    code: fn
    environment: {TABLE_NAME: payments}
mappings:
  - function: store
    stream: payments
    batch_size: 100
routes:
  getPayment:
    path: /payments/{paymentId}
    action: get_item
    table: payments
)";

class StackApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_apply_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "fn");
    std::ofstream(dir_ / "payment.avsc") << R"({"type":"string"})";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Stack Parse(const std::string& text) {
    auto s = ParseStack(dir_ / "stack.yaml", text);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : Stack{};
  }
  // Applies and returns the report's lines; `summary` gets the counts.
  std::vector<std::string> Apply(const Stack& stack, bool dry_run = false,
                                 ApplySummary* summary = nullptr) {
    std::vector<std::string> lines;
    ApplyOptions options;
    options.dry_run = dry_run;
    auto r = ApplyStack(stack, backend_, options,
                        [&](const std::string& l) { lines.push_back(l); });
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (summary && r.ok()) *summary = *r;
    return lines;
  }

  fs::path dir_;
  FakeBackend backend_;
};

TEST_F(StackApplyTest, CreatesInDependencyOrderThenReportsUnchanged) {
  Stack stack = Parse(kStack);
  ApplySummary first;
  auto lines = Apply(stack, false, &first);
  std::vector<std::string> want_calls = {"SetCompatibility payments-value",
                                         "RegisterSchema payments-value",
                                         "CreateStream payments",
                                         "CreateTable payments",
                                         "CreateFunction store",
                                         "CreateMapping store",
                                         "SetRoutes"};
  EXPECT_EQ(backend_.calls, want_calls);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "set compatibility of payments-value to BACKWARD");
  EXPECT_EQ(lines[2],
            "created stream payments (2 shards, PROVISIONED, 24h "
            "retention)");
  EXPECT_EQ(lines[3],
            "created table payments (key paymentId S; indexes byAccount)");
  EXPECT_EQ(lines[5], "created mapping payments -> store (uuid uuid-1)");
  EXPECT_EQ(lines[6],
            "serving route getPayment GET /payments/{paymentId} "
            "(GetItem on payments)");
  EXPECT_EQ(first.changed, 7);

  backend_.calls.clear();
  ApplySummary second;
  lines = Apply(stack, false, &second);
  EXPECT_TRUE(backend_.calls.empty());
  for (const std::string& l : lines)
    EXPECT_EQ(l.rfind("unchanged: ", 0), 0u) << l;
  EXPECT_EQ(second.changed, 0);
  EXPECT_EQ(second.unchanged, 6);
}

TEST_F(StackApplyTest, UpdatesOnlyWhatDiffers) {
  Apply(Parse(kStack));
  backend_.calls.clear();
  std::string changed = kStack;
  auto swap = [&](const std::string& a, const std::string& b) {
    size_t at = changed.find(a);
    ASSERT_NE(at, std::string::npos) << a;
    changed.replace(at, a.size(), b);
  };
  swap("{shards: 2}", "{shards: 4}");
  swap("        sort_key: {name: createdAt}\n",
       "        sort_key: {name: createdAt}\n"
       "      byStatus:\n        partition_key: {name: status}\n");
  swap("{TABLE_NAME: payments}", "{TABLE_NAME: payments, MODE: fast}");
  swap("batch_size: 100", "batch_size: 250");
  auto lines = Apply(Parse(changed));
  std::vector<std::string> want_calls = {
      "UpdateShardCount payments 4", "AddIndex payments byStatus",
      "UpdateFunctionConfiguration store", "UpdateMapping uuid-1"};
  EXPECT_EQ(backend_.calls, want_calls);
  std::vector<std::string> want_lines = {
      "unchanged: schema payments-value (version 1, id 1)",
      "updated stream payments: 2 -> 4 shards",
      "updated table payments: added index byStatus",
      "updated function store: environment",
      "updated mapping payments -> store: batch_size 100 -> 250",
      "unchanged: route getPayment"};
  EXPECT_EQ(lines, want_lines);
}

TEST_F(StackApplyTest, NewCodeIsUpdatedByDigest) {
  Apply(Parse(kStack));
  backend_.calls.clear();
  backend_.code_version = "2";
  auto lines = Apply(Parse(kStack));
  EXPECT_EQ(backend_.calls,
            std::vector<std::string>{"UpdateFunctionCode store"});
  EXPECT_EQ(lines[3], "updated function store: code");
}

TEST_F(StackApplyTest, DryRunPlansAndChangesNothing) {
  ApplySummary plan;
  auto lines = Apply(Parse(kStack), true, &plan);
  EXPECT_TRUE(backend_.calls.empty());
  EXPECT_TRUE(backend_.streams.empty());
  EXPECT_EQ(lines[0], "would set compatibility of payments-value to BACKWARD");
  EXPECT_EQ(lines[2],
            "would create stream payments (2 shards, PROVISIONED, 24h "
            "retention)");
  // The stream does not exist yet, so neither can the mapping.
  EXPECT_EQ(lines[5], "would create mapping payments -> store");
  EXPECT_EQ(plan.changed, 7);

  Apply(Parse(kStack));
  backend_.calls.clear();
  std::string changed = kStack;
  changed.replace(changed.find("{shards: 2}"), 11, "{shards: 3}");
  lines = Apply(Parse(changed), true);
  EXPECT_TRUE(backend_.calls.empty());
  EXPECT_EQ(lines[1], "would update stream payments: 2 -> 3 shards");
  EXPECT_EQ(backend_.streams["payments"].open_shards, 2);
}

TEST_F(StackApplyTest, RoutesAreReplacedAsAWhole) {
  Apply(Parse(kStack));
  std::string two = std::string(kStack) +
                    "  listPayments:\n"
                    "    path: /accounts/{accountId}/payments\n"
                    "    action: query\n    table: payments\n"
                    "    index: byAccount\n";
  auto lines = Apply(Parse(two));
  EXPECT_EQ(lines[lines.size() - 2], "unchanged: route getPayment");
  EXPECT_EQ(lines.back(),
            "serving route listPayments GET /accounts/{accountId}/payments "
            "(Query on payments.byAccount)");
  lines = Apply(Parse(kStack));
  EXPECT_EQ(lines.back(), "removed route listPayments");
  // A stack without routes leaves the served ones alone.
  std::string no_routes = kStack;
  no_routes.resize(no_routes.find("routes:"));
  backend_.calls.clear();
  Apply(Parse(no_routes));
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(StackApplyTest, ErrorsNameFileLineAndField) {
  Apply(Parse(kStack));
  backend_.tables["payments"].key.hash.name = "id";
  std::vector<std::string> lines;
  auto r = ApplyStack(Parse(kStack), backend_, {},
                      [&](const std::string& l) { lines.push_back(l); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("stack.yaml:7: tables.payments: exists "
                                      "with key (id S)"),
            std::string::npos)
      << r.status().message();
}

// A starting position cannot change (Lambda cannot either): another one in
// the file is an error on its line, found before anything is changed, in
// a dry run too; an equal timestamp is unchanged.
TEST_F(StackApplyTest, StartingPositionCannotChange) {
  constexpr char kTimed[] = R"(
streams:
  in: {shards: 1}
functions:
  f: {runtime: provided.al2, code: fn}
mappings:
  - function: f
    stream: in
    starting_position: AT_TIMESTAMP
    starting_position_timestamp: "1714564800.123"
)";
  Apply(Parse(kTimed));
  ASSERT_EQ(backend_.mappings.size(), 1u);
  EXPECT_EQ(backend_.mappings[0].starting_position_timestamp_ms, 1714564800123);
  backend_.calls.clear();
  auto lines = Apply(Parse(kTimed));
  EXPECT_TRUE(backend_.calls.empty());
  EXPECT_EQ(lines.back(), "unchanged: mapping in -> f");

  auto expect_refused = [&](const std::string& text, const std::string& want) {
    for (bool dry : {false, true}) {
      std::vector<std::string> report;
      ApplyOptions options;
      options.dry_run = dry;
      auto r = ApplyStack(Parse(text), backend_, options,
                          [&](const std::string& l) { report.push_back(l); });
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(r.status().message().find(want), std::string::npos)
          << r.status().message();
      EXPECT_TRUE(report.empty());
      EXPECT_TRUE(backend_.calls.empty());
    }
  };
  // The stream's change comes first in the file but is not made.
  std::string later = kTimed;
  later.replace(later.find("{shards: 1}"), 11, "{shards: 2}");
  later.replace(later.find("\"1714564800.123\""), 16,
                "2024-05-01T12:00:00.124Z");
  expect_refused(later,
                 "stack.yaml:10: mappings[0].starting_position_timestamp: "
                 "mapping in -> f: starting_position_timestamp cannot change "
                 "for an existing mapping (it is AT_TIMESTAMP "
                 "2024-05-01T12:00:00.123Z, the file declares AT_TIMESTAMP "
                 "2024-05-01T12:00:00.124Z); delete the mapping (aws lambda "
                 "delete-event-source-mapping --uuid uuid-1), then apply "
                 "again");
  std::string latest = kTimed;
  latest.replace(latest.find("AT_TIMESTAMP"), 12, "LATEST");
  latest.resize(latest.find("    starting_position_timestamp"));
  expect_refused(latest,
                 "stack.yaml:9: mappings[0].starting_position: mapping in -> "
                 "f: starting_position cannot change for an existing mapping "
                 "(it is AT_TIMESTAMP 2024-05-01T12:00:00.123Z, the file "
                 "declares LATEST)");
  EXPECT_EQ(backend_.streams["in"].open_shards, 1);
}

constexpr char kWindowed[] = R"(
streams:
  in: {shards: 1}
  out: {shards: 1}
functions:
  f: {runtime: provided.al2, code: fn}
mappings:
  - function: f
    stream: in
    tumbling_window_seconds: 60
    filters:
      - data: {kind: [payment], amount: [{numeric: [">", 100]}]}
      - '{"kinesis": {"partitionKey": [{"prefix": "eu-"}]}}'
  - function: f
    stream: out
    filters:
      - {data: {kind: [refund]}}
)";

// Tumbling windows and filters go to the backend at creation; filters are
// compared by what they mean, not how they are spelt, so a mapping whose
// patterns differ only in key order, spacing, number spelling or pattern
// order is unchanged, and only the mapping whose filters really differ is
// updated.
TEST_F(StackApplyTest, TumblingWindowAndFiltersAreComparedByMeaning) {
  auto lines = Apply(Parse(kWindowed));
  ASSERT_EQ(backend_.mappings.size(), 2u);
  const functions::MappingConfig& in = backend_.mappings[0];
  EXPECT_EQ(in.tumbling_window_seconds, 60);
  std::vector<std::string> want = {
      R"({"data":{"kind":["payment"],"amount":[{"numeric":[">",100]}]}})",
      R"({"kinesis": {"partitionKey": [{"prefix": "eu-"}]}})"};
  EXPECT_EQ(in.filter_patterns, want);

  // What the system shows, respelt: same meaning.
  backend_.mappings[0].filter_patterns = {
      R"({ "kinesis" : {"partitionKey":[{"prefix":"eu-"}]} })",
      R"({"data":{"amount":[{"numeric":[">",1.0e2]}],"kind":["payment"]}})"};
  backend_.calls.clear();
  lines = Apply(Parse(kWindowed));
  EXPECT_TRUE(backend_.calls.empty());
  EXPECT_EQ(lines[3], "unchanged: mapping in -> f");
  EXPECT_EQ(lines[4], "unchanged: mapping out -> f");

  // Array order is meaning (numeric's bounds), so it is not respelling.
  backend_.mappings[0].filter_patterns[1] =
      R"({"data":{"amount":[{"numeric":[100,">"]}],"kind":["payment"]}})";
  lines = Apply(Parse(kWindowed));
  EXPECT_EQ(lines[3], "updated mapping in -> f: filters changed (2 patterns)");
  EXPECT_EQ(backend_.mappings[0].filter_patterns, want);

  std::string changed = kWindowed;
  auto swap = [&](const std::string& a, const std::string& b) {
    size_t at = changed.find(a);
    ASSERT_NE(at, std::string::npos) << a;
    changed.replace(at, a.size(), b);
  };
  swap("kind: [refund]", "kind: [refund, chargeback]");
  swap("tumbling_window_seconds: 60", "tumbling_window_seconds: 300");
  backend_.calls.clear();
  lines = Apply(Parse(changed));
  EXPECT_EQ(backend_.calls, (std::vector<std::string>{"UpdateMapping uuid-1",
                                                      "UpdateMapping uuid-2"}));
  EXPECT_EQ(lines[3],
            "updated mapping in -> f: tumbling_window_seconds 60 -> 300");
  EXPECT_EQ(lines[4], "updated mapping out -> f: filters changed (1 pattern)");
  EXPECT_EQ(
      backend_.mappings[1].filter_patterns,
      std::vector<std::string>{R"({"data":{"kind":["refund","chargeback"]}})"});

  // Filters removed from the file are removed from the mapping; added
  // ones are reported as such.
  swap("    filters:\n      - {data: {kind: [refund, chargeback]}}\n", "");
  lines = Apply(Parse(changed));
  EXPECT_EQ(lines[4], "updated mapping out -> f: filters removed");
  EXPECT_TRUE(backend_.mappings[1].filter_patterns.empty());
  lines = Apply(Parse(kWindowed));
  EXPECT_EQ(lines[4], "updated mapping out -> f: filters added (1 pattern)");
}

TEST_F(StackApplyTest, LocalIndexesComeWithTheirTableOnly) {
  constexpr char kEvents[] = R"(
tables:
  events:
    partition_key: {name: id}
    sort_key: {name: at, type: N}
    indexes:
      byKind:
        partition_key: {name: id}
        sort_key: {name: kind}
        local: true
)";
  Stack stack = Parse(kEvents);
  ASSERT_EQ(stack.tables.size(), 1u);
  ASSERT_TRUE(stack.tables[0].spec.indexes[0].local);
  auto lines = Apply(stack);
  EXPECT_EQ(lines[0], "created table events (key id S, at N; indexes byKind)");
  EXPECT_TRUE(backend_.tables["events"].indexes[0].local);
  EXPECT_EQ(Apply(stack)[0], "unchanged: table events");

  backend_.tables["events"].indexes.clear();
  auto r = ApplyStack(stack, backend_, {}, [](const std::string&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(
                "stack.yaml:3: tables.events.indexes.byKind: local index "
                "byKind can only be created with the table"),
            std::string::npos)
      << r.status().message();

  // The parser checks the shape: the table's partition key, a sort key.
  auto bad = ParseStack(dir_ / "stack.yaml", R"(
tables:
  t:
    partition_key: {name: id}
    indexes:
      i: {partition_key: {name: id}, sort_key: {name: k}, local: true}
)");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tables.t.indexes.i.local: a local "
                                        "index has the table's partition key"),
            std::string::npos)
      << bad.status().message();
}

// Every error the file and the system's state decide is found before
// anything changes, dry run or not: each file below changes a stream (and
// more) before its last item, which conflicts, and nothing is changed or
// reported; the error names the file, the line and the field.
TEST_F(StackApplyTest, ConflictsFailTheFileWhole) {
  Apply(Parse(kStack));
  auto expect_refused = [&](const std::string& text, StatusCode code,
                            const std::string& want) {
    SCOPED_TRACE(want);
    for (bool dry : {false, true}) {
      backend_.calls.clear();
      std::vector<std::string> report;
      ApplyOptions options;
      options.dry_run = dry;
      auto r = ApplyStack(Parse(text), backend_, options,
                          [&](const std::string& l) { report.push_back(l); });
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), code);
      EXPECT_NE(r.status().message().find(want), std::string::npos)
          << r.status().message();
      EXPECT_TRUE(report.empty());
      EXPECT_TRUE(backend_.calls.empty());
    }
    EXPECT_EQ(backend_.streams["payments"].open_shards, 2);
  };
  // kStack with a stream change first and `tail` after its routes.
  auto with = [&](const std::string& tail) {
    std::string text = kStack;
    text.replace(text.find("{shards: 2}"), 11, "{shards: 4}");
    return text + tail;
  };

  // A table whose key differs (the line is the table's, 7).
  backend_.tables["payments"].key.hash.name = "id";
  expect_refused(with(""), StatusCode::kInvalidArgument,
                 "stack.yaml:7: tables.payments: exists with key (id S), the "
                 "stack declares (paymentId S); riffle does not recreate "
                 "tables: delete it first");
  backend_.tables["payments"].key.hash.name = "paymentId";

  // An index whose key differs.
  backend_.tables["payments"].indexes[0].key.hash.name = "account";
  expect_refused(with(""), StatusCode::kInvalidArgument,
                 "stack.yaml:7: tables.payments.indexes.byAccount: index "
                 "byAccount exists with key (account S, createdAt S), the "
                 "stack declares (accountId S, createdAt S); delete the index "
                 "first");
  backend_.tables["payments"].indexes[0].key.hash.name = "accountId";

  // Another TTL attribute while TTL is enabled.
  backend_.tables["payments"].ttl = {true, "expiresAt"};
  std::string ttl = with("");
  ttl.replace(ttl.find("    partition_key: {name: paymentId}"), 0,
              "    ttl: deleteAt\n");
  expect_refused(ttl, StatusCode::kInvalidArgument,
                 "stack.yaml:7: tables.payments.ttl: TTL is enabled on "
                 "expiresAt, the stack declares deleteAt");
  backend_.tables["payments"].ttl = {};

  // More global indexes than DynamoDB allows, on a new table.
  std::string many =
      "tables:\n  wide:\n    partition_key: {name: id}\n"
      "    indexes:\n";
  for (int i = 0; i < 21; ++i)
    many += fmt::format("      i{}: {{partition_key: {{name: a{}}}}}\n", i, i);
  std::string wide = with("");
  wide.replace(wide.find("functions:"), 0, many.substr(sizeof("tables:")));
  expect_refused(wide, StatusCode::kInvalidArgument,
                 "tables.wide.indexes: 21 global indexes: DynamoDB allows 20 "
                 "per table");

  // A function whose code directory is missing.
  std::string code = with("");
  code.replace(code.find("code: fn"), 8, "code: gone");
  expect_refused(code, StatusCode::kInvalidArgument,
                 "stack.yaml:14: functions.store: " + (dir_ / "gone").string() +
                     " is not a directory");

  // A function configuration Lambda would refuse: Node needs a handler.
  std::string handler = with("");
  handler.replace(handler.find("runtime: provided.al2"), 21,
                  "runtime: nodejs20.x");
  expect_refused(handler, StatusCode::kInvalidArgument,
                 "stack.yaml:14: functions.store: Handler is required for "
                 "runtime nodejs20.x");

  // A mapping's stream, failure stream or function that neither exists
  // nor is declared.
  std::string source = with("");
  source.replace(source.find("    stream: payments"), 20,
                 "    stream: elsewhere");
  expect_refused(source, StatusCode::kNotFound,
                 "stack.yaml:19: mappings[0].stream: stream elsewhere does not "
                 "exist and the file does not declare it");
  std::string dest = with("");
  dest.replace(dest.find("    batch_size: 100"), 0,
               "    on_failure: dead-letters\n");
  expect_refused(dest, StatusCode::kNotFound,
                 "stack.yaml:19: mappings[0].on_failure: stream dead-letters "
                 "does not exist and the file does not declare it");
  std::string function = with("");
  function.replace(function.find("function: store"), 15, "function: other");
  expect_refused(function, StatusCode::kNotFound,
                 "stack.yaml:19: mappings[0].function: function other does "
                 "not exist and the file does not declare it");

  // A route's table, index or function.
  expect_refused(with("  byId:\n    path: /things/{id}\n    action: get_item\n"
                      "    table: things\n"),
                 StatusCode::kNotFound,
                 "stack.yaml:27: routes.byId.table: table things does not "
                 "exist and the file does not declare it");
  backend_.tables["things"] = {};
  expect_refused(with("  byKind:\n    path: /kinds/{kind}\n    action: query\n"
                      "    table: things\n    index: byKind\n"),
                 StatusCode::kNotFound,
                 "stack.yaml:27: routes.byKind.index: table things has no "
                 "index byKind");
  expect_refused(with("  hook:\n    path: /hook\n    method: POST\n"
                      "    function: missing\n"),
                 StatusCode::kNotFound,
                 "stack.yaml:27: routes.hook.function: function missing does "
                 "not exist and the file does not declare it");

  // A new schema version the registry would refuse; the first subject's
  // new schema is not registered either.
  std::ofstream(dir_ / "v2.avsc") << R"({"type":"long"})";
  std::string schema = with("");
  schema.replace(schema.find("streams:"), 0,
                 "  first: {file: v2.avsc}\n  payments-value: {file: v2.avsc, "
                 "compatibility: BACKWARD}\n");
  schema.erase(schema.find("  payments-value: {file: payment.avsc"),
               sizeof("  payments-value: {file: payment.avsc, compatibility: "
                      "BACKWARD}\n") -
                   1);
  backend_.incompatible["payments-value"] = {
      "reader type: LONG not "
      "compatible with writer type: "
      "STRING"};
  expect_refused(schema, StatusCode::kFailedPrecondition,
                 "stack.yaml:4: schemas.payments-value: Schema being "
                 "registered is incompatible with an earlier schema for "
                 "subject \"payments-value\", details: [reader type: LONG "
                 "not compatible with writer type: STRING]");
  // The level the file sets would judge it instead: found when
  // registering.
  std::string level = schema;
  level.replace(level.find("compatibility: BACKWARD"), 23,
                "compatibility: NONE");
  backend_.calls.clear();
  auto lines = Apply(Parse(level), true);
  EXPECT_EQ(lines[1], "would set compatibility of payments-value to NONE");

  // What exists but is not declared is a fine reference.
  backend_.functions["other"] = {};
  backend_.functions["other"].name = "other";
  backend_.calls.clear();
  lines = Apply(Parse(function), true);
  EXPECT_EQ(lines[4], "would create mapping payments -> other");
}

}  // namespace
}  // namespace riffle::app
