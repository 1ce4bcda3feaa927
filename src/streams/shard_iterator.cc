#include "streams/shard_iterator.h"

#include <cstdint>

#include "core/base64.h"
#include "core/bytes.h"
#include "core/crc32c.h"

namespace riffle::streams {
namespace {

constexpr char kVersion = 1;
constexpr size_t kFixedSize = 1 + 8 + 8 + 4 + 8;
constexpr uint32_t kMask = 0x5a17c3e1;

}  // namespace

std::string ShardIterator::Encode() const {
  std::string raw;
  raw.reserve(kFixedSize + stream_name.size() + 4);
  raw.push_back(kVersion);
  bytes::PutFixed64(&raw, static_cast<uint64_t>(stream_epoch_ms));
  bytes::PutFixed64(&raw, static_cast<uint64_t>(issued_ms));
  bytes::PutFixed32(&raw, static_cast<uint32_t>(shard_index));
  bytes::PutFixed64(&raw, offset);
  raw.append(stream_name);
  bytes::PutFixed32(&raw, crc32c::Value(raw) ^ kMask);
  return base64::Encode(raw);
}

std::optional<ShardIterator> ShardIterator::Decode(std::string_view token) {
  auto raw = base64::Decode(token);
  if (!raw || raw->size() < kFixedSize + 1 + 4 || (*raw)[0] != kVersion) {
    return std::nullopt;
  }
  size_t body = raw->size() - 4;
  if ((crc32c::Value(raw->data(), body) ^ kMask) !=
      bytes::DecodeFixed32(raw->data() + body)) {
    return std::nullopt;
  }
  const char* p = raw->data() + 1;
  ShardIterator it;
  it.stream_epoch_ms = static_cast<int64_t>(bytes::DecodeFixed64(p));
  it.issued_ms = static_cast<int64_t>(bytes::DecodeFixed64(p + 8));
  uint32_t shard_index = bytes::DecodeFixed32(p + 16);
  // The checksum only catches accidents; a forged token must still never
  // name a negative shard.
  if (shard_index > static_cast<uint32_t>(INT32_MAX)) return std::nullopt;
  it.shard_index = static_cast<int>(shard_index);
  it.offset = bytes::DecodeFixed64(p + 20);
  it.stream_name.assign(raw->data() + kFixedSize, body - kFixedSize);
  return it;
}

}  // namespace riffle::streams
