#include "streams/hash_key.h"

#include <openssl/md5.h>

#include <algorithm>

namespace riffle::streams {

HashKey HashPartitionKey(std::string_view partition_key) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  // MD5 here is a hash-space mapping fixed by the Kinesis API, not security.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  MD5(reinterpret_cast<const unsigned char*>(partition_key.data()),
      partition_key.size(), digest);
#pragma GCC diagnostic pop
  HashKey k = 0;
  for (unsigned char b : digest) k = k << 8 | b;
  return k;
}

std::string HashKeyToString(HashKey key) {
  if (key == 0) return "0";
  std::string out;
  while (key > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(key % 10)));
    key /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<HashKey> ParseHashKey(std::string_view text) {
  if (text.empty() || text.size() > 39) return std::nullopt;
  HashKey v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    HashKey digit = c - '0';
    if (v > (kMaxHashKey - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

HashKeyRange UniformRange(HashKey start, HashKey end, int index, int count) {
  // width = end - start + 1, computed without overflowing for the full space.
  HashKey span = end - start;  // width - 1
  HashKey step = span / count + (span % count == HashKey(count - 1) ? 1 : 0);
  HashKeyRange r;
  r.start = start + step * index;
  r.end = index == count - 1 ? end : r.start + step - 1;
  return r;
}

}  // namespace riffle::streams
