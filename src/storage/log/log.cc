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
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/logging.h"
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

std::string EncodeIndexFile(const std::vector<IndexEntry>& entries) {
  std::string out = log_format::IndexFileHeader();
  for (const IndexEntry& e : entries) log_format::AppendIndexEntry(&out, e);
  return out;
}

}  // namespace

namespace internal {

class LogCore;

// One segment of a log: its .log file, open for the segment's lifetime, and
// its sparse index. Shared by the log's segment list, readers in flight and
// the writer thread, so retention can drop a segment while a reader still
// preads it (an unlinked file lives until its last close).
struct Segment {
  Segment(uint64_t base, const fs::path& dir, uint32_t index_interval)
      : base_offset(base),
        log_path(dir / log_format::SegmentFileName(base, ".log")),
        idx_path(dir / log_format::SegmentFileName(base, ".idx")),
        end_offset(base),
        indexer(index_interval) {}

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

  // Sync state, guarded by the owning LogCore's mu_. Invariant:
  // synced_size <= sync_requested <= flushed_size <= written_size, and every
  // byte below synced_size is durable.
  uint64_t flushed_size = 0;    // bytes handed to the OS by the writer
  uint64_t sync_requested = 0;  // target of the latest sync started
  uint64_t synced_size = 0;
  // One descriptor per sync that may be in flight (the free ones): each
  // concurrent fdatasync uses its own open file description, so that a
  // writeback error is reported to every sync it concerns (the kernel
  // reports an error once per open file description, so two syncs sharing
  // one could let one of them return success for lost data). Opened with
  // the segment, before any write they must cover. Empty once sealed.
  std::vector<std::shared_ptr<Fd>> free_sync_fds;
  bool sealed = false;  // no longer written to

  // The active segment's write state: used only by the writer thread (and by
  // Open, before the log is shared).
  Fd idx_fd;
  uint64_t written_size = 0;
  uint64_t idx_size = 0;
  int64_t first_timestamp_ms = 0;
  log_format::SparseIndexer indexer;
  std::string idx_pending;         // encoded, not yet written entries
  std::vector<IndexEntry> staged;  // not yet moved to `unpublished`
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
  // Set by the writer: where the batch went. The request is durable once
  // segment->synced_size reaches end_position.
  std::shared_ptr<Segment> segment;
  uint64_t end_position = 0;
};

// What one log does in one round of the writer. Used by the writer thread
// only.
struct LogGroup {
  LogCore* log = nullptr;
  std::vector<AppendRequest*> requests;
};

// One fdatasync to run on a sync thread: makes `segment` durable up to
// `target` (the bytes written before the sync started).
struct SyncJob {
  std::shared_ptr<Segment> segment;
  std::shared_ptr<Fd> fd;
  uint64_t target = 0;
};

// How many fdatasyncs of one segment file may be in flight at once. The
// writer does not wait for a sync before it writes and syncs the next
// batches, so an append waits for one flush, not for the end of the flush
// that was running when it arrived (see docs/benchmarks.md, "Streams").
constexpr int kSyncsPerFile = 4;
// Threads that run syncs, for all logs of a process.
constexpr int kSyncThreads = 16;

// The writer thread, its queue and the sync threads: the body of LogSyncer.
// Owns the threads; thread-safe.
class SyncQueue {
 public:
  SyncQueue() : thread_([this] { Run(); }) {}
  ~SyncQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    // sync_threads_ drains its jobs as it is destroyed.
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

  // Runs `work` (an fdatasync and what follows it) on a sync thread.
  void PostSync(std::function<void()> work) {
    sync_threads_.Post(std::move(work));
  }

  void CountSync() { syncs_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t sync_count() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  void Run();
  void ProcessGroup(std::vector<AppendRequest>* group);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AppendRequest> queue_;  // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::atomic<uint64_t> syncs_{0};
  // Flushes issued together cost about one device flush (the block layer
  // and ext4's journal merge them), flushes issued one after another cost
  // one each: syncs run here, concurrently, never on the writer thread.
  ThreadPool sync_threads_{kSyncThreads};
  std::thread thread_;  // last: starts after the fields above exist
};

// The body of Log; see log.h for the contract. Thread-safe. Owns the
// segment list; the writer thread (through SyncQueue) owns the active
// segment's write state.
//
// An append goes: caller thread (encode, assign offsets) -> writer thread
// (pwritev; start an fdatasync unless kSyncsPerFile are in flight) -> a
// sync thread (fdatasync, then acknowledge, in offset order, every append
// that is now durable). Whichever thread finds appends to acknowledge
// becomes the log's one completer, so callbacks run one at a time, in
// offset order.
class LogCore {
 public:
  static Result<std::unique_ptr<LogCore>> Open(const fs::path& dir,
                                               const LogOptions& options,
                                               SyncQueue* queue);
  ~LogCore() { Close(); }

  void Append(std::vector<LogRecord> records, int64_t timestamp_ms,
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
  void Close();
  Status Destroy();

  // Writer thread: writes the group's batches (rolling segments as needed),
  // hands them to the sync threads, or acknowledges them when !sync. The
  // group's requests are in flight, so the log outlives the call.
  void WriteGroup(LogGroup* group);

 private:
  LogCore(fs::path dir, const LogOptions& options, SyncQueue* queue)
      : dir_(std::move(dir)), options_(options), queue_(queue) {}

  Result<std::shared_ptr<Segment>> CreateSegment(uint64_t base);
  Status OpenSyncFds(Segment* seg);
  Result<std::shared_ptr<Segment>> LoadSealedSegment(uint64_t base,
                                                     uint64_t next_base);
  bool SealedIndexMatches(const Segment& seg,
                          const std::vector<IndexEntry>& entries, uint64_t size,
                          uint64_t next_base) const;
  Result<std::vector<IndexEntry>> RebuildSealedIndex(const Segment& seg,
                                                     uint64_t size,
                                                     uint64_t next_base);
  Result<std::shared_ptr<Segment>> RecoverActiveSegment(uint64_t base);
  Status Roll(uint64_t new_base);
  void FlushIndex(Segment* seg);
  void Refuse(Log::AppendCallback done, Status error);
  void FailGroup(LogGroup* group, Status error);

  // Sync threads.
  void RunSync(SyncJob job);
  // Requires mu_. Starts a sync of `seg` up to what the writer has flushed,
  // when some of it is not covered by a sync yet and a descriptor is free.
  void MaybeStartSync(const std::shared_ptr<Segment>& seg);
  // Requires mu_. Returns true when the caller must run Complete(): it is
  // now the log's completer. Otherwise the running completer will look
  // again.
  bool ClaimCompletion();
  // Acknowledges, in offset order, every pending append that is durable
  // (or fails them all once the log has failed), until none is left.
  // Releases the completer role; the log may be destroyed as soon as it
  // returns.
  void Complete(std::unique_lock<std::mutex> lock);
  // Requires mu_.
  bool Idle() const {
    return in_flight_ == 0 && syncs_in_flight_ == 0 && !completing_;
  }

  const fs::path dir_;
  const LogOptions options_;
  SyncQueue* const queue_;
  Fd dir_lock_;  // holds flock(dir) until Close

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;  // Idle() became true
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
  int syncs_in_flight_ = 0;  // SyncJobs posted and not finished
  bool completing_ = false;  // a thread is in Complete()
  bool recheck_ = false;     // Complete() must look at written_ again

  // Writer thread only.
  std::shared_ptr<Segment> active_;
  Status writer_status_;
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
    }
    logs[it->second].requests.push_back(&r);
  }
  for (LogGroup& g : logs) g.log->WriteGroup(&g);
  for (AppendRequest* r : refused) {
    Log::AppendCallback done = std::move(r->done);
    done(std::move(r->error));
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
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable("create " + dir.string() + ": " + ec.message());
  // Two writers would interleave batches; flock on the directory itself
  // keeps them apart without adding a file to the format.
  ASSIGN_OR_RETURN(Fd dir_lock, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  if (::flock(dir_lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return FailedPrecondition("log " + dir.string() + " is already open");
    }
    return IoError("lock", dir, errno);
  }

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
  auto seg =
      std::make_shared<Segment>(base, dir_, options_.index_interval_bytes);
  ASSIGN_OR_RETURN(seg->log_fd,
                   OpenFile(seg->log_path, O_RDWR | O_CREAT | O_TRUNC));
  ASSIGN_OR_RETURN(seg->idx_fd,
                   OpenFile(seg->idx_path, O_RDWR | O_CREAT | O_TRUNC));
  std::string header = log_format::IndexFileHeader();
  RETURN_IF_ERROR(WriteAll(seg->idx_fd.get(), seg->idx_path, header.data(),
                           header.size(), 0));
  seg->idx_size = header.size();
  RETURN_IF_ERROR(OpenSyncFds(seg.get()));
  return seg;
}

// Opens the active segment's sync descriptors: kSyncsPerFile, or fewer when
// the process runs out of descriptors (many shards under a low
// RLIMIT_NOFILE), which costs overlap, not correctness; none is an error.
Status LogCore::OpenSyncFds(Segment* seg) {
  if (!options_.sync) return Status::Ok();
  for (int i = 0; i < kSyncsPerFile; ++i) {
    Result<Fd> fd = OpenFile(seg->log_path, O_RDONLY);
    if (!fd.ok()) {
      if (i == 0) return fd.status();
      RLOG_WARN("log {}: {} syncs of one file at a time only: {}",
                dir_.string(), i, fd.status().ToString());
      break;
    }
    seg->free_sync_fds.push_back(std::make_shared<Fd>(std::move(*fd)));
  }
  return Status::Ok();
}

Result<std::shared_ptr<Segment>> LogCore::LoadSealedSegment(
    uint64_t base, uint64_t next_base) {
  auto seg =
      std::make_shared<Segment>(base, dir_, options_.index_interval_bytes);
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
  seg->sealed = true;
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
  auto seg =
      std::make_shared<Segment>(base, dir_, options_.index_interval_bytes);
  ASSIGN_OR_RETURN(seg->log_fd, OpenFile(seg->log_path, O_RDWR | O_CREAT));
  ASSIGN_OR_RETURN(uint64_t size, FileSize(seg->log_fd.get(), seg->log_path));
  BatchScanner scanner(seg->log_fd.get(), 0, size, kScanChunk, kScanChunk);
  uint64_t expected = base;
  uint64_t valid = 0;  // end of the last good batch
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
    if (options_.sync)
      RETURN_IF_ERROR(SyncFile(seg->log_fd.get(), seg->log_path));
  }
  seg->written_size = seg->readable_size = valid;
  seg->flushed_size = seg->sync_requested = seg->synced_size = valid;
  seg->end_offset = expected;
  RETURN_IF_ERROR(OpenSyncFds(seg.get()));
  // The active segment's index was rebuilt by the scan: rewrite it whole.
  ASSIGN_OR_RETURN(seg->idx_fd,
                   OpenFile(seg->idx_path, O_RDWR | O_CREAT | O_TRUNC));
  std::string file = EncodeIndexFile(seg->index);
  RETURN_IF_ERROR(
      WriteAll(seg->idx_fd.get(), seg->idx_path, file.data(), file.size(), 0));
  seg->idx_size = file.size();
  return seg;
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
  r.log = this;
  r.base_offset = next_offset_;
  next_offset_ += count;
  r.count = count;
  r.timestamp_ms = timestamp_ms;
  log_format::FinishBatch(&*batch, r.base_offset, timestamp_ms);
  r.batch = std::move(*batch);
  r.done = std::move(done);
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
  if (!s.ok()) return FailGroup(group, std::move(s));
  FlushIndex(seg);

  std::unique_lock<std::mutex> lock(mu_);
  for (AppendRequest* r : group->requests) {
    r->batch = std::string();  // written: the memory is not needed any more
    written_.push_back(std::move(*r));
  }
  seg->unpublished.insert(seg->unpublished.end(), seg->staged.begin(),
                          seg->staged.end());
  seg->staged.clear();
  seg->flushed_size = seg->written_size;
  if (!options_.sync) {
    // Relaxed: written is as durable as it gets.
    seg->sync_requested = seg->synced_size = seg->flushed_size;
    if (ClaimCompletion()) Complete(std::move(lock));
    return;
  }
  // Last touch of the log: once a sync is posted, its thread may
  // acknowledge these requests and Close may return.
  MaybeStartSync(active_);
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
  if (Idle()) idle_cv_.notify_all();
}

void LogCore::MaybeStartSync(const std::shared_ptr<Segment>& seg) {
  if (!failed_.ok() || seg->flushed_size <= seg->sync_requested ||
      seg->free_sync_fds.empty()) {
    return;  // covered, or a finishing sync will start the next one
  }
  SyncJob job{seg, std::move(seg->free_sync_fds.back()), seg->flushed_size};
  seg->free_sync_fds.pop_back();
  seg->sync_requested = job.target;
  ++syncs_in_flight_;
  queue_->PostSync(
      [this, job = std::move(job)]() mutable { RunSync(std::move(job)); });
}

void LogCore::RunSync(SyncJob job) {
  // fdatasync covers every write that returned before it started, so the
  // bytes below job.target are durable once it succeeds.
  Status s = SyncFile(job.fd->get(), job.segment->log_path);
  queue_->CountSync();
  std::unique_lock<std::mutex> lock(mu_);
  Segment* seg = job.segment.get();
  if (s.ok()) {
    seg->synced_size = std::max(seg->synced_size, job.target);
  } else if (failed_.ok()) {
    failed_ = Unavailable(s.message());
  }
  // A sealed segment keeps no descriptors (Roll synced it whole).
  if (!seg->sealed) seg->free_sync_fds.push_back(std::move(job.fd));
  // Writes that arrived during this sync and found every descriptor busy.
  MaybeStartSync(job.segment);
  --syncs_in_flight_;
  if (ClaimCompletion()) return Complete(std::move(lock));
  // Another thread is completing: the log is not idle, nothing to notify.
}

bool LogCore::ClaimCompletion() {
  if (completing_) {
    recheck_ = true;
    return false;
  }
  completing_ = true;
  return true;
}

void LogCore::Complete(std::unique_lock<std::mutex> lock) {
  std::vector<AppendRequest> done;
  Status error;
  for (;;) {
    recheck_ = false;
    while (!written_.empty()) {
      AppendRequest& r = written_.front();
      if (r.segment->synced_size < r.end_position) break;
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
      done.push_back(std::move(r));
      written_.pop_front();
    }
    // Once the log has failed, appends that no sync in flight can still
    // make durable are failed: nothing after a failed write or sync may be
    // acknowledged, so that a gap never is.
    size_t acked = done.size();
    if (!failed_.ok() && syncs_in_flight_ == 0 && !written_.empty()) {
      error = failed_;
      for (AppendRequest& r : written_) done.push_back(std::move(r));
      written_.clear();
    }
    if (done.empty()) {
      completing_ = false;
      if (Idle()) idle_cv_.notify_all();
      return;  // last touch of this LogCore
    }
    lock.unlock();
    for (size_t i = 0; i < done.size(); ++i) {
      // Moved out so the callback (and what it captured) is gone before
      // Close can return.
      Log::AppendCallback cb = std::move(done[i].done);
      if (i < acked) {
        cb(done[i].base_offset);
      } else {
        cb(error);
      }
    }
    size_t n = done.size();
    done.clear();
    lock.lock();
    in_flight_ -= n;
  }
}

// Seals the active segment and starts one at `new_base`. Writer thread.
Status LogCore::Roll(uint64_t new_base) {
  Segment* old = active_.get();
  // Invariant: a segment is durable before its successor exists, so damage
  // found later in a sealed segment is never a torn write (see
  // docs/formats/log.md, Recovery).
  if (options_.sync) {
    RETURN_IF_ERROR(SyncFile(old->log_fd.get(), old->log_path));
    queue_->CountSync();
  }
  if (auto e = old->indexer.OnSeal()) old->AddIndexEntry(*e);
  FlushIndex(old);
  old->idx_fd.Reset();
  ASSIGN_OR_RETURN(auto seg, CreateSegment(new_base));
  if (options_.sync) RETURN_IF_ERROR(SyncDir(dir_));
  std::unique_lock<std::mutex> lock(mu_);
  // Everything written to the old segment is durable now: its appends can
  // be acknowledged (the completer finds them) without waiting for a sync.
  old->unpublished.insert(old->unpublished.end(), old->staged.begin(),
                          old->staged.end());
  old->staged.clear();
  old->flushed_size = old->sync_requested = old->synced_size =
      old->written_size;
  old->free_sync_fds.clear();
  old->sealed = true;
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

void LogCore::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  idle_cv_.wait(lock, [this] { return Idle(); });
  // The writer no longer looks at this log: drop the files (readers in
  // flight keep theirs open through their shared_ptr).
  segments_.clear();
  active_.reset();
  dir_lock_.Reset();
}

Status LogCore::Destroy() {
  Close();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) return Unavailable("remove " + dir_.string() + ": " + ec.message());
  return Status::Ok();
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

class LogSyncer::Impl : public internal::SyncQueue {};

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
Status Log::Destroy() { return impl_->core->Destroy(); }

LogSyncer::LogSyncer() : impl_(std::make_unique<Impl>()) {}
LogSyncer::~LogSyncer() = default;
uint64_t LogSyncer::sync_count() const { return impl_->sync_count(); }

}  // namespace riffle::storage
