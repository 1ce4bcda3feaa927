// JSON <-> Avro: the Avro JSON encoding and riffle's plain-JSON projection
// (see JsonFormat in codec.h and docs/avro.md), over avro::Value and over
// binary. Decoding binary straight to JSON text is Decoder::DecodeJson; this
// file covers the other directions. Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "avro/codec.h"
#include "avro/schema.h"
#include "avro/value.h"
#include "json/json.h"

namespace riffle::avro {

// Appends the JSON form of `value` (an instance of `node`).
Status ValueToJson(const Node& node, const Value& value, JsonFormat format,
                   std::string* out);

// Reads JSON in `format` as an instance of `node`. In the plain form a union
// takes the first branch, in declaration order, whose type the JSON value
// has naturally (null, boolean, integer -> int/long, number -> float/double,
// string -> string/enum, array, object -> record/map), else the first that
// accepts it by conversion (base64 -> bytes/fixed, ISO-8601 -> date/time,
// decimal string -> decimal). A record field that is absent takes its
// default. InvalidArgument names the path of the offending value.
Result<Value> JsonToValue(const Node& node, const json::Value& json,
                          JsonFormat format);

// A field default (Avro JSON encoding, but a union's default is a bare
// value of its first branch) as a Value.
Result<Value> DefaultToValue(const Node& node, const json::Value& json);

// JSON text -> Avro binary, appended to `out`.
Status JsonToBinary(const Schema& schema, std::string_view json_text,
                    JsonFormat format, std::string* out);

}  // namespace riffle::avro
