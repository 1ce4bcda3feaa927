#include "tables/service.h"

#include <charconv>
#include <deque>
#include <set>
#include <unordered_map>

#include "core/bytes.h"
#include "core/clock.h"
#include "core/crc32c.h"
#include "json/json.h"
#include "tables/item_codec.h"

namespace riffle::tables {

// Per-item write locks with queued continuations instead of blocking.
// Thread-safe.
class Service::KeyLocks {
 public:
  using Work = std::function<void()>;

  // Runs `work` now if `key` is free, else when the holder releases it.
  // The work must eventually call Release(key) exactly once.
  void Acquire(const std::string& key, Work work) {
    {
      std::lock_guard lock(mu_);
      auto [it, inserted] = held_.try_emplace(key);
      if (!inserted) {
        it->second.push_back(std::move(work));
        return;
      }
    }
    work();
  }

  void Release(const std::string& key) {
    Work next;
    {
      std::lock_guard lock(mu_);
      auto it = held_.find(key);
      if (it == held_.end()) return;
      if (it->second.empty()) {
        held_.erase(it);
        return;
      }
      next = std::move(it->second.front());
      it->second.pop_front();
    }
    next();  // the key stays held, now by `next`
  }

 private:
  std::mutex mu_;
  // Held keys and the work waiting for each.
  std::unordered_map<std::string, std::deque<Work>> held_;
};

namespace {

constexpr std::string_view kTablePrefix = "table/";
constexpr std::string_view kNextIdKey = "tables/next_id";
constexpr char kItemTag = 'i';

std::string TableKey(std::string_view name) {
  return std::string(kTablePrefix) + std::string(name);
}

// 'i' + table id (8 bytes big-endian): every item of a table shares it.
std::string TablePrefix(uint64_t id) {
  std::string s(1, kItemTag);
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(id >> (8 * i)));
  return s;
}

std::string SerializeTable(const TableDescription& t) {
  json::Value v = json::Value::Object();
  v.Set("name", json::Value::String(t.spec.name));
  v.Set("id", json::Value::Number(t.id));
  v.Set("created_ms", json::Value::Number(static_cast<int64_t>(t.created_ms)));
  v.Set("hash_name", json::Value::String(t.spec.key.hash.name));
  v.Set("hash_type", json::Value::String(
                         std::string(AttributeTypeName(t.spec.key.hash.type))));
  if (t.spec.key.range) {
    v.Set("range_name", json::Value::String(t.spec.key.range->name));
    v.Set("range_type", json::Value::String(std::string(
                            AttributeTypeName(t.spec.key.range->type))));
  }
  v.Set("billing_mode", json::Value::String(t.spec.billing_mode));
  v.Set("read_capacity",
        json::Value::Number(static_cast<int64_t>(t.spec.read_capacity)));
  v.Set("write_capacity",
        json::Value::Number(static_cast<int64_t>(t.spec.write_capacity)));
  return json::Serialize(v);
}

Result<TableDescription> ParseTable(std::string_view text) {
  ASSIGN_OR_RETURN(json::Value v, json::Parse(text));
  auto str = [&](std::string_view k) -> std::string {
    const json::Value* m = v.Find(k);
    return m ? m->text() : std::string();
  };
  auto num = [&](std::string_view k) -> int64_t {
    const json::Value* m = v.Find(k);
    return m && m->AsInt64() ? *m->AsInt64() : 0;
  };
  TableDescription t;
  t.spec.name = str("name");
  t.id = static_cast<uint64_t>(num("id"));
  t.created_ms = num("created_ms");
  t.spec.key.hash.name = str("hash_name");
  if (!AttributeTypeFromName(str("hash_type"), &t.spec.key.hash.type)) {
    return DataLoss("corrupt table metadata: " + t.spec.name);
  }
  if (v.Find("range_name")) {
    KeyElement r;
    r.name = str("range_name");
    if (!AttributeTypeFromName(str("range_type"), &r.type)) {
      return DataLoss("corrupt table metadata: " + t.spec.name);
    }
    t.spec.key.range = r;
  }
  t.spec.billing_mode = str("billing_mode");
  t.spec.read_capacity = num("read_capacity");
  t.spec.write_capacity = num("write_capacity");
  return t;
}

Status CheckKeyValue(const KeyElement& element, const AttributeValue* v,
                     bool is_hash, bool from_full_item) {
  if (v == nullptr) {
    if (from_full_item) {
      return InvalidArgument(
          "One or more parameter values were invalid: Missing the key " +
          element.name + " in the item");
    }
    return InvalidArgument(
        "The provided key element does not match the schema");
  }
  if (v->type() != element.type) {
    if (from_full_item) {
      return InvalidArgument(
          "One or more parameter values were invalid: Type mismatch for key " +
          element.name +
          " expected: " + std::string(AttributeTypeName(element.type)) +
          " actual: " + std::string(AttributeTypeName(v->type())));
    }
    return InvalidArgument(
        "The provided key element does not match the schema");
  }
  if ((v->is(AttributeType::kS) || v->is(AttributeType::kB)) &&
      v->bytes().empty()) {
    return InvalidArgument(
        "One or more parameter values are not valid. The AttributeValue for a "
        "key attribute "
        "cannot contain an empty " +
        std::string(v->is(AttributeType::kS) ? "string" : "binary") +
        " value. Key: " + element.name);
  }
  size_t size = v->ByteSize();
  if (is_hash && size > 2048) {
    return InvalidArgument(
        "One or more parameter values were invalid: Size of hashkey has "
        "exceeded the maximum "
        "size limit of2048 bytes");
  }
  if (!is_hash && size > 1024) {
    return InvalidArgument(
        "One or more parameter values were invalid: Aggregated size of all "
        "range keys has "
        "exceeded the size limit of 1024 bytes");
  }
  return Status::Ok();
}

// The partition bucket: the first 4 bytes of an item key after the table
// prefix, so that a Scan visits partitions in hash order and Segment /
// TotalSegments split the table into hash ranges, as DynamoDB does.
uint32_t Bucket(std::string_view encoded_hash) {
  return crc32c::Value(encoded_hash);
}

Item KeyOf(const TableDescription& t, const Item& item) {
  Item key;
  auto h = item.find(t.spec.key.hash.name);
  if (h != item.end()) key.emplace(h->first, h->second);
  if (t.spec.key.range) {
    auto r = item.find(t.spec.key.range->name);
    if (r != item.end()) key.emplace(r->first, r->second);
  }
  return key;
}

// The attributes of `item` named in `touched`: UPDATED_OLD and UPDATED_NEW
// return the top-level attributes the update expression names.
std::optional<Item> TouchedAttributes(const std::optional<Item>& item,
                                      const std::set<std::string>& touched) {
  if (!item) return std::nullopt;
  Item out;
  for (const std::string& name : touched) {
    auto it = item->find(name);
    if (it != item->end()) out.emplace(it->first, it->second);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<Item> Returned(ReturnValues rv,
                             const std::optional<Item>& old_item,
                             const std::optional<Item>& new_item,
                             const std::set<std::string>& touched) {
  switch (rv) {
    case ReturnValues::kNone:
      return std::nullopt;
    case ReturnValues::kAllOld:
      return old_item;
    case ReturnValues::kAllNew:
      return new_item;
    case ReturnValues::kUpdatedOld:
      return TouchedAttributes(old_item, touched);
    case ReturnValues::kUpdatedNew:
      return TouchedAttributes(new_item, touched);
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> EncodeItemKey(const TableDescription& t, const Item& key,
                                  bool from_full_item) {
  const KeySchema& schema = t.spec.key;
  if (!from_full_item) {
    size_t expected = schema.range ? 2 : 1;
    if (key.size() != expected) {
      return InvalidArgument(
          "The provided key element does not match the schema");
    }
  }
  auto find = [&](const std::string& name) -> const AttributeValue* {
    auto it = key.find(name);
    return it == key.end() ? nullptr : &it->second;
  };
  const AttributeValue* h = find(schema.hash.name);
  RETURN_IF_ERROR(CheckKeyValue(schema.hash, h, true, from_full_item));
  const AttributeValue* r = nullptr;
  if (schema.range) {
    r = find(schema.range->name);
    RETURN_IF_ERROR(CheckKeyValue(*schema.range, r, false, from_full_item));
  }
  std::string encoded_hash;
  EncodeKeyValue(*h, &encoded_hash);
  std::string out = TablePrefix(t.id);
  bytes::PutBigEndian32(&out, Bucket(encoded_hash));
  out += encoded_hash;
  if (r) EncodeKeyValue(*r, &out);
  return out;
}

Service::Service(kv::Store& store)
    : store_(store), locks_(std::make_unique<KeyLocks>()) {}
Service::~Service() = default;

Result<TableDescription> Service::LoadTable(const std::string& name) {
  auto raw = store_.Get(kv::Family::kMetadata, TableKey(name));
  if (raw.status().code() == StatusCode::kNotFound) {
    return NotFound("Requested resource not found");
  }
  if (!raw.ok()) return raw.status();
  return ParseTable(*raw);
}

Result<TableDescription> Service::CreateTable(const TableSpec& spec) {
  std::lock_guard lock(catalog_mu_);
  if (store_.Get(kv::Family::kMetadata, TableKey(spec.name)).ok()) {
    return AlreadyExists("Table already exists: " + spec.name);
  }
  uint64_t id = 1;
  if (auto next = store_.Get(kv::Family::kMetadata, kNextIdKey); next.ok()) {
    auto [end, ec] =
        std::from_chars(next->data(), next->data() + next->size(), id);
    if (ec != std::errc() || end != next->data() + next->size()) {
      return DataLoss("corrupt table id counter");
    }
  }
  TableDescription t;
  t.spec = spec;
  t.id = id;
  t.created_ms = NowMillis();
  kv::WriteBatch batch;
  batch.Put(kv::Family::kMetadata, TableKey(spec.name), SerializeTable(t));
  batch.Put(kv::Family::kMetadata, kNextIdKey, std::to_string(id + 1));
  RETURN_IF_ERROR(store_.WriteSync(std::move(batch)));
  return t;
}

Result<TableDescription> Service::DescribeTable(const std::string& name) {
  auto t = LoadTable(name);
  if (t.status().code() == StatusCode::kNotFound) {
    return NotFound("Requested resource not found: Table: " + name +
                    " not found");
  }
  return t;
}

Result<std::vector<std::string>> Service::ListTables(
    const std::string& exclusive_start, int limit,
    std::optional<std::string>* last) {
  auto it = store_.NewIterator(kv::Family::kMetadata,
                               kv::ReadOptions::Prefix(kTablePrefix));
  std::vector<std::string> names;
  last->reset();
  for (it->Seek(TableKey(exclusive_start)); it->Valid(); it->Next()) {
    std::string name(it->key().substr(kTablePrefix.size()));
    if (!exclusive_start.empty() && name == exclusive_start) continue;
    if (static_cast<int>(names.size()) == limit) {
      *last = names.back();
      break;
    }
    names.push_back(std::move(name));
  }
  RETURN_IF_ERROR(it->status());
  return names;
}

Result<TableDescription> Service::DeleteTable(const std::string& name) {
  std::lock_guard lock(catalog_mu_);
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(name));
  kv::WriteBatch batch;
  batch.Delete(kv::Family::kMetadata, TableKey(name));
  // Items go with one range tombstone; ids are never reused, so a new
  // table of the same name starts empty.
  std::string prefix = TablePrefix(t.id);
  batch.DeleteRange(kv::Family::kTables, prefix, kv::PrefixSuccessor(prefix));
  RETURN_IF_ERROR(store_.WriteSync(std::move(batch)));
  t.status = "DELETING";
  return t;
}

void Service::WriteItem(
    const std::string& table, Item key, ConditionalWrite options,
    std::set<std::string> touched,
    std::function<Result<std::optional<Item>>(const std::optional<Item>& old)>
        compute_new,
    WriteCallback done) {
  auto t = LoadTable(table);
  if (!t.ok()) return done(t.status());
  auto storage_key = EncodeItemKey(*t, key, /*from_full_item=*/false);
  if (!storage_key.ok()) return done(storage_key.status());
  std::string k = *storage_key;
  locks_->Acquire(k, [this, k, options = std::move(options),
                      touched = std::move(touched),
                      compute_new = std::move(compute_new),
                      done = std::move(done)]() mutable {
    auto finish = [this, k, &done](Result<WriteResult> r) {
      locks_->Release(k);
      done(std::move(r));
    };
    std::optional<Item> old_item;
    auto raw = store_.Get(kv::Family::kTables, k);
    if (raw.ok()) {
      auto decoded = DecodeItem(*raw);
      if (!decoded.ok()) return finish(decoded.status());
      old_item = std::move(decoded).value();
    } else if (raw.status().code() != StatusCode::kNotFound) {
      return finish(raw.status());
    }
    if (options.condition &&
        !EvaluateCondition(*options.condition, old_item.value_or(Item()))) {
      // The adapter returns the old item with the exception when asked
      // (ReturnValuesOnConditionCheckFailure); it re-reads it, so only the
      // status travels here.
      return finish(Aborted("The conditional request failed"));
    }
    auto new_item = compute_new(old_item);
    if (!new_item.ok()) return finish(new_item.status());
    kv::WriteBatch batch;
    if (*new_item) {
      if (ItemSize(**new_item) > kMaxItemBytes) {
        return finish(
            InvalidArgument("Item size has exceeded the maximum allowed size"));
      }
      std::string encoded;
      EncodeItem(**new_item, &encoded);
      batch.Put(kv::Family::kTables, k, encoded);
    } else {
      batch.Delete(kv::Family::kTables, k);
    }
    WriteResult result;
    result.attributes =
        Returned(options.return_values, old_item, *new_item, touched);
    // The lock is held until the write is durable and visible, then passed
    // to the next writer of this item.
    store_.Write(std::move(batch), [this, k, result = std::move(result),
                                    done = std::move(done)](Status s) mutable {
      locks_->Release(k);
      if (!s.ok()) return done(s);
      done(std::move(result));
    });
  });
}

void Service::PutItem(const std::string& table, Item item,
                      ConditionalWrite options, WriteCallback done) {
  auto t = LoadTable(table);
  if (!t.ok()) return done(t.status());
  auto check = EncodeItemKey(*t, item, /*from_full_item=*/true);
  if (!check.ok()) return done(check.status());
  if (ItemSize(item) > kMaxItemBytes) {
    return done(
        InvalidArgument("Item size has exceeded the maximum allowed size"));
  }
  if (options.return_values != ReturnValues::kNone &&
      options.return_values != ReturnValues::kAllOld) {
    return done(InvalidArgument("Return values set to invalid value"));
  }
  Item key = KeyOf(*t, item);
  WriteItem(
      table, std::move(key), std::move(options), {},
      [item = std::move(item)](const std::optional<Item>&)
          -> Result<std::optional<Item>> { return std::optional<Item>(item); },
      std::move(done));
}

void Service::DeleteItem(const std::string& table, Item key,
                         ConditionalWrite options, WriteCallback done) {
  if (options.return_values != ReturnValues::kNone &&
      options.return_values != ReturnValues::kAllOld) {
    return done(InvalidArgument("Return values set to invalid value"));
  }
  WriteItem(
      table, std::move(key), std::move(options), {},
      [](const std::optional<Item>&) -> Result<std::optional<Item>> {
        return std::optional<Item>();
      },
      std::move(done));
}

void Service::UpdateItem(const std::string& table, Item key,
                         UpdateExpression update, ConditionalWrite options,
                         WriteCallback done) {
  auto t = LoadTable(table);
  if (!t.ok()) return done(t.status());
  for (const UpdateAction& a : update.actions) {
    const std::string& top = a.path[0].name;
    if (top == t->spec.key.hash.name ||
        (t->spec.key.range && top == t->spec.key.range->name)) {
      return done(InvalidArgument(
          "One or more parameter values were invalid: Cannot update "
          "attribute " +
          top + ". This attribute is part of the key"));
    }
  }
  std::set<std::string> touched;
  for (const UpdateAction& a : update.actions) touched.insert(a.path[0].name);
  WriteItem(
      table, key, std::move(options), std::move(touched),
      [key, update = std::move(update)](
          const std::optional<Item>& old) -> Result<std::optional<Item>> {
        // An update of a missing item creates it from its key.
        Item item = old.value_or(key);
        RETURN_IF_ERROR(ApplyUpdate(update, &item));
        return std::optional<Item>(std::move(item));
      },
      std::move(done));
}

Result<std::optional<Item>> Service::GetItem(
    const std::string& table, const Item& key,
    const std::optional<std::vector<DocumentPath>>& projection) {
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(table));
  ASSIGN_OR_RETURN(std::string k,
                   EncodeItemKey(t, key, /*from_full_item=*/false));
  auto raw = store_.Get(kv::Family::kTables, k);
  if (raw.status().code() == StatusCode::kNotFound)
    return std::optional<Item>();
  if (!raw.ok()) return raw.status();
  ASSIGN_OR_RETURN(Item item, DecodeItem(*raw));
  if (projection) item = Project(item, *projection);
  return std::optional<Item>(std::move(item));
}

namespace {

// Scans [lower, upper) of the tables family, forwards or backwards,
// starting after `start_after` when given, applying filter, projection,
// limit and the 1 MB page rule. `key_of` rebuilds LastEvaluatedKey.
Result<ReadResult> RunScan(
    kv::Store& store, const TableDescription& t, std::string lower,
    std::string upper, bool forward,
    const std::optional<std::string>& start_after,
    const std::optional<Condition>& filter,
    const std::optional<std::vector<DocumentPath>>& projection,
    std::optional<int64_t> limit) {
  kv::ReadOptions ro;
  ro.lower_bound = std::move(lower);
  ro.upper_bound = std::move(upper);
  auto it = store.NewIterator(kv::Family::kTables, ro);
  if (start_after) {
    if (forward) {
      it->Seek(*start_after);
      if (it->Valid() && it->key() == *start_after) it->Next();
    } else {
      it->SeekForPrev(*start_after);
      if (it->Valid() && it->key() == *start_after) it->Prev();
    }
  } else if (forward) {
    it->SeekToFirst();
  } else {
    it->SeekToLast();
  }
  ReadResult result;
  size_t bytes = 0;
  Item last_item;
  bool stopped = false;
  for (; it->Valid(); forward ? it->Next() : it->Prev()) {
    if ((limit && result.scanned_count >= *limit) ||
        bytes >= Service::kPageBytes) {
      stopped = true;
      break;
    }
    ASSIGN_OR_RETURN(Item item, DecodeItem(it->value()));
    bytes += ItemSize(item);
    ++result.scanned_count;
    last_item = KeyOf(t, item);
    if (filter && !EvaluateCondition(*filter, item)) continue;
    result.items.push_back(projection ? Project(item, *projection)
                                      : std::move(item));
  }
  RETURN_IF_ERROR(it->status());
  if (stopped) result.last_evaluated_key = std::move(last_item);
  return result;
}

}  // namespace

Result<ReadResult> Service::Query(const QueryRequest& request) {
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(request.table));
  const KeySchema& schema = t.spec.key;
  const KeyCondition* hash = nullptr;
  const KeyCondition* range = nullptr;
  for (const KeyCondition& c : request.key_conditions) {
    if (c.attribute == schema.hash.name) {
      hash = &c;
    } else if (schema.range && c.attribute == schema.range->name) {
      range = &c;
    } else {
      return InvalidArgument(
          "Query condition missed key schema element: " +
          (hash || !schema.range ? schema.hash.name : schema.range->name));
    }
  }
  if (hash == nullptr) {
    return InvalidArgument("Query condition missed key schema element: " +
                           schema.hash.name);
  }
  if (hash->op != KeyCondition::Op::kEq) {
    return InvalidArgument("Query key condition not supported");
  }
  for (const KeyCondition* c : {hash, range}) {
    if (c == nullptr) continue;
    const KeyElement& e = c == hash ? schema.hash : *schema.range;
    for (const AttributeValue& v : c->values) {
      if (v.type() != e.type) {
        return InvalidArgument(
            "One or more parameter values were invalid: Condition parameter "
            "type does not "
            "match schema type");
      }
    }
    if (c->op == KeyCondition::Op::kBeginsWith && e.type == AttributeType::kN) {
      return InvalidArgument(
          "Invalid KeyConditionExpression: Incorrect operand type for operator "
          "or function; "
          "operator or function: begins_with, operand type: N");
    }
  }
  // The partition: every item key of it starts with this prefix.
  std::string encoded_hash;
  EncodeKeyValue(hash->values[0], &encoded_hash);
  std::string prefix = TablePrefix(t.id);
  bytes::PutBigEndian32(&prefix, Bucket(encoded_hash));
  prefix += encoded_hash;
  std::string lower = prefix;
  std::string upper = kv::PrefixSuccessor(prefix);
  if (range) {
    // Sort key conditions become bounds of the range scan: the encoding is
    // order-preserving, so "> v" starts after every key with prefix
    // enc(v) and "< v" ends at enc(v).
    auto enc = [&](const AttributeValue& v) {
      std::string s = prefix;
      EncodeKeyValue(v, &s);
      return s;
    };
    switch (range->op) {
      case KeyCondition::Op::kEq:
        lower = enc(range->values[0]);
        upper = kv::PrefixSuccessor(lower);
        break;
      case KeyCondition::Op::kLt:
        upper = enc(range->values[0]);
        break;
      case KeyCondition::Op::kLe:
        upper = kv::PrefixSuccessor(enc(range->values[0]));
        break;
      case KeyCondition::Op::kGt:
        lower = kv::PrefixSuccessor(enc(range->values[0]));
        break;
      case KeyCondition::Op::kGe:
        lower = enc(range->values[0]);
        break;
      case KeyCondition::Op::kBetween:
        // Reversed bounds were refused by the parser; an empty range is
        // left to the check below.
        lower = enc(range->values[0]);
        upper = kv::PrefixSuccessor(enc(range->values[1]));
        break;
      case KeyCondition::Op::kBeginsWith: {
        // Strings and binaries: the escaped bytes of the prefix, without
        // the terminator, prefix every longer value.
        std::string p = enc(range->values[0]);
        p.resize(p.size() - 2);
        lower = p;
        upper = kv::PrefixSuccessor(p);
        break;
      }
    }
    if (lower >= upper) return ReadResult();
  }
  std::optional<std::string> start_after;
  if (request.exclusive_start_key) {
    ASSIGN_OR_RETURN(std::string k,
                     EncodeItemKey(t, *request.exclusive_start_key,
                                   /*from_full_item=*/false));
    start_after = std::move(k);
  }
  return RunScan(store_, t, lower, upper, request.forward, start_after,
                 request.filter, request.projection, request.limit);
}

Result<ReadResult> Service::Scan(const ScanRequest& request) {
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(request.table));
  std::string prefix = TablePrefix(t.id);
  std::string lower = prefix;
  std::string upper = kv::PrefixSuccessor(prefix);
  if (request.total_segments > 1) {
    // Segment i covers buckets [i * 2^32 / n, (i + 1) * 2^32 / n).
    uint64_t n = static_cast<uint64_t>(request.total_segments);
    uint64_t i = static_cast<uint64_t>(request.segment);
    uint64_t from = (i << 32) / n;
    uint64_t to = ((i + 1) << 32) / n;
    lower = prefix;
    bytes::PutBigEndian32(&lower, static_cast<uint32_t>(from));
    if (to <= UINT32_MAX) {
      upper = prefix;
      bytes::PutBigEndian32(&upper, static_cast<uint32_t>(to));
    }
  }
  std::optional<std::string> start_after;
  if (request.exclusive_start_key) {
    ASSIGN_OR_RETURN(std::string k,
                     EncodeItemKey(t, *request.exclusive_start_key,
                                   /*from_full_item=*/false));
    start_after = std::move(k);
  }
  return RunScan(store_, t, lower, upper, /*forward=*/true, start_after,
                 request.filter, request.projection, request.limit);
}

}  // namespace riffle::tables
