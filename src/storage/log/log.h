// The durable, segmented, append-only log of one shard, and the syncer that
// group-commits appends for all logs of a process.
//
// Records in a log have dense offsets starting at 0 for the first record
// ever appended (offsets survive retention: the first readable offset grows,
// offsets are never reused). Each Append is written as one CRC32C-checked
// batch. The on-disk format is specified in docs/formats/log.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace riffle::storage {

// One record as appended.
struct LogRecord {
  std::string key;    // the partition key
  std::string value;  // the payload
};

// One record as read back.
struct StoredRecord {
  uint64_t offset = 0;
  int64_t timestamp_ms = 0;  // arrival time, non-decreasing within a log
  std::string key;
  std::string value;
};

struct LogOptions {
  // A segment rolls when it would grow past this many bytes...
  uint64_t segment_bytes = 128ull << 20;
  // ...or when its first record is older than this.
  int64_t segment_ms = 60ll * 60 * 1000;
  // One offset/time index entry per this many bytes of batches.
  uint32_t index_interval_bytes = 4096;
  // Strict durability: acknowledge an append only after fdatasync. Relaxed
  // (false) acknowledges once the batch is written to the OS.
  bool sync = true;
};

class LogSyncer;

// A shard's log: a directory of segments. Thread-safe: any thread may
// Append and Read concurrently. Appends are completed on the syncer's
// threads, one at a time per log, in offset order; Read does positional
// reads of the segment files on the calling thread.
class Log {
 public:
  using AppendCallback = std::function<void(Result<uint64_t> first_offset)>;

  // Opens (creating if missing) the log in `dir`. Recovery truncates a torn
  // or corrupt tail of the last segment at the last valid batch; anything
  // before it is kept. Earlier (sealed) segments are never truncated: damage
  // there is reported by Read as DataLoss, and missing or stale .idx files
  // are rebuilt. Fails with InvalidArgument for bad options, DataLoss when
  // the segments' offsets overlap, Unavailable on I/O errors. `syncer` must
  // outlive the log. At most one Log may have `dir` open at a time
  // (FailedPrecondition otherwise, enforced with flock).
  static Result<std::unique_ptr<Log>> Open(const std::filesystem::path& dir,
                                           const LogOptions& options,
                                           LogSyncer* syncer);

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends `records` as one batch with arrival time `timestamp_ms` (raised
  // to the log's last timestamp if the clock went back). Offsets are
  // assigned in call order. `done` runs exactly once, on one of the
  // syncer's threads, after the batch is durable (or written, when
  // !options.sync), with the offset of the first record or the error that
  // failed the write. The callbacks of the appends given offsets never
  // overlap and run in offset order. After a failed write or sync the log
  // refuses further appends (Unavailable) and fails those not yet durable:
  // a gap must never be acknowledged. Appends refused before they get an
  // offset (empty or oversized, > 64 MiB encoded: InvalidArgument; after
  // Close: FailedPrecondition; after a failure: Unavailable) are answered
  // on the writer thread, possibly while earlier appends are acknowledged.
  // `records` are serialized on the calling thread; the syncer's threads only
  // write and sync.
  void Append(std::vector<LogRecord> records, int64_t timestamp_ms,
              AppendCallback done);

  // Reads acknowledged records from `offset` on: at most `max_records`, and
  // at most `max_bytes` of key+value bytes (but always at least one record
  // when one is there). An offset below start_offset() reads from
  // start_offset(); at or past end_offset() returns an empty vector.
  // DataLoss when the batch holding `offset` is damaged (records read before
  // reaching a damaged batch are returned first). FailedPrecondition after
  // Close.
  Result<std::vector<StoredRecord>> Read(uint64_t offset, size_t max_records,
                                         size_t max_bytes) const;

  // The first readable offset (after retention) and one past the last
  // acknowledged offset. Readers never see unacknowledged records.
  uint64_t start_offset() const;
  uint64_t end_offset() const;
  // Arrival time of the last acknowledged record, or nullopt when empty.
  std::optional<int64_t> last_timestamp_ms() const;

  // The first offset whose record arrived at or after `timestamp_ms`;
  // end_offset() when none did.
  Result<uint64_t> OffsetForTimestamp(int64_t timestamp_ms) const;

  // Deletes whole segments whose newest record arrived before
  // `min_timestamp_ms`, oldest first, never the active segment's records that
  // are newer. The active (last) segment is never deleted, so its expired
  // records stay readable until it rolls; callers filter by timestamp.
  // Returns the new start_offset().
  Result<uint64_t> EnforceRetention(int64_t min_timestamp_ms);

  // Waits for in-flight appends (their callbacks have returned when Close
  // does) and closes files; later calls fail with FailedPrecondition.
  // Also waits for the syncs it started. Called by the destructor. Must not
  // be called from an append callback, which Close would wait for.
  void Close();

  // Closes the log and removes its directory.
  Status Destroy();

  // Closes the log without making its files durable: for a log whose
  // directory the caller is about to remove (Close syncs a journaled
  // log's active segment, the only copy besides the journal).
  void Discard();

 private:
  class Impl;
  explicit Log(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct JournalOptions {
  // A journal file is retired (and replaced by a fresh one) once it holds
  // this many bytes.
  uint64_t file_bytes = 16ull << 20;
  // Fill each next journal file with zeros ahead of time (on a background
  // thread), so that appends overwrite allocated blocks and an fdatasync
  // flushes data only, not the file system's metadata as well.
  bool preallocate = true;
  // Write the journal with O_DIRECT (whole 4 KiB blocks), which spares a
  // flush the page cache's writeback work; buffered writes where the file
  // system refuses O_DIRECT, or when false.
  bool direct_io = true;
};

// Owns the thread that writes the appends of every Log of a process and
// makes them durable (group commit): it takes every append queued since
// its last round, writes each log's batches to its segment, makes the round
// durable with one flush, and runs the round's callbacks.
//
// With a journal (Open), a strict round is durable once its batches are
// also in the journal, a write-ahead file shared by all logs: one
// fdatasync per round, however many logs it touched; the segments are
// synced later: when a journal file is retired (in the background), when a
// log closes, and when the syncer does.
// After a crash, Open replays the journal into the logs that lack its
// batches. Without one (the default constructor), each strict log
// fdatasyncs its own segment every round: for tests and tools that open a
// few logs. Thread-safe. Must outlive its logs; its destructor drains
// pending appends.
class LogSyncer {
 public:
  LogSyncer();
  // Opens the journal in `dir` (created if missing; flock'ed against a
  // second opener), first replaying what a crash left there: each batch a
  // log's segments lack is appended to it, synced, and the journal files
  // are then removed. A log is found by the relative path and log.id its
  // journal entries name; entries of logs that are gone (removed, or
  // replaced by a new log at the same path) are dropped, and a log stops
  // replaying at a gap. Unavailable on I/O errors.
  static Result<std::unique_ptr<LogSyncer>> Open(
      const std::filesystem::path& dir, const JournalOptions& options = {});
  ~LogSyncer();
  LogSyncer(const LogSyncer&) = delete;
  LogSyncer& operator=(const LogSyncer&) = delete;

  // Number of fdatasync calls made so far (for tests and metrics).
  uint64_t sync_count() const;
  // Batches the last Open appended to logs from the journal.
  uint64_t replayed_batches() const;

 private:
  friend class Log;
  class Impl;
  explicit LogSyncer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace riffle::storage
