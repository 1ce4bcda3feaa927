#include "app/avro_command.h"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "avro/canonical.h"
#include "avro/codec.h"
#include "avro/container.h"
#include "avro/framing.h"
#include "avro/json_codec.h"
#include "avro/schema.h"
#include "core/status.h"

namespace riffle::app {
namespace {

using avro::JsonFormat;

Result<std::string> ReadStream(FILE* f, const std::string& name) {
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  if (std::ferror(f)) {
    return InvalidArgument("cannot read " + name + ": " + std::strerror(errno));
  }
  return data;
}

Result<std::string> ReadFile(const std::string& path) {
  if (path == "-") return ReadStream(stdin, "stdin");
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return InvalidArgument("cannot open " + path + ": " + std::strerror(errno));
  }
  auto data = ReadStream(f, path);
  std::fclose(f);
  return data;
}

Status Write(FILE* f, std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), f) != data.size()) {
    return InvalidArgument(std::string("cannot write output: ") +
                           std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::shared_ptr<const avro::Schema>> LoadSchema(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto schema = avro::Schema::Parse(text);
  if (!schema.ok()) {
    return InvalidArgument("schema " + path + ": " + schema.status().message());
  }
  return *schema;
}

JsonFormat ParseFormat(const std::string& name) {
  // CLI11 has already restricted the name to these two.
  return name == "json" ? JsonFormat::kPlain : JsonFormat::kAvro;
}

std::string Hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

// Where in the input a message starts, for error messages.
std::string At(size_t index, size_t offset) {
  return "message " + std::to_string(index) + " (byte " +
         std::to_string(offset) + "): ";
}

// Calls `fn(line)` for each line of `input` that is not blank; an error
// names the line.
template <typename Fn>
Status ForEachLine(std::string_view input, Fn fn) {
  size_t line_no = 0;
  while (!input.empty()) {
    ++line_no;
    const size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Status s = fn(line);
    if (!s.ok()) {
      return InvalidArgument("line " + std::to_string(line_no) + ": " +
                             s.message());
    }
  }
  return Status::Ok();
}

}  // namespace

AvroCommand::AvroCommand(CLI::App* app) {
  avro_ = app->add_subcommand(
      "avro", "Decode, encode and inspect Avro data (see docs/avro.md)");
  avro_->require_subcommand(1);
  const std::vector<std::string> formats = {"avro-json", "json"};
  const char* format_help =
      "avro-json: the Avro JSON encoding; json: riffle's plain projection";

  decode_ = avro_->add_subcommand(
      "decode",
      "Binary messages on stdin (back to back) to JSON lines on stdout");
  decode_->add_option("--schema", schema_file_, "Writer schema file")
      ->required();
  decode_->add_option("--reader-schema", reader_schema_file_,
                      "Resolve into this reader schema");
  decode_->add_option("--format", format_, format_help)
      ->capture_default_str()
      ->check(CLI::IsMember(formats));
  decode_->add_option("--framing", framing_, "Header before each datum")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "confluent", "glue", "single-object"}));
  decode_
      ->add_option("--schema-id", schema_id_,
                   "Confluent framing: refuse messages with another id")
      ->check(CLI::Range(int64_t{0}, int64_t{0xffffffff}));
  decode_->add_flag("--one", one_,
                    "stdin is exactly one message (needed for compressed "
                    "Glue messages, which are not self-delimiting)");

  encode_ = avro_->add_subcommand(
      "encode", "JSON lines on stdin to binary messages on stdout");
  encode_->add_option("--schema", schema_file_, "Schema file")->required();
  encode_->add_option("--format", format_, format_help)
      ->capture_default_str()
      ->check(CLI::IsMember(formats));
  encode_->add_option("--framing", framing_, "Header before each datum")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "confluent", "single-object"}));
  encode_
      ->add_option("--schema-id", schema_id_,
                   "Schema id for the Confluent framing")
      ->check(CLI::Range(int64_t{0}, int64_t{0xffffffff}));

  canonical_ = avro_->add_subcommand(
      "canonical", "Print the schema's Parsing Canonical Form");
  canonical_->add_option("--schema", schema_file_, "Schema file")->required();

  fingerprint_ = avro_->add_subcommand(
      "fingerprint",
      "Print the fingerprint of the canonical form in hex (CRC-64-AVRO: its "
      "8 bytes little-endian, as in single-object headers)");
  fingerprint_->add_option("--schema", schema_file_, "Schema file")->required();
  fingerprint_->add_option("--algorithm", algorithm_)
      ->capture_default_str()
      ->check(CLI::IsMember({"crc64-avro", "md5", "sha256"}));

  cat_ = avro_->add_subcommand(
      "cat", "Print the records of an object container file as JSON lines");
  cat_->add_option("file", file_, "Container file (-: stdin)")->required();
  cat_->add_option("--reader-schema", reader_schema_file_,
                   "Resolve into this reader schema");
  cat_->add_option("--format", format_, format_help)
      ->capture_default_str()
      ->check(CLI::IsMember(formats));

  write_ = avro_->add_subcommand(
      "write", "Write JSON lines from stdin into an object container file");
  write_->add_option("file", file_, "Output file (-: stdout)")->required();
  write_->add_option("--schema", schema_file_, "Schema file")->required();
  write_->add_option("--format", format_, format_help)
      ->capture_default_str()
      ->check(CLI::IsMember(formats));
  write_->add_option("--codec", codec_, "Block compression")
      ->capture_default_str()
      ->check(CLI::IsMember({"null", "deflate", "snappy", "zstandard"}));
}

bool AvroCommand::parsed() const { return avro_->parsed(); }

namespace {

struct DecodeArgs {
  const avro::Decoder* decoder;
  JsonFormat format;
  std::string framing;
  int64_t schema_id;
  bool one;
  uint64_t fingerprint;  // of the writer schema, for single-object framing
};

Status DecodeMessages(const DecodeArgs& a, std::string_view input) {
  if (a.one && input.empty()) return InvalidArgument("stdin is empty");
  std::string line;
  std::string glue_payload;  // owns a Glue message's (decompressed) datum
  size_t index = 0;
  std::string_view in = input;
  while (!in.empty()) {
    const size_t offset = input.size() - in.size();
    std::string_view datum;
    size_t header = 0;
    if (a.framing == "none") {
      datum = in;
    } else if (a.framing == "confluent") {
      auto m = avro::ParseConfluent(in);
      if (!m.ok())
        return InvalidArgument(At(index, offset) + m.status().message());
      if (a.schema_id >= 0 && m->schema_id != a.schema_id) {
        return InvalidArgument(At(index, offset) + "schema id " +
                               std::to_string(m->schema_id) + ", expected " +
                               std::to_string(a.schema_id));
      }
      datum = m->payload;
      header = in.size() - datum.size();
    } else if (a.framing == "single-object") {
      auto m = avro::ParseSingleObject(in);
      if (!m.ok())
        return InvalidArgument(At(index, offset) + m.status().message());
      if (m->fingerprint != a.fingerprint) {
        // Decoding with the wrong schema would print garbage, not fail.
        return InvalidArgument(At(index, offset) +
                               "the fingerprint in the header is not the "
                               "writer schema's");
      }
      datum = m->payload;
      header = in.size() - datum.size();
    } else {  // glue
      auto m = avro::ParseGlue(in);
      if (!m.ok())
        return InvalidArgument(At(index, offset) + m.status().message());
      if (m->compressed && !a.one) {
        return InvalidArgument(At(index, offset) +
                               "a compressed Glue message has no length; "
                               "pass --one with one message on stdin");
      }
      glue_payload = std::move(m->payload);
      datum = glue_payload;
      header = 18;  // version, compression, 16-byte schema version id
    }
    line.clear();
    const size_t datum_size = datum.size();
    Status s = a.one ? a.decoder->DecodeJsonExact(datum, a.format, &line)
                     : a.decoder->DecodeJson(&datum, a.format, &line);
    if (!s.ok()) return InvalidArgument(At(index, offset) + s.message());
    line.push_back('\n');
    RETURN_IF_ERROR(Write(stdout, line));
    if (a.one) break;
    const size_t consumed = header + (datum_size - datum.size());
    if (consumed == 0) {
      // A schema whose datums take no bytes (null, an empty record) cannot
      // delimit a stream: every remaining byte would decode as another one.
      return InvalidArgument(At(index, offset) +
                             "datums of this schema take no bytes; pass "
                             "--one with one message on stdin");
    }
    in.remove_prefix(consumed);
    ++index;
  }
  return Status::Ok();
}

}  // namespace

int AvroCommand::Run() {
  CLI::App* selected = nullptr;
  for (CLI::App* c :
       {decode_, encode_, canonical_, fingerprint_, cat_, write_}) {
    if (c->parsed()) selected = c;
  }
  if (selected == nullptr) return 2;
  const JsonFormat format = ParseFormat(format_);

  auto run = [&]() -> Status {
    std::shared_ptr<const avro::Schema> schema;
    if (!schema_file_.empty()) {
      ASSIGN_OR_RETURN(schema, LoadSchema(schema_file_));
    }
    std::shared_ptr<const avro::Schema> reader;
    if (!reader_schema_file_.empty()) {
      ASSIGN_OR_RETURN(reader, LoadSchema(reader_schema_file_));
    }

    if (selected == canonical_) {
      return Write(stdout, schema->CanonicalForm() + "\n");
    }
    if (selected == fingerprint_) {
      const std::string canonical = schema->CanonicalForm();
      std::string hex;
      if (algorithm_ == "md5") {
        auto d = avro::Md5(canonical);
        hex = Hex(d.data(), d.size());
      } else if (algorithm_ == "sha256") {
        auto d = avro::Sha256(canonical);
        hex = Hex(d.data(), d.size());
      } else {
        uint64_t fp = avro::Crc64Avro(canonical);
        uint8_t le[8];
        for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(fp >> (8 * i));
        hex = Hex(le, 8);
      }
      return Write(stdout, hex + "\n");
    }
    if (selected == decode_) {
      auto decoder = avro::Decoder::Create(schema, reader);
      if (!decoder.ok()) {
        return InvalidArgument("schemas do not resolve: " +
                               decoder.status().message());
      }
      ASSIGN_OR_RETURN(std::string input, ReadStream(stdin, "stdin"));
      DecodeArgs args{decoder->get(), format, framing_,
                      schema_id_,     one_,   avro::Fingerprint64(*schema)};
      return DecodeMessages(args, input);
    }
    if (selected == encode_) {
      if (framing_ == "confluent" && schema_id_ < 0) {
        return InvalidArgument("--framing confluent needs --schema-id");
      }
      ASSIGN_OR_RETURN(std::string input, ReadStream(stdin, "stdin"));
      const uint64_t fp = avro::Fingerprint64(*schema);
      std::string out;
      RETURN_IF_ERROR(ForEachLine(input, [&](std::string_view line) {
        if (framing_ == "confluent") {
          avro::AppendConfluentHeader(static_cast<uint32_t>(schema_id_), &out);
        } else if (framing_ == "single-object") {
          avro::AppendSingleObjectHeader(fp, &out);
        }
        return avro::JsonToBinary(*schema, line, format, &out);
      }));
      return Write(stdout, out);
    }
    if (selected == cat_) {
      ASSIGN_OR_RETURN(std::string file, ReadFile(file_));
      auto r = avro::ContainerReader::Open(file, reader);
      if (!r.ok()) return InvalidArgument(file_ + ": " + r.status().message());
      std::string line;
      for (size_t index = 0;; ++index) {
        line.clear();
        auto more = (*r)->NextJson(format, &line);
        if (!more.ok()) {
          return InvalidArgument(file_ + ": record " + std::to_string(index) +
                                 ": " + more.status().message());
        }
        if (!*more) break;
        line.push_back('\n');
        RETURN_IF_ERROR(Write(stdout, line));
      }
      return Status::Ok();
    }
    // write
    avro::ContainerWriterOptions options;
    if (codec_ == "deflate") options.codec = avro::ContainerCodec::kDeflate;
    if (codec_ == "snappy") options.codec = avro::ContainerCodec::kSnappy;
    if (codec_ == "zstandard") options.codec = avro::ContainerCodec::kZstd;
    avro::ContainerWriter writer(schema, std::move(options));
    ASSIGN_OR_RETURN(std::string input, ReadStream(stdin, "stdin"));
    RETURN_IF_ERROR(ForEachLine(input, [&](std::string_view line) {
      return writer.AppendJson(line, format);
    }));
    ASSIGN_OR_RETURN(std::string file, writer.Finish());
    if (file_ == "-") return Write(stdout, file);
    FILE* f = std::fopen(file_.c_str(), "wb");
    if (f == nullptr) {
      return InvalidArgument("cannot create " + file_ + ": " +
                             std::strerror(errno));
    }
    Status s = Write(f, file);
    if (std::fclose(f) != 0 && s.ok()) {
      s = InvalidArgument("cannot write " + file_ + ": " +
                          std::strerror(errno));
    }
    return s;
  };

  Status s = run();
  if (std::fflush(stdout) != 0 && s.ok()) {
    s = InvalidArgument(std::string("cannot write output: ") +
                        std::strerror(errno));
  }
  if (!s.ok()) {
    std::fprintf(stderr, "riffle avro %s: %s\n", selected->get_name().c_str(),
                 s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace riffle::app
