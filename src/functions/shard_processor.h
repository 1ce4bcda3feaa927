// The per-shard half of an event-source mapping: reads a shard in order,
// cuts batches, invokes the function with Lambda's Kinesis event, applies
// its verdict and advances the checkpoint past processed records only.
//
// It depends only on the four small interfaces below, so that the batching,
// retry, bisect and partial-failure rules are unit-tested with fakes (as
// redpanda's transform runner is). The mapping runner (mapping_runner.h)
// supplies the real ones: streams::Service, the function's runtime, a
// checkpoint file and a stream for failed batches.
//
// The rules follow Lambda's for Kinesis
// (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html):
// - a batch is at most BatchSize records, sent when full, when
//   MaximumBatchingWindowInSeconds has passed since its first record was
//   read, or at once when the window is 0;
// - a function error retries the same records (from the same position), up
//   to MaximumRetryAttempts (-1: until the records expire); with
//   BisectBatchOnFunctionError the failing batch is split in halves first
//   (splitting does not count as a retry), down to single records;
// - with ReportBatchItemFailures a reply {"batchItemFailures":
//   [{"itemIdentifier": seq}]} checkpoints just before the lowest failed
//   sequence number and retries from there; an identifier that is empty or
//   not in the batch fails the whole batch;
// - records older than MaximumRecordAgeInSeconds are not invoked;
// - with ParallelizationFactor > 1 the shard's records are dealt to that
//   many lanes by partition key, each run by a ShardProcessor of its own
//   on its own thread (parallel_lanes.h), so up to that many batches are
//   in flight, in order per key;
// - with TumblingWindowInSeconds (tumbling_window.h) a batch holds the
//   records of one window only; each invocation carries the state the
//   previous one of its window returned, and once the window is over (a
//   later record is pending, or its end has passed with the shard caught
//   up, or the shard ended) the function gets a final invocation with no
//   records and isFinalInvokeForWindow: true. The checkpoint is saved only
//   after that final invocation, so a restart replays the whole window
//   from an empty state rather than finishing it with a lost one (records
//   are at least once, as always). A failing final invocation is retried
//   like a batch, up to MaximumRetryAttempts, then logged and counted;
// - with FilterCriteria, records that match no filter are never invoked
//   and the checkpoint moves past them as past processed records
//   (filter_pattern.h; FilterView is what the patterns see);
// - records given up on go to the on-failure destination as Lambda's
//   failure record (KinesisBatchInfo); without one they are logged as an
//   error and counted, never dropped silently; either way the shard moves
//   on, so a poison record never blocks it forever.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"
#include "functions/filter_pattern.h"
#include "functions/function_config.h"
#include "functions/tumbling_window.h"

namespace riffle::functions {

class ParallelLanes;

struct SourceRecord {
  std::string sequence_number;
  std::string partition_key;
  std::string data;  // raw bytes
  int64_t arrival_ms = 0;
};

struct ShardInfo {
  std::string shard_id;
  std::vector<std::string> parents;  // parent and adjacent parent
};

enum class IteratorStart { kTrimHorizon, kAtTimestamp, kAfterSequence };

struct ReadResult {
  std::vector<SourceRecord> records;
  // Absent once a closed shard has been read to its end.
  std::optional<std::string> next_iterator;
};

// One stream's shards. Implementations must be thread-safe: every shard of
// a mapping reads from its own thread.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual Result<std::vector<ShardInfo>> ListShards() = 0;
  virtual Result<std::string> GetIterator(const std::string& shard_id,
                                          IteratorStart start,
                                          const std::string& sequence_number,
                                          int64_t timestamp_ms) = 0;
  virtual Result<ReadResult> Read(const std::string& iterator, int limit) = 0;
  // Calls `on_append(shard_id)` (from any thread; it must be quick and must
  // not call back into the source) whenever records may have been appended
  // to a shard, so that an idle shard reads at once instead of after its
  // poll interval. nullptr stops the calls: none runs once that returns.
  // A source that cannot tell does nothing, and the runner polls.
  virtual void Watch(std::function<void(const std::string&)> on_append) {
    (void)on_append;
  }
};

struct BatchOutcome {
  // Not ok when the function could not be run at all (throttled, deleted,
  // shutting down): the batch is retried later and no retry is counted.
  Status status;
  std::string payload;
  std::string function_error;  // non-empty: the handler failed
};

// Invokes the function synchronously (it blocks the shard's thread, never a
// network thread). Thread-safe.
class BatchInvoker {
 public:
  virtual ~BatchInvoker() = default;
  virtual BatchOutcome Invoke(const std::string& event_json) = 0;
  // In-process functions (riffle:avro-to-table) take the records as they
  // are, skipping the JSON event with its base64 data: when this says so,
  // the processor calls InvokeRecords instead of Invoke and reads the
  // outcome the same way (a partial-failure reply names sequence numbers).
  virtual bool AcceptsRecords() { return false; }
  virtual BatchOutcome InvokeRecords(
      const std::vector<const SourceRecord*>& records) {
    (void)records;
    return BatchOutcome{Unimplemented("this invoker takes JSON events"), "",
                        ""};
  }
};

struct ShardCheckpoint {
  std::string sequence_number;  // last processed record; empty: none yet
  bool shard_end = false;       // every record of the closed shard is done
};

// The durable positions of one mapping. Save returns once the checkpoint is
// durable. Thread-safe.
class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;
  virtual Result<std::map<std::string, ShardCheckpoint>> Load() = 0;
  virtual Status Save(const std::string& shard_id,
                      const ShardCheckpoint& checkpoint) = 0;
};

// Where failed batches go (DestinationConfig.OnFailure). Thread-safe.
class FailureDestination {
 public:
  virtual ~FailureDestination() = default;
  virtual Status Send(const std::string& failure_record_json) = 0;
};

struct ShardProcessorOptions {
  MappingConfig mapping;
  std::string shard_id;
  std::string function_arn;
  std::string role_arn;  // invokeIdentityArn
  std::string region = "us-east-1";
  // Where to start when the shard has no checkpoint.
  IteratorStart initial_start = IteratorStart::kTrimHorizon;
  int64_t initial_timestamp_ms = 0;
  // How long to wait before reading an empty shard again, and the first
  // retry delay (doubling up to max_backoff_ms).
  int64_t poll_interval_ms = 100;
  int64_t retry_backoff_ms = 100;
  int64_t max_backoff_ms = 5000;
  std::function<int64_t()> now_ms;  // wall clock; tests replace it
};

// What Step did, and so how long the caller may wait before the next Step.
enum class StepResult {
  kProgress,  // did work: step again now
  kIdle,      // nothing to do until `next_step_ms()`
  kFinished,  // the closed shard is fully processed
};

// Counters for metrics and tests.
struct ShardStats {
  uint64_t invocations = 0;
  uint64_t function_errors = 0;
  uint64_t records_processed = 0;  // checkpointed after success
  uint64_t records_failed = 0;     // given up on (destination or logged)
  uint64_t failure_records_sent = 0;
  uint64_t records_filtered = 0;  // matched no filter: skipped
  int64_t iterator_age_ms = 0;
};

// Processes one shard. Owns its read position and pending records; borrows
// the interfaces, which must outlive it. Not thread-safe: one thread calls
// Step in a loop. With ParallelizationFactor > 1 it also owns the lanes'
// threads, which invoke the function between Steps; the destructor stops
// them, waiting for invocations in flight.
class ShardProcessor {
 public:
  ShardProcessor(ShardProcessorOptions options, RecordSource& source,
                 BatchInvoker& invoker, CheckpointStore& checkpoints,
                 FailureDestination* destination,
                 std::optional<ShardCheckpoint> checkpoint);
  ~ShardProcessor();
  ShardProcessor(const ShardProcessor&) = delete;
  ShardProcessor& operator=(const ShardProcessor&) = delete;

  StepResult Step();
  // Records were appended to the shard: when waiting for records, read
  // again at the next Step instead of after the poll interval. (A retry
  // backoff or an open batching window is kept.)
  void Nudge();
  int64_t next_step_ms() const { return next_step_ms_; }
  const ShardStats& stats() const { return stats_; }
  const std::string& shard_id() const { return options_.shard_id; }
  // The last checkpointed sequence number ("" before the first).
  const std::string& checkpoint() const { return checkpoint_; }

 private:
  int64_t Now() const { return options_.now_ms(); }
  Status EnsureIterator();
  // Checkpoints past the first `n` pending records and drops them.
  Status Commit(size_t n);
  // Saves a checkpoint at `seq` (records up to it are done) when it is past
  // the current one.
  Status AdvanceTo(const std::string& seq);
  // Appends what a read returned to pending_, leaving out the records that
  // match no filter; returns the last record skipped before the first one
  // kept ("" if none), which may be checkpointed at once.
  std::string Admit(std::vector<SourceRecord> records);
  // Gives up on the first `n` pending records.
  Status GiveUp(size_t n, std::string_view condition, const BatchOutcome* last);
  void Backoff();
  std::string BuildEvent(size_t n) const;
  bool Tumbling() const { return options_.mapping.tumbling_window_seconds > 0; }
  // Makes the final invocation of the open window, saves the checkpoint
  // and closes the window.
  StepResult CloseWindow();

  const ShardProcessorOptions options_;
  RecordSource& source_;
  BatchInvoker& invoker_;
  CheckpointStore& checkpoints_;
  FailureDestination* destination_;

  std::string checkpoint_;
  std::optional<std::string> iterator_;
  bool have_iterator_ = false;
  bool end_of_shard_ = false;  // the iterator ran out: no more records
  bool finished_ = false;
  std::deque<SourceRecord> pending_;
  // FilterCriteria; empty: every record is invoked.
  FilterSet filters_;
  // Pending sequence number -> the last filtered-out record after it and
  // before the next pending one: committing the first commits past both.
  std::map<std::string, std::string> skipped_after_;
  bool last_read_empty_ = false;  // the last read found nothing new

  // TumblingWindowInSeconds.
  bool window_open_ = false;
  WindowBounds window_;
  std::string window_state_ = "{}";  // a JSON object
  bool window_terminated_early_ = false;
  bool unsaved_ = false;  // checkpoint_ is past the saved checkpoint
  bool waiting_for_records_ = false;  // idle only because the shard is empty
  int64_t first_pending_read_ms_ = 0;
  int64_t next_read_ms_ = 0;
  int64_t next_step_ms_ = 0;
  int retries_ = 0;           // failed attempts of the head batch
  int invoke_count_ = 0;      // invocations of the head batch
  size_t bisect_cap_ = 0;     // 0: no cap
  std::string bisect_until_;  // the cap holds until past this sequence
  ShardStats stats_;

  // Per-mapping series on /metrics (Lambda's Invocations, Errors and
  // IteratorAge for event-source mappings); owned by the global registry.
  metrics::Counter* invocations_metric_;
  metrics::Counter* errors_metric_;
  metrics::Gauge* iterator_age_metric_;
  metrics::Counter* filtered_metric_;

  // ParallelizationFactor > 1: Step, Nudge and the accessors defer to the
  // lanes.
  std::unique_ptr<ParallelLanes> lanes_;
};

// What FilterCriteria patterns are matched against for a Kinesis record:
// the record as the function's event shows it, with the metadata under
// "kinesis" (kinesisSchemaVersion, partitionKey, sequenceNumber,
// approximateArrivalTimestamp) and the other event fields at the top
// (eventSource, eventID, eventSourceARN, awsRegion, ...), and the data
// decoded under "data" when it is JSON (absent otherwise, so a pattern on
// data never matches non-JSON records).
json::Value FilterView(const SourceRecord& record, const std::string& shard_id,
                       const std::string& event_source_arn,
                       const std::string& region);

// Compares Kinesis sequence numbers as big integers (decimal strings).
bool SequenceLess(std::string_view a, std::string_view b);

}  // namespace riffle::functions
