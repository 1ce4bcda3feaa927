// riffle's key-value store: one RocksDB database under DATA_DIR/kv shared by
// the services, one column family per kind of data (DESIGN.md, "Storage").
//
// Writes are asynchronous and group-committed: Write() queues a batch and
// returns at once; a single writer thread drains the queue, merges every
// queued batch into one RocksDB write and, in strict durability, syncs the
// WAL once for all of them before running their callbacks. So concurrent
// writers share one fsync, and no caller (in particular no network thread)
// ever waits on the disk. Each batch is applied atomically: all of its
// operations or none.
//
// Reads (Get, iterators) run on the calling thread against RocksDB's
// memtables and block cache; they see every write whose callback has run.
//
// RocksDB's headers stay inside kv.cc (compile time on small machines):
// this header exposes only riffle types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace riffle::kv {

// The column families. The values are indexes into the table of names in
// kv.cc; the names reach disk and are never renamed.
enum class Family : int {
  kMetadata = 0,     // "metadata": service catalogues (tables, streams, ...)
  kTables = 1,       // "tables": DynamoDB items and index entries
  kRegistry = 2,     // "registry": schema registry subjects and schemas
  kCheckpoints = 3,  // "checkpoints": event-source-mapping positions
  kLeases = 4,       // "leases": shard leases of the function tier
};
inline constexpr int kFamilyCount = 5;
std::string_view FamilyName(Family family);

// A group of writes applied atomically. Plain data: owns copies of its keys
// and values; not thread-safe to mutate; may be moved to another thread.
class WriteBatch {
 public:
  enum class OpType : uint8_t { kPut, kDelete, kDeleteRange };
  struct Op {
    OpType type;
    Family family;
    std::string key;    // kDeleteRange: the first key removed
    std::string value;  // kDeleteRange: the end of the range (excluded)
  };

  void Put(Family family, std::string_view key, std::string_view value);
  void Delete(Family family, std::string_view key);
  // Deletes every key in [begin, end) of `family`.
  void DeleteRange(Family family, std::string_view begin, std::string_view end);

  bool empty() const { return ops_.empty(); }
  size_t count() const { return ops_.size(); }
  // Bytes of keys and values, for batching decisions.
  size_t byte_size() const { return bytes_; }
  const std::vector<Op>& ops() const { return ops_; }
  void Clear() {
    ops_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

struct Options {
  // The database directory (DATA_DIR/kv); created if missing.
  std::string path;
  // Strict durability: a write's callback runs only after the WAL holding
  // it is fsynced. Relaxed (false, `--durability=relaxed`): the callback
  // runs once the write is in the OS page cache; a process crash loses
  // nothing, a machine crash may lose the last writes.
  bool sync = true;
  // The writer merges queued batches up to this many bytes into one write.
  size_t max_group_bytes = 4u << 20;
  // RocksDB block cache.
  size_t block_cache_bytes = 64u << 20;
};

// A consistent view of the whole database at one moment. Obtained from
// Store::GetSnapshot; releases itself when the last reference goes. Must
// not outlive its Store. Thread-safe (immutable).
class Snapshot {
 public:
  virtual ~Snapshot() = default;
};

struct ReadOptions {
  // Read as of this snapshot; nullptr reads the latest committed state.
  const Snapshot* snapshot = nullptr;
  // Iterator bounds: keys in [lower_bound, upper_bound). Empty means
  // unbounded on that side.
  std::string lower_bound;
  std::string upper_bound;
  // False for one-off bulk scans, so they do not evict hot blocks.
  bool fill_cache = true;

  // Bounds covering exactly the keys that start with `prefix`.
  static ReadOptions Prefix(std::string_view prefix);
};

// The smallest key greater than every key starting with `prefix`, or ""
// when none exists (prefix empty or all 0xff).
std::string PrefixSuccessor(std::string_view prefix);

// A cursor over one family, in bytewise key order. Owns its RocksDB
// iterator (and pins the data it points at); must not outlive its Store.
// Not thread-safe. key() and value() stay valid until the next move.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // First key >= target.
  virtual void Seek(std::string_view target) = 0;
  // Last key <= target.
  virtual void SeekForPrev(std::string_view target) = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Ok unless the iteration hit an I/O or corruption error (Valid() is then
  // false): an invalid iterator with an ok status has simply run out.
  virtual Status status() const = 0;
};

// Counters for tests and metrics. Relaxed snapshots of atomics.
struct Stats {
  uint64_t batches = 0;       // batches acknowledged
  uint64_t group_writes = 0;  // RocksDB writes (each syncs in strict mode)
};

// The open database. Thread-safe: any thread may write, read and iterate
// concurrently. Owns the RocksDB instance and the writer thread. The
// destructor completes every queued write (callbacks included), then closes
// the database; callers must not use iterators or snapshots past it.
class Store {
 public:
  // Runs on the writer thread once the batch is durable (or failed). Keep
  // it short and non-blocking: post real work to an executor.
  using WriteCallback = std::function<void(Status)>;

  // Opens or creates the database with every family of Family (families
  // found on disk that this build does not know are opened and left alone).
  static Result<std::unique_ptr<Store>> Open(const Options& options);

  virtual ~Store() = default;

  // Queues `batch`; `done` runs once it is applied (and synced in strict
  // mode). Never blocks on the disk. An empty batch completes at once. After
  // shutdown began, `done` gets Unavailable.
  virtual void Write(WriteBatch batch, WriteCallback done) = 0;

  // Write() and wait: for start-up, tools and tests, never network threads.
  virtual Status WriteSync(WriteBatch batch) = 0;

  // The value of `key`, NotFound when absent. Other errors are I/O or
  // corruption (DataLoss/Internal).
  virtual Result<std::string> Get(Family family, std::string_view key,
                                  const ReadOptions& options = {}) = 0;

  // A new iterator over `family` within the bounds of `options`; it starts
  // unpositioned (call a Seek).
  virtual std::unique_ptr<Iterator> NewIterator(
      Family family, const ReadOptions& options = {}) = 0;

  virtual std::shared_ptr<const Snapshot> GetSnapshot() = 0;

  virtual Stats stats() const = 0;

  // Flushes memtables to SST files (tests, clean shutdown).
  virtual Status Flush() = 0;
};

}  // namespace riffle::kv
