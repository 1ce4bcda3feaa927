#include "avro/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include "core/bytes.h"

namespace riffle::avro::internal {
namespace {

// window_bits: -15 raw deflate, 15 zlib.
Status Inflate(std::string_view in, size_t max_size, int window_bits,
               std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK)
    return Internal("inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  out->clear();
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return InvalidArgument("avro: corrupt deflate data");
    }
    size_t n = sizeof buf - z.avail_out;
    if (out->size() + n > max_size) {
      inflateEnd(&z);
      return InvalidArgument("avro: decompressed block too large");
    }
    out->append(buf, n);
    if (rc == Z_OK && n == 0 && z.avail_in == 0) {
      inflateEnd(&z);
      return InvalidArgument("avro: truncated deflate data");
    }
  }
  inflateEnd(&z);
  return Status::Ok();
}

Status Deflate(std::string_view in, int window_bits, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("deflateInit2 failed");
  }
  out->resize(deflateBound(&z, in.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(out->size());
  int rc = deflate(&z, Z_FINISH);
  out->resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? Status::Ok() : Internal("deflate failed");
}

}  // namespace

Status DeflateCompress(std::string_view in, std::string* out) {
  return Deflate(in, -15, out);
}
Status DeflateDecompress(std::string_view in, size_t max_size,
                         std::string* out) {
  return Inflate(in, max_size, -15, out);
}
Status ZlibCompress(std::string_view in, std::string* out) {
  return Deflate(in, 15, out);
}
Status ZlibDecompress(std::string_view in, size_t max_size, std::string* out) {
  return Inflate(in, max_size, 15, out);
}

Status SnappyCompress(std::string_view in, std::string* out) {
  out->clear();
  snappy::Compress(in.data(), in.size(), out);
  bytes::PutBigEndian32(out, static_cast<uint32_t>(crc32(
                                 0, reinterpret_cast<const Bytef*>(in.data()),
                                 static_cast<uInt>(in.size()))));
  return Status::Ok();
}

Status SnappyDecompress(std::string_view in, size_t max_size,
                        std::string* out) {
  if (in.size() < 4)
    return InvalidArgument("avro: snappy block without checksum");
  std::string_view body = in.substr(0, in.size() - 4);
  size_t n = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &n)) {
    return InvalidArgument("avro: corrupt snappy block");
  }
  if (n > max_size)
    return InvalidArgument("avro: decompressed block too large");
  out->clear();
  if (!snappy::Uncompress(body.data(), body.size(), out)) {
    return InvalidArgument("avro: corrupt snappy block");
  }
  uint32_t want = bytes::DecodeBigEndian32(in.data() + in.size() - 4);
  uint32_t got = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(out->data()),
            static_cast<uInt>(out->size())));
  if (want != got)
    return InvalidArgument("avro: snappy block checksum mismatch");
  return Status::Ok();
}

Status ZstdCompress(std::string_view in, std::string* out) {
  out->resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out->data(), out->size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) return Internal("zstd compression failed");
  out->resize(n);
  return Status::Ok();
}

Status ZstdDecompress(std::string_view in, size_t max_size, std::string* out) {
  ZSTD_DStream* z = ZSTD_createDStream();
  if (z == nullptr) return Internal("ZSTD_createDStream failed");
  ZSTD_initDStream(z);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  out->clear();
  char buf[16384];
  size_t rc = 1;
  while (input.pos < input.size || rc != 0) {
    ZSTD_outBuffer output{buf, sizeof buf, 0};
    rc = ZSTD_decompressStream(z, &output, &input);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(z);
      return InvalidArgument("avro: corrupt zstd block");
    }
    if (out->size() + output.pos > max_size) {
      ZSTD_freeDStream(z);
      return InvalidArgument("avro: decompressed block too large");
    }
    out->append(buf, output.pos);
    if (output.pos == 0 && input.pos == input.size && rc != 0) {
      ZSTD_freeDStream(z);
      return InvalidArgument("avro: truncated zstd block");
    }
  }
  ZSTD_freeDStream(z);
  return Status::Ok();
}

}  // namespace riffle::avro::internal
