// Kinesis sequence numbers: 56-digit decimal strings, strictly increasing
// within a shard as big integers, and greater in a child shard than in any
// of its parents. Stateless and thread-safe.
//
// Layout (decimal digits, fixed width, most significant first):
//   1   version, always 4
//   13  stream epoch: the stream's creation time in ms (tells a recreated
//       stream of the same name apart)
//   16  shard epoch: the shard's creation time in µs, strictly increasing
//       within a stream, so children sort after their parents
//   6   shard index (shardId-000000000007 → 7)
//   20  record offset in the shard's log
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riffle::streams {

struct SequenceNumber {
  int64_t stream_epoch_ms = 0;
  int64_t shard_epoch_us = 0;
  int shard_index = 0;
  uint64_t offset = 0;

  std::string ToString() const;
  // nullopt unless `text` is a well-formed riffle sequence number.
  static std::optional<SequenceNumber> Parse(std::string_view text);
};

inline constexpr size_t kSequenceNumberDigits = 56;

// Formats the sequence numbers of a response, computing the 36 leading
// digits (version, epochs, shard) once per shard rather than per record:
// responses carry hundreds of numbers that differ only in their offsets.
// Not thread-safe; one per response.
class SequenceNumberFormatter {
 public:
  // The quoted JSON string of `seq` ("\"4...\""), valid until the next call.
  std::string_view Quoted(const SequenceNumber& seq);

 private:
  bool has_prefix_ = false;
  SequenceNumber prefix_of_;
  char buffer_[kSequenceNumberDigits + 2];
};

// "shardId-000000000007".
std::string ShardIdFromIndex(int index);
// Accepts "shardId-000000000007" and, as AWS does, a bare "7" or
// "shardId-7"; nullopt for anything else.
std::optional<int> ShardIndexFromId(std::string_view shard_id);

}  // namespace riffle::streams
