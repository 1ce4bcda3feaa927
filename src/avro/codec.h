// Avro binary encoding, compiled per schema.
//
// A Decoder is built once for a (writer schema, reader schema) pair: schema
// resolution (promotions, defaults, reordered and removed fields, aliases,
// enum defaults, union branch matching) is worked out at Create() time and
// compiled into a flat array of instructions. Decoding a datum then runs that
// program over the bytes: no name lookups, no walk of the schema tree, and
// JSON output goes straight into the caller's string.
//
// Decoding is hardened against hostile input: every length and count is
// checked against the bytes that remain, nesting is bounded, and malformed
// data is an InvalidArgument error, never a crash.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "avro/schema.h"
#include "avro/value.h"
#include "core/status.h"

namespace riffle::avro {

// The two JSON shapes riffle reads and writes (docs/avro.md):
//  - kAvro: the Avro specification's JSON encoding (unions wrapped as
//    {"type": value}, bytes and fixed as strings of code points U+0000-U+00FF,
//    logical types as their underlying values);
//  - kPlain: the projection riffle stores: unions as the bare value, bytes and
//    fixed in base64, decimals as exact decimal strings, dates and times as
//    ISO-8601 strings, UUIDs as strings, durations as objects.
enum class JsonFormat : uint8_t { kAvro, kPlain };

struct DecoderOptions {
  // Deepest nesting of records, arrays, maps and unions in one datum.
  int max_depth = 128;
  // Items that take no bytes (null, empty records) cannot be bounded by the
  // input size; this caps how many one datum may hold.
  int64_t max_empty_items = 1 << 20;
  // Longest decimal converted to a decimal string (the conversion is
  // quadratic in the length).
  size_t max_decimal_bytes = 256;
};

// A compiled decoder. Immutable after Create(); thread-safe: any number of
// threads may decode with one Decoder at once. It keeps both schemas alive.
class Decoder {
 public:
  // Compiles a decoder for data written with `writer`, presented in the shape
  // of `reader` (null: the writer schema itself). When the schemas do not
  // resolve, InvalidArgument says where ("record 'a.B' field 'c': ...").
  static Result<std::shared_ptr<const Decoder>> Create(
      std::shared_ptr<const Schema> writer,
      std::shared_ptr<const Schema> reader = nullptr,
      const DecoderOptions& options = {});

  // Decodes one datum from the front of `*in`, advancing it, and appends its
  // JSON to `*out`. On error `*out` may hold a partial document.
  Status DecodeJson(std::string_view* in, JsonFormat format,
                    std::string* out) const;
  // Decodes one datum into `*out`, reusing its storage where it can.
  Status Decode(std::string_view* in, Value* out) const;
  // Skips one datum.
  Status Skip(std::string_view* in) const;

  // As above, but the datum must be all of `in`.
  Status DecodeJsonExact(std::string_view in, JsonFormat format,
                         std::string* out) const;
  Status DecodeExact(std::string_view in, Value* out) const;

  // Batches: each of `data` is one whole datum (as in the Exact calls
  // above), decoded in order by one call. This is what a consumer of a
  // Kinesis batch or a container block does, and it saves the per-call
  // setup that dominates small records: JSON goes straight into `*out`
  // (grown once for the batch, not copied per record), and Values are
  // reused from call to call.
  //
  // DecodeJsonBatch appends each record's JSON to `*out`, the documents
  // back to back with nothing between them, and, when `ends` is not null,
  // appends the offset in `*out` where each document ends. DecodeBatch
  // decodes record i into (*out)[i], resizing `*out` to data.size() and
  // reusing the Values it already holds.
  //
  // On the first record that fails, both stop and return InvalidArgument
  // ("avro: record 3: ..."); `*out` (and `*ends`) then hold exactly the
  // records before it, so a caller may skip it and go on with the rest.
  Status DecodeJsonBatch(std::span<const std::string_view> data,
                         JsonFormat format, std::string* out,
                         std::vector<size_t>* ends = nullptr) const;
  Status DecodeBatch(std::span<const std::string_view> data,
                     std::vector<Value>* out) const;

  const Schema& writer() const { return *writer_; }
  const Schema& reader() const { return *reader_; }

  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder();

  // Implementation types, public only for the compiler in codec.cc.
  struct Inst;
  struct Branch;
  struct EnumMap;
  struct Default;
  struct Context;
  struct JsonOut;
  struct FlatCursor;
  struct ScalarField;

 private:
  friend class DecoderCompiler;
  Decoder() = default;

  template <JsonFormat F>
  bool RunJson(uint32_t pc, Context& c, JsonOut& out) const;
  bool RunValue(uint32_t pc, Context& c, Value* target) const;
  bool ScalarValue(const Inst& in, Context& c, Value* v) const;
  bool LeafArrayValue(const Inst& in, Context& c, Value* v) const;
  // The blocks of an array or map whose items are not leaves; out of line,
  // so that RunValue's frame (one per level of nesting) stays small.
  bool BlocksValue(const Inst& in, Context& c, Value* v) const;
  bool RunSkip(uint32_t pc, Context& c) const;
  bool SkipComplex(const Inst& in, Context& c) const;
  template <JsonFormat F>
  bool Logical(const Inst& in, Context& c, JsonOut& out) const;
  template <JsonFormat F>
  bool RunFlatJson(Context& c, JsonOut& out) const;
  template <JsonFormat F>
  bool RunFlatJsonCall(Context& c, JsonOut& out) const;
  template <JsonFormat F>
  char* FlatScalarJson(const Inst& in, FlatCursor& c, JsonOut& out,
                       char* p) const;
  bool RunFlatValue(Context& c, Value* out) const;
  bool RootJson(Context& c, JsonFormat format, JsonOut& out) const;
  bool RootValue(Context& c, Value* out) const;
  Status GeneralJsonExact(std::string_view in, JsonFormat format,
                          std::string* out) const;
  Status GeneralExact(std::string_view in, Value* out) const;
  template <JsonFormat F>
  Status JsonBatch(std::span<const std::string_view> data, std::string* out,
                   std::vector<size_t>* ends) const;
  // The scalar-record plans' code (codec.cc) and its entry points, each
  // instantiated per field count (see scalar_fields_). The batch ones
  // decode whole records from the front of `data` until one the plan
  // cannot take, and return how many they did; the general path then
  // decodes that one again, and reports it. The Exact ones are the Exact
  // calls, their general path included.
  struct ScalarPlans;
  friend struct ScalarPlans;
  using ScalarValueFn = size_t (*)(const Decoder&,
                                   std::span<const std::string_view>, Value*);
  using ScalarJsonFn = size_t (*)(const Decoder&,
                                  std::span<const std::string_view>, JsonFormat,
                                  JsonOut&, size_t* ends);
  using ScalarValueExactFn = Status (*)(const Decoder&, std::string_view,
                                        Value*);
  using ScalarJsonExactFn = Status (*)(const Decoder&, std::string_view,
                                       JsonFormat, std::string*);

  std::shared_ptr<const Schema> writer_;
  std::shared_ptr<const Schema> reader_;
  DecoderOptions options_;
  std::vector<Inst> code_;
  std::string literals_;
  std::vector<Branch> branches_;
  std::vector<EnumMap> enums_;
  std::vector<Default> defaults_;
  std::vector<std::string> messages_;
  uint32_t entry_ = 0;
  uint32_t json_entry_ = 0;
  uint32_t skip_entry_ = 0;
  // When the root is a record: its body and field count (see Decode()).
  uint32_t root_record_body_ = UINT32_MAX;
  uint32_t root_record_fields_ = 0;
  // When the root is a flat record (every field a primitive, an enum, a
  // string, bytes or fixed, logical types included, or a union or an array
  // of those; see DecoderCompiler::CompileFlat): its body
  // without the final kEnd, decoded by one loop with no calls, no depth
  // accounting and one output-capacity check for all fixed-size fields.
  bool flat_ = false;
  std::vector<Inst> flat_body_;
  // The closing literal ("}" or "{}") of the flat record's JSON.
  uint32_t flat_close_off_ = 0;
  uint16_t flat_close_len_ = 0;
  // Most JSON bytes the fixed-size fields and keys of the flat record take
  // (strings, bytes, fixed and defaults reserve their own room).
  uint32_t flat_bound_ = 0;
  // Whether JSON output takes the flat loop too (not for wide records).
  bool flat_json_ = false;
  // When the root is a short flat record whose every field is a scalar of
  // a fixed kind (null, boolean, int, long, float, double, enum, their
  // logical types, and skips of such writer fields; see
  // DecoderCompiler::CompileScalar): one small step per field, unrolled
  // for the field count, with no dispatch on a general instruction, no
  // context and no depth or nesting checks. The Value and each JSON format
  // have their own entry points (the plain projection formats dates and
  // times as text, which its plan leaves to the flat loop); null when the
  // record does not qualify.
  std::vector<ScalarField> scalar_fields_;
  ScalarValueFn scalar_value_ = nullptr;
  ScalarValueExactFn scalar_value_exact_ = nullptr;
  // By JsonFormat.
  ScalarJsonFn scalar_json_[2] = {nullptr, nullptr};
  ScalarJsonExactFn scalar_json_exact_[2] = {nullptr, nullptr};
  // Most bytes the scalar JSON plan writes for one record.
  uint32_t scalar_json_bound_ = 0;
  // The size of the root record's fields, root_record_fields_ Values.
  size_t scalar_items_bytes_ = 0;
};

// Appends the binary encoding of `value` as an instance of `node`. A union
// uses `value.branch`, or else the first branch whose type is value.type.
// InvalidArgument when the value does not fit the schema.
Status EncodeValue(const Node& node, const Value& value, std::string* out);
inline Status Encode(const Schema& schema, const Value& value,
                     std::string* out) {
  return EncodeValue(schema.root(), value, out);
}

// Zig-zag varint helpers, exposed for framing and container code.
void PutLong(int64_t v, std::string* out);
// nullopt when `*in` is truncated or the varint is longer than 10 bytes.
std::optional<int64_t> GetLong(std::string_view* in);

}  // namespace riffle::avro
