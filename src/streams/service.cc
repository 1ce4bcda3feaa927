#include "streams/service.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <shared_mutex>
#include <sstream>

#include "core/clock.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "json/json.h"
#include "streams/shard_iterator.h"

namespace riffle::streams {

namespace fs = std::filesystem;

std::string_view StreamStatusName(StreamStatus s) {
  switch (s) {
    case StreamStatus::kCreating:
      return "CREATING";
    case StreamStatus::kDeleting:
      return "DELETING";
    case StreamStatus::kActive:
      return "ACTIVE";
    case StreamStatus::kUpdating:
      return "UPDATING";
  }
  return "ACTIVE";
}

std::string_view StreamModeName(StreamMode m) {
  return m == StreamMode::kOnDemand ? "ON_DEMAND" : "PROVISIONED";
}

namespace {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr size_t kMaxGetRecordsBytes = 10u << 20;
constexpr int kMinRetentionHours = 24;
constexpr int kMaxRetentionHours = 8760;

// Refills `rate` units per second, holding at most one second's worth.
// Guarded by its shard's append mutex (writes) or limits mutex (reads).
class TokenBucket {
 public:
  explicit TokenBucket(double rate) : rate_(rate), tokens_(rate) {}
  bool Take(double n, int64_t now_ms) {
    double elapsed = static_cast<double>(now_ms - last_ms_) / 1000.0;
    if (elapsed > 0) {
      tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
      last_ms_ = now_ms;
    }
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
  }

 private:
  double rate_;
  double tokens_;
  int64_t last_ms_ = 0;
};

// One shard: its metadata, its log and its append position.
struct Shard {
  int index = 0;
  std::optional<int> parent;
  std::optional<int> adjacent_parent;
  HashKeyRange range;
  int64_t epoch_us = 0;
  int64_t created_ms = 0;
  // Set when the shard is closed (by a reshard); guarded by the stream's
  // mutex held exclusively.
  std::optional<int64_t> closed_ms;
  std::optional<uint64_t> end_offset;  // one past the last record

  std::unique_ptr<storage::Log> log;

  // Invariant: Log::Append is called only under append_mu, so next_offset
  // equals the offset the log assigns to the next record.
  std::mutex append_mu;
  uint64_t next_offset = 0;
  TokenBucket write_records{1000};
  TokenBucket write_bytes{1 << 20};

  mutable std::mutex read_limits_mu;
  mutable TokenBucket read_calls{5};
  mutable TokenBucket read_bytes{2 << 20};

  bool open() const { return !closed_ms.has_value(); }
};

// One stream. `mu` guards everything mutable; the data plane holds it
// shared, resharding and other control operations hold it exclusively.
struct Stream {
  std::string name;
  fs::path dir;
  int64_t epoch_ms = 0;
  int64_t created_ms = 0;

  mutable std::shared_mutex mu;
  StreamStatus status = StreamStatus::kActive;
  StreamMode mode = StreamMode::kProvisioned;
  int retention_hours = 24;
  std::map<std::string, std::string> tags;
  std::vector<std::unique_ptr<Shard>> shards;  // by index; only grows
  std::vector<Shard*> open_shards;             // sorted by range.start

  metrics::Counter* records_in = nullptr;
  metrics::Counter* bytes_in = nullptr;
  metrics::Counter* records_out = nullptr;
  metrics::Counter* bytes_out = nullptr;

  void RebuildOpenShards() {
    open_shards.clear();
    for (auto& s : shards) {
      if (s->open()) open_shards.push_back(s.get());
    }
    std::sort(open_shards.begin(), open_shards.end(), [](Shard* a, Shard* b) {
      return a->range.start < b->range.start;
    });
  }

  Shard* OpenShardFor(HashKey key) const {
    auto it = std::upper_bound(
        open_shards.begin(), open_shards.end(), key,
        [](HashKey k, Shard* s) { return k < s->range.start; });
    if (it == open_shards.begin()) return nullptr;
    Shard* s = *(it - 1);
    return s->range.Contains(key) ? s : nullptr;
  }

  int64_t NextShardEpochUs(int64_t now_ms) const {
    int64_t epoch = now_ms * 1000;
    for (const auto& s : shards) epoch = std::max(epoch, s->epoch_us + 1);
    return epoch;
  }

  SequenceNumber Base(const Shard& s) const {
    return SequenceNumber{epoch_ms, s.epoch_us, s.index, 0};
  }
};

// Stream names may be "." or "..": keep them from naming a directory.
std::string DirectoryName(const std::string& stream_name) {
  if (stream_name.find_first_not_of('.') != std::string::npos)
    return stream_name;
  std::string out;
  for (size_t i = 0; i < stream_name.size(); ++i) out += "%2E";
  return out;
}

// Makes the entries of `dir` (files created, renamed or removed in it)
// durable. Best effort, as a directory that cannot be opened cannot be
// synced either.
void SyncDirectory(const fs::path& dir) {
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

Status WriteFileDurably(const fs::path& path, const std::string& content) {
  fs::path tmp = path;
  tmp += ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Internal(fmt::format("cannot write {}", tmp.string()));
  bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Internal(fmt::format("cannot write {}", tmp.string()));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return Internal(
        fmt::format("cannot rename {}: {}", tmp.string(), ec.message()));
  SyncDirectory(path.parent_path());
  return Status::Ok();
}

std::string SerializeMetadata(const Stream& s) {
  json::Value root = json::Value::Object();
  root.Set("version", json::Value::Number(int64_t{1}));
  root.Set("name", json::Value::String(s.name));
  root.Set("epoch_ms", json::Value::Number(s.epoch_ms));
  root.Set("created_ms", json::Value::Number(s.created_ms));
  root.Set("status", json::Value::Number(int64_t(s.status)));
  root.Set("mode", json::Value::Number(int64_t(s.mode)));
  root.Set("retention_hours", json::Value::Number(int64_t(s.retention_hours)));
  json::Value tags = json::Value::Object();
  for (const auto& [k, v] : s.tags) tags.Set(k, json::Value::String(v));
  root.Set("tags", std::move(tags));
  json::Value shards = json::Value::Array();
  for (const auto& sh : s.shards) {
    json::Value o = json::Value::Object();
    o.Set("index", json::Value::Number(int64_t(sh->index)));
    if (sh->parent) o.Set("parent", json::Value::Number(int64_t(*sh->parent)));
    if (sh->adjacent_parent)
      o.Set("adjacent_parent",
            json::Value::Number(int64_t(*sh->adjacent_parent)));
    o.Set("start", json::Value::String(HashKeyToString(sh->range.start)));
    o.Set("end", json::Value::String(HashKeyToString(sh->range.end)));
    o.Set("epoch_us", json::Value::Number(sh->epoch_us));
    o.Set("created_ms", json::Value::Number(sh->created_ms));
    if (sh->closed_ms) {
      o.Set("closed_ms", json::Value::Number(*sh->closed_ms));
      o.Set("end_offset",
            json::Value::Number(static_cast<uint64_t>(*sh->end_offset)));
    }
    shards.Push(std::move(o));
  }
  root.Set("shards", std::move(shards));
  return json::Serialize(root);
}

int64_t IntField(const json::Value& o, std::string_view key,
                 int64_t fallback = 0) {
  const json::Value* v = o.Find(key);
  if (!v) return fallback;
  return v->AsInt64().value_or(fallback);
}

}  // namespace

// The append listeners. Shared with every pending append's completion, so
// that one completing after the service is gone (the syncer drains last)
// finds a live, empty set rather than a dangling pointer.
struct AppendListeners {
  std::shared_mutex mu;
  std::map<uint64_t, Service::AppendListener> listeners;
  uint64_t next_token = 0;
  std::atomic<size_t> count{0};  // read without the lock on every append

  void Notify(const std::string& stream, const std::string& shard_id) {
    if (count.load(std::memory_order_acquire) == 0) return;
    std::shared_lock lock(mu);
    for (const auto& [token, listener] : listeners) listener(stream, shard_id);
  }
};

class Service::Impl {
 public:
  Impl(ServiceOptions options, storage::LogSyncer* syncer)
      : options_(std::move(options)), syncer_(syncer) {
    if (!options_.now_ms) options_.now_ms = [] { return NowMillis(); };
  }

  ~Impl() {
    {
      std::unique_lock lock(listeners_->mu);
      listeners_->listeners.clear();
      listeners_->count.store(0, std::memory_order_release);
    }
    std::unique_lock lock(mu_);
    for (auto& [name, s] : streams_) {
      for (auto& sh : s->shards) sh->log->Close();
    }
  }

  const ServiceOptions& options() const { return options_; }

  uint64_t AddAppendListener(AppendListener listener) {
    std::unique_lock lock(listeners_->mu);
    uint64_t token = ++listeners_->next_token;
    listeners_->listeners[token] = std::move(listener);
    listeners_->count.store(listeners_->listeners.size(),
                            std::memory_order_release);
    return token;
  }

  void RemoveAppendListener(uint64_t token) {
    std::unique_lock lock(listeners_->mu);
    listeners_->listeners.erase(token);
    listeners_->count.store(listeners_->listeners.size(),
                            std::memory_order_release);
  }

  std::string Arn(const std::string& name) const {
    return fmt::format("arn:aws:kinesis:{}:{}:stream/{}", options_.region,
                       options_.account_id, name);
  }

  Status LoadAll() {
    std::error_code ec;
    fs::create_directories(options_.dir, ec);
    if (ec)
      return Internal(fmt::format("cannot create {}: {}", options_.dir.string(),
                                  ec.message()));
    for (const auto& entry : fs::directory_iterator(options_.dir)) {
      if (!entry.is_directory()) continue;
      std::string dirname = entry.path().filename().string();
      if (dirname.rfind(".deleted-", 0) == 0) {
        fs::remove_all(entry.path(), ec);  // a delete interrupted by a crash
        continue;
      }
      fs::path meta = entry.path() / "stream.json";
      if (!fs::exists(meta)) continue;
      ASSIGN_OR_RETURN(auto stream, LoadStream(entry.path(), meta));
      streams_[stream->name] = std::move(stream);
    }
    RLOG_INFO("streams: loaded {} stream(s) from {}", streams_.size(),
              options_.dir.string());
    return Status::Ok();
  }

  Result<std::shared_ptr<Stream>> LoadStream(const fs::path& dir,
                                             const fs::path& meta) {
    std::ifstream in(meta);
    std::stringstream buf;
    buf << in.rdbuf();
    auto doc = json::Parse(buf.str());
    if (!doc.ok() || !doc->is_object()) {
      return DataLoss(
          fmt::format("stream metadata {} is unreadable", meta.string()));
    }
    auto s = std::make_shared<Stream>();
    s->dir = dir;
    const json::Value* name = doc->Find("name");
    if (!name || !name->is_string())
      return DataLoss("stream metadata without a name");
    s->name = name->text();
    s->epoch_ms = IntField(*doc, "epoch_ms");
    s->created_ms = IntField(*doc, "created_ms");
    s->status = static_cast<StreamStatus>(IntField(*doc, "status", 2));
    s->mode = static_cast<StreamMode>(IntField(*doc, "mode", 0));
    s->retention_hours =
        static_cast<int>(IntField(*doc, "retention_hours", 24));
    if (const json::Value* tags = doc->Find("tags")) {
      for (const auto& [k, v] : tags->members()) s->tags[k] = v.text();
    }
    if (const json::Value* shards = doc->Find("shards")) {
      for (const auto& o : shards->items()) {
        auto sh = std::make_unique<Shard>();
        sh->index = static_cast<int>(IntField(o, "index"));
        if (o.Find("parent"))
          sh->parent = static_cast<int>(IntField(o, "parent"));
        if (o.Find("adjacent_parent"))
          sh->adjacent_parent =
              static_cast<int>(IntField(o, "adjacent_parent"));
        sh->range.start =
            ParseHashKey(o.Find("start") ? o.Find("start")->text() : "0")
                .value_or(0);
        sh->range.end =
            ParseHashKey(o.Find("end") ? o.Find("end")->text() : "0")
                .value_or(0);
        sh->epoch_us = IntField(o, "epoch_us");
        sh->created_ms = IntField(o, "created_ms");
        if (o.Find("closed_ms")) {
          sh->closed_ms = IntField(o, "closed_ms");
          sh->end_offset = static_cast<uint64_t>(IntField(o, "end_offset"));
        }
        RETURN_IF_ERROR(OpenShardLog(*s, sh.get()));
        s->shards.push_back(std::move(sh));
      }
    }
    AttachMetrics(s.get());
    s->RebuildOpenShards();
    return s;
  }

  Status OpenShardLog(const Stream& s, Shard* sh) {
    ASSIGN_OR_RETURN(sh->log,
                     storage::Log::Open(s.dir / ShardIdFromIndex(sh->index),
                                        options_.log, syncer_));
    sh->next_offset = sh->log->end_offset();
    return Status::Ok();
  }

  void AttachMetrics(Stream* s) {
    auto& reg = metrics::Global();
    metrics::Labels labels = {{"stream", s->name}};
    s->records_in = &reg.GetCounter("riffle_stream_records_in_total", labels,
                                    "Records appended to a stream");
    s->bytes_in = &reg.GetCounter("riffle_stream_bytes_in_total", labels,
                                  "Payload and partition-key bytes appended");
    s->records_out = &reg.GetCounter("riffle_stream_records_out_total", labels,
                                     "Records returned by GetRecords");
    s->bytes_out = &reg.GetCounter("riffle_stream_bytes_out_total", labels,
                                   "Payload and partition-key bytes returned");
  }

  std::string Account() const { return options_.account_id; }

  Status StreamNotFound(const std::string& name) const {
    return NotFound(
        fmt::format("Stream {} under account {} not found.", name, Account()));
  }

  std::shared_ptr<Stream> Find(const std::string& name) const {
    std::shared_lock lock(mu_);
    auto it = streams_.find(name);
    return it == streams_.end() ? nullptr : it->second;
  }

  Result<std::shared_ptr<Stream>> FindOrError(const std::string& name) const {
    auto s = Find(name);
    if (!s) return StreamNotFound(name);
    return s;
  }

  // Requires the stream's mutex held exclusively.
  Status Persist(const Stream& s) {
    return WriteFileDurably(s.dir / "stream.json", SerializeMetadata(s));
  }

  // Open shards in every stream, for the account-wide shard limit.
  int OpenShardCount() const {
    std::shared_lock lock(mu_);
    int n = 0;
    for (const auto& [name, s] : streams_) {
      std::shared_lock sl(s->mu);
      n += static_cast<int>(s->open_shards.size());
    }
    return n;
  }

  Status CheckShardLimit(int current, int additional) const {
    if (current + additional <= options_.shard_limit) return Status::Ok();
    return QuotaExceeded(fmt::format(
        "This request would exceed the shard limit for the account {} in {}. "
        "Current shard count for the account: {}. Limit: {}. Number of "
        "additional shards that would have resulted from this request: {}. "
        "Refer to the AWS Service Limits page "
        "(https://docs.aws.amazon.com/general/latest/gr/"
        "aws_service_limits.html) "
        "for current limits and how to request higher limits.",
        Account(), options_.region, current, options_.shard_limit, additional));
  }

  Status CreateStream(const std::string& name, std::optional<int> shard_count,
                      StreamMode mode,
                      const std::map<std::string, std::string>& tags) {
    std::lock_guard control(control_mu_);
    if (Find(name)) {
      return AlreadyExists(fmt::format(
          "Stream {} under account {} already exists.", name, Account()));
    }
    int count = shard_count.value_or(options_.on_demand_shard_count);
    if (mode == StreamMode::kOnDemand) {
      int on_demand = 0;
      for (const auto& d : ListStreams())
        on_demand += d.mode == StreamMode::kOnDemand;
      if (on_demand + 1 > options_.on_demand_stream_limit) {
        return QuotaExceeded(fmt::format(
            "This request would exceed the on-demand stream count limit for "
            "the "
            "account {} in {}. Current on-demand stream count: {}. Limit: {}.",
            Account(), options_.region, on_demand,
            options_.on_demand_stream_limit));
      }
    }
    RETURN_IF_ERROR(CheckShardLimit(OpenShardCount(), count));

    auto s = std::make_shared<Stream>();
    s->name = name;
    s->dir = options_.dir / DirectoryName(name);
    int64_t now = options_.now_ms();
    s->epoch_ms = now;
    s->created_ms = now;
    s->mode = mode;
    s->tags = tags;
    s->status = StreamStatus::kActive;
    std::error_code ec;
    fs::create_directories(s->dir, ec);
    if (ec)
      return Internal(
          fmt::format("cannot create {}: {}", s->dir.string(), ec.message()));
    // The stream's directory must outlive a crash before its shards'
    // appends are acknowledged (their journal entries name it).
    SyncDirectory(options_.dir);
    for (int i = 0; i < count; ++i) {
      auto sh = std::make_unique<Shard>();
      sh->index = i;
      sh->range = UniformRange(0, kMaxHashKey, i, count);
      sh->epoch_us = now * 1000;
      sh->created_ms = now;
      RETURN_IF_ERROR(OpenShardLog(*s, sh.get()));
      s->shards.push_back(std::move(sh));
    }
    s->RebuildOpenShards();
    AttachMetrics(s.get());
    RETURN_IF_ERROR(Persist(*s));
    std::unique_lock lock(mu_);
    streams_[name] = std::move(s);
    return Status::Ok();
  }

  Status DeleteStream(const std::string& name) {
    std::lock_guard control(control_mu_);
    std::shared_ptr<Stream> s;
    fs::path tomb;
    {
      std::unique_lock lock(mu_);
      auto it = streams_.find(name);
      if (it == streams_.end()) return StreamNotFound(name);
      s = it->second;
      streams_.erase(it);
      // Rename first so that a new stream of the same name never meets the
      // old files, then delete outside the lock.
      tomb = options_.dir /
             fmt::format(".deleted-{}-{}", NowMicros(), DirectoryName(name));
      std::error_code ec;
      fs::rename(s->dir, tomb, ec);
      if (ec) tomb = s->dir;
      // Durable before a new stream of the same name can be created, so
      // that a crash never brings the old directory back in its place.
      SyncDirectory(options_.dir);
    }
    std::unique_lock sl(s->mu);
    for (auto& sh : s->shards) sh->log->Discard();
    std::error_code ec;
    fs::remove_all(tomb, ec);
    return Status::Ok();
  }

  Status SetRetention(const std::string& name, int hours, bool increase) {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    if (hours < kMinRetentionHours) {
      return InvalidArgument(fmt::format(
          "Minimum allowed retention period is {} hours. Requested retention "
          "period ({} hours) is too short.",
          kMinRetentionHours, hours));
    }
    if (hours > kMaxRetentionHours) {
      return InvalidArgument(fmt::format(
          "Maximum allowed retention period is {} hours. Requested retention "
          "period ({} hours) is too long.",
          kMaxRetentionHours, hours));
    }
    std::unique_lock lock(s->mu);
    if (increase && hours < s->retention_hours) {
      return InvalidArgument(fmt::format(
          "Requested retention period ({} hours) for stream {} can not be "
          "shorter than existing retention period ({} hours). Use "
          "DecreaseRetentionPeriod API.",
          hours, name, s->retention_hours));
    }
    if (!increase && hours > s->retention_hours) {
      return InvalidArgument(fmt::format(
          "Requested retention period ({} hours) for stream {} can not be "
          "longer than existing retention period ({} hours). Use "
          "IncreaseRetentionPeriod API.",
          hours, name, s->retention_hours));
    }
    s->retention_hours = hours;
    return Persist(*s);
  }

  Status AddTags(const std::string& name,
                 const std::map<std::string, std::string>& tags) {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::unique_lock lock(s->mu);
    auto merged = s->tags;
    for (const auto& [k, v] : tags) merged[k] = v;
    if (merged.size() > 50) {
      return InvalidArgument(fmt::format(
          "Failed to add tags to stream {} under account {} because a given "
          "stream cannot have more than 50 tags associated with it.",
          name, Account()));
    }
    s->tags = std::move(merged);
    return Persist(*s);
  }

  Status RemoveTags(const std::string& name,
                    const std::vector<std::string>& keys) {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::unique_lock lock(s->mu);
    for (const auto& k : keys) s->tags.erase(k);
    return Persist(*s);
  }

  Result<std::map<std::string, std::string>> ListTags(
      const std::string& name) const {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::shared_lock lock(s->mu);
    return s->tags;
  }

  Status ShardNotFoundForReshard(const Stream& s,
                                 const std::string& shard_id) const {
    return NotFound(
        fmt::format("Could not find shard {} in stream {} under account {}.",
                    shard_id, s.name, Account()));
  }

  Result<Shard*> OpenShardForReshard(Stream& s,
                                     const std::string& shard_id) const {
    auto index = ShardIndexFromId(shard_id);
    if (!index || *index >= static_cast<int>(s.shards.size())) {
      return ShardNotFoundForReshard(s, shard_id);
    }
    Shard* sh = s.shards[*index].get();
    if (!sh->open()) {
      return FailedPrecondition(fmt::format(
          "Shard {} in stream {} under account {} has already been merged or "
          "split, and thus is not eligible for merging or splitting.",
          ShardIdFromIndex(sh->index), s.name, Account()));
    }
    return sh;
  }

  Status CheckActive(const Stream& s) const {
    if (s.status == StreamStatus::kActive) return Status::Ok();
    return FailedPrecondition(fmt::format(
        "Stream {} under account {} not ACTIVE, instead in state {}", s.name,
        Account(), StreamStatusName(s.status)));
  }

  // Requires s.mu held exclusively.
  void CloseShard(Shard* sh, int64_t now) {
    std::lock_guard lock(sh->append_mu);
    sh->closed_ms = now;
    sh->end_offset = sh->next_offset;
  }

  // Requires s.mu held exclusively.
  Result<Shard*> AddShard(Stream& s, HashKeyRange range,
                          std::optional<int> parent,
                          std::optional<int> adjacent, int64_t now) {
    auto sh = std::make_unique<Shard>();
    sh->index = static_cast<int>(s.shards.size());
    sh->range = range;
    sh->parent = parent;
    sh->adjacent_parent = adjacent;
    sh->epoch_us = s.NextShardEpochUs(now);
    sh->created_ms = now;
    RETURN_IF_ERROR(OpenShardLog(s, sh.get()));
    s.shards.push_back(std::move(sh));
    return s.shards.back().get();
  }

  Status SplitShard(const std::string& name, const std::string& shard_id,
                    const std::string& new_starting_hash_key) {
    std::lock_guard control(control_mu_);
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    int open_total = OpenShardCount();
    std::unique_lock lock(s->mu);
    ASSIGN_OR_RETURN(Shard * parent, OpenShardForReshard(*s, shard_id));
    auto key = ParseHashKey(new_starting_hash_key);
    if (!key || *key <= parent->range.start + 1 || *key >= parent->range.end) {
      return InvalidArgument(fmt::format(
          "NewStartingHashKey {} used in SplitShard() on shard {} in stream {} "
          "under account {} is not both greater than one plus the shard's "
          "StartingHashKey {} and less than the shard's EndingHashKey {}.",
          new_starting_hash_key, ShardIdFromIndex(parent->index), name,
          Account(), HashKeyToString(parent->range.start),
          HashKeyToString(parent->range.end)));
    }
    RETURN_IF_ERROR(CheckActive(*s));
    RETURN_IF_ERROR(CheckShardLimit(open_total, 1));
    int64_t now = options_.now_ms();
    CloseShard(parent, now);
    RETURN_IF_ERROR(AddShard(*s, {parent->range.start, *key - 1}, parent->index,
                             std::nullopt, now)
                        .status());
    RETURN_IF_ERROR(AddShard(*s, {*key, parent->range.end}, parent->index,
                             std::nullopt, now)
                        .status());
    s->RebuildOpenShards();
    return Persist(*s);
  }

  Status MergeShards(const std::string& name, const std::string& shard_id,
                     const std::string& adjacent_id) {
    std::lock_guard control(control_mu_);
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::unique_lock lock(s->mu);
    ASSIGN_OR_RETURN(Shard * a, OpenShardForReshard(*s, shard_id));
    ASSIGN_OR_RETURN(Shard * b, OpenShardForReshard(*s, adjacent_id));
    bool adjacent =
        a != b &&
        ((a->range.end != kMaxHashKey && a->range.end + 1 == b->range.start) ||
         (b->range.end != kMaxHashKey && b->range.end + 1 == a->range.start));
    if (!adjacent) {
      return InvalidArgument(fmt::format(
          "Shards {} and {} in stream {} under account {} are not an adjacent "
          "pair of shards eligible for merging",
          ShardIdFromIndex(a->index), ShardIdFromIndex(b->index), name,
          Account()));
    }
    RETURN_IF_ERROR(CheckActive(*s));
    int64_t now = options_.now_ms();
    CloseShard(a, now);
    CloseShard(b, now);
    HashKeyRange range{std::min(a->range.start, b->range.start),
                       std::max(a->range.end, b->range.end)};
    RETURN_IF_ERROR(AddShard(*s, range, a->index, b->index, now).status());
    s->RebuildOpenShards();
    return Persist(*s);
  }

  Result<int> UpdateShardCount(const std::string& name, int target) {
    std::lock_guard control(control_mu_);
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    int open_total = OpenShardCount();
    std::unique_lock lock(s->mu);
    RETURN_IF_ERROR(CheckActive(*s));
    int current = static_cast<int>(s->open_shards.size());
    if (target > 2 * current) {
      return InvalidArgument(fmt::format(
          "UpdateShardCount cannot scale up over double your current open "
          "shard "
          "count. Current open shard count: {} Target shard count: {}",
          current, target));
    }
    if (target * 2 < current) {
      return InvalidArgument(fmt::format(
          "UpdateShardCount cannot scale down below half your current open "
          "shard "
          "count. Current open shard count: {} Target shard count: {}",
          current, target));
    }
    if (target == current) return current;
    if (target > current)
      RETURN_IF_ERROR(CheckShardLimit(open_total, target - current));
    int64_t now = options_.now_ms();
    std::vector<Shard*> parents = s->open_shards;
    for (Shard* p : parents) CloseShard(p, now);
    for (int i = 0; i < target; ++i) {
      HashKeyRange range = UniformRange(0, kMaxHashKey, i, target);
      std::vector<int> overlapping;
      for (Shard* p : parents) {
        if (p->range.start <= range.end && range.start <= p->range.end) {
          overlapping.push_back(p->index);
        }
      }
      std::optional<int> parent, adjacent;
      if (!overlapping.empty()) parent = overlapping[0];
      if (overlapping.size() > 1) adjacent = overlapping[1];
      RETURN_IF_ERROR(AddShard(*s, range, parent, adjacent, now).status());
    }
    s->RebuildOpenShards();
    RETURN_IF_ERROR(Persist(*s));
    return current;
  }

  Status UpdateStreamMode(const std::string& name, StreamMode mode) {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::unique_lock lock(s->mu);
    RETURN_IF_ERROR(CheckActive(*s));
    s->mode = mode;
    return Persist(*s);
  }

  void EnforceRetention() {
    std::vector<std::shared_ptr<Stream>> all;
    {
      std::shared_lock lock(mu_);
      for (const auto& [n, s] : streams_) all.push_back(s);
    }
    int64_t now = options_.now_ms();
    for (const auto& s : all) {
      std::shared_lock lock(s->mu);
      int64_t min_ts = now - s->retention_hours * kHourMs;
      for (auto& sh : s->shards) {
        auto r = sh->log->EnforceRetention(min_ts);
        if (!r.ok()) {
          RLOG_WARN("retention on {}/{}: {}", s->name,
                    ShardIdFromIndex(sh->index), r.status().ToString());
        }
      }
    }
  }

  // Requires s.mu held (shared is enough).
  ShardDescription Describe(const Stream& s, const Shard& sh) const {
    ShardDescription d;
    d.shard_id = ShardIdFromIndex(sh.index);
    if (sh.parent) d.parent_shard_id = ShardIdFromIndex(*sh.parent);
    if (sh.adjacent_parent)
      d.adjacent_parent_shard_id = ShardIdFromIndex(*sh.adjacent_parent);
    d.hash_range = sh.range;
    d.starting_sequence_number = s.Base(sh).ToString();
    if (sh.closed_ms) {
      SequenceNumber end = s.Base(sh);
      end.offset = *sh.end_offset > 0 ? *sh.end_offset - 1 : 0;
      d.ending_sequence_number = end.ToString();
    }
    d.created_ms = sh.created_ms;
    d.closed_ms = sh.closed_ms;
    return d;
  }

  StreamDescription DescribeLocked(const Stream& s) const {
    StreamDescription d;
    d.name = s.name;
    d.arn = Arn(s.name);
    d.status = s.status;
    d.mode = s.mode;
    d.retention_hours = s.retention_hours;
    d.created_ms = s.created_ms;
    for (const auto& sh : s.shards) d.shards.push_back(Describe(s, *sh));
    d.open_shard_count = static_cast<int>(s.open_shards.size());
    return d;
  }

  Result<StreamDescription> DescribeStream(const std::string& name) const {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::shared_lock lock(s->mu);
    return DescribeLocked(*s);
  }

  std::vector<StreamDescription> ListStreams() const {
    std::vector<std::shared_ptr<Stream>> all;
    {
      std::shared_lock lock(mu_);
      for (const auto& [n, s] : streams_) all.push_back(s);
    }
    std::vector<StreamDescription> out;
    for (const auto& s : all) {
      std::shared_lock lock(s->mu);
      StreamDescription d;
      d.name = s->name;
      d.arn = Arn(s->name);
      d.status = s->status;
      d.mode = s->mode;
      d.retention_hours = s->retention_hours;
      d.created_ms = s->created_ms;
      d.open_shard_count = static_cast<int>(s->open_shards.size());
      out.push_back(std::move(d));
    }
    return out;
  }

  Result<std::vector<ShardDescription>> ListShards(
      const std::string& name, const ShardFilter& filter) const {
    ASSIGN_OR_RETURN(auto s, FindOrError(name));
    std::shared_lock lock(s->mu);
    int64_t now = options_.now_ms();
    int64_t horizon = now - s->retention_hours * kHourMs;
    std::optional<int> after;
    if (filter.type == ShardFilterType::kAfterShardId) {
      after = ShardIndexFromId(filter.shard_id).value_or(-1);
    }
    auto open_at = [](const Shard& sh, int64_t t) {
      return sh.created_ms <= t && (!sh.closed_ms || *sh.closed_ms > t);
    };
    std::vector<ShardDescription> out;
    for (const auto& sh : s->shards) {
      // Shards closed before the trim horizon hold no readable records.
      bool expired = sh->closed_ms && *sh->closed_ms < horizon;
      bool keep = true;
      switch (filter.type) {
        case ShardFilterType::kNone:
          break;
        case ShardFilterType::kAfterShardId:
          keep = sh->index > *after;
          break;
        case ShardFilterType::kAtTrimHorizon:
          keep = !expired && (open_at(*sh, horizon) ||
                              (!sh->parent && sh->created_ms > horizon));
          break;
        case ShardFilterType::kFromTrimHorizon:
          keep = !expired;
          break;
        case ShardFilterType::kAtLatest:
          keep = sh->open();
          break;
        case ShardFilterType::kAtTimestamp:
          keep = open_at(*sh, filter.timestamp_ms) ||
                 (!sh->parent && sh->created_ms > filter.timestamp_ms);
          break;
        case ShardFilterType::kFromTimestamp:
          keep = !sh->closed_ms || *sh->closed_ms >= filter.timestamp_ms;
          break;
      }
      if (keep) out.push_back(Describe(*s, *sh));
    }
    return out;
  }

  Limits DescribeLimits() const {
    Limits l;
    l.shard_limit = options_.shard_limit;
    l.open_shard_count = OpenShardCount();
    for (const auto& d : ListStreams())
      l.on_demand_stream_count += d.mode == StreamMode::kOnDemand;
    l.on_demand_stream_count_limit = options_.on_demand_stream_limit;
    return l;
  }

  // Shared across the per-shard appends of one PutRecords call.
  struct PutBatch {
    std::vector<PutRecordOutcome> outcomes;
    std::atomic<int> pending{0};
    PutCallback done;
    void Finish() {
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1)
        done(std::move(outcomes));
    }
  };

  void PutRecords(const std::string& name, std::vector<PutRecordInput> records,
                  PutCallback done) {
    auto s = Find(name);
    if (!s) return done(StreamNotFound(name));
    std::shared_lock lock(s->mu);
    if (s->status != StreamStatus::kActive &&
        s->status != StreamStatus::kUpdating) {
      return done(CheckActive(*s));
    }
    int64_t now = options_.now_ms();
    auto batch = std::make_shared<PutBatch>();
    batch->outcomes.resize(records.size());
    batch->done = std::move(done);

    // Group the records by shard, keeping input order within each shard.
    std::vector<std::pair<Shard*, std::vector<size_t>>> groups;
    for (size_t i = 0; i < records.size(); ++i) {
      HashKey key = records[i].explicit_hash_key
                        ? *records[i].explicit_hash_key
                        : HashPartitionKey(records[i].partition_key);
      Shard* sh = s->OpenShardFor(key);
      if (!sh) {
        batch->outcomes[i].status =
            Internal("no open shard covers the hash key");
        continue;
      }
      auto g = std::find_if(groups.begin(), groups.end(),
                            [sh](const auto& p) { return p.first == sh; });
      if (g == groups.end()) {
        groups.push_back({sh, {}});
        g = groups.end() - 1;
      }
      g->second.push_back(i);
    }

    batch->pending.store(static_cast<int>(groups.size()) + 1);
    for (auto& [sh, indexes] : groups) {
      std::vector<storage::LogRecord> batch_records;
      std::vector<size_t> accepted;
      batch_records.reserve(indexes.size());
      accepted.reserve(indexes.size());
      uint64_t bytes_in = 0;
      std::unique_lock append(sh->append_mu);
      for (size_t i : indexes) {
        auto& r = records[i];
        size_t bytes = r.data.size() + r.partition_key.size();
        if (options_.enforce_shard_limits &&
            !(sh->write_records.Take(1, now) &&
              sh->write_bytes.Take(double(bytes), now))) {
          batch->outcomes[i].status = ResourceExhausted(fmt::format(
              "Rate exceeded for shard {} in stream {} under account {}.",
              ShardIdFromIndex(sh->index), name, Account()));
          continue;
        }
        bytes_in += bytes;
        accepted.push_back(i);
        batch_records.push_back(
            {std::move(r.partition_key), std::move(r.data)});
      }
      if (accepted.empty()) {
        batch->Finish();
        continue;
      }
      sh->next_offset += accepted.size();
      s->records_in->Add(accepted.size());
      s->bytes_in->Add(bytes_in);
      SequenceNumber base = s->Base(*sh);
      std::string shard_id = ShardIdFromIndex(sh->index);
      sh->log->Append(std::move(batch_records), now,
                      [batch, base, shard_id = std::move(shard_id),
                       accepted = std::move(accepted), listeners = listeners_,
                       stream = s->name](Result<uint64_t> first) mutable {
                        for (size_t k = 0; k < accepted.size(); ++k) {
                          PutRecordOutcome& o = batch->outcomes[accepted[k]];
                          if (!first.ok()) {
                            o.status = Internal(first.status().message());
                            continue;
                          }
                          o.sequence_number = base;
                          o.sequence_number.offset = *first + k;
                        }
                        // Before the reply: a consumer woken now finds the
                        // records.
                        if (first.ok()) listeners->Notify(stream, shard_id);
                        batch->Finish();
                      });
    }
    lock.unlock();
    batch->Finish();
  }

  // The first offset of `sh` still within retention. Requires s.mu shared.
  uint64_t TrimHorizon(const Stream& s, const Shard& sh, int64_t now) const {
    int64_t min_ts = now - s.retention_hours * kHourMs;
    uint64_t start = sh.log->start_offset();
    auto by_time = sh.log->OffsetForTimestamp(min_ts);
    return by_time.ok() ? std::max(start, *by_time) : start;
  }

  Result<std::string> GetShardIterator(const std::string& name,
                                       const std::string& shard_id,
                                       IteratorType type,
                                       const std::string& seq_text,
                                       int64_t timestamp_ms) const {
    auto index = ShardIndexFromId(shard_id);
    std::string canonical_id = index ? ShardIdFromIndex(*index) : shard_id;
    auto s = Find(name);
    if (!s) {
      return NotFound(
          fmt::format("Shard {} in stream {} under account {} does not exist",
                      canonical_id, name, Account()));
    }
    std::shared_lock lock(s->mu);
    if (!index || *index >= static_cast<int>(s->shards.size())) {
      return NotFound(
          fmt::format("Shard {} in stream {} under account {} does not exist",
                      canonical_id, name, Account()));
    }
    const Shard& sh = *s->shards[*index];
    int64_t now = options_.now_ms();
    ShardIterator it{name, s->epoch_ms, sh.index, 0, now};
    bool wants_seq = type == IteratorType::kAtSequenceNumber ||
                     type == IteratorType::kAfterSequenceNumber;
    if (!wants_seq && !seq_text.empty() &&
        (type == IteratorType::kTrimHorizon || type == IteratorType::kLatest)) {
      return InvalidArgument(fmt::format(
          "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER "
          "and "
          "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
          "StartingSequenceNumber. Request specified {} and also a "
          "StartingSequenceNumber.",
          type == IteratorType::kTrimHorizon ? "TRIM_HORIZON" : "LATEST"));
    }
    switch (type) {
      case IteratorType::kTrimHorizon:
        it.offset = TrimHorizon(*s, sh, now);
        break;
      case IteratorType::kLatest:
        it.offset = sh.log->end_offset();
        break;
      case IteratorType::kAtTimestamp: {
        ASSIGN_OR_RETURN(it.offset, sh.log->OffsetForTimestamp(timestamp_ms));
        it.offset = std::max(it.offset, TrimHorizon(*s, sh, now));
        break;
      }
      case IteratorType::kAtSequenceNumber:
      case IteratorType::kAfterSequenceNumber: {
        if (seq_text.empty()) {
          return InvalidArgument(fmt::format(
              "Must either specify (1) AT_SEQUENCE_NUMBER or "
              "AFTER_SEQUENCE_NUMBER and "
              "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
              "StartingSequenceNumber. Request specified {} and no "
              "StartingSequenceNumber.",
              type == IteratorType::kAtSequenceNumber
                  ? "AT_SEQUENCE_NUMBER"
                  : "AFTER_SEQUENCE_NUMBER"));
        }
        auto seq = SequenceNumber::Parse(seq_text);
        if (!seq) {
          return InvalidArgument(
              fmt::format("StartingSequenceNumber {} used in GetShardIterator "
                          "on shard {} in "
                          "stream {} under account {} is invalid.",
                          seq_text, canonical_id, name, Account()));
        }
        if (seq->shard_index != sh.index) {
          return InvalidArgument(
              fmt::format("Invalid StartingSequenceNumber. It encodes {}, "
                          "while it was used in "
                          "a call to a shard with {}",
                          ShardIdFromIndex(seq->shard_index), canonical_id));
        }
        if (seq->stream_epoch_ms != s->epoch_ms ||
            seq->shard_epoch_us != sh.epoch_us) {
          return InvalidArgument(
              fmt::format("StartingSequenceNumber {} used in GetShardIterator "
                          "on shard {} in "
                          "stream {} under account {} is invalid because it "
                          "did not come from "
                          "this stream.",
                          seq_text, canonical_id, name, Account()));
        }
        it.offset =
            seq->offset + (type == IteratorType::kAfterSequenceNumber ? 1 : 0);
        break;
      }
    }
    return it.Encode();
  }

  Result<GetRecordsOutput> GetRecords(const std::string& token,
                                      int limit) const {
    auto it = ShardIterator::Decode(token);
    if (!it) return InvalidArgument("Invalid ShardIterator.");
    int64_t now = options_.now_ms();
    if (now - it->issued_ms > kShardIteratorLifetimeMs) {
      return DeadlineExceeded(fmt::format(
          "Iterator expired. The iterator was created at time {} while right "
          "now "
          "it is {} which is further in the future than the tolerated delay of "
          "{} milliseconds.",
          AmzTime(it->issued_ms), AmzTime(now), kShardIteratorLifetimeMs));
    }
    auto s = Find(it->stream_name);
    std::string shard_id = ShardIdFromIndex(it->shard_index);
    if (!s || s->epoch_ms != it->stream_epoch_ms) {
      return NotFound(
          fmt::format("Shard {} in stream {} under account {} does not exist",
                      shard_id, it->stream_name, Account()));
    }
    std::shared_lock lock(s->mu);
    if (it->shard_index < 0 ||
        it->shard_index >= static_cast<int>(s->shards.size())) {
      return NotFound(
          fmt::format("Shard {} in stream {} under account {} does not exist",
                      shard_id, it->stream_name, Account()));
    }
    const Shard& sh = *s->shards[it->shard_index];
    if (options_.enforce_shard_limits) {
      std::lock_guard limits(sh.read_limits_mu);
      if (!sh.read_calls.Take(1, now)) {
        return ResourceExhausted(fmt::format(
            "Rate exceeded for Shard - {} - {} for GetRecords calls.",
            Account(), shard_id));
      }
    }
    uint64_t from = std::max(it->offset, TrimHorizon(*s, sh, now));
    size_t max_records = static_cast<size_t>(limit);
    if (sh.end_offset) {
      max_records = static_cast<size_t>(std::min<uint64_t>(
          max_records, *sh.end_offset > from ? *sh.end_offset - from : 0));
    }
    GetRecordsOutput out;
    out.base = s->Base(sh);
    if (max_records > 0) {
      ASSIGN_OR_RETURN(out.records,
                       sh.log->Read(from, max_records, kMaxGetRecordsBytes));
    }
    uint64_t next = out.records.empty() ? from : out.records.back().offset + 1;
    uint64_t bytes_out = 0;
    for (const auto& r : out.records)
      bytes_out += r.key.size() + r.value.size();
    s->records_out->Add(out.records.size());
    s->bytes_out->Add(bytes_out);
    if (options_.enforce_shard_limits && bytes_out > 0) {
      std::lock_guard limits(sh.read_limits_mu);
      sh.read_bytes.Take(std::min<double>(double(bytes_out), 2 << 20), now);
    }

    uint64_t log_end = sh.log->end_offset();
    bool finished =
        sh.end_offset && next >= *sh.end_offset && log_end >= *sh.end_offset;
    if (finished) {
      for (const auto& child : s->shards) {
        if (child->parent == sh.index || child->adjacent_parent == sh.index) {
          ChildShard c;
          c.shard_id = ShardIdFromIndex(child->index);
          if (child->parent)
            c.parent_shards.push_back(ShardIdFromIndex(*child->parent));
          if (child->adjacent_parent)
            c.parent_shards.push_back(
                ShardIdFromIndex(*child->adjacent_parent));
          c.hash_range = child->range;
          out.child_shards.push_back(std::move(c));
        }
      }
    } else {
      ShardIterator next_it = *it;
      next_it.offset = next;
      next_it.issued_ms = now;
      out.next_shard_iterator = next_it.Encode();
    }
    if (next < log_end && !out.records.empty()) {
      out.millis_behind_latest =
          std::max<int64_t>(0, now - out.records.back().timestamp_ms);
    } else if (next < log_end) {
      auto last = sh.log->last_timestamp_ms();
      out.millis_behind_latest = last ? std::max<int64_t>(0, now - *last) : 0;
    }
    return out;
  }

  // "Thu Jan 22 01:22:02 UTC 2015", as Kinesis words times in messages.
  static std::string AmzTime(int64_t ms) {
    return FormatUtc(ms, "%a %b %d %H:%M:%S UTC %Y");
  }

 private:
  ServiceOptions options_;
  storage::LogSyncer* syncer_;
  // Serializes control operations so that account-wide limits are checked
  // and applied atomically.
  std::mutex control_mu_;
  // Guards the map, not the streams in it.
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;
  std::shared_ptr<AppendListeners> listeners_ =
      std::make_shared<AppendListeners>();
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() = default;

Result<std::unique_ptr<Service>> Service::Open(ServiceOptions options,
                                               storage::LogSyncer* syncer) {
  auto impl = std::make_unique<Impl>(std::move(options), syncer);
  RETURN_IF_ERROR(impl->LoadAll());
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

const ServiceOptions& Service::options() const { return impl_->options(); }
std::string Service::StreamArn(const std::string& name) const {
  return impl_->Arn(name);
}

Status Service::CreateStream(const std::string& name,
                             std::optional<int> shard_count, StreamMode mode,
                             const std::map<std::string, std::string>& tags) {
  return impl_->CreateStream(name, shard_count, mode, tags);
}
Status Service::DeleteStream(const std::string& name) {
  return impl_->DeleteStream(name);
}
Status Service::SetRetention(const std::string& name, int hours,
                             bool increase) {
  return impl_->SetRetention(name, hours, increase);
}
Status Service::AddTags(const std::string& name,
                        const std::map<std::string, std::string>& tags) {
  return impl_->AddTags(name, tags);
}
Status Service::RemoveTags(const std::string& name,
                           const std::vector<std::string>& keys) {
  return impl_->RemoveTags(name, keys);
}
Status Service::SplitShard(const std::string& name, const std::string& shard_id,
                           const std::string& new_starting_hash_key) {
  return impl_->SplitShard(name, shard_id, new_starting_hash_key);
}
Status Service::MergeShards(const std::string& name,
                            const std::string& shard_id,
                            const std::string& adjacent_shard_id) {
  return impl_->MergeShards(name, shard_id, adjacent_shard_id);
}
Result<int> Service::UpdateShardCount(const std::string& name, int target) {
  return impl_->UpdateShardCount(name, target);
}
Status Service::UpdateStreamMode(const std::string& name, StreamMode mode) {
  return impl_->UpdateStreamMode(name, mode);
}
void Service::EnforceRetention() { impl_->EnforceRetention(); }
Result<StreamDescription> Service::DescribeStream(
    const std::string& name) const {
  return impl_->DescribeStream(name);
}
Result<std::map<std::string, std::string>> Service::ListTags(
    const std::string& name) const {
  return impl_->ListTags(name);
}
std::vector<StreamDescription> Service::ListStreams() const {
  return impl_->ListStreams();
}
Result<std::vector<ShardDescription>> Service::ListShards(
    const std::string& name, const ShardFilter& filter) const {
  return impl_->ListShards(name, filter);
}
Limits Service::DescribeLimits() const { return impl_->DescribeLimits(); }
void Service::PutRecords(const std::string& name,
                         std::vector<PutRecordInput> records,
                         PutCallback done) {
  impl_->PutRecords(name, std::move(records), std::move(done));
}
Result<std::string> Service::GetShardIterator(
    const std::string& name, const std::string& shard_id, IteratorType type,
    const std::string& sequence_number, int64_t timestamp_ms) const {
  return impl_->GetShardIterator(name, shard_id, type, sequence_number,
                                 timestamp_ms);
}
Result<GetRecordsOutput> Service::GetRecords(const std::string& iterator,
                                             int limit) const {
  return impl_->GetRecords(iterator, limit);
}
uint64_t Service::AddAppendListener(AppendListener listener) {
  return impl_->AddAppendListener(std::move(listener));
}
void Service::RemoveAppendListener(uint64_t token) {
  impl_->RemoveAppendListener(token);
}

}  // namespace riffle::streams
