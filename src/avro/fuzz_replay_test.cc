// Replays every file of tests/fuzz/corpus/<target>/ through the same entry
// points as the libFuzzer targets, so that `make test` (g++, ASan build
// included) keeps every seed and every crash found so far passing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "avro_fuzz_targets.h"

namespace riffle::avro {
namespace {

const std::filesystem::path kCorpus = RIFFLE_FUZZ_CORPUS;

int Replay(const char* target, void (*fn)(const uint8_t*, size_t)) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(kCorpus / target)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string data = ss.str();
    SCOPED_TRACE(e.path().string());
    fn(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    ++n;
  }
  return n;
}

TEST(FuzzReplay, SchemaCorpus) {
  EXPECT_GT(Replay("avro_schema_fuzzer", fuzz::SchemaFuzzOne), 0);
}

TEST(FuzzReplay, DecodeCorpus) {
  EXPECT_GT(Replay("avro_decode_fuzzer", fuzz::DecodeFuzzOne), 0);
}

}  // namespace
}  // namespace riffle::avro
