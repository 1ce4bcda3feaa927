// A batching Kinesis producer: records are buffered, sent with PutRecords
// (up to 500 records / 5 MiB per call), and re-sent with exponential
// backoff and jitter when the stream throttles them or fails them
// partially, until every record is stored or its retry budget is spent.
//
// Order per partition key. Invariant: at most one record of a partition key
// is in a PutRecords call, and it is the oldest record of that key not yet
// stored. PutRecords may store some records of a call and fail others (a
// shard's throughput limit is per record and per byte, so a small record
// can pass where a larger one before it failed); with one record per key
// per call, a failed record is re-sent before any later record of its key
// is sent at all, so each key's records reach the stream in Put order,
// each exactly once (as far as the producer knows: a call whose reply is
// lost is re-sent and may store its records twice, as with any Kinesis
// producer). Keys are independent: a throttled key does not hold others
// back, and a batch takes the heads of up to 500 keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include "client/aws_clients.h"
#include "core/status.h"

namespace riffle::client {

// What the producer reports for each stored record.
struct Delivery {
  uint64_t tag = 0;  // as given to Put
  std::string partition_key;
  std::string shard_id;
  std::string sequence_number;
};

struct ProducerOptions {
  std::string stream;                 // name
  size_t max_batch_records = 500;     // Kinesis's limit per call
  size_t max_batch_bytes = 5u << 20;  // data + partition keys, ditto
  // Put sends (blocking) once this many records wait, so that a fast
  // caller is held to the stream's pace instead of buffering without end.
  size_t max_buffered_records = 20000;
  // A record failed this many times ends the producer with an error.
  int max_attempts = 30;
  // Whole calls failing (throttled, 5xx, unreachable) this many times in a
  // row end the producer with an error.
  int max_call_failures = 10;
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{2000};
  // Called (on the thread that calls Put or Flush) for each stored record,
  // per key in Put order.
  std::function<void(const Delivery&)> on_delivered;
};

// Owns its buffer; borrows `kinesis`, which must outlive it. Not
// thread-safe: one thread calls Put and Flush, which block while they send.
// Once a record fails for good the producer is failed: every later call
// returns that error, and the records still buffered are not sent.
class Producer {
 public:
  Producer(AwsJsonClient* kinesis, ProducerOptions options);
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Buffers one record (partition key of 1 to 256 characters; data up to
  // 1 MiB with the key), sending batches when a full one is ready or the
  // buffer is full. `tag` names the record in errors and deliveries (a
  // line number, an offset). InvalidArgument for a bad key or size; the
  // producer's error once it has failed.
  Status Put(std::string partition_key, std::string data, uint64_t tag = 0);
  // Sends until every buffered record is stored. The first permanent error
  // (NotFound for a missing stream, InvalidArgument, or ResourceExhausted /
  // Unavailable once the retry budget is spent, naming the record's tag).
  Status Flush();

  size_t buffered() const { return buffered_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t retried() const { return retried_; }  // record re-sends

 private:
  struct Record {
    uint64_t order = 0;  // Put order, for the ready set
    uint64_t tag = 0;
    std::string data;
    int attempts = 0;
  };
  using KeyQueue = std::deque<Record>;

  // Sends one batch of the ready heads and applies its outcome.
  Status SendBatch();
  void Backoff(int attempt);

  AwsJsonClient* const kinesis_;
  const ProducerOptions options_;
  std::unordered_map<std::string, KeyQueue> by_key_;
  // The head of each key's queue, by Put order: what a batch may take.
  std::set<std::pair<uint64_t, const std::string*>> ready_;
  uint64_t next_order_ = 0;
  size_t buffered_ = 0;
  uint64_t delivered_ = 0;
  uint64_t retried_ = 0;
  int call_failures_ = 0;
  Status failed_;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace riffle::client
