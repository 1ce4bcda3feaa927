// Tests of Log and LogSyncer through the public interface, in the manner of
// leveldb's db/log_test.cc: write, damage the files on purpose (flip a byte,
// truncate, zero-fill, drop the index), reopen, and check what survives.
#include "storage/log/log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "storage/log/log_format.h"

namespace riffle::storage {
namespace {

namespace fs = std::filesystem;

// The inode whose next fdatasync fails with EIO (0: none). Once, as Linux
// reports a failed writeback: to one fdatasync, after which the pages count
// as clean and the next fdatasync of the file succeeds without making them
// durable.
std::atomic<ino_t> fail_next_sync_of{0};

void FailNextSyncOf(const fs::path& p) {
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
  fail_next_sync_of = st.st_ino;
}

// The inode whose next fdatasync waits until ReleaseHeldSync (0: none), so
// that a test can act while a sync (and whoever runs it) is held there.
std::atomic<ino_t> hold_next_sync_of{0};
std::mutex held_sync_mu;
std::condition_variable held_sync_cv;
bool sync_held = false;      // guarded by held_sync_mu
bool sync_released = false;  // guarded by held_sync_mu

void HoldNextSyncOf(const fs::path& p) {
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
  std::lock_guard<std::mutex> lock(held_sync_mu);
  sync_held = sync_released = false;
  hold_next_sync_of = st.st_ino;
}

// False when no sync was held within 10 s.
bool WaitUntilSyncHeld() {
  std::unique_lock<std::mutex> lock(held_sync_mu);
  return held_sync_cv.wait_for(lock, std::chrono::seconds(10),
                               [] { return sync_held; });
}

void ReleaseHeldSync() {
  std::lock_guard<std::mutex> lock(held_sync_mu);
  sync_released = true;
  held_sync_cv.notify_all();
}

}  // namespace
}  // namespace riffle::storage

// Replaces libc's for this test binary (the log library calls ::fdatasync),
// so that tests can make one sync fail.
extern "C" int fdatasync(int fd) {
  ino_t target = riffle::storage::fail_next_sync_of.load();
  struct stat st;
  if (target != 0 && ::fstat(fd, &st) == 0 && st.st_ino == target &&
      riffle::storage::fail_next_sync_of.compare_exchange_strong(target, 0)) {
    errno = EIO;
    return -1;
  }
  target = riffle::storage::hold_next_sync_of.load();
  if (target != 0 && ::fstat(fd, &st) == 0 && st.st_ino == target &&
      riffle::storage::hold_next_sync_of.compare_exchange_strong(target, 0)) {
    using namespace riffle::storage;
    std::unique_lock<std::mutex> lock(held_sync_mu);
    sync_held = true;
    held_sync_cv.notify_all();
    held_sync_cv.wait(lock, [] { return sync_released; });
  }
  return static_cast<int>(::syscall(SYS_fdatasync, fd));
}

namespace riffle::storage {
namespace {

// Opens a gate once; threads wait at it. For holding the writer thread
// inside a callback while the test queues more work behind it.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

std::string ValueFor(uint64_t offset, size_t size) {
  std::string v(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    v[i] = static_cast<char>((offset * 131 + i * 7) & 0xFF);
  }
  return v;
}

std::vector<LogRecord> MakeRecords(uint64_t first_offset, size_t count,
                                   size_t value_size = 40) {
  std::vector<LogRecord> records;
  for (size_t i = 0; i < count; ++i) {
    records.push_back(LogRecord{"key" + std::to_string(first_offset + i),
                                ValueFor(first_offset + i, value_size)});
  }
  return records;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

void FlipByte(const fs::path& p, uint64_t position) {
  std::string data = ReadFile(p);
  ASSERT_LT(position, data.size());
  data[position] = static_cast<char>(data[position] ^ 0x5A);
  WriteFile(p, data);
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/riffle_log_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ / "shard";
    syncer_ = std::make_unique<LogSyncer>();
    options_.segment_bytes = 64 << 10;
    options_.index_interval_bytes = 512;
  }

  void TearDown() override {
    log_.reset();
    syncer_.reset();
    fs::remove_all(root_);
  }

  void Reopen() {
    log_.reset();
    auto log = Log::Open(dir_, options_, syncer_.get());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
  }

  // Appends and waits for the acknowledgement.
  Result<uint64_t> AppendWait(std::vector<LogRecord> records,
                              int64_t timestamp_ms, Log* log = nullptr) {
    std::promise<Result<uint64_t>> done;
    auto future = done.get_future();
    (log ? log : log_.get())
        ->Append(std::move(records), timestamp_ms,
                 [&done](Result<uint64_t> r) { done.set_value(std::move(r)); });
    return future.get();
  }

  // Appends a batch of `count` records numbered from end_offset(), keeping
  // `expected_` in step.
  uint64_t AppendBatch(size_t count, int64_t timestamp_ms,
                       size_t value_size = 40) {
    uint64_t first = log_->end_offset();
    auto records = MakeRecords(first, count, value_size);
    auto r = AppendWait(records, timestamp_ms);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, first);
    for (size_t i = 0; i < records.size(); ++i) {
      expected_.push_back(StoredRecord{first + i, timestamp_ms, records[i].key,
                                       records[i].value});
    }
    return first;
  }

  std::vector<StoredRecord> ReadAll(uint64_t from = 0) {
    std::vector<StoredRecord> out;
    for (;;) {
      auto r = log_->Read(from, 7, 1 << 20);  // odd limit: reads split batches
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || r->empty()) return out;
      from = r->back().offset + 1;
      out.insert(out.end(), r->begin(), r->end());
    }
  }

  void ExpectRecords(const std::vector<StoredRecord>& got,
                     const std::vector<StoredRecord>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].offset, want[i].offset) << i;
      EXPECT_EQ(got[i].timestamp_ms, want[i].timestamp_ms) << i;
      EXPECT_EQ(got[i].key, want[i].key) << i;
      EXPECT_EQ(got[i].value, want[i].value) << i;
    }
  }

  std::vector<StoredRecord> ExpectedPrefix(uint64_t end) {
    std::vector<StoredRecord> out;
    for (const auto& r : expected_) {
      if (r.offset < end) out.push_back(r);
    }
    return out;
  }

  fs::path SegmentPath(uint64_t base, const char* ext) {
    return dir_ / log_format::SegmentFileName(base, ext);
  }

  std::vector<uint64_t> SegmentBases() { return SegmentBasesOf(dir_); }
  static std::vector<uint64_t> SegmentBasesOf(const fs::path& dir) {
    std::vector<uint64_t> bases;
    for (const auto& e : fs::directory_iterator(dir)) {
      auto base = log_format::ParseSegmentFileName(e.path().filename().string(),
                                                   ".log");
      if (base) bases.push_back(*base);
    }
    std::sort(bases.begin(), bases.end());
    return bases;
  }

  fs::path root_;
  fs::path dir_;
  LogOptions options_;
  std::unique_ptr<LogSyncer> syncer_;
  std::unique_ptr<Log> log_;
  std::vector<StoredRecord> expected_;
};

TEST_F(LogTest, EmptyLog) {
  Reopen();
  EXPECT_EQ(log_->start_offset(), 0u);
  EXPECT_EQ(log_->end_offset(), 0u);
  EXPECT_FALSE(log_->last_timestamp_ms().has_value());
  auto r = log_->Read(0, 10, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(*log_->OffsetForTimestamp(0), 0u);
  EXPECT_TRUE(fs::exists(SegmentPath(0, ".log")));
  EXPECT_TRUE(fs::exists(SegmentPath(0, ".idx")));
  Reopen();
  EXPECT_EQ(log_->end_offset(), 0u);
}

TEST_F(LogTest, RoundTrip) {
  Reopen();
  std::vector<LogRecord> odd = {
      {"", ""},
      {"k", std::string("\0\xff\0", 3)},
      {std::string(300, 'x'), std::string(70000, 'y')}};
  EXPECT_EQ(*AppendWait(MakeRecords(0, 2), 1000), 0u);
  EXPECT_EQ(*AppendWait(odd, 1001), 2u);
  EXPECT_EQ(*AppendWait(MakeRecords(5, 1), 1002), 5u);
  EXPECT_EQ(log_->end_offset(), 6u);
  EXPECT_EQ(log_->last_timestamp_ms(), 1002);

  auto all = log_->Read(0, 100, 1 << 30);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 6u);
  for (uint64_t i = 0; i < 6; ++i) EXPECT_EQ((*all)[i].offset, i);
  EXPECT_EQ((*all)[0].key, "key0");
  EXPECT_EQ((*all)[0].timestamp_ms, 1000);
  EXPECT_EQ((*all)[2].key, "");
  EXPECT_EQ((*all)[2].value, "");
  EXPECT_EQ((*all)[3].value, std::string("\0\xff\0", 3));
  EXPECT_EQ((*all)[4].key, std::string(300, 'x'));
  EXPECT_EQ((*all)[4].value, std::string(70000, 'y'));
  EXPECT_EQ((*all)[4].timestamp_ms, 1001);
  EXPECT_EQ((*all)[5].timestamp_ms, 1002);

  Reopen();
  auto again = log_->Read(0, 100, 1 << 30);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 6u);
  EXPECT_EQ((*again)[4].value, std::string(70000, 'y'));
  EXPECT_EQ(log_->last_timestamp_ms(), 1002);
}

TEST_F(LogTest, ManySegmentsAcrossRestarts) {
  options_.segment_bytes = 2048;
  options_.index_interval_bytes = 300;
  std::mt19937 rng(42);
  int64_t ts = 1000;
  for (int restart = 0; restart < 4; ++restart) {
    Reopen();
    ASSERT_EQ(log_->end_offset(), expected_.size());
    for (int i = 0; i < 60; ++i) {
      AppendBatch(1 + rng() % 6, ts += rng() % 3, rng() % 120);
    }
    ExpectRecords(ReadAll(), expected_);
  }
  Reopen();
  ExpectRecords(ReadAll(), expected_);
  EXPECT_GT(SegmentBases().size(), 20u);
  // Every segment name is the offset of its first record.
  for (uint64_t base : SegmentBases()) {
    auto r = log_->Read(base, 1, 1);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->front().offset, base);
    EXPECT_LE(fs::file_size(SegmentPath(base, ".log")), 2048u);
  }
  // Reads starting anywhere.
  for (uint64_t from = 0; from < expected_.size(); from += 13) {
    auto r = log_->Read(from, 5, 1 << 20);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), std::min<size_t>(5, expected_.size() - from));
    EXPECT_EQ(r->front().offset, from);
    EXPECT_EQ(r->front().value, expected_[from].value);
  }
}

TEST_F(LogTest, ReadLimits) {
  Reopen();
  AppendBatch(10, 1, 100);  // offsets 0..9, 100-byte values, "keyN" keys
  AppendBatch(10, 2, 100);  // 10..19
  auto r = log_->Read(0, 3, 1 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 3u);

  // Key+value bytes: "key0".."key9" are 4 bytes, so 104 per record.
  r = log_->Read(0, 100, 3 * 104);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 3u);
  r = log_->Read(0, 100, 3 * 104 - 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 2u);

  // Always at least one record.
  r = log_->Read(4, 100, 1);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().offset, 4u);

  // From the middle of a batch across into the next.
  r = log_->Read(7, 6, 1 << 20);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ(r->front().offset, 7u);
  EXPECT_EQ(r->back().offset, 12u);
  EXPECT_EQ(r->back().timestamp_ms, 2);

  r = log_->Read(20, 100, 1 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = log_->Read(1000, 100, 1 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = log_->Read(0, 0, 1 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(LogTest, TimestampsNeverDecrease) {
  Reopen();
  AppendBatch(1, 500);
  auto first = AppendWait(MakeRecords(1, 1), 100);  // the clock went back
  ASSERT_TRUE(first.ok());
  auto r = log_->Read(1, 1, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->front().timestamp_ms, 500);
  EXPECT_EQ(log_->last_timestamp_ms(), 500);
  Reopen();
  ASSERT_TRUE(AppendWait(MakeRecords(2, 1), 200).ok());
  EXPECT_EQ(log_->last_timestamp_ms(), 500);
}

// Appends 10 batches to one segment; sizes[i] is the file size after batch
// i, firsts[i] its first offset.
class RecoveryTest : public LogTest {
 protected:
  void Fill() {
    Reopen();
    for (int i = 0; i < 10; ++i) {
      firsts_.push_back(AppendBatch(3, 100 + i));
      sizes_.push_back(fs::file_size(Path()));
    }
    log_.reset();
    // The damage below stands for what a crash leaves before any sync of
    // the segment, so without the synced mark the close left
    // (SyncedMarkTest covers the mark).
    ASSERT_TRUE(fs::remove(dir_ / log_format::kSyncedMarkFile));
  }
  fs::path Path() { return SegmentPath(0, ".log"); }
  // Reopens and checks that exactly batches [0, kept) survived and that the
  // log accepts appends again after them.
  void ExpectKept(int kept) {
    Reopen();
    uint64_t end = kept == 0 ? 0 : firsts_[kept - 1] + 3;
    EXPECT_EQ(log_->end_offset(), end);
    EXPECT_EQ(fs::file_size(Path()), kept == 0 ? 0 : sizes_[kept - 1]);
    ExpectRecords(ReadAll(), ExpectedPrefix(end));
    if (kept > 0) {
      EXPECT_EQ(log_->last_timestamp_ms(), 100 + kept - 1);
    }
    expected_ = ExpectedPrefix(end);
    AppendBatch(2, 500);
    Reopen();
    ExpectRecords(ReadAll(), expected_);
  }
  std::vector<uint64_t> firsts_;
  std::vector<uint64_t> sizes_;
};

TEST_F(RecoveryTest, FlippedByteInLastBatch) {
  Fill();
  FlipByte(Path(), sizes_[8] + 40);
  ExpectKept(9);
}

TEST_F(RecoveryTest, FlippedByteInEarlierBatchDropsTheTail) {
  Fill();
  FlipByte(Path(), sizes_[2] + 50);
  ExpectKept(3);
}

TEST_F(RecoveryTest, FlippedByteInHeader) {
  Fill();
  FlipByte(Path(), sizes_[5] + log_format::kBaseOffsetPos);
  ExpectKept(6);
}

TEST_F(RecoveryTest, FlippedByteInFirstBatch) {
  Fill();
  FlipByte(Path(), 10);
  ExpectKept(0);
}

TEST_F(RecoveryTest, BadCrc) {
  Fill();
  for (int i = 0; i < 4; ++i) FlipByte(Path(), sizes_[6] + i);
  ExpectKept(7);
}

TEST_F(RecoveryTest, TruncatedMidBatch) {
  Fill();
  fs::resize_file(Path(), sizes_[8] - 7);
  ExpectKept(8);
}

TEST_F(RecoveryTest, TruncatedMidHeader) {
  Fill();
  fs::resize_file(Path(), sizes_[8] + 10);
  ExpectKept(9);
}

TEST_F(RecoveryTest, ZeroFilledTail) {
  Fill();
  fs::resize_file(Path(), sizes_[9] + 8192);
  ExpectKept(10);
}

TEST_F(RecoveryTest, GarbageTail) {
  Fill();
  std::string data = ReadFile(Path());
  data.append(std::string(1000, '\x7f'));
  WriteFile(Path(), data);
  ExpectKept(10);
}

// A sync of the active segment (a clean close, a journal file's retirement)
// leaves a mark of how much it made durable, so that the next open takes
// that prefix as it is and scans only what follows.
class SyncedMarkTest : public LogTest {
 protected:
  // Batches spread over several index intervals; closes the log.
  void Fill(int batches = 40) {
    Reopen();
    for (int i = 0; i < batches; ++i) {
      firsts_.push_back(AppendBatch(3, 100 + i, 60));
      sizes_.push_back(fs::file_size(Path()));
    }
    log_.reset();
    ASSERT_TRUE(fs::exists(Mark()));
  }
  fs::path Path() { return SegmentPath(0, ".log"); }
  fs::path Mark() { return dir_ / log_format::kSyncedMarkFile; }
  // The end offset after reopening, and checks it reads back as expected.
  uint64_t ReopenedEnd() {
    Reopen();
    uint64_t end = log_->end_offset();
    ExpectRecords(ReadAll(), ExpectedPrefix(end));
    return end;
  }
  std::vector<uint64_t> firsts_;
  std::vector<uint64_t> sizes_;
};

TEST_F(SyncedMarkTest, ACleanCloseMeansNoScanAndAppendsGoOn) {
  Fill();
  auto mark = log_format::ParseSyncedMark(ReadFile(Mark()));
  ASSERT_TRUE(mark.has_value());
  EXPECT_EQ(mark->size, sizes_.back());
  EXPECT_EQ(mark->last_batch.offset, firsts_.back());
  Reopen();
  EXPECT_EQ(log_->end_offset(), expected_.back().offset + 1);
  EXPECT_EQ(log_->last_timestamp_ms(), 139);
  ExpectRecords(ReadAll(), expected_);
  // From the middle too, through the index it kept (offsets are dense).
  uint64_t from = firsts_[25] + 1;
  ExpectRecords(ReadAll(from), std::vector<StoredRecord>(
                                   expected_.begin() + from, expected_.end()));
  EXPECT_EQ(*log_->OffsetForTimestamp(120), firsts_[20]);
  // Appends continue after the last batch, and the index continues as a
  // scan would have built it: the same .idx either way.
  for (int i = 0; i < 20; ++i) AppendBatch(2, 200 + i, 60);
  log_.reset();
  std::string resumed_index = ReadFile(SegmentPath(0, ".idx"));
  fs::remove(Mark());
  Reopen();  // scans, and rewrites the index from the scan
  ExpectRecords(ReadAll(), expected_);
  log_.reset();
  EXPECT_EQ(ReadFile(SegmentPath(0, ".idx")), resumed_index);
}

TEST_F(SyncedMarkTest, DamageInTheSyncedPrefixIsReportedNotTruncated) {
  // A synced prefix survives a crash: damage found in it later is the
  // disk's, and the records after it were acknowledged. Like a sealed
  // segment, it is kept whole, and reading the damaged batch fails with
  // DataLoss.
  Fill();
  FlipByte(Path(), sizes_[4] + 50);  // inside batch 5
  Reopen();
  EXPECT_EQ(fs::file_size(Path()), sizes_.back());
  EXPECT_EQ(log_->end_offset(), expected_.back().offset + 1);
  auto damaged = log_->Read(firsts_[5], 100, 1 << 20);
  EXPECT_EQ(damaged.status().code(), StatusCode::kDataLoss);
  auto after = log_->Read(firsts_[30], 3, 1 << 20);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].offset, firsts_[30]);
}

TEST_F(SyncedMarkTest, ACrashScansOnlyWhatFollowsTheMark) {
  Fill(30);
  std::string mark = ReadFile(Mark());
  // More batches, then the files as a crash would leave them: the mark is
  // still the one of the last sync.
  Reopen();
  for (int i = 0; i < 6; ++i) {
    firsts_.push_back(AppendBatch(3, 300 + i, 60));
    sizes_.push_back(fs::file_size(Path()));
  }
  log_.reset();
  WriteFile(Mark(), mark);
  std::string segment = ReadFile(Path());
  std::string index = ReadFile(SegmentPath(0, ".idx"));

  // Nothing damaged: the tail is scanned and the index comes out as a
  // full scan's.
  EXPECT_EQ(ReopenedEnd(), expected_.back().offset + 1);
  log_.reset();
  std::string after_tail_scan = ReadFile(SegmentPath(0, ".idx"));
  fs::remove(Mark());
  EXPECT_EQ(ReopenedEnd(), expected_.back().offset + 1);
  log_.reset();
  EXPECT_EQ(ReadFile(SegmentPath(0, ".idx")), after_tail_scan);

  // A torn batch after the mark is cut off, the batches before it kept;
  // damage before the mark is not looked for (a scan of the whole file
  // would have stopped at batch 5).
  WriteFile(Path(), segment);
  WriteFile(SegmentPath(0, ".idx"), index);
  WriteFile(Mark(), mark);
  FlipByte(Path(), sizes_[32] + 50);  // inside batch 33, after the mark
  FlipByte(Path(), sizes_[4] + 50);   // inside batch 5, before it
  Reopen();
  EXPECT_EQ(log_->end_offset(), firsts_[33]);
  EXPECT_EQ(fs::file_size(Path()), sizes_[32]);
  auto tail = log_->Read(firsts_[30], 100, 1 << 20);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ(tail->size(), 9u);  // batches 30, 31 and 32
  EXPECT_EQ(log_->Read(firsts_[5], 1, 1 << 20).status().code(),
            StatusCode::kDataLoss);
}

TEST_F(SyncedMarkTest, AMarkThatDoesNotFitMeansAFullScan) {
  Fill();
  const std::string good = ReadFile(Mark());
  const auto mark = *log_format::ParseSyncedMark(good);
  const std::string segment = ReadFile(Path());
  const std::string index = ReadFile(SegmentPath(0, ".idx"));
  // Each case starts from the files Fill left, with another mark, and
  // damages batch `k`: a full scan stops there, a trusted mark would not.
  int k = 30;
  auto expect_full_scan = [&](const std::string& mark_file) {
    WriteFile(Path(), segment);
    WriteFile(SegmentPath(0, ".idx"), index);
    WriteFile(Mark(), mark_file);
    FlipByte(Path(), sizes_[k - 1] + 50);
    EXPECT_EQ(ReopenedEnd(), firsts_[k]);
    log_.reset();
    --k;
  };
  // The good mark itself is trusted: the damage goes unnoticed until read.
  WriteFile(Mark(), good);
  FlipByte(Path(), sizes_[34] + 50);
  Reopen();
  EXPECT_EQ(log_->end_offset(), expected_.back().offset + 1);
  log_.reset();
  auto other_log = mark;
  other_log.log_id ^= 1;  // left by a deleted log at the same path
  expect_full_scan(log_format::EncodeSyncedMark(other_log));
  auto bigger = mark;
  bigger.size = sizes_.back() + 1;
  expect_full_scan(log_format::EncodeSyncedMark(bigger));
  auto misplaced = mark;
  misplaced.last_batch.position -= 1;
  expect_full_scan(log_format::EncodeSyncedMark(misplaced));
  auto unindexed = mark;
  unindexed.last_indexed.position += 1;
  expect_full_scan(log_format::EncodeSyncedMark(unindexed));
  expect_full_scan(good.substr(0, 20));  // torn
}

TEST_F(SyncedMarkTest, RelaxedLogsToo) {
  options_.sync = false;
  Fill(5);
  Reopen();
  ExpectRecords(ReadAll(), expected_);
}

TEST_F(LogTest, EmptyLastSegmentLeftByARoll) {
  Reopen();
  AppendBatch(4, 1);
  log_.reset();
  WriteFile(SegmentPath(4, ".log"), "");  // crashed right after creating it
  Reopen();
  EXPECT_EQ(log_->end_offset(), 4u);
  AppendBatch(2, 2);
  Reopen();
  ExpectRecords(ReadAll(), expected_);
  EXPECT_EQ(SegmentBases(), (std::vector<uint64_t>{0, 4}));
}

// Several sealed segments plus an active one, with timestamps 1000 + offset.
class SegmentedTest : public LogTest {
 protected:
  void Fill() {
    options_.segment_bytes = 1024;
    options_.index_interval_bytes = 200;
    Reopen();
    for (int i = 0; i < 40; ++i) AppendBatch(2, 1000 + log_->end_offset(), 60);
    bases_ = SegmentBases();
    ASSERT_GT(bases_.size(), 5u);
  }
  std::vector<uint64_t> bases_;
};

TEST_F(SegmentedTest, IndexMissing) {
  Fill();
  log_.reset();
  for (uint64_t b : bases_) fs::remove(SegmentPath(b, ".idx"));
  Reopen();
  ExpectRecords(ReadAll(), expected_);
  for (uint64_t b : bases_) EXPECT_TRUE(fs::exists(SegmentPath(b, ".idx")));
  EXPECT_EQ(*log_->OffsetForTimestamp(1000 + 33), 34u);
  EXPECT_EQ(log_->end_offset(), 80u);
}

TEST_F(SegmentedTest, IndexCorrupt) {
  Fill();
  log_.reset();
  std::string saved = ReadFile(SegmentPath(bases_[1], ".idx"));
  FlipByte(SegmentPath(bases_[0], ".idx"), 20);  // an entry's bytes
  fs::resize_file(SegmentPath(bases_[1], ".idx"), 8 + 32 + 5);  // torn
  WriteFile(SegmentPath(bases_[2], ".idx"), "garbage");
  WriteFile(SegmentPath(bases_[3], ".idx"), saved);         // another segment's
  fs::resize_file(SegmentPath(bases_[4], ".idx"), 8 + 32);  // last missing
  FlipByte(SegmentPath(bases_.back(), ".idx"), 3);          // the active one's
  Reopen();
  ExpectRecords(ReadAll(), expected_);
  for (uint64_t ts = 1000; ts < 1085; ts += 3) {
    uint64_t want = std::min<uint64_t>(80, (ts - 1000 + 1) / 2 * 2);
    EXPECT_EQ(*log_->OffsetForTimestamp(static_cast<int64_t>(ts)), want) << ts;
  }
  // Rebuilt indexes are valid on the next open.
  log_.reset();
  for (uint64_t b : bases_) {
    auto entries = log_format::ParseIndexFile(ReadFile(SegmentPath(b, ".idx")));
    ASSERT_TRUE(entries.has_value()) << b;
    ASSERT_FALSE(entries->empty());
    EXPECT_EQ(entries->front().offset, b);
  }
}

TEST_F(SegmentedTest, CorruptSealedSegmentIsReportedNotTruncated) {
  Fill();
  log_.reset();
  // Damage the second batch of the second segment.
  uint64_t victim = bases_[1];
  fs::path p = SegmentPath(victim, ".log");
  uint64_t size = fs::file_size(p);
  FlipByte(p, size / 2 + 1);
  for (bool drop_index : {false, true}) {
    if (drop_index) {
      log_.reset();
      fs::remove(SegmentPath(victim, ".idx"));
    }
    Reopen();
    EXPECT_EQ(log_->end_offset(), 80u);
    EXPECT_EQ(fs::file_size(p), size);
    // Everything before the damage reads; then DataLoss; then the next
    // segment reads again.
    std::vector<StoredRecord> got;
    uint64_t from = 0;
    Result<std::vector<StoredRecord>> r = std::vector<StoredRecord>{};
    for (;;) {
      r = log_->Read(from, 1000, 1 << 20);
      if (!r.ok() || r->empty()) break;
      got.insert(got.end(), r->begin(), r->end());
      from = got.back().offset + 1;
    }
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
    EXPECT_GE(from, victim);
    EXPECT_LT(from, bases_[2]);
    ExpectRecords(got, ExpectedPrefix(from));
    std::vector<StoredRecord> rest;
    for (const auto& rec : expected_) {
      if (rec.offset >= bases_[2]) rest.push_back(rec);
    }
    ExpectRecords(ReadAll(bases_[2]), rest);
  }
  AppendBatch(1, 5000);
  EXPECT_EQ(log_->end_offset(), 81u);
}

TEST_F(LogTest, RollBySize) {
  options_.segment_bytes = 1000;
  Reopen();
  // Each 3-record batch of 90-byte values is 32 + 3 * (1 + 4 + 1 + 90) =
  // 320 bytes: three fit in 1000 bytes, a fourth rolls.
  for (int i = 0; i < 7; ++i) AppendBatch(3, 1, 90);
  EXPECT_EQ(SegmentBases(), (std::vector<uint64_t>{0, 9, 18}));
  EXPECT_EQ(fs::file_size(SegmentPath(0, ".log")), 960u);
  // A batch larger than a segment gets a segment of its own.
  AppendBatch(1, 1, 5000);
  AppendBatch(1, 1, 10);
  EXPECT_EQ(SegmentBases(), (std::vector<uint64_t>{0, 9, 18, 21, 22}));
  Reopen();
  ExpectRecords(ReadAll(), expected_);
}

TEST_F(LogTest, RollByAge) {
  options_.segment_ms = 1000;
  Reopen();
  AppendBatch(1, 10000);
  AppendBatch(1, 10500);
  AppendBatch(1, 11000);  // exactly segment_ms old: not older
  AppendBatch(1, 11001);  // rolls
  AppendBatch(1, 12001);
  AppendBatch(1, 12002);  // rolls
  EXPECT_EQ(SegmentBases(), (std::vector<uint64_t>{0, 3, 5}));
  Reopen();
  AppendBatch(1, 13003);  // the recovered active segment keeps its age
  EXPECT_EQ(SegmentBases(), (std::vector<uint64_t>{0, 3, 5, 6}));
  ExpectRecords(ReadAll(), expected_);
}

TEST_F(SegmentedTest, Retention) {
  Fill();
  // Record at offset o has timestamp 1000 + o rounded down to even.
  uint64_t start = *log_->EnforceRetention(1000);
  EXPECT_EQ(start, 0u);
  // Segment 0 holds offsets [0, bases_[1]); its newest timestamp is
  // 1000 + bases_[1] - 2.
  start = *log_->EnforceRetention(static_cast<int64_t>(1000 + bases_[1] - 2));
  EXPECT_EQ(start, 0u);
  start = *log_->EnforceRetention(static_cast<int64_t>(1000 + bases_[1] - 1));
  EXPECT_EQ(start, bases_[1]);
  EXPECT_EQ(log_->start_offset(), bases_[1]);
  EXPECT_FALSE(fs::exists(SegmentPath(0, ".log")));
  EXPECT_FALSE(fs::exists(SegmentPath(0, ".idx")));
  auto r = log_->Read(0, 1, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->front().offset, bases_[1]);
  EXPECT_EQ(*log_->OffsetForTimestamp(0), bases_[1]);

  // Everything expired: all sealed segments go, the active one stays.
  start = *log_->EnforceRetention(1 << 30);
  EXPECT_EQ(start, bases_.back());
  EXPECT_EQ(SegmentBases(), (std::vector<uint64_t>{bases_.back()}));
  EXPECT_EQ(log_->end_offset(), 80u);
  ExpectRecords(ReadAll(),
                std::vector<StoredRecord>(expected_.begin() + bases_.back(),
                                          expected_.end()));

  Reopen();
  EXPECT_EQ(log_->start_offset(), bases_.back());
  EXPECT_EQ(log_->end_offset(), 80u);
  AppendBatch(1, 9000);
  EXPECT_EQ(log_->end_offset(), 81u);
}

TEST_F(LogTest, RetentionOrphanIndexIsRemoved) {
  Reopen();
  AppendBatch(1, 1);
  log_.reset();
  WriteFile(SegmentPath(77, ".idx"), "left over");
  Reopen();
  EXPECT_FALSE(fs::exists(SegmentPath(77, ".idx")));
  EXPECT_EQ(log_->end_offset(), 1u);
}

TEST_F(LogTest, OffsetForTimestamp) {
  options_.segment_bytes = 700;
  options_.index_interval_bytes = 150;
  Reopen();
  std::mt19937 rng(7);
  int64_t ts = 100;
  for (int i = 0; i < 80; ++i) {
    ts += rng() % 3 == 0 ? 0 : rng() % 20;
    AppendBatch(1 + rng() % 3, ts, 30);
  }
  ASSERT_GT(SegmentBases().size(), 5u);
  auto check = [&] {
    for (int64_t t = 90; t <= ts + 2; ++t) {
      uint64_t want = log_->end_offset();
      for (const auto& r : expected_) {
        if (r.timestamp_ms >= t) {
          want = r.offset;
          break;
        }
      }
      auto got = log_->OffsetForTimestamp(t);
      ASSERT_TRUE(got.ok());
      EXPECT_EQ(*got, want) << "t=" << t;
    }
  };
  check();
  Reopen();
  check();
}

TEST_F(LogTest, ConcurrentAppendsShareSyncs) {
  options_.sync = true;
  Reopen();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  struct Ack {
    uint64_t offset;
    uint32_t count;
    int thread;
    int seq;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  Gate gate;
  std::promise<void> all_done;
  int remaining = kThreads * kPerThread + 1;
  auto on_ack = [&](Result<uint64_t> r, uint32_t count, int thread, int seq) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu);
      acks.push_back(Ack{r.ok() ? *r : ~0ull, count, thread, seq});
      last = --remaining == 0;
    }
    // Outside the lock: once set, the test may return and free `mu`.
    if (last) all_done.set_value();
  };
  // Holds the writer thread so that the threads' appends queue up behind.
  log_->Append(MakeRecords(0, 1), 1, [&](Result<uint64_t> r) {
    gate.Wait();
    on_ack(std::move(r), 1, -1, 0);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        uint32_t count = 1 + (t + i) % 3;
        std::vector<LogRecord> records;
        for (uint32_t j = 0; j < count; ++j) {
          records.push_back(LogRecord{std::to_string(t) + "/" +
                                          std::to_string(i) + "/" +
                                          std::to_string(j),
                                      ValueFor(t * 1000 + i, 20)});
        }
        log_->Append(std::move(records), 2,
                     [&, count, t, i](Result<uint64_t> r) {
                       on_ack(std::move(r), count, t, i);
                     });
      }
    });
  }
  for (auto& th : threads) th.join();
  gate.Open();
  all_done.get_future().wait();

  EXPECT_LT(syncer_->sync_count(),
            static_cast<uint64_t>(kThreads * kPerThread));
  std::sort(acks.begin(), acks.end(),
            [](const Ack& a, const Ack& b) { return a.offset < b.offset; });
  uint64_t next = 0;
  std::vector<int> last_seq(kThreads, -1);
  for (const Ack& a : acks) {
    EXPECT_EQ(a.offset, next);  // distinct and dense
    next = a.offset + a.count;
    if (a.thread >= 0) {
      EXPECT_GT(a.seq, last_seq[a.thread]);  // in call order
      last_seq[a.thread] = a.seq;
    }
  }
  EXPECT_EQ(log_->end_offset(), next);
  // Every record is where its acknowledgement said.
  auto all = ReadAll();
  ASSERT_EQ(all.size(), next);
  for (const Ack& a : acks) {
    if (a.thread < 0) continue;
    for (uint32_t j = 0; j < a.count; ++j) {
      EXPECT_EQ(all[a.offset + j].key, std::to_string(a.thread) + "/" +
                                           std::to_string(a.seq) + "/" +
                                           std::to_string(j));
    }
  }
}

TEST_F(LogTest, ManyLogsShareOneSyncer) {
  options_.sync = true;
  constexpr int kLogs = 3;
  constexpr int kPerLog = 40;
  std::vector<std::unique_ptr<Log>> logs;
  for (int i = 0; i < kLogs; ++i) {
    auto log = Log::Open(root_ / ("shard" + std::to_string(i)), options_,
                         syncer_.get());
    ASSERT_TRUE(log.ok());
    logs.push_back(std::move(*log));
  }
  Gate gate;
  std::promise<void> first_done;
  // A refused append's callback runs on the writer thread: this one holds
  // it, so that the appends below queue up and are written as one group.
  logs[0]->Append({}, 1, [&](Result<uint64_t>) {
    first_done.set_value();
    gate.Wait();
  });
  first_done.get_future().wait();  // the writer thread is now held
  uint64_t syncs_before = syncer_->sync_count();
  std::mutex mu;
  std::vector<std::vector<uint64_t>> offsets(kLogs);
  std::vector<std::thread> threads;
  for (int l = 0; l < kLogs; ++l) {
    threads.emplace_back([&, l] {
      for (int i = 0; i < kPerLog; ++i) {
        logs[l]->Append(MakeRecords(i, 2), 5, [&, l](Result<uint64_t> r) {
          EXPECT_TRUE(r.ok());
          std::lock_guard<std::mutex> lock(mu);
          offsets[l].push_back(r.ok() ? *r : ~0ull);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  gate.Open();
  for (auto& log : logs) log->Close();  // waits for the appends
  // One group: one sync per log; then each log syncs as it closes.
  EXPECT_EQ(syncer_->sync_count() - syncs_before,
            static_cast<uint64_t>(2 * kLogs));
  for (int l = 0; l < kLogs; ++l) {
    ASSERT_EQ(offsets[l].size(), static_cast<size_t>(kPerLog));
    for (int i = 0; i < kPerLog; ++i) EXPECT_EQ(offsets[l][i], 2u * i);
    EXPECT_EQ(logs[l]->end_offset(), 2u * kPerLog);
  }
}

// Syncs of one file overlap (the writer does not wait for one to finish
// before it writes and syncs the next batches), and they may finish in any
// order; acknowledgements still come one at a time, in offset order, and
// only for records that are readable.
TEST_F(LogTest, AcknowledgementsComeInOffsetOrder) {
  options_.sync = true;
  options_.segment_bytes = 4096;  // rolls too
  Reopen();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::mutex mu;
  std::vector<uint64_t> order;
  std::atomic<int> concurrent{0};
  std::atomic<bool> overlapped{false};
  std::promise<void> all_done;
  int remaining = kThreads * kPerThread;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        log_->Append(MakeRecords(t * 1000 + i, 1), 1, [&](Result<uint64_t> r) {
          if (concurrent.fetch_add(1) != 0) overlapped = true;
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          EXPECT_GT(log_->end_offset(), *r);  // readable once acknowledged
          bool last;
          {
            std::lock_guard<std::mutex> lock(mu);
            order.push_back(*r);
            last = --remaining == 0;
          }
          concurrent.fetch_sub(1);
          if (last) all_done.set_value();
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  all_done.get_future().wait();
  EXPECT_FALSE(overlapped.load());
  ASSERT_EQ(order.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i);
  Reopen();
  EXPECT_EQ(ReadAll().size(), order.size());
}

TEST_F(LogTest, UnacknowledgedRecordsAreInvisible) {
  Reopen();
  Gate gate;
  std::promise<void> first_done;
  log_->Append(MakeRecords(0, 2), 1, [&](Result<uint64_t>) {
    first_done.set_value();
    gate.Wait();
  });
  first_done.get_future().wait();
  std::promise<void> second_done;
  log_->Append(MakeRecords(2, 3), 7,
               [&](Result<uint64_t>) { second_done.set_value(); });
  EXPECT_EQ(log_->end_offset(), 2u);
  EXPECT_EQ(log_->last_timestamp_ms(), 1);
  EXPECT_EQ(log_->Read(0, 100, 1 << 20)->size(), 2u);
  EXPECT_EQ(*log_->OffsetForTimestamp(5), 2u);
  gate.Open();
  second_done.get_future().wait();
  EXPECT_EQ(log_->end_offset(), 5u);
  EXPECT_EQ(log_->Read(0, 100, 1 << 20)->size(), 5u);
}

TEST_F(LogTest, RelaxedDurabilitySkipsSync) {
  options_.sync = false;
  options_.segment_bytes = 500;
  Reopen();
  for (int i = 0; i < 20; ++i) AppendBatch(2, i);
  EXPECT_EQ(syncer_->sync_count(), 0u);
  Reopen();
  ExpectRecords(ReadAll(), expected_);
}

TEST_F(LogTest, RelaxedCleanCloseSyncsEverySegmentItSealed) {
  options_.sync = false;
  options_.segment_bytes = 500;
  Reopen();
  for (int i = 0; i < 20; ++i) AppendBatch(2, i);
  size_t segments = SegmentBases().size();
  ASSERT_GT(segments, 3u);
  EXPECT_EQ(syncer_->sync_count(), 0u);
  log_.reset();
  // The sealed ones and the active one, once each.
  EXPECT_EQ(syncer_->sync_count(), segments);
  Reopen();
  ExpectRecords(ReadAll(), expected_);
  log_.reset();
  // Nothing sealed since this open: only the active segment.
  EXPECT_EQ(syncer_->sync_count(), segments + 1);
}

TEST_F(LogTest, StrictDurabilitySyncs) {
  options_.sync = true;
  Reopen();
  AppendBatch(1, 1);
  EXPECT_GE(syncer_->sync_count(), 1u);
}

TEST_F(LogTest, CloseWaitsForInFlightAppends) {
  options_.sync = true;
  Reopen();
  std::atomic<int> acked{0};
  for (int i = 0; i < 200; ++i) {
    log_->Append(MakeRecords(i, 1), 1, [&](Result<uint64_t> r) {
      EXPECT_TRUE(r.ok());
      acked.fetch_add(1);
    });
  }
  log_->Close();
  EXPECT_EQ(acked.load(), 200);
  EXPECT_EQ(log_->end_offset(), 200u);
  auto r = log_->Read(0, 1, 1);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  auto after = AppendWait(MakeRecords(0, 1), 1);
  EXPECT_EQ(after.status().code(), StatusCode::kFailedPrecondition);
  Reopen();
  EXPECT_EQ(log_->end_offset(), 200u);
}

TEST_F(LogTest, CallbacksRunOnTheSyncersThreads) {
  for (bool sync : {true, false}) {
    options_.sync = sync;
    Reopen();
    std::promise<std::thread::id> ok_thread, refused_thread;
    log_->Append(MakeRecords(0, 1), 1, [&](Result<uint64_t>) {
      ok_thread.set_value(std::this_thread::get_id());
    });
    log_->Append({}, 1, [&](Result<uint64_t> r) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      refused_thread.set_value(std::this_thread::get_id());
    });
    EXPECT_NE(ok_thread.get_future().get(), std::this_thread::get_id());
    EXPECT_NE(refused_thread.get_future().get(), std::this_thread::get_id());
  }
}

TEST_F(LogTest, SyncerDestructorDrains) {
  Reopen();
  log_->Close();
  std::atomic<int> called{0};
  for (int i = 0; i < 100; ++i) {
    log_->Append(MakeRecords(0, 1), 1, [&](Result<uint64_t>) { ++called; });
  }
  log_.reset();
  syncer_.reset();
  EXPECT_EQ(called.load(), 100);
}

TEST_F(LogTest, OversizedBatchIsRefused) {
  Reopen();
  std::vector<LogRecord> big = {
      {"k", std::string(log_format::kMaxBatchBytes, 'v')}};
  auto r = AppendWait(std::move(big), 1);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  AppendBatch(1, 1);  // the log is still fine
}

TEST_F(LogTest, FailedWriteRefusesFurtherAppends) {
  Reopen();
  AppendBatch(3, 1);
  uint64_t size = fs::file_size(SegmentPath(0, ".log"));
  // Make the next write fail with EFBIG partway through the batch.
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = size + 50;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  auto failed = AppendWait(MakeRecords(3, 5, 100), 2);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &old_action, nullptr), 0);

  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  auto refused = AppendWait(MakeRecords(3, 1), 3);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(log_->end_offset(), 3u);
  ExpectRecords(ReadAll(), expected_);

  Reopen();  // recovery cuts the partial batch
  EXPECT_EQ(log_->end_offset(), 3u);
  EXPECT_EQ(fs::file_size(SegmentPath(0, ".log")), size);
  AppendBatch(2, 4);
  ExpectRecords(ReadAll(), expected_);
}

TEST_F(LogTest, Destroy) {
  Reopen();
  AppendBatch(1, 1);
  EXPECT_TRUE(log_->Destroy().ok());
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(LogTest, OneOpenerPerDirectory) {
  Reopen();
  auto second = Log::Open(dir_, options_, syncer_.get());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  log_->Close();
  EXPECT_TRUE(Log::Open(dir_, options_, syncer_.get()).ok());
}

TEST_F(LogTest, OpenRejectsBadOptions) {
  options_.segment_bytes = 0;
  EXPECT_EQ(Log::Open(dir_, options_, syncer_.get()).status().code(),
            StatusCode::kInvalidArgument);
  options_ = LogOptions();
  EXPECT_EQ(Log::Open(dir_, options_, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

// The journal: strict appends of every log made durable by one flush per
// round, replayed after a crash into logs whose segments lost them.
class JournalTest : public LogTest {
 protected:
  void SetUp() override {
    LogTest::SetUp();
    options_.sync = true;
    syncer_.reset();
    OpenSyncer(root_);
  }

  void OpenSyncer(const fs::path& root) {
    auto syncer = LogSyncer::Open(root / "journal", journal_options_);
    ASSERT_TRUE(syncer.ok()) << syncer.status().ToString();
    syncer_ = std::move(*syncer);
  }

  std::unique_ptr<Log> OpenLog(const fs::path& dir) {
    auto log = Log::Open(dir, options_, syncer_.get());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : nullptr;
  }

  // Appends `batches` batches of 3 records to each of `logs`, interleaved,
  // and waits for every acknowledgement.
  void AppendToAll(const std::vector<Log*>& logs, int batches) {
    std::mutex mu;
    std::condition_variable cv;
    size_t pending = 0;
    for (int b = 0; b < batches; ++b) {
      for (Log* log : logs) {
        {
          std::lock_guard<std::mutex> lock(mu);
          ++pending;
        }
        log->Append(MakeRecords(3 * b, 3), 1000 + b, [&](Result<uint64_t> r) {
          EXPECT_TRUE(r.ok()) << r.status().ToString();
          std::lock_guard<std::mutex> lock(mu);
          if (--pending == 0) cv.notify_all();
        });
      }
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return pending == 0; });
  }

  // What a crash leaves: the files as they are now (the page cache holds
  // every write), copied while the logs and the journal are still open.
  // File by file: a retirement in the background may delete a journal file
  // or rename a mark into place meanwhile, and a file gone before it is
  // copied was gone at the crash too.
  fs::path CrashCopy() {
    fs::path copy = root_.string() + ".crash";
    fs::remove_all(copy);
    fs::create_directories(copy);
    for (fs::recursive_directory_iterator it(root_), end; it != end; ++it) {
      fs::path to = copy / fs::relative(it->path(), root_);
      std::error_code ec;
      if (it->is_directory(ec)) {
        fs::create_directories(to);
      } else if (!fs::copy_file(it->path(), to, ec) &&
                 ec != std::errc::no_such_file_or_directory) {
        ADD_FAILURE() << "copy " << it->path() << ": " << ec.message();
      }
    }
    return copy;
  }

  std::vector<StoredRecord> ReadLog(Log* log) {
    auto r = log->Read(0, 1 << 20, 1 << 30);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<StoredRecord>{};
  }

  size_t JournalFiles(const fs::path& root) {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(root / "journal")) {
      if (e.path().extension() == ".jnl") ++n;
    }
    return n;
  }

  void TearDown() override {
    LogTest::TearDown();
    fs::remove_all(root_.string() + ".crash");
  }

  JournalOptions journal_options_;
};

TEST_F(JournalTest, OneFlushPerRoundForEveryLog) {
  auto a = OpenLog(root_ / "a");
  auto b = OpenLog(root_ / "b");
  auto c = OpenLog(root_ / "c");
  Gate gate;
  std::promise<void> held;
  // A refused append's callback runs on the writer thread: holding it
  // queues the appends below into one round.
  a->Append({}, 1, [&](Result<uint64_t>) {
    held.set_value();
    gate.Wait();
  });
  held.get_future().wait();
  uint64_t before = syncer_->sync_count();
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.Open();
  });
  AppendToAll({a.get(), b.get(), c.get()}, 20);
  release.join();
  // Without a journal this round would take one sync per log.
  EXPECT_EQ(syncer_->sync_count() - before, 1u);
  for (Log* log : {a.get(), b.get(), c.get()}) {
    EXPECT_EQ(log->end_offset(), 60u);
  }
}

TEST_F(JournalTest, ReplayRestoresWhatTheSegmentsLost) {
  auto a = OpenLog(root_ / "a");
  auto b = OpenLog(root_ / "b");
  AppendToAll({a.get(), b.get()}, 50);
  auto want_a = ReadLog(a.get());
  auto want_b = ReadLog(b.get());
  ASSERT_EQ(want_a.size(), 150u);
  fs::path copy = CrashCopy();
  // The segments' writes had not reached the disk: a's not at all, b's
  // only partly (cut inside a batch).
  fs::resize_file(copy / "a" / log_format::SegmentFileName(0, ".log"), 0);
  fs::path b_seg = copy / "b" / log_format::SegmentFileName(0, ".log");
  fs::resize_file(b_seg, fs::file_size(b_seg) / 2 + 7);

  a.reset();
  b.reset();
  syncer_.reset();
  OpenSyncer(copy);
  EXPECT_EQ(syncer_->replayed_batches(), 50u + 25u);
  auto a2 = OpenLog(copy / "a");
  auto b2 = OpenLog(copy / "b");
  ExpectRecords(ReadLog(a2.get()), want_a);
  ExpectRecords(ReadLog(b2.get()), want_b);
  // Replayed and synced: the journal is empty again, and a second start
  // has nothing to do.
  a2.reset();
  b2.reset();
  syncer_.reset();
  EXPECT_EQ(JournalFiles(copy), 0u);
  OpenSyncer(copy);
  EXPECT_EQ(syncer_->replayed_batches(), 0u);
}

TEST_F(JournalTest, TornJournalTailLosesOnlyTheUnfinishedBatch) {
  auto a = OpenLog(root_ / "a");
  AppendToAll({a.get()}, 10);
  auto want = ReadLog(a.get());
  fs::path copy = CrashCopy();
  fs::resize_file(copy / "a" / log_format::SegmentFileName(0, ".log"), 0);
  fs::path journal;
  for (const auto& e : fs::directory_iterator(copy / "journal")) {
    if (e.path().extension() == ".jnl" && fs::file_size(e.path()) > 0 &&
        ReadFile(e.path())[0] != '\0') {
      journal = e.path();
    }
  }
  ASSERT_FALSE(journal.empty());
  // Cut the last entry short: the batch being written when the power went.
  std::string data = ReadFile(journal);
  size_t end = 0;
  size_t last = 0;
  for (;;) {
    auto e = log_format::ParseJournalEntry(
        std::string_view(data).substr(end),
        *log_format::ParseSegmentFileName(journal.filename().string(), ".jnl"));
    if (!e) break;
    last = end;
    end += e->length;
  }
  ASSERT_GT(last, 0u);
  WriteFile(journal, data.substr(0, last + 40));

  a.reset();
  syncer_.reset();
  OpenSyncer(copy);
  auto a2 = OpenLog(copy / "a");
  want.resize(want.size() - 3);
  ExpectRecords(ReadLog(a2.get()), want);
  EXPECT_EQ(a2->end_offset(), 27u);
}

TEST_F(JournalTest, ALogReplacedAtTheSamePathIsLeftAlone) {
  auto a = OpenLog(root_ / "a");
  AppendToAll({a.get()}, 5);
  fs::path copy = CrashCopy();
  a.reset();
  syncer_.reset();
  // In the copy, the log was deleted and a new one created in its place
  // (a stream deleted and created again) before the crash.
  fs::remove_all(copy / "a");
  {
    LogSyncer plain;
    auto log = Log::Open(copy / "a", options_, &plain);
    ASSERT_TRUE(log.ok());
    auto r = AppendWait(MakeRecords(100, 1), 7, log->get());
    ASSERT_TRUE(r.ok());
  }
  OpenSyncer(copy);
  EXPECT_EQ(syncer_->replayed_batches(), 0u);
  auto a2 = OpenLog(copy / "a");
  auto got = ReadLog(a2.get());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, "key100");
}

// Buffered journal writes (direct_io off, as where the file system lacks
// O_DIRECT) replay the same.
TEST_F(JournalTest, BufferedWritesReplayTheSame) {
  journal_options_.direct_io = false;
  syncer_.reset();
  OpenSyncer(root_);
  auto a = OpenLog(root_ / "a");
  AppendToAll({a.get()}, 20);
  auto want = ReadLog(a.get());
  fs::path copy = CrashCopy();
  fs::resize_file(copy / "a" / log_format::SegmentFileName(0, ".log"), 0);
  a.reset();
  syncer_.reset();
  OpenSyncer(copy);
  EXPECT_EQ(syncer_->replayed_batches(), 20u);
  auto a2 = OpenLog(copy / "a");
  ExpectRecords(ReadLog(a2.get()), want);
}

TEST_F(JournalTest, ReplayStopsALogAtAGap) {
  syncer_.reset();
  // A log, and a journal (written by hand) holding its batches at offsets
  // 0-2, 3-5 and then 9-11: offsets 6-8 are missing.
  {
    LogSyncer plain;
    auto log = Log::Open(root_ / "a", options_, &plain);
    ASSERT_TRUE(log.ok());
  }
  std::string id_text = ReadFile(root_ / "a" / "log.id");
  uint64_t id = std::stoull(id_text, nullptr, 16);
  std::string journal;
  log_format::AppendJournalEntry(&journal, log_format::JournalEntryType::kLog,
                                 1, id, "../a");
  for (uint64_t base : {0, 3, 9}) {
    auto batch = log_format::EncodeBatch(MakeRecords(base, 3));
    ASSERT_TRUE(batch.ok());
    log_format::FinishBatch(&*batch, base, 1000 + base);
    log_format::AppendJournalEntry(
        &journal, log_format::JournalEntryType::kBatch, 1, id, *batch);
  }
  fs::create_directories(root_ / "journal");
  WriteFile(root_ / "journal" / log_format::SegmentFileName(1, ".jnl"),
            journal);

  OpenSyncer(root_);  // must not hang with a replayed batch still in flight
  EXPECT_EQ(syncer_->replayed_batches(), 2u);
  auto a = OpenLog(root_ / "a");
  EXPECT_EQ(a->end_offset(), 6u);
  EXPECT_EQ(JournalFiles(root_), 1u);  // the new, empty one
}

TEST_F(JournalTest, FullFilesAreRetiredAndACleanCloseLeavesNone) {
  journal_options_.file_bytes = 8 << 10;
  syncer_.reset();
  OpenSyncer(root_);
  auto a = OpenLog(root_ / "a");
  auto b = OpenLog(root_ / "b");
  for (int i = 0; i < 20; ++i) AppendToAll({a.get(), b.get()}, 10);
  // Retiring runs in the background; the journal never holds much more
  // than the file being written.
  for (int i = 0; i < 200 && JournalFiles(root_) > 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_LE(JournalFiles(root_), 2u);
  auto want = ReadLog(a.get());
  ASSERT_EQ(want.size(), 600u);
  a.reset();
  b.reset();
  syncer_.reset();
  EXPECT_EQ(JournalFiles(root_), 0u);
  OpenSyncer(root_);
  EXPECT_EQ(syncer_->replayed_batches(), 0u);
  auto a2 = OpenLog(root_ / "a");
  ExpectRecords(ReadLog(a2.get()), want);
}

TEST_F(JournalTest, RetiringAFileMarksTheSegmentsItSynced) {
  journal_options_.file_bytes = 8 << 10;
  syncer_.reset();
  OpenSyncer(root_);
  auto a = OpenLog(root_ / "a");
  for (int i = 0; i < 10; ++i) AppendToAll({a.get()}, 10);
  fs::path mark = root_ / "a" / log_format::kSyncedMarkFile;
  for (int i = 0; i < 200 && !fs::exists(mark); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto parsed = log_format::ParseSyncedMark(ReadFile(mark));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_GT(parsed->size, 0u);
  EXPECT_LE(
      parsed->size,
      fs::file_size(root_ / "a" / log_format::SegmentFileName(0, ".log")));
  // A crash now: the copy reopens on the marked prefix plus a scan of the
  // rest, and holds every record.
  auto want = ReadLog(a.get());
  fs::path copy = CrashCopy();
  a.reset();
  syncer_.reset();
  OpenSyncer(copy);
  auto a2 = OpenLog(copy / "a");
  ExpectRecords(ReadLog(a2.get()), want);
}

// Appends batches to `log` until journal file `seq` is gone (retired) or
// an append fails (the journal refuses appends once it keeps its files),
// then waits a moment for the retirement running in the background.
void AppendUntilRetired(Log* log, const fs::path& root, uint64_t seq) {
  fs::path file = root / "journal" / log_format::SegmentFileName(seq, ".jnl");
  for (int i = 0; i < 400 && fs::exists(file); ++i) {
    std::promise<Result<uint64_t>> done;
    log->Append(MakeRecords(0, 3, 1000), 3000 + i,
                [&done](Result<uint64_t> r) { done.set_value(std::move(r)); });
    if (!done.get_future().get().ok()) break;
  }
  for (int i = 0; i < 100 && fs::exists(file); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST_F(JournalTest, ASegmentWhoseSyncFailedKeepsItsJournalFile) {
  // A failed fdatasync leaves the pages it could not write marked clean, so
  // a later fdatasync of the same file succeeds without writing them: the
  // journal file holding the segment's acknowledged batches must not be
  // retired on the strength of it, and no synced mark may vouch for them.
  journal_options_.file_bytes = 64 << 10;
  options_.segment_bytes = 16 << 10;
  syncer_.reset();
  OpenSyncer(root_);
  auto a = OpenLog(root_ / "a");
  auto b = OpenLog(root_ / "b");
  AppendToAll({a.get()}, 10);
  auto want = ReadLog(a.get());
  fs::path first = root_ / "journal" / log_format::SegmentFileName(1, ".jnl");
  ASSERT_TRUE(fs::exists(first));
  // The next append rolls a's segment, whose sync fails.
  FailNextSyncOf(root_ / "a" / log_format::SegmentFileName(0, ".log"));
  auto failed = AppendWait(MakeRecords(30, 5, 4000), 2000, a.get());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  // b fills the journal file, which then goes to be retired.
  AppendUntilRetired(b.get(), root_, 1);
  EXPECT_TRUE(fs::exists(first));
  EXPECT_FALSE(fs::exists(root_ / "a" / log_format::kSyncedMarkFile));

  // A power loss now: a's segment lost every write its failed sync was to
  // make durable. The journal still has them.
  fs::path copy = CrashCopy();
  fs::resize_file(copy / "a" / log_format::SegmentFileName(0, ".log"), 0);
  a.reset();
  b.reset();
  syncer_.reset();
  OpenSyncer(copy);
  auto a2 = OpenLog(copy / "a");
  ExpectRecords(ReadLog(a2.get()), want);
}

TEST_F(JournalTest, AFailedWriteLeavesNoMarkPastTheSegmentsEnd) {
  // A write that fails partway (EFBIG here) leaves the log failed, with a
  // partial batch at the segment's end. A journal file that covered the
  // segment is retired later: the mark it writes must still describe whole
  // batches the segment holds, never the one that failed.
  journal_options_.file_bytes = 64 << 10;
  options_.segment_bytes = 1 << 20;
  syncer_.reset();
  OpenSyncer(root_);
  auto a = OpenLog(root_ / "a");
  auto b = OpenLog(root_ / "b");
  AppendToAll({a.get()}, 10);
  fs::path segment = root_ / "a" / log_format::SegmentFileName(0, ".log");
  uint64_t size = fs::file_size(segment);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = size + 50;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  auto failed = AppendWait(MakeRecords(30, 5, 100), 2000, a.get());
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &old_action, nullptr), 0);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  ASSERT_EQ(fs::file_size(segment), size + 50);

  AppendUntilRetired(b.get(), root_, 1);
  EXPECT_FALSE(
      fs::exists(root_ / "journal" / log_format::SegmentFileName(1, ".jnl")));
  fs::path mark_path = root_ / "a" / log_format::kSyncedMarkFile;
  if (fs::exists(mark_path)) {
    auto mark = log_format::ParseSyncedMark(ReadFile(mark_path));
    ASSERT_TRUE(mark.has_value());
    EXPECT_LE(mark->size, size);
    EXPECT_LT(mark->last_batch.offset, 30u);
  }
  // Reopened, the log drops the partial batch and goes on from offset 30.
  a.reset();
  a = OpenLog(root_ / "a");
  EXPECT_EQ(a->end_offset(), 30u);
  EXPECT_EQ(fs::file_size(segment), size);
}

TEST_F(JournalTest, ARelaxedLogMayCloseOnceItsAppendsAreAcknowledged) {
  // In a round of strict and relaxed logs, the relaxed ones are
  // acknowledged first, and may be closed and freed while the round's
  // journal flush and the strict logs' callbacks are still to come: the
  // writer must not look at them again (AddressSanitizer catches it).
  auto strict = OpenLog(root_ / "s");
  LogOptions relaxed_options = options_;
  relaxed_options.sync = false;
  auto relaxed = Log::Open(root_ / "r", relaxed_options, syncer_.get());
  ASSERT_TRUE(relaxed.ok());
  Gate hold;
  std::promise<void> held;
  strict->Append({}, 1, [&](Result<uint64_t>) {
    held.set_value();
    hold.Wait();
  });
  held.get_future().wait();
  // Queued behind it, one round: the strict log first, then the relaxed.
  Gate closed;
  std::promise<void> relaxed_acked;
  std::promise<void> strict_acked;
  strict->Append(MakeRecords(0, 1), 1, [&](Result<uint64_t> r) {
    EXPECT_TRUE(r.ok());
    closed.Wait();
    strict_acked.set_value();
  });
  (*relaxed)->Append(MakeRecords(0, 1), 1, [&](Result<uint64_t> r) {
    EXPECT_TRUE(r.ok());
    relaxed_acked.set_value();
  });
  hold.Open();
  relaxed_acked.get_future().wait();
  relaxed->reset();
  closed.Open();
  strict_acked.get_future().wait();
  EXPECT_EQ(strict->end_offset(), 1u);
}

TEST_F(JournalTest, LogsClosedAndReopenedWhileTheirFilesRetire) {
  // Small journal files and segments: retirements (each syncing segments
  // and writing their marks on the maintenance thread) overlap the logs'
  // closes (which sync and mark too) and reopens, which make a second
  // Segment object for a file an older one may still be marking. Whatever
  // mark is left, the logs reopen with every record, and a full scan finds
  // the same.
  journal_options_.file_bytes = 8 << 10;
  options_.segment_bytes = 8 << 10;
  options_.index_interval_bytes = 256;
  syncer_.reset();
  OpenSyncer(root_);
  constexpr int kLogs = 4;
  constexpr int kRounds = 12;
  constexpr int kBatches = 6;
  std::vector<std::thread> threads;
  for (int l = 0; l < kLogs; ++l) {
    threads.emplace_back([this, l] {
      fs::path dir = root_ / ("l" + std::to_string(l));
      uint64_t next = 0;
      for (int round = 0; round < kRounds; ++round) {
        auto log = Log::Open(dir, options_, syncer_.get());
        ASSERT_TRUE(log.ok()) << log.status().ToString();
        ASSERT_EQ((*log)->end_offset(), next);
        for (int b = 0; b < kBatches; ++b) {
          auto r =
              AppendWait(MakeRecords(next, 3, 100), 1000 + next, log->get());
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          next += 3;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  syncer_.reset();
  OpenSyncer(root_);
  EXPECT_EQ(syncer_->replayed_batches(), 0u);
  for (int l = 0; l < kLogs; ++l) {
    fs::path dir = root_ / ("l" + std::to_string(l));
    constexpr uint64_t kRecords = 3 * kRounds * kBatches;
    auto log = OpenLog(dir);
    auto got = ReadLog(log.get());
    ASSERT_EQ(got.size(), kRecords);
    for (uint64_t i = 0; i < kRecords; ++i) {
      EXPECT_EQ(got[i].key, "key" + std::to_string(i));
      EXPECT_EQ(got[i].value, ValueFor(i, 100));
    }
    log.reset();
    std::string index_after_mark = ReadFile(
        dir / log_format::SegmentFileName(SegmentBasesOf(dir).back(), ".idx"));
    fs::remove(dir / log_format::kSyncedMarkFile);
    log = OpenLog(dir);
    EXPECT_EQ(log->end_offset(), kRecords);
    log.reset();
    EXPECT_EQ(ReadFile(dir / log_format::SegmentFileName(
                                 SegmentBasesOf(dir).back(), ".idx")),
              index_after_mark);
  }
}

TEST_F(JournalTest, ADiscardedLogGetsNoMarkFromARetirementStillRunning) {
  // A journal file's retirement may still hold a log's segment when the
  // log is discarded for its directory to be removed: it must write no
  // synced mark there once Discard has returned (a mark arriving during
  // the removal made it fail, "directory not empty", and left files).
  journal_options_.file_bytes = 64 << 10;
  syncer_.reset();
  OpenSyncer(root_);
  auto other = OpenLog(root_ / "other");
  auto log = OpenLog(root_ / "d");
  for (int b = 0; b < 4; ++b) {
    ASSERT_TRUE(AppendWait(MakeRecords(3 * b, 3), 1, log.get()).ok());
  }
  // Fills the journal file; the next round retires it, and the retirement
  // is held in its sync of the log's segment.
  ASSERT_TRUE(AppendWait(MakeRecords(0, 3, 30000), 1, other.get()).ok());
  HoldNextSyncOf(root_ / "d" / log_format::SegmentFileName(0, ".log"));
  ASSERT_TRUE(AppendWait(MakeRecords(3, 1), 2, other.get()).ok());
  ASSERT_TRUE(WaitUntilSyncHeld());
  log->Discard();
  ReleaseHeldSync();
  fs::path first = root_ / "journal" / log_format::SegmentFileName(1, ".jnl");
  for (int i = 0; i < 400 && fs::exists(first); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(fs::exists(first));
  EXPECT_FALSE(fs::exists(root_ / "d" / log_format::kSyncedMarkFile));
  EXPECT_FALSE(fs::exists(root_ / "d" / "synced.tmp"));
  log.reset();
  EXPECT_FALSE(fs::exists(root_ / "d" / log_format::kSyncedMarkFile));
}

TEST_F(JournalTest, ACloseOvertakingARetirementLeavesTheLargerMark) {
  // A retirement took its mark of the segment when its file was full, and
  // is held in its sync while the log appends more and closes: the close's
  // mark (the whole segment) is what stays, not the retirement's older one.
  journal_options_.file_bytes = 64 << 10;
  syncer_.reset();
  OpenSyncer(root_);
  auto other = OpenLog(root_ / "other");
  auto log = OpenLog(root_ / "d");
  ASSERT_TRUE(AppendWait(MakeRecords(0, 3), 1, log.get()).ok());
  ASSERT_TRUE(AppendWait(MakeRecords(0, 3, 30000), 1, other.get()).ok());
  fs::path segment = root_ / "d" / log_format::SegmentFileName(0, ".log");
  HoldNextSyncOf(segment);
  ASSERT_TRUE(AppendWait(MakeRecords(3, 1), 2, other.get()).ok());
  ASSERT_TRUE(WaitUntilSyncHeld());
  uint64_t retired_size = fs::file_size(segment);
  for (int b = 1; b < 5; ++b) {
    ASSERT_TRUE(AppendWait(MakeRecords(3 * b, 3), 3, log.get()).ok());
  }
  std::thread closer([&] { log.reset(); });  // its sync waits for the held one
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ReleaseHeldSync();
  closer.join();
  fs::path first = root_ / "journal" / log_format::SegmentFileName(1, ".jnl");
  for (int i = 0; i < 400 && fs::exists(first); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto mark = log_format::ParseSyncedMark(
      ReadFile(root_ / "d" / log_format::kSyncedMarkFile));
  ASSERT_TRUE(mark.has_value());
  EXPECT_LT(retired_size, fs::file_size(segment));
  EXPECT_EQ(mark->size, fs::file_size(segment));
  EXPECT_EQ(mark->last_batch.offset, 12u);
  log = OpenLog(root_ / "d");
  EXPECT_EQ(log->end_offset(), 15u);
}

TEST_F(JournalTest, RelaxedLogsSkipTheJournal) {
  options_.sync = false;
  auto a = OpenLog(root_ / "a");
  AppendToAll({a.get()}, 10);
  EXPECT_EQ(syncer_->sync_count(), 0u);
  EXPECT_EQ(a->end_offset(), 30u);
}

TEST_F(JournalTest, OneOpenerPerJournal) {
  auto second = LogSyncer::Open(root_ / "journal");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace riffle::storage
