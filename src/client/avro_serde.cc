#include "client/avro_serde.h"

#include "avro/framing.h"
#include "avro/json_codec.h"

namespace riffle::client {

Result<std::unique_ptr<AvroSerializer>> AvroSerializer::Create(
    RegistryClient& registry, const std::string& subject,
    const std::string& schema_text) {
  Result<RegisteredSchema> found =
      schema_text.empty() ? registry.Latest(subject)
                          : registry.Register(subject, schema_text);
  if (!found.ok()) return found.status();
  return std::make_unique<AvroSerializer>(found->id, found->schema);
}

Status AvroSerializer::SerializeJson(std::string_view json_text,
                                     std::string* out) const {
  const size_t mark = out->size();
  avro::AppendConfluentHeader(schema_id_, out);
  Status s =
      avro::JsonToBinary(*schema_, json_text, avro::JsonFormat::kPlain, out);
  if (!s.ok()) out->resize(mark);
  return s;
}

Status AvroSerializer::Serialize(const avro::Value& value,
                                 std::string* out) const {
  const size_t mark = out->size();
  avro::AppendConfluentHeader(schema_id_, out);
  Status s = avro::Encode(*schema_, value, out);
  if (!s.ok()) out->resize(mark);
  return s;
}

Result<std::shared_ptr<const avro::Decoder>> AvroDeserializer::DecoderFor(
    uint32_t id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = decoders_.find(id); it != decoders_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(auto schema, registry_->GetById(id));
  ASSIGN_OR_RETURN(auto decoder, avro::Decoder::Create(schema));
  std::lock_guard lock(mu_);
  return decoders_.emplace(id, std::move(decoder)).first->second;
}

Status AvroDeserializer::DecodeJson(std::string_view message,
                                    avro::JsonFormat format, std::string* out,
                                    uint32_t* schema_id) {
  ASSIGN_OR_RETURN(avro::ConfluentMessage framed,
                   avro::ParseConfluent(message));
  if (schema_id != nullptr) *schema_id = framed.schema_id;
  ASSIGN_OR_RETURN(auto decoder, DecoderFor(framed.schema_id));
  const size_t mark = out->size();
  Status s = decoder->DecodeJsonExact(framed.payload, format, out);
  if (!s.ok()) out->resize(mark);
  return s;
}

Status AvroDeserializer::Decode(std::string_view message, avro::Value* out,
                                uint32_t* schema_id) {
  ASSIGN_OR_RETURN(avro::ConfluentMessage framed,
                   avro::ParseConfluent(message));
  if (schema_id != nullptr) *schema_id = framed.schema_id;
  ASSIGN_OR_RETURN(auto decoder, DecoderFor(framed.schema_id));
  return decoder->DecodeExact(framed.payload, out);
}

}  // namespace riffle::client
