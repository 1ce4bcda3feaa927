// ParallelizationFactor: lanes by partition key, concurrency, per-key
// order, and a checkpoint that never passes a record still being retried.
#include "functions/parallel_lanes.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/base64.h"
#include "json/json.h"

namespace riffle::functions {
namespace {

std::string Seq(int i) { return fmt::format("{:056d}", 1000 + i); }

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A closed shard in memory. Thread-safe (read-only once filled).
class Source : public RecordSource {
 public:
  std::vector<SourceRecord> records;
  Result<std::vector<ShardInfo>> ListShards() override {
    return std::vector<ShardInfo>{};
  }
  Result<std::string> GetIterator(const std::string&, IteratorStart start,
                                  const std::string& seq, int64_t) override {
    if (start == IteratorStart::kAfterSequence)
      for (size_t i = 0; i < records.size(); ++i)
        if (records[i].sequence_number == seq) return std::to_string(i + 1);
    return std::string("0");
  }
  Result<ReadResult> Read(const std::string& it, int limit) override {
    size_t i = std::stoul(it);
    ReadResult r;
    while (i < records.size() && static_cast<int>(r.records.size()) < limit)
      r.records.push_back(records[i++]);
    if (i < records.size()) r.next_iterator = std::to_string(i);
    return r;
  }
};

// Records what each invocation got, how many ran at once, and fails the
// records whose data is "poison" while `poison` is set. Thread-safe.
class Invoker : public BatchInvoker {
 public:
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> seen;  // (key, data)
  int running = 0;
  int max_running = 0;
  std::atomic<bool> poison{false};

  BatchOutcome Invoke(const std::string& event) override {
    Result<json::Value> v = json::Parse(event);
    EXPECT_TRUE(v.ok());
    bool fail = false;
    std::vector<std::pair<std::string, std::string>> batch;
    for (const json::Value& r : v->Find("Records")->items()) {
      const json::Value* k = r.Find("kinesis");
      std::string data = *base64::Decode(k->Find("data")->text());
      if (data == "poison" && poison) fail = true;
      batch.emplace_back(k->Find("partitionKey")->text(), data);
    }
    {
      std::lock_guard l(mu);
      max_running = std::max(max_running, ++running);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard l(mu);
    --running;
    if (fail) return BatchOutcome{Status::Ok(), "{}", "Unhandled"};
    seen.insert(seen.end(), batch.begin(), batch.end());
    return BatchOutcome{};
  }
};

class Checkpoints : public CheckpointStore {
 public:
  std::mutex mu;
  ShardCheckpoint last;
  std::vector<std::string> saved;
  Result<std::map<std::string, ShardCheckpoint>> Load() override {
    return std::map<std::string, ShardCheckpoint>{};
  }
  Status Save(const std::string&, const ShardCheckpoint& cp) override {
    std::lock_guard l(mu);
    if (!saved.empty()) {
      EXPECT_FALSE(SequenceLess(cp.sequence_number, saved.back()));
    }
    saved.push_back(cp.sequence_number);
    last = cp;
    return Status::Ok();
  }
};

class ParallelLanesTest : public ::testing::Test {
 protected:
  void Fill(int n, int keys) {
    for (int i = 0; i < n; ++i)
      source.records.push_back({Seq(i), fmt::format("key{}", i % keys),
                                fmt::format("{}", i), 1'000});
  }
  std::unique_ptr<ShardProcessor> Make(int factor) {
    ShardProcessorOptions o;
    o.mapping.batch_size = 5;
    o.mapping.parallelization_factor = factor;
    o.mapping.event_source_arn = "arn:aws:kinesis:us-east-1:0:stream/s";
    o.shard_id = "shardId-000000000000";
    o.poll_interval_ms = 1;
    o.retry_backoff_ms = 1;
    o.max_backoff_ms = 5;
    o.now_ms = WallMs;
    return std::make_unique<ShardProcessor>(o, source, invoker, checkpoints,
                                            nullptr, std::nullopt);
  }
  // Steps as a mapping runner would until `done` or the deadline.
  StepResult RunUntil(ShardProcessor& p, const std::function<bool()>& done,
                      int64_t timeout_ms = 10000) {
    int64_t deadline = WallMs() + timeout_ms;
    StepResult r = StepResult::kProgress;
    while (WallMs() < deadline && !done()) {
      r = p.Step();
      if (r == StepResult::kFinished) return r;
      if (r == StepResult::kIdle)
        std::this_thread::sleep_for(std::chrono::milliseconds(
            std::clamp<int64_t>(p.next_step_ms() - WallMs(), 0, 5)));
    }
    return r;
  }

  Source source;
  Invoker invoker;
  Checkpoints checkpoints;
};

TEST_F(ParallelLanesTest, ConcurrentBatchesInOrderPerKey) {
  Fill(400, 16);
  auto p = Make(4);
  EXPECT_EQ(RunUntil(*p, [] { return false; }), StepResult::kFinished);
  std::lock_guard l(invoker.mu);
  ASSERT_EQ(invoker.seen.size(), 400u);
  std::map<std::string, int> last;  // per key, the last record index seen
  std::set<std::string> data;
  for (const auto& [key, d] : invoker.seen) {
    int i = std::stoi(d);
    if (last.count(key)) {
      EXPECT_LT(last[key], i) << key;
    }
    last[key] = i;
    data.insert(d);
  }
  EXPECT_EQ(data.size(), 400u);  // each once
  EXPECT_GT(invoker.max_running, 1);
  EXPECT_LE(invoker.max_running, 4);
  EXPECT_EQ(checkpoints.last.sequence_number, Seq(399));
  EXPECT_TRUE(checkpoints.last.shard_end);
  EXPECT_EQ(p->stats().records_processed, 400u);
  EXPECT_EQ(p->checkpoint(), Seq(399));
}

TEST_F(ParallelLanesTest, RetriedRecordHoldsTheCheckpointNotOtherLanes) {
  Fill(100, 10);
  source.records[20].data = "poison";  // key0's third record
  invoker.poison = true;
  auto p = Make(5);
  const size_t lane_of_poison = ParallelLanes::LaneOf("key0", 5);
  // The other lanes go on past the poison record (as far as the buffer of
  // dealt records allows).
  auto others_past_poison = [&] {
    std::lock_guard l(invoker.mu);
    for (const auto& [key, d] : invoker.seen)
      if (ParallelLanes::LaneOf(key, 5) != lane_of_poison && std::stoi(d) > 40)
        return true;
    return false;
  };
  RunUntil(*p, others_past_poison);
  ASSERT_TRUE(others_past_poison());
  // The checkpoint did not pass the poison record.
  for (int i = 0; i < 20; ++i) p->Step();
  {
    std::lock_guard l(checkpoints.mu);
    EXPECT_TRUE(checkpoints.last.sequence_number.empty() ||
                SequenceLess(checkpoints.last.sequence_number, Seq(20)));
  }
  invoker.poison = false;  // the retry succeeds
  EXPECT_EQ(RunUntil(*p, [] { return false; }), StepResult::kFinished);
  EXPECT_EQ(checkpoints.last.sequence_number, Seq(99));
  std::lock_guard l(invoker.mu);
  EXPECT_EQ(invoker.seen.size(), 100u);
}

TEST_F(ParallelLanesTest, ResumesFromACheckpointAndStopsCleanly) {
  Fill(50, 7);
  ShardProcessorOptions o;
  o.mapping.parallelization_factor = 3;
  o.shard_id = "shardId-000000000000";
  o.poll_interval_ms = 1;
  o.now_ms = WallMs;
  ShardProcessor p(o, source, invoker, checkpoints, nullptr,
                   ShardCheckpoint{Seq(29), false});
  EXPECT_EQ(RunUntil(p, [] { return false; }), StepResult::kFinished);
  std::lock_guard l(invoker.mu);
  EXPECT_EQ(invoker.seen.size(), 20u);
  for (const auto& [key, d] : invoker.seen) EXPECT_GE(std::stoi(d), 30);
}

TEST(ParallelLanesLaneOfTest, StableAndSpread) {
  EXPECT_EQ(ParallelLanes::LaneOf("abc", 7), ParallelLanes::LaneOf("abc", 7));
  std::set<size_t> used;
  for (int i = 0; i < 100; ++i)
    used.insert(ParallelLanes::LaneOf(fmt::format("k{}", i), 10));
  EXPECT_EQ(used.size(), 10u);
  EXPECT_EQ(ParallelLanes::LaneOf("x", 1), 0u);
}

}  // namespace
}  // namespace riffle::functions
