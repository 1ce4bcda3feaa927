#include "functions/mapping_runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "core/logging.h"
#include "json/json.h"
#include "streams/service.h"

namespace riffle::functions {

namespace fs = std::filesystem;

StreamsRecordSource::~StreamsRecordSource() { Watch(nullptr); }

void StreamsRecordSource::Watch(
    std::function<void(const std::string&)> on_append) {
  std::lock_guard l(watch_mu_);
  if (watch_token_) {
    streams_.RemoveAppendListener(watch_token_);
    watch_token_ = 0;
  }
  if (!on_append) return;
  watch_token_ = streams_.AddAppendListener(
      [stream = stream_, on_append = std::move(on_append)](
          const std::string& name, const std::string& shard_id) {
        if (name == stream) on_append(shard_id);
      });
}

Result<std::vector<ShardInfo>> StreamsRecordSource::ListShards() {
  ASSIGN_OR_RETURN(auto shards,
                   streams_.ListShards(stream_, streams::ShardFilter{}));
  std::vector<ShardInfo> out;
  for (const auto& s : shards) {
    ShardInfo info;
    info.shard_id = s.shard_id;
    if (s.parent_shard_id) info.parents.push_back(*s.parent_shard_id);
    if (s.adjacent_parent_shard_id)
      info.parents.push_back(*s.adjacent_parent_shard_id);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::string> StreamsRecordSource::GetIterator(
    const std::string& shard_id, IteratorStart start,
    const std::string& sequence_number, int64_t timestamp_ms) {
  streams::IteratorType type = streams::IteratorType::kTrimHorizon;
  if (start == IteratorStart::kAtTimestamp)
    type = streams::IteratorType::kAtTimestamp;
  if (start == IteratorStart::kAfterSequence)
    type = streams::IteratorType::kAfterSequenceNumber;
  return streams_.GetShardIterator(stream_, shard_id, type, sequence_number,
                                   timestamp_ms);
}

Result<ReadResult> StreamsRecordSource::Read(const std::string& iterator,
                                             int limit) {
  ASSIGN_OR_RETURN(streams::GetRecordsOutput r,
                   streams_.GetRecords(iterator, limit));
  ReadResult out;
  streams::SequenceNumber seq = r.base;
  out.records.reserve(r.records.size());
  for (auto& rec : r.records) {
    seq.offset = rec.offset;
    out.records.push_back(SourceRecord{seq.ToString(), std::move(rec.key),
                                       std::move(rec.value), rec.timestamp_ms});
  }
  out.next_iterator = std::move(r.next_shard_iterator);
  return out;
}

Status StreamFailureDestination::Send(const std::string& record) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> done = promise->get_future();
  std::vector<streams::PutRecordInput> input(1);
  input[0].partition_key = "riffle-on-failure";
  input[0].data = record;
  streams_.PutRecords(
      stream_, std::move(input),
      [promise](Result<std::vector<streams::PutRecordOutcome>> r) {
        if (!r.ok()) {
          promise->set_value(r.status());
        } else {
          promise->set_value(r->empty() ? Internal("no outcome")
                                        : (*r)[0].status);
        }
      });
  return done.get();
}

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
                             BatchInvoker& invoker,
                             CheckpointStore& checkpoints,
                             FailureDestination* destination)
    : options_(std::move(options)),
      source_(source),
      invoker_(invoker),
      checkpoints_(checkpoints),
      destination_(destination) {}

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
      cv_.wait_for(l, std::chrono::milliseconds(options_.shard_refresh_ms),
                   [this] { return stopping_; });
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
}

std::string MappingRunner::last_processing_result() const {
  std::lock_guard l(mu_);
  return last_result_;
}

void MappingRunner::Discover() {
  Result<std::vector<ShardInfo>> shards = source_.ListShards();
  if (!shards.ok()) {
    std::lock_guard l(mu_);
    last_result_ = "PROBLEM: " + shards.status().message();
    return;
  }
  Result<std::map<std::string, ShardCheckpoint>> checkpoints =
      checkpoints_.Load();
  if (!checkpoints.ok()) {
    RLOG_ERROR("mapping {}: {}", options_.mapping.uuid,
               checkpoints.status().ToString());
    return;
  }
  std::set<std::string> listed;
  for (const auto& s : *shards) listed.insert(s.shard_id);

  std::lock_guard l(mu_);
  if (stopping_) return;
  for (const auto& [id, cp] : *checkpoints)
    if (cp.shard_end) finished_.insert(id);
  for (const auto& s : *shards) {
    if (processors_.count(s.shard_id) || finished_.count(s.shard_id)) continue;
    // Parents first: a child starts once every parent still in the stream
    // is read to its end.
    bool ready = true;
    for (const auto& p : s.parents)
      if (listed.count(p) && !finished_.count(p)) ready = false;
    if (!ready) continue;

    ShardProcessorOptions po;
    po.mapping = options_.mapping;
    po.shard_id = s.shard_id;
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
    std::optional<ShardCheckpoint> cp;
    if (auto it = checkpoints->find(s.shard_id); it != checkpoints->end())
      cp = it->second;
    auto processor = std::make_unique<ShardProcessor>(
        std::move(po), source_, invoker_, checkpoints_, destination_, cp);
    ShardProcessor* raw = processor.get();
    processors_[s.shard_id] = std::move(processor);
    auto& waker = wakers_[s.shard_id];
    if (!waker) waker = std::make_unique<Waker>();
    threads_[s.shard_id] =
        std::thread([this, raw, w = waker.get()] { RunShard(raw, w); });
  }
}

void MappingRunner::RunShard(ShardProcessor* processor, Waker* waker) {
  std::unique_lock l(mu_);
  uint64_t seen = waker->appends;
  while (!stopping_) {
    bool appended = waker->appends != seen;
    seen = waker->appends;
    l.unlock();
    if (appended) processor->Nudge();
    StepResult r = processor->Step();
    l.lock();
    if (processor->stats().records_processed > 0) last_result_ = "OK";
    if (r == StepResult::kFinished) {
      finished_.insert(processor->shard_id());
      l.unlock();
      // Children may start now rather than at the next refresh.
      Discover();
      return;
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
}

}  // namespace riffle::functions
