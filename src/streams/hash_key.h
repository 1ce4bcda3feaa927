// The 128-bit hash key space that Kinesis maps partition keys into, and the
// way AWS divides it among shards. Stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace riffle::streams {

using HashKey = unsigned __int128;

inline constexpr HashKey kMaxHashKey = ~HashKey{0};  // 2^128 - 1

// The hash key of a partition key: the MD5 digest read as a big-endian
// 128-bit integer, as AWS computes it.
HashKey HashPartitionKey(std::string_view partition_key);

// Decimal text of `key` (no leading zeros).
std::string HashKeyToString(HashKey key);

// Parses a decimal hash key in [0, 2^128 - 1]; nullopt when malformed or
// out of range.
std::optional<HashKey> ParseHashKey(std::string_view text);

struct HashKeyRange {
  HashKey start = 0;
  HashKey end = 0;  // inclusive
  bool Contains(HashKey k) const { return k >= start && k <= end; }
};

// The range of shard `index` when `count` shards split [start, end]
// uniformly: shard i starts at start + i * floor(width / count), and the last
// one ends at `end`. With the whole space this is exactly AWS's layout
// (shard i starts at i * floor(2^128 / N)).
HashKeyRange UniformRange(HashKey start, HashKey end, int index, int count);

}  // namespace riffle::streams
