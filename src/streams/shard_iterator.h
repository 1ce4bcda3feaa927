// Shard iterators: opaque tokens naming a position in a shard, valid for
// five minutes. Stateless and thread-safe.
//
// The token is base64 of: version byte (1), stream epoch ms (8), issue time
// ms (8), shard index (4), offset (8), stream name (rest), then a CRC32C of
// all of it (4), masked so that a client cannot fabricate one by accident.
// Tokens survive a restart (they hold no pointers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riffle::streams {

struct ShardIterator {
  std::string stream_name;
  int64_t stream_epoch_ms = 0;
  int shard_index = 0;
  uint64_t offset = 0;
  int64_t issued_ms = 0;

  std::string Encode() const;
  // nullopt when `token` was not made by Encode (or was altered).
  static std::optional<ShardIterator> Decode(std::string_view token);
};

inline constexpr int64_t kShardIteratorLifetimeMs = 5 * 60 * 1000;

}  // namespace riffle::streams
