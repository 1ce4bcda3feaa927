// Shard leases and checkpoints of one event-source mapping, kept in a
// DynamoDB-API table the way the Kinesis Client Library (KCL) keeps them, so
// that any number of processes (the server, `riffle worker`s) share a
// stream's shards and hand them over when one of them dies.
//
// The table (LeaseTableName) has one item per shard, with KCL's attributes:
//   leaseKey                      S   the shard id (partition key)
//   leaseOwner                    S   the worker id; absent when unowned
//   leaseCounter                  N   bumped by every write of the lease
//   checkpoint                    S   the last processed sequence number,
//                                     SHARD_END, or the mapping's starting
//                                     position (TRIM_HORIZON, LATEST,
//                                     AT_TIMESTAMP) before the first one
//   checkpointSubSequenceNumber   N   always 0 (no KPL aggregation)
//   ownerSwitchesSinceCheckpoint  N
//   parentShardId                 SS  the parent shards, when any
//
// Every write is conditional on leaseCounter (and, for the holder's own
// writes, on leaseOwner), so two workers never both believe they hold a
// lease, and a worker that lost a lease cannot move its checkpoint.
//
// The table goes with its mapping (Service::DeleteMapping deletes it once
// its own runner stopped). A worker that finds it gone (NotFound from any
// read or write) takes that as the end of the mapping: every held lease is
// lost at once, so the shard processors stop, and the coordinator neither
// creates the table again nor writes to it any more (table_gone()).
//
// Expiry is observed locally, as KCL does: clocks of different machines are
// never compared. A lease owned by another worker is expired once this
// worker has seen its leaseCounter unchanged for `failover_ms`; holders
// renew (bump the counter) every failover_ms / 3.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "functions/clients.h"
#include "functions/shard_processor.h"

namespace riffle::functions {

inline constexpr std::string_view kShardEnd = "SHARD_END";

// "riffle-leases-<mapping uuid>": one lease table per mapping.
std::string LeaseTableName(const std::string& mapping_uuid);

// One item of the lease table.
struct Lease {
  std::string key;    // leaseKey: the shard id
  std::string owner;  // leaseOwner; empty: unowned
  int64_t counter = 0;
  std::string checkpoint;
  int64_t sub_sequence = 0;
  int64_t owner_switches = 0;
  std::vector<std::string> parents;

  bool finished() const { return checkpoint == kShardEnd; }
  // The processor's checkpoint: nullopt while the checkpoint is still a
  // starting position.
  std::optional<ShardCheckpoint> shard_checkpoint() const;
};

tables::Item LeaseToItem(const Lease& lease);
// InvalidArgument for an item that lacks leaseKey or has fields of the
// wrong type.
Result<Lease> LeaseFromItem(const tables::Item& item);

struct LeaseOptions {
  std::string table;
  // Unique per process (a restarted process may reuse its id: leases it
  // finds under its own id are taken back at once).
  std::string worker_id;
  // How long a lease's counter must stay unchanged before others take it.
  int64_t failover_ms = 10000;
  // The checkpoint of a new lease: the mapping's starting position.
  std::string initial_position = "TRIM_HORIZON";
  // Leases stolen per Tick, when balancing needs it.
  int max_leases_to_steal = 1;
  std::function<int64_t()> now_ms;  // monotonic enough; tests replace it
};

// Counters for metrics and tests.
struct LeaseStats {
  uint64_t taken = 0;
  uint64_t stolen = 0;
  uint64_t lost = 0;
  uint64_t renewals = 0;
};

// One worker's view of a mapping's lease table: which leases it holds, and
// the policy that takes, renews, balances and steals them. Also the
// CheckpointStore of the mapping's shard processors: Save writes the
// checkpoint with a condition on leaseOwner and leaseCounter, and answers
// Aborted when the lease was lost (the processor must stop).
//
// Borrows `tables`, which must outlive it. Thread-safe: Tick runs on one
// thread (the mapping's discovery thread) while shard threads Save; writes
// of one lease are serialized (each holds the lease's own mutex), since
// each must name the counter the previous one left.
class LeaseCoordinator : public CheckpointStore {
 public:
  LeaseCoordinator(LeaseOptions options, TablesClient& tables);

  const LeaseOptions& options() const { return options_; }

  // Creates the lease table unless it exists. Blocking.
  Status Initialize();
  // Creates an unowned lease for every shard of `shards` that has none (a
  // lease another worker created meanwhile is kept as it is).
  Status SyncShards(const std::vector<ShardInfo>& shards);
  // Writes `checkpoints` into leases that do not exist yet: seeds the table
  // from an older store (a checkpoint file) once.
  Status Seed(const std::map<std::string, ShardCheckpoint>& checkpoints);

  // One round: reads every lease, renews the held ones that are due, drops
  // those lost to others, then takes unowned and expired leases and steals
  // from the busiest worker until this worker holds its share,
  // ceil(leases / live workers). SHARD_END leases take no part.
  Status Tick();

  // The held leases whose shard may be processed now, each with its
  // checkpoint: every parent lease still in the table is at SHARD_END.
  std::map<std::string, std::optional<ShardCheckpoint>> Processable() const;
  bool Holds(const std::string& shard_id) const;
  std::set<std::string> Held() const;
  // Every lease as of the last Tick (and this worker's own writes since).
  std::vector<Lease> Leases() const;
  LeaseStats stats() const;
  // True once the table was found deleted: nothing is held any more and
  // every later call fails with FailedPrecondition.
  bool table_gone() const;

  // Gives up every held lease (leaseOwner removed), so that other workers
  // take them at their next Tick instead of after the failover time. Call
  // once no shard processor runs.
  Status ReleaseAll();

  // CheckpointStore: the checkpoints of every lease as of the last Tick.
  Result<std::map<std::string, ShardCheckpoint>> Load() override;
  // Aborted when this worker no longer holds the lease.
  Status Save(const std::string& shard_id,
              const ShardCheckpoint& checkpoint) override;

 private:
  // A lease this worker holds. `counter` and `last_renewed_ms` are guarded
  // by `write_mu`, held across each write of the lease.
  struct HeldLease {
    std::mutex write_mu;
    int64_t counter = 0;
    int64_t last_renewed_ms = 0;
    bool lost = false;
  };
  // What this worker last saw of another's lease: when its counter last
  // changed, by this worker's clock.
  struct Observed {
    int64_t counter = -1;
    std::string owner;
    int64_t changed_ms = 0;
  };

  int64_t Now() const { return options_.now_ms(); }
  tables::Item KeyOf(const std::string& shard_id) const;
  // Renews one held lease if due; false once it is lost.
  bool Renew(const std::string& shard_id, HeldLease& held);
  // Takes `lease` (as last read) for this worker.
  bool Take(const Lease& lease, bool steal);
  void Drop(const std::string& shard_id);
  // Returns `s`; a NotFound (the table is gone) first marks the table gone
  // and drops every held lease.
  Status Check(Status s);
  Status GoneError() const;

  const LeaseOptions options_;
  TablesClient& tables_;

  mutable std::mutex mu_;  // guards everything below
  std::map<std::string, std::shared_ptr<HeldLease>> held_;
  std::map<std::string, Lease> leases_;  // as of the last Tick
  std::map<std::string, Observed> observed_;
  LeaseStats stats_;
  bool table_gone_ = false;  // sticky
  std::mt19937 random_;
};

}  // namespace riffle::functions
