// riffle:native: Handler parsing (the process itself is exercised by
// tests/lambda/test_native.py against the real binary).
#include "functions/native_runtime.h"

#include <gtest/gtest.h>

#include "functions/function_config.h"

namespace riffle::functions {
namespace {

TEST(NativeHandlerTest, LibraryAndOptionalSymbol) {
  Result<NativeHandler> h = ParseNativeHandler("libf.so");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->library, "libf.so");
  EXPECT_EQ(h->symbol, "riffle_handler");

  h = ParseNativeHandler("lib/libf.so:handle_event");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->library, "lib/libf.so");
  EXPECT_EQ(h->symbol, "handle_event");

  for (const char* bad : {"", ":sym", "libf.so:", "libf.so:1x", "libf.so:a-b"})
    EXPECT_EQ(ParseNativeHandler(bad).status().code(),
              StatusCode::kInvalidArgument)
        << bad;
}

TEST(NativeHandlerTest, RuntimeName) {
  EXPECT_EQ(RuntimeKindOf("riffle:native"), RuntimeKind::kNative);
  EXPECT_FALSE(SelfExecutable().empty());
}

}  // namespace
}  // namespace riffle::functions
