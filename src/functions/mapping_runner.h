// Runs one event-source mapping: finds the stream's shards, starts a
// ShardProcessor on its own thread for each shard whose parents are done
// (parents before children after a reshard), and stops them on request.
//
// Also the real implementations of the processor's interfaces: a
// RecordSource over streams::Service, a CheckpointStore in a JSON file (to
// be replaced by the KCL-style lease table once the DynamoDB adapter lands,
// see docs/functions.md), and a FailureDestination that puts failure
// records on a riffle stream.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "functions/shard_processor.h"

namespace riffle::streams {
class Service;
}

namespace riffle::functions {

// Reads one stream of the in-process streams service. Thread-safe.
class StreamsRecordSource : public RecordSource {
 public:
  StreamsRecordSource(streams::Service& streams, std::string stream_name)
      : streams_(streams), stream_(std::move(stream_name)) {}
  ~StreamsRecordSource() override;
  Result<std::vector<ShardInfo>> ListShards() override;
  Result<std::string> GetIterator(const std::string& shard_id,
                                  IteratorStart start,
                                  const std::string& sequence_number,
                                  int64_t timestamp_ms) override;
  Result<ReadResult> Read(const std::string& iterator, int limit) override;
  // Through the streams service's append listeners.
  void Watch(std::function<void(const std::string&)> on_append) override;

 private:
  streams::Service& streams_;
  const std::string stream_;
  std::mutex watch_mu_;       // serializes Watch calls
  uint64_t watch_token_ = 0;  // 0: not watching
};

// Puts failure records on a stream, waiting until they are durable.
// Thread-safe.
class StreamFailureDestination : public FailureDestination {
 public:
  StreamFailureDestination(streams::Service& streams, std::string stream_name)
      : streams_(streams), stream_(std::move(stream_name)) {}
  Status Send(const std::string& failure_record_json) override;

 private:
  streams::Service& streams_;
  const std::string stream_;
};

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

// Writes `content` to `path` durably: a temporary file, fsync, rename, fsync
// of the directory.
Status WriteFileAtomically(const std::filesystem::path& path,
                           std::string_view content);

struct MappingRunnerOptions {
  MappingConfig mapping;
  std::string function_arn;
  std::string role_arn;
  std::string region = "us-east-1";
  int64_t shard_refresh_ms = 1000;
  int64_t poll_interval_ms = 100;
  std::function<int64_t()> now_ms;
};

// Owns the discovery thread and one thread per active shard; borrows the
// interfaces, which must outlive it. Thread-safe; the destructor stops and
// joins (a shard thread finishes its current invocation first).
class MappingRunner {
 public:
  MappingRunner(MappingRunnerOptions options, RecordSource& source,
                BatchInvoker& invoker, CheckpointStore& checkpoints,
                FailureDestination* destination);
  ~MappingRunner();
  MappingRunner(const MappingRunner&) = delete;
  MappingRunner& operator=(const MappingRunner&) = delete;

  void Start();
  // Asks every thread to stop; Join waits for them.
  void Stop();
  void Join();

  // "No records processed", "OK" or "PROBLEM: ...", as Lambda's
  // LastProcessingResult.
  std::string last_processing_result() const;

 private:
  // Wakes a shard's thread when records are appended to it.
  struct Waker {
    std::condition_variable cv;
    uint64_t appends = 0;  // guarded by mu_
  };

  void Discover();
  void RunShard(ShardProcessor* processor, Waker* waker);
  void OnAppend(const std::string& shard_id);

  const MappingRunnerOptions options_;
  RecordSource& source_;
  BatchInvoker& invoker_;
  CheckpointStore& checkpoints_;
  FailureDestination* destination_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::set<std::string> finished_;  // shards fully processed
  std::map<std::string, std::unique_ptr<ShardProcessor>> processors_;
  std::map<std::string, std::thread> threads_;
  std::map<std::string, std::unique_ptr<Waker>> wakers_;
  std::thread discovery_;
  std::string last_result_ = "No records processed";
};

}  // namespace riffle::functions
