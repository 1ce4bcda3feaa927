// Avro Object Container Files (spec, "Object Container Files"): a header
// (magic "Obj\x01", metadata map with avro.schema and avro.codec, 16-byte
// sync marker) then blocks of (count, byte size, data, sync). Codecs: null,
// deflate, snappy, zstandard. The reader also reads the pre-1.3 format
// (magic "Obj\x00", metadata in a footer).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "avro/codec.h"
#include "avro/schema.h"
#include "avro/value.h"

namespace riffle::avro {

enum class ContainerCodec : uint8_t { kNull, kDeflate, kSnappy, kZstd };

// "null", "deflate", "snappy", "zstandard": the names in avro.codec.
std::string_view ContainerCodecName(ContainerCodec codec);

struct ContainerReaderOptions {
  // Largest block accepted, compressed or not.
  size_t max_block_size = 64 << 20;
  DecoderOptions decoder;
};

// Reads the records of one container file held in memory. Not thread-safe:
// it is a cursor. `file` must outlive the reader.
class ContainerReader {
 public:
  // Parses the header. `reader_schema` (optional) resolves the records into
  // that schema's shape.
  static Result<std::unique_ptr<ContainerReader>> Open(
      std::string_view file,
      std::shared_ptr<const Schema> reader_schema = nullptr,
      const ContainerReaderOptions& options = {});

  const std::shared_ptr<const Schema>& writer_schema() const { return schema_; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const {
    return metadata_;
  }
  ContainerCodec codec() const { return codec_; }

  // Decodes the next record; false (and nothing appended) at the end.
  // InvalidArgument for corrupt data (bad sync marker, checksum, length).
  Result<bool> NextJson(JsonFormat format, std::string* out);
  Result<bool> Next(Value* out);

 private:
  ContainerReader() = default;
  // Makes a record available; false at the end of the file.
  Result<bool> Advance();

  std::string_view file_;
  size_t pos_ = 0;
  size_t end_ = 0;  // where blocks stop (the footer of the old format)
  bool legacy_ = false;
  std::array<char, 16> sync_{};
  std::vector<std::pair<std::string, std::string>> metadata_;
  ContainerCodec codec_ = ContainerCodec::kNull;
  std::shared_ptr<const Schema> schema_;
  std::shared_ptr<const Decoder> decoder_;
  ContainerReaderOptions options_;
  std::string block_;      // decompressed block
  std::string_view rest_;  // undecoded part of the current block
  int64_t remaining_ = 0;  // records left in the current block
};

struct ContainerWriterOptions {
  ContainerCodec codec = ContainerCodec::kNull;
  // A block is written once its encoded records reach this size.
  size_t block_size = 64 * 1024;
  // Extra metadata (keys starting "avro." are reserved).
  std::vector<std::pair<std::string, std::string>> metadata;
  // The sync marker; random when unset.
  std::optional<std::array<char, 16>> sync;
};

// Writes a container file into memory. Not thread-safe.
class ContainerWriter {
 public:
  ContainerWriter(std::shared_ptr<const Schema> schema,
                  ContainerWriterOptions options = {});

  Status Append(const Value& value);
  Status AppendJson(std::string_view json, JsonFormat format);
  // A datum already in Avro binary for this schema.
  Status AppendEncoded(std::string_view datum);

  // Writes the last block and returns the whole file.
  Result<std::string> Finish();

 private:
  Status Flush();

  std::shared_ptr<const Schema> schema_;
  ContainerWriterOptions options_;
  std::array<char, 16> sync_{};
  std::string out_;
  std::string block_;
  int64_t count_ = 0;
};

}  // namespace riffle::avro
