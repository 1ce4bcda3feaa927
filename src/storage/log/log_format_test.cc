// Byte-level tests of the log format: these pin the layout that
// docs/formats/log.md specifies, so a change that breaks old files fails here.
#include "storage/log/log_format.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "core/bytes.h"
#include "core/crc32c.h"

namespace riffle::storage::log_format {
namespace {

std::string Batch(const std::vector<LogRecord>& records, uint64_t base,
                  int64_t ts) {
  auto b = EncodeBatch(records);
  EXPECT_TRUE(b.ok());
  FinishBatch(&*b, base, ts);
  return *b;
}

TEST(LogFormatTest, BatchLayout) {
  std::string b = Batch({{"k", "vv"}, {"", "x"}}, 0x0102030405060708ull, -5);
  ASSERT_EQ(b.size(), 32u + (1 + 1 + 1 + 2) + (1 + 0 + 1 + 1));
  EXPECT_EQ(bytes::DecodeFixed32(b.data() + 4), b.size());
  EXPECT_EQ(b[8], 1);  // BatchFormat::kV1
  EXPECT_EQ(b[9], 0);
  EXPECT_EQ(b[10], 0);
  EXPECT_EQ(b[11], 0);
  EXPECT_EQ(bytes::DecodeFixed32(b.data() + 12), 2u);
  EXPECT_EQ(bytes::DecodeFixed64(b.data() + 16), 0x0102030405060708ull);
  EXPECT_EQ(static_cast<int64_t>(bytes::DecodeFixed64(b.data() + 24)), -5);
  EXPECT_EQ(b.substr(32), std::string("\x01k\x02vv\x00\x01x", 8));
  // CRC: the records section, then header bytes 4..31.
  uint32_t crc = crc32c::Value(b.data() + 32, b.size() - 32);
  crc = crc32c::Extend(crc, b.data() + 4, 28);
  EXPECT_EQ(bytes::DecodeFixed32(b.data()), crc);
  EXPECT_TRUE(BatchCrcOk(b));

  auto h = ParseBatchHeader(b.data());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->length, b.size());
  EXPECT_EQ(h->record_count, 2u);
  EXPECT_EQ(h->base_offset, 0x0102030405060708ull);
  EXPECT_EQ(h->timestamp_ms, -5);
  EXPECT_TRUE(RecordsWellFormed(b, 2));
  EXPECT_FALSE(RecordsWellFormed(b, 1));
  EXPECT_FALSE(RecordsWellFormed(b, 3));
}

TEST(LogFormatTest, EveryFlippedByteIsDetected) {
  std::string b =
      Batch({{"key", "value"}, {"a", std::string(200, 'z')}}, 9, 77);
  for (size_t i = 0; i < b.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = b;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto h = ParseBatchHeader(bad.data());
      EXPECT_TRUE(!h || h->length != b.size() || !BatchCrcOk(bad))
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(LogFormatTest, ZeroHeaderIsInvalid) {
  char zeros[kBatchHeaderSize] = {};
  EXPECT_FALSE(ParseBatchHeader(zeros).has_value());
}

TEST(LogFormatTest, HeaderBounds) {
  std::string b = Batch({{"k", "v"}}, 0, 0);
  std::string bad = b;
  bytes::EncodeFixed32(bad.data() + kLengthPos, kMaxBatchBytes + 1);
  EXPECT_FALSE(ParseBatchHeader(bad.data()));
  bad = b;
  bytes::EncodeFixed32(bad.data() + kCountPos, 0);
  EXPECT_FALSE(ParseBatchHeader(bad.data()));
  bad = b;
  bytes::EncodeFixed32(bad.data() + kCountPos, 100);  // cannot fit
  EXPECT_FALSE(ParseBatchHeader(bad.data()));
  bad = b;
  bad[kFlagsPos] = 1;
  EXPECT_FALSE(ParseBatchHeader(bad.data()));
}

TEST(LogFormatTest, EncodeRefusesEmptyAndOversized) {
  EXPECT_EQ(EncodeBatch({}).status().code(), StatusCode::kInvalidArgument);
  std::vector<LogRecord> big = {{"", std::string(kMaxBatchBytes - 30, 'v')}};
  EXPECT_EQ(EncodeBatch(big).status().code(), StatusCode::kInvalidArgument);
}

TEST(LogFormatTest, DecodeRecordsLimits) {
  std::string b = Batch({{"a", "11"}, {"b", "22"}, {"c", "33"}}, 10, 4);
  auto h = *ParseBatchHeader(b.data());
  std::vector<StoredRecord> out;
  size_t bytes = 0;
  bool full = false;
  ASSERT_TRUE(DecodeRecords(b, h, 11, 100, 100, &out, &bytes, &full));
  EXPECT_FALSE(full);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].offset, 11u);
  EXPECT_EQ(out[0].key, "b");
  EXPECT_EQ(out[1].value, "33");
  EXPECT_EQ(out[1].timestamp_ms, 4);
  EXPECT_EQ(bytes, 6u);

  out.clear();
  bytes = 0;
  ASSERT_TRUE(DecodeRecords(b, h, 0, 100, 5, &out, &bytes, &full));
  EXPECT_TRUE(full);
  EXPECT_EQ(out.size(), 1u);  // 3 bytes each: a second would pass 5

  out.clear();
  bytes = 0;
  full = false;
  ASSERT_TRUE(DecodeRecords(b, h, 0, 2, 1000, &out, &bytes, &full));
  EXPECT_TRUE(full);
  EXPECT_EQ(out.size(), 2u);
}

TEST(LogFormatTest, IndexRoundTripAndRejects) {
  std::string file = IndexFileHeader();
  EXPECT_EQ(file, std::string("RIDX\x01\x00\x00\x00", 8));
  std::vector<IndexEntry> entries = {
      {5, 0, 100}, {9, 4096, 100}, {20, 9000, 250}};
  for (const auto& e : entries) AppendIndexEntry(&file, e);
  ASSERT_EQ(file.size(), kIndexHeaderSize + 3 * kIndexEntrySize);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 8 + 32), 9u);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 8 + 32 + 8), 4096u);
  auto parsed = ParseIndexFile(file);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, entries);

  EXPECT_TRUE(ParseIndexFile(IndexFileHeader())->empty());
  EXPECT_FALSE(ParseIndexFile(""));
  EXPECT_FALSE(ParseIndexFile(file.substr(0, file.size() - 1)));
  std::string bad = file;
  bad[0] = 'X';
  EXPECT_FALSE(ParseIndexFile(bad));
  bad = file;
  bad[8 + 32 + 3] ^= 1;
  EXPECT_FALSE(ParseIndexFile(bad));
  std::string unordered = IndexFileHeader();
  AppendIndexEntry(&unordered, {9, 10, 1});
  AppendIndexEntry(&unordered, {5, 20, 1});
  EXPECT_FALSE(ParseIndexFile(unordered));
}

TEST(LogFormatTest, SyncedMarkRoundTripAndRejects) {
  SyncedMark m{.log_id = 0xfeedULL,
               .base_offset = 4096,
               .size = 70000,
               .last_batch = {5000, 69000, -3},
               .last_indexed = {4990, 68000, -4}};
  std::string file = EncodeSyncedMark(m);
  ASSERT_EQ(file.size(), kSyncedMarkSize);
  EXPECT_EQ(file.substr(0, 8), std::string("RSYN\x01\x00\x00\x00", 8));
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 8), 0xfeedu);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 16), 4096u);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 24), 70000u);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 32), 5000u);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 40), 69000u);
  EXPECT_EQ(static_cast<int64_t>(bytes::DecodeFixed64(file.data() + 48)), -3);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 56), 4990u);
  EXPECT_EQ(bytes::DecodeFixed64(file.data() + 64), 68000u);
  EXPECT_EQ(static_cast<int64_t>(bytes::DecodeFixed64(file.data() + 72)), -4);
  EXPECT_EQ(bytes::DecodeFixed32(file.data() + 80),
            crc32c::Value(file.data(), 80));
  EXPECT_EQ(ParseSyncedMark(file), m);

  for (size_t i = 0; i < file.size(); ++i) {
    std::string bad = file;
    bad[i] ^= 0x10;
    EXPECT_EQ(ParseSyncedMark(bad), std::nullopt) << i;
  }
  EXPECT_EQ(ParseSyncedMark(file.substr(0, 40)), std::nullopt);
  EXPECT_EQ(ParseSyncedMark(file + "x"), std::nullopt);
  EXPECT_EQ(ParseSyncedMark(""), std::nullopt);
}

TEST(LogFormatTest, IndexLookup) {
  std::vector<IndexEntry> index = {{5, 0, 1}, {9, 400, 1}, {20, 900, 1}};
  EXPECT_EQ(IndexLookup(index, 5), 0u);
  EXPECT_EQ(IndexLookup(index, 8), 0u);
  EXPECT_EQ(IndexLookup(index, 9), 400u);
  EXPECT_EQ(IndexLookup(index, 19), 400u);
  EXPECT_EQ(IndexLookup(index, 1000), 900u);
  EXPECT_EQ(IndexLookup({}, 7), 0u);
}

TEST(LogFormatTest, SparseIndexer) {
  SparseIndexer ix(100);
  EXPECT_EQ(ix.OnSeal(), std::nullopt);
  EXPECT_EQ(ix.OnBatch(0, 0, 1), (IndexEntry{0, 0, 1}));  // first batch
  EXPECT_EQ(ix.OnBatch(3, 60, 2), std::nullopt);
  EXPECT_EQ(ix.OnBatch(4, 100, 3), (IndexEntry{4, 100, 3}));
  EXPECT_EQ(ix.OnBatch(6, 150, 3), std::nullopt);
  EXPECT_EQ(ix.OnSeal(), (IndexEntry{6, 150, 3}));  // last batch
  EXPECT_EQ(ix.OnSeal(), std::nullopt);
}

TEST(LogFormatTest, SegmentFileNames) {
  EXPECT_EQ(SegmentFileName(0, ".log"), "00000000000000000000.log");
  EXPECT_EQ(SegmentFileName(1234, ".idx"), "00000000000000001234.idx");
  EXPECT_EQ(SegmentFileName(UINT64_MAX, ".log"), "18446744073709551615.log");
  EXPECT_EQ(ParseSegmentFileName("00000000000000001234.log", ".log"), 1234u);
  EXPECT_EQ(ParseSegmentFileName("18446744073709551615.log", ".log"),
            UINT64_MAX);
  EXPECT_FALSE(ParseSegmentFileName("99999999999999999999.log", ".log"));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000001234.idx", ".log"));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000001234.log", ".log"));
  EXPECT_FALSE(ParseSegmentFileName("0000000000000000123a.log", ".log"));
  EXPECT_FALSE(ParseSegmentFileName("00000000000000001234.log.tmp", ".log"));
}

class BatchScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/riffle_scan_test.XXXXXX";
    fd_ = ::mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
    for (uint64_t i = 0; i < 50; ++i) {
      std::string b = Batch({{"k", std::string(i * 37 % 300, 'v')}}, i, 0);
      positions_.push_back(data_.size());
      data_ += b;
    }
    ASSERT_EQ(::write(fd_, data_.data(), data_.size()),
              static_cast<ssize_t>(data_.size()));
  }
  void TearDown() override {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  int fd_ = -1;
  std::filesystem::path path_;
  std::string data_;
  std::vector<uint64_t> positions_;
};

TEST_F(BatchScannerTest, SmallChunksGrowAndCross) {
  for (size_t chunk : {1, 7, 64, 1 << 20}) {
    BatchScanner s(fd_, 0, data_.size(), chunk, 2 * chunk);
    for (uint64_t i = 0; i < 50; ++i) {
      BatchView v;
      ASSERT_EQ(s.Next(&v), BatchScanner::Outcome::kBatch) << chunk << " " << i;
      EXPECT_EQ(v.header.base_offset, i);
      EXPECT_EQ(v.position, positions_[i]);
      EXPECT_TRUE(BatchCrcOk(v.data));
    }
    BatchView v;
    EXPECT_EQ(s.Next(&v), BatchScanner::Outcome::kEnd);
  }
}

TEST_F(BatchScannerTest, StartsMidFileAndDetectsTornAndCorrupt) {
  BatchScanner s(fd_, positions_[10], positions_[12], 64, 64);
  BatchView v;
  ASSERT_EQ(s.Next(&v), BatchScanner::Outcome::kBatch);
  EXPECT_EQ(v.header.base_offset, 10u);
  ASSERT_EQ(s.Next(&v), BatchScanner::Outcome::kBatch);
  EXPECT_EQ(s.Next(&v), BatchScanner::Outcome::kEnd);

  BatchScanner torn(fd_, positions_[48], positions_[49] + 40, 64, 1 << 20);
  ASSERT_EQ(torn.Next(&v), BatchScanner::Outcome::kBatch);
  EXPECT_EQ(torn.Next(&v), BatchScanner::Outcome::kTorn);
  EXPECT_EQ(torn.position(), positions_[49]);

  // A limit past the end of the file: the file itself is torn.
  BatchScanner past(fd_, positions_[49], data_.size() + 100, 64, 64);
  ASSERT_EQ(past.Next(&v), BatchScanner::Outcome::kBatch);
  EXPECT_EQ(past.Next(&v), BatchScanner::Outcome::kTorn);

  BatchScanner mid(fd_, positions_[3] + 1, data_.size(), 64, 64);
  EXPECT_EQ(mid.Next(&v), BatchScanner::Outcome::kCorrupt);
}

}  // namespace
}  // namespace riffle::storage::log_format
