#include "avro/codec.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "avro/json_codec.h"
#include "avro/logical.h"
#include "core/bytes.h"

namespace riffle::avro {

namespace {

enum Op : uint8_t {
  kEnd,
  kNull,
  kBool,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kFixed,
  kIntToLong,
  kIntToFloat,
  kIntToDouble,
  kLongToFloat,
  kLongToDouble,
  kFloatToDouble,
  kStringToBytes,
  kBytesToString,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kReaderUnion,
  kRecord,
  kDefault,
  kFail,
  // Logical types: decoded as their underlying type, shown differently in
  // the plain JSON projection.
  kDecimalBytes,
  kDecimalFixed,
  kUuidFixed,
  kDate,
  kTimeMillis,
  kTimeMicros,
  kTimestamp,
  kDuration,
  // Skips of writer data the reader does not want.
  kSkipBool,
  kSkipVarint,
  kSkipFixed,
  kSkipBytes,
  kSkipArray,
  kSkipMap,
  kSkipUnion,
  kSkipRecord,
};

constexpr uint32_t kSelf = UINT32_MAX;
// The largest Decoder::flat_bound_ the flat JSON loop takes on: well inside
// JsonOut's stack buffer (1 KB).
constexpr size_t kMaxFlatJsonBound = 512;
// Inst.flags bits.
constexpr uint8_t kFlagEmptyItems = 1;  // array items may take zero bytes
constexpr uint8_t kFlagLeafItems = 2;   // array items are one scalar each
// kTimestamp flags: unit in bits 0-1, UTC in bit 2.
constexpr uint8_t kFlagUtc = 4;
// In Decoder::flat_body_: a union or an array, which the flat loops take
// apart before the scalar code (one test per field instead of three).
constexpr uint8_t kFlagFlatNested = 0x80;

// The steps of the scalar-record plans (Decoder::scalar_fields_), one per
// writer field. kSNone: the field has no step for that output, and the
// record no plan.
enum ScalarOp : uint8_t {
  kSNone,
  // A varint of at most ScalarField::max, zig-zag decoded: ints and longs;
  // and for a Value, booleans too (one byte, at most 1: the same code, the
  // raw byte as the value). Never a skip: its Value is always stored.
  kSVarint,
  kSBool,
  kSFloat,
  kSDouble,
  kSNull,
  kSEnum,
  kSSkipVarint,
  kSSkipBool,
  kSSkipFixed,
};

// The longest records the scalar plans take: one instantiation of each
// plan per field count up to this (code size grows with its square).
constexpr size_t kMaxScalarFields = 6;
// The most JSON text one record of a scalar plan may take: the one-record
// calls write it into a stack buffer of this size.
constexpr size_t kMaxScalarJsonBound = 512;

// Ops of one scalar value, each handled by every interpreter's scalar code
// (ScalarValue, RunJson, RunFlatJson): a union branch of one of these is a
// leaf (Decoder::Branch::leaf).
bool IsScalarOp(uint8_t op) {
  return (op >= kNull && op <= kEnum) ||
         (op >= kDecimalBytes && op <= kDuration);
}

}  // namespace

struct Decoder::Inst {
  uint8_t op = kEnd;
  uint8_t flags = 0;
  uint16_t key_len = 0;  // JSON text written before the value
  uint32_t key_off = 0;
  uint32_t arg = 0;        // function pc, table index, or size
  uint32_t aux = 0;        // record field count, branch count, decimal scale
  uint32_t field = kSelf;  // reader field index for Value output
};

// One writer field of a scalar-record plan: its step for a Value and for
// each JSON format (ScalarOp), the Value's type tag, the JSON key written
// before it (from the literal pool, padded for 16-byte copies), the reader
// field it fills, and the enum table index or the skipped size.
struct Decoder::ScalarField {
  uint8_t value_op = kSNone;
  uint8_t json_op[2] = {kSNone, kSNone};  // by JsonFormat
  Type type = Type::kNull;
  uint16_t key_len = 0;
  // kSVarint, kSBool: the largest varint of one byte, min(max, 0x7f), so
  // that one compare takes the one-byte case and checks its range.
  uint8_t max1 = 0;
  uint32_t key_off = 0;
  // The reader field's Value: its byte offset in the record's items
  // (kSelf: a skipped field).
  uint32_t offset = kSelf;
  uint32_t arg = 0;
  uint64_t max = 0;  // kSVarint, kSBool: the largest value before zig-zag
};

struct Decoder::Branch {
  uint32_t pc = 0;
  int32_t reader_branch = -1;
  // Avro JSON wrapper ("{\"string\":"), empty for null and non-unions.
  uint32_t wrap_off = 0;
  uint16_t wrap_len = 0;
  bool fail = false;
  // The branch's function is one scalar instruction (no record, array, map
  // or union): the interpreters run it in place instead of calling it.
  bool leaf = false;
  uint32_t message = 0;
};

struct Decoder::EnumMap {
  std::vector<int32_t> reader_index;  // -1: no symbol and no default
  std::vector<std::string> json;      // quoted reader symbol
  std::string name;
};

struct Decoder::Default {
  std::string avro_json;
  std::string plain_json;
  Value value;
};

// The state of one decode call. Trivially destructible on purpose: it is
// built for every datum, and the error message is only assembled (in
// DecodeError) when a decode fails, from views of literals and of strings
// the Decoder owns, which outlive the call.
struct Decoder::Context {
  const uint8_t* begin;
  const uint8_t* p;
  const uint8_t* end;
  int depth = 0;
  int64_t empty_budget = 0;
  // The first error: what failed, an optional name to quote after it, and
  // where. `error.data()` is null while nothing has failed.
  std::string_view error;
  std::string_view error_name;
  size_t error_at = 0;

  bool Fail(std::string_view what, std::string_view name = {}) {
    if (error.data() == nullptr) {
      error = what;
      error_name = name;
      error_at = static_cast<size_t>(p - begin);
    }
    return false;
  }
};

namespace {

using Ctx = Decoder::Context;

// Unsigned LEB128 of up to 10 bytes. The fast path avoids bounds checks when
// ten bytes remain.
template <typename C>
[[gnu::always_inline]] inline bool ReadVarint(C& c, uint64_t* out) {
  const uint8_t* p = c.p;
  // Most varints in records are one byte (small ints, lengths, union and
  // enum indexes), and short records never have ten bytes left.
  if (p < c.end && *p < 0x80) [[likely]] {
    *out = *p;
    c.p = p + 1;
    return true;
  }
  if (c.end - p >= 2 && p[1] < 0x80) {
    *out = (p[0] & 0x7fu) | (static_cast<uint64_t>(p[1]) << 7);
    c.p = p + 2;
    return true;
  }
  if (c.end - p >= 10) {
    uint64_t b = *p++;
    uint64_t r = b;
    if (b < 0x80) {
      c.p = p;
      *out = r;
      return true;
    }
    r &= 0x7f;
    for (int shift = 7; shift < 70; shift += 7) {
      b = *p++;
      r |= (b & 0x7f) << shift;
      if (b < 0x80) {
        c.p = p;
        *out = r;
        return true;
      }
    }
    return c.Fail("varint longer than 10 bytes");
  }
  uint64_t r = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= c.end) return c.Fail("truncated varint");
    uint64_t b = *p++;
    r |= (b & 0x7f) << shift;
    if (b < 0x80) {
      c.p = p;
      *out = r;
      return true;
    }
  }
  return c.Fail("varint longer than 10 bytes");
}

template <typename C>
[[gnu::always_inline]] inline bool ReadLong(C& c, int64_t* v) {
  uint64_t u = 0;
  if (!ReadVarint(c, &u)) return false;
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

template <typename C>
[[gnu::always_inline]] inline bool ReadInt(C& c, int32_t* v) {
  uint64_t u = 0;
  if (!ReadVarint(c, &u)) return false;
  if (u > 0xFFFFFFFFu) return c.Fail("int out of range");
  *v = static_cast<int32_t>(static_cast<uint32_t>((u >> 1) ^ (~(u & 1) + 1)));
  return true;
}

template <typename C>
[[gnu::always_inline]] inline bool ReadFloat(C& c, float* f) {
  if (c.end - c.p < 4) return c.Fail("truncated float");
  std::memcpy(f, c.p, 4);
  c.p += 4;
  return true;
}

template <typename C>
[[gnu::always_inline]] inline bool ReadDouble(C& c, double* d) {
  if (c.end - c.p < 8) return c.Fail("truncated double");
  std::memcpy(d, c.p, 8);
  c.p += 8;
  return true;
}

template <typename C>
[[gnu::always_inline]] inline bool ReadBytes(C& c, std::string_view* s) {
  int64_t n = 0;
  if (!ReadLong(c, &n)) return false;
  if (n < 0) return c.Fail("negative length");
  if (n > c.end - c.p) return c.Fail("length past the end of the input");
  *s = std::string_view(reinterpret_cast<const char*>(c.p),
                        static_cast<size_t>(n));
  c.p += n;
  return true;
}

template <typename C>
[[gnu::always_inline]] inline bool ReadFixed(C& c, uint32_t size,
                                             std::string_view* s) {
  if (c.end - c.p < static_cast<int64_t>(size))
    return c.Fail("truncated fixed");
  *s = std::string_view(reinterpret_cast<const char*>(c.p), size);
  c.p += size;
  return true;
}

// Reads an array or map block header; *count is 0 at the end. Each item of
// a non-empty type takes at least one byte, which bounds the count. A
// block with a negative count also gives its size in bytes: *block_end is
// where its items must then end (else null), which the caller checks with
// BlockEnded, since skipping jumps by that size without reading the items
// and must land where decoding does.
template <typename C>
[[gnu::always_inline]] inline bool ReadBlock(C& c, bool empty_items,
                                             int64_t* count,
                                             const uint8_t** block_end) {
  *block_end = nullptr;
  int64_t n = 0;
  if (!ReadLong(c, &n)) return false;
  if (n < 0) {
    if (n == INT64_MIN) return c.Fail("invalid block count");
    n = -n;
    int64_t size = 0;
    if (!ReadLong(c, &size)) return false;
    if (size < 0 || size > c.end - c.p) return c.Fail("invalid block size");
    *block_end = c.p + size;
  }
  if (empty_items) {
    c.empty_budget -= n;
    if (c.empty_budget < 0) return c.Fail("too many empty items");
  } else if (n > c.end - c.p) {
    return c.Fail("block count past the end of the input");
  }
  *count = n;
  return true;
}

// Whether a block's items ended where its byte size said (see ReadBlock).
template <typename C>
[[gnu::always_inline]] inline bool BlockEnded(C& c, const uint8_t* block_end) {
  if (block_end != nullptr && c.p != block_end) [[unlikely]]
    return c.Fail("block size does not match its items");
  return true;
}

bool NamesMatch(const Node& w, const Node& r) {
  if (w.name == r.name) return true;
  for (const auto& a : r.aliases) {
    if (a == w.full_name) return true;
  }
  return false;
}

bool Promotable(Type w, Type r) {
  switch (w) {
    case Type::kInt:
      return r == Type::kLong || r == Type::kFloat || r == Type::kDouble;
    case Type::kLong:
      return r == Type::kFloat || r == Type::kDouble;
    case Type::kFloat:
      return r == Type::kDouble;
    case Type::kString:
      return r == Type::kBytes;
    case Type::kBytes:
      return r == Type::kString;
    default:
      return false;
  }
}

// The reader union branch a (non-union) writer schema resolves to, or -1:
// an exact match first, then a named type by unqualified name or alias,
// then a promotion.
int BestBranch(const Node& r, const Node& w) {
  const auto& bs = r.branches;
  for (size_t i = 0; i < bs.size(); ++i) {
    if (bs[i]->type != w.type) continue;
    if (!w.is_named() || bs[i]->full_name == w.full_name)
      return static_cast<int>(i);
  }
  for (size_t i = 0; i < bs.size(); ++i) {
    if (bs[i]->type == w.type && w.is_named() && NamesMatch(w, *bs[i])) {
      return static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < bs.size(); ++i) {
    if (Promotable(w.type, bs[i]->type)) return static_cast<int>(i);
  }
  return -1;
}

std::string Describe(const Node& n) {
  if (n.is_named()) {
    return std::string(TypeName(n.type)) + " '" + n.full_name + "'";
  }
  return std::string(TypeName(n.type));
}

std::string Join(const std::string& where, const std::string& what) {
  return where.empty() ? what : where + ": " + what;
}

// Smallest number of bytes a datum of `n` takes (0 for null and records of
// nulls); recursion through `visiting` counts as zero.
int64_t MinSize(const Node& n, std::vector<const Node*>* visiting) {
  switch (n.type) {
    case Type::kNull:
      return 0;
    case Type::kFixed:
      return n.fixed_size;
    case Type::kRecord: {
      for (const Node* v : *visiting) {
        if (v == &n) return 0;
      }
      visiting->push_back(&n);
      int64_t total = 0;
      for (const auto& f : n.fields) {
        total += MinSize(*f.type, visiting);
        if (total > 0) break;
      }
      visiting->pop_back();
      return total;
    }
    default:
      return 1;
  }
}

}  // namespace

// Compiles one Decoder. Single use; not thread-safe.
class DecoderCompiler {
 public:
  using Inst = Decoder::Inst;

  explicit DecoderCompiler(Decoder* d) : d_(d) {}

  Status Compile() {
    const Node& w = d_->writer_->root();
    const Node& r = d_->reader_->root();
    auto entry = ValueFunc(w, r, "");
    if (!entry.ok()) return entry.status();
    ASSIGN_OR_RETURN(uint32_t skip, SkipFunc(w));
    // Lay the functions out one after another and turn function numbers
    // into program counters.
    std::vector<uint32_t> pcs;
    for (auto& f : funcs_) {
      pcs.push_back(static_cast<uint32_t>(d_->code_.size()));
      for (auto& inst : f) d_->code_.push_back(inst);
    }
    for (auto& inst : d_->code_) {
      switch (inst.op) {
        case kArray:
        case kMap:
        case kRecord:
        case kSkipArray:
        case kSkipMap:
        case kSkipRecord:
          inst.arg = pcs[inst.arg];
          break;
        default:
          break;
      }
    }
    auto is_leaf = [&](uint32_t pc) {
      const Inst& leaf = d_->code_[pc];
      return IsScalarOp(leaf.op) && leaf.key_len == 0 && leaf.field == kSelf &&
             d_->code_[pc + 1].op == kEnd;
    };
    for (auto& b : d_->branches_) {
      if (b.fail) continue;
      b.pc = pcs[b.pc];
      b.leaf = is_leaf(b.pc);
    }
    for (auto& inst : d_->code_) {
      if (inst.op == kArray && is_leaf(inst.arg)) inst.flags |= kFlagLeafItems;
    }
    d_->entry_ = pcs[*entry];
    d_->literals_.append(16, '\0');  // see JsonOut::PutLiteral
    // A record at the root needs no wrapper call on the JSON path.
    const Inst& first = d_->code_[d_->entry_];
    d_->json_entry_ = (first.op == kRecord && first.key_len == 0 &&
                       d_->code_[d_->entry_ + 1].op == kEnd)
                          ? first.arg
                          : d_->entry_;
    // Likewise on the Value path: Decode() sets up the root record itself
    // and runs its body, saving a call and a dispatch per datum.
    if (first.op == kRecord && first.field == kSelf &&
        d_->code_[d_->entry_ + 1].op == kEnd) {
      d_->root_record_body_ = first.arg;
      d_->root_record_fields_ = first.aux;
    }
    d_->skip_entry_ = pcs[skip];
    CompileFlat();
    if (d_->flat_) CompileScalar();
    return Status::Ok();
  }

 private:
  enum Kind { kValueFn, kRecordFn, kSkipFn, kSkipRecordFn };
  using Key = std::tuple<int, int, int>;

  uint32_t Literal(std::string_view text) {
    auto it = literal_index_.find(std::string(text));
    if (it != literal_index_.end()) return it->second;
    auto off = static_cast<uint32_t>(d_->literals_.size());
    d_->literals_.append(text);
    literal_index_.emplace(std::string(text), off);
    return off;
  }

  Inst Make(uint8_t op, std::string_view key = {}, uint32_t field = kSelf) {
    Inst in;
    in.op = op;
    in.key_len = static_cast<uint16_t>(key.size());
    in.key_off = key.empty() ? 0 : Literal(key);
    in.field = field;
    return in;
  }

  uint32_t NewFunc() {
    funcs_.emplace_back();
    return static_cast<uint32_t>(funcs_.size() - 1);
  }

  // A failed function body still gets a well-formed body, so that any
  // reference taken to it while it was being compiled fails cleanly.
  void FailFunc(uint32_t f, const Status& s) {
    d_->messages_.push_back(s.message());
    Inst in = Make(kFail);
    in.arg = static_cast<uint32_t>(d_->messages_.size() - 1);
    funcs_[f] = {in, Make(kEnd)};
  }

  Result<uint32_t> ValueFunc(const Node& w, const Node& r,
                             const std::string& where) {
    Key key{kValueFn, w.id, r.id};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    uint32_t f = NewFunc();
    memo_[key] = f;
    std::vector<Inst> body;
    Status s = ValueInst(w, r, {}, kSelf, where, &body);
    if (!s.ok()) {
      FailFunc(f, s);
      return s;
    }
    body.push_back(Make(kEnd));
    funcs_[f] = std::move(body);
    return f;
  }

  Result<uint32_t> RecordFunc(const Node& w, const Node& r) {
    Key key{kRecordFn, w.id, r.id};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    uint32_t f = NewFunc();
    memo_[key] = f;
    std::vector<Inst> body;
    Status s = RecordBody(w, r, &body);
    if (!s.ok()) {
      FailFunc(f, s);
      return s;
    }
    funcs_[f] = std::move(body);
    return f;
  }

  Status RecordBody(const Node& w, const Node& r, std::vector<Inst>* body) {
    std::string where = "record '" + r.full_name + "'";
    std::vector<bool> matched(r.fields.size(), false);
    bool first = true;
    auto key_for = [&](const Field& rf) {
      std::string k = first ? "{" : ",";
      first = false;
      internal::AppendJsonString(rf.name, &k);
      k.push_back(':');
      return k;
    };
    for (const Field& wf : w.fields) {
      int ri = r.FieldIndex(wf.name);
      if (ri < 0) {
        for (const Field& rf : r.fields) {
          for (const auto& a : rf.aliases) {
            if (a == wf.name) ri = rf.position;
          }
        }
      }
      if (ri < 0 || matched[ri]) {
        RETURN_IF_ERROR(SkipInst(*wf.type, body));
        continue;
      }
      matched[ri] = true;
      const Field& rf = r.fields[ri];
      RETURN_IF_ERROR(ValueInst(*wf.type, *rf.type, key_for(rf),
                                static_cast<uint32_t>(ri),
                                where + " field '" + rf.name + "'", body));
    }
    for (size_t i = 0; i < r.fields.size(); ++i) {
      if (matched[i]) continue;
      const Field& rf = r.fields[i];
      if (!rf.default_value) {
        return InvalidArgument(where + " field '" + rf.name +
                               "': not in the writer's record '" + w.full_name +
                               "' and has no default");
      }
      ASSIGN_OR_RETURN(Value v, DefaultToValue(*rf.type, *rf.default_value));
      Decoder::Default def;
      RETURN_IF_ERROR(
          ValueToJson(*rf.type, v, JsonFormat::kAvro, &def.avro_json));
      RETURN_IF_ERROR(
          ValueToJson(*rf.type, v, JsonFormat::kPlain, &def.plain_json));
      def.value = std::move(v);
      d_->defaults_.push_back(std::move(def));
      Inst in = Make(kDefault, key_for(rf), static_cast<uint32_t>(i));
      in.arg = static_cast<uint32_t>(d_->defaults_.size() - 1);
      body->push_back(in);
    }
    body->push_back(Make(kEnd, first ? "{}" : "}"));
    return Status::Ok();
  }

  Decoder::Branch MakeBranch(const Node* reader_branch, int index) {
    Decoder::Branch b;
    b.reader_branch = index;
    if (reader_branch != nullptr && reader_branch->type != Type::kNull) {
      std::string wrap = "{";
      internal::AppendJsonString(
          reader_branch->is_named()
              ? reader_branch->full_name
              : std::string(TypeName(reader_branch->type)),
          &wrap);
      wrap.push_back(':');
      b.wrap_off = Literal(wrap);
      b.wrap_len = static_cast<uint16_t>(wrap.size());
    }
    return b;
  }

  Status ValueInst(const Node& w, const Node& r, std::string_view key,
                   uint32_t field, const std::string& where,
                   std::vector<Inst>* body) {
    if (w.type == Type::kUnion) {
      std::vector<Decoder::Branch> branches;
      for (size_t i = 0; i < w.branches.size(); ++i) {
        const Node& wb = *w.branches[i];
        Decoder::Branch b;
        Result<uint32_t> f = InvalidArgument("");
        if (r.type == Type::kUnion) {
          int rb = BestBranch(r, wb);
          if (rb < 0) {
            f = InvalidArgument(
                Join(where, "writer union branch " + Describe(wb) +
                                " is not in the reader's union"));
          } else {
            b = MakeBranch(r.branches[rb], rb);
            f = ValueFunc(wb, *r.branches[rb], where);
          }
        } else {
          f = ValueFunc(wb, r, where);
        }
        if (f.ok()) {
          b.pc = *f;
        } else {
          // Spec: an unresolvable writer branch is an error only when data
          // uses it.
          b.fail = true;
          d_->messages_.push_back(f.status().message());
          b.message = static_cast<uint32_t>(d_->messages_.size() - 1);
        }
        branches.push_back(b);
      }
      bool any = false;
      for (const auto& b : branches) any |= !b.fail;
      if (!any && !branches.empty()) {
        return InvalidArgument(d_->messages_[branches[0].message]);
      }
      Inst in = Make(kUnion, key, field);
      in.arg = static_cast<uint32_t>(d_->branches_.size());
      in.aux = static_cast<uint32_t>(branches.size());
      for (auto& b : branches) d_->branches_.push_back(b);
      body->push_back(in);
      return Status::Ok();
    }
    if (r.type == Type::kUnion) {
      int rb = BestBranch(r, w);
      if (rb < 0) {
        return InvalidArgument(Join(
            where,
            "writer type " + Describe(w) + " is not in the reader's union"));
      }
      ASSIGN_OR_RETURN(uint32_t f, ValueFunc(w, *r.branches[rb], where));
      Decoder::Branch b = MakeBranch(r.branches[rb], rb);
      b.pc = f;
      Inst in = Make(kReaderUnion, key, field);
      in.arg = static_cast<uint32_t>(d_->branches_.size());
      d_->branches_.push_back(b);
      body->push_back(in);
      return Status::Ok();
    }
    Inst in = Make(kFail, key, field);
    auto mismatch = [&] {
      return InvalidArgument(
          Join(where, "writer type " + Describe(w) +
                          " does not resolve to reader type " + Describe(r)));
    };
    if (w.type != r.type) {
      static constexpr struct {
        Type w, r;
        uint8_t op;
      } kPromotions[] = {
          {Type::kInt, Type::kLong, kIntToLong},
          {Type::kInt, Type::kFloat, kIntToFloat},
          {Type::kInt, Type::kDouble, kIntToDouble},
          {Type::kLong, Type::kFloat, kLongToFloat},
          {Type::kLong, Type::kDouble, kLongToDouble},
          {Type::kFloat, Type::kDouble, kFloatToDouble},
          {Type::kString, Type::kBytes, kStringToBytes},
          {Type::kBytes, Type::kString, kBytesToString},
      };
      for (const auto& p : kPromotions) {
        if (p.w == w.type && p.r == r.type) {
          in.op = p.op;
          body->push_back(in);
          return Status::Ok();
        }
      }
      return mismatch();
    }
    LogicalType lt = r.logical_type;
    switch (w.type) {
      case Type::kNull:
        in.op = kNull;
        break;
      case Type::kBoolean:
        in.op = kBool;
        break;
      case Type::kInt:
        in.op = lt == LogicalType::kDate         ? kDate
                : lt == LogicalType::kTimeMillis ? kTimeMillis
                                                 : kInt;
        break;
      case Type::kLong:
        in.op = kLong;
        switch (lt) {
          case LogicalType::kTimeMicros:
            in.op = kTimeMicros;
            break;
          case LogicalType::kTimestampMillis:
          case LogicalType::kTimestampMicros:
          case LogicalType::kTimestampNanos:
          case LogicalType::kLocalTimestampMillis:
          case LogicalType::kLocalTimestampMicros:
          case LogicalType::kLocalTimestampNanos: {
            in.op = kTimestamp;
            bool utc = lt == LogicalType::kTimestampMillis ||
                       lt == LogicalType::kTimestampMicros ||
                       lt == LogicalType::kTimestampNanos;
            internal::TimeUnit unit =
                (lt == LogicalType::kTimestampMillis ||
                 lt == LogicalType::kLocalTimestampMillis)
                    ? internal::TimeUnit::kMillis
                : (lt == LogicalType::kTimestampMicros ||
                   lt == LogicalType::kLocalTimestampMicros)
                    ? internal::TimeUnit::kMicros
                    : internal::TimeUnit::kNanos;
            in.flags = static_cast<uint8_t>(unit) | (utc ? kFlagUtc : 0);
            break;
          }
          default:
            break;
        }
        break;
      case Type::kFloat:
        in.op = kFloat;
        break;
      case Type::kDouble:
        in.op = kDouble;
        break;
      case Type::kBytes:
        in.op = kBytes;
        if (lt == LogicalType::kDecimal) {
          in.op = kDecimalBytes;
          in.aux = static_cast<uint32_t>(r.scale);
        }
        break;
      case Type::kString:
        in.op = kString;
        break;
      case Type::kFixed:
        if (!NamesMatch(w, r) || w.fixed_size != r.fixed_size)
          return mismatch();
        in.op = kFixed;
        in.arg = static_cast<uint32_t>(r.fixed_size);
        if (lt == LogicalType::kDecimal) {
          in.op = kDecimalFixed;
          in.aux = static_cast<uint32_t>(r.scale);
        } else if (lt == LogicalType::kUuid) {
          in.op = kUuidFixed;
        } else if (lt == LogicalType::kDuration) {
          in.op = kDuration;
        }
        break;
      case Type::kEnum: {
        if (!NamesMatch(w, r)) return mismatch();
        Decoder::EnumMap m;
        m.name = r.full_name;
        for (const auto& sym : w.symbols) {
          int ri = r.SymbolIndex(sym);
          if (ri < 0 && r.enum_default) ri = *r.enum_default;
          m.reader_index.push_back(ri);
          std::string q;
          if (ri >= 0) internal::AppendJsonString(r.symbols[ri], &q);
          m.json.push_back(std::move(q));
        }
        in.op = kEnum;
        in.arg = static_cast<uint32_t>(d_->enums_.size());
        d_->enums_.push_back(std::move(m));
        break;
      }
      case Type::kArray: {
        ASSIGN_OR_RETURN(uint32_t f, ValueFunc(*w.items, *r.items,
                                               Join(where, "array items")));
        in.op = kArray;
        in.arg = f;
        std::vector<const Node*> visiting;
        if (MinSize(*w.items, &visiting) == 0) in.flags |= kFlagEmptyItems;
        break;
      }
      case Type::kMap: {
        ASSIGN_OR_RETURN(uint32_t f, ValueFunc(*w.values, *r.values,
                                               Join(where, "map values")));
        in.op = kMap;
        in.arg = f;
        break;
      }
      case Type::kRecord: {
        if (!NamesMatch(w, r)) return mismatch();
        ASSIGN_OR_RETURN(uint32_t f, RecordFunc(w, r));
        in.op = kRecord;
        in.arg = f;
        in.aux = static_cast<uint32_t>(r.fields.size());
        break;
      }
      case Type::kUnion:
        return Internal("unreachable");
    }
    body->push_back(in);
    return Status::Ok();
  }

  Result<uint32_t> SkipFunc(const Node& w) {
    Key key{kSkipFn, w.id, 0};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    uint32_t f = NewFunc();
    memo_[key] = f;
    std::vector<Inst> body;
    RETURN_IF_ERROR(SkipInst(w, &body));
    body.push_back(Make(kEnd));
    funcs_[f] = std::move(body);
    return f;
  }

  Result<uint32_t> SkipRecordFunc(const Node& w) {
    Key key{kSkipRecordFn, w.id, 0};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    uint32_t f = NewFunc();
    memo_[key] = f;
    std::vector<Inst> body;
    for (const auto& field : w.fields) {
      RETURN_IF_ERROR(SkipInst(*field.type, &body));
    }
    body.push_back(Make(kEnd));
    funcs_[f] = std::move(body);
    return f;
  }

  Status SkipInst(const Node& w, std::vector<Inst>* body) {
    Inst in;
    switch (w.type) {
      case Type::kNull:
        return Status::Ok();
      case Type::kBoolean:
        in.op = kSkipBool;
        break;
      case Type::kInt:
      case Type::kLong:
      case Type::kEnum:
        in.op = kSkipVarint;
        break;
      case Type::kFloat:
        in.op = kSkipFixed;
        in.arg = 4;
        break;
      case Type::kDouble:
        in.op = kSkipFixed;
        in.arg = 8;
        break;
      case Type::kFixed:
        in.op = kSkipFixed;
        in.arg = static_cast<uint32_t>(w.fixed_size);
        break;
      case Type::kBytes:
      case Type::kString:
        in.op = kSkipBytes;
        break;
      case Type::kArray: {
        ASSIGN_OR_RETURN(in.arg, SkipFunc(*w.items));
        in.op = kSkipArray;
        std::vector<const Node*> visiting;
        if (MinSize(*w.items, &visiting) == 0) in.flags |= kFlagEmptyItems;
        break;
      }
      case Type::kMap: {
        ASSIGN_OR_RETURN(in.arg, SkipFunc(*w.values));
        in.op = kSkipMap;
        break;
      }
      case Type::kRecord: {
        ASSIGN_OR_RETURN(in.arg, SkipRecordFunc(w));
        in.op = kSkipRecord;
        break;
      }
      case Type::kUnion: {
        std::vector<Decoder::Branch> bs;
        for (const Node* b : w.branches) {
          Decoder::Branch br;
          ASSIGN_OR_RETURN(br.pc, SkipFunc(*b));
          bs.push_back(br);
        }
        in.op = kSkipUnion;
        in.arg = static_cast<uint32_t>(d_->branches_.size());
        in.aux = static_cast<uint32_t>(bs.size());
        for (auto& b : bs) d_->branches_.push_back(b);
        break;
      }
    }
    body->push_back(in);
    return Status::Ok();
  }

  // Marks the root record as flat (Decoder::flat_) when every field is a
  // scalar (logical types included) or a union of scalars, and works out
  // how much JSON its fixed-size parts can take.
  void CompileFlat() {
    if (d_->root_record_body_ == UINT32_MAX ||
        d_->json_entry_ != d_->root_record_body_ ||
        d_->options_.max_depth < 1) {
      return;
    }
    // A key is copied 16 bytes at a time (JsonOut::PutLiteral).
    size_t bound = 16;
    std::vector<Inst> body;
    for (uint32_t pc = d_->root_record_body_;; ++pc) {
      const Inst& in = d_->code_[pc];
      bound += in.key_len;
      switch (in.op) {
        case kEnd:
          d_->flat_close_off_ = in.key_off;
          d_->flat_close_len_ = in.key_len;
          d_->flat_bound_ = static_cast<uint32_t>(bound);
          d_->flat_body_ = std::move(body);
          d_->flat_ = true;
          // A wide record's bound would move every document out of
          // JsonOut's stack buffer; the general path reserves per field.
          d_->flat_json_ = bound <= kMaxFlatJsonBound;
          return;
        case kNull:
        case kBool:
        case kInt:
        case kIntToLong:
        case kLong:
        case kFloat:
        case kDouble:
        case kIntToFloat:
        case kIntToDouble:
        case kLongToFloat:
        case kLongToDouble:
        case kFloatToDouble:
          bound += internal::kNumberBound;
          break;
        // Variable-size values reserve their own room.
        case kString:
        case kBytesToString:
        case kBytes:
        case kStringToBytes:
        case kFixed:
        case kEnum:
        case kDefault:
        case kSkipBool:
        case kSkipVarint:
        case kSkipFixed:
        case kSkipBytes:
        case kDecimalBytes:
        case kDecimalFixed:
        case kUuidFixed:
        case kDate:
        case kTimeMillis:
        case kTimeMicros:
        case kTimestamp:
        case kDuration:
          break;
        // Unions whose branches are all scalars (["null", X]): the loop
        // runs the chosen branch in place. Room for the Avro JSON wrapper,
        // its closing brace and a number.
        case kUnion:
        case kReaderUnion: {
          // The flat loops keep no depth: a union is the second level.
          if (d_->options_.max_depth < 2) return;
          uint32_t n = in.op == kUnion ? in.aux : 1;
          size_t wrap = 0;
          for (uint32_t i = 0; i < n; ++i) {
            const Decoder::Branch& b = d_->branches_[in.arg + i];
            if (!b.fail && !b.leaf) return;
            wrap = std::max<size_t>(wrap, b.wrap_len);
          }
          bound += wrap + 1 + internal::kNumberBound;
          break;
        }
        // Arrays of scalars: items make room for themselves; the brackets
        // count here. Items are the second level, as branches are.
        case kArray:
          if (!(in.flags & kFlagLeafItems) || d_->options_.max_depth < 2)
            return;
          bound += 2;
          break;
        default:
          return;
      }
      body.push_back(in);
      if (in.op == kUnion || in.op == kReaderUnion || in.op == kArray) {
        body.back().flags |= kFlagFlatNested;
      }
    }
  }

  // Gives a flat root record its scalar plans (Decoder::scalar_fields_)
  // when it has at most kMaxScalarFields fields, each of a fixed-kind
  // scalar: the plans hold one step per field and run no general
  // instruction. Records with strings, bytes, fixed, unions, arrays,
  // promotions to float or double, or reader defaults keep the flat loop.
  void CompileScalar() {
    const std::vector<Inst>& body = d_->flat_body_;
    if (body.empty() || body.size() > kMaxScalarFields) return;
    constexpr size_t kAvro = static_cast<size_t>(JsonFormat::kAvro);
    constexpr size_t kPlain = static_cast<size_t>(JsonFormat::kPlain);
    std::vector<Decoder::ScalarField> fields;
    // A key is copied 16 bytes at a time, and so is the closing literal.
    size_t bound = 16 + d_->flat_close_len_;
    bool json[2] = {true, true};
    for (const Inst& in : body) {
      Decoder::ScalarField f;
      f.key_len = in.key_len;
      f.key_off = in.key_off;
      if (in.field != kSelf) {
        f.offset = static_cast<uint32_t>(in.field * sizeof(Value));
      }
      size_t value_bound = internal::kNumberBound;
      uint8_t op = kSNone;
      // A Value takes booleans, ints and longs alike.
      uint8_t value_op = kSNone;
      // Logical types: their underlying value, and the plain projection's
      // text left to the flat loop.
      bool logical = false;
      switch (in.op) {
        case kNull:
          op = kSNull;
          f.type = Type::kNull;
          break;
        case kBool:
          op = kSBool;
          value_op = kSVarint;
          f.type = Type::kBoolean;
          f.max = 1;
          break;
        case kDate:
        case kTimeMillis:
          logical = true;
          [[fallthrough]];
        case kInt:
        case kIntToLong:
          op = kSVarint;
          f.type = in.op == kIntToLong ? Type::kLong : Type::kInt;
          f.max = 0xFFFFFFFFu;
          break;
        case kTimeMicros:
        case kTimestamp:
          logical = true;
          [[fallthrough]];
        case kLong:
          op = kSVarint;
          f.type = Type::kLong;
          f.max = UINT64_MAX;
          break;
        case kFloat:
          op = kSFloat;
          f.type = Type::kFloat;
          break;
        case kDouble:
          op = kSDouble;
          f.type = Type::kDouble;
          break;
        case kEnum: {
          op = kSEnum;
          f.type = Type::kEnum;
          f.arg = in.arg;
          value_bound = 0;
          for (const auto& j : d_->enums_[in.arg].json) {
            value_bound = std::max(value_bound, j.size());
          }
          break;
        }
        case kSkipVarint:
          op = kSSkipVarint;
          break;
        case kSkipBool:
          op = kSSkipBool;
          break;
        case kSkipFixed:
          op = kSSkipFixed;
          f.arg = in.arg;
          break;
        default:
          return;
      }
      f.max1 = static_cast<uint8_t>(std::min<uint64_t>(f.max, 0x7f));
      f.value_op = value_op != kSNone ? value_op : op;
      f.json_op[kAvro] = op;
      f.json_op[kPlain] = logical ? uint8_t{kSNone} : op;
      json[kPlain] = json[kPlain] && !logical;
      bound += in.key_len + value_bound;
      fields.push_back(f);
    }
    // Records of ints, longs and booleans alone (the commonest short
    // events) get a Value plan with no test of the field's op at all.
    bool varints = std::all_of(
        fields.begin(), fields.end(),
        [](const Decoder::ScalarField& f) { return f.value_op == kSVarint; });
    size_t n = fields.size();
    d_->scalar_fields_ = std::move(fields);
    d_->scalar_items_bytes_ = d_->root_record_fields_ * sizeof(Value);
    bool json_ok = bound <= kMaxScalarJsonBound && d_->flat_json_;
    if (json_ok) d_->scalar_json_bound_ = static_cast<uint32_t>(bound);
    SelectScalarPlans(n, varints, json[kAvro] && json_ok,
                      json[kPlain] && json_ok);
  }
  // Sets the Decoder's scalar entry points for n fields (after
  // Decoder::ScalarPlans, below).
  void SelectScalarPlans(size_t n, bool varints, bool json_avro,
                         bool json_plain);

  Decoder* d_;
  std::vector<std::vector<Inst>> funcs_;
  std::map<Key, uint32_t> memo_;
  std::map<std::string, uint32_t> literal_index_;
};

Decoder::~Decoder() = default;

Result<std::shared_ptr<const Decoder>> Decoder::Create(
    std::shared_ptr<const Schema> writer, std::shared_ptr<const Schema> reader,
    const DecoderOptions& options) {
  if (writer == nullptr) return InvalidArgument("no writer schema");
  std::shared_ptr<Decoder> d(new Decoder());
  d->writer_ = writer;
  d->reader_ = reader ? std::move(reader) : std::move(writer);
  d->options_ = options;
  DecoderCompiler compiler(d.get());
  RETURN_IF_ERROR(compiler.Compile());
  return std::shared_ptr<const Decoder>(std::move(d));
}

namespace {

// Skip ops shared by all interpreters.
inline bool SkipSimple(const Decoder::Inst& in, Ctx& c) {
  switch (in.op) {
    case kSkipBool:
      if (c.p >= c.end) return c.Fail("truncated boolean");
      ++c.p;
      return true;
    case kSkipVarint: {
      uint64_t u = 0;
      return ReadVarint(c, &u);
    }
    case kSkipFixed:
      if (c.end - c.p < static_cast<int64_t>(in.arg)) {
        return c.Fail("truncated input");
      }
      c.p += in.arg;
      return true;
    case kSkipBytes: {
      std::string_view s;
      return ReadBytes(c, &s);
    }
    default:
      return c.Fail("bad instruction");
  }
}

}  // namespace

// The JSON output of one DecodeJson call. Values are written through a raw
// pointer with one capacity check each, not std::string appends. Output
// starts in a buffer on the stack and is appended to the caller's string at
// the end; only a document larger than that buffer moves to the string
// itself. Why: growing a std::string to write into it zero-fills the new
// bytes (there is no resize_and_overwrite before C++23), and for small
// records that fill cost more than the decoding. Not thread-safe; one per
// DecodeJson call.
struct Decoder::JsonOut {
  explicit JsonOut(std::string* s) : s_(s), p_(stack_), end_(stack_ + kStack) {}
  // Writes straight into the string instead, for batches: the string is
  // grown (and zero-filled) once to its capacity for all the documents of
  // the batch, so no document is copied and none pays for a fill.
  // `hint` is how many bytes the batch is expected to take: the fill is
  // paid on those, not on all of a large reused string's capacity.
  struct Direct {};
  JsonOut(std::string* s, Direct, size_t hint) : s_(s) {
    size_t base = s->size();
    s->resize(base + std::max(hint, kStack));
    p_ = s->data() + base;
    end_ = s->data() + s->size();
  }
  // Direct mode only: where the next byte goes, and going back there.
  size_t Offset() const { return static_cast<size_t>(p_ - s_->data()); }
  void Rewind(size_t offset) { p_ = s_->data() + offset; }
  void Finish() {
    if (on_stack()) {
      s_->append(stack_, static_cast<size_t>(p_ - stack_));
    } else {
      s_->resize(static_cast<size_t>(p_ - s_->data()));
    }
  }

  [[gnu::always_inline]] char* Reserve(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) [[unlikely]]
      Grow(n);
    return p_;
  }
  [[gnu::always_inline]] void Put(const char* d, size_t n) {
    std::memcpy(Reserve(n), d, n);
    p_ += n;
  }
  // Copies a literal from the program's pool, which is padded so that a
  // fixed 16-byte copy (a couple of instructions, no memcpy call) may read
  // past its end.
  [[gnu::always_inline]] void PutLiteral(const char* d, size_t n) {
    char* p = Reserve(n + 16);
    if (n <= 16) {
      std::memcpy(p, d, 16);
    } else {
      std::memcpy(p, d, n);
    }
    p_ += n;
  }
  // Raw access for loops that check capacity once for several values:
  // Room() makes room for n bytes after p (moving the output if it must)
  // and returns where to write; Commit() records how far was written.
  [[gnu::always_inline]] char* Room(char* p, size_t n) {
    p_ = p;
    return Reserve(n);
  }
  void Commit(char* p) { p_ = p; }
  void Put(std::string_view d) { Put(d.data(), d.size()); }
  [[gnu::always_inline]] void Put(char c) {
    *Reserve(1) = c;
    ++p_;
  }
  [[gnu::always_inline]] void Int(int64_t v) {
    p_ += WriteDecimal(v, Reserve(internal::kNumberBound));
  }
  [[gnu::always_inline]] void Float(float v) {
    p_ += internal::WriteFloat(v, Reserve(internal::kNumberBound));
  }
  [[gnu::always_inline]] void Double(double v) {
    p_ += internal::WriteDouble(v, Reserve(internal::kNumberBound));
  }
  [[gnu::always_inline]] void JsonString(std::string_view v) {
    p_ += internal::WriteJsonString(
        v, Reserve(internal::JsonStringBound(v.size())));
  }
  [[gnu::always_inline]] void Latin1(std::string_view v) {
    p_ += internal::WriteLatin1String(
        v, Reserve(internal::JsonStringBound(v.size())));
  }
  [[gnu::always_inline]] void Base64(std::string_view v) {
    p_ += internal::WriteBase64String(
        v, Reserve(internal::Base64StringBound(v.size())));
  }
  // A reusable buffer for the rare values formatted through std::string.
  std::string& Scratch() {
    scratch_.clear();
    return scratch_;
  }

  // Two ASCII digits for each value below 100.
  static constexpr char kDigitPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233"
      "34353637383940414243444546474849505152535455565758596061626364656667"
      "6869707172737475767778798081828384858687888990919293949596979899";

  static constexpr uint64_t kPowersOf10[20] = {1,
                                               10,
                                               100,
                                               1000,
                                               10000,
                                               100000,
                                               1000000,
                                               10000000,
                                               100000000,
                                               1000000000,
                                               10000000000,
                                               100000000000,
                                               1000000000000,
                                               10000000000000,
                                               100000000000000,
                                               1000000000000000,
                                               10000000000000000,
                                               100000000000000000,
                                               1000000000000000000,
                                               10000000000000000000u};

  // Writes v in decimal; inline because small integers dominate records and
  // std::to_chars is an out-of-line call.
  [[gnu::always_inline]] static size_t WriteDecimal(int64_t v, char* dst) {
    char* p = dst;
    uint64_t u = static_cast<uint64_t>(v);
    if (v < 0) {
      *p++ = '-';
      u = 0 - u;
    }
    if (u < 10) {
      *p = static_cast<char>('0' + u);
      return static_cast<size_t>(p + 1 - dst);
    }
    if (u < 100) {
      std::memcpy(p, kDigitPairs + 2 * u, 2);
      return static_cast<size_t>(p + 2 - dst);
    }
    // Three and four digits (counts, ports, amounts in cents) without the
    // digit-counting loop.
    if (u < 10000) {
      // u / 100 by a 32-bit multiply and shift, exact below 43699.
      uint32_t hi = (static_cast<uint32_t>(u) * 5243) >> 19;
      uint32_t lo = static_cast<uint32_t>(u) - hi * 100;
      if (hi < 10) {
        *p = static_cast<char>('0' + hi);
        std::memcpy(p + 1, kDigitPairs + 2 * lo, 2);
        return static_cast<size_t>(p + 3 - dst);
      }
      std::memcpy(p, kDigitPairs + 2 * hi, 2);
      std::memcpy(p + 2, kDigitPairs + 2 * lo, 2);
      return static_cast<size_t>(p + 4 - dst);
    }
    // Count the digits first and write them in place from the right: a
    // copy of a variable length would be a memcpy call.
    size_t n = 5;
    while (n < 20 && u >= kPowersOf10[n]) ++n;
    char* q = p + n;
    while (u >= 100) {
      q -= 2;
      std::memcpy(q, kDigitPairs + 2 * (u % 100), 2);
      u /= 100;
    }
    if (u < 10) {
      *--q = static_cast<char>('0' + u);
    } else {
      q -= 2;
      std::memcpy(q, kDigitPairs + 2 * u, 2);
    }
    return static_cast<size_t>(p - dst) + n;
  }

 private:
  // Big enough for the JSON of most single records.
  static constexpr size_t kStack = 1024;

  bool on_stack() const { return end_ == stack_ + kStack; }

  [[gnu::noinline]] void Grow(size_t n) {
    if (on_stack()) {
      // Move to the string, leaving room to grow geometrically.
      size_t used = static_cast<size_t>(p_ - stack_);
      size_t base = s_->size();
      s_->resize(base + std::max<size_t>(2 * kStack, used + n + 64));
      std::memcpy(s_->data() + base, stack_, used);
      p_ = s_->data() + base + used;
      end_ = s_->data() + s_->size();
      return;
    }
    size_t used = static_cast<size_t>(p_ - s_->data());
    s_->resize(std::max(s_->size() * 2, used + n + 64));
    p_ = s_->data() + used;
    end_ = s_->data() + s_->size();
  }

  std::string* s_;
  char* p_;
  char* end_;
  std::string scratch_;
  char stack_[kStack];  // uninitialized on purpose: see the class comment
};

bool Decoder::RunSkip(uint32_t pc, Context& c) const {
  if (++c.depth > options_.max_depth) return c.Fail("nested too deeply");
  for (;; ++pc) {
    const Inst& in = code_[pc];
    switch (in.op) {
      case kEnd:
        --c.depth;
        return true;
      case kSkipArray:
      case kSkipMap:
      case kSkipUnion:
        if (!SkipComplex(in, c)) return false;
        break;
      case kSkipRecord:
        if (!RunSkip(in.arg, c)) return false;
        break;
      case kFail:
        return c.Fail(messages_[in.arg]);
      default:
        if (!SkipSimple(in, c)) return false;
    }
  }
}

template <JsonFormat F>
bool Decoder::Logical(const Inst& in, Context& c, JsonOut& out) const {
  switch (in.op) {
    case kDecimalBytes:
    case kDecimalFixed: {
      std::string_view s;
      if (!(in.op == kDecimalBytes ? ReadBytes(c, &s)
                                   : ReadFixed(c, in.arg, &s))) {
        return false;
      }
      if (F == JsonFormat::kAvro) {
        out.Latin1(s);
      } else {
        if (s.size() > options_.max_decimal_bytes)
          return c.Fail("decimal too long");
        {
          std::string& t = out.Scratch();
          internal::AppendDecimal(s, static_cast<int>(in.aux), &t);
          out.Put(t);
        }
      }
      return true;
    }
    case kUuidFixed: {
      std::string_view s;
      if (!ReadFixed(c, in.arg, &s)) return false;
      if (F == JsonFormat::kAvro) {
        out.Latin1(s);
      } else {
        {
          std::string& t = out.Scratch();
          internal::AppendUuid(s, &t);
          out.Put(t);
        }
      }
      return true;
    }
    case kDuration: {
      std::string_view s;
      if (!ReadFixed(c, in.arg, &s)) return false;
      if (F == JsonFormat::kAvro) {
        out.Latin1(s);
      } else {
        out.Put("{\"months\":");
        out.Int(bytes::DecodeFixed32(s.data()));
        out.Put(",\"days\":");
        out.Int(bytes::DecodeFixed32(s.data() + 4));
        out.Put(",\"millis\":");
        out.Int(bytes::DecodeFixed32(s.data() + 8));
        out.Put('}');
      }
      return true;
    }
    case kDate:
    case kTimeMillis: {
      int32_t v = 0;
      if (!ReadInt(c, &v)) return false;
      bool done = false;
      if (F == JsonFormat::kPlain) {
        std::string& t = out.Scratch();
        done = in.op == kDate ? internal::AppendDate(v, &t)
                              : internal::AppendTimeOfDay(
                                    v, internal::TimeUnit::kMillis, &t);
        if (done) out.Put(t);
      }
      if (!done) out.Int(v);
      return true;
    }
    case kTimeMicros:
    case kTimestamp: {
      int64_t v = 0;
      if (!ReadLong(c, &v)) return false;
      bool done = false;
      if (F == JsonFormat::kPlain) {
        std::string& t = out.Scratch();
        done =
            in.op == kTimeMicros
                ? internal::AppendTimeOfDay(v, internal::TimeUnit::kMicros, &t)
                : internal::AppendTimestamp(
                      v, static_cast<internal::TimeUnit>(in.flags & 3),
                      in.flags & kFlagUtc, &t);
        if (done) out.Put(t);
      }
      if (!done) out.Int(v);
      return true;
    }
    default:
      return c.Fail("bad instruction");
  }
}

template <JsonFormat F>
bool Decoder::RunJson(uint32_t pc, Context& c, JsonOut& out) const {
  if (++c.depth > options_.max_depth) return c.Fail("nested too deeply");
  const char* lit = literals_.data();
  for (;; ++pc) {
    const Inst* in = &code_[pc];
    if (in->key_len) out.PutLiteral(lit + in->key_off, in->key_len);
  dispatch:
    switch (in->op) {
      case kEnd:
        --c.depth;
        return true;
      case kNull:
        out.Put("null", 4);
        break;
      case kBool:
        if (c.p >= c.end) return c.Fail("truncated boolean");
        if (*c.p > 1) return c.Fail("invalid boolean");
        if (*c.p++) {
          out.Put("true", 4);
        } else {
          out.Put("false", 5);
        }
        break;
      case kInt:
      case kIntToLong: {
        int32_t v = 0;
        if (!ReadInt(c, &v)) return false;
        out.Int(v);
        break;
      }
      case kLong: {
        int64_t v = 0;
        if (!ReadLong(c, &v)) return false;
        out.Int(v);
        break;
      }
      case kIntToFloat: {
        int32_t v = 0;
        if (!ReadInt(c, &v)) return false;
        out.Float(static_cast<float>(v));
        break;
      }
      case kIntToDouble: {
        int32_t v = 0;
        if (!ReadInt(c, &v)) return false;
        out.Double(v);
        break;
      }
      case kLongToFloat: {
        int64_t v = 0;
        if (!ReadLong(c, &v)) return false;
        out.Float(static_cast<float>(v));
        break;
      }
      case kLongToDouble: {
        int64_t v = 0;
        if (!ReadLong(c, &v)) return false;
        out.Double(static_cast<double>(v));
        break;
      }
      case kFloat: {
        float v = 0;
        if (!ReadFloat(c, &v)) return false;
        out.Float(v);
        break;
      }
      case kFloatToDouble: {
        float v = 0;
        if (!ReadFloat(c, &v)) return false;
        out.Double(v);
        break;
      }
      case kDouble: {
        double v = 0;
        if (!ReadDouble(c, &v)) return false;
        out.Double(v);
        break;
      }
      case kString:
      case kBytesToString: {
        std::string_view s;
        if (!ReadBytes(c, &s)) return false;
        out.JsonString(s);
        break;
      }
      case kBytes:
      case kStringToBytes: {
        std::string_view s;
        if (!ReadBytes(c, &s)) return false;
        if (F == JsonFormat::kAvro) {
          out.Latin1(s);
        } else {
          out.Base64(s);
        }
        break;
      }
      case kFixed: {
        std::string_view s;
        if (!ReadFixed(c, in->arg, &s)) return false;
        if (F == JsonFormat::kAvro) {
          out.Latin1(s);
        } else {
          out.Base64(s);
        }
        break;
      }
      case kEnum: {
        int64_t idx = 0;
        if (!ReadLong(c, &idx)) return false;
        const EnumMap& m = enums_[in->arg];
        if (idx < 0 || idx >= static_cast<int64_t>(m.reader_index.size())) {
          return c.Fail("enum index out of range");
        }
        if (m.reader_index[idx] < 0) {
          return c.Fail("writer symbol not in reader enum", m.name);
        }
        out.Put(m.json[idx]);
        break;
      }
      case kRecord:
        if (!RunJson<F>(in->arg, c, out)) return false;
        break;
      case kArray:
      case kMap: {
        bool map = in->op == kMap;
        out.Put(map ? '{' : '[');
        bool first = true;
        while (true) {
          int64_t n = 0;
          const uint8_t* block_end;
          if (!ReadBlock(c, in->flags & kFlagEmptyItems, &n, &block_end))
            return false;
          if (n == 0) break;
          for (int64_t i = 0; i < n; ++i) {
            if (!first) out.Put(',');
            first = false;
            if (map) {
              std::string_view k;
              if (!ReadBytes(c, &k)) return false;
              out.JsonString(k);
              out.Put(':');
            }
            if (!RunJson<F>(in->arg, c, out)) return false;
          }
          if (!BlockEnded(c, block_end)) return false;
        }
        out.Put(map ? '}' : ']');
        break;
      }
      case kUnion:
      case kReaderUnion: {
        uint32_t b = in->arg;
        if (in->op == kUnion) {
          int64_t idx = 0;
          if (!ReadLong(c, &idx)) return false;
          if (idx < 0 || idx >= in->aux)
            return c.Fail("union index out of range");
          b += static_cast<uint32_t>(idx);
        }
        const Branch& br = branches_[b];
        if (br.fail) return c.Fail(messages_[br.message]);
        // A scalar branch (["null", "string"] and the like) is decoded
        // here, without a call, unless it needs the Avro JSON wrapper.
        if (br.leaf && (F == JsonFormat::kPlain || br.wrap_len == 0)) {
          // The branch counts as a level of nesting, as when called.
          if (c.depth >= options_.max_depth) return c.Fail("nested too deeply");
          in = &code_[br.pc];
          goto dispatch;
        }
        bool wrap = F == JsonFormat::kAvro && br.wrap_len;
        if (wrap) out.PutLiteral(lit + br.wrap_off, br.wrap_len);
        if (!RunJson<F>(br.pc, c, out)) return false;
        if (wrap) out.Put('}');
        break;
      }
      case kDefault:
        out.Put(F == JsonFormat::kAvro ? defaults_[in->arg].avro_json
                                       : defaults_[in->arg].plain_json);
        break;
      case kFail:
        return c.Fail(messages_[in->arg]);
      case kSkipRecord:
        if (!RunSkip(in->arg, c)) return false;
        break;
      case kSkipArray:
      case kSkipMap:
      case kSkipUnion:
        if (!SkipComplex(*in, c)) return false;
        break;
      case kSkipBool:
      case kSkipVarint:
      case kSkipFixed:
      case kSkipBytes:
        if (!SkipSimple(*in, c)) return false;
        break;
      default:
        if (!Logical<F>(*in, c, out)) return false;
    }
  }
}

// Skips one array, map or union described by `in`.
bool Decoder::SkipComplex(const Inst& in, Context& c) const {
  if (in.op == kSkipUnion) {
    int64_t idx = 0;
    if (!ReadLong(c, &idx)) return false;
    if (idx < 0 || idx >= in.aux) return c.Fail("union index out of range");
    return RunSkip(branches_[in.arg + idx].pc, c);
  }
  while (true) {
    int64_t raw = 0;
    const uint8_t* save = c.p;
    if (!ReadLong(c, &raw)) return false;
    if (raw < 0) {
      if (raw == INT64_MIN) return c.Fail("invalid block count");
      int64_t size = 0;
      if (!ReadLong(c, &size)) return false;
      if (size < 0 || size > c.end - c.p) return c.Fail("invalid block size");
      c.p += size;
      continue;
    }
    c.p = save;
    int64_t n = 0;
    const uint8_t* no_size;
    if (!ReadBlock(c, in.flags & kFlagEmptyItems, &n, &no_size)) return false;
    if (n == 0) return true;
    for (int64_t i = 0; i < n; ++i) {
      if (in.op == kSkipMap) {
        std::string_view k;
        if (!ReadBytes(c, &k)) return false;
      }
      if (!RunSkip(in.arg, c)) return false;
    }
  }
}

// Decodes one scalar instruction (anything but records, arrays, maps,
// unions, failures and skips) into *v. Shared by RunValue and RunFlatValue.
[[gnu::always_inline]] inline bool Decoder::ScalarValue(const Inst& in,
                                                        Context& c,
                                                        Value* v) const {
  v->branch = -1;
  switch (in.op) {
    case kNull:
      v->type = Type::kNull;
      break;
    case kBool:
      if (c.p >= c.end) return c.Fail("truncated boolean");
      if (*c.p > 1) return c.Fail("invalid boolean");
      v->type = Type::kBoolean;
      v->boolean = *c.p++;
      break;
    case kInt:
    case kDate:
    case kTimeMillis: {
      int32_t x = 0;
      if (!ReadInt(c, &x)) return false;
      v->type = Type::kInt;
      v->integer = x;
      break;
    }
    case kIntToLong: {
      int32_t x = 0;
      if (!ReadInt(c, &x)) return false;
      v->type = Type::kLong;
      v->integer = x;
      break;
    }
    case kLong:
    case kTimeMicros:
    case kTimestamp: {
      int64_t x = 0;
      if (!ReadLong(c, &x)) return false;
      v->type = Type::kLong;
      v->integer = x;
      break;
    }
    case kIntToFloat:
    case kLongToFloat: {
      int64_t x = 0;
      if (in.op == kIntToFloat) {
        int32_t i = 0;
        if (!ReadInt(c, &i)) return false;
        x = i;
      } else if (!ReadLong(c, &x)) {
        return false;
      }
      v->type = Type::kFloat;
      v->float_value = static_cast<float>(x);
      break;
    }
    case kIntToDouble:
    case kLongToDouble: {
      int64_t x = 0;
      if (in.op == kIntToDouble) {
        int32_t i = 0;
        if (!ReadInt(c, &i)) return false;
        x = i;
      } else if (!ReadLong(c, &x)) {
        return false;
      }
      v->type = Type::kDouble;
      v->double_value = static_cast<double>(x);
      break;
    }
    case kFloat:
      v->type = Type::kFloat;
      if (!ReadFloat(c, &v->float_value)) return false;
      break;
    case kFloatToDouble: {
      float f = 0;
      if (!ReadFloat(c, &f)) return false;
      v->type = Type::kDouble;
      v->double_value = f;
      break;
    }
    case kDouble:
      v->type = Type::kDouble;
      if (!ReadDouble(c, &v->double_value)) return false;
      break;
    case kString:
    case kBytes:
    case kStringToBytes:
    case kBytesToString:
    case kDecimalBytes: {
      std::string_view s;
      if (!ReadBytes(c, &s)) return false;
      v->type = (in.op == kString || in.op == kBytesToString) ? Type::kString
                                                              : Type::kBytes;
      v->bytes.assign(s.data(), s.size());
      break;
    }
    case kFixed:
    case kDecimalFixed:
    case kUuidFixed:
    case kDuration: {
      std::string_view s;
      if (!ReadFixed(c, in.arg, &s)) return false;
      v->type = Type::kFixed;
      v->bytes.assign(s.data(), s.size());
      break;
    }
    case kEnum: {
      int64_t idx = 0;
      if (!ReadLong(c, &idx)) return false;
      const EnumMap& m = enums_[in.arg];
      if (idx < 0 || idx >= static_cast<int64_t>(m.reader_index.size())) {
        return c.Fail("enum index out of range");
      }
      if (m.reader_index[idx] < 0) {
        return c.Fail("writer symbol not in reader enum", m.name);
      }
      v->type = Type::kEnum;
      v->integer = m.reader_index[idx];
      break;
    }
    case kDefault:
      *v = defaults_[in.arg].value;
      break;
    default:
      return c.Fail("bad instruction");
  }
  return true;
}

// An array whose items are one scalar each (kFlagLeafItems), decoded in
// place. Shared by RunValue and RunFlatValue.
[[gnu::always_inline]] inline bool Decoder::LeafArrayValue(const Inst& in,
                                                           Context& c,
                                                           Value* v) const {
  const Inst& item = code_[in.arg];
  v->branch = -1;
  v->type = Type::kArray;
  size_t count = 0;
  while (true) {
    int64_t n = 0;
    const uint8_t* block_end;
    if (!ReadBlock(c, in.flags & kFlagEmptyItems, &n, &block_end)) return false;
    if (n == 0) break;
    v->items.resize(count + static_cast<size_t>(n));
    Value* items = v->items.data();
    for (int64_t i = 0; i < n; ++i, ++count) {
      if (!ScalarValue(item, c, &items[count])) return false;
    }
    if (!BlockEnded(c, block_end)) return false;
  }
  v->items.resize(count);
  return true;
}

[[gnu::noinline]] bool Decoder::BlocksValue(const Inst& in, Context& c,
                                            Value* v) const {
  bool map = in.op == kMap;
  v->branch = -1;
  v->type = map ? Type::kMap : Type::kArray;
  size_t count = 0;
  if (map) v->keys.clear();
  while (true) {
    int64_t n = 0;
    const uint8_t* block_end;
    if (!ReadBlock(c, in.flags & kFlagEmptyItems, &n, &block_end)) return false;
    if (n == 0) break;
    v->items.resize(count + static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i, ++count) {
      if (map) {
        std::string_view k;
        if (!ReadBytes(c, &k)) return false;
        v->keys.emplace_back(k);
      }
      if (!RunValue(in.arg, c, &v->items[count])) return false;
    }
    if (!BlockEnded(c, block_end)) return false;
  }
  v->items.resize(count);
  return true;
}

bool Decoder::RunValue(uint32_t pc, Context& c, Value* target) const {
  if (++c.depth > options_.max_depth) return c.Fail("nested too deeply");
  for (;; ++pc) {
    const Inst& in = code_[pc];
    if (in.op == kEnd) {
      --c.depth;
      return true;
    }
    Value* v = in.field == kSelf ? target : &target->items[in.field];
    switch (in.op) {
      case kRecord:
        v->branch = -1;
        v->type = Type::kRecord;
        v->keys.clear();
        v->items.resize(in.aux);
        if (!RunValue(in.arg, c, v)) return false;
        break;
      case kArray:
        if (in.flags & kFlagLeafItems) {
          // Items count as a level of nesting, as when called.
          if (c.depth >= options_.max_depth) return c.Fail("nested too deeply");
          if (!LeafArrayValue(in, c, v)) return false;
          break;
        }
        [[fallthrough]];
      case kMap:
        if (!BlocksValue(in, c, v)) return false;
        break;
      case kUnion:
      case kReaderUnion: {
        uint32_t b = in.arg;
        if (in.op == kUnion) {
          int64_t idx = 0;
          if (!ReadLong(c, &idx)) return false;
          if (idx < 0 || idx >= in.aux)
            return c.Fail("union index out of range");
          b += static_cast<uint32_t>(idx);
        }
        const Branch& br = branches_[b];
        if (br.fail) return c.Fail(messages_[br.message]);
        if (!br.leaf) {
          if (!RunValue(br.pc, c, v)) return false;
        } else if (c.depth >= options_.max_depth) {
          // The branch counts as a level of nesting, as when called.
          return c.Fail("nested too deeply");
        } else if (!ScalarValue(code_[br.pc], c, v)) {
          return false;
        }
        v->branch = br.reader_branch;
        break;
      }
      case kFail:
        return c.Fail(messages_[in.arg]);
      case kSkipRecord:
        if (!RunSkip(in.arg, c)) return false;
        break;
      case kSkipArray:
      case kSkipMap:
      case kSkipUnion:
        if (!SkipComplex(in, c)) return false;
        break;
      case kSkipBool:
      case kSkipVarint:
      case kSkipFixed:
      case kSkipBytes:
        if (!SkipSimple(in, c)) return false;
        break;
      default:
        if (!ScalarValue(in, c, v)) return false;
    }
  }
}

// The Value side of the flat-record loop (see RunFlatJson).
[[gnu::always_inline]] inline bool Decoder::RunFlatValue(Context& c,
                                                         Value* out) const {
  Value* fields = out->items.data();
  for (const Inst& in : flat_body_) {
    // Ints and longs dominate event records. Testing for them before the
    // jump table trades an indirect jump, which mispredicts as field types
    // alternate, for compares the branch predictor learns per record shape
    // (~10% on the tiny benchmark record).
    if (in.op == kInt) {
      int32_t x = 0;
      if (!ReadInt(c, &x)) return false;
      Value& v = fields[in.field];
      v.branch = -1;
      v.type = Type::kInt;
      v.integer = x;
    } else if (in.op == kLong) {
      int64_t x = 0;
      if (!ReadLong(c, &x)) return false;
      Value& v = fields[in.field];
      v.branch = -1;
      v.type = Type::kLong;
      v.integer = x;
    } else if (in.op == kBool) {
      if (c.p >= c.end) return c.Fail("truncated boolean");
      if (*c.p > 1) return c.Fail("invalid boolean");
      Value& v = fields[in.field];
      v.branch = -1;
      v.type = Type::kBoolean;
      v.boolean = *c.p++;
    } else if (!(in.flags & kFlagFlatNested)) {
      if (in.field == kSelf) {
        if (!SkipSimple(in, c)) return false;
      } else if (!ScalarValue(in, c, &fields[in.field])) {
        return false;
      }
    } else if (in.op == kUnion || in.op == kReaderUnion) {
      // Every branch is a leaf (CompileFlat).
      uint32_t b = in.arg;
      if (in.op == kUnion) {
        int64_t idx = 0;
        if (!ReadLong(c, &idx)) return false;
        if (idx < 0 || idx >= in.aux) return c.Fail("union index out of range");
        b += static_cast<uint32_t>(idx);
      }
      const Branch& br = branches_[b];
      if (br.fail) return c.Fail(messages_[br.message]);
      Value& v = fields[in.field];
      if (!ScalarValue(code_[br.pc], c, &v)) return false;
      v.branch = br.reader_branch;
    } else {
      // An array; its items are leaves (CompileFlat).
      if (!LeafArrayValue(in, c, &fields[in.field])) return false;
    }
  }
  return true;
}

namespace {

// The null "end" of FlatScalarJson, for a failure already recorded by
// Context::Fail (which returns false).
inline char* Failed(bool) { return nullptr; }

}  // namespace

// The flat JSON loop's view of the input: the position and end of its
// context, in a struct whose address never leaves the (inlined) loop, so
// that the position stays in a register. The context itself has its
// address passed to out-of-line calls, and every byte of JSON written (a
// char store, which may alias anything) would make the compiler reload
// the position from memory, on the loop's critical path. Failures, and
// the out-of-line calls, go through the context (Sync first).
struct Decoder::FlatCursor {
  const uint8_t* p;
  const uint8_t* end;
  Context* ctx;
  int64_t& empty_budget;

  explicit FlatCursor(Context& c)
      : p(c.p), end(c.end), ctx(&c), empty_budget(c.empty_budget) {}
  Context& Sync() {
    ctx->p = p;
    return *ctx;
  }
  [[gnu::always_inline]] bool Fail(std::string_view what,
                                   std::string_view name = {}) {
    return Sync().Fail(what, name);
  }
};

namespace {

// JSON booleans indexed by their Avro byte, padded for an 8-byte copy.
constexpr char kBoolText[2][8] = {"false", "true"};

// Copies a key from the program's literal pool, padded so that a fixed
// 16-byte copy may read past its end (see JsonOut::PutLiteral).
[[gnu::always_inline]] inline char* CopyLiteral(char* p, const char* lit,
                                                size_t n) {
  if (n <= 16) {
    std::memcpy(p, lit, 16);
  } else {
    std::memcpy(p, lit, n);
  }
  return p + n;
}

}  // namespace

// One scalar value of the flat-record loop (RunFlatJson), written at p;
// returns where it ends, or null on an error. Inlined into each of the
// loop's uses (fields, union branches, array items).
template <JsonFormat F>
[[gnu::always_inline]] inline char* Decoder::FlatScalarJson(const Inst& in,
                                                            FlatCursor& c,
                                                            JsonOut& out,
                                                            char* p) const {
  // As in RunFlatValue: the common field types are tested before the
  // jump table, whose one indirect jump mispredicts as types alternate.
  if (in.op == kInt) {
    int32_t v = 0;
    if (!ReadInt(c, &v)) return nullptr;
    p += JsonOut::WriteDecimal(v, p);
    return p;
  }
  if (in.op == kBool) {
    if (c.p >= c.end) return Failed(c.Fail("truncated boolean"));
    if (*c.p > 1) return Failed(c.Fail("invalid boolean"));
    // "false" or "true", without a branch on the data.
    uint8_t b = *c.p++;
    std::memcpy(p, kBoolText[b], 8);
    p += 5 - b;
    return p;
  }
  switch (in.op) {
    case kNull:
      std::memcpy(p, "null", 4);
      p += 4;
      break;
    case kInt:
    case kIntToLong: {
      int32_t v = 0;
      if (!ReadInt(c, &v)) return nullptr;
      p += JsonOut::WriteDecimal(v, p);
      break;
    }
    case kLong: {
      int64_t v = 0;
      if (!ReadLong(c, &v)) return nullptr;
      p += JsonOut::WriteDecimal(v, p);
      break;
    }
    case kIntToFloat:
    case kIntToDouble: {
      int32_t v = 0;
      if (!ReadInt(c, &v)) return nullptr;
      p += in.op == kIntToFloat ? internal::WriteFloat(static_cast<float>(v), p)
                                : internal::WriteDouble(v, p);
      break;
    }
    case kLongToFloat:
    case kLongToDouble: {
      int64_t v = 0;
      if (!ReadLong(c, &v)) return nullptr;
      p += in.op == kLongToFloat
               ? internal::WriteFloat(static_cast<float>(v), p)
               : internal::WriteDouble(static_cast<double>(v), p);
      break;
    }
    case kFloat:
    case kFloatToDouble: {
      float v = 0;
      if (!ReadFloat(c, &v)) return nullptr;
      p += in.op == kFloat ? internal::WriteFloat(v, p)
                           : internal::WriteDouble(v, p);
      break;
    }
    case kDouble: {
      double v = 0;
      if (!ReadDouble(c, &v)) return nullptr;
      p += internal::WriteDouble(v, p);
      break;
    }
    case kString:
    case kBytesToString: {
      std::string_view s;
      if (!ReadBytes(c, &s)) return nullptr;
      p = out.Room(p, internal::JsonStringBound(s.size()) + flat_bound_);
      p += internal::WriteJsonString(s, p);
      break;
    }
    case kBytes:
    case kStringToBytes:
    case kFixed: {
      std::string_view s;
      if (!(in.op == kFixed ? ReadFixed(c, in.arg, &s) : ReadBytes(c, &s))) {
        return nullptr;
      }
      // JsonStringBound also bounds base64.
      p = out.Room(p, internal::JsonStringBound(s.size()) + flat_bound_);
      p += F == JsonFormat::kAvro ? internal::WriteLatin1String(s, p)
                                  : internal::WriteBase64String(s, p);
      break;
    }
    case kEnum: {
      int64_t idx = 0;
      if (!ReadLong(c, &idx)) return nullptr;
      const EnumMap& m = enums_[in.arg];
      if (idx < 0 || idx >= static_cast<int64_t>(m.reader_index.size())) {
        return Failed(c.Fail("enum index out of range"));
      }
      if (m.reader_index[idx] < 0) {
        return Failed(c.Fail("writer symbol not in reader enum", m.name));
      }
      const std::string& j = m.json[idx];
      p = out.Room(p, j.size() + flat_bound_);
      std::memcpy(p, j.data(), j.size());
      p += j.size();
      break;
    }
    case kDefault: {
      const std::string& j = F == JsonFormat::kAvro
                                 ? defaults_[in.arg].avro_json
                                 : defaults_[in.arg].plain_json;
      p = out.Room(p, j.size() + flat_bound_);
      std::memcpy(p, j.data(), j.size());
      p += j.size();
      break;
    }
    case kSkipBool:
    case kSkipVarint:
    case kSkipFixed:
    case kSkipBytes:
      if (!SkipSimple(in, c.Sync())) return nullptr;
      c.p = c.ctx->p;
      break;
    default:
      // Logical types format through JsonOut's own capacity checks.
      out.Commit(p);
      if (!Logical<F>(in, c.Sync(), out)) return nullptr;
      c.p = c.ctx->p;
      p = out.Reserve(flat_bound_);
  }
  return p;
}

// The flat-record loop: the body of a root record whose fields are all
// scalars, unions of scalars or arrays of scalars (CompileFlat), written
// through a raw pointer.
// Invariant: at the top of each field, p has room for flat_bound_ bytes,
// which covers the keys and fixed-size values of every field left; a
// variable-size value makes room for itself plus flat_bound_.
template <JsonFormat F>
[[gnu::always_inline]] inline bool Decoder::RunFlatJson(Context& context,
                                                        JsonOut& out) const {
  FlatCursor c(context);
  const char* lit = literals_.data();
  char* p = out.Reserve(flat_bound_);
  for (const Inst& in : flat_body_) {
    p = CopyLiteral(p, lit + in.key_off, in.key_len);
    if (!(in.flags & kFlagFlatNested)) [[likely]] {
      p = FlatScalarJson<F>(in, c, out, p);
      if (p == nullptr) return false;
    } else if (in.op == kUnion || in.op == kReaderUnion) {
      // Every branch is a leaf (CompileFlat): run it in place.
      uint32_t b = in.arg;
      if (in.op == kUnion) {
        int64_t idx = 0;
        if (!ReadLong(c, &idx)) return false;
        if (idx < 0 || idx >= in.aux) return c.Fail("union index out of range");
        b += static_cast<uint32_t>(idx);
      }
      const Branch& br = branches_[b];
      if (br.fail) return c.Fail(messages_[br.message]);
      bool wrap = F == JsonFormat::kAvro && br.wrap_len;
      if (wrap) p = CopyLiteral(p, lit + br.wrap_off, br.wrap_len);
      p = FlatScalarJson<F>(code_[br.pc], c, out, p);
      if (p == nullptr) return false;
      if (wrap) *p++ = '}';
    } else if (in.op == kArray) {
      // Items are leaves (CompileFlat). Each makes room for itself, its
      // comma and the rest of the record.
      const Inst& item = code_[in.arg];
      *p++ = '[';
      bool first = true;
      while (true) {
        int64_t n = 0;
        const uint8_t* block_end;
        if (!ReadBlock(c, in.flags & kFlagEmptyItems, &n, &block_end))
          return false;
        if (n == 0) break;
        for (int64_t i = 0; i < n; ++i) {
          p = out.Room(p, 1 + internal::kNumberBound + flat_bound_);
          if (!first) *p++ = ',';
          first = false;
          p = FlatScalarJson<F>(item, c, out, p);
          if (p == nullptr) return false;
        }
        if (!BlockEnded(c, block_end)) return false;
      }
      *p++ = ']';
    }
  }
  out.Commit(CopyLiteral(p, lit + flat_close_off_, flat_close_len_));
  c.Sync();
  return true;
}

// The flat loop as a call, for the one-record entry points, where inlining
// it measured no faster (a few percent slower); the batch loop inlines it,
// which saves a call and its register saves per record (~10% on the tiny
// record).
template <JsonFormat F>
[[gnu::noinline]] bool Decoder::RunFlatJsonCall(Context& c,
                                                JsonOut& out) const {
  return RunFlatJson<F>(c, out);
}

// ------------------------------------------------- scalar-record plans

namespace {

// A varint's value and where it ends (null: truncated or longer than 10
// bytes), returned in two registers.
struct VarintRead {
  const uint8_t* end;
  uint64_t value;
};

// ReadVarint for the scalar plans: accepts exactly what ReadVarint
// accepts, with the same value. The one- and two-byte cases first; the
// longer ones inline too (a call here would make the plans save
// registers for it on every record).
[[gnu::always_inline]] inline VarintRead ScalarVarint(const uint8_t* p,
                                                      const uint8_t* end) {
  if (p < end && *p < 0x80) [[likely]]
    return {p + 1, *p};
  if (end - p >= 2 && p[1] < 0x80) {
    return {p + 2, (p[0] & 0x7fu) | (static_cast<uint64_t>(p[1]) << 7)};
  }
  uint64_t r = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= end) return {nullptr, 0};
    uint64_t b = *p++;
    r |= (b & 0x7f) << shift;
    if (b < 0x80) return {p, r};
  }
  return {nullptr, 0};
}

inline int64_t ZigZag(uint64_t u) {
  return static_cast<int64_t>((u >> 1) ^ (0 - (u & 1)));
}

// A kSVarint or kSBool field's raw varint: at most f.max, and one byte
// when f.max is at most 1 (a boolean: any other byte is invalid).
[[gnu::always_inline]] inline VarintRead ScalarVarintField(
    const Decoder::ScalarField& f, const uint8_t* p, const uint8_t* end) {
  if (p < end && *p <= f.max1) [[likely]]
    return {p + 1, *p};
  if (f.max <= 1) return {nullptr, 0};
  VarintRead r = ScalarVarint(p, end);
  if (r.value > f.max) r.end = nullptr;
  return r;
}

// The reader's symbol index of enum table entry `m` for writer index `idx`,
// or -1 when the general path must report it.
[[gnu::always_inline]] inline int32_t ScalarEnum(const Decoder::EnumMap& m,
                                                 int64_t idx) {
  if (idx < 0 || idx >= static_cast<int64_t>(m.reader_index.size())) {
    return -1;
  }
  return m.reader_index[idx];
}

// The skips other than of a varint (which the Value plan reads as one).
[[gnu::always_inline]] inline const uint8_t* ScalarSkip(
    const Decoder::ScalarField& f, uint8_t op, const uint8_t* p,
    const uint8_t* end) {
  if (op == kSSkipVarint) return ScalarVarint(p, end).end;
  if (op == kSSkipBool) return p < end ? p + 1 : nullptr;
  return end - p >= static_cast<int64_t>(f.arg) ? p + f.arg : nullptr;
}

// The bytes of `in`, never null (the plans return null for failure, so an
// empty view's null data must not look like an end).
inline const uint8_t* Bytes(std::string_view in) {
  static constexpr uint8_t kNone[1] = {0};
  return in.data() != nullptr ? reinterpret_cast<const uint8_t*>(in.data())
                              : kNone;
}

// Gives a record Value no keys and `n` fields, keeping what it can.
[[gnu::noinline]] void ShapeRecord(Value* out, size_t n) {
  out->keys.clear();
  out->items.resize(n);
}

// A Value plan's field of any kind but a kSVarint, out of line: these are
// rarer in short records, and a copy of their code in every position of
// every instantiation would multiply the plans' size.
[[gnu::noinline]] const uint8_t* ScalarValueOther(
    const Decoder::ScalarField& f, const uint8_t* p, const uint8_t* end,
    char* fields, const Decoder::EnumMap* enums) {
  // Not for skips, whose offset is kSelf.
  auto field = [&]() -> Value& {
    return *reinterpret_cast<Value*>(fields + f.offset);
  };
  switch (f.value_op) {
    case kSFloat: {
      if (end - p < 4) return nullptr;
      Value& v = field();
      v.type = Type::kFloat;
      v.branch = -1;
      std::memcpy(&v.float_value, p, 4);
      return p + 4;
    }
    case kSDouble: {
      if (end - p < 8) return nullptr;
      Value& v = field();
      v.type = Type::kDouble;
      v.branch = -1;
      std::memcpy(&v.double_value, p, 8);
      return p + 8;
    }
    case kSNull: {
      Value& v = field();
      v.type = Type::kNull;
      v.branch = -1;
      return p;
    }
    case kSEnum: {
      VarintRead r = ScalarVarint(p, end);
      if (r.end == nullptr) return nullptr;
      int32_t ri = ScalarEnum(enums[f.arg], ZigZag(r.value));
      if (ri < 0) return nullptr;
      Value& v = field();
      v.type = Type::kEnum;
      v.branch = -1;
      v.integer = ri;
      return r.end;
    }
    default:
      return ScalarSkip(f, f.value_op, p, end);
  }
}

// One field of a Value plan, inlined once per position; `fields` is the
// record's items, as bytes (ScalarField::offset). kVarints: every field is
// a kSVarint.
template <bool kVarints>
[[gnu::always_inline]] inline const uint8_t* ScalarValueStep(
    const Decoder::ScalarField& f, const uint8_t* p, const uint8_t* end,
    char* fields, const Decoder::EnumMap* enums) {
  if (!kVarints && f.value_op != kSVarint) [[unlikely]] {
    return ScalarValueOther(f, p, end, fields, enums);
  }
  // Booleans, ints and longs without a jump: the same varint and range
  // check, and both payloads stored (the one of the type is what counts;
  // a boolean's raw byte is its value).
  VarintRead r = ScalarVarintField(f, p, end);
  if (r.end != nullptr) [[likely]] {
    Value& v = *reinterpret_cast<Value*>(fields + f.offset);
    v.type = f.type;
    v.branch = -1;
    v.integer = ZigZag(r.value);
    v.boolean = r.value != 0;
  }
  return r.end;
}

// Where a JSON step's input and output end (input null: the general path
// must take the record).
struct JsonStepEnd {
  const uint8_t* in;
  char* out;
};

// A JSON plan's field of any kind but a kSVarint or a kSBool (its key
// already written), out of line, as ScalarValueOther.
[[gnu::noinline]] JsonStepEnd ScalarJsonOther(const Decoder::ScalarField& f,
                                              uint8_t op, const uint8_t* p,
                                              const uint8_t* end, char* o,
                                              const Decoder::EnumMap* enums) {
  switch (op) {
    case kSFloat: {
      if (end - p < 4) return {nullptr, o};
      float v = 0;
      std::memcpy(&v, p, 4);
      return {p + 4, o + internal::WriteFloat(v, o)};
    }
    case kSDouble: {
      if (end - p < 8) return {nullptr, o};
      double v = 0;
      std::memcpy(&v, p, 8);
      return {p + 8, o + internal::WriteDouble(v, o)};
    }
    case kSNull:
      std::memcpy(o, "null", 4);
      return {p, o + 4};
    case kSEnum: {
      VarintRead r = ScalarVarint(p, end);
      if (r.end == nullptr) return {nullptr, o};
      int64_t idx = ZigZag(r.value);
      const Decoder::EnumMap& m = enums[f.arg];
      if (ScalarEnum(m, idx) < 0) return {nullptr, o};
      const std::string& j = m.json[idx];
      std::memcpy(o, j.data(), j.size());
      return {r.end, o + j.size()};
    }
    default:
      return {ScalarSkip(f, op, p, end), o};
  }
}

// Integers of five digits and more, out of line (see ScalarJsonStep).
[[gnu::noinline]] char* WriteLongDecimal(int64_t v, char* o) {
  return o + Decoder::JsonOut::WriteDecimal(v, o);
}

// The integer of zig-zag varint value `zz` below 2^14 (so of at most four
// digits), as WriteDecimal writes it, without its code for longer numbers.
// The sign and magnitude come straight from the zig-zag form: odd values
// are negative, and (zz + 1) / 2 is the magnitude of both.
[[gnu::always_inline]] inline char* WriteShortZigZag(uint32_t zz, char* o) {
  const char* pairs = Decoder::JsonOut::kDigitPairs;
  *o = '-';
  o += zz & 1;
  uint32_t u = (zz + 1) >> 1;
  if (u < 10) {
    *o = static_cast<char>('0' + u);
    return o + 1;
  }
  if (u < 100) {
    std::memcpy(o, pairs + 2 * u, 2);
    return o + 2;
  }
  // u / 100 by a multiply and shift, exact below 43699.
  uint32_t hi = (u * 5243) >> 19;
  uint32_t lo = u - hi * 100;
  if (hi < 10) {
    *o = static_cast<char>('0' + hi);
    std::memcpy(o + 1, pairs + 2 * lo, 2);
    return o + 3;
  }
  std::memcpy(o, pairs + 2 * hi, 2);
  std::memcpy(o + 2, pairs + 2 * lo, 2);
  return o + 4;
}

// One field of a JSON plan: its key, then its value, at o (which has room
// for the record's bound); the end of the text, or null. kVarints: every
// field is a kSVarint or a kSBool.
template <bool kVarints>
[[gnu::always_inline]] inline char* ScalarJsonStep(
    const Decoder::ScalarField& f, size_t format, const uint8_t*& p,
    const uint8_t* end, char* o, const char* lit,
    const Decoder::EnumMap* enums) {
  o = CopyLiteral(o, lit + f.key_off, f.key_len);
  uint8_t op = f.json_op[format];
  if (!kVarints && op != kSVarint && op != kSBool) [[unlikely]] {
    JsonStepEnd e = ScalarJsonOther(f, op, p, end, o, enums);
    p = e.in;
    return e.in == nullptr ? nullptr : e.out;
  }
  VarintRead r = ScalarVarintField(f, p, end);
  if (r.end == nullptr) return nullptr;
  p = r.end;
  if (op == kSBool) {
    // "false" or "true", without a branch on the data.
    std::memcpy(o, kBoolText[r.value], 8);
    return o + 5 - r.value;
  }
  // A varint of one or two bytes is at most four digits: those inline,
  // longer numbers by a call, which keeps every position's copy small.
  if (r.value < (1u << 14)) [[likely]]
    return WriteShortZigZag(static_cast<uint32_t>(r.value), o);
  return WriteLongDecimal(ZigZag(r.value), o);
}

}  // namespace

// The scalar-record plans: for each field count N (kMaxScalarFields at
// most) and kVarints, one always-inlined decoder of one record, unrolled
// so that each field's step is its own code, and the entry points built
// on it (Decoder::ScalarValueFn and the others). Stateless.
struct Decoder::ScalarPlans {
  // One record into *out: where it ends, or null.
  template <size_t N, bool kVarints>
  [[gnu::always_inline]] static const uint8_t* OneValue(const Decoder& d,
                                                        const uint8_t* p,
                                                        const uint8_t* end,
                                                        Value* out) {
    out->type = Type::kRecord;
    out->branch = -1;
    // Reused Values keep their fields; others are reshaped out of line.
    if (!out->keys.empty() ||
        reinterpret_cast<const char*>(std::to_address(out->items.end())) -
                reinterpret_cast<const char*>(out->items.data()) !=
            static_cast<ptrdiff_t>(d.scalar_items_bytes_)) [[unlikely]] {
      ShapeRecord(out, d.root_record_fields_);
    }
    char* fields = reinterpret_cast<char*>(out->items.data());
    const ScalarField* f = d.scalar_fields_.data();
    const EnumMap* enums = d.enums_.data();
    return ValueSteps<kVarints>(std::make_index_sequence<N>{}, f, p, end,
                                fields, enums);
  }
  template <bool kVarints, size_t... I>
  [[gnu::always_inline]] static const uint8_t* ValueSteps(
      std::index_sequence<I...>, const ScalarField* f, const uint8_t* p,
      const uint8_t* end, char* fields, const EnumMap* enums) {
    bool ok =
        ((p = ScalarValueStep<kVarints>(f[I], p, end, fields, enums)) && ...);
    return ok ? p : nullptr;
  }

  // One record's JSON at o, which has room for d.scalar_json_bound_: where
  // the text ends (and p where the record does), or null.
  template <size_t N, bool kVarints>
  [[gnu::always_inline]] static char* OneJson(const Decoder& d, size_t format,
                                              const uint8_t*& p,
                                              const uint8_t* end, char* o) {
    const ScalarField* f = d.scalar_fields_.data();
    const EnumMap* enums = d.enums_.data();
    const char* lit = d.literals_.data();
    o = JsonSteps<kVarints>(std::make_index_sequence<N>{}, f, format, p, end, o,
                            lit, enums);
    if (o == nullptr) return nullptr;
    return CopyLiteral(o, lit + d.flat_close_off_, d.flat_close_len_);
  }
  template <bool kVarints, size_t... I>
  [[gnu::always_inline]] static char* JsonSteps(
      std::index_sequence<I...>, const ScalarField* f, size_t format,
      const uint8_t*& p, const uint8_t* end, char* o, const char* lit,
      const EnumMap* enums) {
    bool ok =
        ((o = ScalarJsonStep<kVarints>(f[I], format, p, end, o, lit, enums)) &&
         ...);
    return ok ? o : nullptr;
  }

  // ScalarValueExactFn.
  template <size_t N, bool kVarints>
  static Status ValueExact(const Decoder& d, std::string_view in, Value* out) {
    const uint8_t* b = Bytes(in);
    const uint8_t* e = b + in.size();
    if (OneValue<N, kVarints>(d, b, e, out) == e) [[likely]]
      return Status::Ok();
    // Anything else is decoded again, for the error.
    return d.GeneralExact(in, out);
  }

  // ScalarJsonExactFn. The text goes to a stack buffer and is appended,
  // for the reason JsonOut gives; a record the plan does not take appends
  // nothing, and is decoded again for the error.
  template <size_t N>
  static Status JsonExact(const Decoder& d, std::string_view in,
                          JsonFormat format, std::string* out) {
    char buf[kMaxScalarJsonBound];
    const uint8_t* q = Bytes(in);
    const uint8_t* e = q + in.size();
    char* t = OneJson<N, false>(d, static_cast<size_t>(format), q, e, buf);
    if (t == nullptr || q != e) [[unlikely]]
      return d.GeneralJsonExact(in, format, out);
    out->append(buf, static_cast<size_t>(t - buf));
    return Status::Ok();
  }

  // ScalarValueFn.
  template <size_t N, bool kVarints>
  static size_t Values(const Decoder& d, std::span<const std::string_view> data,
                       Value* values) {
    for (size_t i = 0; i < data.size(); ++i) {
      const uint8_t* b = Bytes(data[i]);
      const uint8_t* e = b + data[i].size();
      if (OneValue<N, kVarints>(d, b, e, &values[i]) != e) [[unlikely]]
        return i;
    }
    return data.size();
  }

  // ScalarJsonFn: straight into o, each record's end in ends[i] when ends
  // is not null.
  template <size_t N, bool kVarints>
  static size_t Json(const Decoder& d, std::span<const std::string_view> data,
                     JsonFormat format, JsonOut& o, size_t* ends) {
    for (size_t i = 0; i < data.size(); ++i) {
      const uint8_t* q = Bytes(data[i]);
      const uint8_t* e = q + data[i].size();
      char* t = OneJson<N, kVarints>(d, static_cast<size_t>(format), q, e,
                                     o.Reserve(d.scalar_json_bound_));
      if (t == nullptr || q != e) [[unlikely]]
        return i;
      o.Commit(t);
      if (ends != nullptr) ends[i] = o.Offset();
    }
    return data.size();
  }

  // The entry points for n fields (see DecoderCompiler::CompileScalar).
  static void Select(size_t n, Decoder* d, bool varints, bool json_avro,
                     bool json_plain) {
    SelectFrom(std::make_index_sequence<kMaxScalarFields>{}, n, d, varints,
               json_avro, json_plain);
  }
  template <size_t... I>
  static void SelectFrom(std::index_sequence<I...>, size_t n, Decoder* d,
                         bool varints, bool json_avro, bool json_plain) {
    ((n == I + 1 ? Set<I + 1>(d, varints, json_avro, json_plain) : void()),
     ...);
  }
  template <size_t N>
  static void Set(Decoder* d, bool varints, bool json_avro, bool json_plain) {
    d->scalar_value_ = varints ? &Values<N, true> : &Values<N, false>;
    d->scalar_value_exact_ =
        varints ? &ValueExact<N, true> : &ValueExact<N, false>;
    bool json[2];
    json[static_cast<size_t>(JsonFormat::kAvro)] = json_avro;
    json[static_cast<size_t>(JsonFormat::kPlain)] = json_plain;
    for (size_t k = 0; k < 2; ++k) {
      if (!json[k]) continue;
      // The op tests cost little beside the text (~3%): one JSON plan.
      d->scalar_json_[k] = &Json<N, false>;
      d->scalar_json_exact_[k] = &JsonExact<N>;
    }
  }
};

void DecoderCompiler::SelectScalarPlans(size_t n, bool varints, bool json_avro,
                                        bool json_plain) {
  Decoder::ScalarPlans::Select(n, d_, varints, json_avro, json_plain);
}

namespace {

Ctx MakeContext(std::string_view in, const DecoderOptions& o) {
  Ctx c;
  c.begin = reinterpret_cast<const uint8_t*>(in.data());
  c.p = c.begin;
  c.end = c.begin + in.size();
  c.empty_budget = o.max_empty_items;
  return c;
}

[[gnu::cold]] [[gnu::noinline]] Status DecodeError(const Ctx& c) {
  std::string m = "avro: ";
  m.append(c.error.data() ? c.error : "decode failed");
  if (!c.error_name.empty()) {
    m.append(" '").append(c.error_name).append("'");
  }
  return InvalidArgument(m + " at byte " + std::to_string(c.error_at));
}

[[gnu::always_inline]] inline Status Finish(Ctx& c, bool ok,
                                            std::string_view* in) {
  if (!ok) [[unlikely]]
    return DecodeError(c);
  in->remove_prefix(static_cast<size_t>(c.p - c.begin));
  return Status::Ok();
}

}  // namespace

// The root of one datum, shared by the decode entry points.
[[gnu::always_inline]] inline bool Decoder::RootJson(Context& c,
                                                     JsonFormat format,
                                                     JsonOut& out) const {
  if (flat_json_) {
    return format == JsonFormat::kAvro
               ? RunFlatJsonCall<JsonFormat::kAvro>(c, out)
               : RunFlatJsonCall<JsonFormat::kPlain>(c, out);
  }
  return format == JsonFormat::kAvro
             ? RunJson<JsonFormat::kAvro>(json_entry_, c, out)
             : RunJson<JsonFormat::kPlain>(json_entry_, c, out);
}

[[gnu::always_inline]] inline bool Decoder::RootValue(Context& c,
                                                      Value* out) const {
  if (root_record_body_ == UINT32_MAX) return RunValue(entry_, c, out);
  out->type = Type::kRecord;
  out->branch = -1;
  out->keys.clear();
  // Reused Values keep their fields, and with them their strings' storage.
  if (out->items.size() != root_record_fields_) {
    out->items.resize(root_record_fields_);
  }
  return flat_ ? RunFlatValue(c, out) : RunValue(root_record_body_, c, out);
}

namespace {

[[gnu::cold]] [[gnu::noinline]] Status TrailingBytes(const Ctx& c) {
  return InvalidArgument("avro: " + std::to_string(c.end - c.p) +
                         " bytes left after the datum");
}

}  // namespace

Status Decoder::DecodeJson(std::string_view* in, JsonFormat format,
                           std::string* out) const {
  Ctx c = MakeContext(*in, options_);
  JsonOut o(out);
  bool ok = RootJson(c, format, o);
  o.Finish();
  return Finish(c, ok, in);
}

Status Decoder::Decode(std::string_view* in, Value* out) const {
  Ctx c = MakeContext(*in, options_);
  return Finish(c, RootValue(c, out), in);
}

Status Decoder::Skip(std::string_view* in) const {
  Ctx c = MakeContext(*in, options_);
  return Finish(c, RunSkip(skip_entry_, c), in);
}

Status Decoder::DecodeJsonExact(std::string_view in, JsonFormat format,
                                std::string* out) const {
  if (ScalarJsonExactFn fn = scalar_json_exact_[static_cast<size_t>(format)])
    return fn(*this, in, format, out);
  return GeneralJsonExact(in, format, out);
}

// The general path of the Exact calls, out of line so that the scalar
// plans' callers stay small (no registers to save for it).
[[gnu::noinline]] Status Decoder::GeneralJsonExact(std::string_view in,
                                                   JsonFormat format,
                                                   std::string* out) const {
  Ctx c = MakeContext(in, options_);
  JsonOut o(out);
  bool ok = RootJson(c, format, o);
  o.Finish();
  if (!ok) [[unlikely]]
    return DecodeError(c);
  if (c.p != c.end) [[unlikely]]
    return TrailingBytes(c);
  return Status::Ok();
}

Status Decoder::DecodeExact(std::string_view in, Value* out) const {
  if (scalar_value_exact_ != nullptr)
    return scalar_value_exact_(*this, in, out);
  return GeneralExact(in, out);
}

[[gnu::noinline]] Status Decoder::GeneralExact(std::string_view in,
                                               Value* out) const {
  Ctx c = MakeContext(in, options_);
  if (!RootValue(c, out)) [[unlikely]]
    return DecodeError(c);
  if (c.p != c.end) [[unlikely]]
    return TrailingBytes(c);
  return Status::Ok();
}

namespace {

// The error of record `i` of a batch: its own message, with the record's
// index after the "avro: " that every decode error starts with.
[[gnu::cold]] [[gnu::noinline]] Status BatchError(size_t i, const Status& s) {
  std::string_view m = s.message();
  if (m.starts_with("avro: ")) m.remove_prefix(6);
  return InvalidArgument("avro: record " + std::to_string(i) + ": " +
                         std::string(m));
}

}  // namespace

template <JsonFormat F>
Status Decoder::JsonBatch(std::span<const std::string_view> data,
                          std::string* out, std::vector<size_t>* ends) const {
  // Most records' JSON is a few times their binary size; a larger
  // document grows the string geometrically.
  size_t hint = 0;
  for (std::string_view d : data) hint += 16 + 4 * d.size();
  JsonOut o(out, JsonOut::Direct{}, hint);
  // Room for every end up front: one store per record in the loop, through
  // a local pointer (the vector's own would be reloaded after every byte of
  // JSON written).
  size_t first_end = 0;
  size_t* end_at = nullptr;
  if (ends != nullptr) {
    first_end = ends->size();
    ends->resize(first_end + data.size());
    end_at = ends->data() + first_end;
  }
  // One context for the batch: a record that fails ends the batch, so only
  // the input and the empty-item budget need setting per record.
  Ctx c = MakeContext({}, options_);
  size_t last = o.Offset();  // where the last good document ends
  const ScalarJsonFn scalar = scalar_json_[static_cast<size_t>(F)];
  for (size_t i = 0; i < data.size(); ++i) {
    if (scalar != nullptr) {
      // As many records as the plan takes; the one it stops at (if any)
      // is decoded again below, for the error.
      i += scalar(*this, data.subspan(i), F, o,
                  end_at != nullptr ? end_at + i : nullptr);
      if (i == data.size()) break;
      last = o.Offset();
    }
    c.begin = Bytes(data[i]);
    c.p = c.begin;
    c.end = c.begin + data[i].size();
    c.empty_budget = options_.max_empty_items;
    bool ok = flat_json_ ? RunFlatJson<F>(c, o) : RunJson<F>(json_entry_, c, o);
    if (!ok || c.p != c.end) [[unlikely]] {
      o.Rewind(last);
      o.Finish();
      if (ends != nullptr) ends->resize(first_end + i);
      return BatchError(i, ok ? TrailingBytes(c) : DecodeError(c));
    }
    last = o.Offset();
    if (end_at != nullptr) end_at[i] = last;
  }
  o.Finish();
  return Status::Ok();
}

Status Decoder::DecodeJsonBatch(std::span<const std::string_view> data,
                                JsonFormat format, std::string* out,
                                std::vector<size_t>* ends) const {
  return format == JsonFormat::kAvro
             ? JsonBatch<JsonFormat::kAvro>(data, out, ends)
             : JsonBatch<JsonFormat::kPlain>(data, out, ends);
}

Status Decoder::DecodeBatch(std::span<const std::string_view> data,
                            std::vector<Value>* out) const {
  // Resizing keeps the Values already there, and with them their storage.
  if (out->size() != data.size()) out->resize(data.size());
  Value* values = out->data();
  // One context for the batch (see JsonBatch).
  Ctx c = MakeContext({}, options_);
  for (size_t i = 0; i < data.size(); ++i) {
    if (scalar_value_ != nullptr) {
      // As in JsonBatch.
      i += scalar_value_(*this, data.subspan(i), values + i);
      if (i == data.size()) break;
    }
    c.begin = Bytes(data[i]);
    c.p = c.begin;
    c.end = c.begin + data[i].size();
    c.empty_budget = options_.max_empty_items;
    bool ok = RootValue(c, &values[i]);
    if (!ok || c.p != c.end) [[unlikely]] {
      out->resize(i);
      return BatchError(i, ok ? TrailingBytes(c) : DecodeError(c));
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- encoding

void PutLong(int64_t v, std::string* out) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  char buf[10];
  int n = 0;
  while (u >= 0x80) {
    buf[n++] = static_cast<char>(u | 0x80);
    u >>= 7;
  }
  buf[n++] = static_cast<char>(u);
  out->append(buf, n);
}

std::optional<int64_t> GetLong(std::string_view* in) {
  Ctx c = MakeContext(*in, DecoderOptions());
  int64_t v = 0;
  if (!ReadLong(c, &v)) return std::nullopt;
  in->remove_prefix(static_cast<size_t>(c.p - c.begin));
  return v;
}

namespace {

Status EncodeAt(const Node& node, const Value& v, std::string* out, int depth) {
  if (depth > 256) return InvalidArgument("avro: value nested too deeply");
  auto mismatch = [&] {
    return InvalidArgument("avro: a " + std::string(TypeName(v.type)) +
                           " value does not fit schema " + Describe(node));
  };
  if (node.type == Type::kUnion) {
    int b = v.branch;
    if (b < 0) {
      for (size_t i = 0; i < node.branches.size(); ++i) {
        if (node.branches[i]->type == v.type) {
          b = static_cast<int>(i);
          break;
        }
      }
    }
    if (b < 0 || b >= static_cast<int>(node.branches.size())) return mismatch();
    PutLong(b, out);
    return EncodeAt(*node.branches[b], v, out, depth + 1);
  }
  bool promoted = (node.type == Type::kLong && v.type == Type::kInt) ||
                  (node.type == Type::kDouble && v.type == Type::kFloat);
  if (v.type != node.type && !promoted) return mismatch();
  switch (node.type) {
    case Type::kNull:
      return Status::Ok();
    case Type::kBoolean:
      out->push_back(v.boolean ? 1 : 0);
      return Status::Ok();
    case Type::kInt:
      if (v.integer < INT32_MIN || v.integer > INT32_MAX) {
        return InvalidArgument("avro: int value out of range");
      }
      PutLong(v.integer, out);
      return Status::Ok();
    case Type::kLong:
      PutLong(v.integer, out);
      return Status::Ok();
    case Type::kFloat: {
      char b[4];
      std::memcpy(b, &v.float_value, 4);
      out->append(b, 4);
      return Status::Ok();
    }
    case Type::kDouble: {
      double d = v.type == Type::kFloat ? v.float_value : v.double_value;
      char b[8];
      std::memcpy(b, &d, 8);
      out->append(b, 8);
      return Status::Ok();
    }
    case Type::kBytes:
    case Type::kString:
      PutLong(static_cast<int64_t>(v.bytes.size()), out);
      out->append(v.bytes);
      return Status::Ok();
    case Type::kFixed:
      if (static_cast<int64_t>(v.bytes.size()) != node.fixed_size) {
        return InvalidArgument("avro: fixed '" + node.full_name + "' needs " +
                               std::to_string(node.fixed_size) +
                               " bytes, got " + std::to_string(v.bytes.size()));
      }
      out->append(v.bytes);
      return Status::Ok();
    case Type::kEnum:
      if (v.integer < 0 ||
          v.integer >= static_cast<int64_t>(node.symbols.size())) {
        return InvalidArgument("avro: enum '" + node.full_name +
                               "' has no symbol " + std::to_string(v.integer));
      }
      PutLong(v.integer, out);
      return Status::Ok();
    case Type::kArray:
      if (!v.items.empty()) {
        PutLong(static_cast<int64_t>(v.items.size()), out);
        for (const auto& item : v.items) {
          RETURN_IF_ERROR(EncodeAt(*node.items, item, out, depth + 1));
        }
      }
      out->push_back(0);
      return Status::Ok();
    case Type::kMap:
      if (v.keys.size() != v.items.size()) {
        return InvalidArgument("avro: map keys and values differ in number");
      }
      if (!v.items.empty()) {
        PutLong(static_cast<int64_t>(v.items.size()), out);
        for (size_t i = 0; i < v.items.size(); ++i) {
          PutLong(static_cast<int64_t>(v.keys[i].size()), out);
          out->append(v.keys[i]);
          RETURN_IF_ERROR(EncodeAt(*node.values, v.items[i], out, depth + 1));
        }
      }
      out->push_back(0);
      return Status::Ok();
    case Type::kRecord:
      if (v.items.size() != node.fields.size()) {
        return InvalidArgument("avro: record '" + node.full_name + "' has " +
                               std::to_string(node.fields.size()) +
                               " fields, the value " +
                               std::to_string(v.items.size()));
      }
      for (size_t i = 0; i < node.fields.size(); ++i) {
        Status s = EncodeAt(*node.fields[i].type, v.items[i], out, depth + 1);
        if (!s.ok()) {
          return InvalidArgument(s.message() + " (record '" + node.full_name +
                                 "' field '" + node.fields[i].name + "')");
        }
      }
      return Status::Ok();
    case Type::kUnion:
      break;
  }
  return mismatch();
}

}  // namespace

Status EncodeValue(const Node& node, const Value& value, std::string* out) {
  return EncodeAt(node, value, out, 0);
}

}  // namespace riffle::avro
