// The `riffle:native` runtime: functions as shared libraries exposing the
// C ABI of include/riffle/function.h.
//
// Each process of a native function is the riffle binary itself, started
// as `riffle native-runtime` by the function's ProcessRuntime, with
// Lambda's environment. It dlopen()s the library named by the Handler
// (under LAMBDA_TASK_ROOT) and serves events from the Runtime API like any
// custom runtime. Why a process rather than loading the library into the
// server: a native handler that crashes, corrupts memory or never returns
// would take the whole server down, and no timeout could stop it; in its
// own process it fails one invocation and is replaced, and Timeout,
// concurrency and logs work as for every runtime. The cost is one loopback
// HTTP exchange per invocation (tens of microseconds).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace riffle::functions {

// The hidden subcommand under which the riffle binary runs as a native
// function's process.
inline constexpr std::string_view kNativeRuntimeCommand = "native-runtime";

// A Handler "libf.so" or "libf.so:symbol".
struct NativeHandler {
  std::string library;  // relative to the code's root
  std::string symbol = "riffle_handler";
};

// InvalidArgument when the handler names no library or an unusable symbol.
Result<NativeHandler> ParseNativeHandler(std::string_view handler);

// The path of the running executable (what native processes run).
std::string SelfExecutable();

// The helper's main: loads the library named by $_HANDLER under
// $LAMBDA_TASK_ROOT and serves $AWS_LAMBDA_RUNTIME_API until it goes away.
// Returns the process's exit status (never 0: it runs until then).
int RunNativeRuntime();

}  // namespace riffle::functions
