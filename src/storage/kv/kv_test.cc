#include "storage/kv/kv.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace riffle::kv {
namespace {

namespace fs = std::filesystem;

class KvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("riffle_kv_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> Open(bool sync = true) {
    Options o;
    o.path = dir_.string();
    o.sync = sync;
    auto store = Store::Open(o);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  fs::path dir_;
};

std::string Key(int i) {
  char buf[16];
  snprintf(buf, sizeof buf, "k%06d", i);
  return buf;
}

TEST_F(KvTest, PutGetDelete) {
  auto store = Open();
  WriteBatch b;
  b.Put(Family::kTables, "a", "1");
  b.Put(Family::kMetadata, "a", "meta");
  ASSERT_TRUE(store->WriteSync(std::move(b)).ok());
  EXPECT_EQ(*store->Get(Family::kTables, "a"), "1");
  EXPECT_EQ(*store->Get(Family::kMetadata, "a"), "meta");
  // Families are separate key spaces.
  EXPECT_EQ(store->Get(Family::kLeases, "a").status().code(),
            StatusCode::kNotFound);

  WriteBatch d;
  d.Delete(Family::kTables, "a");
  ASSERT_TRUE(store->WriteSync(std::move(d)).ok());
  EXPECT_EQ(store->Get(Family::kTables, "a").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(*store->Get(Family::kMetadata, "a"), "meta");
}

TEST_F(KvTest, EmptyBatchCompletesAtOnce) {
  auto store = Open();
  bool called = false;
  store->Write(WriteBatch(), [&](Status s) {
    EXPECT_TRUE(s.ok());
    called = true;
  });
  EXPECT_TRUE(called);
}

TEST_F(KvTest, BatchIsAtomicAndVisibleInOrder) {
  auto store = Open();
  WriteBatch b;
  b.Put(Family::kTables, "x", "old");
  b.Put(Family::kTables, "x", "new");  // later op in a batch wins
  b.Put(Family::kCheckpoints, "c", "7");
  ASSERT_TRUE(store->WriteSync(std::move(b)).ok());
  EXPECT_EQ(*store->Get(Family::kTables, "x"), "new");
  EXPECT_EQ(*store->Get(Family::kCheckpoints, "c"), "7");
}

TEST_F(KvTest, IteratorsPrefixAndRange) {
  auto store = Open();
  WriteBatch b;
  for (std::string k : {"a1", "a2", "a3", "b1", "b2", "c"}) {
    b.Put(Family::kTables, k, "v" + k);
  }
  b.Put(Family::kTables, std::string("a\xff", 2), "ff");
  ASSERT_TRUE(store->WriteSync(std::move(b)).ok());

  auto it = store->NewIterator(Family::kTables, ReadOptions::Prefix("a"));
  std::vector<std::string> keys;
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a1", "a2", "a3",
                                            std::string("a\xff", 2)}));

  // Backwards within bounds.
  keys.clear();
  for (it->SeekToLast(); it->Valid(); it->Prev()) keys.emplace_back(it->key());
  EXPECT_EQ(keys.front(), std::string("a\xff", 2));
  EXPECT_EQ(keys.back(), "a1");

  ReadOptions range;
  range.lower_bound = "a2";
  range.upper_bound = "b2";
  auto r = store->NewIterator(Family::kTables, range);
  keys.clear();
  for (r->Seek("a3"); r->Valid(); r->Next()) keys.emplace_back(r->key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"a3", std::string("a\xff", 2), "b1"}));
  r->SeekForPrev("b0");
  ASSERT_TRUE(r->Valid());
  EXPECT_EQ(r->key(), std::string("a\xff", 2));
  EXPECT_EQ(r->value(), "ff");
}

TEST_F(KvTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff", 1)), "");
  EXPECT_EQ(PrefixSuccessor(""), "");
}

TEST_F(KvTest, DeleteRange) {
  auto store = Open();
  WriteBatch b;
  for (int i = 0; i < 10; ++i) b.Put(Family::kTables, Key(i), "v");
  ASSERT_TRUE(store->WriteSync(std::move(b)).ok());
  WriteBatch d;
  d.DeleteRange(Family::kTables, Key(2), Key(8));
  ASSERT_TRUE(store->WriteSync(std::move(d)).ok());
  int n = 0;
  auto it = store->NewIterator(Family::kTables);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  EXPECT_EQ(n, 4);
}

TEST_F(KvTest, SnapshotSeesThePast) {
  auto store = Open();
  WriteBatch b;
  b.Put(Family::kTables, "k", "before");
  ASSERT_TRUE(store->WriteSync(std::move(b)).ok());
  auto snap = store->GetSnapshot();
  WriteBatch c;
  c.Put(Family::kTables, "k", "after");
  c.Put(Family::kTables, "k2", "new");
  ASSERT_TRUE(store->WriteSync(std::move(c)).ok());

  ReadOptions at;
  at.snapshot = snap.get();
  EXPECT_EQ(*store->Get(Family::kTables, "k", at), "before");
  EXPECT_EQ(store->Get(Family::kTables, "k2", at).status().code(),
            StatusCode::kNotFound);
  auto it = store->NewIterator(Family::kTables, at);
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  EXPECT_EQ(n, 1);
  EXPECT_EQ(*store->Get(Family::kTables, "k"), "after");
}

TEST_F(KvTest, ReopenKeepsWritesInEveryFamily) {
  {
    auto store = Open();
    for (int f = 0; f < kFamilyCount; ++f) {
      WriteBatch b;
      for (int i = 0; i < 100; ++i) {
        b.Put(static_cast<Family>(f), Key(i),
              std::string(FamilyName(static_cast<Family>(f))));
      }
      ASSERT_TRUE(store->WriteSync(std::move(b)).ok());
    }
  }
  auto store = Open();
  for (int f = 0; f < kFamilyCount; ++f) {
    for (int i = 0; i < 100; ++i) {
      auto v = store->Get(static_cast<Family>(f), Key(i));
      ASSERT_TRUE(v.ok()) << f << " " << i;
      EXPECT_EQ(*v, FamilyName(static_cast<Family>(f)));
    }
  }
  // Flushed to SST files, then reopened again.
  ASSERT_TRUE(store->Flush().ok());
  store.reset();
  store = Open();
  EXPECT_EQ(*store->Get(Family::kLeases, Key(99)), "leases");
}

// Many writers at once share syncs: fewer RocksDB writes than batches, and
// every callback runs exactly once with OK.
TEST_F(KvTest, ConcurrentWritersAreGroupCommitted) {
  auto store = Open();
  constexpr int kThreads = 8, kPerThread = 200;
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  std::latch start(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch b;
        b.Put(Family::kTables, Key(t * kPerThread + i), "v");
        store->Write(std::move(b), [&](Status s) {
          EXPECT_TRUE(s.ok());
          acked.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  store.reset();  // completes the queue
  EXPECT_EQ(acked.load(), kThreads * kPerThread);
  store = Open();
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    ASSERT_TRUE(store->Get(Family::kTables, Key(i)).ok()) << i;
  }
}

TEST_F(KvTest, GroupCommitSharesSyncs) {
  auto store = Open();
  constexpr int kBatches = 2000;
  std::atomic<int> acked{0};
  for (int i = 0; i < kBatches; ++i) {
    WriteBatch b;
    b.Put(Family::kTables, Key(i), "v");
    store->Write(std::move(b), [&](Status) { acked.fetch_add(1); });
  }
  while (acked.load() < kBatches) std::this_thread::yield();
  Stats s = store->stats();
  EXPECT_EQ(s.batches, uint64_t{kBatches});
  EXPECT_LT(s.group_writes, uint64_t{kBatches});
}

TEST_F(KvTest, RelaxedDurability) {
  {
    auto store = Open(/*sync=*/false);
    WriteBatch b;
    b.Put(Family::kRegistry, "s", "1");
    ASSERT_TRUE(store->WriteSync(std::move(b)).ok());
  }
  auto store = Open(/*sync=*/false);
  EXPECT_EQ(*store->Get(Family::kRegistry, "s"), "1");
}

TEST_F(KvTest, OpenFailsCleanlyOnAFile) {
  fs::create_directories(dir_.parent_path());
  {
    FILE* f = fopen(dir_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
  }
  Options o;
  o.path = dir_.string();
  EXPECT_FALSE(Store::Open(o).ok());
  fs::remove(dir_);
}

// A child process writes and reports each key as soon as its callback says
// it is durable; the parent SIGKILLs it mid-stream, reopens the database
// and finds every acknowledged key. (A process kill keeps the page cache,
// so this checks that acknowledgement follows the WAL write and that
// recovery of a torn WAL tail keeps everything acknowledged; power loss is
// covered by sync=true, which this test also runs under.)
TEST_F(KvTest, KilledWriterLosesNoAcknowledgedWrite) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    Options o;
    o.path = dir_.string();
    auto store = Store::Open(o);
    if (!store.ok()) _exit(2);
    for (int i = 0;; ++i) {
      WriteBatch b;
      b.Put(Family::kTables, Key(i), std::string(100, 'x'));
      b.Put(Family::kMetadata, Key(i), "m");
      (*store)->Write(std::move(b), [fd = fds[1], i](Status s) {
        if (!s.ok()) _exit(3);
        int32_t v = i;
        if (write(fd, &v, sizeof v) != sizeof v) _exit(4);
      });
      if (i % 64 == 63) usleep(100);
    }
  }
  close(fds[1]);
  std::set<int> acked;
  int32_t v;
  while (acked.size() < 3000 && read(fds[0], &v, sizeof v) == sizeof v)
    acked.insert(v);
  kill(pid, SIGKILL);
  // Acknowledgements already in the pipe count too.
  while (read(fds[0], &v, sizeof v) == sizeof v) acked.insert(v);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  ASSERT_GE(acked.size(), 3000u);

  auto store = Open();
  for (int i : acked) {
    ASSERT_TRUE(store->Get(Family::kTables, Key(i)).ok())
        << "lost acknowledged key " << i;
    ASSERT_TRUE(store->Get(Family::kMetadata, Key(i)).ok())
        << "lost half a batch " << i;
  }
}

}  // namespace
}  // namespace riffle::kv
