#include "avro/compatibility.h"

#include <gtest/gtest.h>

namespace riffle::avro {
namespace {

struct Case {
  const char* reader;
  const char* writer;
  // Expected incompatibilities as "TYPE at LOCATION: message", in order;
  // empty when compatible.
  std::vector<std::string> expected;
};

constexpr const char* kEnumAB =
    R"({"type":"enum","name":"E","symbols":["A","B"]})";
constexpr const char* kEnumABC =
    R"({"type":"enum","name":"E","symbols":["A","B","C","D"]})";
constexpr const char* kRecA =
    R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})";
constexpr const char* kRecAB = R"({"type":"record","name":"R","fields":[
    {"name":"a","type":"int"},{"name":"b","type":"string"}]})";
constexpr const char* kRecABDefault = R"({"type":"record","name":"R","fields":[
    {"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]})";
constexpr const char* kList = R"({"type":"record","name":"List","fields":[
    {"name":"v","type":"int"},{"name":"next","type":["null","List"]}]})";
constexpr const char* kListLong = R"({"type":"record","name":"List","fields":[
    {"name":"v","type":"long"},{"name":"next","type":["null","List"]}]})";

TEST(Compatibility, Table) {
  Case cases[] = {
      // Primitives and promotions.
      {R"("int")", R"("int")", {}},
      {R"("long")", R"("int")", {}},
      {R"("float")", R"("long")", {}},
      {R"("double")", R"("float")", {}},
      {R"("bytes")", R"("string")", {}},
      {R"("string")", R"("bytes")", {}},
      {R"("int")",
       R"("long")",
       {"TYPE_MISMATCH at /: reader type: INT not compatible with writer type: "
        "LONG"}},
      {R"("float")",
       R"("double")",
       {"TYPE_MISMATCH at /: reader type: FLOAT not compatible with writer "
        "type: DOUBLE"}},
      {R"("null")",
       R"("boolean")",
       {"TYPE_MISMATCH at /: reader type: NULL not compatible with writer "
        "type: BOOLEAN"}},
      // Arrays and maps.
      {R"({"type":"array","items":"long"})",
       R"({"type":"array","items":"int"})",
       {}},
      {R"({"type":"array","items":"int"})",
       R"({"type":"array","items":"long"})",
       {"TYPE_MISMATCH at /items: reader type: INT not compatible with writer "
        "type: LONG"}},
      {R"({"type":"map","values":"int"})",
       R"({"type":"map","values":"string"})",
       {"TYPE_MISMATCH at /values: reader type: INT not compatible with writer "
        "type: STRING"}},
      {R"({"type":"map","values":"int"})",
       R"({"type":"array","items":"int"})",
       {"TYPE_MISMATCH at /: reader type: MAP not compatible with writer type: "
        "ARRAY"}},
      // Enums.
      {kEnumABC, kEnumAB, {}},
      {kEnumAB, kEnumABC, {"MISSING_ENUM_SYMBOLS at /symbols: [C, D]"}},
      {R"({"type":"enum","name":"E","symbols":["A","B"],"default":"A"})",
       kEnumABC,
       {}},
      {R"({"type":"enum","name":"F","symbols":["A","B"]})",
       kEnumAB,
       {"NAME_MISMATCH at /name: expected: E"}},
      {R"({"type":"enum","name":"F","aliases":["E"],"symbols":["A","B"]})",
       kEnumAB,
       {}},
      // Fixed.
      {R"({"type":"fixed","name":"F","size":8})",
       R"({"type":"fixed","name":"F","size":4})",
       {"FIXED_SIZE_MISMATCH at /size: expected: 4, found: 8"}},
      {R"({"type":"fixed","name":"G","size":4})",
       R"({"type":"fixed","name":"F","size":4})",
       {"NAME_MISMATCH at /name: expected: F"}},
      // Records.
      {kRecA, kRecAB, {}},
      {kRecAB, kRecA, {"READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1: b"}},
      {kRecABDefault, kRecA, {}},
      {R"({"type":"record","name":"R","fields":[{"name":"a","type":"string"}]})",
       kRecAB,
       {"TYPE_MISMATCH at /fields/0/type: reader type: STRING not compatible "
        "with writer type: INT"}},
      {R"({"type":"record","name":"R","fields":[{"name":"z","aliases":["a"],"type":"long"}]})",
       kRecA,
       {}},
      {R"({"type":"record","name":"S","fields":[{"name":"a","type":"int"}]})",
       kRecA,
       {"NAME_MISMATCH at /name: expected: R"}},
      // Namespaces do not matter to record names (Java compares short names).
      {R"({"type":"record","name":"x.R","fields":[{"name":"a","type":"int"}]})",
       kRecA,
       {}},
      // Every incompatibility is reported.
      {R"({"type":"record","name":"R","fields":[
           {"name":"a","type":"string"},{"name":"b","type":"int"},
           {"name":"c","type":"int"}]})",
       kRecAB,
       {"TYPE_MISMATCH at /fields/0/type: reader type: STRING not compatible "
        "with writer type: INT",
        "TYPE_MISMATCH at /fields/1/type: reader type: INT not compatible with "
        "writer type: STRING",
        "READER_FIELD_MISSING_DEFAULT_VALUE at /fields/2: c"}},
      // Unions.
      {R"(["null","int"])", R"(["null","int"])", {}},
      {R"(["null","int","string"])", R"(["int","null"])", {}},
      {R"(["null","long"])", R"("int")", {}},
      {R"(["null","int"])",
       R"(["null","int","string"])",
       {"MISSING_UNION_BRANCH at /2: reader union lacking writer type: "
        "STRING"}},
      {R"(["null","string"])",
       R"("int")",
       {"MISSING_UNION_BRANCH at /: reader union lacking writer type: INT"}},
      {R"("int")",
       R"(["null","int"])",
       {"TYPE_MISMATCH at /: reader type: INT not compatible with writer type: "
        "NULL"}},
      {R"("long")", R"(["int","long"])", {}},
      {R"({"type":"record","name":"R","fields":[{"name":"u","type":["null","int"]}]})",
       R"({"type":"record","name":"R","fields":[{"name":"u","type":["null","int","string"]}]})",
       {"MISSING_UNION_BRANCH at /fields/0/type/2: reader union lacking writer "
        "type: STRING"}},
      // Recursive types terminate.
      {kList, kList, {}},
      {kListLong, kList, {}},
      {kList,
       kListLong,
       {"TYPE_MISMATCH at /fields/0/type: reader type: INT not compatible with "
        "writer type: LONG"}},
  };
  for (const auto& c : cases) {
    auto r = Schema::Parse(c.reader);
    auto w = Schema::Parse(c.writer);
    ASSERT_TRUE(r.ok() && w.ok()) << c.reader << " / " << c.writer;
    Compatibility result = CheckCompatibility(**r, **w);
    std::vector<std::string> got;
    for (const auto& i : result.incompatibilities) got.push_back(i.ToString());
    EXPECT_EQ(got, c.expected)
        << "reader " << c.reader << "\nwriter " << c.writer;
    EXPECT_EQ(result.compatible(), c.expected.empty());
  }
}

// The registry's levels, built from the pairwise check.
TEST(Compatibility, BackwardForwardFull) {
  auto v1 = *Schema::Parse(kRecA);
  auto v2 = *Schema::Parse(kRecABDefault);  // adds a field with a default
  auto v3 = *Schema::Parse(kRecAB);         // ... without a default
  // BACKWARD: the new schema reads old data.
  EXPECT_TRUE(CheckCompatibility(*v2, *v1).compatible());
  EXPECT_FALSE(CheckCompatibility(*v3, *v1).compatible());
  // FORWARD: old readers read new data.
  EXPECT_TRUE(CheckCompatibility(*v1, *v2).compatible());
  EXPECT_TRUE(CheckCompatibility(*v1, *v3).compatible());
  // FULL needs both.
  EXPECT_TRUE(CheckCompatibility(*v2, *v1).compatible() &&
              CheckCompatibility(*v1, *v2).compatible());
}

}  // namespace
}  // namespace riffle::avro
