#include "storage/log/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/logging.h"
#include "core/metrics.h"
#include "core/thread_pool.h"
#include "storage/log/log_format.h"

namespace riffle::storage {
namespace {

namespace fs = std::filesystem;
using log_format::BatchScanner;
using log_format::BatchView;
using log_format::IndexEntry;

// Reads start small (a GetRecords call often wants a few records) and grow
// to a few MiB, so a long read-back makes a syscall per few MiB.
constexpr size_t kReadFirstChunk = 64 << 10;
constexpr size_t kReadMaxChunk = 4 << 20;
// Recovery scans whole segments.
constexpr size_t kScanChunk = 4 << 20;
// Direct I/O to the journal writes whole blocks of this size, from buffers
// aligned to it (4 KiB covers the logical block size of common disks).
constexpr size_t kDirectAlign = 4096;

// Owns one file descriptor. Not thread-safe.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Failed writes, syncs and opens: the log's state on disk is unknown, so the
// caller should retry (elsewhere, or after the log is reopened).
Status IoError(std::string_view what, const fs::path& path, int err) {
  return Unavailable(std::string(what) + " " + path.string() + ": " +
                     std::strerror(err));
}

Result<Fd> OpenFile(const fs::path& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return IoError("open", path, errno);
  return Fd(fd);
}

Result<uint64_t> FileSize(int fd, const fs::path& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return IoError("fstat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status WriteAll(int fd, const fs::path& path, const char* data, size_t size,
                uint64_t position) {
  while (size > 0) {
    ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
    position += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

// One pwritev per IOV_MAX buffers (a group usually needs one), resuming
// after short writes.
Status WriteVectorAll(int fd, const fs::path& path, std::vector<iovec>* iov,
                      uint64_t position) {
  size_t first = 0;
  while (first < iov->size()) {
    int count =
        static_cast<int>(std::min<size_t>(iov->size() - first, IOV_MAX));
    ssize_t n =
        ::pwritev(fd, iov->data() + first, count, static_cast<off_t>(position));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    position += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (first < iov->size() && left >= (*iov)[first].iov_len) {
      left -= (*iov)[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iovec& partial = (*iov)[first];
      partial.iov_base = static_cast<char*>(partial.iov_base) + left;
      partial.iov_len -= left;
    }
  }
  return Status::Ok();
}

Status SyncFile(int fd, const fs::path& path) {
  if (::fdatasync(fd) != 0) return IoError("fdatasync", path, errno);
  return Status::Ok();
}

// Makes the creation of files in `dir` durable.
Status SyncDir(const fs::path& dir) {
  ASSIGN_OR_RETURN(Fd fd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return IoError("fsync", dir, errno);
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const fs::path& path) {
  ASSIGN_OR_RETURN(Fd fd, OpenFile(path, O_RDONLY));
  ASSIGN_OR_RETURN(uint64_t size, FileSize(fd.get(), path));
  std::string out(size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd.get(), out.data() + done, out.size() - done,
                        static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return DataLoss("read " + path.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

// Holds an exclusive flock on `dir` for as long as the returned descriptor
// is open; FailedPrecondition when another opener (`what`) holds it.
Result<Fd> LockDirectory(const fs::path& dir, std::string_view what) {
  ASSIGN_OR_RETURN(Fd fd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return FailedPrecondition(std::string(what) + " " + dir.string() +
                                " is already open");
    }
    return IoError("lock", dir, errno);
  }
  return fd;
}

// Creates `dir` and its missing parents; with `sync`, also makes their
// names durable (fsyncs the parent of each directory it created).
Status CreateDirectories(const fs::path& dir, bool sync) {
  std::error_code ec;
  fs::path absolute = fs::absolute(dir, ec);
  if (ec) return Unavailable("resolve " + dir.string() + ": " + ec.message());
  std::vector<fs::path> created;
  for (fs::path p = absolute; p.has_relative_path() && !fs::exists(p, ec);
       p = p.parent_path()) {
    created.push_back(p);
  }
  fs::create_directories(absolute, ec);
  if (ec) return Unavailable("create " + dir.string() + ": " + ec.message());
  for (auto it = created.rbegin(); sync && it != created.rend(); ++it) {
    RETURN_IF_ERROR(SyncDir(it->parent_path()));
  }
  return Status::Ok();
}

// DIR/log.id names a log in the journal: 16 hex digits, random, written
// once. A log removed and created again at the same path gets a new one, so
// the journal never replays the old log's batches into the new one.
constexpr char kLogIdFile[] = "log.id";

std::optional<uint64_t> ReadLogId(const fs::path& dir) {
  auto file = ReadWholeFile(dir / kLogIdFile);
  if (!file.ok() || file->size() != 17 || file->back() != '\n') {
    return std::nullopt;
  }
  uint64_t id = 0;
  for (size_t i = 0; i < 16; ++i) {
    char c = (*file)[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    id = id << 4 | static_cast<uint64_t>(d);
  }
  return id;
}

Result<uint64_t> LoadOrCreateLogId(const fs::path& dir, bool sync) {
  if (auto id = ReadLogId(dir)) {
    if (sync) {
      // It may have been written by a relaxed run, and never synced.
      ASSIGN_OR_RETURN(Fd fd, OpenFile(dir / kLogIdFile, O_RDONLY));
      RETURN_IF_ERROR(SyncFile(fd.get(), dir / kLogIdFile));
      RETURN_IF_ERROR(SyncDir(dir));
    }
    return *id;
  }
  std::random_device random;
  uint64_t id = (static_cast<uint64_t>(random()) << 32) ^ random();
  char text[18];
  std::snprintf(text, sizeof(text), "%016llx\n",
                static_cast<unsigned long long>(id));
  fs::path tmp = dir / "log.id.tmp";
  {
    ASSIGN_OR_RETURN(Fd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC));
    RETURN_IF_ERROR(WriteAll(fd.get(), tmp, text, 17, 0));
    if (sync) RETURN_IF_ERROR(SyncFile(fd.get(), tmp));
  }
  if (::rename(tmp.c_str(), (dir / kLogIdFile).c_str()) != 0) {
    return IoError("rename", tmp, errno);
  }
  if (sync) RETURN_IF_ERROR(SyncDir(dir));
  return id;
}

std::string EncodeIndexFile(const std::vector<IndexEntry>& entries) {
  std::string out = log_format::IndexFileHeader();
  for (const IndexEntry& e : entries) log_format::AppendIndexEntry(&out, e);
  return out;
}

}  // namespace

namespace internal {

class LogCore;

// One segment of a log: its .log file, open for the segment's lifetime, and
// its sparse index. Shared by the log's segment list, readers in flight, the
// writer thread and a journal file waiting to be retired, so retention can
// drop a segment while a reader still preads it (an unlinked file lives
// until its last close). Not thread-safe as a whole: each field says who may
// touch it (the owning LogCore's mu_, the writer thread, or its own mutex for
// Sync and the synced mark, which any thread may call).
struct Segment {
  Segment(uint64_t base, const fs::path& dir, uint32_t index_interval,
          uint64_t log_id)
      : log_id(log_id),
        base_offset(base),
        log_path(dir / log_format::SegmentFileName(base, ".log")),
        idx_path(dir / log_format::SegmentFileName(base, ".idx")),
        end_offset(base),
        indexer(index_interval) {}

  const uint64_t log_id;  // its log's, for the synced mark

  void AddIndexEntry(const IndexEntry& e) {
    log_format::AppendIndexEntry(&idx_pending, e);
    staged.push_back(e);
  }

  const uint64_t base_offset;
  const fs::path log_path;
  const fs::path idx_path;
  Fd log_fd;

  // Guarded by the owning LogCore's mu_. Readers look only below
  // readable_size, where every byte belongs to an acknowledged batch.
  std::vector<IndexEntry> index;
  uint64_t readable_size = 0;
  uint64_t end_offset;  // one past its last acknowledged record
  std::optional<int64_t> max_timestamp_ms;
  // Entries of written batches, published into `index` as their batches
  // are acknowledged (in offset order).
  std::deque<IndexEntry> unpublished;

  // The active segment's write state: used only by the writer thread (and by
  // Open, before the log is shared).
  Fd idx_fd;
  uint64_t written_size = 0;
  uint64_t idx_size = 0;
  int64_t first_timestamp_ms = 0;
  log_format::SparseIndexer indexer;
  std::string idx_pending;         // encoded, not yet written entries
  std::vector<IndexEntry> staged;  // not yet moved to `unpublished`
  uint64_t journal_seq = 0;        // the last journal file that covers it
  // A write to it failed: written_size and `indexer` count the batch that
  // failed, which the file may hold only in part.
  bool write_failed = false;
  // Sealed without a sync (relaxed durability): its log's clean close
  // syncs it. Set by the writer thread; read by Close once the writer is
  // done with the log.
  bool sealed_unsynced = false;

  // Makes the .log durable. Once a sync of it failed, so does every later
  // one: Linux reports a failed writeback to one fdatasync and then counts
  // the pages clean, so a later fdatasync would succeed without them and
  // vouch (to a journal file's retirement, to a synced mark) for data that
  // never reached the disk. Syncs run one at a time, so that none can pass
  // a failure another thread has yet to record. Any thread.
  Status Sync() {
    std::lock_guard<std::mutex> lock(sync_mu);
    if (!sync_status.ok()) return sync_status;
    sync_status = SyncFile(log_fd.get(), log_path);
    return sync_status;
  }
  std::mutex sync_mu;
  Status sync_status;  // guarded by sync_mu: the first failed sync's

  // The synced mark of this segment, as it stands after a sync that
  // covered all it had then (the writer thread's state, so taken there or
  // once the writer is done with the segment); nullopt while empty.
  std::optional<log_format::SyncedMark> Mark() const {
    const std::optional<IndexEntry>& last = indexer.last_batch();
    const std::optional<IndexEntry>& indexed = indexer.last_indexed();
    if (written_size == 0 || !last || !indexed || write_failed) {
      return std::nullopt;
    }
    return log_format::SyncedMark{.log_id = log_id,
                                  .base_offset = base_offset,
                                  .size = written_size,
                                  .last_batch = *last,
                                  .last_indexed = *indexed};
  }

  // Writes `mark` (taken from this segment before a sync that succeeded)
  // unless a larger one was written already (the log's close and a journal
  // file's retirement may race) or marks were stopped. Not synced: losing
  // the mark only costs the next open a scan. Any thread.
  void WriteMark(const log_format::SyncedMark& mark) {
    std::lock_guard<std::mutex> lock(mark_mu);
    if (marks_stopped || mark.size <= marked_size) return;
    fs::path path = log_path.parent_path() / log_format::kSyncedMarkFile;
    fs::path tmp = path;
    tmp += ".tmp";
    std::string file = log_format::EncodeSyncedMark(mark);
    Result<Fd> fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    Status s = fd.status();
    if (s.ok()) s = WriteAll(fd->get(), tmp, file.data(), file.size(), 0);
    if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
      s = IoError("rename", tmp, errno);
    }
    if (!s.ok()) {
      RLOG_WARN("log {}: {}", log_path.parent_path().string(), s.ToString());
      return;
    }
    marked_size = mark.size;
  }
  // Once its log is closed: a journal file's retirement still running may
  // hold the segment, but its directory may be being removed (Discard) or
  // be another Log's by now. When this returns, a mark being written is in
  // place and no other will be. Any thread.
  void StopMarks() {
    std::lock_guard<std::mutex> lock(mark_mu);
    marks_stopped = true;
  }
  std::mutex mark_mu;
  uint64_t marked_size = 0;    // guarded by mark_mu
  bool marks_stopped = false;  // guarded by mark_mu
};

// One Append on its way through the writer thread. `log` is null for an
// append refused up front, which only needs its callback run.
struct AppendRequest {
  LogCore* log = nullptr;
  std::string batch;
  uint64_t base_offset = 0;
  uint32_t count = 0;
  int64_t timestamp_ms = 0;
  Log::AppendCallback done;
  Status error;
  // Set by the writer: where the batch went.
  std::shared_ptr<Segment> segment;
  uint64_t end_position = 0;
};

// What one log does in one round of the writer. Used by the writer thread
// only.
struct LogGroup {
  LogCore* log = nullptr;
  // Whether the round's journal flush carries it, read while its requests
  // are in flight: once they are acknowledged the log may be gone.
  bool journaled = false;
  std::vector<AppendRequest*> requests;
  bool written = false;  // WriteGroup wrote them (else it failed them)
};

// The write-ahead journal of a LogSyncer (docs/formats/log.md, "Journal"):
// the file every strict round is made durable in, the spare that replaces
// it when full, and the retirement of full files once the segments they
// cover are synced. Owns its files and the maintenance thread that
// prepares spares and retires files. Only the writer thread calls it,
// except for status and Fail (any thread); the maintenance jobs share only
// `mu_`'s fields.
class Journal {
 public:
  Journal(fs::path dir, const JournalOptions& options, Fd dir_lock,
          uint64_t first_seq)
      : dir_(std::move(dir)),
        options_(options),
        dir_lock_(std::move(dir_lock)),
        seq_(first_seq) {}
  ~Journal();

  // Creates the first file. Before the writer thread starts.
  Status Start();

  // The file entries go to this round, and the buffer they are added to.
  uint64_t seq() const { return seq_; }
  const fs::path& dir() const { return dir_; }
  std::string* entries() { return &entries_; }
  // `seg` holds batches of this file: it is synced before the file is
  // retired.
  void Covers(const std::shared_ptr<Segment>& seg);
  // Set once a write, sync or retirement failed: every strict append fails
  // from then on, since the journal can no longer vouch for it. Any thread.
  Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  void Fail(Status s);  // any thread

  // Moves to a fresh file when this one is full, or when it was not
  // preallocated and a preallocated spare is ready. Between rounds.
  void MaybeRoll();
  // Writes the round's entries and makes them durable (one fdatasync,
  // counted in `*syncs` and `*flushes`). Once it failed, it fails for good.
  Status Commit(std::atomic<uint64_t>* syncs, metrics::Counter* flushes);

 private:
  struct Retiring {
    fs::path path;
    // Weak: a log syncs its active segment when it closes, so the
    // journal keeps no closed log's files (or descriptors) alive. Each
    // with the synced mark it earns once synced, taken when the file was
    // retired.
    std::vector<std::pair<std::weak_ptr<Segment>,
                          std::optional<log_format::SyncedMark>>>
        segments;
  };
  // The current file and what it covers, to retire (writer thread, or
  // once it has stopped).
  Retiring TakeRetiring();
  fs::path FilePath(uint64_t seq) const {
    return dir_ / log_format::SegmentFileName(seq, ".jnl");
  }
  fs::path SparePath() const { return dir_ / "spare.jnl.tmp"; }
  // Opens a journal file for writing (O_RDWR | flags), with O_DIRECT where
  // the file system has it; sets direct_.
  Result<Fd> OpenJournalFile(const fs::path& path, int flags);
  Status WriteEntries();
  // Maintenance thread.
  void PrepareSpare();
  void Retire(Retiring r);

  const fs::path dir_;
  const JournalOptions options_;
  Fd dir_lock_;
  uint64_t seq_;
  Fd fd_;
  bool direct_ = false;          // fd_ has O_DIRECT: writes whole blocks
  bool direct_refused_ = false;  // a direct write failed: buffered for good
  uint64_t size_ = 0;            // bytes of entries in the current file
  // With direct_: the bytes of the current file's last, partial block
  // (tail_size_ of them), at the start of an aligned buffer.
  std::unique_ptr<char, decltype(&std::free)> block_{nullptr, &std::free};
  size_t block_capacity_ = 0;
  size_t tail_size_ = 0;
  bool preallocated_ = false;  // the current file was zero-filled
  bool new_file_ = true;       // no round has gone to it yet
  std::string entries_;
  std::vector<std::weak_ptr<Segment>> covered_;

  mutable std::mutex mu_;
  Status status_;               // guarded by mu_
  bool spare_ready_ = false;    // guarded by mu_
  bool spare_pending_ = false;  // guarded by mu_
  Status maintenance_status_;   // guarded by mu_
  // Last: its destructor runs queued jobs while the fields above exist.
  std::unique_ptr<ThreadPool> maintenance_ = std::make_unique<ThreadPool>(1);
};

// The writer thread and its queue: the body of LogSyncer. Owns the thread
// and the journal; thread-safe.
class SyncQueue {
 public:
  explicit SyncQueue(std::unique_ptr<Journal> journal)
      : journal_(std::move(journal)), thread_([this] { Run(); }) {}
  ~SyncQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    journal_.reset();  // retires the last file: syncs what it covers
  }

  void Enqueue(AppendRequest request) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mu_);
      was_empty = queue_.empty();
      queue_.push_back(std::move(request));
    }
    // A non-empty queue means the writer is busy and will look again.
    if (was_empty) cv_.notify_one();
  }

  // Writer thread: the journal, or null.
  Journal* journal() { return journal_.get(); }

  void CountSync() {
    syncs_.fetch_add(1, std::memory_order_relaxed);
    flushes_metric_.Add();
  }
  // Appends acknowledged (or failed) by the flushes.
  void CountAppends(size_t n) { appends_metric_.Add(n); }
  uint64_t sync_count() const { return syncs_.load(std::memory_order_relaxed); }

  uint64_t replayed_batches = 0;  // set by LogSyncer::Open before sharing

 private:
  void Run();
  void ProcessGroup(std::vector<AppendRequest>* group);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AppendRequest> queue_;  // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::atomic<uint64_t> syncs_{0};
  // For /metrics: appends per flush is what group commit achieves.
  metrics::Counter& flushes_metric_ = metrics::Global().GetCounter(
      "riffle_log_flushes_total", {},
      "fdatasyncs of the stream logs and their journal");
  metrics::Counter& appends_metric_ =
      metrics::Global().GetCounter("riffle_log_appends_total", {},
                                   "Appends (record batches) the stream logs' "
                                   "flushes acknowledged or failed");
  std::unique_ptr<Journal> journal_;

  std::thread thread_;  // last: starts after the fields above exist
};

// The body of Log; see log.h for the contract. Thread-safe. Owns the
// segment list; the writer thread (through SyncQueue) owns the active
// segment's write state.
//
// An append goes: caller thread (encode, assign offsets) -> writer thread
// (pwritev to the segment and, for a strict log with a journal, to the
// journal; one flush for the whole round; then acknowledge, in offset
// order). Only the writer thread acknowledges, so callbacks run one at a
// time, in offset order.
class LogCore {
 public:
  static Result<std::unique_ptr<LogCore>> Open(const fs::path& dir,
                                               const LogOptions& options,
                                               SyncQueue* queue);
  ~LogCore() { Close(); }

  void Append(std::vector<LogRecord> records, int64_t timestamp_ms,
              Log::AppendCallback done);
  // Appends a finished batch (offsets and timestamp set, as read from the
  // journal); its base offset must be the next offset. For replay.
  Status AppendFinished(std::string batch, const log_format::BatchHeader& h,
                        Log::AppendCallback done);
  Result<std::vector<StoredRecord>> Read(uint64_t offset, size_t max_records,
                                         size_t max_bytes) const;
  uint64_t start_offset() const {
    std::lock_guard<std::mutex> lock(mu_);
    return start_offset_;
  }
  uint64_t end_offset() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_end_;
  }
  std::optional<int64_t> last_timestamp_ms() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_timestamp_ms_;
  }
  Result<uint64_t> OffsetForTimestamp(int64_t timestamp_ms) const;
  Result<uint64_t> EnforceRetention(int64_t min_timestamp_ms);
  // With `sync`, makes a journaled log's active segment durable first (see
  // Log::Discard).
  void Close(bool sync = true);
  Status Destroy();

  // Writer thread: writes the group's batches (rolling segments as needed)
  // and their journal entries. The group's requests are in flight, so the
  // log outlives the call.
  void WriteGroup(LogGroup* group);
  // After WriteGroup wrote a group: acknowledges the `count` oldest
  // written appends, or fails them when `status` (that of the flush that
  // was to make them durable) is an error. Writer thread.
  void FinishWritten(size_t count, const Status& status);
  // Writer thread: the flush of a log that does not use the journal (a
  // no-op when relaxed).
  Status SyncOwnSegment();
  bool journaled() const { return options_.sync && queue_->journal(); }

 private:
  LogCore(fs::path dir, const LogOptions& options, SyncQueue* queue)
      : dir_(std::move(dir)), options_(options), queue_(queue) {}

  Result<std::shared_ptr<Segment>> CreateSegment(uint64_t base);
  Result<std::shared_ptr<Segment>> LoadSealedSegment(uint64_t base,
                                                     uint64_t next_base);
  bool SealedIndexMatches(const Segment& seg,
                          const std::vector<IndexEntry>& entries, uint64_t size,
                          uint64_t next_base) const;
  Result<std::vector<IndexEntry>> RebuildSealedIndex(const Segment& seg,
                                                     uint64_t size,
                                                     uint64_t next_base);
  Result<std::shared_ptr<Segment>> RecoverActiveSegment(uint64_t base);
  // Sets up `seg` for the prefix that `mark` says was synced, from its
  // index and without reading the prefix: true when the index and the
  // batch header at the mark's last position agree with the mark (then
  // `*index_current` says whether the .idx holds exactly the prefix's
  // entries); false, with `seg` untouched, otherwise.
  bool ResumeSyncedPrefix(Segment* seg, const log_format::SyncedMark& mark,
                          bool* index_current);
  Status Roll(uint64_t new_base);
  void FlushIndex(Segment* seg);
  void Refuse(Log::AppendCallback done, Status error);
  // Requires mu_. Queues `r` (offsets assigned) for the writer.
  void EnqueueLocked(AppendRequest r);
  void FailGroup(LogGroup* group, Status error);
  // Requires mu_. Requests that Close may return: notifies once nothing
  // is in flight.
  void NotifyIfIdle() {
    if (in_flight_ == 0) idle_cv_.notify_all();
  }

  const fs::path dir_;
  const LogOptions options_;
  SyncQueue* const queue_;
  Fd dir_lock_;          // holds flock(dir) until Close
  uint64_t log_id_ = 0;  // from DIR/log.id: names the log in the journal

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;  // in_flight_ became 0
  // Guarded by mu_. Invariant: segments_ is sorted by base offset, each
  // segment's end_offset is at most the next one's base, and back() is the
  // segment the writer appends to.
  std::vector<std::shared_ptr<Segment>> segments_;
  uint64_t start_offset_ = 0;
  uint64_t next_offset_ = 0;  // the next offset Append hands out
  uint64_t acked_end_ = 0;
  std::optional<int64_t> last_assigned_timestamp_ms_;
  std::optional<int64_t> last_timestamp_ms_;
  size_t in_flight_ = 0;  // appends whose callback has not returned
  bool closed_ = false;
  Status failed_;  // set once a write or sync failed
  // Written appends waiting to be acknowledged, in offset order.
  std::deque<AppendRequest> written_;

  // Writer thread only.
  std::shared_ptr<Segment> active_;
  Status writer_status_;
  uint64_t journal_seq_ = 0;  // the journal file that has this log's kLog
};

void SyncQueue::Run() {
  std::vector<AppendRequest> group;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      // Drains before stopping: every queued callback runs.
      if (queue_.empty()) return;
      group.swap(queue_);
    }
    ProcessGroup(&group);
    group.clear();
  }
}

void SyncQueue::ProcessGroup(std::vector<AppendRequest>* group) {
  std::vector<LogGroup> logs;
  std::unordered_map<LogCore*, size_t> index_of;
  std::vector<AppendRequest*> refused;
  for (AppendRequest& r : *group) {
    if (r.log == nullptr) {
      refused.push_back(&r);
      continue;
    }
    auto [it, inserted] = index_of.try_emplace(r.log, logs.size());
    if (inserted) {
      logs.emplace_back();
      logs.back().log = r.log;
      logs.back().journaled = r.log->journaled();
    }
    logs[it->second].requests.push_back(&r);
  }
  if (journal_) journal_->MaybeRoll();
  for (LogGroup& g : logs) g.log->WriteGroup(&g);
  for (AppendRequest* r : refused) {
    Log::AppendCallback done = std::move(r->done);
    done(std::move(r->error));
  }
  bool any = false;
  for (LogGroup& g : logs) {
    if (!g.written) continue;
    if (!g.journaled) {
      // Relaxed, or strict without a journal: this log's own segment
      // carries the round.
      g.log->FinishWritten(g.requests.size(), g.log->SyncOwnSegment());
    } else {
      any = true;
    }
  }
  if (!any) return;
  // One flush for the whole round, whatever number of logs it wrote. The
  // writer flushes and acknowledges the round itself before it takes the
  // next: appends that arrive meanwhile queue up and make the next round,
  // and no thread hop lies between the write, the flush and the callbacks.
  Status s = journal_->Commit(&syncs_, &flushes_metric_);
  for (LogGroup& g : logs) {
    if (g.written && g.journaled) {
      g.log->FinishWritten(g.requests.size(), s);
    }
  }
}

Journal::~Journal() {
  // The writer thread has stopped: retire the last file like
  // the others, so that a clean shutdown leaves nothing to replay.
  if (fd_.get() >= 0) {
    // After the files retiring already, in order.
    maintenance_->Post(
        [this, r = TakeRetiring()]() mutable { Retire(std::move(r)); });
  }
  maintenance_.reset();  // runs the jobs still queued
  std::error_code ec;
  fs::remove(SparePath(), ec);
  if (Status s = SyncDir(dir_); !s.ok()) {
    RLOG_WARN("journal {}: {}", dir_.string(), s.ToString());
  }
}

Status Journal::Start() {
  ASSIGN_OR_RETURN(fd_, OpenJournalFile(FilePath(seq_), O_CREAT | O_TRUNC));
  RETURN_IF_ERROR(SyncDir(dir_));
  new_file_ = false;
  return Status::Ok();
}

void Journal::Covers(const std::shared_ptr<Segment>& seg) {
  if (seg->journal_seq == seq_) return;
  seg->journal_seq = seq_;
  covered_.push_back(seg);
}

void Journal::Fail(Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.ok()) {
    RLOG_ERROR("journal {}: {}", dir_.string(), s.ToString());
    status_ = Unavailable("journal: " + s.message());
  }
}

void Journal::MaybeRoll() {
  bool spare_ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return;
    if (!maintenance_status_.ok()) {
      status_ = Unavailable("journal: " + maintenance_status_.message());
      return;
    }
    spare_ready = spare_ready_;
    // The spare is made once the current file is in real use, so that a
    // process that appends little (a test, an idle server) never writes
    // a file of zeros.
    if (options_.preallocate && !spare_ready_ && !spare_pending_ &&
        size_ >= std::min<uint64_t>(options_.file_bytes / 4, 1 << 20)) {
      spare_pending_ = true;
      maintenance_->Post([this] { PrepareSpare(); });
    }
  }
  bool full = size_ >= options_.file_bytes;
  if (!full && (preallocated_ || !spare_ready)) return;
  uint64_t next = seq_ + 1;
  Fd fd;
  bool preallocated = false;
  if (spare_ready) {
    // Named only now, so that names keep the order files were used in.
    if (::rename(SparePath().c_str(), FilePath(next).c_str()) != 0) {
      return Fail(IoError("rename", SparePath(), errno));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      spare_ready_ = false;
    }
    auto opened = OpenJournalFile(FilePath(next), 0);
    if (!opened.ok()) return Fail(opened.status());
    fd = std::move(*opened);
    preallocated = true;
  } else {
    auto opened = OpenJournalFile(FilePath(next), O_CREAT | O_TRUNC);
    if (!opened.ok()) return Fail(opened.status());
    fd = std::move(*opened);
  }
  maintenance_->Post(
      [this, r = TakeRetiring()]() mutable { Retire(std::move(r)); });
  seq_ = next;
  fd_ = std::move(fd);
  size_ = 0;
  tail_size_ = 0;
  preallocated_ = preallocated;
  new_file_ = true;  // its first flush syncs the directory too
}

Status Journal::Commit(std::atomic<uint64_t>* syncs,
                       metrics::Counter* flushes) {
  RETURN_IF_ERROR(status());
  Status s = WriteEntries();
  entries_.clear();
  // A new file's name must be durable before anything in it is.
  if (s.ok() && new_file_) s = SyncDir(dir_);
  new_file_ = new_file_ && !s.ok();
  if (s.ok()) {
    s = SyncFile(fd_.get(), FilePath(seq_));
    syncs->fetch_add(1, std::memory_order_relaxed);
    flushes->Add();
  }
  if (!s.ok()) Fail(s);
  return status();
}

Status Journal::WriteEntries() {
  if (!direct_) {
    Status s = WriteAll(fd_.get(), FilePath(seq_), entries_.data(),
                        entries_.size(), size_);
    size_ += entries_.size();
    return s;
  }
  // Whole aligned blocks: the last one written before (kept in memory),
  // the new entries, zeros up to the end of their last block.
  size_t used = tail_size_ + entries_.size();
  size_t padded = (used + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
  if (padded > block_capacity_) {
    size_t capacity = std::max(padded, 2 * block_capacity_);
    void* p = std::aligned_alloc(kDirectAlign, capacity);
    if (p == nullptr) return Unavailable("journal: out of memory");
    std::unique_ptr<char, decltype(&std::free)> grown(static_cast<char*>(p),
                                                      &std::free);
    if (tail_size_ > 0) std::memcpy(grown.get(), block_.get(), tail_size_);
    block_ = std::move(grown);
    block_capacity_ = capacity;
  }
  char* buf = block_.get();
  std::memcpy(buf + tail_size_, entries_.data(), entries_.size());
  std::memset(buf + used, 0, padded - used);
  uint64_t start = size_ - tail_size_;
  ssize_t n;
  do {
    n = ::pwrite(fd_.get(), buf, padded, static_cast<off_t>(start));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EINVAL) {
    // The file system took O_DIRECT at open but not these blocks (a larger
    // alignment): the same bytes, buffered, from now on.
    RLOG_WARN("journal {}: direct writes refused, writing buffered",
              dir_.string());
    ASSIGN_OR_RETURN(fd_, OpenFile(FilePath(seq_), O_RDWR));
    direct_ = false;
    direct_refused_ = true;
    RETURN_IF_ERROR(WriteAll(fd_.get(), FilePath(seq_), buf, used, start));
    size_ += entries_.size();
    return Status::Ok();
  }
  if (n < 0) return IoError("write", FilePath(seq_), errno);
  if (static_cast<size_t>(n) != padded) {
    return Unavailable("write " + FilePath(seq_).string() + ": short write");
  }
  size_ += entries_.size();
  size_t tail = size_ % kDirectAlign;
  std::memmove(buf, buf + (size_ - tail - start), tail);
  tail_size_ = tail;
  return Status::Ok();
}

Result<Fd> Journal::OpenJournalFile(const fs::path& path, int flags) {
  // Direct I/O spares the flush the page cache's writeback work (the
  // larger part of a flush's CPU here); file systems without it (tmpfs)
  // get buffered writes.
  Result<Fd> fd = Unavailable("no direct I/O");
  if (options_.direct_io && !direct_refused_) {
    fd = OpenFile(path, O_RDWR | O_DIRECT | flags);
  }
  direct_ = fd.ok();
  if (!direct_) fd = OpenFile(path, O_RDWR | flags);
  return fd;
}

void Journal::PrepareSpare() {
  // Zeros, written and synced: every block of the file is then allocated
  // and initialised, so the writer's fdatasyncs carry no metadata. Zeros
  // never parse as an entry.
  Status s;
  {
    auto fd = OpenFile(SparePath(), O_RDWR | O_CREAT | O_TRUNC);
    s = fd.status();
    if (fd.ok()) {
      std::string zeros(1 << 20, '\0');
      for (uint64_t at = 0; s.ok() && at < options_.file_bytes;
           at += zeros.size()) {
        s = WriteAll(fd->get(), SparePath(), zeros.data(),
                     std::min<uint64_t>(zeros.size(), options_.file_bytes - at),
                     at);
      }
      if (s.ok()) s = SyncFile(fd->get(), SparePath());
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  spare_pending_ = false;
  if (s.ok()) {
    spare_ready_ = true;
  } else {
    // Not fatal: the writer creates plain files instead.
    RLOG_WARN("journal {}: no spare file: {}", dir_.string(), s.ToString());
  }
}

Journal::Retiring Journal::TakeRetiring() {
  Retiring r{.path = FilePath(seq_), .segments = {}};
  for (const auto& weak : covered_) {
    std::shared_ptr<Segment> seg = weak.lock();
    r.segments.emplace_back(weak, seg ? seg->Mark() : std::nullopt);
  }
  covered_.clear();
  return r;
}

void Journal::Retire(Retiring r) {
  // The file may go once every segment it covers is durable on its own.
  Status s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // After a failure every later file is kept too: a log that failed to
    // sync its segment on Close has no other copy of its tail.
    if (!maintenance_status_.ok() || !status_.ok()) return;
  }
  for (const auto& [weak, mark] : r.segments) {
    // Gone: its log closed (and synced it) or was deleted.
    std::shared_ptr<Segment> seg = weak.lock();
    if (!seg || !s.ok()) continue;
    s = seg->Sync();
    // Its next open need not scan what this sync made durable.
    if (s.ok() && mark) seg->WriteMark(*mark);
  }
  if (s.ok() && ::unlink(r.path.c_str()) != 0) {
    s = IoError("unlink", r.path, errno);
  }
  if (!s.ok()) {
    // Kept, and so is every later file: the next start replays them.
    std::lock_guard<std::mutex> lock(mu_);
    if (maintenance_status_.ok()) maintenance_status_ = std::move(s);
  }
}

Result<std::unique_ptr<LogCore>> LogCore::Open(const fs::path& dir,
                                               const LogOptions& options,
                                               SyncQueue* queue) {
  if (dir.empty()) return InvalidArgument("log directory is empty");
  if (options.segment_bytes == 0 || options.segment_ms <= 0 ||
      options.index_interval_bytes == 0) {
    return InvalidArgument(
        "segment_bytes, segment_ms and index_interval_bytes must be positive");
  }
  RETURN_IF_ERROR(CreateDirectories(dir, options.sync));
  std::error_code ec;
  // Two writers would interleave batches; flock on the directory itself
  // keeps them apart without adding a file to the format.
  ASSIGN_OR_RETURN(Fd dir_lock, LockDirectory(dir, "log"));

  std::set<uint64_t> logs;
  std::set<uint64_t> indexes;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (auto base = log_format::ParseSegmentFileName(name, ".log")) {
      logs.insert(*base);
    } else if (auto base = log_format::ParseSegmentFileName(name, ".idx")) {
      indexes.insert(*base);
    }
  }
  if (ec) return Unavailable("list " + dir.string() + ": " + ec.message());
  // Retention unlinks .log before .idx; a crash in between leaves this.
  for (uint64_t base : indexes) {
    if (!logs.contains(base)) {
      fs::remove(dir / log_format::SegmentFileName(base, ".idx"), ec);
    }
  }

  std::unique_ptr<LogCore> core(new LogCore(dir, options, queue));
  core->dir_lock_ = std::move(dir_lock);
  ASSIGN_OR_RETURN(core->log_id_, LoadOrCreateLogId(dir, options.sync));
  if (logs.empty()) {
    ASSIGN_OR_RETURN(auto seg, core->CreateSegment(0));
    core->segments_.push_back(std::move(seg));
    if (options.sync) RETURN_IF_ERROR(SyncDir(dir));
  } else {
    std::vector<uint64_t> bases(logs.begin(), logs.end());
    for (size_t i = 0; i + 1 < bases.size(); ++i) {
      ASSIGN_OR_RETURN(auto seg,
                       core->LoadSealedSegment(bases[i], bases[i + 1]));
      core->segments_.push_back(std::move(seg));
    }
    ASSIGN_OR_RETURN(auto seg, core->RecoverActiveSegment(bases.back()));
    core->segments_.push_back(std::move(seg));
  }
  core->active_ = core->segments_.back();
  core->start_offset_ = core->segments_.front()->base_offset;
  core->next_offset_ = core->acked_end_ = core->active_->end_offset;
  for (auto it = core->segments_.rbegin(); it != core->segments_.rend(); ++it) {
    if ((*it)->max_timestamp_ms) {
      core->last_timestamp_ms_ = (*it)->max_timestamp_ms;
      break;
    }
  }
  core->last_assigned_timestamp_ms_ = core->last_timestamp_ms_;
  return core;
}

Result<std::shared_ptr<Segment>> LogCore::CreateSegment(uint64_t base) {
  auto seg = std::make_shared<Segment>(base, dir_,
                                       options_.index_interval_bytes, log_id_);
  ASSIGN_OR_RETURN(seg->log_fd,
                   OpenFile(seg->log_path, O_RDWR | O_CREAT | O_TRUNC));
  ASSIGN_OR_RETURN(seg->idx_fd,
                   OpenFile(seg->idx_path, O_RDWR | O_CREAT | O_TRUNC));
  std::string header = log_format::IndexFileHeader();
  RETURN_IF_ERROR(WriteAll(seg->idx_fd.get(), seg->idx_path, header.data(),
                           header.size(), 0));
  seg->idx_size = header.size();
  return seg;
}

Result<std::shared_ptr<Segment>> LogCore::LoadSealedSegment(
    uint64_t base, uint64_t next_base) {
  auto seg = std::make_shared<Segment>(base, dir_,
                                       options_.index_interval_bytes, log_id_);
  ASSIGN_OR_RETURN(seg->log_fd, OpenFile(seg->log_path, O_RDONLY));
  ASSIGN_OR_RETURN(uint64_t size, FileSize(seg->log_fd.get(), seg->log_path));
  std::optional<std::vector<IndexEntry>> entries;
  if (auto file = ReadWholeFile(seg->idx_path); file.ok()) {
    entries = log_format::ParseIndexFile(*file);
  }
  if (!entries || !SealedIndexMatches(*seg, *entries, size, next_base)) {
    RLOG_INFO("log {}: rebuilding index {}", dir_.string(),
              seg->idx_path.filename().string());
    ASSIGN_OR_RETURN(entries, RebuildSealedIndex(*seg, size, next_base));
  }
  seg->index = std::move(*entries);
  seg->readable_size = size;
  // Sealed: its records are [base, next_base) even if some are damaged, so
  // that a reader reaching them gets DataLoss instead of skipping them.
  seg->end_offset = next_base;
  if (!seg->index.empty()) {
    seg->max_timestamp_ms = seg->index.back().timestamp_ms;
  }
  return seg;
}

// Checks an index against its segment cheaply (one 32-byte pread), without
// scanning the segment: the entries must be consistent and the last one
// must describe the segment's last batch, which ends the file and precedes
// the next segment's first offset.
bool LogCore::SealedIndexMatches(const Segment& seg,
                                 const std::vector<IndexEntry>& entries,
                                 uint64_t size, uint64_t next_base) const {
  if (entries.empty()) return size == 0 && seg.base_offset == next_base;
  if (entries.front().offset != seg.base_offset ||
      entries.front().position != 0 || entries.back().position >= size ||
      entries.back().offset >= next_base) {
    return false;
  }
  const IndexEntry& last = entries.back();
  char header[log_format::kBatchHeaderSize];
  ssize_t n = ::pread(seg.log_fd.get(), header, sizeof(header),
                      static_cast<off_t>(last.position));
  if (n != static_cast<ssize_t>(sizeof(header))) return false;
  auto h = log_format::ParseBatchHeader(header);
  return h && h->base_offset == last.offset &&
         h->timestamp_ms == last.timestamp_ms &&
         last.position + h->length == size &&
         h->base_offset + h->record_count == next_base;
}

Result<std::vector<IndexEntry>> LogCore::RebuildSealedIndex(
    const Segment& seg, uint64_t size, uint64_t next_base) {
  BatchScanner scanner(seg.log_fd.get(), 0, size, kScanChunk, kScanChunk);
  log_format::SparseIndexer indexer(options_.index_interval_bytes);
  std::vector<IndexEntry> entries;
  uint64_t expected = seg.base_offset;
  uint64_t valid = 0;  // end of the last good batch
  int64_t last_ts = INT64_MIN;
  std::string problem;
  for (;;) {
    BatchView v;
    BatchScanner::Outcome out = scanner.Next(&v);
    if (out == BatchScanner::Outcome::kEnd) break;
    if (out == BatchScanner::Outcome::kIoError) {
      return DataLoss("reading " + seg.log_path.string() + ": " +
                      scanner.error());
    }
    if (out == BatchScanner::Outcome::kBatch &&
        (!log_format::BatchCrcOk(v.data) ||
         !log_format::RecordsWellFormed(v.data, v.header.record_count) ||
         v.header.base_offset != expected || v.header.timestamp_ms < last_ts)) {
      out = BatchScanner::Outcome::kCorrupt;
    }
    if (out != BatchScanner::Outcome::kBatch) {
      problem = out == BatchScanner::Outcome::kTorn ? "truncated batch"
                                                    : "corrupt batch";
      break;
    }
    if (auto e = indexer.OnBatch(v.header.base_offset, v.position,
                                 v.header.timestamp_ms)) {
      entries.push_back(*e);
    }
    expected += v.header.record_count;
    last_ts = v.header.timestamp_ms;
    valid = v.position + v.header.length;
  }
  if (auto e = indexer.OnSeal()) entries.push_back(*e);
  if (problem.empty() && expected > next_base) {
    return DataLoss(seg.log_path.string() + " holds offsets up to " +
                    std::to_string(expected) + ", past the next segment's " +
                    std::to_string(next_base));
  }
  if (!problem.empty() || expected != next_base) {
    // Never truncated: this segment was synced before its successor was
    // created, so the damage is not a torn write, and the records after it
    // were acknowledged. Reads reaching it fail with DataLoss.
    RLOG_ERROR(
        "log {}: {} at byte {} of sealed segment {}: offsets [{}, {}) "
        "are unreadable",
        dir_.string(), problem.empty() ? "missing tail" : problem, valid,
        seg.log_path.filename().string(), expected, next_base);
  }
  // The index is only a cache of the .log: write it best-effort, atomically.
  fs::path tmp = seg.idx_path;
  tmp += ".tmp";
  std::string file = EncodeIndexFile(entries);
  auto fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC);
  if (fd.ok() && WriteAll(fd->get(), tmp, file.data(), file.size(), 0).ok() &&
      ::rename(tmp.c_str(), seg.idx_path.c_str()) == 0) {
    return entries;
  }
  RLOG_WARN("log {}: could not rewrite {}", dir_.string(),
            seg.idx_path.filename().string());
  std::error_code ec;
  fs::remove(tmp, ec);
  return entries;
}

Result<std::shared_ptr<Segment>> LogCore::RecoverActiveSegment(uint64_t base) {
  auto seg = std::make_shared<Segment>(base, dir_,
                                       options_.index_interval_bytes, log_id_);
  ASSIGN_OR_RETURN(seg->log_fd, OpenFile(seg->log_path, O_RDWR | O_CREAT));
  ASSIGN_OR_RETURN(uint64_t size, FileSize(seg->log_fd.get(), seg->log_path));
  // A synced mark says how much of the segment a sync made durable: that
  // prefix is taken as it is, like a sealed segment (readers still check
  // every batch's CRC), and only what follows it is scanned; after a clean
  // close, nothing. The prefix survives a crash, and recovery never cuts
  // into it, so a mark stays true until the segment is sealed.
  uint64_t from = 0;
  bool index_current = false;
  Result<std::string> mark_file =
      ReadWholeFile(dir_ / log_format::kSyncedMarkFile);
  std::optional<log_format::SyncedMark> mark;
  if (mark_file.ok()) mark = log_format::ParseSyncedMark(*mark_file);
  if (mark && mark->log_id == log_id_ && mark->base_offset == base &&
      mark->size <= size &&
      ResumeSyncedPrefix(seg.get(), *mark, &index_current)) {
    from = mark->size;
    // Already true on disk: the same mark is not written again.
    seg->marked_size = mark->size;
  }
  BatchScanner scanner(seg->log_fd.get(), from, size, kScanChunk, kScanChunk);
  uint64_t expected = from == 0 ? base : seg->end_offset;
  uint64_t valid = from;  // end of the last good batch
  std::string problem;
  for (;;) {
    BatchView v;
    BatchScanner::Outcome out = scanner.Next(&v);
    if (out == BatchScanner::Outcome::kEnd) break;
    if (out == BatchScanner::Outcome::kIoError) {
      return DataLoss("reading " + seg->log_path.string() + ": " +
                      scanner.error());
    }
    if (out == BatchScanner::Outcome::kBatch &&
        (!log_format::BatchCrcOk(v.data) ||
         !log_format::RecordsWellFormed(v.data, v.header.record_count) ||
         v.header.base_offset != expected ||
         (seg->max_timestamp_ms &&
          v.header.timestamp_ms < *seg->max_timestamp_ms))) {
      out = BatchScanner::Outcome::kCorrupt;
    }
    if (out != BatchScanner::Outcome::kBatch) {
      problem = out == BatchScanner::Outcome::kTorn ? "a torn batch"
                                                    : "a corrupt batch";
      break;
    }
    if (v.position == 0) seg->first_timestamp_ms = v.header.timestamp_ms;
    if (auto e = seg->indexer.OnBatch(v.header.base_offset, v.position,
                                      v.header.timestamp_ms)) {
      seg->index.push_back(*e);
    }
    expected += v.header.record_count;
    seg->max_timestamp_ms = v.header.timestamp_ms;
    valid = v.position + v.header.length;
  }
  if (!problem.empty()) {
    // The tail of the active segment is where a crash leaves a partial
    // write; nothing past it was acknowledged unless the disk itself damaged
    // it, and its lengths can no longer be trusted, so it is cut off.
    RLOG_WARN("log {}: truncating {} at byte {} ({} bytes dropped): {}",
              dir_.string(), seg->log_path.filename().string(), valid,
              size - valid, problem);
    if (::ftruncate(seg->log_fd.get(), static_cast<off_t>(valid)) != 0) {
      return IoError("truncate", seg->log_path, errno);
    }
    if (options_.sync) RETURN_IF_ERROR(seg->Sync());
  }
  seg->written_size = seg->readable_size = valid;
  seg->end_offset = expected;
  if (index_current && valid == from) {
    // Nothing after the synced prefix, whose entries the .idx holds
    // exactly: appends go on adding to it.
    ASSIGN_OR_RETURN(seg->idx_fd, OpenFile(seg->idx_path, O_RDWR));
    ASSIGN_OR_RETURN(seg->idx_size, FileSize(seg->idx_fd.get(), seg->idx_path));
    return seg;
  }
  // The active segment's index was rebuilt by the scan (after the synced
  // prefix's entries, if any): rewrite it whole.
  ASSIGN_OR_RETURN(seg->idx_fd,
                   OpenFile(seg->idx_path, O_RDWR | O_CREAT | O_TRUNC));
  std::string file = EncodeIndexFile(seg->index);
  RETURN_IF_ERROR(
      WriteAll(seg->idx_fd.get(), seg->idx_path, file.data(), file.size(), 0));
  seg->idx_size = file.size();
  return seg;
}

bool LogCore::ResumeSyncedPrefix(Segment* seg,
                                 const log_format::SyncedMark& mark,
                                 bool* index_current) {
  Result<std::string> file = ReadWholeFile(seg->idx_path);
  if (!file.ok()) return false;
  std::optional<std::vector<IndexEntry>> entries =
      log_format::ParseIndexFile(*file);
  if (!entries || entries->empty() ||
      entries->front().offset != seg->base_offset ||
      entries->front().position != 0) {
    return false;
  }
  // The prefix's entries end with the mark's last indexed one; any after
  // it describe batches written after the sync, which the scan redoes.
  auto end = std::find(entries->begin(), entries->end(), mark.last_indexed);
  if (end == entries->end()) return false;
  const IndexEntry& last = mark.last_batch;
  if (end->offset > last.offset || end->position > last.position) {
    return false;
  }
  char header[log_format::kBatchHeaderSize];
  ssize_t n = ::pread(seg->log_fd.get(), header, sizeof(header),
                      static_cast<off_t>(last.position));
  if (n != static_cast<ssize_t>(sizeof(header))) return false;
  std::optional<log_format::BatchHeader> h =
      log_format::ParseBatchHeader(header);
  if (!h || h->base_offset != last.offset ||
      h->timestamp_ms != last.timestamp_ms ||
      last.position + h->length != mark.size) {
    return false;
  }
  *index_current = end + 1 == entries->end();
  entries->erase(end + 1, entries->end());
  seg->index = std::move(*entries);
  seg->indexer.Resume(mark.last_indexed, last);
  seg->first_timestamp_ms = seg->index.front().timestamp_ms;
  seg->max_timestamp_ms = last.timestamp_ms;
  seg->end_offset = last.offset + h->record_count;
  return true;
}

void LogCore::Refuse(Log::AppendCallback done, Status error) {
  AppendRequest r;
  r.done = std::move(done);
  r.error = std::move(error);
  queue_->Enqueue(std::move(r));
}

void LogCore::Append(std::vector<LogRecord> records, int64_t timestamp_ms,
                     Log::AppendCallback done) {
  // Encoding and checksumming happen here, on the caller's thread, outside
  // the lock; the writer thread only writes and syncs.
  Result<std::string> batch = log_format::EncodeBatch(records);
  if (!batch.ok()) return Refuse(std::move(done), batch.status());
  auto count = static_cast<uint32_t>(records.size());

  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return Refuse(std::move(done), FailedPrecondition("log closed"));
  if (!failed_.ok()) return Refuse(std::move(done), failed_);
  if (last_assigned_timestamp_ms_ &&
      timestamp_ms < *last_assigned_timestamp_ms_) {
    timestamp_ms = *last_assigned_timestamp_ms_;
  }
  last_assigned_timestamp_ms_ = timestamp_ms;
  AppendRequest r;
  r.base_offset = next_offset_;
  r.count = count;
  r.timestamp_ms = timestamp_ms;
  log_format::FinishBatch(&*batch, r.base_offset, timestamp_ms);
  r.batch = std::move(*batch);
  r.done = std::move(done);
  EnqueueLocked(std::move(r));
}

Status LogCore::AppendFinished(std::string batch,
                               const log_format::BatchHeader& h,
                               Log::AppendCallback done) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return FailedPrecondition("log closed");
  if (!failed_.ok()) return failed_;
  if (h.base_offset != next_offset_ ||
      (last_assigned_timestamp_ms_ &&
       h.timestamp_ms < *last_assigned_timestamp_ms_)) {
    return FailedPrecondition(
        "batch at offset " + std::to_string(h.base_offset) +
        " does not follow the log's end at " + std::to_string(next_offset_));
  }
  last_assigned_timestamp_ms_ = h.timestamp_ms;
  AppendRequest r;
  r.base_offset = h.base_offset;
  r.count = h.record_count;
  r.timestamp_ms = h.timestamp_ms;
  r.batch = std::move(batch);
  r.done = std::move(done);
  EnqueueLocked(std::move(r));
  return Status::Ok();
}

void LogCore::EnqueueLocked(AppendRequest r) {
  r.log = this;
  next_offset_ = r.base_offset + r.count;
  ++in_flight_;
  // Enqueued under mu_, so the writer sees each log's batches in offset
  // order.
  queue_->Enqueue(std::move(r));
}

void LogCore::WriteGroup(LogGroup* group) {
  if (writer_status_.ok()) {
    // A sync thread may have failed the log since the last group.
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.ok()) writer_status_ = failed_;
  }
  if (writer_status_.ok() && journaled() && !queue_->journal()->status().ok()) {
    writer_status_ = queue_->journal()->status();
  }
  if (!writer_status_.ok()) return FailGroup(group, writer_status_);
  Segment* seg = active_.get();
  std::vector<iovec> iov;
  iov.reserve(group->requests.size());
  uint64_t iov_position = seg->written_size;
  for (AppendRequest* r : group->requests) {
    size_t length = r->batch.size();
    // Timestamps never decrease within a log, so the difference is >= 0.
    uint64_t age = static_cast<uint64_t>(r->timestamp_ms) -
                   static_cast<uint64_t>(seg->first_timestamp_ms);
    if (seg->written_size > 0 &&
        (seg->written_size + length > options_.segment_bytes ||
         age > static_cast<uint64_t>(options_.segment_ms))) {
      Status s =
          WriteVectorAll(seg->log_fd.get(), seg->log_path, &iov, iov_position);
      iov.clear();
      if (!s.ok()) seg->write_failed = true;
      if (s.ok()) s = Roll(r->base_offset);
      if (!s.ok()) return FailGroup(group, std::move(s));
      seg = active_.get();
      iov_position = 0;
    }
    if (seg->written_size == 0) seg->first_timestamp_ms = r->timestamp_ms;
    if (auto e = seg->indexer.OnBatch(r->base_offset, seg->written_size,
                                      r->timestamp_ms)) {
      seg->AddIndexEntry(*e);
    }
    iov.push_back(iovec{r->batch.data(), length});
    seg->written_size += length;
    r->segment = active_;
    r->end_position = seg->written_size;
  }
  Status s =
      WriteVectorAll(seg->log_fd.get(), seg->log_path, &iov, iov_position);
  if (!s.ok()) {
    seg->write_failed = true;
    return FailGroup(group, std::move(s));
  }
  FlushIndex(seg);
  if (journaled()) {
    Journal* journal = queue_->journal();
    std::string* entries = journal->entries();
    if (journal_seq_ != journal->seq()) {
      // A file's first entry for a log says where the log is.
      std::error_code ec;
      fs::path absolute = fs::absolute(dir_, ec);
      fs::path where = (ec ? dir_ : absolute)
                           .lexically_relative(fs::absolute(journal->dir()));
      log_format::AppendJournalEntry(
          entries, log_format::JournalEntryType::kLog, journal->seq(), log_id_,
          where.empty() ? absolute.string() : where.string());
      journal_seq_ = journal->seq();
    }
    for (AppendRequest* r : group->requests) {
      log_format::AppendJournalEntry(entries,
                                     log_format::JournalEntryType::kBatch,
                                     journal->seq(), log_id_, r->batch);
      journal->Covers(r->segment);
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  for (AppendRequest* r : group->requests) {
    r->batch = std::string();  // written: the memory is not needed any more
    written_.push_back(std::move(*r));
  }
  seg->unpublished.insert(seg->unpublished.end(), seg->staged.begin(),
                          seg->staged.end());
  seg->staged.clear();
  group->written = true;
}

Status LogCore::SyncOwnSegment() {
  if (!options_.sync) return Status::Ok();
  Status s = active_->Sync();
  queue_->CountSync();
  if (!s.ok() && writer_status_.ok()) writer_status_ = Unavailable(s.message());
  return s;
}

void LogCore::FinishWritten(size_t count, const Status& status) {
  std::vector<AppendRequest> done;
  Status error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok() && failed_.ok()) failed_ = Unavailable(status.message());
    // Nothing after a failed write or sync may be acknowledged, so that a
    // gap never is.
    error = failed_;
    for (size_t i = 0; i < count; ++i) {
      AppendRequest& r = written_[i];
      if (!error.ok()) continue;
      Segment* seg = r.segment.get();
      seg->readable_size = r.end_position;
      seg->end_offset = r.base_offset + r.count;
      seg->max_timestamp_ms = r.timestamp_ms;
      while (!seg->unpublished.empty() &&
             seg->unpublished.front().offset < seg->end_offset) {
        seg->index.push_back(seg->unpublished.front());
        seg->unpublished.pop_front();
      }
      acked_end_ = r.base_offset + r.count;
      last_timestamp_ms_ = r.timestamp_ms;
    }
    done.assign(std::make_move_iterator(written_.begin()),
                std::make_move_iterator(written_.begin() + count));
    written_.erase(written_.begin(), written_.begin() + count);
  }
  for (AppendRequest& r : done) {
    // Moved out so the callback (and what it captured) is gone before
    // Close can return.
    Log::AppendCallback cb = std::move(r.done);
    if (error.ok()) {
      cb(r.base_offset);
    } else {
      cb(error);
    }
  }
  queue_->CountAppends(done.size());
  // Last touch of this LogCore: once in_flight_ is 0, Close may return.
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ -= done.size();
  NotifyIfIdle();
}

void LogCore::FailGroup(LogGroup* group, Status error) {
  if (writer_status_.ok()) writer_status_ = Unavailable(error.message());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_.ok()) failed_ = writer_status_;
  }
  for (AppendRequest* r : group->requests) {
    // Moved out so the callback (and what it captured) is gone before Close
    // can return.
    Log::AppendCallback done = std::move(r->done);
    done(writer_status_);
  }
  // Last touch of this LogCore: once in_flight_ is 0, Close may return.
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ -= group->requests.size();
  NotifyIfIdle();
}

// Seals the active segment and starts one at `new_base`. Writer thread.
Status LogCore::Roll(uint64_t new_base) {
  Segment* old = active_.get();
  // Invariant: a segment is durable before its successor exists, so damage
  // found later in a sealed segment is never a torn write (see
  // docs/formats/log.md, Recovery).
  if (options_.sync) {
    RETURN_IF_ERROR(old->Sync());
    queue_->CountSync();
  } else {
    old->sealed_unsynced = true;
  }
  if (auto e = old->indexer.OnSeal()) old->AddIndexEntry(*e);
  FlushIndex(old);
  old->idx_fd.Reset();
  ASSIGN_OR_RETURN(auto seg, CreateSegment(new_base));
  if (options_.sync) RETURN_IF_ERROR(SyncDir(dir_));
  std::unique_lock<std::mutex> lock(mu_);
  // The old segment is complete: its pending appends are acknowledged
  // with the rest of the round.
  old->unpublished.insert(old->unpublished.end(), old->staged.begin(),
                          old->staged.end());
  old->staged.clear();
  segments_.push_back(seg);
  active_ = std::move(seg);
  return Status::Ok();
}

void LogCore::FlushIndex(Segment* seg) {
  if (seg->idx_pending.empty()) return;
  Status s = WriteAll(seg->idx_fd.get(), seg->idx_path, seg->idx_pending.data(),
                      seg->idx_pending.size(), seg->idx_size);
  if (s.ok()) {
    seg->idx_size += seg->idx_pending.size();
  } else {
    // Not fatal: the index is rebuilt from the .log when it does not match.
    RLOG_WARN("log {}: {}", dir_.string(), s.ToString());
  }
  seg->idx_pending.clear();
}

Result<std::vector<StoredRecord>> LogCore::Read(uint64_t offset,
                                                size_t max_records,
                                                size_t max_bytes) const {
  struct Span {
    std::shared_ptr<Segment> seg;
    uint64_t position;
    uint64_t limit;
    uint64_t end_offset;
  };
  std::vector<Span> spans;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return FailedPrecondition("log closed");
    offset = std::max(offset, start_offset_);
    if (offset >= acked_end_ || max_records == 0)
      return std::vector<StoredRecord>{};
    auto it =
        std::upper_bound(segments_.begin(), segments_.end(), offset,
                         [](uint64_t o, const std::shared_ptr<Segment>& s) {
                           return o < s->base_offset;
                         });
    for (--it; it != segments_.end() && (*it)->base_offset < acked_end_; ++it) {
      const Segment& s = **it;
      uint64_t position =
          spans.empty() ? log_format::IndexLookup(s.index, offset) : 0;
      spans.push_back(Span{*it, position, s.readable_size, s.end_offset});
    }
  }

  std::vector<StoredRecord> records;
  records.reserve(std::min<size_t>(max_records, 1024));
  size_t bytes = 0;
  uint64_t next = offset;
  auto lost = [&](const Span& span,
                  std::string_view what) -> Result<std::vector<StoredRecord>> {
    // Return what was read; the next Read, from the damaged offset, fails.
    if (!records.empty()) return std::move(records);
    return DataLoss(std::string(what) + " in " + span.seg->log_path.string() +
                    " at offset " + std::to_string(next));
  };
  for (const Span& span : spans) {
    if (next >= span.end_offset) continue;
    BatchScanner scanner(span.seg->log_fd.get(), span.position, span.limit,
                         kReadFirstChunk, kReadMaxChunk);
    while (next < span.end_offset) {
      BatchView v;
      BatchScanner::Outcome out = scanner.Next(&v);
      if (out == BatchScanner::Outcome::kEnd) break;
      if (out == BatchScanner::Outcome::kIoError) {
        return lost(span, scanner.error());
      }
      if (out != BatchScanner::Outcome::kBatch) {
        return lost(span, "corrupt batch");
      }
      const log_format::BatchHeader& h = v.header;
      if (h.base_offset + h.record_count <= next) continue;  // before `from`
      if (h.base_offset > next || !log_format::BatchCrcOk(v.data)) {
        return lost(span, "corrupt batch");
      }
      bool full = false;
      if (!log_format::DecodeRecords(v.data, h, next, max_records, max_bytes,
                                     &records, &bytes, &full)) {
        return lost(span, "corrupt batch");
      }
      if (full) return records;
      next = h.base_offset + h.record_count;
    }
    if (next < span.end_offset) return lost(span, "missing records");
  }
  return records;
}

Result<uint64_t> LogCore::OffsetForTimestamp(int64_t timestamp_ms) const {
  std::shared_ptr<Segment> seg;
  uint64_t position = 0;
  uint64_t limit = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return FailedPrecondition("log closed");
    if (!last_timestamp_ms_ || timestamp_ms > *last_timestamp_ms_) {
      return acked_end_;
    }
    for (const auto& s : segments_) {
      if (s->max_timestamp_ms && *s->max_timestamp_ms >= timestamp_ms) {
        seg = s;
        break;
      }
    }
    if (!seg) return acked_end_;
    // Entries' timestamps never decrease: start at the last batch known to
    // be older than the target.
    auto it = std::partition_point(
        seg->index.begin(), seg->index.end(),
        [&](const IndexEntry& e) { return e.timestamp_ms < timestamp_ms; });
    if (it != seg->index.begin()) position = std::prev(it)->position;
    limit = seg->readable_size;
    start = start_offset_;
    end = seg->end_offset;
  }
  BatchScanner scanner(seg->log_fd.get(), position, limit, kReadFirstChunk,
                       kReadMaxChunk);
  for (;;) {
    BatchView v;
    BatchScanner::Outcome out = scanner.Next(&v);
    if (out == BatchScanner::Outcome::kEnd) return end;
    if (out != BatchScanner::Outcome::kBatch ||
        !log_format::BatchCrcOk(v.data)) {
      return DataLoss("corrupt batch in " + seg->log_path.string() +
                      " at byte " +
                      std::to_string(out == BatchScanner::Outcome::kBatch
                                         ? v.position
                                         : scanner.position()));
    }
    if (v.header.timestamp_ms >= timestamp_ms) {
      return std::max(v.header.base_offset, start);
    }
  }
}

Result<uint64_t> LogCore::EnforceRetention(int64_t min_timestamp_ms) {
  std::vector<std::shared_ptr<Segment>> doomed;
  uint64_t start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return FailedPrecondition("log closed");
    size_t n = 0;
    // Never the active segment (back()); and a segment only once all its
    // batches are acknowledged (end_offset reached the next base), so one
    // being sealed by the writer thread right now stays.
    while (n + 1 < segments_.size()) {
      const Segment& s = *segments_[n];
      if (s.end_offset != segments_[n + 1]->base_offset ||
          (s.max_timestamp_ms && *s.max_timestamp_ms >= min_timestamp_ms)) {
        break;
      }
      ++n;
    }
    doomed.assign(segments_.begin(), segments_.begin() + n);
    segments_.erase(segments_.begin(), segments_.begin() + n);
    start = start_offset_ = segments_.front()->base_offset;
  }
  Status status;
  for (const auto& seg : doomed) {
    // .log first: a crash in between leaves an orphan .idx, which Open
    // removes, never a .log without its index that would look retained.
    for (const fs::path& p : {seg->log_path, seg->idx_path}) {
      if (::unlink(p.c_str()) != 0 && errno != ENOENT && status.ok()) {
        status = IoError("unlink", p, errno);
      }
    }
  }
  RETURN_IF_ERROR(status);
  return start;
}

void LogCore::Close(bool sync) {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
  // The writer no longer looks at this log: drop the files (readers in
  // flight keep theirs open through their shared_ptr).
  std::vector<std::shared_ptr<Segment>> segments = std::move(segments_);
  segments_.clear();
  std::shared_ptr<Segment> active = std::move(active_);
  bool healthy = failed_.ok();
  lock.unlock();
  if (sync && active) {
    // Its latest appends may be durable only in the journal, which stops
    // covering this log's files once they close, or (relaxed) only in the
    // page cache: sync them now, so that a journal file retired later does
    // not take them along, and so that the next open can trust the
    // segment without scanning it.
    std::optional<log_format::SyncedMark> mark = active->Mark();
    Status s = active->Sync();
    queue_->CountSync();
    if (!s.ok() && journaled()) queue_->journal()->Fail(s);
    if (s.ok() && healthy && mark) active->WriteMark(*mark);
    // Relaxed: the segments sealed since the log opened, and their names,
    // reach the disk too, so that a clean shutdown leaves nothing a power
    // loss could tear.
    bool sealed = false;
    for (const auto& seg : segments) {
      if (!seg->sealed_unsynced) continue;
      sealed = true;
      if (Status synced = seg->Sync(); !synced.ok()) {
        RLOG_WARN("log {}: {}", dir_.string(), synced.ToString());
      }
      queue_->CountSync();
    }
    if (sealed) {
      if (Status synced = SyncDir(dir_); !synced.ok()) {
        RLOG_WARN("log {}: {}", dir_.string(), synced.ToString());
      }
    }
  }
  for (const auto& seg : segments) seg->StopMarks();
  dir_lock_.Reset();
}

Status LogCore::Destroy() {
  Close(/*sync=*/false);
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) return Unavailable("remove " + dir_.string() + ": " + ec.message());
  return Status::Ok();
}

// Replays journal files `seqs` (ascending) of `dir` into the logs they name
// and syncs them; returns the number of batches appended.
Result<uint64_t> ReplayJournal(const fs::path& dir,
                               const std::vector<uint64_t>& seqs) {
  SyncQueue queue(nullptr);  // no journal: each log syncs its own segment
  struct Target {
    std::unique_ptr<LogCore> log;  // null when its batches are dropped
    uint64_t next = 0;             // the offset its next batch must have
    fs::path dir;
  };
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;  // guarded by mu
  Status failure;      // guarded by mu
  auto done = [&](Result<uint64_t> r) {
    std::lock_guard<std::mutex> lock(mu);
    if (!r.ok() && failure.ok()) failure = r.status();
    if (--pending == 0) cv.notify_all();
  };
  // After `queue`: the logs close before the writer thread stops.
  std::unordered_map<uint64_t, Target> logs;
  uint64_t replayed = 0;
  for (uint64_t seq : seqs) {
    fs::path path = dir / log_format::SegmentFileName(seq, ".jnl");
    ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path));
    std::string_view rest = data;
    while (auto e = log_format::ParseJournalEntry(rest, seq)) {
      rest.remove_prefix(e->length);
      if (e->type == log_format::JournalEntryType::kLog) {
        auto [it, inserted] = logs.try_emplace(e->log_id);
        if (!inserted) continue;
        fs::path where(std::string(e->payload));
        if (where.is_relative()) where = (dir / where).lexically_normal();
        it->second.dir = where;
        if (ReadLogId(where) != e->log_id) {
          RLOG_INFO("journal {}: log {} is gone; its batches are dropped",
                    dir.string(), where.string());
          continue;
        }
        LogOptions options;  // strict: replayed batches are synced
        auto log = LogCore::Open(where, options, &queue);
        if (!log.ok()) {
          return Unavailable("replaying the journal into " + where.string() +
                             ": " + log.status().ToString());
        }
        it->second.log = std::move(*log);
        it->second.next = it->second.log->end_offset();
        continue;
      }
      auto it = logs.find(e->log_id);
      if (it == logs.end() || !it->second.log) continue;
      Target& t = it->second;
      auto h = *log_format::ParseBatchHeader(e->payload.data());
      if (h.base_offset + h.record_count <= t.next) continue;  // has it
      {
        std::lock_guard<std::mutex> lock(mu);
        ++pending;
      }
      Status s = t.log->AppendFinished(std::string(e->payload), h, done);
      if (!s.ok()) {
        // A gap: what follows was never acknowledged (acknowledgements
        // come in offset order), so it is not replayed either.
        RLOG_ERROR("journal {}: log {}: {}; its later batches are dropped",
                   dir.string(), t.dir.string(), s.ToString());
        {
          std::lock_guard<std::mutex> lock(mu);
          --pending;
        }
        // Outside `mu`: Close waits for the log's replayed batches, whose
        // callbacks take it.
        t.log->Close();
        t.log.reset();
        continue;
      }
      t.next = h.base_offset + h.record_count;
      ++replayed;
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return pending == 0; });
  }
  for (auto& [id, t] : logs) {
    if (t.log) t.log->Close();
  }
  std::lock_guard<std::mutex> lock(mu);
  RETURN_IF_ERROR(failure);
  return replayed;
}

}  // namespace internal

// Log and LogSyncer are thin handles over the internal classes, which can
// then name each other without widening log.h.
class Log::Impl {
 public:
  explicit Impl(std::unique_ptr<internal::LogCore> core)
      : core(std::move(core)) {}
  std::unique_ptr<internal::LogCore> core;
};

class LogSyncer::Impl : public internal::SyncQueue {
 public:
  using SyncQueue::SyncQueue;
};

Result<std::unique_ptr<Log>> Log::Open(const std::filesystem::path& dir,
                                       const LogOptions& options,
                                       LogSyncer* syncer) {
  if (syncer == nullptr) return InvalidArgument("log needs a syncer");
  internal::SyncQueue* queue = syncer->impl_.get();
  ASSIGN_OR_RETURN(auto core, internal::LogCore::Open(dir, options, queue));
  return std::unique_ptr<Log>(new Log(std::make_unique<Impl>(std::move(core))));
}

Log::Log(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Log::~Log() = default;

void Log::Append(std::vector<LogRecord> records, int64_t timestamp_ms,
                 AppendCallback done) {
  impl_->core->Append(std::move(records), timestamp_ms, std::move(done));
}

Result<std::vector<StoredRecord>> Log::Read(uint64_t offset, size_t max_records,
                                            size_t max_bytes) const {
  return impl_->core->Read(offset, max_records, max_bytes);
}

uint64_t Log::start_offset() const { return impl_->core->start_offset(); }
uint64_t Log::end_offset() const { return impl_->core->end_offset(); }
std::optional<int64_t> Log::last_timestamp_ms() const {
  return impl_->core->last_timestamp_ms();
}

Result<uint64_t> Log::OffsetForTimestamp(int64_t timestamp_ms) const {
  return impl_->core->OffsetForTimestamp(timestamp_ms);
}

Result<uint64_t> Log::EnforceRetention(int64_t min_timestamp_ms) {
  return impl_->core->EnforceRetention(min_timestamp_ms);
}

void Log::Close() { impl_->core->Close(); }
void Log::Discard() { impl_->core->Close(/*sync=*/false); }
Status Log::Destroy() { return impl_->core->Destroy(); }

LogSyncer::LogSyncer() : impl_(std::make_unique<Impl>(nullptr)) {}
LogSyncer::LogSyncer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LogSyncer::~LogSyncer() = default;
uint64_t LogSyncer::sync_count() const { return impl_->sync_count(); }
uint64_t LogSyncer::replayed_batches() const { return impl_->replayed_batches; }

Result<std::unique_ptr<LogSyncer>> LogSyncer::Open(
    const std::filesystem::path& dir, const JournalOptions& options) {
  namespace fs = std::filesystem;
  if (options.file_bytes == 0) {
    return InvalidArgument("journal file_bytes must be positive");
  }
  RETURN_IF_ERROR(CreateDirectories(dir, /*sync=*/true));
  std::error_code ec;
  ASSIGN_OR_RETURN(Fd lock, LockDirectory(dir, "journal"));
  std::vector<uint64_t> seqs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (auto seq = log_format::ParseSegmentFileName(name, ".jnl")) {
      seqs.push_back(*seq);
    } else if (name.ends_with(".tmp")) {
      fs::remove(it->path(), ec);  // a spare: recreated when needed
    }
  }
  if (ec) return Unavailable("list " + dir.string() + ": " + ec.message());
  std::sort(seqs.begin(), seqs.end());
  uint64_t replayed = 0;
  if (!seqs.empty()) {
    ASSIGN_OR_RETURN(replayed, internal::ReplayJournal(dir, seqs));
    // Every log now holds its batches durably: the files may go.
    for (uint64_t seq : seqs) {
      fs::path p = dir / log_format::SegmentFileName(seq, ".jnl");
      if (::unlink(p.c_str()) != 0) return IoError("unlink", p, errno);
    }
    RETURN_IF_ERROR(SyncDir(dir));
    if (replayed > 0) {
      RLOG_INFO("journal {}: replayed {} batches", dir.string(), replayed);
    }
  }
  auto journal = std::make_unique<internal::Journal>(
      dir, options, std::move(lock), seqs.empty() ? 1 : seqs.back() + 1);
  RETURN_IF_ERROR(journal->Start());
  auto impl = std::make_unique<Impl>(std::move(journal));
  impl->replayed_batches = replayed;
  return std::unique_ptr<LogSyncer>(new LogSyncer(std::move(impl)));
}

}  // namespace riffle::storage
