#include "storage/kv/kv.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "core/metrics.h"

namespace riffle::kv {
namespace {

// Indexed by Family. On disk: never rename.
constexpr std::array<std::string_view, kFamilyCount> kFamilyNames = {
    "metadata", "tables", "registry", "checkpoints", "leases"};

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return NotFound(s.ToString());
  if (s.IsCorruption()) return DataLoss(s.ToString());
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
    return Unavailable(s.ToString());
  }
  return Internal(s.ToString());
}

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

class RocksSnapshot final : public Snapshot {
 public:
  RocksSnapshot(rocksdb::DB* db, const rocksdb::Snapshot* snapshot)
      : db_(db), snapshot_(snapshot) {}
  ~RocksSnapshot() override { db_->ReleaseSnapshot(snapshot_); }
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

// Owns the RocksDB iterator and the bound strings it points into (RocksDB
// keeps Slice pointers to iterate_lower_bound/upper_bound).
class RocksIterator final : public Iterator {
 public:
  RocksIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                const ReadOptions& options)
      : lower_(options.lower_bound), upper_(options.upper_bound) {
    rocksdb::ReadOptions ro;
    if (options.snapshot != nullptr) {
      ro.snapshot = static_cast<const RocksSnapshot*>(options.snapshot)->get();
    }
    ro.fill_cache = options.fill_cache;
    if (!lower_.empty()) {
      lower_slice_ = rocksdb::Slice(lower_);
      ro.iterate_lower_bound = &lower_slice_;
    }
    if (!upper_.empty()) {
      upper_slice_ = rocksdb::Slice(upper_);
      ro.iterate_upper_bound = &upper_slice_;
    }
    it_.reset(db->NewIterator(ro, cf));
  }

  bool Valid() const override { return it_->Valid(); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  void Seek(std::string_view target) override { it_->Seek(ToSlice(target)); }
  void SeekForPrev(std::string_view target) override {
    it_->SeekForPrev(ToSlice(target));
  }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override { return ToView(it_->key()); }
  std::string_view value() const override { return ToView(it_->value()); }
  Status status() const override { return FromRocks(it_->status()); }

 private:
  std::string lower_;
  std::string upper_;
  rocksdb::Slice lower_slice_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

struct PendingWrite {
  WriteBatch batch;
  Store::WriteCallback done;
};

// Invariant: handles_[i] is the handle of Family i; extra_handles_ hold
// families this build does not know, kept open because RocksDB requires
// every family of a database to be opened.
class RocksStore final : public Store {
 public:
  RocksStore(const Options& options, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles,
             std::vector<rocksdb::ColumnFamilyHandle*> extra)
      : options_(options),
        db_(std::move(db)),
        handles_(std::move(handles)),
        extra_handles_(std::move(extra)),
        batches_metric_(metrics::Global().GetCounter(
            "riffle_kv_batches_total", {},
            "Write batches acknowledged by the key-value store")),
        writes_metric_(metrics::Global().GetCounter(
            "riffle_kv_group_writes_total", {},
            "Group-committed RocksDB writes (one sync each when strict)")),
        write_latency_(metrics::Global().GetHistogram(
            "riffle_kv_group_write_seconds", {},
            "Duration of one group-committed RocksDB write")) {
    writer_ = std::thread([this] { RunWriter(); });
  }

  ~RocksStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    writer_.join();
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    for (auto* h : extra_handles_) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }

  void Write(WriteBatch batch, WriteCallback done) override {
    if (batch.empty()) {
      done(Status::Ok());
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back({std::move(batch), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(Unavailable("key-value store is shutting down"));
  }

  Status WriteSync(WriteBatch batch) override {
    std::promise<Status> promise;
    auto future = promise.get_future();
    Write(std::move(batch),
          [&promise](Status s) { promise.set_value(std::move(s)); });
    return future.get();
  }

  Result<std::string> Get(Family family, std::string_view key,
                          const ReadOptions& options) override {
    rocksdb::ReadOptions ro;
    if (options.snapshot != nullptr) {
      ro.snapshot = static_cast<const RocksSnapshot*>(options.snapshot)->get();
    }
    ro.fill_cache = options.fill_cache;
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(ro, Handle(family), ToSlice(key), &value);
    if (s.IsNotFound()) return NotFound("key not found");
    if (!s.ok()) return FromRocks(s);
    return std::string(value.data(), value.size());
  }

  std::unique_ptr<Iterator> NewIterator(Family family,
                                        const ReadOptions& options) override {
    return std::make_unique<RocksIterator>(db_.get(), Handle(family), options);
  }

  std::shared_ptr<const Snapshot> GetSnapshot() override {
    return std::make_shared<RocksSnapshot>(db_.get(), db_->GetSnapshot());
  }

  Stats stats() const override {
    return {batches_.load(std::memory_order_relaxed),
            group_writes_.load(std::memory_order_relaxed)};
  }

  Status Flush() override {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> all = handles_;
    return FromRocks(db_->Flush(fo, all));
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(Family family) const {
    return handles_[static_cast<int>(family)];
  }

  // The group-commit loop: take everything queued (up to max_group_bytes),
  // write it as one RocksDB batch with one sync, acknowledge each. While a
  // sync is in flight new batches queue up and form the next group, so the
  // number of syncs adapts to the load.
  void RunWriter() {
    std::vector<PendingWrite> group;
    rocksdb::WriteBatch merged;
    while (true) {
      group.clear();
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything is written
        size_t bytes = 0;
        while (!queue_.empty() &&
               (group.empty() || bytes + queue_.front().batch.byte_size() <=
                                     options_.max_group_bytes)) {
          bytes += queue_.front().batch.byte_size();
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      merged.Clear();
      rocksdb::Status s;
      for (const PendingWrite& w : group) {
        for (const WriteBatch::Op& op : w.batch.ops()) {
          auto* cf = Handle(op.family);
          switch (op.type) {
            case WriteBatch::OpType::kPut:
              s = merged.Put(cf, op.key, op.value);
              break;
            case WriteBatch::OpType::kDelete:
              s = merged.Delete(cf, op.key);
              break;
            case WriteBatch::OpType::kDeleteRange:
              s = merged.DeleteRange(cf, op.key, op.value);
              break;
          }
          if (!s.ok()) break;
        }
        if (!s.ok()) break;
      }
      if (s.ok()) {
        rocksdb::WriteOptions wo;
        wo.sync = options_.sync;
        auto start = std::chrono::steady_clock::now();
        s = db_->Write(wo, &merged);
        write_latency_.Observe(std::chrono::duration<double>(
                                   std::chrono::steady_clock::now() - start)
                                   .count());
        group_writes_.fetch_add(1, std::memory_order_relaxed);
        writes_metric_.Add();
      }
      Status status = FromRocks(s);
      batches_.fetch_add(group.size(), std::memory_order_relaxed);
      batches_metric_.Add(group.size());
      for (PendingWrite& w : group) w.done(status);
    }
  }

  const Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> extra_handles_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingWrite> queue_;  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  std::thread writer_;

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> group_writes_{0};
  metrics::Counter& batches_metric_;
  metrics::Counter& writes_metric_;
  metrics::Histogram& write_latency_;
};

}  // namespace

std::string_view FamilyName(Family family) {
  return kFamilyNames[static_cast<int>(family)];
}

void WriteBatch::Put(Family family, std::string_view key,
                     std::string_view value) {
  ops_.push_back({OpType::kPut, family, std::string(key), std::string(value)});
  bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(Family family, std::string_view key) {
  ops_.push_back({OpType::kDelete, family, std::string(key), {}});
  bytes_ += key.size();
}

void WriteBatch::DeleteRange(Family family, std::string_view begin,
                             std::string_view end) {
  ops_.push_back(
      {OpType::kDeleteRange, family, std::string(begin), std::string(end)});
  bytes_ += begin.size() + end.size();
}

std::string PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return s;
}

ReadOptions ReadOptions::Prefix(std::string_view prefix) {
  ReadOptions o;
  o.lower_bound = std::string(prefix);
  o.upper_bound = PrefixSuccessor(prefix);
  return o;
}

Result<std::unique_ptr<Store>> Store::Open(const Options& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return Internal("cannot create " + options.path + ": " + ec.message());
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  // Point-in-time recovery (the default) drops a torn WAL tail after a
  // crash and keeps everything before it, which every acknowledged write
  // is.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;

  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point lookups (GetItem, registry ids) dominate; a bloom filter spares a
  // disk read per miss.
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(table_options));
  cf_options.OptimizeLevelStyleCompaction();

  std::vector<std::string> names;
  for (auto n : kFamilyNames) names.emplace_back(n);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing)
          .ok()) {
    for (const auto& n : existing) {
      if (n == rocksdb::kDefaultColumnFamilyName) continue;
      if (std::find(names.begin(), names.end(), n) == names.end())
        names.push_back(n);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const auto& n : names) descriptors.emplace_back(n, cf_options);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s);
  std::unique_ptr<rocksdb::DB> db(raw);
  // handles[0] is "default", which riffle does not use.
  db->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
  std::vector<rocksdb::ColumnFamilyHandle*> ours(
      handles.begin() + 1, handles.begin() + 1 + kFamilyCount);
  std::vector<rocksdb::ColumnFamilyHandle*> extra(
      handles.begin() + 1 + kFamilyCount, handles.end());
  return std::unique_ptr<Store>(new RocksStore(
      options, std::move(db), std::move(ours), std::move(extra)));
}

}  // namespace riffle::kv
