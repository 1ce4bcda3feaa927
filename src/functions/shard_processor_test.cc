// ShardProcessor against small fakes: batching, windows, retries, bisect,
// partial batch failures, record age and the failure destination.
#include "functions/shard_processor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/base64.h"
#include "json/json.h"

namespace riffle::functions {
namespace {

std::string Seq(int i) { return fmt::format("{:056d}", 1000 + i); }

// One shard held in memory; an iterator is the index of the next record.
class FakeSource : public RecordSource {
 public:
  std::vector<SourceRecord> records;
  bool closed = false;

  void Add(int n, int64_t arrival_ms = 1'000'000) {
    for (int i = 0; i < n; ++i) {
      int k = static_cast<int>(records.size());
      records.push_back({Seq(k), "pk" + std::to_string(k),
                         "data" + std::to_string(k), arrival_ms});
    }
  }
  Result<std::vector<ShardInfo>> ListShards() override {
    return std::vector<ShardInfo>{{"shardId-000000000000", {}}};
  }
  Result<std::string> GetIterator(const std::string&, IteratorStart start,
                                  const std::string& seq, int64_t) override {
    if (start == IteratorStart::kAfterSequence) {
      for (size_t i = 0; i < records.size(); ++i)
        if (records[i].sequence_number == seq) return std::to_string(i + 1);
      return NotFound("no such sequence number");
    }
    return std::string("0");
  }
  Result<ReadResult> Read(const std::string& iterator, int limit) override {
    size_t i = std::stoul(iterator);
    ReadResult r;
    while (i < records.size() && static_cast<int>(r.records.size()) < limit)
      r.records.push_back(records[i++]);
    if (!(closed && i >= records.size())) r.next_iterator = std::to_string(i);
    return r;
  }
};

// Decides each invocation's outcome from the batch's record indexes.
class FakeInvoker : public BatchInvoker {
 public:
  std::vector<std::vector<int>> batches;  // record indexes per invocation
  std::function<BatchOutcome(const std::vector<int>&)> decide =
      [](const std::vector<int>&) { return BatchOutcome{}; };

  std::vector<json::Value> events;  // every event, parsed

  BatchOutcome Invoke(const std::string& event) override {
    Result<json::Value> v = json::Parse(event);
    EXPECT_TRUE(v.ok());
    events.push_back(*v);
    std::vector<int> batch;
    for (const json::Value& r : v->Find("Records")->items()) {
      const json::Value* k = r.Find("kinesis");
      std::string data = *base64::Decode(k->Find("data")->text());
      batch.push_back(std::stoi(data.substr(4)));
      EXPECT_EQ(r.Find("eventSource")->text(), "aws:kinesis");
      EXPECT_EQ(r.Find("eventName")->text(), "aws:kinesis:record");
      EXPECT_EQ(k->Find("kinesisSchemaVersion")->text(), "1.0");
      EXPECT_EQ(r.Find("eventID")->text(),
                "shardId-000000000000:" + k->Find("sequenceNumber")->text());
    }
    batches.push_back(batch);
    return decide(batch);
  }
};

class FakeCheckpoints : public CheckpointStore {
 public:
  std::map<std::string, ShardCheckpoint> saved;
  int saves = 0;
  Result<std::map<std::string, ShardCheckpoint>> Load() override {
    return saved;
  }
  Status Save(const std::string& shard, const ShardCheckpoint& cp) override {
    ++saves;
    saved[shard] = cp;
    return Status::Ok();
  }
};

class FakeDestination : public FailureDestination {
 public:
  std::vector<json::Value> sent;
  Status Send(const std::string& record) override {
    sent.push_back(*json::Parse(record));
    return Status::Ok();
  }
};

BatchOutcome Fail() { return BatchOutcome{Status::Ok(), "{}", "Unhandled"}; }

class ShardProcessorTest : public ::testing::Test {
 protected:
  std::unique_ptr<ShardProcessor> Make(
      std::optional<ShardCheckpoint> cp = std::nullopt) {
    ShardProcessorOptions o;
    o.mapping = mapping;
    o.mapping.event_source_arn = "arn:aws:kinesis:us-east-1:0:stream/s";
    o.shard_id = "shardId-000000000000";
    o.function_arn = "arn:aws:lambda:us-east-1:0:function:f";
    o.now_ms = [this] { return now; };
    return std::make_unique<ShardProcessor>(
        o, source, invoker, checkpoints,
        with_destination ? &destination : nullptr, cp);
  }
  // Steps (advancing the fake clock past any wait) until `done` or `limit`
  // steps.
  void Run(ShardProcessor& p, int limit = 200) {
    for (int i = 0; i < limit; ++i) {
      StepResult r = p.Step();
      if (r == StepResult::kFinished) return;
      if (r == StepResult::kIdle) now = std::max(now + 1, p.next_step_ms());
    }
  }

  MappingConfig mapping;
  FakeSource source;
  FakeInvoker invoker;
  FakeCheckpoints checkpoints;
  FakeDestination destination;
  bool with_destination = true;
  int64_t now = 2'000'000;
};

TEST_F(ShardProcessorTest, BatchesInOrderAndCheckpointsEachBatch) {
  mapping.batch_size = 3;
  source.Add(7);
  source.closed = true;
  auto p = Make();
  Run(*p);
  ASSERT_EQ(invoker.batches.size(), 3u);
  EXPECT_EQ(invoker.batches[0], (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(invoker.batches[1], (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(invoker.batches[2], (std::vector<int>{6}));
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(6));
  EXPECT_TRUE(checkpoints.saved["shardId-000000000000"].shard_end);
  EXPECT_EQ(p->stats().records_processed, 7u);
}

TEST_F(ShardProcessorTest, ResumesAfterCheckpoint) {
  source.Add(5);
  source.closed = true;
  auto p = Make(ShardCheckpoint{Seq(2), false});
  Run(*p);
  ASSERT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(invoker.batches[0], (std::vector<int>{3, 4}));
}

TEST_F(ShardProcessorTest, FinishedShardDoesNothing) {
  source.Add(5);
  auto p = Make(ShardCheckpoint{Seq(4), true});
  EXPECT_EQ(p->Step(), StepResult::kFinished);
  EXPECT_TRUE(invoker.batches.empty());
}

TEST_F(ShardProcessorTest, BatchingWindowWaitsForAFullerBatch) {
  mapping.batch_size = 10;
  mapping.maximum_batching_window_seconds = 2;
  source.Add(3);
  auto p = Make();
  EXPECT_EQ(p->Step(), StepResult::kIdle);  // read 3, window open
  EXPECT_TRUE(invoker.batches.empty());
  now += 1000;
  source.Add(2);
  p->Step();
  EXPECT_TRUE(invoker.batches.empty());
  now += 1001;
  for (int i = 0; i < 3 && invoker.batches.empty(); ++i) p->Step();
  ASSERT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(invoker.batches[0].size(), 5u);
}

TEST_F(ShardProcessorTest, FullBatchGoesBeforeTheWindowCloses) {
  mapping.batch_size = 4;
  mapping.maximum_batching_window_seconds = 60;
  source.Add(4);
  auto p = Make();
  p->Step();
  ASSERT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(invoker.batches[0].size(), 4u);
}

TEST_F(ShardProcessorTest, RetriesThenSendsToDestinationAndMovesOn) {
  mapping.batch_size = 2;
  mapping.maximum_retry_attempts = 2;
  source.Add(4);
  source.closed = true;
  invoker.decide = [](const std::vector<int>& b) {
    return b[0] == 0 ? Fail() : BatchOutcome{};
  };
  auto p = Make();
  Run(*p);
  // 1 attempt + 2 retries of {0,1}, then {2,3}.
  ASSERT_EQ(invoker.batches.size(), 4u);
  EXPECT_EQ(invoker.batches[3], (std::vector<int>{2, 3}));
  ASSERT_EQ(destination.sent.size(), 1u);
  const json::Value& info = *destination.sent[0].Find("KinesisBatchInfo");
  EXPECT_EQ(info.Find("startSequenceNumber")->text(), Seq(0));
  EXPECT_EQ(info.Find("endSequenceNumber")->text(), Seq(1));
  EXPECT_EQ(info.Find("batchSize")->AsInt64(), 2);
  EXPECT_EQ(info.Find("shardId")->text(), "shardId-000000000000");
  const json::Value& ctx = *destination.sent[0].Find("requestContext");
  EXPECT_EQ(ctx.Find("condition")->text(), "RetryAttemptsExhausted");
  EXPECT_EQ(ctx.Find("approximateInvokeCount")->AsInt64(), 3);
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(3));
  EXPECT_EQ(p->stats().records_failed, 2u);
}

TEST_F(ShardProcessorTest, WithoutDestinationFailedRecordsAreCountedNotLost) {
  with_destination = false;
  mapping.maximum_retry_attempts = 0;
  source.Add(3);
  source.closed = true;
  invoker.decide = [](const std::vector<int>&) { return Fail(); };
  auto p = Make();
  Run(*p);
  EXPECT_EQ(p->stats().records_failed, 3u);
  EXPECT_TRUE(checkpoints.saved["shardId-000000000000"].shard_end);
}

TEST_F(ShardProcessorTest, BisectIsolatesThePoisonRecord) {
  mapping.batch_size = 8;
  mapping.bisect_batch_on_function_error = true;
  mapping.maximum_retry_attempts = 0;
  source.Add(8);
  source.closed = true;
  invoker.decide = [](const std::vector<int>& b) {
    for (int i : b)
      if (i == 5) return Fail();
    return BatchOutcome{};
  };
  auto p = Make();
  Run(*p);
  // 0-7 fails, 0-3 ok, 4-5 fails, 4 ok, 5 fails (sent), 6-7 ok.
  ASSERT_EQ(destination.sent.size(), 1u);
  const json::Value& info = *destination.sent[0].Find("KinesisBatchInfo");
  EXPECT_EQ(info.Find("startSequenceNumber")->text(), Seq(5));
  EXPECT_EQ(info.Find("endSequenceNumber")->text(), Seq(5));
  std::vector<int> delivered;
  for (size_t i = 0; i < invoker.batches.size(); ++i) {
    bool ok = true;
    for (int r : invoker.batches[i])
      if (r == 5) ok = false;
    if (ok)
      delivered.insert(delivered.end(), invoker.batches[i].begin(),
                       invoker.batches[i].end());
  }
  EXPECT_EQ(delivered, (std::vector<int>{0, 1, 2, 3, 4, 6, 7}));
  EXPECT_EQ(p->stats().records_processed, 7u);
}

TEST_F(ShardProcessorTest, PartialBatchFailureCheckpointsBeforeLowest) {
  mapping.batch_size = 5;
  mapping.report_batch_item_failures = true;
  source.Add(5);
  source.closed = true;
  int calls = 0;
  invoker.decide = [&](const std::vector<int>& b) {
    if (calls++ == 0) {
      // Two failures reported; the lowest (2) decides the checkpoint.
      return BatchOutcome{
          Status::Ok(),
          fmt::format(R"({{"batchItemFailures":[{{"itemIdentifier":"{}"}},)"
                      R"({{"itemIdentifier":"{}"}}]}})",
                      Seq(3), Seq(2)),
          ""};
    }
    EXPECT_EQ(b.front(), 2);
    return BatchOutcome{Status::Ok(), R"({"batchItemFailures":[]})", ""};
  };
  auto p = Make();
  Run(*p);
  ASSERT_EQ(invoker.batches.size(), 2u);
  EXPECT_EQ(invoker.batches[1], (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(p->stats().records_processed, 5u);
}

TEST_F(ShardProcessorTest, PartialFailureGivesUpOnlyTheFailedRecords) {
  mapping.batch_size = 6;
  mapping.report_batch_item_failures = true;
  mapping.maximum_retry_attempts = 1;
  source.Add(6);
  source.closed = true;
  invoker.decide = [](const std::vector<int>& b) {
    for (int i : b)
      if (i == 2)
        return BatchOutcome{
            Status::Ok(),
            fmt::format(
                R"({{"batchItemFailures":[{{"itemIdentifier":"{}"}}]}})",
                Seq(2)),
            ""};
    return BatchOutcome{};
  };
  auto p = Make();
  Run(*p);
  ASSERT_EQ(destination.sent.size(), 1u);
  const json::Value& info = *destination.sent[0].Find("KinesisBatchInfo");
  EXPECT_EQ(info.Find("startSequenceNumber")->text(), Seq(2));
  EXPECT_EQ(info.Find("endSequenceNumber")->text(), Seq(2));
  EXPECT_EQ(p->stats().records_processed, 5u);
  EXPECT_EQ(invoker.batches.back(), (std::vector<int>{3, 4, 5}));
}

TEST_F(ShardProcessorTest, UnknownItemIdentifierFailsTheWholeBatch) {
  mapping.batch_size = 3;
  mapping.report_batch_item_failures = true;
  mapping.maximum_retry_attempts = 0;
  source.Add(3);
  source.closed = true;
  invoker.decide = [](const std::vector<int>&) {
    return BatchOutcome{Status::Ok(),
                        R"({"batchItemFailures":[{"itemIdentifier":"nope"}]})",
                        ""};
  };
  auto p = Make();
  Run(*p);
  ASSERT_EQ(destination.sent.size(), 1u);
  EXPECT_EQ(destination.sent[0]
                .Find("KinesisBatchInfo")
                ->Find("batchSize")
                ->AsInt64(),
            3);
}

TEST_F(ShardProcessorTest, ReportBatchItemFailuresIgnoredWhenNotEnabled) {
  source.Add(2);
  source.closed = true;
  invoker.decide = [](const std::vector<int>&) {
    return BatchOutcome{
        Status::Ok(), R"({"batchItemFailures":[{"itemIdentifier":"x"}]})", ""};
  };
  auto p = Make();
  Run(*p);
  EXPECT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(p->stats().records_processed, 2u);
}

TEST_F(ShardProcessorTest, OldRecordsSkipTheFunction) {
  mapping.maximum_record_age_seconds = 60;
  source.Add(2, /*arrival_ms=*/now - 120'000);
  source.Add(1, /*arrival_ms=*/now);
  source.closed = true;
  auto p = Make();
  Run(*p);
  ASSERT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(invoker.batches[0], (std::vector<int>{2}));
  ASSERT_EQ(destination.sent.size(), 1u);
  EXPECT_EQ(
      destination.sent[0].Find("requestContext")->Find("condition")->text(),
      "RecordAgeExceeded");
}

// With a tumbling window, records given up on for their age before any
// window opened were sent to the destination but their checkpoint waited
// for a window to close: on an idle shard never, so a restart or a lease
// handover sent the same failure records again.
TEST_F(ShardProcessorTest, OldRecordsAreCheckpointedPastWithATumblingWindow) {
  mapping.tumbling_window_seconds = 60;
  mapping.maximum_record_age_seconds = 60;
  source.Add(3, /*arrival_ms=*/now - 120'000);
  auto p = Make();
  for (int i = 0; i < 5; ++i) p->Step();
  EXPECT_TRUE(invoker.batches.empty());
  ASSERT_EQ(destination.sent.size(), 1u);
  ASSERT_EQ(checkpoints.saved.count("shardId-000000000000"), 1u);
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(2));
  EXPECT_FALSE(checkpoints.saved["shardId-000000000000"].shard_end);
}

TEST_F(ShardProcessorTest, ThrottlingRetriesWithoutCountingAttempts) {
  mapping.maximum_retry_attempts = 0;
  source.Add(1);
  source.closed = true;
  int calls = 0;
  invoker.decide = [&](const std::vector<int>&) {
    return calls++ < 3
               ? BatchOutcome{ResourceExhausted("Rate Exceeded."), "", ""}
               : BatchOutcome{};
  };
  auto p = Make();
  Run(*p);
  EXPECT_EQ(invoker.batches.size(), 4u);
  EXPECT_TRUE(destination.sent.empty());
  EXPECT_EQ(p->stats().records_processed, 1u);
}

TEST_F(ShardProcessorTest, InfiniteRetriesKeepTheRecordUntilItSucceeds) {
  source.Add(2);
  source.closed = true;
  int calls = 0;
  invoker.decide = [&](const std::vector<int>&) {
    return calls++ < 10 ? Fail() : BatchOutcome{};
  };
  auto p = Make();
  Run(*p, 1000);
  EXPECT_EQ(invoker.batches.size(), 11u);
  EXPECT_TRUE(destination.sent.empty());
  EXPECT_EQ(p->stats().records_processed, 2u);
}

TEST_F(ShardProcessorTest, NudgeEndsTheWaitForRecordsButNotABackoff) {
  auto p = Make();
  EXPECT_EQ(p->Step(), StepResult::kIdle);  // empty shard: poll later
  EXPECT_GT(p->next_step_ms(), now);
  source.Add(1);
  p->Nudge();  // an append: read at once
  EXPECT_EQ(p->next_step_ms(), 0);
  EXPECT_EQ(p->Step(), StepResult::kProgress);
  EXPECT_EQ(invoker.batches.size(), 1u);

  invoker.decide = [](const std::vector<int>&) { return Fail(); };
  source.Add(1);
  p->Nudge();  // not waiting for records: no effect
  EXPECT_EQ(p->Step(), StepResult::kIdle);  // the batch failed: backoff
  int64_t backoff = p->next_step_ms();
  EXPECT_GT(backoff, now);
  p->Nudge();
  EXPECT_EQ(p->next_step_ms(), backoff);
}

TEST_F(ShardProcessorTest, FilteredRecordsAreSkippedAndCheckpointedPast) {
  mapping.batch_size = 10;
  mapping.filter_patterns = {
      R"({"kinesis": {"partitionKey": [{"anything-but": ["pk1", "pk2", "pk5", "pk6"]}]}})"};
  source.Add(7);
  source.closed = true;
  auto p = Make();
  Run(*p);
  ASSERT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(invoker.batches[0], (std::vector<int>{0, 3, 4}));
  // The last records were filtered out: the checkpoint still passes them.
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(6));
  EXPECT_TRUE(checkpoints.saved["shardId-000000000000"].shard_end);
  EXPECT_EQ(p->stats().records_filtered, 4u);
  EXPECT_EQ(p->stats().records_processed, 3u);
}

TEST_F(ShardProcessorTest,
       LeadingFilteredRecordsAreCheckpointedWithoutInvoking) {
  mapping.filter_patterns = {R"({"kinesis": {"partitionKey": ["none"]}})"};
  source.Add(3);
  auto p = Make();
  p->Step();
  EXPECT_TRUE(invoker.batches.empty());
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(2));
  EXPECT_EQ(p->checkpoint(), Seq(2));
  source.Add(1);  // filtered out too
  now = p->next_step_ms();
  for (int i = 0; i < 3 && p->Step() != StepResult::kIdle; ++i) {
  }
  EXPECT_TRUE(invoker.batches.empty());
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(3));
}

TEST_F(ShardProcessorTest, FilteredBatchesAreFilledBeforeInvoking) {
  // Only every third record matches: the processor reads on until it has
  // BatchSize matching records rather than invoking with one.
  mapping.batch_size = 3;
  mapping.filter_patterns = {
      R"({"kinesis": {"partitionKey": ["pk0", "pk3", "pk6", "pk9"]}})"};
  source.Add(12);
  auto p = Make();
  for (int i = 0; i < 20 && invoker.batches.empty(); ++i) p->Step();
  ASSERT_EQ(invoker.batches.size(), 1u);
  EXPECT_EQ(invoker.batches[0], (std::vector<int>{0, 3, 6}));
}

TEST_F(ShardProcessorTest, FailureAfterAFilteredRecordKeepsItsPlace) {
  // 0 kept, 1 filtered, 2 kept and failing: the checkpoint after 0 covers
  // 1, and 2 is retried, then given up on.
  mapping.batch_size = 1;
  mapping.maximum_retry_attempts = 0;
  mapping.filter_patterns = {
      R"({"kinesis": {"partitionKey": [{"anything-but": "pk1"}]}})"};
  invoker.decide = [](const std::vector<int>& b) {
    return b[0] == 2 ? Fail() : BatchOutcome{};
  };
  source.Add(3);
  source.closed = true;
  auto p = Make();
  Run(*p);
  ASSERT_EQ(invoker.batches.size(), 2u);
  EXPECT_EQ(invoker.batches[0], (std::vector<int>{0}));
  EXPECT_EQ(invoker.batches[1], (std::vector<int>{2}));
  ASSERT_EQ(destination.sent.size(), 1u);
  EXPECT_EQ(destination.sent[0]
                .Find("KinesisBatchInfo")
                ->Find("startSequenceNumber")
                ->text(),
            Seq(2));
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(2));
}

// Counts records in the window's state, as a tumbling-window handler would.
BatchOutcome CountInState(const json::Value& event) {
  int64_t n = event.Find("state")->Find("n")
                  ? *event.Find("state")->Find("n")->AsInt64()
                  : 0;
  n += static_cast<int64_t>(event.Find("Records")->items().size());
  return BatchOutcome{Status::Ok(),
                      fmt::format(R"({{"state": {{"n": {}}}}})", n), ""};
}

TEST_F(ShardProcessorTest, TumblingWindowCarriesStateAndEndsWithAFinalInvoke) {
  mapping.batch_size = 2;
  mapping.tumbling_window_seconds = 10;
  // Three records in the window [1,000,000, 1,010,000), two in the next.
  source.Add(3, 1'000'500);
  source.Add(2, 1'012'000);
  now = 1'020'000;
  invoker.decide = [this](const std::vector<int>&) {
    return CountInState(invoker.events.back());
  };
  auto p = Make();
  for (int i = 0; i < 20 && invoker.events.size() < 5; ++i) p->Step();
  ASSERT_EQ(invoker.events.size(), 5u);
  auto records = [&](size_t i) {
    return invoker.events[i].Find("Records")->items().size();
  };
  auto state_n = [&](size_t i) -> int64_t {
    const json::Value* n = invoker.events[i].Find("state")->Find("n");
    return n ? *n->AsInt64() : 0;
  };
  auto final = [&](size_t i) {
    return invoker.events[i].Find("isFinalInvokeForWindow")->bool_value();
  };
  // Window 1: [0,1] with {}, [2] with n=2, then the final one with n=3.
  EXPECT_EQ(records(0), 2u);
  EXPECT_EQ(state_n(0), 0);
  EXPECT_FALSE(final(0));
  EXPECT_EQ(records(1), 1u);  // a batch never spans windows
  EXPECT_EQ(state_n(1), 2);
  EXPECT_EQ(records(2), 0u);
  EXPECT_EQ(state_n(2), 3);
  EXPECT_TRUE(final(2));
  EXPECT_EQ(invoker.events[2].Find("window")->Find("start")->text(),
            WindowTimestamp(1'000'000));
  EXPECT_EQ(invoker.events[2].Find("window")->Find("end")->text(),
            WindowTimestamp(1'010'000));
  EXPECT_EQ(invoker.events[2].Find("shardId")->text(), "shardId-000000000000");
  EXPECT_FALSE(invoker.events[2].Find("isWindowTerminatedEarly")->bool_value());
  // Window 2 starts with a fresh state.
  EXPECT_EQ(records(3), 2u);
  EXPECT_EQ(state_n(3), 0);
  EXPECT_EQ(invoker.events[3].Find("window")->Find("start")->text(),
            WindowTimestamp(1'010'000));
  // Its end (1,020,000) has passed and the shard is caught up: final.
  EXPECT_TRUE(final(4));
  EXPECT_EQ(state_n(4), 2);
  // The checkpoint moved only when each window closed.
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(4));
}

TEST_F(ShardProcessorTest, TumblingWindowCheckpointWaitsForTheWindowToClose) {
  mapping.tumbling_window_seconds = 60;
  source.Add(3, 1'000'500);
  now = 1'001'000;  // the window [960,000, 1,020,000) is open
  invoker.decide = [this](const std::vector<int>&) {
    return CountInState(invoker.events.back());
  };
  auto p = Make();
  for (int i = 0; i < 5; ++i) p->Step();
  ASSERT_EQ(invoker.events.size(), 1u);
  EXPECT_EQ(checkpoints.saves, 0);  // a restart replays the window
  EXPECT_EQ(p->next_step_ms(), std::min<int64_t>(now + 100, 1'020'000));
  now = 1'020'000;
  for (int i = 0; i < 5 && invoker.events.size() < 2; ++i) p->Step();
  ASSERT_EQ(invoker.events.size(), 2u);
  EXPECT_TRUE(invoker.events[1].Find("isFinalInvokeForWindow")->bool_value());
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(2));
}

TEST_F(ShardProcessorTest, TumblingWindowFinalInvokeIsRetriedThenGivenUp) {
  mapping.tumbling_window_seconds = 1;
  mapping.maximum_retry_attempts = 2;
  source.Add(1, 1'000'000);
  source.closed = true;
  invoker.decide = [this](const std::vector<int>&) {
    return invoker.events.back().Find("isFinalInvokeForWindow")->bool_value()
               ? Fail()
               : BatchOutcome{};
  };
  auto p = Make();
  Run(*p);
  // One batch, then the final invocation three times (two retries).
  EXPECT_EQ(invoker.events.size(), 4u);
  EXPECT_TRUE(checkpoints.saved["shardId-000000000000"].shard_end);
  EXPECT_EQ(checkpoints.saved["shardId-000000000000"].sequence_number, Seq(0));
}

TEST(FilterViewTest, MetadataAndJsonData) {
  SourceRecord r{"49590", "pk-1", R"({"amount": 12, "currency": "EUR"})",
                 1545084650987};
  json::Value v =
      FilterView(r, "shardId-000000000006",
                 "arn:aws:kinesis:us-east-1:0:stream/s", "eu-west-1");
  EXPECT_EQ(v.Find("kinesis")->Find("partitionKey")->text(), "pk-1");
  EXPECT_EQ(v.Find("kinesis")->Find("sequenceNumber")->text(), "49590");
  EXPECT_EQ(v.Find("kinesis")->Find("approximateArrivalTimestamp")->text(),
            "1545084650.987");
  EXPECT_EQ(v.Find("eventID")->text(), "shardId-000000000006:49590");
  EXPECT_EQ(v.Find("awsRegion")->text(), "eu-west-1");
  EXPECT_EQ(v.Find("data")->Find("currency")->text(), "EUR");
  Result<FilterPattern> p = FilterPattern::Parse(
      R"({"data": {"amount": [{"numeric": [">", 10]}]}, "kinesis": {"partitionKey": [{"prefix": "pk-"}]}})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->Matches(v));

  r.data = "\x01not json";
  json::Value raw = FilterView(r, "s", "arn", "us-east-1");
  EXPECT_EQ(raw.Find("data"), nullptr);
  EXPECT_FALSE(p->Matches(raw));
}

TEST(SequenceLessTest, ComparesAsBigIntegers) {
  EXPECT_TRUE(SequenceLess("9", "10"));
  EXPECT_FALSE(SequenceLess("10", "9"));
  EXPECT_TRUE(SequenceLess("100", "101"));
  EXPECT_FALSE(SequenceLess("5", "5"));
}

}  // namespace
}  // namespace riffle::functions
