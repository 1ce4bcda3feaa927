#include "functions/native_runtime.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "http/client.h"
#include "json/writer.h"
#include "riffle/function.h"

namespace riffle::functions {
namespace {

using HandlerFn = int (*)(const char*, size_t, riffle_response*);
using InitFn = int (*)();
using FreeFn = void (*)(riffle_response*);
using VersionFn = int (*)();

constexpr std::string_view kApi = "/2018-06-01/runtime";

std::string ErrorDocument(std::string_view type, std::string_view message) {
  std::string out;
  json::Writer w(&out);
  w.BeginObject()
      .Key("errorType")
      .String(type)
      .Key("errorMessage")
      .String(message)
      .EndObject();
  return out;
}

bool IsSymbolName(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

// Reports an init failure to the Runtime API and returns the exit status.
int InitError(http::Client& api, std::string_view type,
              std::string_view message) {
  std::fprintf(stderr, "riffle:native: %.*s: %.*s\n",
               static_cast<int>(type.size()), type.data(),
               static_cast<int>(message.size()), message.data());
  (void)api.Send("POST", fmt::format("{}/init/error", kApi),
                 {{"lambda-runtime-function-error-type", std::string(type)}},
                 ErrorDocument(type, message));
  return 1;
}

}  // namespace

Result<NativeHandler> ParseNativeHandler(std::string_view handler) {
  NativeHandler h;
  size_t colon = handler.rfind(':');
  std::string_view lib = handler.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view symbol = handler.substr(colon + 1);
    if (!IsSymbolName(symbol))
      return InvalidArgument(
          fmt::format("Handler {} for riffle:native must be LIBRARY.so or "
                      "LIBRARY.so:SYMBOL (a C identifier)",
                      handler));
    h.symbol = std::string(symbol);
  }
  if (lib.empty())
    return InvalidArgument(
        fmt::format("Handler {} for riffle:native must name the shared library "
                    "(LIBRARY.so or LIBRARY.so:SYMBOL)",
                    handler));
  h.library = std::string(lib);
  return h;
}

std::string SelfExecutable() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : p.string();
}

int RunNativeRuntime() {
  const char* api_env = std::getenv("AWS_LAMBDA_RUNTIME_API");
  const char* root_env = std::getenv("LAMBDA_TASK_ROOT");
  const char* handler_env = std::getenv("_HANDLER");
  if (!api_env) {
    std::fprintf(stderr,
                 "riffle native-runtime: run by riffle for riffle:native "
                 "functions (AWS_LAMBDA_RUNTIME_API is not set)\n");
    return 2;
  }
  Result<http::Url> url = http::ParseUrl(std::string("http://") + api_env);
  if (!url.ok()) {
    std::fprintf(stderr, "riffle native-runtime: %s\n",
                 url.status().ToString().c_str());
    return 2;
  }
  http::ClientOptions options;
  // invocation/next waits as long as the function is idle.
  options.io_timeout = std::chrono::hours(24);
  http::Client api(*url, options);

  Result<NativeHandler> handler =
      ParseNativeHandler(handler_env ? handler_env : "");
  if (!handler.ok())
    return InitError(api, "Runtime.InvalidEntrypoint",
                     handler.status().message());
  std::filesystem::path lib =
      std::filesystem::path(root_env ? root_env : ".") / handler->library;
  // RTLD_NOW: a missing dependency fails here, at init, not mid-event.
  void* so = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    const char* why = ::dlerror();
    return InitError(api, "Runtime.InvalidEntrypoint",
                     fmt::format("cannot load {}: {}", lib.string(),
                                 why ? why : "unknown error"));
  }
  auto fn = reinterpret_cast<HandlerFn>(::dlsym(so, handler->symbol.c_str()));
  if (!fn)
    return InitError(
        api, "Runtime.HandlerNotFound",
        fmt::format("{} does not export {}", lib.string(), handler->symbol));
  auto free_fn = reinterpret_cast<FreeFn>(::dlsym(so, "riffle_free"));
  if (auto version =
          reinterpret_cast<VersionFn>(::dlsym(so, "riffle_abi_version"))) {
    int v = version();
    if (v != RIFFLE_FUNCTION_ABI_VERSION)
      return InitError(
          api, "Runtime.InvalidEntrypoint",
          fmt::format("{} was built for riffle function ABI {}, "
                      "this riffle speaks {}",
                      lib.string(), v, RIFFLE_FUNCTION_ABI_VERSION));
  }
  if (auto init = reinterpret_cast<InitFn>(::dlsym(so, "riffle_init"))) {
    if (int rc = init(); rc != 0)
      return InitError(api, "Runtime.InitError",
                       fmt::format("riffle_init returned {}", rc));
  }

  const std::string next = fmt::format("{}/invocation/next", kApi);
  while (true) {
    Result<http::ClientResponse> r = api.Send("GET", next, {}, "");
    if (!r.ok() || r->status != 200) {
      // The Runtime API went away (the function was updated, deleted or
      // the server stopped): end, as aws-lambda-ric does.
      return 1;
    }
    const std::string* id = r->FindHeader("lambda-runtime-aws-request-id");
    if (!id) return 1;
    riffle_response out{nullptr, 0};
    // body is NUL-terminated (std::string), as the ABI promises.
    int rc = fn(r->body.c_str(), r->body.size(), &out);
    std::string payload =
        out.data ? std::string(out.data, out.len) : std::string();
    if (out.data) {
      if (free_fn) {
        free_fn(&out);
      } else {
        std::free(out.data);
      }
    }
    // The handler's own prints reach the log before riffle's END line.
    std::fflush(stdout);
    std::fflush(stderr);
    Result<http::ClientResponse> sent =
        rc == 0
            ? api.Send("POST",
                       fmt::format("{}/invocation/{}/response", kApi, *id), {},
                       payload.empty() ? "null" : payload)
            : api.Send(
                  "POST", fmt::format("{}/invocation/{}/error", kApi, *id),
                  {{"lambda-runtime-function-error-type",
                    "Riffle.NativeError"}},
                  payload.empty()
                      ? ErrorDocument("Riffle.NativeError",
                                      fmt::format("handler returned {}", rc))
                      : payload);
    if (!sent.ok()) return 1;
  }
}

}  // namespace riffle::functions
