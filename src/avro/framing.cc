#include "avro/framing.h"

#include "avro/compression.h"
#include "core/bytes.h"

namespace riffle::avro {

Framing DetectFraming(std::string_view m) {
  if (m.size() >= 5 && m[0] == 0) return Framing::kConfluent;
  if (m.size() >= 18 && m[0] == 3 && (m[1] == 0 || m[1] == 5))
    return Framing::kGlue;
  if (m.size() >= 10 && static_cast<uint8_t>(m[0]) == 0xC3 && m[1] == 1) {
    return Framing::kSingleObject;
  }
  return Framing::kUnknown;
}

void AppendConfluentHeader(uint32_t schema_id, std::string* out) {
  out->push_back(0);
  bytes::PutBigEndian32(out, schema_id);
}

Result<ConfluentMessage> ParseConfluent(std::string_view m) {
  if (m.size() < 5)
    return InvalidArgument("confluent framing: message shorter than 5 bytes");
  if (m[0] != 0) {
    return InvalidArgument("confluent framing: unknown magic byte " +
                           std::to_string(static_cast<uint8_t>(m[0])));
  }
  return ConfluentMessage{bytes::DecodeBigEndian32(m.data() + 1), m.substr(5)};
}

Result<GlueMessage> ParseGlue(std::string_view m, size_t max_payload) {
  if (m.size() < 18)
    return InvalidArgument("glue framing: message shorter than 18 bytes");
  if (m[0] != 3) {
    return InvalidArgument("glue framing: unknown header version " +
                           std::to_string(static_cast<uint8_t>(m[0])));
  }
  GlueMessage g;
  if (m[1] == 5) {
    g.compressed = true;
  } else if (m[1] != 0) {
    return InvalidArgument("glue framing: unknown compression byte " +
                           std::to_string(static_cast<uint8_t>(m[1])));
  }
  std::copy(m.begin() + 2, m.begin() + 18, g.schema_version_id.begin());
  std::string_view body = m.substr(18);
  if (g.compressed) {
    RETURN_IF_ERROR(internal::ZlibDecompress(body, max_payload, &g.payload));
  } else {
    g.payload.assign(body);
  }
  return g;
}

Status AppendGlueMessage(const std::array<uint8_t, 16>& id,
                         std::string_view payload, bool compress,
                         std::string* out) {
  out->push_back(3);
  out->push_back(compress ? 5 : 0);
  out->append(reinterpret_cast<const char*>(id.data()), id.size());
  if (!compress) {
    out->append(payload);
    return Status::Ok();
  }
  std::string z;
  RETURN_IF_ERROR(internal::ZlibCompress(payload, &z));
  out->append(z);
  return Status::Ok();
}

std::string UuidToString(const std::array<uint8_t, 16>& u) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[u[i] >> 4]);
    s.push_back(kHex[u[i] & 15]);
  }
  return s;
}

void AppendSingleObjectHeader(uint64_t fingerprint, std::string* out) {
  out->push_back(static_cast<char>(0xC3));
  out->push_back(1);
  bytes::PutFixed64(out, fingerprint);
}

Result<SingleObjectMessage> ParseSingleObject(std::string_view m) {
  if (m.size() < 10 || static_cast<uint8_t>(m[0]) != 0xC3 || m[1] != 1) {
    return InvalidArgument("single-object encoding: no C3 01 header");
  }
  return SingleObjectMessage{bytes::DecodeFixed64(m.data() + 2), m.substr(10)};
}

}  // namespace riffle::avro
