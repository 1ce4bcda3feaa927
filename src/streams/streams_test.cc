#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "streams/hash_key.h"
#include "streams/sequence_number.h"
#include "streams/service.h"
#include "streams/shard_iterator.h"

namespace riffle::streams {
namespace {

namespace fs = std::filesystem;

TEST(HashKey, Md5MatchesAws) {
  // md5("a") = 0cc175b9c0f1b6a831c399e269772661
  HashKey k = HashPartitionKey("a");
  EXPECT_EQ(HashKeyToString(k), "16955237001963240173058271559858726497");
}

TEST(HashKey, ParseBounds) {
  EXPECT_EQ(ParseHashKey("0"), HashKey{0});
  EXPECT_EQ(ParseHashKey("340282366920938463463374607431768211455"),
            kMaxHashKey);
  EXPECT_FALSE(
      ParseHashKey("340282366920938463463374607431768211456").has_value());
  EXPECT_FALSE(ParseHashKey("").has_value());
  EXPECT_FALSE(ParseHashKey("12a").has_value());
}

TEST(HashKey, UniformRangesMatchAwsLayout) {
  for (int n : {1, 2, 3, 7, 10}) {
    HashKey step =
        kMaxHashKey / n + (kMaxHashKey % n == HashKey(n - 1) ? 1 : 0);
    HashKey expected_next = 0;
    for (int i = 0; i < n; ++i) {
      HashKeyRange r = UniformRange(0, kMaxHashKey, i, n);
      EXPECT_EQ(r.start, expected_next);
      EXPECT_EQ(r.start, step * i) << n << " " << i;
      expected_next = r.end + 1;
    }
    EXPECT_EQ(UniformRange(0, kMaxHashKey, n - 1, n).end, kMaxHashKey);
  }
  // 2^128 / 2 exactly.
  EXPECT_EQ(HashKeyToString(UniformRange(0, kMaxHashKey, 1, 2).start),
            "170141183460469231731687303715884105728");
}

TEST(SequenceNumber, RoundTripAndOrder) {
  SequenceNumber a{1700000000000, 1700000000000000, 3, 41};
  std::string text = a.ToString();
  EXPECT_EQ(text.size(), kSequenceNumberDigits);
  auto b = SequenceNumber::Parse(text);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->offset, 41u);
  EXPECT_EQ(b->shard_index, 3);
  SequenceNumber next = a;
  next.offset = 42;
  EXPECT_LT(text, next.ToString());  // same width: string order is numeric
  SequenceNumber child = a;
  child.shard_epoch_us += 1;
  child.offset = 0;
  EXPECT_LT(next.ToString(), child.ToString());
  EXPECT_FALSE(SequenceNumber::Parse("123").has_value());
  EXPECT_FALSE(SequenceNumber::Parse(std::string(56, '9')).has_value());
}

TEST(SequenceNumber, FormatterMatchesToString) {
  SequenceNumberFormatter f;
  for (SequenceNumber s :
       {SequenceNumber{1, 2, 3, 4}, SequenceNumber{1, 2, 3, 99},
        SequenceNumber{1, 2, 5, 0}, SequenceNumber{7, 8, 5, ~0ull}}) {
    EXPECT_EQ(f.Quoted(s), "\"" + s.ToString() + "\"");
  }
}

TEST(ShardId, Parsing) {
  EXPECT_EQ(ShardIdFromIndex(7), "shardId-000000000007");
  EXPECT_EQ(ShardIndexFromId("shardId-000000000007"), 7);
  EXPECT_EQ(ShardIndexFromId("7"), 7);
  EXPECT_FALSE(ShardIndexFromId("shard-7").has_value());
  EXPECT_FALSE(ShardIndexFromId("shardId-x").has_value());
}

TEST(ShardIterator, RoundTripAndTamper) {
  ShardIterator it{"orders", 123, 2, 99, 456};
  std::string token = it.Encode();
  auto back = ShardIterator::Decode(token);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->stream_name, "orders");
  EXPECT_EQ(back->offset, 99u);
  std::string bad = token;
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(ShardIterator::Decode(bad).has_value());
  EXPECT_FALSE(ShardIterator::Decode("not-an-iterator").has_value());
  // A token whose checksum is right but whose shard index is negative.
  ShardIterator negative = it;
  negative.shard_index = -1;
  EXPECT_FALSE(ShardIterator::Decode(negative.Encode()).has_value());
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_streams_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    service_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    service_.reset();
    ServiceOptions options;
    options.dir = dir_;
    options.now_ms = [this] { return now_ms_.load(); };
    auto s = Service::Open(options, &syncer_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    service_ = std::move(s).value();
  }

  std::vector<PutRecordOutcome> Put(const std::string& stream,
                                    std::vector<PutRecordInput> records) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::vector<PutRecordOutcome> out;
    service_->PutRecords(stream, std::move(records),
                         [&](Result<std::vector<PutRecordOutcome>> r) {
                           std::lock_guard lock(mu);
                           EXPECT_TRUE(r.ok()) << r.status().ToString();
                           if (r.ok()) out = std::move(r).value();
                           done = true;
                           cv.notify_all();
                         });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
    return out;
  }

  std::vector<storage::StoredRecord> ReadAll(const std::string& stream,
                                             const std::string& shard) {
    auto it = service_->GetShardIterator(stream, shard,
                                         IteratorType::kTrimHorizon, "", 0);
    EXPECT_TRUE(it.ok()) << it.status().ToString();
    std::vector<storage::StoredRecord> all;
    std::string token = *it;
    for (int i = 0; i < 100; ++i) {
      auto r = service_->GetRecords(token, 10000);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      for (auto& rec : r->records) all.push_back(rec);
      if (!r->next_shard_iterator || r->records.empty()) break;
      token = *r->next_shard_iterator;
    }
    return all;
  }

  fs::path dir_;
  std::atomic<int64_t> now_ms_{1'750'000'000'000};
  storage::LogSyncer syncer_;
  std::unique_ptr<Service> service_;
};

TEST_F(ServiceTest, CreateDescribeAndRoute) {
  ASSERT_TRUE(
      service_->CreateStream("s", 4, StreamMode::kProvisioned, {}).ok());
  EXPECT_EQ(service_->CreateStream("s", 1, StreamMode::kProvisioned, {}).code(),
            StatusCode::kAlreadyExists);
  auto d = service_->DescribeStream("s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->shards.size(), 4u);
  auto out = Put("s", {{"a", "1", std::nullopt}, {"b", "2", std::nullopt}});
  ASSERT_EQ(out.size(), 2u);
  HashKey ka = HashPartitionKey("a");
  for (const auto& shard : d->shards) {
    if (shard.hash_range.Contains(ka)) {
      EXPECT_EQ(out[0].shard_id(), shard.shard_id);
    }
  }
  auto explicit_out = Put("s", {{"a", "x", kMaxHashKey}});
  EXPECT_EQ(explicit_out[0].shard_id(), "shardId-000000000003");
  EXPECT_EQ(service_->DescribeStream("missing").status().code(),
            StatusCode::kNotFound);
}

TEST_F(ServiceTest, SequenceNumbersIncreaseAcrossRestart) {
  ASSERT_TRUE(
      service_->CreateStream("s", 1, StreamMode::kProvisioned, {}).ok());
  auto first = Put("s", {{"k", "1", std::nullopt}, {"k", "2", std::nullopt}});
  EXPECT_LT(first[0].sequence_number.ToString(),
            first[1].sequence_number.ToString());
  Reopen();
  auto second = Put("s", {{"k", "3", std::nullopt}});
  EXPECT_LT(first[1].sequence_number.ToString(),
            second[0].sequence_number.ToString());
  auto all = ReadAll("s", "shardId-000000000000");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].value, "3");
}

TEST_F(ServiceTest, SplitThenReadParentThenChildren) {
  ASSERT_TRUE(
      service_->CreateStream("s", 1, StreamMode::kProvisioned, {}).ok());
  auto before = Put("s", {{"k", "old", std::nullopt}});
  ASSERT_TRUE(service_
                  ->SplitShard("s", "shardId-000000000000",
                               "170141183460469231731687303715884105728")
                  .ok());
  auto after = Put("s", {{"k", "new", std::nullopt}});
  EXPECT_NE(after[0].shard_id(), "shardId-000000000000");
  EXPECT_LT(before[0].sequence_number.ToString(),
            after[0].sequence_number.ToString());

  auto it = service_->GetShardIterator("s", "shardId-000000000000",
                                       IteratorType::kTrimHorizon, "", 0);
  auto r = service_->GetRecords(*it, 100);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->records.size(), 1u);
  // The closed parent is finished: no next iterator, two children.
  EXPECT_FALSE(r->next_shard_iterator.has_value());
  EXPECT_EQ(r->child_shards.size(), 2u);

  Reopen();
  auto d = service_->DescribeStream("s");
  ASSERT_EQ(d->shards.size(), 3u);
  EXPECT_TRUE(d->shards[0].ending_sequence_number.has_value());
  EXPECT_EQ(d->open_shard_count, 2);
  ASSERT_TRUE(
      service_->MergeShards("s", "shardId-000000000001", "shardId-000000000002")
          .ok());
  EXPECT_EQ(service_->DescribeStream("s")->open_shard_count, 1);
}

TEST_F(ServiceTest, IteratorTypesAndErrors) {
  ASSERT_TRUE(
      service_->CreateStream("s", 1, StreamMode::kProvisioned, {}).ok());
  auto out = Put("s", {{"k", "a", std::nullopt}, {"k", "b", std::nullopt}});
  auto at = service_->GetShardIterator("s", "shardId-000000000000",
                                       IteratorType::kAtSequenceNumber,
                                       out[1].sequence_number.ToString(), 0);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(service_->GetRecords(*at, 10)->records.front().value, "b");
  auto after = service_->GetShardIterator("s", "shardId-000000000000",
                                          IteratorType::kAfterSequenceNumber,
                                          out[0].sequence_number.ToString(), 0);
  EXPECT_EQ(service_->GetRecords(*after, 10)->records.front().value, "b");
  auto latest = service_->GetShardIterator("s", "shardId-000000000000",
                                           IteratorType::kLatest, "", 0);
  EXPECT_TRUE(service_->GetRecords(*latest, 10)->records.empty());
  EXPECT_EQ(service_
                ->GetShardIterator("s", "shardId-000000000009",
                                   IteratorType::kLatest, "", 0)
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_EQ(service_
                ->GetShardIterator("s", "shardId-000000000000",
                                   IteratorType::kAtSequenceNumber, "12345", 0)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  now_ms_ += 6 * 60 * 1000;
  auto expired = service_->GetRecords(*at, 10);
  EXPECT_EQ(expired.status().code(), StatusCode::kDeadlineExceeded);
  // Kinesis's wording, times in its "date" shape.
  EXPECT_EQ(expired.status().message(),
            "Iterator expired. The iterator was created at time Sun Jun 15 "
            "15:06:40 UTC 2025 while right now it is Sun Jun 15 15:12:40 UTC "
            "2025 which is further in the future than the tolerated delay of "
            "300000 milliseconds.");
}

TEST_F(ServiceTest, RetentionHidesExpiredRecords) {
  ASSERT_TRUE(
      service_->CreateStream("s", 1, StreamMode::kProvisioned, {}).ok());
  Put("s", {{"k", "old", std::nullopt}});
  now_ms_ += 25ll * 3600 * 1000;
  Put("s", {{"k", "new", std::nullopt}});
  auto all = ReadAll("s", "shardId-000000000000");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].value, "new");
  EXPECT_EQ(service_->SetRetention("s", 23, false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(service_->SetRetention("s", 48, true).ok());
  EXPECT_EQ(service_->SetRetention("s", 30, true).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ServiceTest, UpdateShardCountAndLimits) {
  ASSERT_TRUE(
      service_->CreateStream("s", 2, StreamMode::kProvisioned, {}).ok());
  EXPECT_EQ(service_->UpdateShardCount("s", 5).status().code(),
            StatusCode::kInvalidArgument);
  auto prev = service_->UpdateShardCount("s", 4);
  ASSERT_TRUE(prev.ok());
  EXPECT_EQ(*prev, 2);
  auto d = service_->DescribeStream("s");
  EXPECT_EQ(d->open_shard_count, 4);
  EXPECT_EQ(d->shards.size(), 6u);
  EXPECT_EQ(
      service_->CreateStream("big", 600, StreamMode::kProvisioned, {}).code(),
      StatusCode::kQuotaExceeded);
  EXPECT_TRUE(service_->DeleteStream("s").ok());
  EXPECT_EQ(service_->DeleteStream("s").code(), StatusCode::kNotFound);
  ASSERT_TRUE(
      service_->CreateStream("s", 1, StreamMode::kProvisioned, {}).ok());
  EXPECT_TRUE(ReadAll("s", "shardId-000000000000").empty());
}

}  // namespace
}  // namespace riffle::streams
