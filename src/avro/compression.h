// Block codecs of Avro Object Container Files and of the Glue header:
// deflate (raw, RFC 1951), snappy (with Avro's big-endian CRC-32 of the
// uncompressed bytes), zstd, and zlib (RFC 1950) for Glue. Decompression is
// bounded by `max_size` so that a small hostile block cannot expand into
// gigabytes. Internal to src/avro; stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace riffle::avro::internal {

Status DeflateCompress(std::string_view in, std::string* out);
Status DeflateDecompress(std::string_view in, size_t max_size,
                         std::string* out);
Status ZlibDecompress(std::string_view in, size_t max_size, std::string* out);
Status ZlibCompress(std::string_view in, std::string* out);
Status SnappyCompress(std::string_view in, std::string* out);
Status SnappyDecompress(std::string_view in, size_t max_size, std::string* out);
Status ZstdCompress(std::string_view in, std::string* out);
Status ZstdDecompress(std::string_view in, size_t max_size, std::string* out);

}  // namespace riffle::avro::internal
