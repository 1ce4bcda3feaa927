#include "streams/sequence_number.h"

#include <fmt/format.h>

#include <charconv>

namespace riffle::streams {
namespace {

template <typename T>
bool ParseDigits(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

namespace {

// Writes `v` as exactly `width` decimal digits ending just before `end`.
char* PutDigits(char* end, uint64_t v, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return end;
}

}  // namespace

std::string_view SequenceNumberFormatter::Quoted(const SequenceNumber& seq) {
  char* digits = buffer_ + 1;
  if (!has_prefix_ || prefix_of_.stream_epoch_ms != seq.stream_epoch_ms ||
      prefix_of_.shard_epoch_us != seq.shard_epoch_us ||
      prefix_of_.shard_index != seq.shard_index) {
    buffer_[0] = '"';
    buffer_[sizeof buffer_ - 1] = '"';
    char* end = digits + 36;
    end = PutDigits(end, static_cast<uint64_t>(seq.shard_index), 6);
    end = PutDigits(end, static_cast<uint64_t>(seq.shard_epoch_us), 16);
    end = PutDigits(end, static_cast<uint64_t>(seq.stream_epoch_ms), 13);
    digits[0] = '4';
    prefix_of_ = seq;
    has_prefix_ = true;
  }
  PutDigits(digits + kSequenceNumberDigits, seq.offset, 20);
  return std::string_view(buffer_, sizeof buffer_);
}

std::string SequenceNumber::ToString() const {
  // Hand-formatted: this runs once per record put and per record read.
  std::string out(kSequenceNumberDigits, '0');
  char* end = out.data() + out.size();
  end = PutDigits(end, offset, 20);
  end = PutDigits(end, static_cast<uint64_t>(shard_index), 6);
  end = PutDigits(end, static_cast<uint64_t>(shard_epoch_us), 16);
  end = PutDigits(end, static_cast<uint64_t>(stream_epoch_ms), 13);
  out[0] = '4';
  return out;
}

std::optional<SequenceNumber> SequenceNumber::Parse(std::string_view text) {
  if (text.size() != kSequenceNumberDigits || text[0] != '4')
    return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  SequenceNumber s;
  if (!ParseDigits(text.substr(1, 13), &s.stream_epoch_ms) ||
      !ParseDigits(text.substr(14, 16), &s.shard_epoch_us) ||
      !ParseDigits(text.substr(30, 6), &s.shard_index) ||
      !ParseDigits(text.substr(36, 20), &s.offset)) {
    return std::nullopt;
  }
  return s;
}

std::string ShardIdFromIndex(int index) {
  return fmt::format("shardId-{:012d}", index);
}

std::optional<int> ShardIndexFromId(std::string_view shard_id) {
  std::string_view digits = shard_id;
  if (auto dash = shard_id.rfind('-'); dash != std::string_view::npos) {
    if (shard_id.substr(0, dash) != "shardId") return std::nullopt;
    digits = shard_id.substr(dash + 1);
  }
  if (digits.empty() || digits.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > 999999) return std::nullopt;
  return static_cast<int>(v);
}

}  // namespace riffle::streams
