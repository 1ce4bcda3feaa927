// TumblingWindowInSeconds: the window arithmetic and the event fields of
// Lambda's tumbling windows for Kinesis
// (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html).
//
// Windows are fixed, back to back, aligned to multiples of their length
// since the Unix epoch, and a record belongs to the window holding its
// approximate arrival time. Each invocation within a window carries the
// state the previous one returned ({} at first); once the window is over
// the function gets one more invocation with no records and
// isFinalInvokeForWindow: true, whose reply is the window's result. How
// ShardProcessor drives this is described in shard_processor.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "json/writer.h"

namespace riffle::functions {

// Lambda's limit on a window's state: beyond it the window ends early
// (isWindowTerminatedEarly) and the rest of its records start a new state.
inline constexpr size_t kMaxWindowStateBytes = 1024 * 1024;

struct WindowBounds {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // exclusive
};

// The window of length `seconds` (> 0) holding `arrival_ms`.
WindowBounds WindowOf(int64_t arrival_ms, int seconds);

// "2020-07-30T17:00:00Z", the form of window.start and window.end.
std::string WindowTimestamp(int64_t millis);

struct WindowEventFields {
  WindowBounds window;
  std::string_view state_json;  // a JSON object
  std::string_view shard_id;
  std::string_view event_source_arn;
  bool final_invoke = false;
  bool terminated_early = false;
};

// Writes the members that a tumbling window adds to the Kinesis event
// (window, state, shardId, eventSourceARN, isFinalInvokeForWindow,
// isWindowTerminatedEarly) into the object `w` is writing.
void WriteWindowFields(json::Writer& w, const WindowEventFields& f);

// The state in a handler's reply ({"state": {...}, "batchItemFailures":
// [...]}), serialized; "{}" when the reply has none or it is not an object.
std::string StateOfReply(std::string_view payload);

}  // namespace riffle::functions
