// streams::Service: Kinesis-style sharded streams over the durable log, as a
// plain C++ interface. The Kinesis wire adapter (kinesis_api.h) translates
// JSON to these calls; nothing here knows about HTTP or JSON.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/log/log.h"
#include "streams/hash_key.h"
#include "streams/sequence_number.h"

namespace riffle::streams {

// Values are stored in stream metadata: never renumber.
enum class StreamStatus {
  kCreating = 0,
  kDeleting = 1,
  kActive = 2,
  kUpdating = 3
};
enum class StreamMode { kProvisioned = 0, kOnDemand = 1 };

std::string_view StreamStatusName(StreamStatus s);
std::string_view StreamModeName(StreamMode m);

struct ShardDescription {
  std::string shard_id;
  std::optional<std::string> parent_shard_id;
  std::optional<std::string> adjacent_parent_shard_id;
  HashKeyRange hash_range;
  std::string starting_sequence_number;
  std::optional<std::string> ending_sequence_number;  // set once closed
  int64_t created_ms = 0;
  std::optional<int64_t> closed_ms;
};

struct StreamDescription {
  std::string name;
  std::string arn;
  StreamStatus status = StreamStatus::kActive;
  StreamMode mode = StreamMode::kProvisioned;
  int retention_hours = 24;
  int64_t created_ms = 0;
  std::vector<ShardDescription> shards;  // in shard index order
  int open_shard_count = 0;
};

struct PutRecordInput {
  std::string partition_key;
  std::string data;
  std::optional<HashKey> explicit_hash_key;
};

struct PutRecordOutcome {
  Status status;  // ResourceExhausted when throttled, Internal on a write fault
  // When ok: where the record went (its shard_index names the shard).
  SequenceNumber sequence_number;

  std::string shard_id() const {
    return ShardIdFromIndex(sequence_number.shard_index);
  }
};

struct ChildShard {
  std::string shard_id;
  std::vector<std::string> parent_shards;
  HashKeyRange hash_range;
};

struct GetRecordsOutput {
  // The records, and the sequence number of offset 0 in their shard: a
  // record's sequence number is `base` with its offset.
  std::vector<storage::StoredRecord> records;
  SequenceNumber base;
  // Absent once a closed shard has been read to its end.
  std::optional<std::string> next_shard_iterator;
  int64_t millis_behind_latest = 0;
  std::vector<ChildShard> child_shards;  // once a closed shard is read out
};

enum class IteratorType {
  kTrimHorizon,
  kLatest,
  kAtSequenceNumber,
  kAfterSequenceNumber,
  kAtTimestamp,
};

enum class ShardFilterType {
  kNone,
  kAfterShardId,
  kAtTrimHorizon,
  kFromTrimHorizon,
  kAtLatest,
  kAtTimestamp,
  kFromTimestamp,
};

struct ShardFilter {
  ShardFilterType type = ShardFilterType::kNone;
  std::string shard_id;      // for kAfterShardId
  int64_t timestamp_ms = 0;  // for the timestamp filters
};

struct Limits {
  int shard_limit = 0;
  int open_shard_count = 0;
  int on_demand_stream_count = 0;
  int on_demand_stream_count_limit = 0;
};

struct ServiceOptions {
  std::filesystem::path dir;  // DATA_DIR/streams
  storage::LogOptions log;
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int shard_limit = 500;
  int on_demand_stream_limit = 50;
  int on_demand_shard_count = 4;
  // AWS's per-shard limits (1 MiB/s and 1,000 records/s in; 5 reads/s and
  // 2 MiB/s out), answered with ResourceExhausted.
  bool enforce_shard_limits = false;
  // Wall clock in ms; tests replace it to make records expire.
  std::function<int64_t()> now_ms;
};

// Thread-safety: every method may be called from any thread concurrently.
// PutRecords and the reads never wait for disk I/O beyond page-cache reads
// (appends complete on the log syncer's thread). The control operations
// (create, delete, reshard, tags, retention) write metadata with fsync and
// so block: call them off the network threads.
class Service {
 public:
  // Loads every stream under options.dir and recovers its logs. `syncer`
  // must outlive the service.
  static Result<std::unique_ptr<Service>> Open(ServiceOptions options,
                                               storage::LogSyncer* syncer);
  ~Service();

  const ServiceOptions& options() const;
  std::string StreamArn(const std::string& name) const;

  // Control plane (blocking).
  Status CreateStream(const std::string& name, std::optional<int> shard_count,
                      StreamMode mode,
                      const std::map<std::string, std::string>& tags);
  Status DeleteStream(const std::string& name);
  Status SetRetention(const std::string& name, int hours, bool increase);
  Status AddTags(const std::string& name,
                 const std::map<std::string, std::string>& tags);
  Status RemoveTags(const std::string& name,
                    const std::vector<std::string>& keys);
  Status SplitShard(const std::string& name, const std::string& shard_id,
                    const std::string& new_starting_hash_key);
  Status MergeShards(const std::string& name, const std::string& shard_id,
                     const std::string& adjacent_shard_id);
  // Returns the previous open shard count.
  Result<int> UpdateShardCount(const std::string& name, int target);
  Status UpdateStreamMode(const std::string& name, StreamMode mode);
  // Deletes log segments older than each stream's retention.
  void EnforceRetention();

  // Reads.
  Result<StreamDescription> DescribeStream(const std::string& name) const;
  Result<std::map<std::string, std::string>> ListTags(
      const std::string& name) const;
  std::vector<StreamDescription> ListStreams() const;  // sorted by name
  Result<std::vector<ShardDescription>> ListShards(
      const std::string& name, const ShardFilter& filter) const;
  Limits DescribeLimits() const;

  // Data plane. `done` runs exactly once, on the log syncer's thread or on
  // the calling thread, with one outcome per input, in input order, or with
  // the error that failed the whole call (NotFound, FailedPrecondition).
  using PutCallback =
      std::function<void(Result<std::vector<PutRecordOutcome>>)>;
  void PutRecords(const std::string& name, std::vector<PutRecordInput> records,
                  PutCallback done);

  Result<std::string> GetShardIterator(const std::string& name,
                                       const std::string& shard_id,
                                       IteratorType type,
                                       const std::string& sequence_number,
                                       int64_t timestamp_ms) const;
  Result<GetRecordsOutput> GetRecords(const std::string& iterator,
                                      int limit) const;

  // Append notifications, so that a consumer in this process (an
  // event-source mapping) reads new records at once instead of polling.
  // `listener` runs after records appended to a shard have become readable
  // (durable, in strict mode), on the thread that completed the append (the
  // log syncer's): it must be quick and must not block or call back into
  // the listener methods. Once RemoveAppendListener returns, the listener
  // is not running and will not run again.
  using AppendListener = std::function<void(const std::string& stream,
                                            const std::string& shard_id)>;
  uint64_t AddAppendListener(AppendListener listener);
  void RemoveAppendListener(uint64_t token);

 private:
  class Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace riffle::streams
