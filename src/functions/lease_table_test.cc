// The lease coordinator against a small in-memory TablesClient: take,
// renew, expire, steal, balance across workers, parents before children,
// and a lost lease refusing checkpoints.
#include "functions/lease_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "functions/mapping_runner.h"
#include "tables/expressions.h"

namespace riffle::functions {
namespace {

using tables::AttributeValue;

// One table keyed by a string partition key, with DynamoDB's condition and
// update semantics from the tables library's own evaluator. Thread-safe.
class MemoryTablesClient : public TablesClient {
 public:
  Result<TableKey> DescribeKey(const std::string& table) override {
    std::lock_guard l(mu_);
    auto it = keys_.find(table);
    if (it == keys_.end()) return NotFound("no table " + table);
    return TableKey{it->second, std::nullopt};
  }
  void PutItems(const std::string&, std::vector<tables::Item> items,
                PutCallback done) override {
    done(std::vector<Status>(items.size(), Unimplemented("not here")));
  }
  Status CreateTableIfMissing(const std::string& table,
                              const std::string& hash_key) override {
    std::lock_guard l(mu_);
    keys_.emplace(table, hash_key);
    return Status::Ok();
  }
  Status DeleteTableIfExists(const std::string& table) override {
    std::lock_guard l(mu_);
    keys_.erase(table);
    items_.erase(table);
    return Status::Ok();
  }
  Result<std::optional<tables::Item>> GetItem(
      const std::string& table, const tables::Item& key) override {
    std::lock_guard l(mu_);
    ASSIGN_OR_RETURN(std::string k, KeyLocked(table, key));
    auto it = items_[table].find(k);
    if (it == items_[table].end()) return std::optional<tables::Item>();
    return std::optional<tables::Item>(it->second);
  }
  Result<std::vector<tables::Item>> ScanAll(const std::string& table) override {
    std::lock_guard l(mu_);
    if (unavailable_) return Unavailable("the table is unreachable");
    if (!keys_.count(table)) return NotFound("no table " + table);
    std::vector<tables::Item> out;
    for (const auto& [k, item] : items_[table]) out.push_back(item);
    return out;
  }
  Status PutItem(const std::string& table, tables::Item item,
                 const Expressions& e) override {
    std::lock_guard l(mu_);
    ASSIGN_OR_RETURN(std::string k, KeyLocked(table, item));
    RETURN_IF_ERROR(CheckLocked(table, k, e));
    items_[table][k] = std::move(item);
    return Status::Ok();
  }
  Status UpdateItem(const std::string& table, tables::Item key,
                    const Expressions& e) override {
    std::lock_guard l(mu_);
    ASSIGN_OR_RETURN(std::string k, KeyLocked(table, key));
    RETURN_IF_ERROR(CheckLocked(table, k, e));
    tables::ExpressionAttributes attributes(e.names, e.values);
    ASSIGN_OR_RETURN(tables::UpdateExpression update,
                     tables::ParseUpdate(e.update, attributes));
    tables::Item item = key;
    if (auto it = items_[table].find(k); it != items_[table].end())
      item = it->second;
    RETURN_IF_ERROR(tables::ApplyUpdate(update, &item));
    items_[table][k] = std::move(item);
    return Status::Ok();
  }

  // Test access.
  tables::Item Item(const std::string& table, const std::string& k) {
    std::lock_guard l(mu_);
    return items_[table][k];
  }
  void set_unavailable(bool v) {
    std::lock_guard l(mu_);
    unavailable_ = v;
  }

 private:
  Result<std::string> KeyLocked(const std::string& table,
                                const tables::Item& item) {
    if (unavailable_) return Unavailable("the table is unreachable");
    auto t = keys_.find(table);
    if (t == keys_.end()) return NotFound("no table " + table);
    auto it = item.find(t->second);
    if (it == item.end()) return InvalidArgument("missing key");
    return it->second.bytes();
  }
  Status CheckLocked(const std::string& table, const std::string& k,
                     const Expressions& e) {
    if (e.condition.empty()) return Status::Ok();
    tables::ExpressionAttributes attributes(e.names, e.values);
    ASSIGN_OR_RETURN(
        tables::Condition c,
        tables::ParseCondition(e.condition, tables::ConditionUse::kCondition,
                               attributes));
    tables::Item current;
    if (auto it = items_[table].find(k); it != items_[table].end())
      current = it->second;
    if (!tables::EvaluateCondition(c, current))
      return Aborted("The conditional request failed");
    return Status::Ok();
  }

  std::mutex mu_;
  bool unavailable_ = false;
  std::map<std::string, std::string> keys_;
  std::map<std::string, std::map<std::string, tables::Item>> items_;
};

constexpr int64_t kFailover = 10000;

class LeaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaseCoordinator> Worker(const std::string& id) {
    LeaseOptions o;
    o.table = "riffle-leases-test";
    o.worker_id = id;
    o.failover_ms = kFailover;
    o.now_ms = [this] { return now_; };
    auto w = std::make_unique<LeaseCoordinator>(o, tables_);
    EXPECT_TRUE(w->Initialize().ok());
    return w;
  }
  static std::vector<ShardInfo> Shards(int n) {
    std::vector<ShardInfo> out;
    for (int i = 0; i < n; ++i)
      out.push_back(ShardInfo{"shardId-00000000000" + std::to_string(i), {}});
    return out;
  }
  Lease Read(const std::string& shard) {
    return *LeaseFromItem(tables_.Item("riffle-leases-test", shard));
  }

  MemoryTablesClient tables_;
  int64_t now_ = 1'000'000;
};

TEST_F(LeaseTest, ItemRoundTripsWithKclFields) {
  Lease lease;
  lease.key = "shardId-000000000002";
  lease.owner = "w1";
  lease.counter = 7;
  lease.checkpoint = "49590338271490256608559692538361571095921575989136588898";
  lease.owner_switches = 2;
  lease.parents = {"shardId-000000000000", "shardId-000000000001"};
  tables::Item item = LeaseToItem(lease);
  EXPECT_TRUE(item.at("parentShardId").is(tables::AttributeType::kSS));
  EXPECT_TRUE(item.at("leaseCounter").is(tables::AttributeType::kN));
  EXPECT_TRUE(item.count("checkpointSubSequenceNumber"));
  Result<Lease> back = LeaseFromItem(item);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->owner, "w1");
  EXPECT_EQ(back->counter, 7);
  EXPECT_EQ(back->parents, lease.parents);
  EXPECT_EQ(back->shard_checkpoint()->sequence_number, lease.checkpoint);

  lease.checkpoint = "TRIM_HORIZON";
  lease.parents.clear();
  item = LeaseToItem(lease);
  EXPECT_FALSE(item.count("parentShardId"));  // no empty sets
  EXPECT_FALSE(LeaseFromItem(item)->shard_checkpoint().has_value());

  tables::Item bad;
  bad["leaseCounter"] = AttributeValue::S("x");
  EXPECT_FALSE(LeaseFromItem(bad).ok());
}

TEST_F(LeaseTest, AloneTakesEveryLease) {
  auto a = Worker("a");
  ASSERT_TRUE(a->SyncShards(Shards(4)).ok());
  ASSERT_TRUE(a->Tick().ok());
  EXPECT_EQ(a->Held().size(), 4u);
  EXPECT_EQ(a->Processable().size(), 4u);
  for (const auto& [shard, cp] : a->Processable()) EXPECT_FALSE(cp);
  Lease l = Read("shardId-000000000000");
  EXPECT_EQ(l.owner, "a");
  EXPECT_EQ(l.counter, 1);
  EXPECT_EQ(l.owner_switches, 1);
  EXPECT_EQ(l.checkpoint, "TRIM_HORIZON");
}

TEST_F(LeaseTest, RenewsItsLeasesSoOthersDoNotTakeThem) {
  auto a = Worker("a");
  auto b = Worker("b");
  ASSERT_TRUE(a->SyncShards(Shards(1)).ok());
  ASSERT_TRUE(a->Tick().ok());
  // One lease, two workers: a holds exactly its share, so b neither steals
  // nor, while a renews, takes it.
  for (int i = 0; i < 10; ++i) {
    now_ += kFailover / 3 + 1;
    ASSERT_TRUE(a->Tick().ok());
    ASSERT_TRUE(b->Tick().ok());
  }
  EXPECT_GE(Read("shardId-000000000000").counter, 10);
  EXPECT_EQ(a->Held().size(), 1u);
  EXPECT_TRUE(b->Held().empty());
  EXPECT_EQ(a->stats().lost, 0u);
}

TEST_F(LeaseTest, ExpiredLeasesAreTakenFromTheLastCheckpoint) {
  auto a = Worker("a");
  auto b = Worker("b");
  ASSERT_TRUE(a->SyncShards(Shards(1)).ok());
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_EQ(a->Held().size(), 1u);
  ASSERT_TRUE(a->Save("shardId-000000000000", {"42", false}).ok());
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_TRUE(b->Held().empty());
  // a dies (no more renewals). Not yet expired just before the failover
  // time, by b's own clock since it first saw the counter.
  now_ += kFailover - 1;
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_TRUE(b->Held().empty());
  now_ += 1;
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_EQ(b->Held().size(), 1u);
  auto p = b->Processable();
  ASSERT_TRUE(p.at("shardId-000000000000"));
  EXPECT_EQ(p.at("shardId-000000000000")->sequence_number, "42");
  EXPECT_EQ(Read("shardId-000000000000").owner, "b");
  EXPECT_EQ(Read("shardId-000000000000").owner_switches, 1);
}

TEST_F(LeaseTest, LostLeaseRefusesCheckpoints) {
  auto a = Worker("a");
  auto b = Worker("b");
  ASSERT_TRUE(a->SyncShards(Shards(1)).ok());
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_TRUE(a->Save("shardId-000000000000", {"10", false}).ok());
  ASSERT_TRUE(b->Tick().ok());
  now_ += kFailover;
  ASSERT_TRUE(b->Tick().ok());  // a looked dead (a paused, say)
  ASSERT_TRUE(b->Holds("shardId-000000000000"));
  Status s = a->Save("shardId-000000000000", {"20", false});
  EXPECT_EQ(s.code(), StatusCode::kAborted) << s.ToString();
  EXPECT_FALSE(a->Holds("shardId-000000000000"));
  EXPECT_EQ(Read("shardId-000000000000").checkpoint, "10");
  EXPECT_EQ(Read("shardId-000000000000").owner, "b");
  ASSERT_TRUE(b->Save("shardId-000000000000", {"20", false}).ok());
  EXPECT_EQ(Read("shardId-000000000000").checkpoint, "20");
  EXPECT_EQ(Read("shardId-000000000000").owner_switches, 0);
}

TEST_F(LeaseTest, RenewalNoticesAStolenLease) {
  auto a = Worker("a");
  auto b = Worker("b");
  ASSERT_TRUE(a->SyncShards(Shards(4)).ok());
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_EQ(a->Held().size(), 4u);
  ASSERT_TRUE(b->Tick().ok());  // steals one: a has 4 > target 2
  ASSERT_EQ(b->Held().size(), 1u);
  EXPECT_EQ(b->stats().stolen, 1u);
  now_ += kFailover / 3 + 1;
  ASSERT_TRUE(a->Tick().ok());
  EXPECT_EQ(a->Held().size(), 3u);
  ASSERT_TRUE(b->Tick().ok());
  EXPECT_EQ(b->Held().size(), 2u);
  ASSERT_TRUE(a->Tick().ok());
  EXPECT_EQ(a->Held().size(), 2u);
}

TEST_F(LeaseTest, BalancesAcrossThreeWorkers) {
  std::vector<std::unique_ptr<LeaseCoordinator>> w;
  for (const char* id : {"a", "b", "c"}) w.push_back(Worker(id));
  ASSERT_TRUE(w[0]->SyncShards(Shards(4)).ok());
  ASSERT_TRUE(w[0]->Tick().ok());
  for (int round = 0; round < 6; ++round) {
    now_ += kFailover / 3 + 1;
    for (auto& x : w) ASSERT_TRUE(x->Tick().ok());
  }
  std::set<std::string> all;
  for (auto& x : w) {
    size_t n = x->Held().size();
    EXPECT_GE(n, 1u) << x->options().worker_id;
    EXPECT_LE(n, 2u) << x->options().worker_id;
    for (const auto& s : x->Held()) EXPECT_TRUE(all.insert(s).second) << s;
  }
  EXPECT_EQ(all.size(), 4u);

  // c stops: after the failover time the others share its leases.
  for (int round = 0; round < 5; ++round) {
    now_ += kFailover / 3 + 1;
    w[0]->Tick().IgnoreError();
    w[1]->Tick().IgnoreError();
  }
  EXPECT_EQ(w[0]->Held().size() + w[1]->Held().size(), 4u);
  EXPECT_EQ(w[0]->Held().size(), 2u);
}

TEST_F(LeaseTest, ReleasedLeasesAreTakenAtOnce) {
  auto a = Worker("a");
  auto b = Worker("b");
  ASSERT_TRUE(a->SyncShards(Shards(3)).ok());
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_TRUE(a->ReleaseAll().ok());
  EXPECT_TRUE(a->Held().empty());
  EXPECT_EQ(Read("shardId-000000000000").owner, "");
  ASSERT_TRUE(b->Tick().ok());  // no failover wait
  EXPECT_EQ(b->Held().size(), 3u);
}

TEST_F(LeaseTest, RestartedWorkerTakesBackItsOwnLeases) {
  auto a = Worker("server");
  ASSERT_TRUE(a->SyncShards(Shards(2)).ok());
  ASSERT_TRUE(a->Tick().ok());
  a.reset();  // kill -9
  auto again = Worker("server");
  ASSERT_TRUE(again->Tick().ok());
  EXPECT_EQ(again->Held().size(), 2u);
}

TEST_F(LeaseTest, ParentsBeforeChildren) {
  auto a = Worker("a");
  std::vector<ShardInfo> shards = {
      {"shardId-000000000000", {}},
      {"shardId-000000000001", {"shardId-000000000000"}},
      {"shardId-000000000002", {"shardId-000000000000"}},
  };
  ASSERT_TRUE(a->SyncShards(shards).ok());
  EXPECT_EQ(Read("shardId-000000000001").parents,
            std::vector<std::string>{"shardId-000000000000"});
  ASSERT_TRUE(a->Tick().ok());
  EXPECT_EQ(a->Held().size(), 3u);
  auto p = a->Processable();
  EXPECT_EQ(p.size(), 1u);
  EXPECT_TRUE(p.count("shardId-000000000000"));
  ASSERT_TRUE(a->Save("shardId-000000000000", {"5", false}).ok());
  EXPECT_EQ(a->Processable().size(), 1u);
  ASSERT_TRUE(a->Save("shardId-000000000000", {"5", true}).ok());
  EXPECT_EQ(Read("shardId-000000000000").checkpoint, "SHARD_END");
  p = a->Processable();
  EXPECT_EQ(p.size(), 2u);
  EXPECT_FALSE(p.count("shardId-000000000000"));
  // Finished leases take no part in balancing or renewal.
  now_ += kFailover;
  ASSERT_TRUE(a->Tick().ok());
  EXPECT_EQ(a->Held().size(), 2u);
}

TEST_F(LeaseTest, UnreachableTableDropsLeasesAfterFailover) {
  auto a = Worker("a");
  ASSERT_TRUE(a->SyncShards(Shards(1)).ok());
  ASSERT_TRUE(a->Tick().ok());
  tables_.set_unavailable(true);
  EXPECT_FALSE(a->Tick().ok());
  EXPECT_EQ(a->Save("shardId-000000000000", {"1", false}).code(),
            StatusCode::kUnavailable);
  EXPECT_TRUE(a->Holds("shardId-000000000000"));  // a transient fault
  tables_.set_unavailable(false);
  ASSERT_TRUE(a->Tick().ok());
  EXPECT_TRUE(a->Holds("shardId-000000000000"));
}

// The mapping was deleted, and its table with it, while workers ran: one
// that notices at a checkpoint and one that notices at a Tick both drop
// every lease at once (their shards stop), and neither creates the table
// again nor writes to it, even after someone else re-creates it.
TEST_F(LeaseTest, DeletedTableEndsTheMappingForEveryWorker) {
  auto a = Worker("a");
  auto b = Worker("b");
  ASSERT_TRUE(a->SyncShards(Shards(4)).ok());
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_TRUE(b->Tick().ok());
  ASSERT_TRUE(a->Tick().ok());
  ASSERT_TRUE(b->Tick().ok());
  ASSERT_TRUE(a->Tick().ok());  // a sees what b stole
  std::set<std::string> held_by_a = a->Held();
  const size_t held_by_b = b->Held().size();
  ASSERT_FALSE(held_by_a.empty());
  ASSERT_GT(held_by_b, 0u);
  ASSERT_TRUE(a->Save(*held_by_a.begin(), {"7", false}).ok());

  ASSERT_TRUE(tables_.DeleteTableIfExists("riffle-leases-test").ok());
  Status saved = a->Save(*held_by_a.begin(), {"8", false});
  EXPECT_EQ(saved.code(), StatusCode::kAborted) << saved.ToString();
  EXPECT_TRUE(a->table_gone());
  EXPECT_TRUE(a->Held().empty());
  EXPECT_TRUE(a->Processable().empty());
  EXPECT_EQ(b->Tick().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(b->table_gone());
  EXPECT_TRUE(b->Held().empty());
  EXPECT_EQ(b->stats().lost, held_by_b);
  EXPECT_TRUE(b->ReleaseAll().ok());  // nothing left to release

  EXPECT_EQ(a->Initialize().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a->SyncShards(Shards(4)).code(), StatusCode::kFailedPrecondition);
  auto c = Worker("c");  // a new mapping's worker, say, on the same name
  ASSERT_TRUE(c->SyncShards(Shards(1)).ok());
  EXPECT_EQ(a->Tick().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(a->Held().empty());
  EXPECT_EQ(Read("shardId-000000000000").checkpoint, "TRIM_HORIZON");
}

TEST_F(LeaseTest, SeedKeepsExistingLeases) {
  auto a = Worker("a");
  ASSERT_TRUE(a->SyncShards(Shards(1)).ok());
  ASSERT_TRUE(a->Seed({{"shardId-000000000000", {"9", false}},
                       {"shardId-000000000005", {"", true}}})
                  .ok());
  EXPECT_EQ(Read("shardId-000000000000").checkpoint, "TRIM_HORIZON");
  EXPECT_EQ(Read("shardId-000000000005").checkpoint, "SHARD_END");
}

// A CheckpointStore whose writes block until released, recording what
// reached it.
class GatedStore : public CheckpointStore {
 public:
  Result<std::map<std::string, ShardCheckpoint>> Load() override {
    return std::map<std::string, ShardCheckpoint>{};
  }
  Status Save(const std::string&, const ShardCheckpoint& cp) override {
    std::unique_lock l(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(l, [this] { return open_; });
    written_.push_back(cp.shard_end ? "END" : cp.sequence_number);
    return std::exchange(fail_next_, Status::Ok());
  }
  void Open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void WaitStarted(int n) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return started_ >= n; });
  }
  std::vector<std::string> written() {
    std::lock_guard l(mu_);
    return written_;
  }
  void FailNext(Status s) {
    std::lock_guard l(mu_);
    fail_next_ = std::move(s);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int started_ = 0;
  Status fail_next_;
  std::vector<std::string> written_;
};

TEST(PipelinedCheckpointStore, SavesBehindProcessingInOrderAndCoalesced) {
  GatedStore inner;
  PipelinedCheckpointStore saves(inner);
  // Save returns while the write is still in flight.
  ASSERT_TRUE(saves.Save("s", {"1", false}).ok());
  inner.WaitStarted(1);
  // Saves made meanwhile coalesce into the newest.
  ASSERT_TRUE(saves.Save("s", {"2", false}).ok());
  ASSERT_TRUE(saves.Save("s", {"3", false}).ok());
  EXPECT_TRUE(inner.written().empty());
  // SHARD_END waits for everything before it, then is written itself.
  auto end = std::async(std::launch::async, [&] {
    return saves.Save("s", {"", true});
  });
  EXPECT_EQ(end.wait_for(std::chrono::milliseconds(50)),
            std::future_status::timeout);
  inner.Open();
  EXPECT_TRUE(end.get().ok());
  EXPECT_EQ(inner.written(), (std::vector<std::string>{"1", "3", "END"}));
}

TEST(PipelinedCheckpointStore, AFailedWriteIsAnsweredOnceByTheNextCall) {
  GatedStore inner;
  inner.Open();
  PipelinedCheckpointStore saves(inner);
  inner.FailNext(Aborted("the lease of s was lost"));
  ASSERT_TRUE(saves.Save("s", {"1", false}).ok());
  EXPECT_EQ(saves.Flush().code(), StatusCode::kAborted);
  ASSERT_TRUE(saves.Save("s", {"2", false}).ok());
  ASSERT_TRUE(saves.Flush().ok());

  inner.FailNext(Unavailable("try again"));
  ASSERT_TRUE(saves.Save("s", {"3", false}).ok());
  while (inner.written().size() < 3)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The next Save reports it and queues nothing: the processor keeps its
  // records and tries again.
  EXPECT_EQ(saves.Save("s", {"4", false}).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(saves.Save("s", {"5", false}).ok());
  EXPECT_TRUE(saves.Flush().ok());
  EXPECT_EQ(inner.written(), (std::vector<std::string>{"1", "2", "3", "5"}));
}

}  // namespace
}  // namespace riffle::functions
