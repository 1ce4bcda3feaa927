#include "functions/lease_table.h"

#include <algorithm>
#include <charconv>

#include "core/logging.h"

namespace riffle::functions {

using tables::AttributeType;
using tables::AttributeValue;
using tables::Number;

namespace {

AttributeValue Int(int64_t v) {
  return AttributeValue::N(Number::FromInt64(v));
}

Result<int64_t> IntOf(const AttributeValue& v, std::string_view name) {
  if (!v.is(AttributeType::kN))
    return InvalidArgument(std::string(name) + " is not a number");
  std::string text = v.number().ToString();
  int64_t out = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size())
    return InvalidArgument(std::string(name) + " is not an integer: " + text);
  return out;
}

bool IsStartingPosition(std::string_view checkpoint) {
  return checkpoint == "TRIM_HORIZON" || checkpoint == "LATEST" ||
         checkpoint == "AT_TIMESTAMP" || checkpoint.empty();
}

std::string CheckpointString(const ShardCheckpoint& cp,
                             const std::string& initial) {
  if (cp.shard_end) return std::string(kShardEnd);
  return cp.sequence_number.empty() ? initial : cp.sequence_number;
}

}  // namespace

std::string LeaseTableName(const std::string& mapping_uuid) {
  return "riffle-leases-" + mapping_uuid;
}

std::optional<ShardCheckpoint> Lease::shard_checkpoint() const {
  if (finished()) return ShardCheckpoint{"", true};
  if (IsStartingPosition(checkpoint)) return std::nullopt;
  return ShardCheckpoint{checkpoint, false};
}

tables::Item LeaseToItem(const Lease& lease) {
  tables::Item item;
  item["leaseKey"] = AttributeValue::S(lease.key);
  if (!lease.owner.empty()) item["leaseOwner"] = AttributeValue::S(lease.owner);
  item["leaseCounter"] = Int(lease.counter);
  item["checkpoint"] = AttributeValue::S(lease.checkpoint);
  item["checkpointSubSequenceNumber"] = Int(lease.sub_sequence);
  item["ownerSwitchesSinceCheckpoint"] = Int(lease.owner_switches);
  // DynamoDB refuses empty sets: a shard without parents has no attribute.
  if (!lease.parents.empty())
    item["parentShardId"] = AttributeValue::SS(lease.parents);
  return item;
}

Result<Lease> LeaseFromItem(const tables::Item& item) {
  Lease lease;
  auto key = item.find("leaseKey");
  if (key == item.end() || !key->second.is(AttributeType::kS))
    return InvalidArgument("lease without a string leaseKey");
  lease.key = key->second.bytes();
  if (auto it = item.find("leaseOwner"); it != item.end()) {
    if (it->second.is(AttributeType::kS)) lease.owner = it->second.bytes();
    // KCL writes no owner for an unowned lease; a NULL is read the same.
  }
  if (auto it = item.find("leaseCounter"); it != item.end()) {
    ASSIGN_OR_RETURN(lease.counter, IntOf(it->second, "leaseCounter"));
  }
  if (auto it = item.find("checkpoint"); it != item.end()) {
    if (!it->second.is(AttributeType::kS))
      return InvalidArgument("checkpoint is not a string");
    lease.checkpoint = it->second.bytes();
  }
  if (auto it = item.find("checkpointSubSequenceNumber"); it != item.end()) {
    ASSIGN_OR_RETURN(lease.sub_sequence,
                     IntOf(it->second, "checkpointSubSequenceNumber"));
  }
  if (auto it = item.find("ownerSwitchesSinceCheckpoint"); it != item.end()) {
    ASSIGN_OR_RETURN(lease.owner_switches,
                     IntOf(it->second, "ownerSwitchesSinceCheckpoint"));
  }
  if (auto it = item.find("parentShardId"); it != item.end()) {
    if (!it->second.is(AttributeType::kSS))
      return InvalidArgument("parentShardId is not a string set");
    lease.parents = it->second.strings();
  }
  return lease;
}

LeaseCoordinator::LeaseCoordinator(LeaseOptions options, TablesClient& tables)
    : options_(std::move(options)),
      tables_(tables),
      random_(std::random_device{}()) {}

tables::Item LeaseCoordinator::KeyOf(const std::string& shard_id) const {
  tables::Item key;
  key["leaseKey"] = AttributeValue::S(shard_id);
  return key;
}

Status LeaseCoordinator::Check(Status s) {
  if (s.code() != StatusCode::kNotFound) return s;
  std::lock_guard l(mu_);
  if (!table_gone_) {
    table_gone_ = true;
    stats_.lost += held_.size();
    held_.clear();
    RLOG_WARN(
        "lease table {} is gone (its mapping was deleted): {} stops "
        "the mapping's shards",
        options_.table, options_.worker_id);
  }
  return s;
}

Status LeaseCoordinator::GoneError() const {
  return FailedPrecondition("lease table " + options_.table +
                            " was deleted (its mapping was deleted)");
}

bool LeaseCoordinator::table_gone() const {
  std::lock_guard l(mu_);
  return table_gone_;
}

Status LeaseCoordinator::Initialize() {
  // Never again once it was deleted: that would revive the mapping here.
  if (table_gone()) return GoneError();
  return tables_.CreateTableIfMissing(options_.table, "leaseKey");
}

Status LeaseCoordinator::SyncShards(const std::vector<ShardInfo>& shards) {
  if (table_gone()) return GoneError();
  for (const auto& s : shards) {
    {
      std::lock_guard l(mu_);
      if (leases_.count(s.shard_id)) continue;
    }
    Lease lease;
    lease.key = s.shard_id;
    lease.checkpoint = options_.initial_position;
    lease.parents = s.parents;
    TablesClient::Expressions e;
    e.condition = "attribute_not_exists(leaseKey)";
    Status st = Check(tables_.PutItem(options_.table, LeaseToItem(lease), e));
    if (!st.ok() && st.code() != StatusCode::kAborted) return st;
  }
  return Status::Ok();
}

Status LeaseCoordinator::Seed(
    const std::map<std::string, ShardCheckpoint>& checkpoints) {
  for (const auto& [shard_id, cp] : checkpoints) {
    Lease lease;
    lease.key = shard_id;
    lease.checkpoint = CheckpointString(cp, options_.initial_position);
    TablesClient::Expressions e;
    e.condition = "attribute_not_exists(leaseKey)";
    Status st = Check(tables_.PutItem(options_.table, LeaseToItem(lease), e));
    if (!st.ok() && st.code() != StatusCode::kAborted) return st;
  }
  return Status::Ok();
}

bool LeaseCoordinator::Renew(const std::string& shard_id, HeldLease& held) {
  std::lock_guard w(held.write_mu);
  if (held.lost) return false;
  const int64_t now = Now();
  if (now - held.last_renewed_ms < options_.failover_ms / 3) return true;
  TablesClient::Expressions e;
  e.update = "SET leaseCounter = leaseCounter + :one";
  e.condition = "leaseOwner = :me AND leaseCounter = :counter";
  e.values[":one"] = Int(1);
  e.values[":me"] = AttributeValue::S(options_.worker_id);
  e.values[":counter"] = Int(held.counter);
  Status s = Check(tables_.UpdateItem(options_.table, KeyOf(shard_id), e));
  if (s.ok()) {
    ++held.counter;
    held.last_renewed_ms = now;
    std::lock_guard l(mu_);
    ++stats_.renewals;
    if (auto it = leases_.find(shard_id); it != leases_.end())
      it->second.counter = held.counter;
    return true;
  }
  if (s.code() == StatusCode::kAborted) {
    RLOG_INFO("lease {} of {}: lost to another worker", shard_id,
              options_.table);
    held.lost = true;
    return false;
  }
  if (s.code() == StatusCode::kNotFound) {  // the table is gone
    held.lost = true;
    return false;
  }
  // Unreachable table: keep the lease until others may consider it expired,
  // then stop (they may have taken it).
  RLOG_WARN("lease {} of {}: renewal failed: {}", shard_id, options_.table,
            s.ToString());
  if (now - held.last_renewed_ms >= options_.failover_ms) {
    held.lost = true;
    return false;
  }
  return true;
}

bool LeaseCoordinator::Take(const Lease& lease, bool steal) {
  TablesClient::Expressions e;
  e.update =
      "SET leaseOwner = :me, leaseCounter = leaseCounter + :one, "
      "ownerSwitchesSinceCheckpoint = "
      "if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one";
  e.condition = "leaseCounter = :counter";
  e.values[":me"] = AttributeValue::S(options_.worker_id);
  e.values[":one"] = Int(1);
  e.values[":zero"] = Int(0);
  e.values[":counter"] = Int(lease.counter);
  Status s = Check(tables_.UpdateItem(options_.table, KeyOf(lease.key), e));
  if (!s.ok()) {
    if (s.code() != StatusCode::kAborted && s.code() != StatusCode::kNotFound)
      RLOG_WARN("lease {} of {}: take failed: {}", lease.key, options_.table,
                s.ToString());
    return false;
  }
  auto held = std::make_shared<HeldLease>();
  held->counter = lease.counter + 1;
  held->last_renewed_ms = Now();
  std::lock_guard l(mu_);
  held_[lease.key] = std::move(held);
  ++stats_.taken;
  if (steal) ++stats_.stolen;
  Lease& mine = leases_[lease.key];
  mine = lease;
  mine.owner = options_.worker_id;
  mine.counter = lease.counter + 1;
  ++mine.owner_switches;
  RLOG_INFO("lease {} of {}: taken by {}{}", lease.key, options_.table,
            options_.worker_id,
            steal ? " (stolen from " + lease.owner + ")" : "");
  return true;
}

void LeaseCoordinator::Drop(const std::string& shard_id) {
  std::lock_guard l(mu_);
  if (held_.erase(shard_id)) ++stats_.lost;
}

Status LeaseCoordinator::Tick() {
  if (table_gone()) return GoneError();
  Result<std::vector<tables::Item>> scanned = tables_.ScanAll(options_.table);
  if (!scanned.ok()) {
    if (!Check(scanned.status()).ok() && table_gone()) return GoneError();
    return scanned.status();
  }
  std::vector<tables::Item> items = std::move(*scanned);
  const int64_t now = Now();
  std::vector<std::pair<std::string, std::shared_ptr<HeldLease>>> held;
  {
    std::lock_guard l(mu_);
    std::map<std::string, Lease> leases;
    for (const auto& item : items) {
      Result<Lease> lease = LeaseFromItem(item);
      if (!lease.ok()) {
        RLOG_WARN("lease table {}: skipping a damaged lease: {}",
                  options_.table, lease.status().ToString());
        continue;
      }
      std::string key = lease->key;
      leases.emplace(std::move(key), std::move(*lease));
    }
    // Expiry by this worker's clock: when did each counter last move?
    std::map<std::string, Observed> observed;
    for (const auto& [key, lease] : leases) {
      Observed o;
      auto it = observed_.find(key);
      if (it != observed_.end() && it->second.counter == lease.counter &&
          it->second.owner == lease.owner) {
        o = it->second;
      } else {
        o.counter = lease.counter;
        o.owner = lease.owner;
        o.changed_ms = now;
      }
      observed[key] = o;
    }
    observed_ = std::move(observed);
    leases_ = std::move(leases);
    for (auto& [key, h] : held_) held.emplace_back(key, h);
  }

  // Renew what is held; a lease the table shows under another owner, or
  // gone, is lost already.
  for (auto& [key, h] : held) {
    bool keep;
    {
      std::lock_guard l(mu_);
      auto it = leases_.find(key);
      keep = it != leases_.end() && it->second.owner == options_.worker_id &&
             !it->second.finished();
    }
    if (!keep) {
      std::lock_guard w(h->write_mu);
      h->lost = true;
    }
    if (!keep || !Renew(key, *h)) Drop(key);
  }

  // Balance: this worker's share is ceil(active leases / live workers),
  // where a worker is live while some lease of its has not expired.
  std::vector<Lease> available;
  std::map<std::string, std::vector<Lease>> by_owner;
  size_t active = 0;
  size_t mine = 0;
  {
    std::lock_guard l(mu_);
    for (const auto& [key, lease] : leases_) {
      if (lease.finished()) continue;
      ++active;
      if (held_.count(key)) {
        ++mine;
        continue;
      }
      const Observed& o = observed_[key];
      bool expired = now - o.changed_ms >= options_.failover_ms;
      // Our own id on a lease we do not hold: a previous run of this
      // worker, which is gone.
      if (lease.owner.empty() || lease.owner == options_.worker_id || expired) {
        available.push_back(lease);
      } else {
        by_owner[lease.owner].push_back(lease);
      }
    }
  }
  if (active == 0) return Status::Ok();
  const size_t workers = by_owner.size() + 1;
  const size_t target = (active + workers - 1) / workers;
  if (mine >= target) return Status::Ok();
  size_t need = target - mine;
  // Random order, so that workers starting together contend less.
  std::shuffle(available.begin(), available.end(), random_);
  for (const auto& lease : available) {
    if (need == 0) break;
    if (Take(lease, false)) --need;
  }
  if (need == 0 || !available.empty()) return Status::Ok();

  // Nothing free: steal from the busiest worker when it holds more than its
  // share, or exactly its share while this one is short by more than one
  // (else two workers would trade one lease back and forth).
  auto busiest = std::max_element(by_owner.begin(), by_owner.end(),
                                  [](const auto& a, const auto& b) {
                                    return a.second.size() < b.second.size();
                                  });
  if (busiest == by_owner.end()) return Status::Ok();
  size_t theirs = busiest->second.size();
  if (theirs > target || (theirs == target && need > 1)) {
    std::vector<Lease> victims = busiest->second;
    std::shuffle(victims.begin(), victims.end(), random_);
    int steals = std::min<int>(options_.max_leases_to_steal,
                               static_cast<int>(std::min(need, theirs - 1)));
    for (int i = 0; i < steals && i < static_cast<int>(victims.size()); ++i)
      Take(victims[static_cast<size_t>(i)], true);
  }
  return Status::Ok();
}

std::map<std::string, std::optional<ShardCheckpoint>>
LeaseCoordinator::Processable() const {
  std::lock_guard l(mu_);
  std::map<std::string, std::optional<ShardCheckpoint>> out;
  for (const auto& [key, h] : held_) {
    auto it = leases_.find(key);
    if (it == leases_.end() || it->second.finished()) continue;
    bool ready = true;
    for (const auto& parent : it->second.parents) {
      auto p = leases_.find(parent);
      if (p != leases_.end() && !p->second.finished()) ready = false;
    }
    if (ready) out[key] = it->second.shard_checkpoint();
  }
  return out;
}

bool LeaseCoordinator::Holds(const std::string& shard_id) const {
  std::lock_guard l(mu_);
  return held_.count(shard_id) > 0;
}

std::set<std::string> LeaseCoordinator::Held() const {
  std::lock_guard l(mu_);
  std::set<std::string> out;
  for (const auto& [key, h] : held_) out.insert(key);
  return out;
}

std::vector<Lease> LeaseCoordinator::Leases() const {
  std::lock_guard l(mu_);
  std::vector<Lease> out;
  for (const auto& [key, lease] : leases_) out.push_back(lease);
  return out;
}

LeaseStats LeaseCoordinator::stats() const {
  std::lock_guard l(mu_);
  return stats_;
}

Status LeaseCoordinator::ReleaseAll() {
  std::map<std::string, std::shared_ptr<HeldLease>> held;
  {
    std::lock_guard l(mu_);
    held.swap(held_);
  }
  Status result;
  for (auto& [key, h] : held) {
    std::lock_guard w(h->write_mu);
    if (h->lost) continue;
    h->lost = true;
    TablesClient::Expressions e;
    e.update = "REMOVE leaseOwner SET leaseCounter = leaseCounter + :one";
    e.condition = "leaseOwner = :me AND leaseCounter = :counter";
    e.values[":one"] = Int(1);
    e.values[":me"] = AttributeValue::S(options_.worker_id);
    e.values[":counter"] = Int(h->counter);
    Status s = tables_.UpdateItem(options_.table, KeyOf(key), e);
    // Aborted: it was lost already, which is what releasing wants.
    if (!s.ok() && s.code() != StatusCode::kAborted && result.ok()) result = s;
  }
  return result;
}

Result<std::map<std::string, ShardCheckpoint>> LeaseCoordinator::Load() {
  std::lock_guard l(mu_);
  std::map<std::string, ShardCheckpoint> out;
  for (const auto& [key, lease] : leases_)
    if (auto cp = lease.shard_checkpoint()) out[key] = *cp;
  return out;
}

Status LeaseCoordinator::Save(const std::string& shard_id,
                              const ShardCheckpoint& checkpoint) {
  std::shared_ptr<HeldLease> h;
  {
    std::lock_guard l(mu_);
    auto it = held_.find(shard_id);
    if (it != held_.end()) h = it->second;
  }
  if (!h) return Aborted("the lease of " + shard_id + " is not held");
  std::lock_guard w(h->write_mu);
  if (h->lost) return Aborted("the lease of " + shard_id + " was lost");
  const std::string value =
      CheckpointString(checkpoint, options_.initial_position);
  TablesClient::Expressions e;
  e.update =
      "SET checkpoint = :checkpoint, checkpointSubSequenceNumber = :zero, "
      "ownerSwitchesSinceCheckpoint = :zero, "
      "leaseCounter = leaseCounter + :one";
  e.condition = "leaseOwner = :me AND leaseCounter = :counter";
  e.values[":checkpoint"] = AttributeValue::S(value);
  e.values[":zero"] = Int(0);
  e.values[":one"] = Int(1);
  e.values[":me"] = AttributeValue::S(options_.worker_id);
  e.values[":counter"] = Int(h->counter);
  Status s = Check(tables_.UpdateItem(options_.table, KeyOf(shard_id), e));
  if (s.code() == StatusCode::kAborted || s.code() == StatusCode::kNotFound) {
    h->lost = true;
    Drop(shard_id);
    return Aborted("the lease of " + shard_id + " was lost: " + s.message());
  }
  RETURN_IF_ERROR(s);
  ++h->counter;
  h->last_renewed_ms = Now();
  std::lock_guard l(mu_);
  if (auto it = leases_.find(shard_id); it != leases_.end()) {
    it->second.checkpoint = value;
    it->second.counter = h->counter;
    it->second.owner_switches = 0;
  }
  // A finished shard needs no renewals; its SHARD_END lets children start.
  if (checkpoint.shard_end) held_.erase(shard_id);
  return Status::Ok();
}

}  // namespace riffle::functions
