#include "avro/codec.h"

#include <gtest/gtest.h>

#include <random>

#include "avro/json_codec.h"

namespace riffle::avro {
namespace {

std::shared_ptr<const Schema> MustParse(std::string_view text) {
  auto s = Schema::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

std::shared_ptr<const Decoder> MustCompile(
    std::shared_ptr<const Schema> w,
    std::shared_ptr<const Schema> r = nullptr) {
  auto d = Decoder::Create(w, r);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return d.ok() ? *d : nullptr;
}

// JSON (Avro form) -> binary -> JSON in both forms.
struct RoundTrip {
  std::string avro_json;
  std::string plain_json;
};

RoundTrip Check(const std::shared_ptr<const Schema>& s,
                std::string_view avro_json) {
  std::string bin;
  Status st = JsonToBinary(*s, avro_json, JsonFormat::kAvro, &bin);
  EXPECT_TRUE(st.ok()) << avro_json << ": " << st.ToString();
  auto d = MustCompile(s);
  RoundTrip rt;
  EXPECT_TRUE(d->DecodeJsonExact(bin, JsonFormat::kAvro, &rt.avro_json).ok());
  EXPECT_TRUE(d->DecodeJsonExact(bin, JsonFormat::kPlain, &rt.plain_json).ok());
  // Decoding to a Value and printing it gives the same text.
  Value v;
  EXPECT_TRUE(d->DecodeExact(bin, &v).ok());
  std::string via_value;
  EXPECT_TRUE(ValueToJson(s->root(), v, JsonFormat::kPlain, &via_value).ok());
  EXPECT_EQ(via_value, rt.plain_json);
  // Value -> binary gives the same bytes.
  std::string again;
  EXPECT_TRUE(Encode(*s, v, &again).ok());
  EXPECT_EQ(again, bin);
  // The plain form reads back to the same bytes.
  std::string from_plain;
  st = JsonToBinary(*s, rt.plain_json, JsonFormat::kPlain, &from_plain);
  EXPECT_TRUE(st.ok()) << rt.plain_json << ": " << st.ToString();
  EXPECT_EQ(from_plain, bin) << rt.plain_json;
  return rt;
}

TEST(Codec, Primitives) {
  struct Case {
    const char* schema;
    const char* avro;
    const char* plain;
  } cases[] = {
      {R"("null")", "null", "null"},
      {R"("boolean")", "true", "true"},
      {R"("int")", "-2147483648", "-2147483648"},
      {R"("long")", "9223372036854775807", "9223372036854775807"},
      {R"("float")", "1.5", "1.5"},
      {R"("double")", "-0.1", "-0.1"},
      {R"("double")", R"("NaN")", R"("NaN")"},
      {R"("string")", "\"h\xc3\xa9\\\"\\n\"", "\"h\xc3\xa9\\\"\\n\""},
      {R"("bytes")", "\"\\u0000\xc3\xbf\"", R"("AP8=")"},
      {R"({"type":"fixed","name":"F","size":3})", R"("abc")", R"("YWJj")"},
      {R"({"type":"enum","name":"E","symbols":["A","B"]})", R"("B")", R"("B")"},
      {R"({"type":"array","items":"int"})", "[1,2,3]", "[1,2,3]"},
      {R"({"type":"array","items":"int"})", "[]", "[]"},
      {R"({"type":"map","values":"long"})", R"({"a":1,"b":-1})",
       R"({"a":1,"b":-1})"},
      {R"(["null","string"])", "null", "null"},
      {R"(["null","string"])", R"({"string":"x"})", R"("x")"},
      {R"(["null",{"type":"record","name":"n.R","fields":[{"name":"a","type":"int"}]}])",
       R"({"n.R":{"a":1}})", R"({"a":1})"},
      {R"({"type":"record","name":"R","fields":[
           {"name":"a","type":"int"},{"name":"b","type":["null","long"]},
           {"name":"c","type":{"type":"array","items":"R"}}]})",
       R"({"a":1,"b":{"long":2},"c":[{"a":2,"b":null,"c":[]}]})",
       R"({"a":1,"b":2,"c":[{"a":2,"b":null,"c":[]}]})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.schema);
    auto s = MustParse(c.schema);
    RoundTrip rt = Check(s, c.avro);
    EXPECT_EQ(rt.avro_json, c.avro);
    EXPECT_EQ(rt.plain_json, c.plain);
  }
}

TEST(Codec, LogicalTypesInThePlainProjection) {
  struct Case {
    const char* schema;
    const char* avro;
    const char* plain;
  } cases[] = {
      {R"({"type":"bytes","logicalType":"decimal","precision":9,"scale":2})",
       R"("\u0030\u0039")", R"("123.45")"},  // 0x3039 = 12345
      {R"({"type":"bytes","logicalType":"decimal","precision":9,"scale":2})",
       R"("\u00cf\u00c7")", R"("-123.45")"},
      {R"({"type":"bytes","logicalType":"decimal","precision":9,"scale":3})",
       R"("\u0005")", R"("0.005")"},
      {R"({"type":"fixed","name":"D","size":4,"logicalType":"decimal","precision":9,"scale":1})",
       R"("\u00ff\u00ff\u00ff\u00ff")", R"("-0.1")"},
      {R"({"type":"int","logicalType":"date"})", "19000", R"("2022-01-08")"},
      {R"({"type":"int","logicalType":"date"})", "-1", R"("1969-12-31")"},
      {R"({"type":"int","logicalType":"time-millis"})", "3723004",
       R"("01:02:03.004")"},
      {R"({"type":"long","logicalType":"time-micros"})", "3723000005",
       R"("01:02:03.000005")"},
      {R"({"type":"long","logicalType":"timestamp-millis"})", "1700000000123",
       R"("2023-11-14T22:13:20.123Z")"},
      {R"({"type":"long","logicalType":"timestamp-millis"})", "-1",
       R"("1969-12-31T23:59:59.999Z")"},
      {R"({"type":"long","logicalType":"timestamp-micros"})",
       "1700000000123456", R"("2023-11-14T22:13:20.123456Z")"},
      {R"({"type":"long","logicalType":"timestamp-nanos"})",
       "1700000000123456789", R"("2023-11-14T22:13:20.123456789Z")"},
      {R"({"type":"long","logicalType":"local-timestamp-millis"})", "0",
       R"("1970-01-01T00:00:00.000")"},
      // Beyond year 9999 the number is kept.
      {R"({"type":"long","logicalType":"timestamp-millis"})",
       "9223372036854775807", "9223372036854775807"},
      // Before year 0000 too, down to the most negative long (whose
      // floor remainder once overflowed: UBSan).
      {R"({"type":"long","logicalType":"timestamp-millis"})",
       "-9223372036854775808", "-9223372036854775808"},
      {R"({"type":"long","logicalType":"local-timestamp-micros"})",
       "-9223372036854775808", "-9223372036854775808"},
      {R"({"type":"string","logicalType":"uuid"})",
       R"("123e4567-e89b-12d3-a456-426614174000")",
       R"("123e4567-e89b-12d3-a456-426614174000")"},
      {R"({"type":"fixed","name":"U","size":16,"logicalType":"uuid"})",
       R"("\u0012\u003e\u0045\u0067\u00e8\u009b\u0012\u00d3\u00a4\u0056\u0042\u0066\u0014\u0017\u0040\u0000")",
       R"("123e4567-e89b-12d3-a456-426614174000")"},
      {R"({"type":"fixed","name":"Du","size":12,"logicalType":"duration"})",
       R"("\u0001\u0000\u0000\u0000\u0002\u0000\u0000\u0000\u0003\u0000\u0000\u0000")",
       R"({"months":1,"days":2,"millis":3})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.schema);
    auto s = MustParse(c.schema);
    RoundTrip rt = Check(s, c.avro);
    EXPECT_EQ(rt.plain_json, c.plain);
  }
}

TEST(Codec, PlainJsonUnionsPickTheNaturalBranch) {
  auto s = MustParse(R"(["null","int","double","string",
      {"type":"array","items":"int"},{"type":"map","values":"int"}])");
  struct Case {
    const char* plain;
    int branch;
  } cases[] = {{"null", 0},  {"7", 1},   {"7.5", 2},
               {"\"x\"", 3}, {"[1]", 4}, {"{\"a\":1}", 5}};
  for (const auto& c : cases) {
    auto j = json::Parse(c.plain);
    auto v = JsonToValue(s->root(), *j, JsonFormat::kPlain);
    ASSERT_TRUE(v.ok()) << c.plain;
    EXPECT_EQ(v->branch, c.branch) << c.plain;
  }
  auto ts =
      MustParse(R"(["null",{"type":"long","logicalType":"timestamp-millis"}])");
  auto j = json::Parse(R"("2023-11-14T22:13:20.123Z")");
  auto v = JsonToValue(ts->root(), *j, JsonFormat::kPlain);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->branch, 1);
  EXPECT_EQ(v->integer, 1700000000123);
}

TEST(Codec, JsonInputErrorsNameThePath) {
  auto s = MustParse(R"({"type":"record","name":"R","fields":[
      {"name":"a","type":{"type":"array","items":"int"}},
      {"name":"b","type":"string"}]})");
  std::string out;
  Status st =
      JsonToBinary(*s, R"({"a":[1,"x"],"b":"y"})", JsonFormat::kPlain, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("/a/1"), std::string::npos) << st.message();
  st = JsonToBinary(*s, R"({"a":[]})", JsonFormat::kPlain, &out);
  EXPECT_NE(st.message().find("/b: missing field"), std::string::npos)
      << st.message();
}

TEST(Codec, WritesAndReadsKnownBytes) {
  // The spec's example: {"a": 27, "b": "foo"} as record {long a; string b}.
  auto s = MustParse(R"({"type":"record","name":"test","fields":[
      {"name":"a","type":"long"},{"name":"b","type":"string"}]})");
  std::string bin;
  ASSERT_TRUE(
      JsonToBinary(*s, R"({"a":27,"b":"foo"})", JsonFormat::kAvro, &bin).ok());
  EXPECT_EQ(bin, std::string("\x36\x06"
                             "foo"));
  // Negative block counts carry a byte size.
  auto arr = MustParse(R"({"type":"array","items":"long"})");
  std::string blocked("\x03\x04\x02\x04\x00",
                      5);  // count -2, size 2, 1, 2, end
  std::string out;
  ASSERT_TRUE(MustCompile(arr)
                  ->DecodeJsonExact(blocked, JsonFormat::kPlain, &out)
                  .ok());
  EXPECT_EQ(out, "[1,2]");
  std::string_view in = blocked;
  ASSERT_TRUE(MustCompile(arr)->Skip(&in).ok());
  EXPECT_TRUE(in.empty());
}

TEST(Codec, InvalidUtf8StaysValidJson) {
  auto s = MustParse(R"("string")");
  std::string bin("\x06\x61\xff\x62", 4);
  std::string out;
  ASSERT_TRUE(
      MustCompile(s)->DecodeJsonExact(bin, JsonFormat::kPlain, &out).ok());
  EXPECT_EQ(out, "\"a\\ufffdb\"");
}

// ------------------------------------------------------------- resolution

struct ResolveCase {
  const char* writer;
  const char* reader;
  const char* datum;     // writer's Avro JSON
  const char* expected;  // reader's plain JSON, or an error substring
  bool ok = true;
};

TEST(Resolution, Table) {
  const char* kRecordW =
      R"({"type":"record","name":"R","namespace":"n","fields":[
      {"name":"a","type":"int"},{"name":"b","type":"string"},{"name":"c","type":"long"}]})";
  ResolveCase cases[] = {
      {R"("int")", R"("long")", "5", "5"},
      {R"("int")", R"("float")", "5", "5"},
      {R"("int")", R"("double")", "-5", "-5"},
      {R"("long")", R"("double")", "123456789012", "123456789012"},
      {R"("float")", R"("double")", "1.5", "1.5"},
      {R"("string")", R"("bytes")", R"("ab")", R"("YWI=")"},
      {R"("bytes")", R"("string")", R"("ab")", R"("ab")"},
      // Field removed, added with default, reordered.
      {kRecordW,
       R"({"type":"record","name":"R","namespace":"n","fields":[
           {"name":"c","type":"long"},{"name":"a","type":"long"},
           {"name":"d","type":["null","string"],"default":null},
           {"name":"e","type":{"type":"array","items":"int"},"default":[1]}]})",
       R"({"a":1,"b":"x","c":2})", R"({"a":1,"c":2,"d":null,"e":[1]})"},
      // Field renamed through a reader alias; record renamed through alias.
      {kRecordW,
       R"({"type":"record","name":"S","aliases":["n.R"],"fields":[
           {"name":"aa","type":"int","aliases":["a"]}]})",
       R"({"a":1,"b":"x","c":2})", R"({"aa":1})"},
      // Missing field without default.
      {kRecordW,
       R"({"type":"record","name":"R","namespace":"n","fields":[
           {"name":"z","type":"int"}]})",
       R"({"a":1,"b":"x","c":2})",
       "record 'n.R' field 'z': not in the writer's record", false},
      // Enum: unknown symbol takes the reader's default.
      {R"({"type":"enum","name":"E","symbols":["A","B","C"]})",
       R"({"type":"enum","name":"E","symbols":["A","B"],"default":"A"})",
       R"("C")", R"("A")"},
      {R"({"type":"enum","name":"E","symbols":["A","B","C"]})",
       R"({"type":"enum","name":"E","symbols":["C","A"]})", R"("C")", R"("C")"},
      // Writer non-union into reader union, and union into union.
      {R"("int")", R"(["null","long"])", "3", "3"},
      {R"(["null","int"])", R"(["null","long","string"])", R"({"int":3})", "3"},
      {R"(["null","int"])", R"("long")", R"({"int":3})", "3"},
      // Writer branch that the reader lacks: an error only when used.
      {R"(["string","int"])", R"("long")", R"({"int":3})", "3"},
      {R"(["string","int"])", R"("long")", R"({"string":"x"})",
       "does not resolve to reader type long", false},
      {R"({"type":"array","items":"int"})",
       R"({"type":"array","items":"double"})", "[1,2]", "[1,2]"},
      {R"({"type":"map","values":"int"})", R"({"type":"map","values":"long"})",
       R"({"k":1})", R"({"k":1})"},
      {R"({"type":"fixed","name":"F","size":2})",
       R"({"type":"fixed","name":"F","size":3})", R"("ab")", "does not resolve",
       false},
      {R"("string")", R"("int")", R"("x")",
       "writer type string does not resolve to reader type int", false},
      {R"({"type":"record","name":"A","fields":[]})",
       R"({"type":"record","name":"B","fields":[]})", "{}", "does not resolve",
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.writer) + " -> " + c.reader);
    auto w = MustParse(c.writer);
    auto r = MustParse(c.reader);
    std::string bin;
    ASSERT_TRUE(JsonToBinary(*w, c.datum, JsonFormat::kAvro, &bin).ok());
    auto d = Decoder::Create(w, r);
    std::string out;
    Status st = d.ok() ? (*d)->DecodeJsonExact(bin, JsonFormat::kPlain, &out)
                       : d.status();
    if (c.ok) {
      ASSERT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(out, c.expected);
      // The Value path agrees.
      Value v;
      ASSERT_TRUE((*d)->DecodeExact(bin, &v).ok());
      std::string text;
      ASSERT_TRUE(ValueToJson(r->root(), v, JsonFormat::kPlain, &text).ok());
      // Values hold fields in reader order, JSON output in writer order
      // then defaults; compare as documents would be compared by a reader.
      auto a = json::Parse(text), b = json::Parse(out);
      ASSERT_TRUE(a.ok() && b.ok());
      if (a->is_object()) {
        for (const auto& [k, val] : a->members()) {
          ASSERT_NE(b->Find(k), nullptr) << k;
          EXPECT_EQ(json::Serialize(*b->Find(k)), json::Serialize(val));
        }
      } else {
        EXPECT_EQ(text, out);
      }
    } else {
      ASSERT_FALSE(st.ok());
      EXPECT_NE(st.message().find(c.expected), std::string::npos)
          << st.message();
    }
  }
}

// A root record of scalar fields takes the flat-record loop; the same
// record as the only field of another takes the general interpreter, over
// the very same bytes. Both must give the same JSON, the same Value and
// the same error on bad bytes.
TEST(Codec, FlatRecordsDecodeAsTheGeneralPath) {
  // Too wide for the flat JSON loop (the Value side still takes it).
  std::string wide = R"({"type":"record","name":"W","fields":[)";
  std::string wide_datum = "{";
  for (int i = 0; i < 40; ++i) {
    std::string f = "f" + std::to_string(i);
    wide +=
        std::string(i ? "," : "") + R"({"name":")" + f + R"(","type":"long"})";
    wide_datum += std::string(i ? "," : "") + "\"" + f +
                  "\":" + std::to_string(i * 1000003);
  }
  wide += "]}";
  wide_datum += "}";
  // Names too long for the scalar JSON plan's stack buffer: its Value
  // plan, and the general JSON path.
  std::string long_keys = R"({"type":"record","name":"K","fields":[)";
  std::string long_keys_datum = "{";
  for (int i = 0; i < 3; ++i) {
    std::string f = "k" + std::to_string(i) + std::string(200, 'x');
    long_keys +=
        std::string(i ? "," : "") + R"({"name":")" + f + R"(","type":"int"})";
    long_keys_datum += std::string(i ? "," : "") + "\"" + f +
                       "\":" + std::to_string(i * 1000 - 1);
  }
  long_keys += "]}";
  long_keys_datum += "}";
  struct Case {
    const char* writer;
    const char* reader;  // nullptr: the writer schema
    const char* datum;   // Avro JSON, as an instance of the writer
  } cases[] = {
      {R"({"type":"record","name":"T","fields":[
          {"name":"id","type":"int"},{"name":"ok","type":"boolean"},
          {"name":"n","type":"int"}]})",
       nullptr, R"({"id":1234,"ok":true,"n":7})"},
      {R"({"type":"record","name":"A","fields":[
          {"name":"z","type":"null"},{"name":"i","type":"int"},
          {"name":"l","type":"long"},{"name":"f","type":"float"},
          {"name":"d","type":"double"},{"name":"s","type":"string"},
          {"name":"b","type":"bytes"},
          {"name":"x","type":{"type":"fixed","name":"X","size":3}},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["P","Q"]}},
          {"name":"a_very_long_field_name_longer_than_sixteen_bytes",
           "type":"boolean"}]})",
       nullptr,
       R"({"z":null,"i":-2147483648,"l":-9223372036854775808,"f":1.5,
           "d":-0.1,"s":"h\u00e9\"\n","b":"\u0000\u00ff","x":"abc",
           "e":"Q","a_very_long_field_name_longer_than_sixteen_bytes":false})"},
      {R"({"type":"record","name":"L","fields":[
          {"name":"d","type":{"type":"int","logicalType":"date"}},
          {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
          {"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
          {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
          {"name":"lt","type":{"type":"long",
                               "logicalType":"local-timestamp-nanos"}},
          {"name":"db","type":{"type":"bytes","logicalType":"decimal",
                               "precision":6,"scale":2}},
          {"name":"df","type":{"type":"fixed","name":"D","size":4,
                               "logicalType":"decimal","precision":8,
                               "scale":3}},
          {"name":"du","type":{"type":"fixed","name":"U","size":12,
                               "logicalType":"duration"}},
          {"name":"s","type":"string"}]})",
       nullptr,
       R"({"d":19000,"tm":3723004,"tu":3723004005,"ts":1700000000123,
           "lt":1700000000123456789,"db":"\u0001\u00e2\u0040",
           "df":"\u00ff\u00ff\u00fe\u000c",
           "du":"\u0001\u0000\u0000\u0000\u0002\u0000\u0000\u0000\u0003\u0000\u0000\u0000",
           "s":"after the logical types"})"},
      {R"({"type":"record","name":"E","fields":[]})", nullptr, "{}"},
      // Unions of scalars, each branch taken; a reader union fed by a
      // plain writer type; a writer union read as a plain type; a writer
      // branch the reader lacks (an error only when used).
      {R"({"type":"record","name":"U","fields":[
          {"name":"a","type":["null","string"]},
          {"name":"b","type":["null","string"]},
          {"name":"c","type":["long","null"]},
          {"name":"d","type":["null","double","boolean",
                              {"type":"enum","name":"E","symbols":["X","Y"]},
                              {"type":"fixed","name":"F","size":2}]},
          {"name":"e","type":["null",{"type":"long",
                                      "logicalType":"timestamp-millis"}]},
          {"name":"f","type":"string"},
          {"name":"g","type":["int","string"]},
          {"name":"h","type":["null","int"]},
          {"name":"an_exceptionally_long_field_name","type":["null","int"]}]})",
       R"({"type":"record","name":"U","fields":[
          {"name":"a","type":["null","string"]},
          {"name":"b","type":["null","string"]},
          {"name":"c","type":["null","double"]},
          {"name":"d","type":["null","double","boolean",
                              {"type":"enum","name":"E","symbols":["X","Y"]},
                              {"type":"fixed","name":"F","size":2}]},
          {"name":"e","type":["null",{"type":"long",
                                      "logicalType":"timestamp-millis"}]},
          {"name":"f","type":["null","string"]},
          {"name":"g","type":"string"},
          {"name":"h","type":"long"},
          {"name":"an_exceptionally_long_field_name","type":["null","long"]}]})",
       R"({"a":null,"b":{"string":"x\ny"},"c":{"long":-77},
           "d":{"E":"Y"},"e":{"long":1700000000123},"f":"plain",
           "g":{"string":"s"},"h":{"int":42},
           "an_exceptionally_long_field_name":{"int":-1}})"},
      // Arrays of scalars (empty, of nulls, promoted, of strings) beside
      // a union: flat too.
      {R"({"type":"record","name":"A2","fields":[
          {"name":"i","type":{"type":"array","items":"int"}},
          {"name":"e","type":{"type":"array","items":"string"}},
          {"name":"n","type":{"type":"array","items":"null"}},
          {"name":"u","type":["null","long"]},
          {"name":"z","type":{"type":"array","items":"double"}},
          {"name":"t","type":{"type":"array","items":{"type":"long",
                              "logicalType":"timestamp-micros"}}}]})",
       R"({"type":"record","name":"A2","fields":[
          {"name":"i","type":{"type":"array","items":"long"}},
          {"name":"e","type":{"type":"array","items":"string"}},
          {"name":"n","type":{"type":"array","items":"null"}},
          {"name":"u","type":["null","long"]},
          {"name":"z","type":{"type":"array","items":"double"}},
          {"name":"t","type":{"type":"array","items":{"type":"long",
                              "logicalType":"timestamp-micros"}}}]})",
       R"({"i":[101,202,-3,70000,2147483647],"e":["a","\"b\"",""],
           "n":[null,null,null],"u":{"long":9},"z":[],
           "t":[0,1700000000123456]})"},
      {R"({"type":"record","name":"V","fields":[
          {"name":"d","type":["null","double","boolean",
                              {"type":"enum","name":"E","symbols":["X","Y"]},
                              {"type":"fixed","name":"F","size":2}]},
          {"name":"d2","type":["null","double","boolean",
                              {"type":"enum","name":"E2","symbols":["X","Y"]},
                              {"type":"fixed","name":"F2","size":2}]},
          {"name":"d3","type":["null","double","boolean",
                              {"type":"enum","name":"E3","symbols":["X","Y"]},
                              {"type":"fixed","name":"F3","size":2}]},
          {"name":"w","type":["null","int","string"]}]})",
       R"({"type":"record","name":"V","fields":[
          {"name":"d","type":["null","double","boolean",
                              {"type":"enum","name":"E","symbols":["X","Y"]},
                              {"type":"fixed","name":"F","size":2}]},
          {"name":"d2","type":["null","double","boolean",
                              {"type":"enum","name":"E2","symbols":["X","Y"]},
                              {"type":"fixed","name":"F2","size":2}]},
          {"name":"d3","type":["null","double","boolean",
                              {"type":"enum","name":"E3","symbols":["X","Y"]},
                              {"type":"fixed","name":"F3","size":2}]},
          {"name":"w","type":["null","long"]}]})",
       R"({"d":{"double":2.5},"d2":{"boolean":true},"d3":{"F3":"\u00ff!"},
           "w":{"int":3}})"},
      {wide.c_str(), nullptr, wide_datum.c_str()},
      // Short records of fixed-kind scalars take the scalar plans: ints,
      // longs and booleans alone (with a skipped long and an int read as a
      // long), at their extremes (the longest varints), six fields (the
      // most the plans take)...
      {R"({"type":"record","name":"S1","fields":[
          {"name":"i","type":"int"},{"name":"l","type":"long"},
          {"name":"b","type":"boolean"},{"name":"gone","type":"long"},
          {"name":"i2","type":"int"},{"name":"l2","type":"long"}]})",
       R"({"type":"record","name":"S1","fields":[
          {"name":"l2","type":"long"},{"name":"b","type":"boolean"},
          {"name":"i2","type":"long"},{"name":"l","type":"long"},
          {"name":"i","type":"int"}]})",
       R"({"i":-2147483648,"l":-9223372036854775808,"b":false,
           "gone":9223372036854775807,"i2":2147483647,"l2":8191})"},
      {R"({"type":"record","name":"S1b","fields":[
          {"name":"i","type":"int"},{"name":"l","type":"long"}]})",
       nullptr, R"({"i":2147483647,"l":9223372036854775807})"},
      {R"({"type":"record","name":"S1c","fields":[
          {"name":"a","type":"int"},{"name":"b","type":"long"},
          {"name":"c","type":"int"},{"name":"d","type":"long"},
          {"name":"e","type":"int"},{"name":"f","type":"int"}]})",
       nullptr, R"({"a":-1,"b":-8192,"c":8191,"d":-8193,"e":0,"f":-10})"},
      // ... every other kind, logical types and skips among them...
      {R"({"type":"record","name":"S2","fields":[
          {"name":"z","type":"null"},{"name":"b","type":"boolean"},
          {"name":"f","type":"float"},{"name":"d","type":"double"},
          {"name":"e","type":{"type":"enum","name":"E",
                              "symbols":["A","B","C"]}},
          {"name":"dt","type":{"type":"int","logicalType":"date"}}]})",
       R"({"type":"record","name":"S2","fields":[
          {"name":"e","type":{"type":"enum","name":"E","symbols":["C","B"],
                              "default":"B"}},
          {"name":"z","type":"null"},{"name":"b","type":"boolean"},
          {"name":"f","type":"float"},{"name":"d","type":"double"},
          {"name":"dt","type":{"type":"int","logicalType":"date"}}]})",
       R"({"z":null,"b":true,"f":-1.25,"d":1e300,"e":"A","dt":19000})"},
      {R"({"type":"record","name":"S2b","fields":[
          {"name":"ts","type":{"type":"long",
                               "logicalType":"timestamp-millis"}},
          {"name":"e","type":{"type":"enum","name":"E",
                              "symbols":["A","B","C"]}},
          {"name":"tu","type":{"type":"long",
                               "logicalType":"time-micros"}}]})",
       nullptr, R"({"ts":1700000000123,"e":"C","tu":3723004005})"},
      {R"({"type":"record","name":"S3","fields":[
          {"name":"gb","type":"boolean"},{"name":"gf","type":"float"},
          {"name":"ge","type":{"type":"enum","name":"G","symbols":["X"]}},
          {"name":"gx","type":{"type":"fixed","name":"F","size":5}},
          {"name":"i","type":"int"},
          {"name":"tm","type":{"type":"int","logicalType":"time-millis"}}]})",
       R"({"type":"record","name":"S3","fields":[
          {"name":"i","type":"int"},
          {"name":"tm","type":{"type":"int","logicalType":"time-millis"}}]})",
       R"({"gb":true,"gf":2.5,"ge":"X","gx":"abcde","i":300,"tm":3723004})"},
      {R"({"type":"record","name":"S3b","fields":[
          {"name":"gd","type":"double"},{"name":"gi","type":"int"},
          {"name":"i","type":"int"}]})",
       R"({"type":"record","name":"S3b","fields":[
          {"name":"i","type":"int"}]})",
       R"({"gd":-0.5,"gi":-3,"i":-300})"},
      // Keys and enum symbols longer than one 16-byte copy.
      {R"({"type":"record","name":"S5","fields":[
          {"name":"a_field_name_of_more_than_sixteen_bytes","type":"long"},
          {"name":"e","type":{"type":"enum","name":"E","symbols":[
              "A_SYMBOL_OF_MORE_THAN_SIXTEEN_BYTES","B"]}},
          {"name":"ok","type":"boolean"}]})",
       nullptr,
       R"({"a_field_name_of_more_than_sixteen_bytes":-1700000000123,
           "e":"A_SYMBOL_OF_MORE_THAN_SIXTEEN_BYTES","ok":false})"},
      {long_keys.c_str(), nullptr, long_keys_datum.c_str()},
      // ... and seven fields: the flat loop again.
      {R"({"type":"record","name":"S4","fields":[
          {"name":"a","type":"int"},{"name":"b","type":"int"},
          {"name":"c","type":"int"},{"name":"d","type":"int"},
          {"name":"e","type":"int"},{"name":"f","type":"int"},
          {"name":"g","type":"boolean"}]})",
       nullptr,
       R"({"a":1,"b":-2,"c":300,"d":-40000,"e":5000000,"f":2147483647,
           "g":true})"},
      // Promotions, a skipped field of each kind, a default, an enum
      // default, and reordering.
      {R"({"type":"record","name":"R","fields":[
          {"name":"i","type":"int"},{"name":"l","type":"long"},
          {"name":"f","type":"float"},{"name":"s","type":"string"},
          {"name":"b","type":"bytes"},{"name":"gone1","type":"boolean"},
          {"name":"gone2","type":"long"},{"name":"gone3","type":"double"},
          {"name":"gone4","type":"string"},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
          {"name":"i2","type":"int"},{"name":"i3","type":"int"}]})",
       R"({"type":"record","name":"R","fields":[
          {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],
                              "default":"A"}},
          {"name":"i","type":"long"},{"name":"l","type":"double"},
          {"name":"f","type":"double"},{"name":"s","type":"bytes"},
          {"name":"b","type":"string"},{"name":"i2","type":"float"},
          {"name":"i3","type":"double"},
          {"name":"new","type":"string","default":"dflt"}]})",
       R"({"i":5,"l":123456789012,"f":2.5,"s":"ab","b":"cd","gone1":true,
           "gone2":99999,"gone3":1.25,"gone4":"skip me","e":"C","i2":-3,
           "i3":300})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.writer);
    auto w = MustParse(c.writer);
    auto r = c.reader ? MustParse(c.reader) : w;
    auto wrap = [](const char* record) {
      return MustParse(
          std::string(R"({"type":"record","name":"Wrap","fields":[)") +
          R"({"name":"r","type":)" + record + "}]}");
    };
    auto flat = MustCompile(w, r);
    auto general =
        MustCompile(wrap(c.writer), wrap(c.reader ? c.reader : c.writer));
    ASSERT_TRUE(flat && general);
    std::string bin;
    ASSERT_TRUE(JsonToBinary(*w, c.datum, JsonFormat::kAvro, &bin).ok());
    for (JsonFormat format : {JsonFormat::kAvro, JsonFormat::kPlain}) {
      std::string a = "prefix", b;
      ASSERT_TRUE(flat->DecodeJsonExact(bin, format, &a).ok());
      ASSERT_TRUE(general->DecodeJsonExact(bin, format, &b).ok());
      EXPECT_EQ("{\"r\":" + a.substr(6) + "}", b);
    }
    Value fv, gv;
    ASSERT_TRUE(flat->DecodeExact(bin, &fv).ok());
    ASSERT_TRUE(general->DecodeExact(bin, &gv).ok());
    ASSERT_EQ(gv.items.size(), 1u);
    EXPECT_TRUE(fv == gv.items[0]);
    // Decoding again into the same Value gives the same Value.
    ASSERT_TRUE(flat->DecodeExact(bin, &fv).ok());
    EXPECT_TRUE(fv == gv.items[0]);
    // Every truncation and some corruptions: the same verdict and message.
    std::mt19937 rng(7);
    for (size_t i = 0; i < bin.size() + (bin.empty() ? 0 : 200); ++i) {
      std::string bad = bin.substr(0, std::min(i, bin.size()));
      if (i >= bin.size()) {
        bad = bin;
        bad[rng() % bad.size()] = static_cast<char>(rng());
      }
      std::string a, b;
      Status fa = flat->DecodeJsonExact(bad, JsonFormat::kPlain, &a);
      Status ga = general->DecodeJsonExact(bad, JsonFormat::kPlain, &b);
      EXPECT_EQ(fa, ga) << i;
      if (fa.ok()) {
        EXPECT_EQ("{\"r\":" + a + "}", b);
      }
      EXPECT_EQ(flat->DecodeExact(bad, &fv), general->DecodeExact(bad, &gv))
          << i;
    }
  }
}

// The scalar plans hand any record they cannot take to the general path:
// hostile bytes get the general path's verdict and message from every
// entry point, and good records back to back decode one after another.
TEST(Codec, ScalarPlansRejectAsTheGeneralPath) {
  const char* schemas[] = {
      // Ints, longs and booleans alone.
      R"({"type":"record","name":"A","fields":[
          {"name":"i","type":"int"},{"name":"b","type":"boolean"},
          {"name":"l","type":"long"}]})",
      // Other kinds.
      R"({"type":"record","name":"B","fields":[
          {"name":"b","type":"boolean"},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
          {"name":"f","type":"float"},{"name":"z","type":"null"},
          {"name":"i","type":"int"}]})",
  };
  const std::string inputs[] = {
      "",
      std::string("\x00", 1),
      std::string("\x00\x01", 2),
      std::string("\x00\x01\x00", 3),
      std::string("\x00\x01\x00\x00", 4),              // a byte left over
      std::string("\x00\x02\x00", 3),                  // boolean 2
      std::string("\x00\x80\x00\x00", 4),              // boolean 0x80
      std::string("\x80", 1),                          // truncated varint
      std::string("\xff\xff\xff\xff\x1f\x00\x00", 7),  // int > 32 bits
      std::string("\xfe\xff\xff\xff\x0f\x01\x00", 7),  // the largest int
      std::string("\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
      std::string("\x00\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00",
                  13),                                 // an 11-byte varint
      std::string("\x01\x04\x00\x00\x80\x3f\x02", 7),  // enum index 2
      std::string("\x01\x01\x00\x00\x80\x3f\x02", 7),  // enum index -1
      std::string("\x01\x02\x00\x00\x80\x3f\x02", 7),  // good for B
      std::string("\x01\x02\x00\x00\x80", 5),          // truncated float
  };
  for (const char* text : schemas) {
    SCOPED_TRACE(text);
    auto s = MustParse(text);
    auto wrap =
        MustParse(std::string(R"({"type":"record","name":"Wrap","fields":[)") +
                  R"({"name":"r","type":)" + text + "}]}");
    auto plan = MustCompile(s);
    auto general = MustCompile(wrap);
    for (const std::string& in : inputs) {
      SCOPED_TRACE(testing::PrintToString(in));
      Value pv, gv;
      Status ps = plan->DecodeExact(in, &pv);
      EXPECT_EQ(ps, general->DecodeExact(in, &gv));
      if (ps.ok()) {
        EXPECT_TRUE(pv == gv.items[0]);
      }
      for (JsonFormat f : {JsonFormat::kAvro, JsonFormat::kPlain}) {
        std::string pj = "[", gj;
        ps = plan->DecodeJsonExact(in, f, &pj);
        EXPECT_EQ(ps, general->DecodeJsonExact(in, f, &gj));
        if (ps.ok()) {
          EXPECT_EQ("{\"r\":" + pj.substr(1) + "}", gj);
        }
        // The front of the input: the same verdict, and as much left.
        std::string_view pin = in, gin = in;
        pj = "[";
        gj.clear();
        ps = plan->DecodeJson(&pin, f, &pj);
        EXPECT_EQ(ps, general->DecodeJson(&gin, f, &gj));
        if (ps.ok()) {
          EXPECT_EQ(pin.size(), gin.size());
          EXPECT_EQ("{\"r\":" + pj.substr(1) + "}", gj);
        }
      }
      std::string_view pin = in, gin = in;
      ps = plan->Decode(&pin, &pv);
      EXPECT_EQ(ps, general->Decode(&gin, &gv));
      if (ps.ok()) {
        EXPECT_EQ(pin.size(), gin.size());
        EXPECT_TRUE(pv == gv.items[0]);
      }
      // In a batch, between good records.
      std::string good;
      {
        std::string_view g = inputs[text == schemas[0] ? 3 : 14];
        good = std::string(g);
      }
      std::string_view batch[] = {good, in, good};
      std::vector<Value> pvs, gvs;
      ps = plan->DecodeBatch(batch, &pvs);
      EXPECT_EQ(ps, general->DecodeBatch(batch, &gvs));
      ASSERT_EQ(pvs.size(), gvs.size());
      for (size_t i = 0; i < pvs.size(); ++i) {
        EXPECT_TRUE(pvs[i] == gvs[i].items[0]) << i;
      }
      std::string pj, gj;
      std::vector<size_t> pe, ge;
      ps = plan->DecodeJsonBatch(batch, JsonFormat::kAvro, &pj, &pe);
      EXPECT_EQ(ps,
                general->DecodeJsonBatch(batch, JsonFormat::kAvro, &gj, &ge));
      EXPECT_EQ(pe.size(), ge.size());
    }
    // Records back to back, and a Value of another shape reused.
    std::string two = inputs[text == schemas[0] ? 3 : 14];
    two += two;
    std::string_view rest = two;
    Value v = Value::Map();
    v.Put("k", Value::Int(1));
    ASSERT_TRUE(plan->Decode(&rest, &v).ok());
    EXPECT_EQ(rest.size(), two.size() / 2);
    EXPECT_TRUE(v.keys.empty());
    ASSERT_TRUE(plan->Decode(&rest, &v).ok());
    EXPECT_TRUE(rest.empty());
    Value g;
    ASSERT_TRUE(general->DecodeExact(two.substr(0, two.size() / 2), &g).ok());
    EXPECT_TRUE(v == g.items[0]);
    std::string json;
    rest = two;
    ASSERT_TRUE(plan->DecodeJson(&rest, JsonFormat::kPlain, &json).ok());
    ASSERT_TRUE(plan->DecodeJson(&rest, JsonFormat::kPlain, &json).ok());
    EXPECT_TRUE(rest.empty());
    std::string one;
    ASSERT_TRUE(plan->DecodeJsonExact(two.substr(0, two.size() / 2),
                                      JsonFormat::kPlain, &one)
                    .ok());
    EXPECT_EQ(json, one + one);
  }
}

// A batch decodes as the same records one call each would: the same JSON
// back to back, each document's end, the same Values; and on a bad record
// it keeps exactly the records before it.
TEST(Codec, BatchesDecodeAsOneCallPerRecord) {
  const char* schemas[] = {
      // Flat: the flat-record loop.
      R"({"type":"record","name":"T","fields":[
          {"name":"id","type":"int"},{"name":"ok","type":"boolean"},
          {"name":"s","type":"string"}]})",
      // Scalar records: the scalar plans, with and without op tests.
      R"({"type":"record","name":"S","fields":[
          {"name":"id","type":"int"},{"name":"ok","type":"boolean"},
          {"name":"n","type":"long"}]})",
      R"({"type":"record","name":"S2","fields":[
          {"name":"d","type":"double"},
          {"name":"e","type":{"type":"enum","name":"E","symbols":["P","Q"]}},
          {"name":"ok","type":"boolean"}]})",
      // Not flat: the general interpreter.
      R"({"type":"record","name":"N","fields":[
          {"name":"a","type":{"type":"array","items":"long"}},
          {"name":"u","type":["null","string"]}]})",
      // Not a record at the root.
      R"(["null","long"])",
  };
  const std::vector<std::vector<const char*>> data = {
      {R"({"id":1,"ok":true,"s":""})", R"({"id":-70000,"ok":false,"s":"x"})",
       R"({"id":2147483647,"ok":true,"s":"a longer string, \"quoted\" \u00e9"})"},
      {R"({"id":1,"ok":true,"n":-1})", R"({"id":-70000,"ok":false,"n":0})",
       R"({"id":2147483647,"ok":true,"n":-9223372036854775808})"},
      {R"({"d":1.5,"e":"Q","ok":true})", R"({"d":-1e-300,"e":"P","ok":false})"},
      {R"({"a":[],"u":null})",
       R"({"a":[1,-2,300000000000],"u":{"string":"y"}})"},
      {"null", R"({"long":-5})", R"({"long":123456789012345})"},
  };
  for (size_t k = 0; k < std::size(schemas); ++k) {
    SCOPED_TRACE(schemas[k]);
    auto s = MustParse(schemas[k]);
    auto d = MustCompile(s);
    // Enough records to outgrow any first buffer.
    std::vector<std::string> bins;
    for (int rep = 0; rep < 200; ++rep) {
      for (const char* j : data[k]) {
        std::string bin;
        Status st = JsonToBinary(*s, j, JsonFormat::kAvro, &bin);
        ASSERT_TRUE(st.ok()) << j << ": " << st.ToString();
        bins.push_back(bin);
      }
    }
    std::vector<std::string_view> views(bins.begin(), bins.end());
    for (JsonFormat format : {JsonFormat::kAvro, JsonFormat::kPlain}) {
      std::string expected = "prefix";
      std::vector<size_t> expected_ends = {99};
      for (const auto& b : bins) {
        ASSERT_TRUE(d->DecodeJsonExact(b, format, &expected).ok());
        expected_ends.push_back(expected.size());
      }
      std::string out = "prefix";
      std::vector<size_t> ends = {99};
      ASSERT_TRUE(d->DecodeJsonBatch(views, format, &out, &ends).ok());
      EXPECT_EQ(out, expected);
      EXPECT_EQ(ends, expected_ends);
      // Without ends, and into a string that already has room.
      out.reserve(out.size() * 3);
      out.resize(6);
      ASSERT_TRUE(d->DecodeJsonBatch(views, format, &out).ok());
      EXPECT_EQ(out, expected);
      // An empty batch changes nothing.
      ASSERT_TRUE(d->DecodeJsonBatch({}, format, &out, &ends).ok());
      EXPECT_EQ(out, expected);
      EXPECT_EQ(ends, expected_ends);
    }
    std::vector<Value> values(3);  // fewer than the batch: grown
    for (int round = 0; round < 2; ++round) {
      ASSERT_TRUE(d->DecodeBatch(views, &values).ok());
      ASSERT_EQ(values.size(), bins.size());
      for (size_t i = 0; i < bins.size(); ++i) {
        Value one;
        ASSERT_TRUE(d->DecodeExact(bins[i], &one).ok());
        EXPECT_TRUE(values[i] == one) << i;
      }
    }
    // A bad record: truncated, then with a trailing byte.
    for (bool truncate : {true, false}) {
      std::vector<std::string> bad(bins.begin(), bins.begin() + 7);
      if (truncate) {
        bad[5] = bad[5].substr(0, bad[5].size() - 1);
      } else {
        bad[5].push_back('\0');
      }
      std::vector<std::string_view> bad_views(bad.begin(), bad.end());
      std::string want_error = "avro: record 5: ";
      {
        std::string ignored;
        Status one = d->DecodeJsonExact(bad[5], JsonFormat::kPlain, &ignored);
        ASSERT_FALSE(one.ok());
        want_error += one.message().substr(6);
      }
      std::string expected = "[";
      std::vector<size_t> expected_ends;
      for (size_t i = 0; i < 5; ++i) {
        ASSERT_TRUE(
            d->DecodeJsonExact(bad[i], JsonFormat::kPlain, &expected).ok());
        expected_ends.push_back(expected.size());
      }
      std::string out = "[";
      std::vector<size_t> ends;
      Status st =
          d->DecodeJsonBatch(bad_views, JsonFormat::kPlain, &out, &ends);
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(st.message(), want_error);
      EXPECT_EQ(out, expected);
      EXPECT_EQ(ends, expected_ends);
      std::vector<Value> vs;
      st = d->DecodeBatch(bad_views, &vs);
      EXPECT_EQ(st.message(), want_error);
      ASSERT_EQ(vs.size(), 5u);
      for (size_t i = 0; i < 5; ++i) {
        Value one;
        ASSERT_TRUE(d->DecodeExact(bad[i], &one).ok());
        EXPECT_TRUE(vs[i] == one) << i;
      }
    }
  }
}

// A union branch is a level of nesting wherever it is decoded: in the
// flat-record loop, in place in the general interpreter, or by a call.
TEST(Codec, UnionBranchesCountTowardsTheDepthLimit) {
  const char* schemas[] = {
      R"({"type":"record","name":"R","fields":[
          {"name":"u","type":["null","long"]}]})",
      R"({"type":"record","name":"R","fields":[
          {"name":"a","type":{"type":"array","items":"int"}},
          {"name":"u","type":["null","long"]}]})",
      R"({"type":"record","name":"R","fields":[
          {"name":"u","type":["null",{"type":"record","name":"S",
                                      "fields":[]}]}]})",
  };
  const char* data[] = {R"({"u":{"long":5}})", R"({"a":[],"u":{"long":5}})",
                        R"({"u":{"S":{}}})"};
  for (size_t k = 0; k < std::size(schemas); ++k) {
    SCOPED_TRACE(schemas[k]);
    auto s = MustParse(schemas[k]);
    std::string bin;
    ASSERT_TRUE(JsonToBinary(*s, data[k], JsonFormat::kAvro, &bin).ok());
    // The record is level 1; the branch level 2 (and the record S, 3).
    int needed = k == 2 ? 3 : 2;
    for (int depth = 1; depth <= 3; ++depth) {
      DecoderOptions options;
      options.max_depth = depth;
      auto d = Decoder::Create(s, nullptr, options);
      ASSERT_TRUE(d.ok());
      bool ok = depth >= needed;
      Value v;
      std::string out;
      for (JsonFormat f : {JsonFormat::kAvro, JsonFormat::kPlain}) {
        out.clear();
        Status st = (*d)->DecodeJsonExact(bin, f, &out);
        EXPECT_EQ(st.ok(), ok) << depth << " " << st.ToString();
      }
      Status st = (*d)->DecodeExact(bin, &v);
      EXPECT_EQ(st.ok(), ok) << depth << " " << st.ToString();
      if (!ok) {
        EXPECT_NE(st.message().find("nested too deeply"), std::string::npos);
      }
    }
  }
}

// -------------------------------------------------------------- robustness

// DecodeJson starts in a stack buffer and moves to the caller's string only
// when the document outgrows it; both paths must append after what the
// string already holds, and integers of every width must print exactly.
TEST(Codec, JsonOutputOfAnySizeAppends) {
  auto s = MustParse(
      R"({"type":"record","name":"R","fields":[
          {"name":"s","type":"string"},
          {"name":"a","type":{"type":"array","items":"long"}}]})");
  auto d = MustCompile(s);
  for (size_t len : {0, 10, 1000, 1023, 1024, 5000, 100000}) {
    std::string text(len, 'x');
    std::string expected = "{\"s\":\"" + text + "\",\"a\":[";
    std::string input = "{\"s\":\"" + text + "\",\"a\":[";
    for (int64_t v = 1; v > 0; v = v <= INT64_MAX / 10 ? v * 10 : 0) {
      for (int64_t x : {v - 1, v, -v, -(v - 1)}) {
        std::string n = std::to_string(x);
        expected += (expected.back() == '[' ? "" : ",") + n;
        input += (input.back() == '[' ? "" : ",") + n;
      }
    }
    for (int64_t x : {INT64_MIN, INT64_MAX, int64_t{99}, int64_t{-100}}) {
      expected += "," + std::to_string(x);
      input += "," + std::to_string(x);
    }
    expected += "]}";
    input += "]}";
    std::string bin;
    ASSERT_TRUE(JsonToBinary(*s, input, JsonFormat::kAvro, &bin).ok());
    std::string out = "prefix";
    ASSERT_TRUE(d->DecodeJsonExact(bin, JsonFormat::kAvro, &out).ok());
    EXPECT_EQ(out, "prefix" + expected) << len;
  }
}

TEST(Codec, BlockSizesMustMatchTheirItems) {
  // A negative block count comes with the block's size in bytes, which
  // skipping jumps by: decoding must end the block there too, or a field
  // the reader skips and one it reads would see different data.
  auto s = MustParse(R"({"type":"record","name":"R","fields":[
      {"name":"a","type":{"type":"array","items":"long"}},
      {"name":"m","type":{"type":"map","values":["null","string"]}},
      {"name":"x","type":"int"}]})");
  auto d = MustCompile(s);
  // A flat record (the flat loops) and a skipped array (resolution).
  auto flat = MustCompile(MustParse(R"({"type":"record","name":"F","fields":[
      {"name":"a","type":{"type":"array","items":"long"}},
      {"name":"x","type":"int"}]})"));
  struct Case {
    std::string bin;
    bool ok;
  } cases[] = {
      // a: count -2, size 2, items 1 and 2; m: empty; x: 3.
      {std::string("\x03\x04\x02\x04\x00\x00\x06", 7), true},
      // The size says 1 byte, the items take 2.
      {std::string("\x03\x02\x02\x04\x00\x00\x06", 7), false},
      // The size says 3 bytes, the items take 2 (x hides in the block).
      {std::string("\x03\x06\x02\x04\x00\x00\x06", 7), false},
      // m: count -1, size 2 for a 3-byte item ("k" and a null, then
      // a string branch).
      {std::string("\x00\x01\x04\x02k\x00\x00\x06", 8), false},
      {std::string("\x00\x01\x06\x02k\x00\x00\x06", 8), true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.bin));
    Value v;
    std::string json;
    EXPECT_EQ(d->DecodeExact(c.bin, &v).ok(), c.ok);
    EXPECT_EQ(d->DecodeJsonExact(c.bin, JsonFormat::kAvro, &json).ok(), c.ok);
    // What decodes, skips to the same end.
    std::string_view skip = c.bin;
    if (c.ok) {
      EXPECT_TRUE(d->Skip(&skip).ok() && skip.empty());
    }
  }
  // The flat record: a's blocks as above, then x.
  for (const auto& [bin, ok] :
       {std::pair<std::string, bool>{std::string("\x03\x04\x02\x04\x00\x06", 6),
                                     true},
        {std::string("\x03\x02\x02\x04\x00\x06", 6), false}}) {
    SCOPED_TRACE(testing::PrintToString(bin));
    Value v;
    std::string json;
    EXPECT_EQ(flat->DecodeExact(bin, &v).ok(), ok);
    EXPECT_EQ(flat->DecodeJsonExact(bin, JsonFormat::kPlain, &json).ok(), ok);
    EXPECT_EQ(flat->DecodeJsonExact(bin, JsonFormat::kAvro, &json).ok(), ok);
  }
}

TEST(Codec, HostileInputNeverCrashes) {
  auto s = MustParse(R"({"type":"record","name":"R","fields":[
      {"name":"a","type":["null","int","string",{"type":"array","items":"R"}]},
      {"name":"m","type":{"type":"map","values":["null","bytes"]}},
      {"name":"n","type":{"type":"array","items":"null"}},
      {"name":"f","type":{"type":"fixed","name":"F","size":4}},
      {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},
      {"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4}}]})");
  auto d = MustCompile(s);
  // A flat record (unions and arrays of scalars), for the flat loops.
  auto flat_schema = MustParse(R"({"type":"record","name":"F","fields":[
      {"name":"i","type":"int"},{"name":"b","type":"boolean"},
      {"name":"u","type":["null","string","long"]},
      {"name":"a","type":{"type":"array","items":"null"}},
      {"name":"s","type":{"type":"array","items":"string"}},
      {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}}]})");
  auto flat = MustCompile(flat_schema);
  std::mt19937 rng(42);
  std::string out;
  Value v;
  std::vector<Value> values;
  std::vector<size_t> ends;
  for (int i = 0; i < 20000; ++i) {
    std::string in(rng() % 64, '\0');
    for (auto& ch : in) ch = static_cast<char>(rng());
    for (const auto* dec : {d.get(), flat.get()}) {
      out.clear();
      std::string_view a = in, b = in, c = in;
      (void)dec->DecodeJson(&a, JsonFormat::kPlain, &out);
      (void)dec->Decode(&b, &v);
      (void)dec->Skip(&c);
      // Batches: the random bytes, then a prefix and a suffix of them.
      std::string_view batch[] = {
          in, std::string_view(in).substr(0, i % 7),
          std::string_view(in).substr(std::min<size_t>(i % 5, in.size()))};
      ends.clear();
      (void)dec->DecodeJsonBatch(batch, JsonFormat::kAvro, &out, &ends);
      (void)dec->DecodeBatch(batch, &values);
    }
  }
  // Huge counts are refused, not allocated.
  std::string bomb("\x00\x00\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
  std::string_view in = bomb;
  EXPECT_FALSE(d->Decode(&in, &v).ok());
  // Deep recursion is bounded.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "\x06\x02";
  in = deep;
  Status st = d->DecodeJson(&in, JsonFormat::kPlain, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nested too deeply"), std::string::npos);
}

}  // namespace
}  // namespace riffle::avro
