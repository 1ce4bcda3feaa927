#include "avro/codec.h"

#include <gtest/gtest.h>

namespace riffle::avro {
namespace {}  // namespace
}  // namespace riffle::avro
