// A bounded, seeded mutation fuzzer for the decoder, run by `make test`
// (the ASan+UBSan build included). Valid encodings of random values are
// mutated (flipped bits, truncations, spliced varints: huge and negative
// lengths, overlong and overflowing varints, negative block counts, bad
// union and enum indexes, NaN floats, invalid UTF-8) and every entry point
// must agree: the scalar plans, the flat loop, the general interpreter,
// Value and JSON output and the batch calls either all accept a datum,
// with the same result, or all reject it with a Status. It complements
// the libFuzzer targets in tests/fuzz/ (clang only) with a run that needs
// no extra toolchain.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "avro/codec.h"
#include "avro/json_codec.h"

namespace riffle::avro {
namespace {

const char* const kSchemas[] = {
    // Scalar records: the scalar plans.
    R"({"type":"record","name":"S","fields":[{"name":"a","type":"int"},
      {"name":"b","type":"long"},{"name":"c","type":"boolean"},
      {"name":"d","type":"float"},{"name":"e","type":"double"},
      {"name":"f","type":{"type":"enum","name":"E","symbols":["X","Y","Z"]}},
      {"name":"g","type":"null"}]})",
    R"({"type":"record","name":"V","fields":[{"name":"a","type":"long"},
      {"name":"b","type":"int"},{"name":"c","type":"boolean"}]})",
    // Flat records: strings, bytes, fixed, unions and arrays of scalars.
    R"({"type":"record","name":"F","fields":[{"name":"s","type":"string"},
      {"name":"b","type":"bytes"},
      {"name":"x","type":{"type":"fixed","name":"X","size":3}},
      {"name":"u","type":["null","string","long"]},
      {"name":"a","type":{"type":"array","items":"int"}},
      {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
      {"name":"dt","type":{"type":"int","logicalType":"date"}}]})",
    // Nested records, arrays, maps, unions.
    R"({"type":"record","name":"N","fields":[
      {"name":"r","type":{"type":"record","name":"In","fields":[
        {"name":"m","type":{"type":"map","values":["null","double"]}}]}},
      {"name":"aa","type":{"type":"array","items":{"type":"array","items":"string"}}},
      {"name":"n","type":{"type":"array","items":"null"}},
      {"name":"e","type":{"type":"enum","name":"K","symbols":["A","B"]}}]})",
    // Logical types.
    R"({"type":"record","name":"L","fields":[
      {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":3}},
      {"name":"fdec","type":{"type":"fixed","name":"FD","size":6,"logicalType":"decimal","precision":12,"scale":2}},
      {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
      {"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
      {"name":"ts","type":{"type":"long","logicalType":"timestamp-nanos"}},
      {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
      {"name":"dur","type":{"type":"fixed","name":"Du","size":12,"logicalType":"duration"}}]})",
    // A recursive list.
    R"({"type":"record","name":"List","fields":[{"name":"v","type":"int"},
      {"name":"next","type":["null","List"]}]})",
    // Root union and root map.
    R"(["null","boolean",{"type":"map","values":{"type":"array","items":"long"}}])",
};

// A random value of `node`, `depth` levels deep at most.
Value RandomValue(const Node& node, std::mt19937_64& rng, int depth) {
  auto pick = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  auto small = [&] {
    switch (pick(4)) {
      case 0:
        return static_cast<int64_t>(pick(3));
      case 1:
        return static_cast<int64_t>(pick(200)) - 100;
      case 2:
        return static_cast<int64_t>(rng());
      default:
        return static_cast<int64_t>(pick(1 << 20)) - (1 << 19);
    }
  };
  auto text = [&](bool utf8) {
    std::string s;
    size_t n = pick(6);
    for (size_t i = 0; i < n; ++i)
      s.push_back(utf8 ? static_cast<char>('a' + pick(26))
                       : static_cast<char>(rng()));
    return s;
  };
  Value v;
  v.type = node.type;
  switch (node.type) {
    case Type::kNull:
      break;
    case Type::kBoolean:
      v.boolean = pick(2);
      break;
    case Type::kInt:
      v.integer = static_cast<int32_t>(small());
      break;
    case Type::kLong:
      v.integer = small();
      break;
    case Type::kFloat:
      v.float_value = static_cast<float>(small()) / 8;
      break;
    case Type::kDouble:
      v.double_value = static_cast<double>(small()) / 16;
      break;
    case Type::kString:
      v.bytes = node.logical_type == LogicalType::kUuid
                    ? "123e4567-e89b-12d3-a456-426614174000"
                    : text(true);
      break;
    case Type::kBytes:
      v.bytes = text(false);
      break;
    case Type::kFixed:
      for (int64_t i = 0; i < node.fixed_size; ++i)
        v.bytes.push_back(static_cast<char>(rng()));
      break;
    case Type::kEnum:
      v.integer = static_cast<int64_t>(pick(node.symbols.size()));
      break;
    case Type::kRecord:
      for (const Field& f : node.fields)
        v.items.push_back(RandomValue(*f.type, rng, depth - 1));
      break;
    case Type::kArray:
    case Type::kMap: {
      size_t n = depth > 0 ? pick(4) : 0;
      for (size_t i = 0; i < n; ++i) {
        v.items.push_back(
            RandomValue(node.type == Type::kArray ? *node.items : *node.values,
                        rng, depth - 1));
        if (node.type == Type::kMap) v.keys.push_back("k" + std::to_string(i));
      }
      break;
    }
    case Type::kUnion: {
      // At the depth limit, the first branch (null in the recursive list).
      size_t b = depth > 0 ? pick(node.branches.size()) : 0;
      v = RandomValue(*node.branches[b], rng, depth - 1);
      v.branch = static_cast<int32_t>(b);
      break;
    }
  }
  return v;
}

void PutVarint(uint64_t u, std::string* out) {
  while (u >= 0x80) {
    out->push_back(static_cast<char>(u | 0x80));
    u >>= 7;
  }
  out->push_back(static_cast<char>(u));
}

// One random mutation of `bin`.
void Mutate(std::string* bin, std::mt19937_64& rng) {
  auto pos = [&] { return bin->empty() ? 0 : rng() % (bin->size() + 1); };
  switch (rng() % 9) {
    case 0:  // a flipped bit
      if (!bin->empty()) (*bin)[rng() % bin->size()] ^= 1 << (rng() % 8);
      break;
    case 1:  // truncated
      bin->resize(pos());
      break;
    case 2: {  // a spliced long: huge, negative, extreme
      static const int64_t kLongs[] = {-1,
                                       -2,
                                       -3,
                                       1LL << 62,
                                       -(1LL << 62),
                                       INT64_MAX,
                                       INT64_MIN,
                                       1LL << 40,
                                       -(1LL << 40),
                                       0x7fffffff,
                                       -0x80000000LL,
                                       2,
                                       3,
                                       100};
      std::string v;
      PutLong(kLongs[rng() % std::size(kLongs)], &v);
      bin->insert(pos(), v);
      break;
    }
    case 3: {  // a raw varint: overlong, overflowing, unterminated
      std::string v;
      switch (rng() % 4) {
        case 0:
          v.assign(10, '\xff');
          v.back() = static_cast<char>(rng() & 0x7f);
          break;
        case 1:
          v.assign(11, '\x80');
          v.back() = 0;
          break;
        case 2:
          v.assign(1 + rng() % 12, '\xff');
          break;
        default:
          PutVarint(rng(), &v);
      }
      bin->insert(pos(), v);
      break;
    }
    case 4: {  // a negative block count with a byte size
      std::string v;
      PutLong(-static_cast<int64_t>(1 + rng() % 5), &v);
      PutLong(static_cast<int64_t>(rng() % 40) - 5, &v);
      bin->insert(pos(), v);
      break;
    }
    case 5: {  // NaN, infinity, invalid UTF-8
      using namespace std::string_view_literals;
      static const std::string_view kBytes[] = {
          "\x00\x00\xc0\x7f"sv,
          "\x00\x00\x80\x7f"sv,
          "\x00\x00\x00\x00\x00\x00\xf8\x7f"sv,
          "\x00\x00\x00\x00\x00\x00\xf0\xff"sv,
          "\x04\xc3\x28"sv,
          "\x06\xed\xa0\x80"sv,
          "\x02\x00"sv,
          "\x08\xf4\x90\x80\x80"sv};
      std::string_view b = kBytes[rng() % std::size(kBytes)];
      bin->insert(pos(), b);
      break;
    }
    case 6:  // a deleted byte
      if (!bin->empty()) bin->erase(rng() % bin->size(), 1);
      break;
    case 7:  // a random byte
      if (!bin->empty()) (*bin)[rng() % bin->size()] = static_cast<char>(rng());
      break;
    default:  // a duplicated slice
      if (!bin->empty()) {
        size_t a = rng() % bin->size();
        size_t n = 1 + rng() % std::min<size_t>(8, bin->size() - a);
        bin->insert(pos(), bin->substr(a, n));
      }
  }
}

bool SameValue(const Value& a, const Value& b) {
  if (a.type != b.type || a.branch != b.branch) return false;
  switch (a.type) {
    case Type::kBoolean:
      return a.boolean == b.boolean;
    case Type::kInt:
    case Type::kLong:
    case Type::kEnum:
      return a.integer == b.integer;
    case Type::kFloat:
      return std::memcmp(&a.float_value, &b.float_value, 4) == 0;
    case Type::kDouble:
      return std::memcmp(&a.double_value, &b.double_value, 8) == 0;
    case Type::kString:
    case Type::kBytes:
    case Type::kFixed:
      return a.bytes == b.bytes;
    default:
      break;
  }
  if (a.items.size() != b.items.size() || a.keys != b.keys) return false;
  for (size_t i = 0; i < a.items.size(); ++i)
    if (!SameValue(a.items[i], b.items[i])) return false;
  return true;
}

// Every entry point on `bin`: they agree, and what decodes re-encodes to
// bytes that decode to the same value.
void CheckAgree(const Decoder& d, std::string_view bin) {
  SCOPED_TRACE(testing::PrintToString(std::string(bin)));
  Value exact;
  Status s_exact = d.DecodeExact(bin, &exact);
  Value general;
  std::string_view rest = bin;
  Status s_general = d.Decode(&rest, &general);
  bool general_ok = s_general.ok() && rest.empty();
  ASSERT_EQ(s_exact.ok(), general_ok) << s_exact.ToString();
  std::vector<Value> batch;
  std::string_view one[] = {bin};
  ASSERT_EQ(d.DecodeBatch(one, &batch).ok(), s_exact.ok());
  std::string_view skip = bin;
  Status s_skip = d.Skip(&skip);
  // Skipping checks lengths, not values (an invalid boolean or enum
  // index skips), so it takes at least what decodes, to the same end.
  if (s_exact.ok()) {
    ASSERT_TRUE(s_skip.ok() && skip.empty())
        << s_skip.ToString() << " " << skip.size() << " bytes left";
  }
  for (JsonFormat f : {JsonFormat::kAvro, JsonFormat::kPlain}) {
    std::string j_exact, j_general, j_batch;
    Status s = d.DecodeJsonExact(bin, f, &j_exact);
    ASSERT_EQ(s.ok(), s_exact.ok()) << s.ToString() << " " << j_exact;
    std::string_view r = bin;
    Status g = d.DecodeJson(&r, f, &j_general);
    ASSERT_EQ(g.ok() && r.empty(), s_exact.ok()) << g.ToString();
    ASSERT_EQ(d.DecodeJsonBatch(one, f, &j_batch).ok(), s_exact.ok());
    if (!s_exact.ok()) continue;
    ASSERT_EQ(j_exact, j_general);
    ASSERT_EQ(j_exact, j_batch);
    std::string via_value;
    ASSERT_TRUE(ValueToJson(d.writer().root(), exact, f, &via_value).ok());
    ASSERT_EQ(j_exact, via_value);
  }
  if (!s_exact.ok()) {
    EXPECT_EQ(s_exact.code(), StatusCode::kInvalidArgument);
    return;
  }
  ASSERT_TRUE(SameValue(exact, general));
  ASSERT_TRUE(SameValue(exact, batch[0]));
  std::string again;
  ASSERT_TRUE(Encode(d.writer(), exact, &again).ok());
  Value back;
  ASSERT_TRUE(d.DecodeExact(again, &back).ok());
  ASSERT_TRUE(SameValue(exact, back));
}

TEST(CodecFuzz, MutatedEncodingsAgreeOrFail) {
  std::mt19937_64 rng(20261126);
  DecoderOptions options;
  options.max_empty_items = 4096;
  int decoded = 0, failed = 0;
  for (const char* text : kSchemas) {
    auto schema = Schema::Parse(text);
    ASSERT_TRUE(schema.ok()) << text;
    SCOPED_TRACE(text);
    auto d = Decoder::Create(*schema, nullptr, options);
    ASSERT_TRUE(d.ok());
    for (int i = 0; i < 3000; ++i) {
      Value v = RandomValue((*schema)->root(), rng, 6);
      std::string bin;
      ASSERT_TRUE(Encode(**schema, v, &bin).ok()) << text;
      // The valid encoding itself, then up to three mutations of it.
      int mutations = static_cast<int>(rng() % 4);
      for (int m = 0; m < mutations; ++m) Mutate(&bin, rng);
      CheckAgree(**d, bin);
      if (HasFatalFailure()) return;
      std::string_view one = bin;
      Value ignored;
      (d.value()->DecodeExact(one, &ignored).ok() ? decoded : failed)++;
    }
  }
  // Both outcomes are exercised.
  EXPECT_GT(decoded, 1000);
  EXPECT_GT(failed, 1000);
}

}  // namespace
}  // namespace riffle::avro
