#include "functions/tumbling_window.h"

#include <ctime>

#include "core/clock.h"
#include "json/json.h"

namespace riffle::functions {

WindowBounds WindowOf(int64_t arrival_ms, int seconds) {
  const int64_t len = int64_t{seconds > 0 ? seconds : 1} * 1000;
  // Floor division, so that times before the epoch still align.
  int64_t start = arrival_ms / len * len;
  if (start > arrival_ms) start -= len;
  return {start, start + len};
}

std::string WindowTimestamp(int64_t millis) {
  return FormatUtc(millis, FractionDigits::kNone, "Z");
}

void WriteWindowFields(json::Writer& w, const WindowEventFields& f) {
  w.Key("window").BeginObject();
  w.Key("start").String(WindowTimestamp(f.window.start_ms));
  w.Key("end").String(WindowTimestamp(f.window.end_ms));
  w.EndObject();
  w.Key("state").Raw(f.state_json.empty() ? "{}" : f.state_json);
  w.Key("shardId").String(f.shard_id);
  w.Key("eventSourceARN").String(f.event_source_arn);
  w.Key("isFinalInvokeForWindow").Bool(f.final_invoke);
  w.Key("isWindowTerminatedEarly").Bool(f.terminated_early);
}

std::string StateOfReply(std::string_view payload) {
  Result<json::Value> reply = json::Parse(payload);
  if (!reply.ok() || !reply->is_object()) return "{}";
  const json::Value* state = reply->Find("state");
  if (!state || !state->is_object()) return "{}";
  return json::Serialize(*state);
}

}  // namespace riffle::functions
