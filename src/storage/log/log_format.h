// The byte layout of log segments (.log) and their sparse indexes (.idx),
// and the code that encodes, checks and scans them. The layout is specified
// in docs/formats/log.md; change both together.
//
// Free functions are stateless and thread-safe. SparseIndexer and
// BatchScanner are plain values: one owner, not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/log/log.h"

namespace riffle::storage::log_format {

// Batch header, little-endian:
//   0  u32 crc           CRC32C of the records section, then of bytes 4..31
//   4  u32 length        of the whole batch, header included
//   8  u8  format        BatchFormat
//   9  u8  flags         0 in kV1
//  10  u16 reserved      0
//  12  u32 record_count  >= 1
//  16  u64 base_offset   offset of the batch's first record
//  24  i64 timestamp_ms  arrival time shared by all records of the batch
//  32  records: count x (varint key length, key, varint value length, value)
inline constexpr size_t kBatchHeaderSize = 32;
inline constexpr size_t kCrcPos = 0;
inline constexpr size_t kLengthPos = 4;
inline constexpr size_t kFormatPos = 8;
inline constexpr size_t kFlagsPos = 9;
inline constexpr size_t kReservedPos = 10;
inline constexpr size_t kCountPos = 12;
inline constexpr size_t kBaseOffsetPos = 16;
inline constexpr size_t kTimestampPos = 24;

// Larger batches are refused on append and treated as corrupt on read, so a
// damaged length can never make a reader allocate gigabytes.
inline constexpr uint32_t kMaxBatchBytes = 64u << 20;

// Reaches disk: values are never renumbered. 0 is never valid, so that a
// zero-filled tail (a file extended but never written) reads as corrupt.
enum class BatchFormat : uint8_t {
  kV1 = 1,
};

struct BatchHeader {
  uint32_t crc = 0;
  uint32_t length = 0;
  uint32_t record_count = 0;
  uint64_t base_offset = 0;
  int64_t timestamp_ms = 0;
};

// Serializes `records` as a batch whose offset and timestamp are filled in
// later by FinishBatch. The records' bytes are copied once and checksummed
// here, so that an appender can do the expensive part before it takes the
// lock that assigns offsets. InvalidArgument when there are no records or
// the batch would exceed kMaxBatchBytes.
Result<std::string> EncodeBatch(const std::vector<LogRecord>& records);

// Sets the batch's offset and timestamp and its final CRC. Cost is
// independent of the batch size.
void FinishBatch(std::string* batch, uint64_t base_offset,
                 int64_t timestamp_ms);

// Parses and sanity-checks the 32 header bytes at `p` (format, flags, count,
// length bounds); nullopt when they cannot start a valid batch.
std::optional<BatchHeader> ParseBatchHeader(const char* p);

// Whether the stored CRC of a complete batch matches its bytes.
bool BatchCrcOk(std::string_view batch);

// Whether the records section holds exactly record_count well-formed
// records. Implied for batches whose CRC matches, unless the writer was
// buggy; recovery checks it anyway before trusting a batch.
bool RecordsWellFormed(std::string_view batch, uint32_t record_count);

// Appends to `out` the records of `batch` whose offsets are >= `from`,
// stopping once `out` holds `max_records` or the next record would take
// `*bytes` (key+value bytes already in `out`) past `max_bytes` while `out` is
// not empty. Sets `*full` when it stopped for a limit. Returns false when the
// records section is malformed.
bool DecodeRecords(std::string_view batch, const BatchHeader& header,
                   uint64_t from, size_t max_records, size_t max_bytes,
                   std::vector<StoredRecord>* out, size_t* bytes, bool* full);

// Journal entry (docs/formats/log.md, "Journal"), little-endian:
//   0  u32 crc        CRC32C of bytes 4..31, then of the payload of a kLog
//                     entry (a kBatch payload carries its own CRC)
//   4  u32 length     of the whole entry, header included
//   8  u8  type       JournalEntryType
//   9  u8  reserved   7 bytes of 0
//  16  u64 file_seq   sequence number of the journal file holding the entry
//  24  u64 log_id     the log it belongs to (its log.id)
//  32  payload        kLog: the log's directory, relative to the journal's;
//                     kBatch: one batch, byte for byte as in the segment
inline constexpr size_t kJournalHeaderSize = 32;
inline constexpr size_t kMaxJournalPathBytes = 4096;

// Reaches disk: values are never renumbered; 0 (a zero-filled, preallocated
// region) is never valid.
enum class JournalEntryType : uint8_t {
  kLog = 1,
  kBatch = 2,
};

struct JournalEntry {
  JournalEntryType type = JournalEntryType::kLog;
  uint64_t log_id = 0;
  std::string_view payload;  // points into the parsed bytes
  size_t length = 0;         // of the whole entry
};

// Appends one entry to `out`; for kBatch, `payload` is a finished batch.
void AppendJournalEntry(std::string* out, JournalEntryType type,
                        uint64_t file_seq, uint64_t log_id,
                        std::string_view payload);

// The entry at the start of `data`, when it is whole and valid and belongs
// to journal file `file_seq`; nullopt marks the end of the file's entries
// (a torn or zero-filled tail, or an entry left by an earlier use of the
// bytes). A kBatch entry is valid only if its batch is (header, CRC,
// records).
std::optional<JournalEntry> ParseJournalEntry(std::string_view data,
                                              uint64_t file_seq);

// Index file: an 8-byte header ("RIDX", u32 version 1) and then 32-byte
// entries, little-endian:
//   0 u64 offset        base offset of the indexed batch
//   8 u64 position      byte position of that batch in the .log
//  16 i64 timestamp_ms  that batch's timestamp
//  24 u32 crc           CRC32C of bytes 0..23 of the entry
//  28 u32 reserved      0
inline constexpr size_t kIndexHeaderSize = 8;
inline constexpr size_t kIndexEntrySize = 32;
inline constexpr uint32_t kIndexVersion = 1;

struct IndexEntry {
  uint64_t offset = 0;
  uint64_t position = 0;
  int64_t timestamp_ms = 0;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

std::string IndexFileHeader();
void AppendIndexEntry(std::string* out, const IndexEntry& entry);
// Parses a whole index file. nullopt when the header is wrong, the size is
// not a whole number of entries, an entry's CRC does not match, or entries
// are not strictly increasing in offset and position.
std::optional<std::vector<IndexEntry>> ParseIndexFile(std::string_view file);

// The position in a segment to start scanning for `offset`: that of the last
// entry at or before it, 0 when there is none.
uint64_t IndexLookup(const std::vector<IndexEntry>& index, uint64_t offset);

// Decides which batches of a segment get an index entry: the first one, the
// first one at least `interval_bytes` after the last indexed one, and (on
// Seal) the last one, so that a sealed segment's newest timestamp and end
// are found without scanning it.
class SparseIndexer {
 public:
  explicit SparseIndexer(uint32_t interval_bytes)
      : interval_bytes_(interval_bytes) {}

  // Records a batch; returns the entry to add if the batch is to be indexed.
  std::optional<IndexEntry> OnBatch(uint64_t offset, uint64_t position,
                                    int64_t timestamp_ms);
  // The entry for the last batch, unless it is indexed already.
  std::optional<IndexEntry> OnSeal();
  // Picks up where an indexer of the same segment left off: its last
  // indexed batch and its last batch.
  void Resume(const IndexEntry& last_indexed, const IndexEntry& last_batch);
  const std::optional<IndexEntry>& last_batch() const { return last_batch_; }
  const std::optional<IndexEntry>& last_indexed() const {
    return last_indexed_;
  }

 private:
  uint32_t interval_bytes_;
  std::optional<IndexEntry> last_indexed_;
  std::optional<IndexEntry> last_batch_;
};

// Synced mark: the file `kSyncedMarkFile` in a log's directory. It says
// that the first `size` bytes of the active segment were synced, and where
// its last batch and its last indexed batch in that prefix are, so that the
// next open scans only what follows (nothing, after a clean close). Written
// after each sync of the active segment (a log's close, a journal file's
// retirement). 84 bytes, little-endian:
//   0 "RSYN"  4 u32 version 1
//   8 u64 log_id             the log's (its log.id), so that a mark left
//                            by a deleted log at the same path is ignored
//  16 u64 base_offset        the active segment's
//  24 u64 size               bytes of it known durable
//  32 u64 last_offset        base offset of the last batch in them
//  40 u64 last_position      its byte position
//  48 i64 last_timestamp_ms  its timestamp
//  56 u64 indexed_offset     the last index entry of the prefix:
//  64 u64 indexed_position     offset, position
//  72 i64 indexed_timestamp_ms and timestamp
//  80 u32 crc                CRC32C of bytes 0..79
inline constexpr char kSyncedMarkFile[] = "synced";
inline constexpr size_t kSyncedMarkSize = 84;

struct SyncedMark {
  uint64_t log_id = 0;
  uint64_t base_offset = 0;
  uint64_t size = 0;
  IndexEntry last_batch;
  IndexEntry last_indexed;
  friend bool operator==(const SyncedMark&, const SyncedMark&) = default;
};

std::string EncodeSyncedMark(const SyncedMark& m);
// nullopt unless `file` is exactly one mark with a matching CRC.
std::optional<SyncedMark> ParseSyncedMark(std::string_view file);

// "00000000000000001234.log": the 20-digit base offset and an extension.
std::string SegmentFileName(uint64_t base_offset, std::string_view extension);
// The base offset of a name made by SegmentFileName with `extension`.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name,
                                             std::string_view extension);

// One batch as scanned; `data` (the whole batch) points into the scanner's
// buffer and is valid until the next call to Next.
struct BatchView {
  BatchHeader header;
  uint64_t position = 0;
  std::string_view data;
};

// Reads the batches of a byte range of a segment file with few, large
// preads: the buffer starts at `first_chunk` bytes and doubles on each
// refill up to `max_chunk` (or the size of one batch, if larger), so short
// reads stay cheap and long scans make few syscalls. Does not own `fd`.
class BatchScanner {
 public:
  enum class Outcome {
    kBatch,    // *view holds the next batch (CRC not yet checked)
    kEnd,      // the range ends exactly at a batch boundary
    kTorn,     // the range ends inside a batch
    kCorrupt,  // the bytes at position() cannot start a batch
    kIoError,  // pread failed; see error()
  };

  BatchScanner(int fd, uint64_t position, uint64_t limit, size_t first_chunk,
               size_t max_chunk);

  Outcome Next(BatchView* view);
  // The position of the next batch, or of the one that failed.
  uint64_t position() const { return position_; }
  const std::string& error() const { return error_; }

 private:
  // Makes `need` bytes available at head_; false at the range end or on an
  // I/O error (error_ set).
  bool Fill(size_t need);

  int fd_;
  uint64_t position_;  // file position of buffer_[head_]
  uint64_t limit_;
  size_t next_chunk_;
  size_t max_chunk_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t tail_ = 0;
  std::string error_;
};

}  // namespace riffle::storage::log_format
