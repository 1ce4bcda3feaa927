#include "tables/service.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <future>
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

  // Acquires every key of `keys` (sorted, unique) in order, then runs
  // `work`. Ordered acquisition keeps two multi-key holders from
  // deadlocking.
  void AcquireAll(std::shared_ptr<const std::vector<std::string>> keys,
                  size_t from, Work work) {
    if (from == keys->size()) return work();
    const std::string& key = (*keys)[from];
    Acquire(key, [this, keys, from, work = std::move(work)]() mutable {
      AcquireAll(keys, from + 1, std::move(work));
    });
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
    RunIteratively(std::move(next));  // the key stays held, now by `next`
  }

 private:
  // Runs `work`, unless this thread is already inside a RunIteratively
  // further up its stack: then it queues `work` for that outer call. A
  // waiter that fails at once releases the key from inside Release, and a
  // long queue of such waiters must not become a deep recursion.
  static void RunIteratively(Work work) {
    thread_local std::deque<Work>* pending = nullptr;
    if (pending != nullptr) {
      pending->push_back(std::move(work));
      return;
    }
    std::deque<Work> queue;
    queue.push_back(std::move(work));
    pending = &queue;
    struct Reset {
      ~Reset() { pending = nullptr; }
    } reset;
    while (!queue.empty()) {
      Work next = std::move(queue.front());
      queue.pop_front();
      next();
    }
  }

  std::mutex mu_;
  // Held keys and the work waiting for each.
  std::unordered_map<std::string, std::deque<Work>> held_;
};

// The parsed catalogue, so that item operations do not parse table
// metadata per call. Thread-safe. A generation counter keeps a reader that
// loaded from the store before a change from caching the stale copy.
struct Service::Catalog {
  std::mutex mu;
  uint64_t generation = 0;
  std::unordered_map<std::string, std::shared_ptr<const TableDescription>>
      tables;
};

namespace {

constexpr std::string_view kTablePrefix = "table/";
constexpr std::string_view kNextIdKey = "tables/next_id";
constexpr char kItemTag = 'i';
constexpr char kIndexTag = 'x';
// 1 tag byte + 8 id bytes + 4 bucket bytes.
constexpr size_t kPrefixBytes = 13;

std::string TableKey(std::string_view name) {
  return std::string(kTablePrefix) + std::string(name);
}

// tag + id (8 bytes big-endian): every item (or index entry) shares it.
std::string IdPrefix(char tag, uint64_t id) {
  std::string s(1, tag);
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>(id >> (8 * i)));
  return s;
}
std::string TablePrefix(uint64_t id) { return IdPrefix(kItemTag, id); }
std::string IndexPrefix(uint64_t id) { return IdPrefix(kIndexTag, id); }

json::Value KeySchemaJson(const KeySchema& k) {
  json::Value v = json::Value::Object();
  v.Set("hash_name", json::Value::String(k.hash.name));
  v.Set("hash_type",
        json::Value::String(std::string(AttributeTypeName(k.hash.type))));
  if (k.range) {
    v.Set("range_name", json::Value::String(k.range->name));
    v.Set("range_type",
          json::Value::String(std::string(AttributeTypeName(k.range->type))));
  }
  return v;
}

std::string Str(const json::Value& v, std::string_view k) {
  const json::Value* m = v.Find(k);
  return m ? m->text() : std::string();
}
int64_t Num(const json::Value& v, std::string_view k) {
  const json::Value* m = v.Find(k);
  return m && m->AsInt64() ? *m->AsInt64() : 0;
}
bool Flag(const json::Value& v, std::string_view k) {
  const json::Value* m = v.Find(k);
  return m && m->is_bool() && m->bool_value();
}

Status ParseKeySchema(const json::Value& v, KeySchema* k) {
  k->hash.name = Str(v, "hash_name");
  if (!AttributeTypeFromName(Str(v, "hash_type"), &k->hash.type)) {
    return DataLoss("corrupt table metadata");
  }
  if (v.Find("range_name")) {
    KeyElement r;
    r.name = Str(v, "range_name");
    if (!AttributeTypeFromName(Str(v, "range_type"), &r.type)) {
      return DataLoss("corrupt table metadata");
    }
    k->range = r;
  }
  return Status::Ok();
}

std::string SerializeTable(const TableDescription& t) {
  json::Value v = KeySchemaJson(t.spec.key);
  v.Set("name", json::Value::String(t.spec.name));
  v.Set("id", json::Value::Number(t.id));
  v.Set("created_ms", json::Value::Number(static_cast<int64_t>(t.created_ms)));
  v.Set("billing_mode", json::Value::String(t.spec.billing_mode));
  v.Set("billing_changed_ms",
        json::Value::Number(static_cast<int64_t>(t.billing_changed_ms)));
  v.Set("read_capacity",
        json::Value::Number(static_cast<int64_t>(t.spec.read_capacity)));
  v.Set("write_capacity",
        json::Value::Number(static_cast<int64_t>(t.spec.write_capacity)));
  json::Value attrs = json::Value::Array();
  for (const KeyElement& a : t.spec.attributes) {
    json::Value e = json::Value::Object();
    e.Set("name", json::Value::String(a.name));
    e.Set("type", json::Value::String(std::string(AttributeTypeName(a.type))));
    attrs.Push(std::move(e));
  }
  v.Set("attributes", std::move(attrs));
  json::Value indexes = json::Value::Array();
  for (const IndexSpec& i : t.spec.indexes) {
    json::Value e = KeySchemaJson(i.key);
    e.Set("name", json::Value::String(i.name));
    e.Set("id", json::Value::Number(i.id));
    e.Set("local", json::Value::Bool(i.local));
    e.Set("projection",
          json::Value::String(std::string(ProjectionTypeName(i.projection))));
    json::Value nk = json::Value::Array();
    for (const std::string& n : i.non_key_attributes)
      nk.Push(json::Value::String(n));
    e.Set("non_key_attributes", std::move(nk));
    e.Set("read_capacity",
          json::Value::Number(static_cast<int64_t>(i.read_capacity)));
    e.Set("write_capacity",
          json::Value::Number(static_cast<int64_t>(i.write_capacity)));
    indexes.Push(std::move(e));
  }
  v.Set("indexes", std::move(indexes));
  v.Set("stream_enabled", json::Value::Bool(t.spec.stream_enabled));
  v.Set("stream_view_type", json::Value::String(t.spec.stream_view_type));
  json::Value tags = json::Value::Object();
  for (const auto& [k, val] : t.spec.tags)
    tags.Set(k, json::Value::String(val));
  v.Set("tags", std::move(tags));
  v.Set("table_class", json::Value::String(t.spec.table_class));
  v.Set("deletion_protection", json::Value::Bool(t.spec.deletion_protection));
  v.Set("ttl_enabled", json::Value::Bool(t.ttl.enabled));
  v.Set("ttl_attribute", json::Value::String(t.ttl.attribute));
  return json::Serialize(v);
}

Result<TableDescription> ParseTable(std::string_view text) {
  ASSIGN_OR_RETURN(json::Value v, json::Parse(text));
  TableDescription t;
  t.spec.name = Str(v, "name");
  t.id = static_cast<uint64_t>(Num(v, "id"));
  t.created_ms = Num(v, "created_ms");
  t.billing_changed_ms = Num(v, "billing_changed_ms");
  RETURN_IF_ERROR(ParseKeySchema(v, &t.spec.key));
  t.spec.billing_mode = Str(v, "billing_mode");
  t.spec.read_capacity = Num(v, "read_capacity");
  t.spec.write_capacity = Num(v, "write_capacity");
  if (const json::Value* attrs = v.Find("attributes")) {
    for (const json::Value& a : attrs->items()) {
      KeyElement e;
      e.name = Str(a, "name");
      if (!AttributeTypeFromName(Str(a, "type"), &e.type))
        return DataLoss("corrupt table metadata: " + t.spec.name);
      t.spec.attributes.push_back(std::move(e));
    }
  }
  if (const json::Value* indexes = v.Find("indexes")) {
    for (const json::Value& e : indexes->items()) {
      IndexSpec i;
      i.name = Str(e, "name");
      i.id = static_cast<uint64_t>(Num(e, "id"));
      i.local = Flag(e, "local");
      RETURN_IF_ERROR(ParseKeySchema(e, &i.key));
      std::string p = Str(e, "projection");
      i.projection = p == "KEYS_ONLY" ? ProjectionType::kKeysOnly
                     : p == "INCLUDE" ? ProjectionType::kInclude
                                      : ProjectionType::kAll;
      if (const json::Value* nk = e.Find("non_key_attributes")) {
        for (const json::Value& n : nk->items())
          i.non_key_attributes.push_back(n.text());
      }
      i.read_capacity = Num(e, "read_capacity");
      i.write_capacity = Num(e, "write_capacity");
      t.spec.indexes.push_back(std::move(i));
    }
  }
  t.spec.stream_enabled = Flag(v, "stream_enabled");
  t.spec.stream_view_type = Str(v, "stream_view_type");
  if (const json::Value* tags = v.Find("tags")) {
    for (const auto& [k, val] : tags->members()) t.spec.tags[k] = val.text();
  }
  t.spec.table_class = Str(v, "table_class");
  t.spec.deletion_protection = Flag(v, "deletion_protection");
  t.ttl.enabled = Flag(v, "ttl_enabled");
  t.ttl.attribute = Str(v, "ttl_attribute");
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

Item KeyOf(const KeySchema& schema, const Item& item) {
  Item key;
  auto h = item.find(schema.hash.name);
  if (h != item.end()) key.emplace(h->first, h->second);
  if (schema.range) {
    auto r = item.find(schema.range->name);
    if (r != item.end()) key.emplace(r->first, r->second);
  }
  return key;
}

// The key attributes of `item` for LastEvaluatedKey: the table's, plus the
// index's when reading an index.
Item KeyOf(const TableDescription& t, const IndexSpec* index,
           const Item& item) {
  Item key = KeyOf(t.spec.key, item);
  if (index) {
    Item ik = KeyOf(index->key, item);
    key.insert(ik.begin(), ik.end());
  }
  return key;
}

// The parts of `item` at the paths the update expression names: UPDATED_OLD
// and UPDATED_NEW return only those, so `SET m.b = :v` returns {m: {b}} and
// not the whole map m (DynamoDB returns the updated fragment).
std::optional<Item> TouchedAttributes(
    const std::optional<Item>& item, const std::vector<DocumentPath>& touched) {
  if (!item) return std::nullopt;
  Item out = Project(*item, touched);
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<Item> Returned(ReturnValues rv,
                             const std::optional<Item>& old_item,
                             const std::optional<Item>& new_item,
                             const std::vector<DocumentPath>& touched) {
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

// The index entry key of `item`, or nullopt when the item lacks one of
// the index's key attributes (indexes are sparse) or has one of another
// type (refused before writing; see CheckIndexKeys).
std::optional<std::string> IndexEntryKey(const TableDescription& t,
                                         const IndexSpec& index,
                                         const Item& item) {
  auto h = item.find(index.key.hash.name);
  if (h == item.end() || h->second.type() != index.key.hash.type)
    return std::nullopt;
  const AttributeValue* r = nullptr;
  if (index.key.range) {
    auto it = item.find(index.key.range->name);
    if (it == item.end() || it->second.type() != index.key.range->type)
      return std::nullopt;
    r = &it->second;
  }
  std::string encoded_hash;
  EncodeKeyValue(h->second, &encoded_hash);
  std::string out = IndexPrefix(index.id);
  bytes::PutBigEndian32(&out, Bucket(encoded_hash));
  out += encoded_hash;
  if (r) EncodeKeyValue(*r, &out);
  // The table's key makes the entry unique.
  auto th = item.find(t.spec.key.hash.name);
  if (th == item.end()) return std::nullopt;
  EncodeKeyValue(th->second, &out);
  if (t.spec.key.range) {
    auto tr = item.find(t.spec.key.range->name);
    if (tr == item.end()) return std::nullopt;
    EncodeKeyValue(tr->second, &out);
  }
  return out;
}

// DynamoDB refuses an item whose index key attribute has the wrong type or
// is empty.
Status CheckIndexKeys(const TableDescription& t, const Item& item) {
  for (const IndexSpec& index : t.spec.indexes) {
    for (const KeyElement* e :
         {&index.key.hash, index.key.range ? &*index.key.range : nullptr}) {
      if (e == nullptr) continue;
      auto it = item.find(e->name);
      if (it == item.end()) continue;
      if (it->second.type() != e->type) {
        return InvalidArgument(
            "One or more parameter values were invalid: Type mismatch for "
            "Index Key " +
            e->name + " Expected: " + std::string(AttributeTypeName(e->type)) +
            " Actual: " + std::string(AttributeTypeName(it->second.type())) +
            " IndexName: " + index.name);
      }
      if ((e->type == AttributeType::kS || e->type == AttributeType::kB) &&
          it->second.bytes().empty()) {
        return InvalidArgument(
            "One or more parameter values are not valid. A value specified "
            "for a secondary index key is not supported. The AttributeValue "
            "for a key attribute cannot contain an empty " +
            std::string(e->type == AttributeType::kS ? "string" : "binary") +
            " value. IndexName: " + index.name + ", IndexKey: " + e->name);
      }
    }
  }
  return Status::Ok();
}

// Adds to `batch` the write of the item stored at `k` changing from `old`
// to `now` (either may be absent), with its index entries, and counts the
// capacity it consumes.
Status PrepareWrite(const TableDescription& t, const std::string& k,
                    const std::optional<Item>& old,
                    const std::optional<Item>& now, kv::WriteBatch* batch,
                    Capacity* capacity) {
  size_t old_size = old ? ItemSize(*old) : 0;
  size_t new_size = now ? ItemSize(*now) : 0;
  if (now) {
    if (new_size > kMaxItemBytes) {
      return InvalidArgument("Item size has exceeded the maximum allowed size");
    }
    RETURN_IF_ERROR(CheckIndexKeys(t, *now));
    std::string encoded;
    EncodeItem(*now, &encoded);
    batch->Put(kv::Family::kTables, k, encoded);
  } else if (old) {
    batch->Delete(kv::Family::kTables, k);
  }
  capacity->table += WriteUnits(std::max(old_size, new_size));
  for (const IndexSpec& index : t.spec.indexes) {
    std::optional<std::string> old_key, new_key;
    if (old) old_key = IndexEntryKey(t, index, *old);
    if (now) new_key = IndexEntryKey(t, index, *now);
    double units = 0;
    if (old_key && old_key != new_key) {
      batch->Delete(kv::Family::kTables, *old_key);
      units += WriteUnits(ItemSize(ProjectForIndex(t, index, *old)));
    }
    if (new_key) {
      Item projected = ProjectForIndex(t, index, *now);
      std::string encoded;
      EncodeItem(projected, &encoded);
      batch->Put(kv::Family::kTables, *new_key, encoded);
      units += WriteUnits(ItemSize(projected));
    }
    if (units > 0) capacity->indexes[index.name] += units;
  }
  return Status::Ok();
}

}  // namespace

std::string_view ProjectionTypeName(ProjectionType type) {
  switch (type) {
    case ProjectionType::kAll:
      return "ALL";
    case ProjectionType::kKeysOnly:
      return "KEYS_ONLY";
    case ProjectionType::kInclude:
      return "INCLUDE";
  }
  return "ALL";
}

const IndexSpec* TableDescription::FindIndex(std::string_view name) const {
  for (const IndexSpec& i : spec.indexes) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

double WriteUnits(size_t bytes) {
  return std::max<double>(1, std::ceil(static_cast<double>(bytes) / 1024.0));
}

double ReadUnits(size_t bytes, bool consistent) {
  double units =
      std::max<double>(1, std::ceil(static_cast<double>(bytes) / 4096.0));
  return consistent ? units : units / 2;
}

Item ProjectForIndex(const TableDescription& t, const IndexSpec& index,
                     const Item& item) {
  if (index.projection == ProjectionType::kAll) return item;
  Item out = KeyOf(t.spec.key, item);
  Item ik = KeyOf(index.key, item);
  out.insert(ik.begin(), ik.end());
  if (index.projection == ProjectionType::kInclude) {
    for (const std::string& name : index.non_key_attributes) {
      auto it = item.find(name);
      if (it != item.end()) out.insert(*it);
    }
  }
  return out;
}

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

Status CheckItemForPut(const TableDescription& t, const Item& item) {
  if (ItemSize(item) > kMaxItemBytes) {
    return InvalidArgument("Item size has exceeded the maximum allowed size");
  }
  return CheckIndexKeys(t, item);
}

Service::Service(kv::Store& store)
    : store_(store),
      catalog_(std::make_unique<Catalog>()),
      locks_(std::make_unique<KeyLocks>()) {}
Service::~Service() = default;

Result<TableDescription> Service::LoadTable(const std::string& name) {
  auto raw = store_.Get(kv::Family::kMetadata, TableKey(name));
  if (raw.status().code() == StatusCode::kNotFound) {
    return NotFound("Requested resource not found");
  }
  if (!raw.ok()) return raw.status();
  return ParseTable(*raw);
}

Result<std::shared_ptr<const TableDescription>> Service::Table(
    const std::string& name) {
  uint64_t generation;
  {
    std::lock_guard lock(catalog_->mu);
    auto it = catalog_->tables.find(name);
    if (it != catalog_->tables.end()) return it->second;
    generation = catalog_->generation;
  }
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(name));
  auto shared = std::make_shared<const TableDescription>(std::move(t));
  std::lock_guard lock(catalog_->mu);
  if (catalog_->generation == generation) catalog_->tables[name] = shared;
  return shared;
}

// Writes `t` (with `batch`) durably and refreshes the cache. Callers hold
// catalog_mu_.
Status Service::StoreTable(const TableDescription& t, kv::WriteBatch batch) {
  batch.Put(kv::Family::kMetadata, TableKey(t.spec.name), SerializeTable(t));
  RETURN_IF_ERROR(store_.WriteSync(std::move(batch)));
  std::lock_guard lock(catalog_->mu);
  ++catalog_->generation;
  catalog_->tables[t.spec.name] = std::make_shared<const TableDescription>(t);
  return Status::Ok();
}

namespace {

Result<uint64_t> NextId(kv::Store& store) {
  uint64_t id = 1;
  if (auto next = store.Get(kv::Family::kMetadata, kNextIdKey); next.ok()) {
    auto [end, ec] =
        std::from_chars(next->data(), next->data() + next->size(), id);
    if (ec != std::errc() || end != next->data() + next->size()) {
      return DataLoss("corrupt table id counter");
    }
  }
  return id;
}

}  // namespace

Result<TableDescription> Service::CreateTable(const TableSpec& spec) {
  std::lock_guard lock(catalog_mu_);
  if (store_.Get(kv::Family::kMetadata, TableKey(spec.name)).ok()) {
    return AlreadyExists("Table already exists: " + spec.name);
  }
  ASSIGN_OR_RETURN(uint64_t id, NextId(store_));
  TableDescription t;
  t.spec = spec;
  t.id = id++;
  for (IndexSpec& i : t.spec.indexes) i.id = id++;
  t.created_ms = NowMillis();
  if (t.spec.billing_mode == "PAY_PER_REQUEST")
    t.billing_changed_ms = t.created_ms;
  kv::WriteBatch batch;
  batch.Put(kv::Family::kMetadata, kNextIdKey, std::to_string(id));
  RETURN_IF_ERROR(StoreTable(t, std::move(batch)));
  return t;
}

Result<TableDescription> Service::DescribeTable(const std::string& name) {
  auto t = Table(name);
  if (t.status().code() == StatusCode::kNotFound) {
    return NotFound("Requested resource not found: Table: " + name +
                    " not found");
  }
  if (!t.ok()) return t.status();
  return **t;
}

Result<TableStats> Service::CountTable(const std::string& name) {
  ASSIGN_OR_RETURN(auto t, Table(name));
  TableStats stats;
  auto count = [&](std::string prefix, int64_t* items,
                   int64_t* bytes) -> Status {
    kv::ReadOptions ro = kv::ReadOptions::Prefix(prefix);
    ro.fill_cache = false;
    auto it = store_.NewIterator(kv::Family::kTables, ro);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ASSIGN_OR_RETURN(Item item, DecodeItem(it->value()));
      ++*items;
      *bytes += static_cast<int64_t>(ItemSize(item));
    }
    return it->status();
  };
  RETURN_IF_ERROR(
      count(TablePrefix(t->id), &stats.item_count, &stats.size_bytes));
  for (const IndexSpec& i : t->spec.indexes) {
    auto& [items, bytes] = stats.indexes[i.name];
    RETURN_IF_ERROR(count(IndexPrefix(i.id), &items, &bytes));
  }
  return stats;
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
  if (t.spec.deletion_protection) {
    return InvalidArgument(
        "Resource cannot be deleted as it is currently "
        "protected against deletion. Disable deletion "
        "protection first.");
  }
  kv::WriteBatch batch;
  batch.Delete(kv::Family::kMetadata, TableKey(name));
  // Items and index entries go with range tombstones; ids are never
  // reused, so a new table of the same name starts empty.
  std::vector<std::string> prefixes = {TablePrefix(t.id)};
  for (const IndexSpec& i : t.spec.indexes)
    prefixes.push_back(IndexPrefix(i.id));
  for (const std::string& prefix : prefixes) {
    batch.DeleteRange(kv::Family::kTables, prefix, kv::PrefixSuccessor(prefix));
  }
  RETURN_IF_ERROR(store_.WriteSync(std::move(batch)));
  {
    std::lock_guard cl(catalog_->mu);
    ++catalog_->generation;
    catalog_->tables.erase(name);
  }
  t.status = "DELETING";
  return t;
}

Result<TableDescription> Service::UpdateTable(const std::string& name,
                                              const TableUpdate& update) {
  std::unique_lock lock(catalog_mu_);
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(name));
  if (update.billing_mode) {
    if (*update.billing_mode == "PAY_PER_REQUEST" &&
        t.spec.billing_mode != "PAY_PER_REQUEST") {
      t.billing_changed_ms = NowMillis();
    }
    t.spec.billing_mode = *update.billing_mode;
    if (t.spec.billing_mode == "PAY_PER_REQUEST") {
      t.spec.read_capacity = t.spec.write_capacity = 0;
      for (IndexSpec& i : t.spec.indexes)
        i.read_capacity = i.write_capacity = 0;
    }
  }
  if (update.throughput) {
    t.spec.read_capacity = update.throughput->first;
    t.spec.write_capacity = update.throughput->second;
  }
  for (const auto& [index_name, tp] : update.index_throughput) {
    bool found = false;
    for (IndexSpec& i : t.spec.indexes) {
      if (i.name == index_name && !i.local) {
        i.read_capacity = tp.first;
        i.write_capacity = tp.second;
        found = true;
      }
    }
    if (!found) {
      return NotFound("Requested resource not found: Index: " + index_name +
                      " not found");
    }
  }
  if (update.stream) {
    t.spec.stream_enabled = update.stream->first;
    t.spec.stream_view_type = update.stream->second;
  }
  if (update.deletion_protection)
    t.spec.deletion_protection = *update.deletion_protection;
  if (update.table_class) t.spec.table_class = *update.table_class;
  kv::WriteBatch batch;
  for (const std::string& index_name : update.delete_indexes) {
    auto it = std::find_if(
        t.spec.indexes.begin(), t.spec.indexes.end(),
        [&](const IndexSpec& i) { return i.name == index_name && !i.local; });
    if (it == t.spec.indexes.end()) {
      return NotFound("Requested resource not found: Index: " + index_name +
                      " not found");
    }
    std::string prefix = IndexPrefix(it->id);
    batch.DeleteRange(kv::Family::kTables, prefix, kv::PrefixSuccessor(prefix));
    t.spec.indexes.erase(it);
  }
  std::vector<IndexSpec> created;
  if (!update.create_indexes.empty()) {
    ASSIGN_OR_RETURN(uint64_t id, NextId(store_));
    for (IndexSpec i : update.create_indexes) {
      if (t.FindIndex(i.name)) {
        return InvalidArgument(
            "One or more parameter values were invalid: Index with name " +
            i.name + " already exists");
      }
      i.id = id++;
      t.spec.indexes.push_back(i);
      created.push_back(i);
    }
    batch.Put(kv::Family::kMetadata, kNextIdKey, std::to_string(id));
  }
  for (const KeyElement& a : update.attributes) {
    auto it =
        std::find_if(t.spec.attributes.begin(), t.spec.attributes.end(),
                     [&](const KeyElement& e) { return e.name == a.name; });
    if (it == t.spec.attributes.end()) t.spec.attributes.push_back(a);
  }
  // From here on every write maintains the new indexes (writes read the
  // catalogue under their key lock), so the backfill below only has to
  // cover items written before.
  RETURN_IF_ERROR(StoreTable(t, std::move(batch)));
  lock.unlock();
  if (!created.empty()) {
    auto shared = std::make_shared<const TableDescription>(t);
    struct Pending {
      std::mutex mu;
      std::condition_variable cv;
      int64_t outstanding = 0;
      Status status;
    };
    auto pending = std::make_shared<Pending>();
    std::string prefix = TablePrefix(t.id);
    auto it = store_.NewIterator(kv::Family::kTables,
                                 kv::ReadOptions::Prefix(prefix));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string k(it->key());
      {
        std::unique_lock pl(pending->mu);
        // Bounded in-flight work keeps memory flat on big tables.
        pending->cv.wait(pl, [&] { return pending->outstanding < 1024; });
        ++pending->outstanding;
      }
      locks_->Acquire(k, [this, k, shared, created, pending] {
        kv::WriteBatch b;
        // Re-read under the lock: the item as of now, not as scanned.
        auto raw = store_.Get(kv::Family::kTables, k);
        if (raw.ok()) {
          auto item = DecodeItem(*raw);
          if (item.ok()) {
            for (const IndexSpec& index : created) {
              auto ek = IndexEntryKey(*shared, index, *item);
              if (!ek) continue;
              std::string encoded;
              EncodeItem(ProjectForIndex(*shared, index, *item), &encoded);
              b.Put(kv::Family::kTables, *ek, encoded);
            }
          }
        }
        store_.Write(std::move(b), [this, k, pending](Status s) {
          locks_->Release(k);
          std::lock_guard pl(pending->mu);
          if (!s.ok() && pending->status.ok()) pending->status = s;
          --pending->outstanding;
          pending->cv.notify_all();
        });
      });
    }
    RETURN_IF_ERROR(it->status());
    std::unique_lock pl(pending->mu);
    pending->cv.wait(pl, [&] { return pending->outstanding == 0; });
    RETURN_IF_ERROR(pending->status);
  }
  return t;
}

Result<TableDescription> Service::UpdateTags(
    const std::string& name, const std::map<std::string, std::string>& add,
    const std::vector<std::string>& remove) {
  std::lock_guard lock(catalog_mu_);
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(name));
  for (const auto& [k, v] : add) t.spec.tags[k] = v;
  for (const std::string& k : remove) t.spec.tags.erase(k);
  if (t.spec.tags.size() > 50) {
    return QuotaExceeded("The number of tags exceeds the limit for resource: " +
                         name);
  }
  RETURN_IF_ERROR(StoreTable(t, {}));
  return t;
}

Result<TimeToLive> Service::UpdateTimeToLive(const std::string& name,
                                             const TimeToLive& ttl) {
  std::lock_guard lock(catalog_mu_);
  ASSIGN_OR_RETURN(TableDescription t, LoadTable(name));
  if (ttl.enabled && t.ttl.enabled) {
    return InvalidArgument("TimeToLive is already enabled");
  }
  if (!ttl.enabled && !t.ttl.enabled) {
    return InvalidArgument("TimeToLive is already disabled");
  }
  if (!ttl.enabled && ttl.attribute != t.ttl.attribute) {
    return InvalidArgument(
        "TimeToLive attribute name does not match the enabled one");
  }
  t.ttl = ttl;
  RETURN_IF_ERROR(StoreTable(t, {}));
  return ttl;
}

void Service::WriteItem(
    const std::string& table, Item key, ConditionalWrite options,
    std::vector<DocumentPath> touched,
    std::function<Result<std::optional<Item>>(const std::optional<Item>& old)>
        compute_new,
    WriteCallback done, FailureSink failure) {
  auto t = Table(table);
  if (!t.ok()) return done(t.status());
  auto storage_key = EncodeItemKey(**t, key, /*from_full_item=*/false);
  if (!storage_key.ok()) return done(storage_key.status());
  std::string k = *storage_key;
  locks_->Acquire(
      k, [this, table, k, options = std::move(options),
          touched = std::move(touched), compute_new = std::move(compute_new),
          done = std::move(done), failure = std::move(failure)]() mutable {
        auto finish = [this, k, &done](Result<WriteResult> r) {
          locks_->Release(k);
          done(std::move(r));
        };
        // The catalogue as of now: an index created since the call began must
        // be maintained (UpdateTable's backfill relies on it).
        auto t = Table(table);
        if (!t.ok()) return finish(t.status());
        if (!std::string_view(k).starts_with(TablePrefix((*t)->id))) {
          return finish(NotFound("Requested resource not found"));
        }
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
          if (failure && options.return_old_on_failure)
            failure->item = old_item;
          return finish(Aborted("The conditional request failed"));
        }
        auto new_item = compute_new(old_item);
        if (!new_item.ok()) return finish(new_item.status());
        kv::WriteBatch batch;
        WriteResult result;
        Status prepared =
            PrepareWrite(**t, k, old_item, *new_item, &batch, &result.capacity);
        if (!prepared.ok()) return finish(prepared);
        result.attributes =
            Returned(options.return_values, old_item, *new_item, touched);
        // The lock is held until the write is durable and visible, then passed
        // to the next writer of this item.
        store_.Write(std::move(batch),
                     [this, k, result = std::move(result),
                      done = std::move(done)](Status s) mutable {
                       locks_->Release(k);
                       if (!s.ok()) return done(s);
                       done(std::move(result));
                     });
      });
}

void Service::PutItem(const std::string& table, Item item,
                      ConditionalWrite options, WriteCallback done,
                      FailureSink failure) {
  auto t = Table(table);
  if (!t.ok()) return done(t.status());
  auto check = EncodeItemKey(**t, item, /*from_full_item=*/true);
  if (!check.ok()) return done(check.status());
  if (ItemSize(item) > kMaxItemBytes) {
    return done(
        InvalidArgument("Item size has exceeded the maximum allowed size"));
  }
  if (options.return_values != ReturnValues::kNone &&
      options.return_values != ReturnValues::kAllOld) {
    return done(InvalidArgument("Return values set to invalid value"));
  }
  Item key = KeyOf((*t)->spec.key, item);
  WriteItem(
      table, std::move(key), std::move(options), {},
      [item = std::move(item)](const std::optional<Item>&)
          -> Result<std::optional<Item>> { return std::optional<Item>(item); },
      std::move(done), std::move(failure));
}

void Service::DeleteItem(const std::string& table, Item key,
                         ConditionalWrite options, WriteCallback done,
                         FailureSink failure) {
  if (options.return_values != ReturnValues::kNone &&
      options.return_values != ReturnValues::kAllOld) {
    return done(InvalidArgument("Return values set to invalid value"));
  }
  WriteItem(
      table, std::move(key), std::move(options), {},
      [](const std::optional<Item>&) -> Result<std::optional<Item>> {
        return std::optional<Item>();
      },
      std::move(done), std::move(failure));
}

namespace {

Status CheckUpdateOfKey(const TableDescription& t,
                        const UpdateExpression& update) {
  for (const UpdateAction& a : update.actions) {
    const std::string& top = a.path[0].name;
    if (top == t.spec.key.hash.name ||
        (t.spec.key.range && top == t.spec.key.range->name)) {
      return InvalidArgument(
          "One or more parameter values were invalid: Cannot update "
          "attribute " +
          top + ". This attribute is part of the key");
    }
  }
  return Status::Ok();
}

}  // namespace

void Service::UpdateItem(const std::string& table, Item key,
                         UpdateExpression update, ConditionalWrite options,
                         WriteCallback done, FailureSink failure) {
  auto t = Table(table);
  if (!t.ok()) return done(t.status());
  if (Status s = CheckUpdateOfKey(**t, update); !s.ok()) return done(s);
  std::vector<DocumentPath> touched;
  for (const UpdateAction& a : update.actions) touched.push_back(a.path);
  WriteItem(
      table, key, std::move(options), std::move(touched),
      [key, update = std::move(update)](
          const std::optional<Item>& old) -> Result<std::optional<Item>> {
        // An update of a missing item creates it from its key.
        Item item = old.value_or(key);
        RETURN_IF_ERROR(ApplyUpdate(update, &item));
        // DynamoDB words an update's size error apart from a put's.
        if (ItemSize(item) > kMaxItemBytes) {
          return InvalidArgument(
              "Item size to update has exceeded the maximum allowed size");
        }
        return std::optional<Item>(std::move(item));
      },
      std::move(done), std::move(failure));
}

Result<std::optional<Item>> Service::GetItem(
    const std::string& table, const Item& key,
    const std::optional<std::vector<DocumentPath>>& projection, size_t* bytes) {
  ASSIGN_OR_RETURN(auto t, Table(table));
  ASSIGN_OR_RETURN(std::string k,
                   EncodeItemKey(*t, key, /*from_full_item=*/false));
  auto raw = store_.Get(kv::Family::kTables, k);
  if (bytes) *bytes = 0;
  if (raw.status().code() == StatusCode::kNotFound)
    return std::optional<Item>();
  if (!raw.ok()) return raw.status();
  ASSIGN_OR_RETURN(Item item, DecodeItem(*raw));
  if (bytes) *bytes = ItemSize(item);
  if (projection) item = Project(item, *projection);
  return std::optional<Item>(std::move(item));
}

Result<std::vector<std::optional<Item>>> Service::GetItems(
    const std::vector<GetRequest>& requests, std::vector<size_t>* bytes) {
  auto snapshot = store_.GetSnapshot();
  kv::ReadOptions ro;
  ro.snapshot = snapshot.get();
  std::vector<std::optional<Item>> out;
  bytes->assign(requests.size(), 0);
  for (size_t i = 0; i < requests.size(); ++i) {
    const GetRequest& r = requests[i];
    ASSIGN_OR_RETURN(auto t, Table(r.table));
    ASSIGN_OR_RETURN(std::string k,
                     EncodeItemKey(*t, r.key, /*from_full_item=*/false));
    auto raw = store_.Get(kv::Family::kTables, k, ro);
    if (raw.status().code() == StatusCode::kNotFound) {
      out.emplace_back();
      continue;
    }
    if (!raw.ok()) return raw.status();
    ASSIGN_OR_RETURN(Item item, DecodeItem(*raw));
    (*bytes)[i] = ItemSize(item);
    if (r.projection) item = Project(item, *r.projection);
    out.emplace_back(std::move(item));
  }
  return out;
}

Result<ReadResult> Service::ScanIndex(
    const TableDescription& t, const IndexSpec* index, std::string lower,
    std::string upper, bool forward, const std::optional<Item>& start,
    const std::optional<Condition>& filter,
    const std::optional<std::vector<DocumentPath>>& projection,
    std::optional<int64_t> limit, bool fetch) {
  std::optional<std::string> start_after;
  if (start) {
    if (index) {
      auto k = IndexEntryKey(t, *index, *start);
      Status table_key = EncodeItemKey(t, KeyOf(t.spec.key, *start),
                                       /*from_full_item=*/false)
                             .status();
      if (!k || !table_key.ok()) {
        return InvalidArgument("The provided starting key is invalid");
      }
      start_after = std::move(*k);
    } else {
      auto k = EncodeItemKey(t, *start, /*from_full_item=*/false);
      if (!k.ok()) {
        return InvalidArgument("The provided starting key is invalid: " +
                               k.status().message());
      }
      start_after = std::move(*k);
    }
  }
  kv::ReadOptions ro;
  ro.lower_bound = std::move(lower);
  ro.upper_bound = std::move(upper);
  auto it = store_.NewIterator(kv::Family::kTables, ro);
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
  Item last_item;
  bool stopped = false;
  for (; it->Valid(); forward ? it->Next() : it->Prev()) {
    if ((limit && result.scanned_count >= *limit) ||
        result.bytes_read >= kPageBytes) {
      stopped = true;
      break;
    }
    ASSIGN_OR_RETURN(Item item, DecodeItem(it->value()));
    last_item = KeyOf(t, index, item);
    if (fetch) {
      ASSIGN_OR_RETURN(std::string k, EncodeItemKey(t, KeyOf(t.spec.key, item),
                                                    /*from_full_item=*/false));
      auto raw = store_.Get(kv::Family::kTables, k);
      if (raw.ok()) {
        ASSIGN_OR_RETURN(item, DecodeItem(*raw));
      }
    }
    result.bytes_read += ItemSize(item);
    ++result.scanned_count;
    if (filter && !EvaluateCondition(*filter, item)) continue;
    result.items.push_back(projection ? Project(item, *projection)
                                      : std::move(item));
  }
  RETURN_IF_ERROR(it->status());
  // DynamoDB returns LastEvaluatedKey whenever a page ends on Limit, even
  // when nothing follows; riffle does the same only when more items
  // remain after a full page, which clients handle alike. It stops on the
  // item count before looking at the next item.
  if (stopped) result.last_evaluated_key = std::move(last_item);
  if (!stopped && limit && result.scanned_count == *limit &&
      result.scanned_count > 0) {
    // A page that ends exactly on Limit: AWS still returns the key.
    result.last_evaluated_key = std::move(last_item);
  }
  return result;
}

Result<ReadResult> Service::Query(const QueryRequest& request) {
  ASSIGN_OR_RETURN(auto shared, Table(request.table));
  const TableDescription& t = *shared;
  const IndexSpec* index = nullptr;
  if (!request.index.empty()) {
    index = t.FindIndex(request.index);
    if (!index) {
      return InvalidArgument("The table does not have the specified index: " +
                             request.index);
    }
  }
  const KeySchema& schema = index ? index->key : t.spec.key;
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
  std::string prefix = index ? IndexPrefix(index->id) : TablePrefix(t.id);
  bytes::PutBigEndian32(&prefix, Bucket(encoded_hash));
  prefix += encoded_hash;
  std::string lower = prefix;
  std::string upper = kv::PrefixSuccessor(prefix);
  if (range) {
    // Sort key conditions become bounds of the range scan: the encoding is
    // order-preserving and self-delimiting, so "> v" starts after every
    // key with prefix enc(v) and "< v" ends at enc(v). (Index entries
    // continue with the table key, which these bounds leave free.)
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
  bool fetch = request.fetch_table_items && index && index->local &&
               index->projection != ProjectionType::kAll;
  return ScanIndex(t, index, lower, upper, request.forward,
                   request.exclusive_start_key, request.filter,
                   request.projection, request.limit, fetch);
}

Result<ReadResult> Service::Scan(const ScanRequest& request) {
  ASSIGN_OR_RETURN(auto shared, Table(request.table));
  const TableDescription& t = *shared;
  const IndexSpec* index = nullptr;
  if (!request.index.empty()) {
    index = t.FindIndex(request.index);
    if (!index) {
      return InvalidArgument("The table does not have the specified index: " +
                             request.index);
    }
  }
  std::string prefix = index ? IndexPrefix(index->id) : TablePrefix(t.id);
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
  return ScanIndex(t, index, lower, upper, /*forward=*/true,
                   request.exclusive_start_key, request.filter,
                   request.projection, request.limit, /*fetch=*/false);
}

void Service::TransactWrite(
    std::vector<TransactWriteAction> actions,
    std::function<void(Result<TransactWriteResult>)> done) {
  struct Prepared {
    std::shared_ptr<const TableDescription> table;
    std::string key;
  };
  auto prepared = std::make_shared<std::vector<Prepared>>();
  std::set<std::string> seen;
  for (TransactWriteAction& a : actions) {
    auto t = Table(a.table);
    if (!t.ok()) return done(t.status());
    Result<std::string> k = EncodeItemKey(
        **t, a.item,
        /*from_full_item=*/a.kind == TransactWriteAction::Kind::kPut);
    if (!k.ok()) return done(k.status());
    if (a.kind == TransactWriteAction::Kind::kPut &&
        ItemSize(a.item) > kMaxItemBytes) {
      return done(
          InvalidArgument("Item size has exceeded the maximum allowed size"));
    }
    if (a.update) {
      if (Status s = CheckUpdateOfKey(**t, *a.update); !s.ok()) return done(s);
    }
    if (!seen.insert(*k).second) {
      return done(InvalidArgument(
          "Transaction request cannot include multiple operations on one "
          "item"));
    }
    prepared->push_back({*t, *k});
  }
  auto keys = std::make_shared<const std::vector<std::string>>(seen.begin(),
                                                               seen.end());
  auto shared_actions =
      std::make_shared<std::vector<TransactWriteAction>>(std::move(actions));
  locks_->AcquireAll(
      keys, 0,
      [this, keys, prepared, shared_actions, done = std::move(done)]() mutable {
        auto release = [this, keys] {
          for (const std::string& k : *keys) locks_->Release(k);
        };
        // The catalogue as of now, as WriteItem reads it: an index created
        // while this transaction waited for its locks must be maintained
        // (UpdateTable's backfill does not see items written after its
        // scan), and a table deleted meanwhile is gone.
        for (size_t i = 0; i < shared_actions->size(); ++i) {
          Prepared& p = (*prepared)[i];
          auto t = Table((*shared_actions)[i].table);
          if (t.ok() && !p.key.starts_with(TablePrefix((*t)->id))) {
            t = NotFound("Requested resource not found");
          }
          if (!t.ok()) {
            release();
            return done(t.status());
          }
          p.table = *t;
        }
        TransactWriteResult result;
        result.reasons.resize(shared_actions->size());
        kv::WriteBatch batch;
        for (size_t i = 0; i < shared_actions->size(); ++i) {
          const TransactWriteAction& a = (*shared_actions)[i];
          const Prepared& p = (*prepared)[i];
          CancellationReason& reason = result.reasons[i];
          std::optional<Item> old_item;
          auto raw = store_.Get(kv::Family::kTables, p.key);
          if (raw.ok()) {
            auto decoded = DecodeItem(*raw);
            if (!decoded.ok()) {
              release();
              return done(decoded.status());
            }
            old_item = std::move(decoded).value();
          } else if (raw.status().code() != StatusCode::kNotFound) {
            release();
            return done(raw.status());
          }
          if (a.condition &&
              !EvaluateCondition(*a.condition, old_item.value_or(Item()))) {
            reason.code = "ConditionalCheckFailed";
            reason.message = "The conditional request failed";
            if (a.return_old_on_failure) reason.item = old_item;
            result.cancelled = true;
            continue;
          }
          std::optional<Item> new_item;
          switch (a.kind) {
            case TransactWriteAction::Kind::kConditionCheck:
              continue;
            case TransactWriteAction::Kind::kPut:
              new_item = a.item;
              break;
            case TransactWriteAction::Kind::kDelete:
              break;
            case TransactWriteAction::Kind::kUpdate: {
              Item item = old_item.value_or(a.item);
              Status s = ApplyUpdate(*a.update, &item);
              if (!s.ok()) {
                reason.code = "ValidationError";
                reason.message = s.message();
                result.cancelled = true;
                continue;
              }
              new_item = std::move(item);
              break;
            }
          }
          Status s = PrepareWrite(*p.table, p.key, old_item, new_item, &batch,
                                  &result.capacity[a.table]);
          if (!s.ok()) {
            reason.code = "ValidationError";
            reason.message = s.message();
            result.cancelled = true;
          }
        }
        if (result.cancelled) {
          release();
          return done(std::move(result));
        }
        result.reasons.clear();
        store_.Write(std::move(batch),
                     [release, result = std::move(result),
                      done = std::move(done)](Status s) mutable {
                       release();
                       if (!s.ok()) return done(s);
                       done(std::move(result));
                     });
      });
}

int64_t Service::ExpireItems(int64_t now_seconds) {
  std::vector<std::shared_ptr<const TableDescription>> tables;
  {
    auto it = store_.NewIterator(kv::Family::kMetadata,
                                 kv::ReadOptions::Prefix(kTablePrefix));
    std::vector<std::string> names;
    for (it->SeekToFirst(); it->Valid(); it->Next())
      names.emplace_back(it->key().substr(kTablePrefix.size()));
    for (const std::string& name : names) {
      auto t = Table(name);
      if (t.ok() && (*t)->ttl.enabled) tables.push_back(*t);
    }
  }
  constexpr int64_t kFiveYears = 5LL * 365 * 24 * 3600;
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    int64_t outstanding = 0;
    int64_t deleted = 0;
  };
  auto pending = std::make_shared<Pending>();
  for (const auto& t : tables) {
    std::string prefix = TablePrefix(t->id);
    kv::ReadOptions ro = kv::ReadOptions::Prefix(prefix);
    ro.fill_cache = false;
    auto it = store_.NewIterator(kv::Family::kTables, ro);
    // The item is deleted only if it is still expired when its lock is
    // held: a condition `ttl <= now`, as a parsed expression would say.
    Condition expired;
    expired.kind = Condition::Kind::kCompare;
    expired.op = Comparator::kLe;
    Operand path;
    path.kind = Operand::Kind::kPath;
    path.path = {PathElement{false, t->ttl.attribute, 0}};
    Operand now;
    now.kind = Operand::Kind::kValue;
    now.value = AttributeValue::N(Number::FromInt64(now_seconds));
    expired.operands = {path, now};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto item = DecodeItem(it->value());
      if (!item.ok()) continue;
      auto a = item->find(t->ttl.attribute);
      if (a == item->end() || !a->second.is(AttributeType::kN)) continue;
      const Number& n = a->second.number();
      if (n > Number::FromInt64(now_seconds) ||
          n < Number::FromInt64(now_seconds - kFiveYears)) {
        continue;
      }
      {
        std::unique_lock pl(pending->mu);
        pending->cv.wait(pl, [&] { return pending->outstanding < 256; });
        ++pending->outstanding;
      }
      ConditionalWrite options;
      options.condition = expired;
      DeleteItem(t->spec.name, KeyOf(t->spec.key, *item), std::move(options),
                 [pending](Result<WriteResult> r) {
                   std::lock_guard pl(pending->mu);
                   if (r.ok()) ++pending->deleted;
                   --pending->outstanding;
                   pending->cv.notify_all();
                 });
    }
  }
  std::unique_lock pl(pending->mu);
  pending->cv.wait(pl, [&] { return pending->outstanding == 0; });
  return pending->deleted;
}

}  // namespace riffle::tables
