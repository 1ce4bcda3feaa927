// ParallelizationFactor: up to 10 batches of one shard in flight at once,
// in order per partition key
// (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#kinesis-parallelization).
//
// The shard's records are dealt to N lanes by a hash of their partition
// key, so that the records of one key always share a lane and keep their
// order. Each lane is an ordinary ShardProcessor (factor 1) on its own
// thread, reading from an in-memory queue, so batching, windows, filters,
// retries, bisect, partial failures and failure records behave exactly as
// without parallelization, per lane.
//
// The shard's checkpoint is the highest sequence number below which every
// record of every lane is done; it is saved by Step, on the caller's
// thread, never by the lane threads (so a runner that stops stepping, say
// because it lost the shard's lease, saves nothing more). A lane finishing
// a batch does not wait for that save: after a crash the records since the
// last saved checkpoint are invoked again (at least once, as on AWS).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "functions/shard_processor.h"

namespace riffle::functions {

// Owns the lanes (their processors, queues and threads); borrows the
// interfaces, which must outlive it. Step, Nudge and the accessors are
// called from one thread (the shard's); the lanes run on their own. The
// destructor stops the lanes, waiting for invocations in flight.
class ParallelLanes {
 public:
  ParallelLanes(const ShardProcessorOptions& options, RecordSource& source,
                BatchInvoker& invoker, CheckpointStore& checkpoints,
                FailureDestination* destination,
                std::optional<ShardCheckpoint> checkpoint);
  ~ParallelLanes();
  ParallelLanes(const ParallelLanes&) = delete;
  ParallelLanes& operator=(const ParallelLanes&) = delete;

  // Reads the shard, deals records to the lanes (at most a few batches per
  // lane are buffered), saves the checkpoint, and reports kFinished once a
  // closed shard is done in every lane.
  StepResult Step();
  void Nudge();
  int64_t next_step_ms() const { return next_step_ms_; }
  // The sum over the lanes, as of the last Step.
  const ShardStats& stats() const { return stats_; }
  const std::string& checkpoint() const { return checkpoint_; }

  // The lane of a partition key among `lanes`: stable across restarts.
  static size_t LaneOf(std::string_view partition_key, size_t lanes);

 private:
  class LaneSource;
  class LaneCheckpoints;
  struct Lane;

  int64_t Now() const { return options_.now_ms(); }
  void RunLane(Lane* lane);
  // A lane's processor moved its checkpoint (on the lane's thread).
  void LaneDone(Lane* lane, const ShardCheckpoint& cp);
  Status SaveCheckpoint();

  const ShardProcessorOptions options_;
  RecordSource& source_;
  CheckpointStore& checkpoints_;

  std::vector<std::unique_ptr<Lane>> lanes_;

  // Guards the lanes' queues and progress, order_, target_ and stopping_.
  mutable std::mutex mu_;
  bool stopping_ = false;
  bool end_of_shard_ = false;  // the source ran out: lanes see it after
                               // their queue
  // Dealt records not yet under the shard checkpoint, in shard order, with
  // their lane.
  std::deque<std::pair<std::string, Lane*>> order_;
  std::string target_;  // the checkpoint to save (done records), or ""

  // The dispatcher's state (the Step thread's only).
  std::string checkpoint_;  // saved
  std::string last_dealt_;  // the last record dealt to a lane
  std::optional<std::string> iterator_;
  bool have_iterator_ = false;
  bool finished_ = false;
  bool waiting_for_records_ = false;
  int64_t next_read_ms_ = 0;
  int64_t next_step_ms_ = 0;
  ShardStats stats_;
};

}  // namespace riffle::functions
