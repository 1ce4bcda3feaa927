// Runs one event-source mapping: finds the stream's shards, starts a
// ShardProcessor on its own thread for each shard whose parents are done
// (parents before children after a reshard), and stops them on request.
//
// Which shards this process runs is decided by the mapping's lease table
// (lease_table.h), shared with any other process running the mapping; the
// leases are also where checkpoints live. FileCheckpointStore, the JSON
// file of earlier versions, is kept to migrate such files.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "core/metrics.h"
#include "functions/lease_table.h"
#include "functions/shard_processor.h"

namespace riffle::functions {

// All checkpoints of one mapping in one JSON file, rewritten atomically
// (write, fsync, rename) on every Save:
//   {"shards": {"shardId-000000000000": {"checkpoint": "4959...",
//                                         "shard_end": false}}}
// Thread-safe. Saves from several shards share writes (group commit): a
// Save that arrives while the file is being written waits for the next
// write, which carries every update made meanwhile, so shards do not queue
// one fsync each behind one another.
class FileCheckpointStore : public CheckpointStore {
 public:
  explicit FileCheckpointStore(std::filesystem::path path)
      : path_(std::move(path)) {}
  Result<std::map<std::string, ShardCheckpoint>> Load() override;
  Status Save(const std::string& shard_id,
              const ShardCheckpoint& checkpoint) override;

 private:
  std::string SerializeLocked() const;
  std::mutex mu_;
  std::condition_variable written_cv_;
  const std::filesystem::path path_;
  bool loaded_ = false;
  std::map<std::string, ShardCheckpoint> shards_;
  uint64_t updates_ = 0;  // Saves so far
  uint64_t written_ = 0;  // Saves that the last completed write covered
  bool writing_ = false;
  Status last_write_;
};

// One shard's checkpoints, saved behind its processing: Save hands the
// checkpoint to a writer thread and returns, so the shard reads and invokes
// its next batch while the previous checkpoint's synced write is in flight
// (and group-commits with that batch's own writes) instead of waiting one
// sync per batch before reading again.
//
// Invariant: a checkpoint reaches `inner` only after the processor finished
// every record up to it (Save is called then), and in order; waiting saves
// coalesce into the newest. A crash loses at most the checkpoint in flight,
// so the next holder replays a batch more than it would otherwise:
// at-least-once, as before. A failed write (Aborted: the lease was lost;
// Unavailable) is answered by the next Save, which then queues nothing, so
// the processor keeps its records and retries or stops. A SHARD_END
// checkpoint is written synchronously after everything before it (children
// start on it), and Flush waits for the writes in flight (before the lease
// is released). Borrows `inner`. Thread-safe.
class PipelinedCheckpointStore : public CheckpointStore {
 public:
  explicit PipelinedCheckpointStore(CheckpointStore& inner);
  ~PipelinedCheckpointStore() override;  // flushes

  Result<std::map<std::string, ShardCheckpoint>> Load() override {
    return inner_.Load();
  }
  Status Save(const std::string& shard_id,
              const ShardCheckpoint& checkpoint) override;
  // Waits until every queued checkpoint is written; its first error.
  Status Flush();

 private:
  void Run();

  CheckpointStore& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::pair<std::string, ShardCheckpoint>> next_;
  bool writing_ = false;
  bool stop_ = false;
  Status error_;  // of a write not yet reported by Save or Flush
  std::thread writer_;
};

// Writes `content` to `path` durably: a temporary file, fsync, rename, fsync
// of the directory.
Status WriteFileAtomically(const std::filesystem::path& path,
                           std::string_view content);

struct MappingRunnerOptions {
  MappingConfig mapping;
  std::string function_arn;
  std::string role_arn;
  std::string region = "us-east-1";
  // How often the stream's shards are listed (new shards get leases), and
  // how often the lease table is read (take, balance; renewals are due
  // every failover_ms / 3 of the coordinator).
  int64_t shard_refresh_ms = 1000;
  int64_t lease_refresh_ms = 1000;
  int64_t poll_interval_ms = 100;
  // A checkpoint file of the time before lease tables
  // (FileCheckpointStore's format): when it exists, its checkpoints seed
  // the lease table once and it is renamed to <file>.migrated.
  std::filesystem::path legacy_checkpoints;
  std::function<int64_t()> now_ms;
};

// Owns the discovery thread and one thread per shard whose lease this
// worker holds; borrows the interfaces, which must outlive it. The
// discovery thread creates the lease table if missing, gives every shard a
// lease, runs the coordinator's Tick, starts a ShardProcessor for each
// lease that became processable (parents before children after a reshard)
// and reaps the threads of shards that finished or whose lease was lost (a
// shard thread stops at its next step once the lease is gone).
// Thread-safe; the destructor stops and joins (a shard thread finishes its
// current invocation first).
class MappingRunner {
 public:
  MappingRunner(MappingRunnerOptions options, RecordSource& source,
                BatchInvoker& invoker, LeaseCoordinator& leases,
                FailureDestination* destination);
  ~MappingRunner();
  MappingRunner(const MappingRunner&) = delete;
  MappingRunner& operator=(const MappingRunner&) = delete;

  void Start();
  // Asks every thread to stop; Join waits for them, then gives every lease
  // up (so that other workers take the shards at once, from the last
  // checkpoint).
  void Stop();
  void Join();

  // "No records processed", "OK" or "PROBLEM: ...", as Lambda's
  // LastProcessingResult.
  std::string last_processing_result() const;
  // Shards being processed now.
  std::set<std::string> running_shards() const;

 private:
  // Wakes a shard's thread when records are appended to it.
  struct Waker {
    std::condition_variable cv;
    uint64_t appends = 0;  // guarded by mu_
  };

  void Discover();
  void RunShard(ShardProcessor* processor, PipelinedCheckpointStore* saves,
                Waker* waker);
  void OnAppend(const std::string& shard_id);
  void Reap();
  bool Prepare();  // the table exists and a legacy file is migrated

  const MappingRunnerOptions options_;
  RecordSource& source_;
  BatchInvoker& invoker_;
  LeaseCoordinator& leases_;
  FailureDestination* destination_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool rediscover_ = false;  // a shard finished: its children may start
  bool prepared_ = false;
  int64_t next_shard_sync_ms_ = 0;
  // Declared before processors_, which borrow them: destroyed after.
  std::map<std::string, std::unique_ptr<PipelinedCheckpointStore>> saves_;
  std::map<std::string, std::unique_ptr<ShardProcessor>> processors_;
  std::map<std::string, std::thread> threads_;
  std::set<std::string> exited_;  // shard threads that returned
  std::map<std::string, std::unique_ptr<Waker>> wakers_;
  std::thread discovery_;
  std::string last_result_ = "No records processed";
  metrics::Gauge* leases_metric_;
};

}  // namespace riffle::functions
