#include "avro/container.h"

#include <random>

#include "avro/compression.h"
#include "avro/json_codec.h"
#include "core/bytes.h"

namespace riffle::avro {
namespace {

constexpr std::string_view kMagic("Obj\x01", 4);
constexpr std::string_view kLegacyMagic("Obj\x00", 4);

Status Corrupt(std::string what) {
  return InvalidArgument("avro container: " + std::move(what));
}

// Reads a map<bytes> (the metadata) from the front of *in.
Status ReadMetadata(std::string_view* in,
                    std::vector<std::pair<std::string, std::string>>* out) {
  while (true) {
    auto count = GetLong(in);
    if (!count) return Corrupt("truncated metadata");
    if (*count == 0) return Status::Ok();
    int64_t n = *count;
    if (n < 0) {
      if (n == INT64_MIN || !GetLong(in)) return Corrupt("bad metadata block");
      n = -n;
    }
    if (n > static_cast<int64_t>(in->size()))
      return Corrupt("bad metadata count");
    for (int64_t i = 0; i < n; ++i) {
      std::string kv[2];
      for (auto& s : kv) {
        auto len = GetLong(in);
        if (!len || *len < 0 || *len > static_cast<int64_t>(in->size())) {
          return Corrupt("bad metadata entry");
        }
        s.assign(in->data(), static_cast<size_t>(*len));
        in->remove_prefix(static_cast<size_t>(*len));
      }
      out->emplace_back(std::move(kv[0]), std::move(kv[1]));
    }
  }
}

const std::string* FindMeta(
    const std::vector<std::pair<std::string, std::string>>& m,
    std::string_view key) {
  for (const auto& [k, v] : m) {
    if (k == key) return &v;
  }
  return nullptr;
}

}  // namespace

std::string_view ContainerCodecName(ContainerCodec codec) {
  switch (codec) {
    case ContainerCodec::kNull:
      return "null";
    case ContainerCodec::kDeflate:
      return "deflate";
    case ContainerCodec::kSnappy:
      return "snappy";
    case ContainerCodec::kZstd:
      return "zstandard";
  }
  return "null";
}

Result<std::unique_ptr<ContainerReader>> ContainerReader::Open(
    std::string_view file, std::shared_ptr<const Schema> reader_schema,
    const ContainerReaderOptions& options) {
  std::unique_ptr<ContainerReader> r(new ContainerReader());
  r->file_ = file;
  r->options_ = options;
  std::string_view in = file;
  if (file.substr(0, 4) == kMagic) {
    in.remove_prefix(4);
    RETURN_IF_ERROR(ReadMetadata(&in, &r->metadata_));
    if (in.size() < 16) return Corrupt("truncated header");
    std::copy(in.begin(), in.begin() + 16, r->sync_.begin());
    in.remove_prefix(16);
    r->pos_ = file.size() - in.size();
    r->end_ = file.size();
  } else if (file.substr(0, 4) == kLegacyMagic && file.size() >= 8) {
    // Avro 1.2: a big-endian footer size in the last four bytes, the
    // metadata (with the sync marker) in that footer.
    r->legacy_ = true;
    uint32_t footer = bytes::DecodeBigEndian32(file.data() + file.size() - 4);
    if (footer < 4 || footer > file.size() - 4)
      return Corrupt("bad footer size");
    std::string_view meta = file.substr(file.size() - footer);
    RETURN_IF_ERROR(ReadMetadata(&meta, &r->metadata_));
    const std::string* sync = FindMeta(r->metadata_, "sync");
    if (sync == nullptr || sync->size() != 16) return Corrupt("no sync marker");
    std::copy(sync->begin(), sync->end(), r->sync_.begin());
    r->pos_ = 4;
    r->end_ = file.size();
  } else {
    return Corrupt("not an Avro object container file");
  }
  const std::string* codec =
      FindMeta(r->metadata_, r->legacy_ ? "codec" : "avro.codec");
  if (codec == nullptr || *codec == "null") {
    r->codec_ = ContainerCodec::kNull;
  } else if (*codec == "deflate") {
    r->codec_ = ContainerCodec::kDeflate;
  } else if (*codec == "snappy") {
    r->codec_ = ContainerCodec::kSnappy;
  } else if (*codec == "zstandard" || *codec == "zstd") {
    r->codec_ = ContainerCodec::kZstd;
  } else {
    return Corrupt("unsupported codec '" + *codec + "'");
  }
  if (r->legacy_ && r->codec_ != ContainerCodec::kNull) {
    return Corrupt("old-format files have no codecs");
  }
  const std::string* schema =
      FindMeta(r->metadata_, r->legacy_ ? "schema" : "avro.schema");
  if (schema == nullptr) return Corrupt("no schema in the metadata");
  auto parsed = Schema::Parse(*schema);
  if (!parsed.ok()) return Corrupt("bad schema: " + parsed.status().message());
  r->schema_ = *parsed;
  ASSIGN_OR_RETURN(
      r->decoder_,
      Decoder::Create(r->schema_, std::move(reader_schema), options.decoder));
  return r;
}

Result<bool> ContainerReader::Advance() {
  while (remaining_ == 0) {
    if (legacy_ && rest_.data() != nullptr) {
      // Old-format blocks carry no size: the next one starts where the
      // records of this one ended.
      pos_ = static_cast<size_t>(rest_.data() - file_.data());
      rest_ = {};
    }
    if (!rest_.empty()) return Corrupt("block has bytes after its records");
    if (pos_ >= end_) return false;
    std::string_view in = file_.substr(pos_, end_ - pos_);
    if (legacy_) {
      // Each block starts with the sync marker; a count of -1 is the footer.
      if (in.size() < 16 ||
          in.substr(0, 16) != std::string_view(sync_.data(), 16)) {
        return Corrupt("bad sync marker at byte " + std::to_string(pos_));
      }
      in.remove_prefix(16);
      auto count = GetLong(&in);
      if (!count) return Corrupt("truncated block");
      if (*count == -1) return false;
      if (*count < 0) return Corrupt("bad block count");
      remaining_ = *count;
      rest_ = in;
      if (remaining_ == 0) rest_ = in.substr(0, 0);
      continue;
    }
    auto count = GetLong(&in);
    auto size = count ? GetLong(&in) : std::nullopt;
    if (!count || !size)
      return Corrupt("truncated block header at byte " + std::to_string(pos_));
    if (*count < 0 || *size < 0 ||
        static_cast<uint64_t>(*size) > options_.max_block_size ||
        static_cast<uint64_t>(*size) + 16 > in.size()) {
      return Corrupt("bad block header at byte " + std::to_string(pos_));
    }
    std::string_view data = in.substr(0, static_cast<size_t>(*size));
    if (in.substr(static_cast<size_t>(*size), 16) !=
        std::string_view(sync_.data(), 16)) {
      return Corrupt("bad sync marker after the block at byte " +
                     std::to_string(pos_));
    }
    pos_ = file_.size() - in.size() + static_cast<size_t>(*size) + 16;
    switch (codec_) {
      case ContainerCodec::kNull:
        rest_ = data;
        break;
      case ContainerCodec::kDeflate:
        RETURN_IF_ERROR(internal::DeflateDecompress(
            data, options_.max_block_size, &block_));
        rest_ = block_;
        break;
      case ContainerCodec::kSnappy:
        RETURN_IF_ERROR(
            internal::SnappyDecompress(data, options_.max_block_size, &block_));
        rest_ = block_;
        break;
      case ContainerCodec::kZstd:
        RETURN_IF_ERROR(
            internal::ZstdDecompress(data, options_.max_block_size, &block_));
        rest_ = block_;
        break;
    }
    remaining_ = *count;
    // Records take a byte each unless the schema is all nulls, which the
    // empty-items cap bounds instead.
    if (remaining_ > static_cast<int64_t>(rest_.size()) &&
        remaining_ > options_.decoder.max_empty_items) {
      return Corrupt("block count larger than its data");
    }
  }
  return true;
}

Result<bool> ContainerReader::NextJson(JsonFormat format, std::string* out) {
  ASSIGN_OR_RETURN(bool more, Advance());
  if (!more) return false;
  RETURN_IF_ERROR(decoder_->DecodeJson(&rest_, format, out));
  --remaining_;
  return true;
}

Result<bool> ContainerReader::Next(Value* out) {
  ASSIGN_OR_RETURN(bool more, Advance());
  if (!more) return false;
  RETURN_IF_ERROR(decoder_->Decode(&rest_, out));
  --remaining_;
  return true;
}

ContainerWriter::ContainerWriter(std::shared_ptr<const Schema> schema,
                                 ContainerWriterOptions options)
    : schema_(std::move(schema)), options_(std::move(options)) {
  if (options_.sync) {
    sync_ = *options_.sync;
  } else {
    std::random_device rd;
    for (auto& c : sync_) c = static_cast<char>(rd());
  }
  out_.append(kMagic);
  std::vector<std::pair<std::string, std::string>> meta = {
      {"avro.schema", schema_->ToJson()},
      {"avro.codec", std::string(ContainerCodecName(options_.codec))}};
  for (const auto& m : options_.metadata) meta.push_back(m);
  PutLong(static_cast<int64_t>(meta.size()), &out_);
  for (const auto& [k, v] : meta) {
    PutLong(static_cast<int64_t>(k.size()), &out_);
    out_.append(k);
    PutLong(static_cast<int64_t>(v.size()), &out_);
    out_.append(v);
  }
  out_.push_back(0);
  out_.append(sync_.data(), 16);
}

Status ContainerWriter::Append(const Value& value) {
  RETURN_IF_ERROR(Encode(*schema_, value, &block_));
  ++count_;
  return block_.size() >= options_.block_size ? Flush() : Status::Ok();
}

Status ContainerWriter::AppendJson(std::string_view json, JsonFormat format) {
  RETURN_IF_ERROR(JsonToBinary(*schema_, json, format, &block_));
  ++count_;
  return block_.size() >= options_.block_size ? Flush() : Status::Ok();
}

Status ContainerWriter::AppendEncoded(std::string_view datum) {
  block_.append(datum);
  ++count_;
  return block_.size() >= options_.block_size ? Flush() : Status::Ok();
}

Status ContainerWriter::Flush() {
  if (count_ == 0) return Status::Ok();
  std::string compressed;
  std::string_view data = block_;
  switch (options_.codec) {
    case ContainerCodec::kNull:
      break;
    case ContainerCodec::kDeflate:
      RETURN_IF_ERROR(internal::DeflateCompress(block_, &compressed));
      data = compressed;
      break;
    case ContainerCodec::kSnappy:
      RETURN_IF_ERROR(internal::SnappyCompress(block_, &compressed));
      data = compressed;
      break;
    case ContainerCodec::kZstd:
      RETURN_IF_ERROR(internal::ZstdCompress(block_, &compressed));
      data = compressed;
      break;
  }
  PutLong(count_, &out_);
  PutLong(static_cast<int64_t>(data.size()), &out_);
  out_.append(data);
  out_.append(sync_.data(), 16);
  block_.clear();
  count_ = 0;
  return Status::Ok();
}

Result<std::string> ContainerWriter::Finish() {
  RETURN_IF_ERROR(Flush());
  return std::move(out_);
}

}  // namespace riffle::avro
