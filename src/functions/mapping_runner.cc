#include "functions/mapping_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "core/logging.h"
#include "json/json.h"

namespace riffle::functions {

namespace fs = std::filesystem;

Status WriteFileAtomically(const fs::path& path, std::string_view content) {
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal(fmt::format("cannot write {}", tmp.string()));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return Internal(fmt::format("cannot write {}", tmp.string()));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return Internal(fmt::format("cannot sync {}", tmp.string()));
  }
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    return Internal(
        fmt::format("cannot rename {}: {}", tmp.string(), ec.message()));
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

PipelinedCheckpointStore::PipelinedCheckpointStore(CheckpointStore& inner)
    : inner_(inner), writer_([this] { Run(); }) {}

PipelinedCheckpointStore::~PipelinedCheckpointStore() {
  (void)Flush();
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

Status PipelinedCheckpointStore::Save(const std::string& shard_id,
                                      const ShardCheckpoint& checkpoint) {
  std::unique_lock l(mu_);
  if (!error_.ok()) return std::exchange(error_, Status::Ok());
  if (checkpoint.shard_end) {
    cv_.wait(l, [this] { return !next_ && !writing_; });
    if (!error_.ok()) return std::exchange(error_, Status::Ok());
    l.unlock();
    return inner_.Save(shard_id, checkpoint);
  }
  next_.emplace(shard_id, checkpoint);
  cv_.notify_all();
  return Status::Ok();
}

Status PipelinedCheckpointStore::Flush() {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return !next_ && !writing_; });
  return std::exchange(error_, Status::Ok());
}

void PipelinedCheckpointStore::Run() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || next_; });
    if (!next_) return;  // stopping, nothing queued
    auto [shard_id, checkpoint] = std::move(*next_);
    next_.reset();
    writing_ = true;
    l.unlock();
    Status s = inner_.Save(shard_id, checkpoint);
    l.lock();
    writing_ = false;
    if (!s.ok() && error_.ok()) error_ = std::move(s);
    cv_.notify_all();
  }
}

Result<std::map<std::string, ShardCheckpoint>> FileCheckpointStore::Load() {
  std::lock_guard l(mu_);
  if (!loaded_) {
    std::error_code ec;
    if (fs::exists(path_, ec)) {
      std::string text;
      {
        FILE* f = std::fopen(path_.c_str(), "rb");
        if (!f) return Internal("cannot read " + path_.string());
        char buf[8192];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        std::fclose(f);
      }
      ASSIGN_OR_RETURN(json::Value v, json::Parse(text));
      const json::Value* shards = v.Find("shards");
      if (!shards || !shards->is_object())
        return DataLoss("damaged checkpoint file " + path_.string());
      for (const auto& [id, c] : shards->members()) {
        ShardCheckpoint cp;
        if (const json::Value* s = c.Find("checkpoint"); s && s->is_string())
          cp.sequence_number = s->text();
        if (const json::Value* e = c.Find("shard_end"); e && e->is_bool())
          cp.shard_end = e->bool_value();
        shards_[id] = cp;
      }
    }
    loaded_ = true;
  }
  return shards_;
}

std::string FileCheckpointStore::SerializeLocked() const {
  json::Value shards = json::Value::Object();
  for (const auto& [id, cp] : shards_) {
    shards.Set(id,
               json::Value::Object()
                   .Set("checkpoint", json::Value::String(cp.sequence_number))
                   .Set("shard_end", json::Value::Bool(cp.shard_end)));
  }
  json::Value root = json::Value::Object();
  root.Set("shards", std::move(shards));
  return json::Serialize(root) + "\n";
}

Status FileCheckpointStore::Save(const std::string& shard_id,
                                 const ShardCheckpoint& checkpoint) {
  std::unique_lock l(mu_);
  shards_[shard_id] = checkpoint;
  const uint64_t mine = ++updates_;
  while (written_ < mine) {
    if (writing_) {
      written_cv_.wait(l);
      continue;
    }
    // This thread writes everything saved so far, for itself and for the
    // Saves that wait meanwhile.
    writing_ = true;
    const uint64_t covers = updates_;
    std::string content = SerializeLocked();
    l.unlock();
    Status s = WriteFileAtomically(path_, content);
    l.lock();
    writing_ = false;
    written_ = covers;
    last_write_ = s;
    written_cv_.notify_all();
  }
  // The write that covered this update (a later one may have replaced its
  // status: it also covered this update, so its status is as good).
  return last_write_;
}

MappingRunner::MappingRunner(MappingRunnerOptions options, RecordSource& source,
                             BatchInvoker& invoker, LeaseCoordinator& leases,
                             FailureDestination* destination)
    : options_(std::move(options)),
      source_(source),
      invoker_(invoker),
      leases_(leases),
      destination_(destination),
      leases_metric_(&metrics::Global().GetGauge(
          "riffle_function_mapping_leases",
          {{"mapping", options_.mapping.uuid},
           {"function", options_.mapping.function_name}},
          "Shard leases this process holds for the mapping")) {}

MappingRunner::~MappingRunner() {
  Stop();
  Join();
}

void MappingRunner::Start() {
  source_.Watch([this](const std::string& shard_id) { OnAppend(shard_id); });
  discovery_ = std::thread([this] {
    std::unique_lock l(mu_);
    while (!stopping_) {
      l.unlock();
      Discover();
      l.lock();
      cv_.wait_for(l, std::chrono::milliseconds(options_.lease_refresh_ms),
                   [this] { return stopping_ || rediscover_; });
      rediscover_ = false;
    }
  });
}

void MappingRunner::OnAppend(const std::string& shard_id) {
  std::lock_guard l(mu_);
  auto it = wakers_.find(shard_id);
  if (it == wakers_.end()) return;
  ++it->second->appends;
  it->second->cv.notify_one();
}

void MappingRunner::Stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    for (auto& [id, w] : wakers_) w->cv.notify_all();
  }
  cv_.notify_all();
}

void MappingRunner::Join() {
  source_.Watch(nullptr);
  if (discovery_.joinable()) discovery_.join();
  std::map<std::string, std::thread> threads;
  {
    std::lock_guard l(mu_);
    threads.swap(threads_);
  }
  for (auto& [id, t] : threads)
    if (t.joinable()) t.join();
  // Every processor has stopped: no Save races the release.
  if (Status s = leases_.ReleaseAll(); !s.ok())
    RLOG_WARN("mapping {}: releasing leases: {}", options_.mapping.uuid,
              s.ToString());
  leases_metric_->Set(0);
}

std::string MappingRunner::last_processing_result() const {
  std::lock_guard l(mu_);
  return last_result_;
}

std::set<std::string> MappingRunner::running_shards() const {
  std::lock_guard l(mu_);
  std::set<std::string> out;
  for (const auto& [id, p] : processors_)
    if (!exited_.count(id)) out.insert(id);
  return out;
}

bool MappingRunner::Prepare() {
  if (Status s = leases_.Initialize(); !s.ok()) {
    std::lock_guard l(mu_);
    last_result_ =
        "PROBLEM: lease table " + leases_.options().table + ": " + s.message();
    return false;
  }
  std::error_code ec;
  if (!options_.legacy_checkpoints.empty() &&
      fs::exists(options_.legacy_checkpoints, ec)) {
    FileCheckpointStore legacy(options_.legacy_checkpoints);
    Result<std::map<std::string, ShardCheckpoint>> old = legacy.Load();
    Status s = old.ok() ? leases_.Seed(*old) : old.status();
    if (!s.ok()) {
      RLOG_ERROR("mapping {}: migrating {}: {}", options_.mapping.uuid,
                 options_.legacy_checkpoints.string(), s.ToString());
      return false;
    }
    fs::path done = options_.legacy_checkpoints;
    done += ".migrated";
    fs::rename(options_.legacy_checkpoints, done, ec);
    RLOG_INFO("mapping {}: checkpoints of {} moved to lease table {}",
              options_.mapping.uuid, options_.legacy_checkpoints.string(),
              leases_.options().table);
  }
  return true;
}

void MappingRunner::Reap() {
  std::vector<std::thread> done;
  {
    std::lock_guard l(mu_);
    for (const auto& id : exited_) {
      if (auto t = threads_.find(id); t != threads_.end()) {
        done.push_back(std::move(t->second));
        threads_.erase(t);
      }
    }
  }
  for (auto& t : done)
    if (t.joinable()) t.join();
  std::lock_guard l(mu_);
  for (const auto& id : exited_) {
    processors_.erase(id);
    saves_.erase(id);
    wakers_.erase(id);
  }
  exited_.clear();
}

void MappingRunner::Discover() {
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
  }
  // The mapping was deleted (its lease table with it), seen by a Tick or a
  // shard's checkpoint: the shard threads stop, having lost their leases,
  // and nothing starts again. The process stays up for its other
  // mappings; this is no error to crash on.
  auto stopped_for_good = [this] {
    if (!leases_.table_gone()) return false;
    Reap();
    leases_metric_->Set(0);
    std::lock_guard l(mu_);
    if (!last_result_.ends_with("was deleted with its mapping")) {
      RLOG_INFO("mapping {}: its lease table {} was deleted; stopped",
                options_.mapping.uuid, leases_.options().table);
      last_result_ = "PROBLEM: lease table " + leases_.options().table +
                     " was deleted with its mapping";
    }
    return true;
  };
  if (stopped_for_good()) return;
  if (!prepared_) {
    if (!Prepare()) return;
    std::lock_guard l(mu_);
    prepared_ = true;
  }
  const int64_t now = options_.now_ms();
  if (now >= next_shard_sync_ms_) {
    Result<std::vector<ShardInfo>> shards = source_.ListShards();
    if (!shards.ok()) {
      std::lock_guard l(mu_);
      last_result_ = "PROBLEM: " + shards.status().message();
    } else if (Status s = leases_.SyncShards(*shards);
               !s.ok() && !leases_.table_gone()) {
      RLOG_WARN("mapping {}: creating leases: {}", options_.mapping.uuid,
                s.ToString());
    } else {
      next_shard_sync_ms_ = now + options_.shard_refresh_ms;
    }
  }
  if (Status s = leases_.Tick(); !s.ok() && !leases_.table_gone())
    RLOG_WARN("mapping {}: lease table: {}", options_.mapping.uuid,
              s.ToString());
  if (stopped_for_good()) return;
  Reap();
  std::map<std::string, std::optional<ShardCheckpoint>> ready =
      leases_.Processable();
  leases_metric_->Set(static_cast<int64_t>(leases_.Held().size()));

  std::lock_guard l(mu_);
  if (stopping_) return;
  for (auto& [shard_id, cp] : ready) {
    if (processors_.count(shard_id)) continue;
    ShardProcessorOptions po;
    po.mapping = options_.mapping;
    po.shard_id = shard_id;
    po.function_arn = options_.function_arn;
    po.role_arn = options_.role_arn;
    po.region = options_.region;
    po.poll_interval_ms = options_.poll_interval_ms;
    po.now_ms = options_.now_ms;
    // LATEST is pinned to the mapping's creation time, so that a restart
    // before the first checkpoint does not skip records put meanwhile.
    switch (options_.mapping.starting_position) {
      case StartingPosition::kTrimHorizon:
        po.initial_start = IteratorStart::kTrimHorizon;
        break;
      case StartingPosition::kLatest:
        po.initial_start = IteratorStart::kAtTimestamp;
        po.initial_timestamp_ms = options_.mapping.created_ms;
        break;
      case StartingPosition::kAtTimestamp:
        po.initial_start = IteratorStart::kAtTimestamp;
        po.initial_timestamp_ms =
            options_.mapping.starting_position_timestamp_ms;
        break;
    }
    auto saves = std::make_unique<PipelinedCheckpointStore>(leases_);
    auto processor = std::make_unique<ShardProcessor>(
        std::move(po), source_, invoker_, *saves, destination_, cp);
    ShardProcessor* raw = processor.get();
    PipelinedCheckpointStore* raw_saves = saves.get();
    saves_[shard_id] = std::move(saves);
    processors_[shard_id] = std::move(processor);
    auto& waker = wakers_[shard_id];
    if (!waker) waker = std::make_unique<Waker>();
    threads_[shard_id] = std::thread([this, raw, raw_saves, w = waker.get()] {
      RunShard(raw, raw_saves, w);
    });
  }
}

void MappingRunner::RunShard(ShardProcessor* processor,
                             PipelinedCheckpointStore* saves, Waker* waker) {
  const std::string shard_id = processor->shard_id();
  std::unique_lock l(mu_);
  uint64_t seen = waker->appends;
  while (!stopping_) {
    bool appended = waker->appends != seen;
    seen = waker->appends;
    l.unlock();
    // Lost to another worker (stolen, or expired while this one stalled):
    // stop here; the new holder starts from the last checkpoint.
    if (!leases_.Holds(shard_id)) {
      RLOG_INFO("mapping {} shard {}: lease lost, stopping",
                options_.mapping.uuid, shard_id);
      l.lock();
      break;
    }
    if (appended) processor->Nudge();
    StepResult r = processor->Step();
    l.lock();
    if (processor->stats().records_processed > 0) last_result_ = "OK";
    if (r == StepResult::kFinished) {
      // Children may start now rather than at the next refresh.
      rediscover_ = true;
      cv_.notify_all();
      break;
    }
    if (r == StepResult::kIdle) {
      int64_t wait = processor->next_step_ms() - options_.now_ms();
      // An append ends the wait early (see Nudge).
      if (wait > 0)
        waker->cv.wait_for(
            l, std::chrono::milliseconds(std::min<int64_t>(wait, 1000)),
            [this, waker, seen] {
              return stopping_ || waker->appends != seen;
            });
    }
  }
  // The last checkpoint is durable before the lease can be released.
  l.unlock();
  if (Status s = saves->Flush(); !s.ok())
    RLOG_INFO("mapping {} shard {}: last checkpoint: {}", options_.mapping.uuid,
              shard_id, s.ToString());
  l.lock();
  exited_.insert(shard_id);
}

}  // namespace riffle::functions
