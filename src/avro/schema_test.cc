#include "avro/schema.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "avro/canonical.h"

namespace riffle::avro {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const std::filesystem::path kData = RIFFLE_AVRO_TESTDATA;

struct CanonicalCase {
  std::string input, canonical;
  std::optional<int64_t> fingerprint;
};

// Reads Avro's share/test/data/schema-tests.txt format.
std::vector<CanonicalCase> ReadSchemaTests() {
  std::istringstream in(ReadFile(kData / "schema-tests.txt"));
  std::vector<CanonicalCase> cases;
  std::string line;
  CanonicalCase cur;
  while (std::getline(in, line)) {
    if (line.rfind("<<INPUT", 0) == 0) {
      if (!cur.input.empty()) cases.push_back(cur);
      cur = {};
      if (line.size() > 8) {
        cur.input = line.substr(8);
      } else {
        std::string body;
        while (std::getline(in, line) && line != "INPUT") body += line + "\n";
        cur.input = body;
      }
    } else if (line.rfind("<<canonical ", 0) == 0) {
      cur.canonical = line.substr(12);
    } else if (line.rfind("<<fingerprint ", 0) == 0) {
      cur.fingerprint = std::stoll(line.substr(14));
    }
  }
  if (!cur.input.empty()) cases.push_back(cur);
  return cases;
}

TEST(SchemaConformance, CanonicalFormsAndFingerprints) {
  auto cases = ReadSchemaTests();
  ASSERT_EQ(cases.size(), 34u);
  int fingerprints = 0;
  for (const auto& c : cases) {
    auto s = Schema::Parse(c.input);
    ASSERT_TRUE(s.ok()) << c.input << ": " << s.status().ToString();
    EXPECT_EQ((*s)->CanonicalForm(), c.canonical) << c.input;
    if (c.fingerprint) {
      ++fingerprints;
      EXPECT_EQ(static_cast<int64_t>(Fingerprint64(**s)), *c.fingerprint)
          << c.input;
    }
  }
  EXPECT_EQ(fingerprints, 26);
}

TEST(SchemaConformance, CSchemaTestsPass) {
  int n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(kData / "c-schema-tests/pass")) {
    ++n;
    auto s = Schema::Parse(ReadFile(e.path()));
    EXPECT_TRUE(s.ok()) << e.path() << ": " << s.status().ToString();
    if (!s.ok()) continue;
    // The full JSON form parses back to the same canonical form.
    auto again = Schema::Parse((*s)->ToJson());
    ASSERT_TRUE(again.ok()) << (*s)->ToJson() << again.status().ToString();
    EXPECT_EQ((*again)->CanonicalForm(), (*s)->CanonicalForm());
  }
  EXPECT_EQ(n, 28);
}

TEST(SchemaConformance, CSchemaTestsFail) {
  int n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(kData / "c-schema-tests/fail")) {
    ++n;
    auto s = Schema::Parse(ReadFile(e.path()));
    EXPECT_FALSE(s.ok()) << e.path();
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_EQ(n, 12);
}

TEST(SchemaConformance, SchemaFiles) {
  for (const auto& e :
       std::filesystem::directory_iterator(kData / "schema-files")) {
    auto s = Schema::Parse(ReadFile(e.path()));
    EXPECT_TRUE(s.ok()) << e.path() << ": " << s.status().ToString();
  }
  for (const char* p :
       {"schemas/simple/schema.json", "schemas/withUnion/schema.json",
        "messageV1/test_schema.avsc"}) {
    EXPECT_TRUE(Schema::Parse(ReadFile(kData / p)).ok()) << p;
  }
}

TEST(Schema, Fingerprints) {
  auto s = Schema::Parse(R"("int")");
  ASSERT_TRUE(s.ok());
  // md5("\"int\"") and sha256("\"int\"").
  auto md5 = Md5((*s)->CanonicalForm());
  EXPECT_EQ(md5[0], 0xef);
  EXPECT_EQ(md5[15], 0x32);
  auto sha = Sha256((*s)->CanonicalForm());
  EXPECT_EQ(sha[0], 0x3f);
  EXPECT_EQ(sha[31], 0x45);
}

TEST(Schema, NamespacesAndReferences) {
  auto s = Schema::Parse(R"({"type":"record","name":"Outer","namespace":"a.b",
    "fields":[
      {"name":"x","type":{"type":"record","name":"Inner","fields":[]}},
      {"name":"y","type":"Inner"},
      {"name":"z","type":"a.b.Inner"},
      {"name":"w","type":{"type":"enum","name":"c.E","symbols":["A"]}},
      {"name":"v","type":"c.E"},
      {"name":"self","type":["null","Outer"]}]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Node& root = (*s)->root();
  EXPECT_EQ(root.full_name, "a.b.Outer");
  EXPECT_EQ(root.fields[0].type->full_name, "a.b.Inner");
  EXPECT_EQ(root.fields[1].type, root.fields[0].type);
  EXPECT_EQ(root.fields[2].type, root.fields[0].type);
  EXPECT_EQ(root.fields[3].type->full_name, "c.E");
  EXPECT_EQ(root.fields[3].type->name_space, "c");
  EXPECT_EQ(root.fields[5].type->branches[1], &root);
  EXPECT_EQ((*s)->FindNamed("c.E"), root.fields[3].type);
}

TEST(Schema, KeepsDocAliasesPropertiesAndDefaults) {
  auto s = Schema::Parse(R"({"type":"record","name":"R","namespace":"n",
    "doc":"a record","aliases":["Old","other.Older"],"x-owner":"team",
    "fields":[
      {"name":"a","type":"int","default":3,"doc":"field a","aliases":["b"],
       "order":"descending","x-pii":true},
      {"name":"n","type":["null","string"],"default":null},
      {"name":"m","type":["null","string"]}]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const Node& r = (*s)->root();
  EXPECT_EQ(r.doc, "a record");
  EXPECT_EQ(r.aliases, (std::vector<std::string>{"n.Old", "other.Older"}));
  ASSERT_EQ(r.properties.size(), 1u);
  EXPECT_EQ(r.properties[0].first, "x-owner");
  EXPECT_EQ(r.fields[0].doc, "field a");
  EXPECT_EQ(r.fields[0].order, SortOrder::kDescending);
  EXPECT_EQ(r.fields[0].properties[0].first, "x-pii");
  ASSERT_TRUE(r.fields[1].default_value.has_value());
  EXPECT_TRUE(r.fields[1].default_value->is_null());
  EXPECT_FALSE(r.fields[2].default_value.has_value());
  EXPECT_EQ(
      (*s)->ToJson(),
      R"({"name":"R","namespace":"n","type":"record","doc":"a record","aliases":["n.Old","other.Older"],"fields":[{"name":"a","type":"int","doc":"field a","default":3,"order":"descending","aliases":["b"],"x-pii":true},{"name":"n","type":["null","string"],"default":null},{"name":"m","type":["null","string"]}],"x-owner":"team"})");
}

TEST(Schema, LogicalTypes) {
  struct Case {
    const char* schema;
    LogicalType want;
  } cases[] = {
      {R"({"type":"bytes","logicalType":"decimal","precision":9,"scale":2})",
       LogicalType::kDecimal},
      {R"({"type":"fixed","name":"D","size":4,"logicalType":"decimal","precision":9})",
       LogicalType::kDecimal},
      // 4 bytes hold at most 9 digits: degrades to fixed.
      {R"({"type":"fixed","name":"D","size":4,"logicalType":"decimal","precision":10})",
       LogicalType::kNone},
      {R"({"type":"bytes","logicalType":"decimal","precision":2,"scale":3})",
       LogicalType::kNone},
      {R"({"type":"bytes","logicalType":"decimal"})", LogicalType::kNone},
      {R"({"type":"string","logicalType":"uuid"})", LogicalType::kUuid},
      {R"({"type":"fixed","name":"U","size":16,"logicalType":"uuid"})",
       LogicalType::kUuid},
      {R"({"type":"int","logicalType":"date"})", LogicalType::kDate},
      {R"({"type":"long","logicalType":"date"})", LogicalType::kNone},
      {R"({"type":"int","logicalType":"time-millis"})",
       LogicalType::kTimeMillis},
      {R"({"type":"long","logicalType":"time-micros"})",
       LogicalType::kTimeMicros},
      {R"({"type":"long","logicalType":"timestamp-millis"})",
       LogicalType::kTimestampMillis},
      {R"({"type":"long","logicalType":"timestamp-micros"})",
       LogicalType::kTimestampMicros},
      {R"({"type":"long","logicalType":"timestamp-nanos"})",
       LogicalType::kTimestampNanos},
      {R"({"type":"long","logicalType":"local-timestamp-millis"})",
       LogicalType::kLocalTimestampMillis},
      {R"({"type":"long","logicalType":"local-timestamp-micros"})",
       LogicalType::kLocalTimestampMicros},
      {R"({"type":"long","logicalType":"local-timestamp-nanos"})",
       LogicalType::kLocalTimestampNanos},
      {R"({"type":"fixed","name":"Du","size":12,"logicalType":"duration"})",
       LogicalType::kDuration},
      {R"({"type":"fixed","name":"Du","size":8,"logicalType":"duration"})",
       LogicalType::kNone},
      {R"({"type":"string","logicalType":"no-such-type"})", LogicalType::kNone},
  };
  for (const auto& c : cases) {
    auto s = Schema::Parse(c.schema);
    ASSERT_TRUE(s.ok()) << c.schema << s.status().ToString();
    EXPECT_EQ((*s)->root().logical_type, c.want) << c.schema;
    // The attribute survives, valid or not; canonical form drops it.
    EXPECT_NE((*s)->ToJson().find("logicalType"), std::string::npos);
    EXPECT_EQ((*s)->CanonicalForm().find("logicalType"), std::string::npos);
  }
  auto d = Schema::Parse(
      R"({"type":"bytes","logicalType":"decimal","precision":9,"scale":2})");
  EXPECT_EQ((*d)->root().precision, 9);
  EXPECT_EQ((*d)->root().scale, 2);
}

TEST(Schema, ValidDefaults) {
  for (
      const char* f : {
          R"({"name":"f","type":"int","default":-2147483648})",
          R"({"name":"f","type":"long","default":9223372036854775807})",
          R"({"name":"f","type":"double","default":1.5e10})",
          R"({"name":"f","type":"float","default":"NaN"})",
          R"({"name":"f","type":"bytes","default":"\u00ff\u0000"})",
          R"({"name":"f","type":{"type":"fixed","name":"F","size":2},"default":"ab"})",
          R"({"name":"f","type":{"type":"enum","name":"E","symbols":["A","B"]},"default":"B"})",
          R"({"name":"f","type":{"type":"array","items":"int"},"default":[1,2]})",
          R"({"name":"f","type":{"type":"map","values":"string"},"default":{"a":"b"}})",
          R"({"name":"f","type":["int","null"],"default":1})",
          R"({"name":"f","type":{"type":"record","name":"In","fields":[
                 {"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]},
               "default":{"a":1}})",
      }) {
    std::string schema =
        std::string(R"({"type":"record","name":"R","fields":[)") + f + "]}";
    auto s = Schema::Parse(schema);
    EXPECT_TRUE(s.ok()) << f << ": " << s.status().ToString();
  }
}

TEST(Schema, InvalidSchemasNameTheirLocation) {
  struct Case {
    const char* schema;
    const char* message;  // a substring of the error
  } cases[] = {
      {R"({"type":"record","name":"Payment","namespace":"ns","fields":[
          {"name":"amount","type":"int","default":1.5}]})",
       "record 'ns.Payment' field 'amount': invalid default value 1.5 for type "
       "int"},
      {R"({"type":"record","name":"R","fields":[
          {"name":"u","type":["null","int"],"default":1}]})",
       "record 'R' field 'u': invalid default value 1 for type null"},
      {R"({"type":"record","name":"R","fields":[
          {"name":"i","type":"int","default":3000000000}]})",
       "field 'i': invalid default"},
      {R"({"type":"record","name":"R","fields":[
          {"name":"e","type":{"type":"enum","name":"E","symbols":["A"]},"default":"Z"}]})",
       "field 'e': invalid default value \"Z\" for type enum 'E'"},
      {R"({"type":"record","name":"R","fields":[
          {"name":"r","type":{"type":"record","name":"In","fields":[{"name":"a","type":"int"}]},
           "default":{}}]})",
       "field 'a' missing and has no default"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"Nope"}]})",
       "record 'R' field 'a': unknown type \"Nope\""},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},
          {"name":"a","type":"int"}]})",
       "record 'R' field 'a': duplicate field name"},
      {R"({"type":"record","name":"R","fields":[{"name":"9a","type":"int"}]})",
       "not a valid Avro name"},
      {R"({"type":"enum","name":"E","symbols":["A","A"]})", "duplicate symbol"},
      {R"({"type":"enum","name":"E","symbols":["A"],"default":"B"})",
       "enum 'E': default \"B\" is not one of its symbols"},
      {R"(["int","int"])", "duplicate type int in union"},
      {R"(["int",["string"]])",
       "unions may not immediately contain other unions"},
      {R"({"type":"record","name":"int","fields":[]})", "primitive type"},
      {R"({"type":"record","name":"R","fields":[
          {"name":"a","type":{"type":"fixed","name":"R","size":1}}]})",
       "redefinition of \"R\""},
      {R"({"type":"fixed","name":"F","size":-1})",
       "\"size\" must be a non-negative"},
      {R"({"type":"array"})", "array without \"items\""},
      {R"({"type":"map","values":"Missing"})", "map values: unknown type"},
      {R"({"type":"record","name":"a..b","fields":[]})",
       "not a valid Avro name"},
      {R"({"type":"record","name":"R","fields":[
          {"name":"a","type":"int","order":"sideways"}]})",
       "invalid \"order\""},
      {R"(42)", "a schema must be a string, object or array"},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}] )",
       "not valid JSON"},
  };
  for (const auto& c : cases) {
    auto s = Schema::Parse(c.schema);
    ASSERT_FALSE(s.ok()) << c.schema;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.message), std::string::npos)
        << "got: " << s.status().message() << "\nwant: " << c.message;
  }
}

TEST(Schema, References) {
  auto address = Schema::Parse(
      R"({"type":"record","name":"Address","namespace":"com.acme",
          "fields":[{"name":"city","type":"string"}]})");
  ASSERT_TRUE(address.ok());
  SchemaParseOptions options;
  options.references.push_back(*address);
  auto person = Schema::Parse(
      R"({"type":"record","name":"Person","namespace":"com.acme",
          "fields":[{"name":"home","type":"Address"}]})",
      options);
  ASSERT_TRUE(person.ok()) << person.status().ToString();
  EXPECT_EQ((*person)->root().fields[0].type, &(*address)->root());
  EXPECT_FALSE(Schema::Parse(
                   R"({"type":"record","name":"Person","namespace":"com.acme",
          "fields":[{"name":"home","type":"Address"}]})")
                   .ok());
}

TEST(Schema, HostileNestingIsRejected) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += R"({"type":"array","items":)";
  deep += "\"int\"";
  for (int i = 0; i < 200; ++i) deep += "}";
  auto s = Schema::Parse(deep);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace riffle::avro
