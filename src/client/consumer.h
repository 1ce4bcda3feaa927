// A Kinesis consumer that follows every shard of a stream with
// ListShards/GetShardIterator/GetRecords (polling; no enhanced fan-out).
//
// Parents before children: after a split or merge, a child shard is read
// only once each of its parents that is still listed has been read to its
// end, so a partition key's records come out in the order they were put
// even across a reshard. Within a shard, records come out in sequence
// order. Shards that appear after the consumer started are read from their
// start (TRIM_HORIZON) whatever the starting position, so that nothing put
// into them is missed.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client/aws_clients.h"
#include "core/status.h"

namespace riffle::client {

enum class StartAt {
  kTrimHorizon,    // the oldest record still kept
  kLatest,         // only records put after the consumer starts reading
  kAtSequence,     // a given record (per shard)
  kAfterSequence,  // just after a given record (resume from a checkpoint)
};

struct ShardPosition {
  StartAt at = StartAt::kTrimHorizon;
  std::string sequence_number;  // for kAtSequence and kAfterSequence
};

struct ConsumerOptions {
  std::string stream;  // name
  // Where shards without an entry in `positions` start. kTrimHorizon or
  // kLatest (with kLatest, shards already closed are skipped).
  StartAt start = StartAt::kTrimHorizon;
  // Per shard id: where to start instead (Positions() of a previous run).
  std::map<std::string, ShardPosition> positions;
  int get_records_limit = 1000;
  // A shard that had nothing new is asked again after this long.
  std::chrono::milliseconds idle_interval{250};
  // A throttled shard waits from the first to the most of these, doubling.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // New shards (a reshard) are looked for at this interval, and at once
  // when a shard ends.
  std::chrono::milliseconds relist_interval{2000};
};

struct ConsumedRecord {
  std::string shard_id;
  std::string sequence_number;
  std::string partition_key;
  std::string data;
  int64_t arrival_ms = 0;  // ApproximateArrivalTimestamp
};

// Owns its shard state; borrows `kinesis`, which must outlive it. Not
// thread-safe: one thread polls.
class Consumer {
 public:
  Consumer(AwsJsonClient* kinesis, ConsumerOptions options);
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Returns the next records, waiting up to `max_wait` for some (an empty
  // vector when none came). Records of one shard are in order and follow
  // those of earlier calls; several shards' records may be interleaved.
  // NotFound when the stream does not exist; Unavailable when the endpoint
  // cannot be reached (calling again resumes where it stopped);
  // throttling and expired iterators are handled here.
  Result<std::vector<ConsumedRecord>> Poll(std::chrono::milliseconds max_wait);

  // Per shard id: the position after the last record returned, to resume
  // with ConsumerOptions::positions.
  std::map<std::string, ShardPosition> Positions() const;
  // Shards read to their end (closed by a reshard), by id.
  std::vector<std::string> FinishedShards() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Shard {
    std::vector<std::string> parents;
    bool started = false;   // has an iterator (or had one)
    bool finished = false;  // read to its end, or skipped
    std::string iterator;
    ShardPosition start;
    std::string last_sequence;
    Clock::time_point next_read{};
    int throttled = 0;
  };

  Status ListShards();
  Status GetIterator(const std::string& id, Shard& shard);
  bool Ready(const Shard& shard) const;
  std::chrono::milliseconds BackoffFor(int attempts) const;

  AwsJsonClient* const kinesis_;
  const ConsumerOptions options_;
  std::map<std::string, Shard> shards_;  // by id: ids sort by creation
  bool listed_ = false;
  Clock::time_point relist_at_{};
};

}  // namespace riffle::client
