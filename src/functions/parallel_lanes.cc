#include "functions/parallel_lanes.h"

#include <algorithm>
#include <chrono>

#include "core/logging.h"

namespace riffle::functions {

struct ParallelLanes::Lane {
  // Guarded by ParallelLanes::mu_.
  std::deque<SourceRecord> queue;  // dealt, not yet read by the processor
  std::string done;                // the processor's last checkpoint
  bool finished = false;
  uint64_t pushes = 0;  // wakes the lane's thread
  ShardStats stats;

  std::condition_variable cv;
  std::unique_ptr<LaneSource> source;
  std::unique_ptr<LaneCheckpoints> checkpoints;
  std::unique_ptr<ShardProcessor> processor;
  std::thread thread;
};

// A lane's records, as its processor reads them. Thread-safe (through the
// owner's mutex).
class ParallelLanes::LaneSource : public RecordSource {
 public:
  LaneSource(ParallelLanes& owner, Lane& lane) : owner_(owner), lane_(lane) {}
  Result<std::vector<ShardInfo>> ListShards() override {
    return std::vector<ShardInfo>{};
  }
  // A lane has one position: its queue's head.
  Result<std::string> GetIterator(const std::string&, IteratorStart,
                                  const std::string&, int64_t) override {
    return std::string("lane");
  }
  Result<ReadResult> Read(const std::string&, int limit) override {
    std::lock_guard l(owner_.mu_);
    ReadResult r;
    while (!lane_.queue.empty() && static_cast<int>(r.records.size()) < limit) {
      r.records.push_back(std::move(lane_.queue.front()));
      lane_.queue.pop_front();
    }
    if (!(owner_.end_of_shard_ && lane_.queue.empty()))
      r.next_iterator = "lane";
    return r;
  }

 private:
  ParallelLanes& owner_;
  Lane& lane_;
};

// Takes a lane's checkpoints into the shard's (see LaneDone). Thread-safe.
class ParallelLanes::LaneCheckpoints : public CheckpointStore {
 public:
  LaneCheckpoints(ParallelLanes& owner, Lane& lane)
      : owner_(owner), lane_(lane) {}
  Result<std::map<std::string, ShardCheckpoint>> Load() override {
    return std::map<std::string, ShardCheckpoint>{};
  }
  Status Save(const std::string&, const ShardCheckpoint& cp) override {
    owner_.LaneDone(&lane_, cp);
    return Status::Ok();
  }

 private:
  ParallelLanes& owner_;
  Lane& lane_;
};

size_t ParallelLanes::LaneOf(std::string_view key, size_t lanes) {
  // FNV-1a: stable across processes and versions, unlike std::hash.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return lanes ? static_cast<size_t>(h % lanes) : 0;
}

ParallelLanes::ParallelLanes(const ShardProcessorOptions& options,
                             RecordSource& source, BatchInvoker& invoker,
                             CheckpointStore& checkpoints,
                             FailureDestination* destination,
                             std::optional<ShardCheckpoint> checkpoint)
    : options_(options), source_(source), checkpoints_(checkpoints) {
  if (checkpoint) {
    checkpoint_ = checkpoint->sequence_number;
    finished_ = checkpoint->shard_end;
  }
  const size_t n = static_cast<size_t>(
      std::clamp(options_.mapping.parallelization_factor, 1, 10));
  ShardProcessorOptions lane_options = options_;
  lane_options.mapping.parallelization_factor = 1;
  for (size_t i = 0; i < n; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->source = std::make_unique<LaneSource>(*this, *lane);
    lane->checkpoints = std::make_unique<LaneCheckpoints>(*this, *lane);
    lane->processor = std::make_unique<ShardProcessor>(
        lane_options, *lane->source, invoker, *lane->checkpoints, destination,
        std::nullopt);
    lanes_.push_back(std::move(lane));
  }
  if (finished_) return;
  for (auto& lane : lanes_)
    lane->thread = std::thread([this, l = lane.get()] { RunLane(l); });
}

ParallelLanes::~ParallelLanes() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  for (auto& lane : lanes_) lane->cv.notify_all();
  for (auto& lane : lanes_)
    if (lane->thread.joinable()) lane->thread.join();
}

void ParallelLanes::RunLane(Lane* lane) {
  std::unique_lock l(mu_);
  uint64_t seen = lane->pushes;
  while (!stopping_) {
    bool pushed = lane->pushes != seen;
    seen = lane->pushes;
    l.unlock();
    if (pushed) lane->processor->Nudge();
    StepResult r = lane->processor->Step();
    l.lock();
    lane->stats = lane->processor->stats();
    if (r == StepResult::kFinished) {
      lane->finished = true;
      return;
    }
    if (r == StepResult::kIdle) {
      int64_t wait = lane->processor->next_step_ms() - Now();
      if (wait > 0)
        lane->cv.wait_for(
            l, std::chrono::milliseconds(std::min<int64_t>(wait, 1000)),
            [this, lane, seen] { return stopping_ || lane->pushes != seen; });
    }
  }
}

void ParallelLanes::LaneDone(Lane* lane, const ShardCheckpoint& cp) {
  std::lock_guard l(mu_);
  if (!cp.sequence_number.empty() &&
      (lane->done.empty() || SequenceLess(lane->done, cp.sequence_number)))
    lane->done = cp.sequence_number;
  if (cp.shard_end) lane->finished = true;
  // Invariant: a lane is done with all of its records up to lane->done
  // (it processes them in order), so the shard is done up to the first
  // dealt record whose lane is not.
  while (!order_.empty()) {
    const auto& [seq, owner] = order_.front();
    if (owner->done.empty() || SequenceLess(owner->done, seq)) break;
    target_ = seq;
    order_.pop_front();
  }
}

Status ParallelLanes::SaveCheckpoint() {
  std::string target;
  {
    std::lock_guard l(mu_);
    target = target_;
  }
  if (target.empty() ||
      (!checkpoint_.empty() && !SequenceLess(checkpoint_, target)))
    return Status::Ok();
  RETURN_IF_ERROR(checkpoints_.Save(options_.shard_id, {target, false}));
  checkpoint_ = target;
  return Status::Ok();
}

void ParallelLanes::Nudge() {
  if (!waiting_for_records_) return;
  waiting_for_records_ = false;
  next_read_ms_ = 0;
  next_step_ms_ = 0;
}

StepResult ParallelLanes::Step() {
  if (finished_) return StepResult::kFinished;
  waiting_for_records_ = false;
  const int64_t now = Now();
  if (now < next_step_ms_) return StepResult::kIdle;
  if (Status s = SaveCheckpoint(); !s.ok())
    RLOG_WARN("mapping {} shard {}: checkpoint: {}", options_.mapping.uuid,
              options_.shard_id, s.ToString());

  // A few batches per lane may wait; beyond that the shard is not read.
  const size_t batch =
      static_cast<size_t>(std::max(1, options_.mapping.batch_size));
  const size_t cap = std::min<size_t>(lanes_.size() * batch * 2, 100000);
  size_t inflight;
  bool end_of_shard;
  {
    std::lock_guard l(mu_);
    inflight = order_.size();
    end_of_shard = end_of_shard_;
  }
  bool progress = false;
  if (!end_of_shard && inflight < cap && now >= next_read_ms_) {
    if (!have_iterator_) {
      // After a read fault, resume after what the lanes already have.
      const std::string& after =
          !last_dealt_.empty() ? last_dealt_ : checkpoint_;
      Result<std::string> it =
          !after.empty()
              ? source_.GetIterator(options_.shard_id,
                                    IteratorStart::kAfterSequence, after, 0)
              : source_.GetIterator(options_.shard_id, options_.initial_start,
                                    "", options_.initial_timestamp_ms);
      if (!it.ok()) {
        RLOG_WARN("mapping {} shard {}: {}", options_.mapping.uuid,
                  options_.shard_id, it.status().ToString());
        next_step_ms_ = now + options_.max_backoff_ms;
        return StepResult::kIdle;
      }
      iterator_ = *it;
      have_iterator_ = true;
    }
    int limit = static_cast<int>(std::min<size_t>(cap - inflight, 10000));
    Result<ReadResult> read = source_.Read(*iterator_, limit);
    if (!read.ok()) {
      RLOG_WARN("mapping {} shard {}: read failed: {}", options_.mapping.uuid,
                options_.shard_id, read.status().ToString());
      have_iterator_ = false;
      next_step_ms_ = now + options_.poll_interval_ms;
      return StepResult::kIdle;
    }
    if (read->records.empty()) {
      next_read_ms_ = now + options_.poll_interval_ms;
    } else {
      progress = true;
    }
    std::lock_guard l(mu_);
    for (SourceRecord& r : read->records) {
      if (!last_dealt_.empty() && !SequenceLess(last_dealt_, r.sequence_number))
        continue;  // dealt before a read fault
      Lane* lane = lanes_[LaneOf(r.partition_key, lanes_.size())].get();
      last_dealt_ = r.sequence_number;
      order_.emplace_back(r.sequence_number, lane);
      lane->queue.push_back(std::move(r));
      ++lane->pushes;
      lane->cv.notify_one();
    }
    if (read->next_iterator) {
      iterator_ = std::move(read->next_iterator);
    } else {
      // Every lane must see the end, also those with nothing queued.
      end_of_shard_ = end_of_shard = true;
      for (auto& lane : lanes_) {
        ++lane->pushes;
        lane->cv.notify_one();
      }
    }
  }

  bool all_finished = true;
  {
    std::lock_guard l(mu_);
    stats_ = ShardStats{};
    for (const auto& lane : lanes_) {
      const ShardStats& s = lane->stats;
      stats_.invocations += s.invocations;
      stats_.function_errors += s.function_errors;
      stats_.records_processed += s.records_processed;
      stats_.records_failed += s.records_failed;
      stats_.failure_records_sent += s.failure_records_sent;
      stats_.records_filtered += s.records_filtered;
      stats_.iterator_age_ms =
          std::max(stats_.iterator_age_ms, s.iterator_age_ms);
      all_finished = all_finished && lane->finished;
    }
    inflight = order_.size();
  }
  if (end_of_shard && all_finished) {
    Status s = SaveCheckpoint();
    if (s.ok()) s = checkpoints_.Save(options_.shard_id, {checkpoint_, true});
    if (!s.ok()) {
      next_step_ms_ = now + options_.max_backoff_ms;
      return StepResult::kIdle;
    }
    finished_ = true;
    return StepResult::kFinished;
  }
  if (progress) return StepResult::kProgress;
  if (inflight > 0 || end_of_shard) {
    // Lanes are working: save their progress soon.
    next_step_ms_ = now + 10;
  } else {
    next_step_ms_ = next_read_ms_;
    waiting_for_records_ = true;
  }
  return StepResult::kIdle;
}

}  // namespace riffle::functions
