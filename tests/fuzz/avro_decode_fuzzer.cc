// libFuzzer target (clang, -DRIFFLE_FUZZ=ON); see avro_fuzz_targets.h.
#include "avro_fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  riffle::avro::fuzz::DecodeFuzzOne(data, size);
  return 0;
}
