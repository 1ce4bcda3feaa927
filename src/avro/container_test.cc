#include "avro/container.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "avro/canonical.h"
#include "avro/framing.h"
#include "avro/json_codec.h"

namespace riffle::avro {
namespace {

const std::filesystem::path kData = RIFFLE_AVRO_TESTDATA;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> ReadAll(std::string_view file, JsonFormat format,
                                 Status* status = nullptr) {
  std::vector<std::string> out;
  auto r = ContainerReader::Open(file);
  if (!r.ok()) {
    if (status) *status = r.status();
    return out;
  }
  while (true) {
    std::string json;
    auto more = (*r)->NextJson(format, &json);
    if (!more.ok()) {
      if (status) *status = more.status();
      return out;
    }
    if (!*more) break;
    out.push_back(json);
  }
  if (status) *status = Status::Ok();
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(Container, WeatherFilesInEveryCodec) {
  auto expected = Lines(ReadFile(kData / "weather.json"));
  ASSERT_EQ(expected.size(), 5u);
  for (const char* name : {"weather.avro", "weather-deflate.avro",
                           "weather-snappy.avro", "weather-zstd.avro"}) {
    Status st;
    auto got = ReadAll(ReadFile(kData / name), JsonFormat::kAvro, &st);
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
    EXPECT_EQ(got, expected) << name;
  }
  Status st;
  auto sorted =
      ReadAll(ReadFile(kData / "weather-sorted.avro"), JsonFormat::kAvro, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(sorted.size(), expected.size());
  for (const auto& rec : sorted) {
    EXPECT_NE(std::find(expected.begin(), expected.end(), rec), expected.end())
        << rec;
  }
}

TEST(Container, EdgeCaseFiles) {
  for (const char* name :
       {"syncInMeta.avro", "test.avro12", "schemas/simple/data.avro",
        "schemas/withUnion/data.avro"}) {
    Status st;
    std::string file = ReadFile(kData / name);
    auto got = ReadAll(file, JsonFormat::kPlain, &st);
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
    EXPECT_FALSE(got.empty()) << name;
    for (const auto& j : got) EXPECT_TRUE(json::Parse(j).ok()) << j;
    auto r = ContainerReader::Open(file);
    ASSERT_TRUE(r.ok());
    for (const auto& [k, v] : (*r)->metadata()) {
      if (k == "count") {
        // The old format records its record count.
        EXPECT_EQ(std::to_string(got.size()), v) << name;
      }
    }
  }
}

TEST(Container, WritesAndReadsBackWithEveryCodec) {
  auto schema = *Schema::Parse(ReadFile(kData / "schema-files/interop.avsc"));
  std::string record =
      R"({"intField":1,"longField":2,"stringField":"s","boolField":true,
    "floatField":1.5,"doubleField":2.25,"bytesField":"AAE=","nullField":null,
    "arrayField":[1,2],"mapField":{"k":{"label":"l"}},"unionField":[ "AQ==" ],
    "enumField":"B","fixedField":"AAECAwQFBgcICQoLDA0ODw==",
    "recordField":{"label":"root","children":[{"label":"leaf","children":[]}]}})";
  for (auto codec : {ContainerCodec::kNull, ContainerCodec::kDeflate,
                     ContainerCodec::kSnappy, ContainerCodec::kZstd}) {
    ContainerWriterOptions options;
    options.codec = codec;
    options.block_size = 100;  // several blocks
    options.metadata.push_back({"riffle.test", "yes"});
    ContainerWriter w(schema, options);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(w.AppendJson(record, JsonFormat::kPlain).ok());
    }
    auto file = w.Finish();
    ASSERT_TRUE(file.ok());
    Status st;
    auto got = ReadAll(*file, JsonFormat::kPlain, &st);
    ASSERT_TRUE(st.ok()) << ContainerCodecName(codec) << st.ToString();
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(json::Serialize(*json::Parse(got[0])),
              json::Serialize(*json::Parse(record)));
    auto r = ContainerReader::Open(*file);
    EXPECT_EQ((*r)->codec(), codec);
  }
}

TEST(Container, CorruptionIsDetected) {
  auto schema = *Schema::Parse(R"({"type":"record","name":"R","fields":[
      {"name":"s","type":"string"}]})");
  for (auto codec : {ContainerCodec::kNull, ContainerCodec::kDeflate,
                     ContainerCodec::kSnappy, ContainerCodec::kZstd}) {
    ContainerWriterOptions options;
    options.codec = codec;
    ContainerWriter w(schema, options);
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          w.AppendJson(R"({"s":"hello hello hello"})", JsonFormat::kAvro).ok());
    }
    std::string file = *w.Finish();
    // Flip the last byte (the sync marker), truncate, and flip a data byte.
    std::string bad_sync = file;
    bad_sync.back() ^= 1;
    Status st;
    ReadAll(bad_sync, JsonFormat::kAvro, &st);
    EXPECT_FALSE(st.ok()) << ContainerCodecName(codec);
    ReadAll(file.substr(0, file.size() - 20), JsonFormat::kAvro, &st);
    EXPECT_FALSE(st.ok()) << ContainerCodecName(codec);
    for (size_t i = 0; i < file.size(); i += 7) {
      std::string flipped = file;
      flipped[i] ^= 0x5a;
      ReadAll(flipped, JsonFormat::kAvro, &st);  // must not crash
    }
  }
  EXPECT_FALSE(ContainerReader::Open("not avro").ok());
}

TEST(SingleObject, ReadsMessageV1) {
  auto schema = *Schema::Parse(ReadFile(kData / "messageV1/test_schema.avsc"));
  std::string msg = ReadFile(kData / "messageV1/test_message.bin");
  EXPECT_EQ(DetectFraming(msg), Framing::kSingleObject);
  auto parsed = ParseSingleObject(msg);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->fingerprint, Fingerprint64(*schema));
  auto d = *Decoder::Create(schema);
  std::string json;
  ASSERT_TRUE(
      d->DecodeJsonExact(parsed->payload, JsonFormat::kPlain, &json).ok());
  EXPECT_EQ(json,
            R"({"id":42,"name":"Bill","tags":["dog_lover","cat_hater"]})");
  // Writing it again gives the same bytes.
  std::string again;
  AppendSingleObjectHeader(Fingerprint64(*schema), &again);
  ASSERT_TRUE(JsonToBinary(*schema, json, JsonFormat::kPlain, &again).ok());
  EXPECT_EQ(again, msg);
  EXPECT_FALSE(ParseSingleObject("\xc3\x02"
                                 "12345678")
                   .ok());
}

TEST(Framing, Confluent) {
  std::string msg;
  AppendConfluentHeader(0x01020304, &msg);
  msg += "payload";
  EXPECT_EQ(msg.substr(0, 5), std::string("\x00\x01\x02\x03\x04", 5));
  EXPECT_EQ(DetectFraming(msg), Framing::kConfluent);
  auto m = ParseConfluent(msg);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->schema_id, 0x01020304u);
  EXPECT_EQ(m->payload, "payload");
  EXPECT_FALSE(ParseConfluent(std::string("\x00\x01", 2)).ok());
  EXPECT_FALSE(ParseConfluent(std::string("\x01\x00\x00\x00\x01", 5)).ok());
}

TEST(Framing, Glue) {
  std::array<uint8_t, 16> id{};
  for (int i = 0; i < 16; ++i) id[i] = static_cast<uint8_t>(i * 17);
  for (bool compress : {false, true}) {
    std::string msg;
    ASSERT_TRUE(AppendGlueMessage(id, "the avro datum", compress, &msg).ok());
    EXPECT_EQ(msg[0], 3);
    EXPECT_EQ(msg[1], compress ? 5 : 0);
    EXPECT_EQ(DetectFraming(msg), Framing::kGlue);
    auto g = ParseGlue(msg);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ(g->payload, "the avro datum");
    EXPECT_EQ(g->compressed, compress);
    EXPECT_EQ(UuidToString(g->schema_version_id),
              "00112233-4455-6677-8899-aabbccddeeff");
  }
  std::string bad(18, '\0');
  bad[0] = 3;
  bad[1] = 7;
  EXPECT_FALSE(ParseGlue(bad).ok());
  bad[1] = 5;
  bad += "not zlib";
  EXPECT_FALSE(ParseGlue(bad).ok());
}

}  // namespace
}  // namespace riffle::avro
