#include "tables/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <thread>

#include "tables/attribute_json.h"

namespace riffle::tables {
namespace {

namespace fs = std::filesystem;

Item I(std::string_view text) {
  auto j = json::Parse(text);
  EXPECT_TRUE(j.ok()) << text;
  auto item = ItemFromJson(*j);
  EXPECT_TRUE(item.ok()) << text;
  return *item;
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_tables_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    service_.reset();
    store_.reset();
    kv::Options o;
    o.path = dir_.string();
    auto s = kv::Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    service_ = std::make_unique<Service>(*store_);
  }

  void CreateTable(const std::string& name,
                   AttributeType range_type = AttributeType::kN) {
    TableSpec spec;
    spec.name = name;
    spec.key.hash = {"pk", AttributeType::kS};
    spec.key.range = KeyElement{"sk", range_type};
    ASSERT_TRUE(service_->CreateTable(spec).ok());
  }

  Result<WriteResult> Put(const std::string& table, std::string_view item,
                          ConditionalWrite options = {}) {
    std::promise<Result<WriteResult>> p;
    service_->PutItem(
        table, I(item), std::move(options),
        [&](Result<WriteResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  Result<WriteResult> Update(const std::string& table, std::string_view key,
                             std::string_view expression,
                             ExpressionAttributes attrs,
                             ConditionalWrite options = {}) {
    auto u = ParseUpdate(expression, attrs);
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    std::promise<Result<WriteResult>> p;
    service_->UpdateItem(
        table, I(key), *u, std::move(options),
        [&](Result<WriteResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::string Get(const std::string& table, std::string_view key) {
    auto r = service_->GetItem(table, I(key), std::nullopt);
    if (!r.ok()) return r.status().message();
    return *r ? ItemToJson(**r) : "none";
  }

  fs::path dir_;
  std::unique_ptr<kv::Store> store_;
  std::unique_ptr<Service> service_;
};

TEST_F(ServiceTest, TableCatalogue) {
  CreateTable("b");
  CreateTable("a");
  CreateTable("c");
  TableSpec dup;
  dup.name = "a";
  dup.key.hash = {"pk", AttributeType::kS};
  EXPECT_EQ(service_->CreateTable(dup).status().code(),
            StatusCode::kAlreadyExists);

  std::optional<std::string> last;
  auto page = service_->ListTables("", 2, &last);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(last);
  page = service_->ListTables(*last, 2, &last);
  EXPECT_EQ(*page, (std::vector<std::string>{"c"}));
  EXPECT_FALSE(last);

  auto d = service_->DescribeTable("b");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->spec.key.hash.name, "pk");
  EXPECT_EQ(d->spec.key.range->type, AttributeType::kN);
  EXPECT_EQ(service_->DescribeTable("zz").status().message(),
            "Requested resource not found: Table: zz not found");

  ASSERT_TRUE(Put("b", R"({"pk":{"S":"x"},"sk":{"N":"1"}})").ok());
  ASSERT_TRUE(service_->DeleteTable("b").ok());
  EXPECT_EQ(service_->DescribeTable("b").status().code(),
            StatusCode::kNotFound);
  // A new table of the same name starts empty.
  CreateTable("b");
  EXPECT_EQ(Get("b", R"({"pk":{"S":"x"},"sk":{"N":"1"}})"), "none");

  Reopen();
  page = service_->ListTables("", 10, &last);
  EXPECT_EQ(*page, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(ServiceTest, PutGetDeleteWithConditions) {
  CreateTable("t");
  ASSERT_TRUE(
      Put("t", R"({"pk":{"S":"k"},"sk":{"N":"1"},"v":{"S":"one"}})").ok());
  EXPECT_EQ(Get("t", R"({"pk":{"S":"k"},"sk":{"N":"1.0"}})"),
            R"({"pk":{"S":"k"},"sk":{"N":"1"},"v":{"S":"one"}})");

  ExpressionAttributes attrs;
  ConditionalWrite guarded;
  guarded.condition = *ParseCondition("attribute_not_exists(pk)",
                                      ConditionUse::kCondition, attrs);
  auto r =
      Put("t", R"({"pk":{"S":"k"},"sk":{"N":"1"},"v":{"S":"two"}})", guarded);
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
  EXPECT_EQ(r.status().message(), "The conditional request failed");

  ConditionalWrite old;
  old.return_values = ReturnValues::kAllOld;
  r = Put("t", R"({"pk":{"S":"k"},"sk":{"N":"1"},"v":{"S":"two"}})", old);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ItemToJson(*r->attributes),
            R"({"pk":{"S":"k"},"sk":{"N":"1"},"v":{"S":"one"}})");

  std::promise<Result<WriteResult>> p;
  service_->DeleteItem(
      "t", I(R"({"pk":{"S":"k"},"sk":{"N":"1"}})"), old,
      [&](Result<WriteResult> res) { p.set_value(std::move(res)); });
  auto deleted = p.get_future().get();
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->attributes->at("v").bytes(), "two");
  EXPECT_EQ(Get("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})"), "none");
}

TEST_F(ServiceTest, KeyValidation) {
  CreateTable("t");
  EXPECT_EQ(Put("t", R"({"pk":{"S":"k"}})").status().message(),
            "One or more parameter values were invalid: Missing the key sk in "
            "the item");
  EXPECT_EQ(Put("t", R"({"pk":{"S":"k"},"sk":{"S":"1"}})").status().message(),
            "One or more parameter values were invalid: Type mismatch for key "
            "sk expected: N "
            "actual: S");
  EXPECT_EQ(Put("t", R"({"pk":{"S":""},"sk":{"N":"1"}})").status().message(),
            "One or more parameter values are not valid. The AttributeValue "
            "for a key attribute "
            "cannot contain an empty string value. Key: pk");
  EXPECT_EQ(Get("t", R"({"pk":{"S":"k"}})"),
            "The provided key element does not match the schema");
  EXPECT_EQ(Get("t", R"({"pk":{"S":"k"},"sk":{"N":"1"},"x":{"N":"1"}})"),
            "The provided key element does not match the schema");
  std::string big(2049, 'x');
  EXPECT_EQ(Put("t", R"({"pk":{"S":")" + big + R"("},"sk":{"N":"1"}})")
                .status()
                .message(),
            "One or more parameter values were invalid: Size of hashkey has "
            "exceeded the "
            "maximum size limit of2048 bytes");
  std::string huge(400 * 1024, 'x');
  EXPECT_EQ(
      Put("t", R"({"pk":{"S":"k"},"sk":{"N":"1"},"v":{"S":")" + huge + R"("}})")
          .status()
          .message(),
      "Item size has exceeded the maximum allowed size");
  EXPECT_EQ(Get("nope", R"({"pk":{"S":"k"}})"), "Requested resource not found");
}

TEST_F(ServiceTest, UpdateItemReturnValuesAndKeyProtection) {
  CreateTable("t");
  ExpressionAttributes attrs(
      {}, {{":one", *AttributeValueFromJson(*json::Parse(R"({"N":"1"})"))}});
  ConditionalWrite updated_new;
  updated_new.return_values = ReturnValues::kUpdatedNew;
  // Creates the item from its key.
  auto r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})", "ADD c :one",
                  attrs, updated_new);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ItemToJson(*r->attributes), R"({"c":{"N":"1"}})");
  r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})", "SET c = c + :one",
             attrs, updated_new);
  EXPECT_EQ(ItemToJson(*r->attributes), R"({"c":{"N":"2"}})");
  EXPECT_EQ(Get("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})"),
            R"({"c":{"N":"2"},"pk":{"S":"k"},"sk":{"N":"1"}})");

  r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})", "SET pk = :one", attrs);
  EXPECT_EQ(r.status().message(),
            "One or more parameter values were invalid: Cannot update "
            "attribute pk. This "
            "attribute is part of the key");
  r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})", "SET x = absent",
             attrs);
  EXPECT_EQ(r.status().message(),
            "The provided expression refers to an attribute that does not "
            "exist in the item");
}

// UPDATED_OLD and UPDATED_NEW return only what the update names, nested
// paths included: SET m.b returns {m: {b}}, not the whole map m.
TEST_F(ServiceTest, UpdatedValuesAreTheNamedPathsOnly) {
  CreateTable("t");
  ASSERT_TRUE(
      Put("t",
          R"({"pk":{"S":"k"},"sk":{"N":"1"},"m":{"M":{"a":{"N":"1"},"b":{"N":"2"}}},"l":{"L":[{"S":"x"},{"S":"y"}]}})")
          .ok());
  ExpressionAttributes attrs(
      {}, {{":v", *AttributeValueFromJson(*json::Parse(R"({"N":"9"})"))}});
  ConditionalWrite updated_new;
  updated_new.return_values = ReturnValues::kUpdatedNew;
  auto r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})",
                  "SET m.b = :v, l[1] = :v", attrs, updated_new);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ItemToJson(*r->attributes),
            R"({"l":{"L":[{"N":"9"}]},"m":{"M":{"b":{"N":"9"}}}})");
  ConditionalWrite updated_old;
  updated_old.return_values = ReturnValues::kUpdatedOld;
  r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})", "REMOVE m.a", attrs,
             updated_old);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ItemToJson(*r->attributes), R"({"m":{"M":{"a":{"N":"1"}}}})");
  // Nothing set: UPDATED_NEW returns no attributes.
  r = Update("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})", "REMOVE m.b", attrs,
             updated_new);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->attributes.has_value());
}

// Conditional writes are serializable per item: concurrent read-modify-
// write increments never lose an update.
TEST_F(ServiceTest, ConcurrentUpdatesOfOneItemAreSerialized) {
  CreateTable("t");
  auto one = *AttributeValueFromJson(*json::Parse(R"({"N":"1"})"));
  auto update = ParseUpdate(
      "SET c = if_not_exists(c, :zero) + :one",
      *std::make_unique<ExpressionAttributes>(ExpressionAttributes(
          {}, {{":one", one}, {":zero", AttributeValue::N(Number())}})));
  ASSERT_TRUE(update.ok());
  constexpr int kThreads = 4, kPerThread = 100;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        service_->UpdateItem("t", I(R"({"pk":{"S":"k"},"sk":{"N":"1"}})"),
                             *update, {}, [&](Result<WriteResult> r) {
                               EXPECT_TRUE(r.ok());
                               done.fetch_add(1);
                             });
      }
    });
  }
  for (auto& t : threads) t.join();
  while (done.load() < kThreads * kPerThread) std::this_thread::yield();
  EXPECT_EQ(Get("t", R"({"pk":{"S":"k"},"sk":{"N":"1"}})"),
            R"({"c":{"N":"400"},"pk":{"S":"k"},"sk":{"N":"1"}})");
}

TEST_F(ServiceTest, QueryIsARangeScanInNumericOrder) {
  CreateTable("t");
  std::vector<std::string> sks = {"-100", "-2.5", "-1", "0",   "0.001",
                                  "1",    "2",    "10", "1e20"};
  for (const auto& sk : sks) {
    ASSERT_TRUE(
        Put("t", R"({"pk":{"S":"p"},"sk":{"N":")" + sk + R"("}})").ok());
    ASSERT_TRUE(
        Put("t", R"({"pk":{"S":"other"},"sk":{"N":")" + sk + R"("}})").ok());
  }
  auto query = [&](std::string_view cond, bool forward = true,
                   std::optional<int64_t> limit = std::nullopt,
                   std::optional<Item> start = std::nullopt) {
    ExpressionAttributes attrs(
        {}, {{":p", AttributeValue::S("p")},
             {":lo", AttributeValue::N(*Number::Parse("-2.5"))},
             {":hi", AttributeValue::N(*Number::Parse("1"))}});
    auto c = ParseCondition(cond, ConditionUse::kKeyCondition, attrs);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    QueryRequest q;
    q.table = "t";
    q.key_conditions = *ExtractKeyConditions(*c);
    q.forward = forward;
    q.limit = limit;
    q.exclusive_start_key = start;
    auto r = service_->Query(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (const Item& item : r->items)
      out.push_back(item.at("sk").number().ToString());
    return std::make_pair(out, r->last_evaluated_key);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(query("pk = :p").first, (V{"-100", "-2.5", "-1", "0", "0.001", "1",
                                       "2", "10", "100000000000000000000"}));
  EXPECT_EQ(query("pk = :p AND sk BETWEEN :lo AND :hi").first,
            (V{"-2.5", "-1", "0", "0.001", "1"}));
  EXPECT_EQ(query("pk = :p AND sk < :lo").first, (V{"-100"}));
  EXPECT_EQ(query("pk = :p AND sk <= :lo").first, (V{"-100", "-2.5"}));
  EXPECT_EQ(query("pk = :p AND sk > :hi").first,
            (V{"2", "10", "100000000000000000000"}));
  EXPECT_EQ(query("pk = :p AND sk >= :hi", false).first,
            (V{"100000000000000000000", "10", "2", "1"}));
  EXPECT_EQ(query("pk = :p AND sk = :hi").first, (V{"1"}));

  // Pagination: pages of 4 cover everything once.
  V all;
  std::optional<Item> start;
  int pages = 0;
  do {
    auto [items, last] = query("pk = :p", true, 4, start);
    all.insert(all.end(), items.begin(), items.end());
    start = last;
    ++pages;
  } while (start && pages < 10);
  EXPECT_EQ(all.size(), sks.size());
  EXPECT_EQ(pages, 3);
}

TEST_F(ServiceTest, QueryBeginsWithOnStrings) {
  CreateTable("s", AttributeType::kS);
  for (std::string sk :
       {"a", "ab", "abc", "abd", "b", "ab\x01", "aa", "ab\xff"}) {
    Item item;
    item["pk"] = AttributeValue::S("p");
    item["sk"] = AttributeValue::S(sk);
    std::promise<Result<WriteResult>> p;
    service_->PutItem("s", item, {}, [&](Result<WriteResult> r) {
      p.set_value(std::move(r));
    });
    ASSERT_TRUE(p.get_future().get().ok());
  }
  ExpressionAttributes attrs(
      {}, {{":p", AttributeValue::S("p")}, {":pre", AttributeValue::S("ab")}});
  auto c = ParseCondition("pk = :p AND begins_with(sk, :pre)",
                          ConditionUse::kKeyCondition, attrs);
  ASSERT_TRUE(c.ok());
  QueryRequest q;
  q.table = "s";
  q.key_conditions = *ExtractKeyConditions(*c);
  auto r = service_->Query(q);
  ASSERT_TRUE(r.ok());
  std::vector<std::string> got;
  for (const Item& item : r->items) got.push_back(item.at("sk").bytes());
  EXPECT_EQ(got,
            (std::vector<std::string>{"ab", "ab\x01", "abc", "abd", "ab\xff"}));
}

TEST_F(ServiceTest, ScanSegmentsPartitionTheTable) {
  CreateTable("t");
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(Put("t", R"({"pk":{"S":"p)" + std::to_string(i) +
                             R"("},"sk":{"N":"1"}})")
                    .ok());
  }
  size_t total = 0;
  for (int seg = 0; seg < 4; ++seg) {
    ScanRequest s;
    s.table = "t";
    s.segment = seg;
    s.total_segments = 4;
    auto r = service_->Scan(s);
    ASSERT_TRUE(r.ok());
    EXPECT_GT(r->items.size(), 20u);  // roughly a quarter each
    total += r->items.size();
  }
  EXPECT_EQ(total, 200u);

  // Filter and pagination together: scanned counts every item read.
  ExpressionAttributes attrs({}, {{":x", AttributeValue::S("p1")}});
  ScanRequest s;
  s.table = "t";
  s.filter =
      *ParseCondition("begins_with(pk, :x)", ConditionUse::kFilter, attrs);
  s.limit = 50;
  size_t matched = 0, scanned = 0;
  std::optional<Item> start;
  do {
    s.exclusive_start_key = start;
    auto r = service_->Scan(s);
    ASSERT_TRUE(r.ok());
    matched += r->items.size();
    scanned += static_cast<size_t>(r->scanned_count);
    start = r->last_evaluated_key;
  } while (start);
  EXPECT_EQ(scanned, 200u);
  EXPECT_EQ(matched, 111u);  // p1, p10..p19, p100..p199
}

TEST_F(ServiceTest, SecondaryIndexesFollowEveryWriteAndSurviveReopen) {
  TableSpec spec;
  spec.name = "ix";
  spec.key.hash = {"pk", AttributeType::kS};
  spec.key.range = KeyElement{"sk", AttributeType::kN};
  IndexSpec gsi;
  gsi.name = "byg";
  gsi.key.hash = {"g", AttributeType::kS};
  gsi.projection = ProjectionType::kKeysOnly;
  spec.indexes.push_back(gsi);
  ASSERT_TRUE(service_->CreateTable(spec).ok());
  ASSERT_TRUE(
      Put("ix",
          R"({"pk":{"S":"a"},"sk":{"N":"1"},"g":{"S":"x"},"v":{"N":"1"}})")
          .ok());
  ASSERT_TRUE(
      Put("ix", R"({"pk":{"S":"b"},"sk":{"N":"1"},"g":{"S":"x"}})").ok());
  ASSERT_TRUE(Put("ix", R"({"pk":{"S":"c"},"sk":{"N":"1"}})").ok());  // sparse
  auto query = [&](const char* g) {
    QueryRequest q;
    q.table = "ix";
    q.index = "byg";
    q.key_conditions = {{"g", KeyCondition::Op::kEq, {AttributeValue::S(g)}}};
    auto r = service_->Query(q);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (const Item& i : r->items) out.push_back(ItemToJson(i));
    return out;
  };
  EXPECT_EQ(query("x"),
            (std::vector<std::string>{
                R"({"g":{"S":"x"},"pk":{"S":"a"},"sk":{"N":"1"}})",
                R"({"g":{"S":"x"},"pk":{"S":"b"},"sk":{"N":"1"}})"}));
  // Changing the index key moves the entry; a type mismatch is refused.
  ASSERT_TRUE(
      Put("ix", R"({"pk":{"S":"a"},"sk":{"N":"1"},"g":{"S":"y"}})").ok());
  EXPECT_EQ(query("x").size(), 1u);
  EXPECT_EQ(query("y").size(), 1u);
  EXPECT_EQ(Put("ix", R"({"pk":{"S":"d"},"sk":{"N":"1"},"g":{"N":"1"}})")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  Reopen();
  EXPECT_EQ(query("y").size(), 1u);
  // UpdateTable backfills a new index from the items already there.
  Service::TableUpdate update;
  IndexSpec byv;
  byv.name = "byv";
  byv.key.hash = {"v", AttributeType::kN};
  update.create_indexes.push_back(byv);
  ASSERT_TRUE(
      Put("ix", R"({"pk":{"S":"e"},"sk":{"N":"1"},"v":{"N":"7"}})").ok());
  ASSERT_TRUE(service_->UpdateTable("ix", update).ok());
  QueryRequest q;
  q.table = "ix";
  q.index = "byv";
  q.key_conditions = {
      {"v", KeyCondition::Op::kEq, {AttributeValue::N(Number::FromInt64(7))}}};
  auto r = service_->Query(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->items.size(), 1u);
  auto stats = service_->CountTable("ix");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->item_count, 4);
  EXPECT_EQ(stats->indexes["byg"].first, 2);
}

TEST_F(ServiceTest, TransactionsAreAllOrNothing) {
  CreateTable("tx");
  ASSERT_TRUE(
      Put("tx", R"({"pk":{"S":"a"},"sk":{"N":"1"},"bal":{"N":"10"}})").ok());
  ExpressionAttributes attrs(
      {}, {{":v", AttributeValue::N(Number::FromInt64(20))}});
  auto run = [&](std::vector<TransactWriteAction> actions) {
    std::promise<Result<TransactWriteResult>> p;
    service_->TransactWrite(
        std::move(actions),
        [&](Result<TransactWriteResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  TransactWriteAction check;
  check.kind = TransactWriteAction::Kind::kConditionCheck;
  check.table = "tx";
  check.item = I(R"({"pk":{"S":"a"},"sk":{"N":"1"}})");
  check.condition =
      *ParseCondition("bal >= :v", ConditionUse::kCondition, attrs);
  check.return_old_on_failure = true;
  TransactWriteAction put;
  put.kind = TransactWriteAction::Kind::kPut;
  put.table = "tx";
  put.item = I(R"({"pk":{"S":"b"},"sk":{"N":"1"}})");
  auto r = run({check, put});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->cancelled);
  EXPECT_EQ(r->reasons[0].code, "ConditionalCheckFailed");
  EXPECT_TRUE(r->reasons[0].item.has_value());
  EXPECT_EQ(r->reasons[1].code, "None");
  EXPECT_EQ(Get("tx", R"({"pk":{"S":"b"},"sk":{"N":"1"}})"), "none");
  r = run({put});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->cancelled);
  EXPECT_NE(Get("tx", R"({"pk":{"S":"b"},"sk":{"N":"1"}})"), "none");
  EXPECT_EQ(run({put, put}).status().code(), StatusCode::kInvalidArgument);
}

// A store that can hold back the acknowledgement of one write, so that a
// test can keep an item's key lock held (the service releases it when the
// write is acknowledged) while it changes the catalogue.
class GatedStore : public kv::Store {
 public:
  explicit GatedStore(kv::Store& inner) : inner_(inner) {}
  // The next Write is applied at once but acknowledged only by Release().
  void HoldNext() { hold_next_ = true; }
  void Release() {
    std::function<void()> ack;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return held_ != nullptr; });
      ack = std::move(held_);
    }
    ack();
  }
  void Write(kv::WriteBatch batch, WriteCallback done) override {
    if (!hold_next_.exchange(false)) {
      return inner_.Write(std::move(batch), std::move(done));
    }
    inner_.Write(std::move(batch),
                 [this, done = std::move(done)](Status s) mutable {
                   std::lock_guard lock(mu_);
                   held_ = [done = std::move(done), s] { done(s); };
                   cv_.notify_all();
                 });
  }
  Status WriteSync(kv::WriteBatch batch) override {
    std::promise<Status> p;
    Write(std::move(batch), [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }
  Result<std::string> Get(kv::Family family, std::string_view key,
                          const kv::ReadOptions& options) override {
    return inner_.Get(family, key, options);
  }
  std::unique_ptr<kv::Iterator> NewIterator(
      kv::Family family, const kv::ReadOptions& options) override {
    return inner_.NewIterator(family, options);
  }
  std::shared_ptr<const kv::Snapshot> GetSnapshot() override {
    return inner_.GetSnapshot();
  }
  kv::Stats stats() const override { return inner_.stats(); }
  Status Flush() override { return inner_.Flush(); }

 private:
  kv::Store& inner_;
  std::atomic<bool> hold_next_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> held_;  // guarded by mu_
};

// A transaction that waited for an item's lock while UpdateTable created a
// GSI must maintain the new index: the backfill only covers items that
// existed when it scanned, so a transaction that puts a new item with the
// catalogue it read before waiting would leave the index without it.
TEST_F(ServiceTest, TransactionWaitingForALockMaintainsANewIndex) {
  GatedStore gated(*store_);
  Service service(gated);
  TableSpec spec;
  spec.name = "gx";
  spec.key.hash = {"pk", AttributeType::kS};
  ASSERT_TRUE(service.CreateTable(spec).ok());
  // Hold the lock of item "k" (which does not exist) with a delete whose
  // acknowledgement is held back.
  gated.HoldNext();
  std::promise<Result<WriteResult>> deleted;
  service.DeleteItem(
      "gx", I(R"({"pk":{"S":"k"}})"), {},
      [&](Result<WriteResult> r) { deleted.set_value(std::move(r)); });
  TransactWriteAction put;
  put.kind = TransactWriteAction::Kind::kPut;
  put.table = "gx";
  put.item = I(R"({"pk":{"S":"k"},"g":{"S":"x"}})");
  std::promise<Result<TransactWriteResult>> committed;
  service.TransactWrite({put}, [&](Result<TransactWriteResult> r) {
    committed.set_value(std::move(r));
  });
  Service::TableUpdate update;
  IndexSpec byg;
  byg.name = "byg";
  byg.key.hash = {"g", AttributeType::kS};
  update.create_indexes.push_back(byg);
  update.attributes.push_back({"g", AttributeType::kS});
  ASSERT_TRUE(service.UpdateTable("gx", update).ok());
  gated.Release();
  ASSERT_TRUE(deleted.get_future().get().ok());
  auto r = committed.get_future().get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(r->cancelled);
  QueryRequest q;
  q.table = "gx";
  q.index = "byg";
  q.key_conditions = {{"g", KeyCondition::Op::kEq, {AttributeValue::S("x")}}};
  auto found = service.Query(q);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->items.size(), 1u);
}

TEST_F(ServiceTest, TimeToLiveDeletesExpiredItemsOnly) {
  CreateTable("ttl");
  ASSERT_TRUE(service_->UpdateTimeToLive("ttl", {true, "exp"}).ok());
  ASSERT_TRUE(
      Put("ttl", R"({"pk":{"S":"old"},"sk":{"N":"1"},"exp":{"N":"100"}})")
          .ok());
  ASSERT_TRUE(
      Put("ttl", R"({"pk":{"S":"new"},"sk":{"N":"1"},"exp":{"N":"300"}})")
          .ok());
  ASSERT_TRUE(
      Put("ttl", R"({"pk":{"S":"str"},"sk":{"N":"1"},"exp":{"S":"1"}})").ok());
  EXPECT_EQ(service_->ExpireItems(200), 1);
  EXPECT_EQ(Get("ttl", R"({"pk":{"S":"old"},"sk":{"N":"1"}})"), "none");
  EXPECT_NE(Get("ttl", R"({"pk":{"S":"new"},"sk":{"N":"1"}})"), "none");
  EXPECT_NE(Get("ttl", R"({"pk":{"S":"str"},"sk":{"N":"1"}})"), "none");
}

}  // namespace
}  // namespace riffle::tables
