/*
 * riffle's native function ABI (version 1): a function written in C, C++,
 * Rust or anything that can export C symbols, built as a shared library
 * and run by the `riffle:native` runtime.
 *
 *   aws lambda create-function --function-name f --runtime riffle:native \
 *     --handler libf.so --code '{"Directory": "/path/to/dir"}' --role any
 *
 * The function's Code (a zip or a Code.Directory) holds the library; the
 * Handler names it, relative to the code's root, optionally followed by
 * ":symbol" when the handler is not called riffle_handler
 * ("libf.so:my_handler").
 *
 * How it runs. riffle does not load the library into the server: each
 * process of the function is a small riffle helper that dlopen()s the
 * library and feeds it events through the Lambda Runtime API, like any
 * other runtime. So a handler that crashes, leaks or hangs takes down only
 * its own process (the invocation fails with Runtime.ExitError or
 * Sandbox.Timedout and a new process is started), never the server, and
 * Timeout, reserved concurrency and logs work as for every function.
 *
 * Threads and lifetime. A process handles one event at a time, on one
 * thread, for its whole life: a handler needs no locking, and globals
 * (connections, caches) persist across the events of one process, as in a
 * warm Lambda execution environment. Concurrency is the number of
 * processes (4 by default, or the reserved concurrency), each with its own
 * copy of the library's globals. stdout and stderr go to the function's
 * log. The function's environment (AWS_LAMBDA_FUNCTION_NAME, its
 * Environment.Variables, ...) is the process environment: read it with
 * getenv().
 */
#ifndef RIFFLE_FUNCTION_H_
#define RIFFLE_FUNCTION_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RIFFLE_FUNCTION_ABI_VERSION 1

/* What a handler returns: a JSON document of `len` bytes at `data`. */
typedef struct riffle_response {
  /* Allocated by the handler with malloc() (or with whatever its own
   * riffle_free releases); riffle takes ownership once the handler
   * returns and frees it after sending. NULL (with len 0) means the JSON
   * value null. */
  char* data;
  size_t len;
} riffle_response;

/* Required (or the symbol the Handler names). Handles one event: `event`
 * is the invocation's JSON payload, `len` bytes, followed by a NUL that is
 * not counted; it stays valid only during the call. `out` is zeroed before
 * the call.
 *
 * Returns 0 on success: `out` is the function's result. Any other value is
 * a function error (the caller sees X-Amz-Function-Error: Unhandled, and
 * an event-source mapping retries the batch): `out` should then hold
 * {"errorType": "...", "errorMessage": "..."}; when it is empty riffle
 * sends {"errorType": "Riffle.NativeError", "errorMessage": "handler
 * returned N"}. */
int riffle_handler(const char* event, size_t len, riffle_response* out);

/* Optional. Called once per process, before the first event. Non-zero
 * fails the process's start (Runtime.InitError, as an init error in
 * Lambda): the pending invocation fails and the next one starts a new
 * process. */
int riffle_init(void);

/* Optional. Releases a response's data; without it riffle calls free(). */
void riffle_free(riffle_response* response);

/* Optional. Returns the RIFFLE_FUNCTION_ABI_VERSION the library was built
 * against; a library whose version riffle does not know fails to start. */
int riffle_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* RIFFLE_FUNCTION_H_ */
