// Avro decode and encode throughput, one core, for the four record shapes of
// bench/avro_shapes.json (the same schemas and records bench/avro_avsc.mjs
// runs through avsc). Items/s is records/s. Never part of the test run.
//
// What each case measures, and its avsc counterpart:
//  - DecodeValue: one datum, whole buffer (trailing bytes are an error, as
//    in avsc's fromBuffer), into an avro::Value reused across records, as a
//    consumer loop would; avsc's fromBuffer builds a new object each time.
//  - DecodeJson: the same, to JSON text appended to a reused string (plain
//    and Avro JSON); avsc's counterpart is JSON.stringify(fromBuffer(buf)).
//  - EncodeValue: a Value to bytes appended to a reused string; avsc's
//    toBuffer returns a new Buffer.
//  - DecodeValueBatch, DecodeJsonBatch: kBatch records, each in a buffer of
//    its own, decoded by one DecodeBatch / DecodeJsonBatch call (into a
//    reused vector of Values; into one reused string, with the end offset
//    of each document), as a consumer of a Kinesis batch would; items/s is
//    still records/s. avsc has no batch call: its counterparts run
//    fromBuffer over the same kBatch buffers, and decode(buf, pos) over the
//    records laid end to end in one buffer (avro_avsc.mjs).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "avro/codec.h"
#include "avro/json_codec.h"
#include "json/json.h"

namespace riffle::avro {
namespace {

struct Shape {
  std::shared_ptr<const Schema> schema;
  std::shared_ptr<const Decoder> decoder;
  Value value;
  std::string binary;
};

Shape Load(const char* name) {
  std::ifstream f(RIFFLE_BENCH_DIR "/avro_shapes.json");
  std::stringstream ss;
  ss << f.rdbuf();
  auto doc = json::Parse(ss.str());
  if (!doc.ok()) std::abort();
  const json::Value* shape = doc->Find(name);
  Shape s;
  s.schema = *Schema::FromJson(*shape->Find("schema"));
  s.decoder = *Decoder::Create(s.schema);
  auto v =
      JsonToValue(s.schema->root(), *shape->Find("record"), JsonFormat::kAvro);
  if (!v.ok()) {
    std::fprintf(stderr, "%s\n", v.status().ToString().c_str());
    std::abort();
  }
  s.value = *v;
  if (!Encode(*s.schema, s.value, &s.binary).ok()) std::abort();
  return s;
}

void DecodeValue(benchmark::State& state, const char* name) {
  Shape s = Load(name);
  Value v;
  for (auto _ : state) {
    if (!s.decoder->DecodeExact(s.binary, &v).ok()) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/record"] = static_cast<double>(s.binary.size());
}

void DecodeJson(benchmark::State& state, const char* name, JsonFormat format) {
  Shape s = Load(name);
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!s.decoder->DecodeJsonExact(s.binary, format, &out).ok()) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/record"] = static_cast<double>(s.binary.size());
}

constexpr int kBatch = 256;

// kBatch copies of the record, each in its own buffer.
struct Batch {
  std::vector<std::string> buffers;
  std::vector<std::string_view> views;
  explicit Batch(const std::string& binary) : buffers(kBatch, binary) {
    for (const auto& b : buffers) views.emplace_back(b);
  }
};

void DecodeValueBatch(benchmark::State& state, const char* name) {
  Shape s = Load(name);
  Batch batch(s.binary);
  std::vector<Value> values;
  for (auto _ : state) {
    if (!s.decoder->DecodeBatch(batch.views, &values).ok()) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(values.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void DecodeJsonBatch(benchmark::State& state, const char* name,
                     JsonFormat format) {
  Shape s = Load(name);
  Batch batch(s.binary);
  std::string out;
  std::vector<size_t> ends;
  for (auto _ : state) {
    out.clear();
    ends.clear();
    if (!s.decoder->DecodeJsonBatch(batch.views, format, &out, &ends).ok()) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(ends.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void EncodeValue(benchmark::State& state, const char* name) {
  Shape s = Load(name);
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!Encode(*s.schema, s.value, &out).ok())
      state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

#define SHAPE(name)                                                            \
  BENCHMARK_CAPTURE(DecodeValue, name, #name);                                 \
  BENCHMARK_CAPTURE(DecodeJson, name##_plain, #name, JsonFormat::kPlain);      \
  BENCHMARK_CAPTURE(DecodeJson, name##_avro, #name, JsonFormat::kAvro);        \
  BENCHMARK_CAPTURE(EncodeValue, name, #name);                                 \
  BENCHMARK_CAPTURE(DecodeValueBatch, name, #name);                            \
  BENCHMARK_CAPTURE(DecodeJsonBatch, name##_plain, #name, JsonFormat::kPlain); \
  BENCHMARK_CAPTURE(DecodeJsonBatch, name##_avro, #name, JsonFormat::kAvro);

SHAPE(tiny)
SHAPE(small)
SHAPE(medium)
SHAPE(nested)

}  // namespace
}  // namespace riffle::avro

BENCHMARK_MAIN();
