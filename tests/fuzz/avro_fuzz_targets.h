// The entry points of the Avro fuzz targets, shared by the libFuzzer
// binaries (avro_*_fuzzer.cc, clang only) and by the corpus replay test
// that runs under g++ in avro_test (src/avro/fuzz_replay_test.cc). Each
// must accept any input without crashing, leaking or tripping a sanitizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "avro/codec.h"
#include "avro/compatibility.h"
#include "avro/container.h"
#include "avro/framing.h"
#include "avro/json_codec.h"
#include "avro/schema.h"

namespace riffle::avro::fuzz {

// Schema text -> parse, print back, re-parse, canonical form, compatibility
// with itself, and a decoder.
inline void SchemaFuzzOne(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = Schema::Parse(text);
  if (!s.ok()) return;
  std::string full = (*s)->ToJson();
  auto again = Schema::Parse(full);
  if (!again.ok() || (*again)->CanonicalForm() != (*s)->CanonicalForm()) {
    __builtin_trap();  // printing a valid schema must give a valid schema
  }
  (void)CheckCompatibility(**s, **again);
  auto d = Decoder::Create(*s, *again);
  if (d.ok()) {
    // Decode a few fixed byte patterns with it.
    static const char kBytes[] =
        "\x02\x04\x00\x06"
        "abc\x01\x00\x00\x00\x00\x00";
    std::string out;
    Value v;
    std::string_view a(kBytes, sizeof kBytes - 1), b = a, c = a;
    (void)(*d)->DecodeJson(&a, JsonFormat::kPlain, &out);
    (void)(*d)->Decode(&b, &v);
    (void)(*d)->Skip(&c);
  }
}

inline const char* const kDecodeSchemas[] = {
    R"({"type":"record","name":"Interop","namespace":"fuzz","fields":[
      {"name":"i","type":"int"},{"name":"l","type":"long"},
      {"name":"s","type":"string"},{"name":"b","type":"boolean"},
      {"name":"f","type":"float"},{"name":"d","type":"double"},
      {"name":"by","type":"bytes"},{"name":"n","type":"null"},
      {"name":"a","type":{"type":"array","items":"double"}},
      {"name":"m","type":{"type":"map","values":{"type":"record","name":"Foo",
        "fields":[{"name":"label","type":"string"}]}}},
      {"name":"u","type":["boolean","double",{"type":"array","items":"bytes"}]},
      {"name":"e","type":{"type":"enum","name":"Kind","symbols":["A","B","C"]}},
      {"name":"fx","type":{"type":"fixed","name":"MD5","size":16}},
      {"name":"r","type":{"type":"record","name":"Node","fields":[
        {"name":"label","type":"string"},
        {"name":"children","type":{"type":"array","items":"Node"}}]}}]})",
    R"({"type":"record","name":"L","fields":[
      {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":30,"scale":4}},
      {"name":"fdec","type":{"type":"fixed","name":"FD","size":8,"logicalType":"decimal","precision":18,"scale":2}},
      {"name":"date","type":{"type":"int","logicalType":"date"}},
      {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
      {"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
      {"name":"ts","type":{"type":"long","logicalType":"timestamp-nanos"}},
      {"name":"lts","type":{"type":"long","logicalType":"local-timestamp-micros"}},
      {"name":"uuid","type":{"type":"fixed","name":"U","size":16,"logicalType":"uuid"}},
      {"name":"dur","type":{"type":"fixed","name":"Du","size":12,"logicalType":"duration"}},
      {"name":"nulls","type":{"type":"array","items":"null"}}]})",
    R"(["null","int",{"type":"map","values":["null","string",{"type":"array","items":"long"}]}])",
};

// First byte: which schema (and whether to resolve it into a reader that
// drops and promotes fields); the rest: data, also tried as a container
// file and as framed messages.
inline void DecodeFuzzOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  constexpr size_t kCount = sizeof kDecodeSchemas / sizeof kDecodeSchemas[0];
  static const auto* schemas = [] {
    auto* v = new std::vector<std::shared_ptr<const Schema>>();
    for (const char* text : kDecodeSchemas) v->push_back(*Schema::Parse(text));
    v->push_back(*Schema::Parse(
        R"({"type":"record","name":"Interop","namespace":"fuzz","fields":[
          {"name":"l","type":"double"},{"name":"i","type":"long"},
          {"name":"x","type":["null","string"],"default":null},
          {"name":"e","type":{"type":"enum","name":"Kind","symbols":["B","Z"],"default":"Z"}},
          {"name":"u","type":["double","null",{"type":"array","items":"string"}]}]})"));
    return v;
  }();
  size_t pick = data[0] % kCount;
  bool resolve = pick == 0 && (data[0] & 0x80);
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  // Small caps keep each run fast; the bounds themselves are what is tested.
  DecoderOptions options;
  options.max_empty_items = 4096;
  auto d = Decoder::Create((*schemas)[pick],
                           resolve ? (*schemas)[kCount] : nullptr, options);
  if (!d.ok()) __builtin_trap();  // the built-in pairs always resolve
  std::string out;
  Value v;
  for (JsonFormat f : {JsonFormat::kAvro, JsonFormat::kPlain}) {
    std::string_view a = in;
    out.clear();
    if ((*d)->DecodeJson(&a, f, &out).ok()) {
      // Whatever decodes must be valid JSON and read back (plain form may
      // pick other union branches, so only check it parses).
      auto j = json::Parse(out);
      if (!j.ok()) __builtin_trap();
      if (!resolve) {
        std::string bin;
        (void)JsonToBinary((*d)->reader(), out, f, &bin);
      }
    }
  }
  std::string_view b = in, c = in;
  if ((*d)->Decode(&b, &v).ok() && !resolve) {
    std::string bin;
    if (!Encode((*d)->reader(), v, &bin).ok()) __builtin_trap();
  }
  (void)(*d)->Skip(&c);
  auto file = ContainerReader::Open(in);
  if (file.ok()) {
    for (int i = 0; i < 1000; ++i) {
      out.clear();
      auto more = (*file)->NextJson(JsonFormat::kPlain, &out);
      if (!more.ok() || !*more) break;
    }
  }
  (void)ParseGlue(in, 1 << 20);
  (void)ParseConfluent(in);
  (void)ParseSingleObject(in);
}

}  // namespace riffle::avro::fuzz
