#include "storage/log/log_format.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/bytes.h"
#include "core/crc32c.h"

namespace riffle::storage::log_format {
namespace {

constexpr char kIndexMagic[4] = {'R', 'I', 'D', 'X'};

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

uint32_t BatchCrc(const char* p, size_t length) {
  // Records first: see EncodeBatch.
  uint32_t crc = crc32c::Value(p + kBatchHeaderSize, length - kBatchHeaderSize);
  return crc32c::Extend(crc, p + kLengthPos, kBatchHeaderSize - kLengthPos);
}

}  // namespace

Result<std::string> EncodeBatch(const std::vector<LogRecord>& records) {
  if (records.empty()) return InvalidArgument("a batch needs a record");
  uint64_t size = kBatchHeaderSize;
  for (const LogRecord& r : records) {
    size += VarintLength(r.key.size()) + r.key.size() +
            VarintLength(r.value.size()) + r.value.size();
  }
  if (size > kMaxBatchBytes || records.size() > UINT32_MAX) {
    return InvalidArgument("batch of " + std::to_string(size) +
                           " bytes exceeds the log's limit of " +
                           std::to_string(kMaxBatchBytes));
  }
  std::string out;
  out.reserve(size);
  out.resize(kBatchHeaderSize);  // zeroes flags, reserved, offset, time
  for (const LogRecord& r : records) {
    bytes::PutLengthPrefixed(&out, r.key);
    bytes::PutLengthPrefixed(&out, r.value);
  }
  char* p = out.data();
  bytes::EncodeFixed32(p + kLengthPos, static_cast<uint32_t>(size));
  p[kFormatPos] = static_cast<char>(BatchFormat::kV1);
  bytes::EncodeFixed32(p + kCountPos, static_cast<uint32_t>(records.size()));
  // The CRC field holds the records' CRC until FinishBatch extends it over
  // the header.
  bytes::EncodeFixed32(p + kCrcPos, crc32c::Value(p + kBatchHeaderSize,
                                                  size - kBatchHeaderSize));
  return out;
}

void FinishBatch(std::string* batch, uint64_t base_offset,
                 int64_t timestamp_ms) {
  char* p = batch->data();
  bytes::EncodeFixed64(p + kBaseOffsetPos, base_offset);
  bytes::EncodeFixed64(p + kTimestampPos, static_cast<uint64_t>(timestamp_ms));
  uint32_t crc = bytes::DecodeFixed32(p + kCrcPos);
  crc = crc32c::Extend(crc, p + kLengthPos, kBatchHeaderSize - kLengthPos);
  bytes::EncodeFixed32(p + kCrcPos, crc);
}

std::optional<BatchHeader> ParseBatchHeader(const char* p) {
  if (static_cast<uint8_t>(p[kFormatPos]) !=
          static_cast<uint8_t>(BatchFormat::kV1) ||
      p[kFlagsPos] != 0 || p[kReservedPos] != 0 || p[kReservedPos + 1] != 0) {
    return std::nullopt;
  }
  BatchHeader h;
  h.crc = bytes::DecodeFixed32(p + kCrcPos);
  h.length = bytes::DecodeFixed32(p + kLengthPos);
  h.record_count = bytes::DecodeFixed32(p + kCountPos);
  h.base_offset = bytes::DecodeFixed64(p + kBaseOffsetPos);
  h.timestamp_ms =
      static_cast<int64_t>(bytes::DecodeFixed64(p + kTimestampPos));
  // Each record takes at least two length bytes.
  if (h.record_count == 0 || h.length > kMaxBatchBytes ||
      h.length < kBatchHeaderSize + 2ull * h.record_count ||
      h.base_offset > UINT64_MAX - h.record_count) {
    return std::nullopt;
  }
  return h;
}

bool BatchCrcOk(std::string_view batch) {
  if (batch.size() < kBatchHeaderSize) return false;
  return bytes::DecodeFixed32(batch.data() + kCrcPos) ==
         BatchCrc(batch.data(), batch.size());
}

bool RecordsWellFormed(std::string_view batch, uint32_t record_count) {
  std::string_view in = batch.substr(kBatchHeaderSize);
  for (uint32_t i = 0; i < record_count; ++i) {
    if (!bytes::GetLengthPrefixed(&in) || !bytes::GetLengthPrefixed(&in)) {
      return false;
    }
  }
  return in.empty();
}

bool DecodeRecords(std::string_view batch, const BatchHeader& header,
                   uint64_t from, size_t max_records, size_t max_bytes,
                   std::vector<StoredRecord>* out, size_t* bytes, bool* full) {
  std::string_view in = batch.substr(kBatchHeaderSize);
  for (uint32_t i = 0; i < header.record_count; ++i) {
    auto key = bytes::GetLengthPrefixed(&in);
    if (!key) return false;
    auto value = bytes::GetLengthPrefixed(&in);
    if (!value) return false;
    uint64_t offset = header.base_offset + i;
    if (offset < from) continue;
    size_t size = key->size() + value->size();
    if (out->size() >= max_records ||
        (!out->empty() && *bytes + size > max_bytes)) {
      *full = true;
      return true;
    }
    StoredRecord& r = out->emplace_back();
    r.offset = offset;
    r.timestamp_ms = header.timestamp_ms;
    r.key.assign(*key);
    r.value.assign(*value);
    *bytes += size;
  }
  return in.empty();
}

void AppendJournalEntry(std::string* out, JournalEntryType type,
                        uint64_t file_seq, uint64_t log_id,
                        std::string_view payload) {
  size_t start = out->size();
  bytes::PutFixed32(out, 0);  // crc, below
  bytes::PutFixed32(out,
                    static_cast<uint32_t>(kJournalHeaderSize + payload.size()));
  out->push_back(static_cast<char>(type));
  out->append(7, '\0');
  bytes::PutFixed64(out, file_seq);
  bytes::PutFixed64(out, log_id);
  uint32_t crc = crc32c::Value(out->data() + start + 4, kJournalHeaderSize - 4);
  if (type == JournalEntryType::kLog) {
    crc = crc32c::Extend(crc, payload.data(), payload.size());
  }
  out->append(payload);
  char* p = out->data() + start;
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(crc >> (8 * i));
}

std::optional<JournalEntry> ParseJournalEntry(std::string_view data,
                                              uint64_t file_seq) {
  if (data.size() < kJournalHeaderSize) return std::nullopt;
  const char* p = data.data();
  uint32_t length = bytes::DecodeFixed32(p + 4);
  auto type = static_cast<JournalEntryType>(static_cast<uint8_t>(p[8]));
  if (length < kJournalHeaderSize || length > data.size() ||
      bytes::DecodeFixed64(p + 16) != file_seq ||
      std::any_of(p + 9, p + 16, [](char c) { return c != 0; })) {
    return std::nullopt;
  }
  std::string_view payload =
      data.substr(kJournalHeaderSize, length - kJournalHeaderSize);
  uint32_t crc = crc32c::Value(p + 4, kJournalHeaderSize - 4);
  switch (type) {
    case JournalEntryType::kLog:
      if (payload.empty() || payload.size() > kMaxJournalPathBytes) {
        return std::nullopt;
      }
      crc = crc32c::Extend(crc, payload.data(), payload.size());
      break;
    case JournalEntryType::kBatch: {
      if (payload.size() < kBatchHeaderSize) return std::nullopt;
      auto h = ParseBatchHeader(payload.data());
      if (!h || h->length != payload.size() || !BatchCrcOk(payload) ||
          !RecordsWellFormed(payload, h->record_count)) {
        return std::nullopt;
      }
      break;
    }
    default:
      return std::nullopt;
  }
  if (crc != bytes::DecodeFixed32(p)) return std::nullopt;
  return JournalEntry{type, bytes::DecodeFixed64(p + 24), payload, length};
}

std::string IndexFileHeader() {
  std::string out(kIndexMagic, sizeof(kIndexMagic));
  bytes::PutFixed32(&out, kIndexVersion);
  return out;
}

void AppendIndexEntry(std::string* out, const IndexEntry& entry) {
  size_t start = out->size();
  bytes::PutFixed64(out, entry.offset);
  bytes::PutFixed64(out, entry.position);
  bytes::PutFixed64(out, static_cast<uint64_t>(entry.timestamp_ms));
  bytes::PutFixed32(out, crc32c::Value(out->data() + start, 24));
  bytes::PutFixed32(out, 0);
}

std::optional<std::vector<IndexEntry>> ParseIndexFile(std::string_view file) {
  if (file.size() < kIndexHeaderSize ||
      file.substr(0, sizeof(kIndexMagic)) !=
          std::string_view(kIndexMagic, sizeof(kIndexMagic)) ||
      bytes::DecodeFixed32(file.data() + 4) != kIndexVersion ||
      (file.size() - kIndexHeaderSize) % kIndexEntrySize != 0) {
    return std::nullopt;
  }
  std::vector<IndexEntry> entries;
  entries.reserve((file.size() - kIndexHeaderSize) / kIndexEntrySize);
  for (size_t pos = kIndexHeaderSize; pos < file.size();
       pos += kIndexEntrySize) {
    const char* p = file.data() + pos;
    if (bytes::DecodeFixed32(p + 24) != crc32c::Value(p, 24) ||
        bytes::DecodeFixed32(p + 28) != 0) {
      return std::nullopt;
    }
    IndexEntry e{bytes::DecodeFixed64(p), bytes::DecodeFixed64(p + 8),
                 static_cast<int64_t>(bytes::DecodeFixed64(p + 16))};
    if (!entries.empty() && (e.offset <= entries.back().offset ||
                             e.position <= entries.back().position ||
                             e.timestamp_ms < entries.back().timestamp_ms)) {
      return std::nullopt;
    }
    entries.push_back(e);
  }
  return entries;
}

uint64_t IndexLookup(const std::vector<IndexEntry>& index, uint64_t offset) {
  auto it = std::upper_bound(
      index.begin(), index.end(), offset,
      [](uint64_t o, const IndexEntry& e) { return o < e.offset; });
  return it == index.begin() ? 0 : std::prev(it)->position;
}

std::optional<IndexEntry> SparseIndexer::OnBatch(uint64_t offset,
                                                 uint64_t position,
                                                 int64_t timestamp_ms) {
  last_batch_ = IndexEntry{offset, position, timestamp_ms};
  if (last_indexed_ && position - last_indexed_->position < interval_bytes_) {
    return std::nullopt;
  }
  last_indexed_ = last_batch_;
  return last_batch_;
}

std::optional<IndexEntry> SparseIndexer::OnSeal() {
  if (!last_batch_ || last_batch_ == last_indexed_) return std::nullopt;
  last_indexed_ = last_batch_;
  return last_batch_;
}

void SparseIndexer::Resume(const IndexEntry& last_indexed,
                           const IndexEntry& last_batch) {
  last_indexed_ = last_indexed;
  last_batch_ = last_batch;
}

namespace {
constexpr char kSyncedMarkMagic[4] = {'R', 'S', 'Y', 'N'};
constexpr uint32_t kSyncedMarkVersion = 1;

void PutEntry(std::string* out, const IndexEntry& e) {
  bytes::PutFixed64(out, e.offset);
  bytes::PutFixed64(out, e.position);
  bytes::PutFixed64(out, static_cast<uint64_t>(e.timestamp_ms));
}

IndexEntry DecodeEntry(const char* p) {
  return IndexEntry{bytes::DecodeFixed64(p), bytes::DecodeFixed64(p + 8),
                    static_cast<int64_t>(bytes::DecodeFixed64(p + 16))};
}
}  // namespace

std::string EncodeSyncedMark(const SyncedMark& m) {
  std::string out(kSyncedMarkMagic, sizeof(kSyncedMarkMagic));
  bytes::PutFixed32(&out, kSyncedMarkVersion);
  bytes::PutFixed64(&out, m.log_id);
  bytes::PutFixed64(&out, m.base_offset);
  bytes::PutFixed64(&out, m.size);
  PutEntry(&out, m.last_batch);
  PutEntry(&out, m.last_indexed);
  bytes::PutFixed32(&out, crc32c::Value(out.data(), out.size()));
  return out;
}

std::optional<SyncedMark> ParseSyncedMark(std::string_view file) {
  if (file.size() != kSyncedMarkSize ||
      file.substr(0, sizeof(kSyncedMarkMagic)) !=
          std::string_view(kSyncedMarkMagic, sizeof(kSyncedMarkMagic)) ||
      bytes::DecodeFixed32(file.data() + 4) != kSyncedMarkVersion ||
      bytes::DecodeFixed32(file.data() + 80) !=
          crc32c::Value(file.data(), 80)) {
    return std::nullopt;
  }
  const char* p = file.data();
  SyncedMark m;
  m.log_id = bytes::DecodeFixed64(p + 8);
  m.base_offset = bytes::DecodeFixed64(p + 16);
  m.size = bytes::DecodeFixed64(p + 24);
  m.last_batch = DecodeEntry(p + 32);
  m.last_indexed = DecodeEntry(p + 56);
  return m;
}

std::string SegmentFileName(uint64_t base_offset, std::string_view extension) {
  std::string digits = std::to_string(base_offset);
  std::string name(20 - digits.size(), '0');
  name += digits;
  name += extension;
  return name;
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name,
                                             std::string_view extension) {
  if (name.size() != 20 + extension.size() || name.substr(20) != extension) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

BatchScanner::BatchScanner(int fd, uint64_t position, uint64_t limit,
                           size_t first_chunk, size_t max_chunk)
    : fd_(fd),
      position_(position),
      limit_(limit),
      next_chunk_(std::max(first_chunk, kBatchHeaderSize)),
      max_chunk_(std::max(max_chunk, first_chunk)) {}

bool BatchScanner::Fill(size_t need) {
  size_t have = tail_ - head_;
  if (have >= need) return true;
  if (limit_ - position_ < need) return false;  // the range is too short
  size_t want = std::max(need, next_chunk_);
  if (capacity_ < want) {
    auto bigger = std::make_unique_for_overwrite<char[]>(want);
    if (have > 0) std::memcpy(bigger.get(), buffer_.get() + head_, have);
    buffer_ = std::move(bigger);
    capacity_ = want;
  } else if (head_ > 0 && have > 0) {
    std::memmove(buffer_.get(), buffer_.get() + head_, have);
  }
  head_ = 0;
  tail_ = have;
  next_chunk_ = std::min(next_chunk_ * 2, max_chunk_);
  uint64_t file_pos = position_ + have;
  size_t to_read = static_cast<size_t>(
      std::min<uint64_t>(capacity_ - tail_, limit_ - file_pos));
  while (tail_ - head_ < need) {
    ssize_t n = ::pread(fd_, buffer_.get() + tail_, to_read,
                        static_cast<off_t>(file_pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = std::string("pread: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) return false;  // the file is shorter than the range
    tail_ += static_cast<size_t>(n);
    file_pos += static_cast<uint64_t>(n);
    to_read -= static_cast<size_t>(n);
  }
  return true;
}

BatchScanner::Outcome BatchScanner::Next(BatchView* view) {
  if (position_ >= limit_) return Outcome::kEnd;
  if (!Fill(kBatchHeaderSize)) {
    return error_.empty() ? Outcome::kTorn : Outcome::kIoError;
  }
  std::optional<BatchHeader> header = ParseBatchHeader(buffer_.get() + head_);
  if (!header) return Outcome::kCorrupt;
  if (!Fill(header->length)) {
    return error_.empty() ? Outcome::kTorn : Outcome::kIoError;
  }
  view->header = *header;
  view->position = position_;
  view->data = std::string_view(buffer_.get() + head_, header->length);
  head_ += header->length;
  position_ += header->length;
  return Outcome::kBatch;
}

}  // namespace riffle::storage::log_format
