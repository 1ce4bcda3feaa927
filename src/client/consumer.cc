#include "client/consumer.h"

#include <algorithm>
#include <thread>

#include "core/base64.h"
#include "json/json.h"

namespace riffle::client {
namespace {

const char* IteratorType(StartAt at) {
  switch (at) {
    case StartAt::kTrimHorizon:
      return "TRIM_HORIZON";
    case StartAt::kLatest:
      return "LATEST";
    case StartAt::kAtSequence:
      return "AT_SEQUENCE_NUMBER";
    case StartAt::kAfterSequence:
      return "AFTER_SEQUENCE_NUMBER";
  }
  return "TRIM_HORIZON";
}

}  // namespace

Consumer::Consumer(AwsJsonClient* kinesis, ConsumerOptions options)
    : kinesis_(kinesis), options_(std::move(options)) {}

std::chrono::milliseconds Consumer::BackoffFor(int attempts) const {
  int64_t ms = options_.initial_backoff.count();
  for (int i = 1; i < attempts && ms < options_.max_backoff.count(); ++i) {
    ms *= 2;
  }
  return std::chrono::milliseconds(
      std::min<int64_t>(ms, options_.max_backoff.count()));
}

Status Consumer::ListShards() {
  std::string token;
  const bool first = !listed_;
  do {
    json::Value request = json::Value::Object();
    // With a NextToken, ListShards refuses the stream name.
    if (token.empty()) {
      request.Set("StreamName", json::Value::String(options_.stream));
    } else {
      request.Set("NextToken", json::Value::String(token));
    }
    ASSIGN_OR_RETURN(json::Value body, kinesis_->Call("ListShards", request));
    token.clear();
    if (const json::Value* t = body.Find("NextToken"); t && t->is_string()) {
      token = t->text();
    }
    const json::Value* list = body.Find("Shards");
    if (list == nullptr || !list->is_array()) break;
    for (const json::Value& s : list->items()) {
      const json::Value* id = s.Find("ShardId");
      if (id == nullptr || !id->is_string() || shards_.count(id->text())) {
        continue;
      }
      Shard shard;
      for (const char* p : {"ParentShardId", "AdjacentParentShardId"}) {
        if (const json::Value* v = s.Find(p); v && v->is_string()) {
          shard.parents.push_back(v->text());
        }
      }
      const json::Value* range = s.Find("SequenceNumberRange");
      const json::Value* end =
          range ? range->Find("EndingSequenceNumber") : nullptr;
      const bool open = end == nullptr || end->is_null();
      if (auto p = options_.positions.find(id->text());
          p != options_.positions.end()) {
        shard.start = p->second;
      } else if (first && options_.start == StartAt::kLatest) {
        // What is closed already is history the caller did not ask for.
        shard.finished = !open;
        shard.start.at = StartAt::kLatest;
      }
      shards_.emplace(id->text(), std::move(shard));
    }
  } while (!token.empty());
  listed_ = true;
  relist_at_ = Clock::now() + options_.relist_interval;
  return Status::Ok();
}

Status Consumer::GetIterator(const std::string& id, Shard& shard) {
  json::Value request = json::Value::Object();
  request.Set("StreamName", json::Value::String(options_.stream));
  request.Set("ShardId", json::Value::String(id));
  ShardPosition from = shard.start;
  if (!shard.last_sequence.empty()) {
    from = {StartAt::kAfterSequence, shard.last_sequence};
  }
  request.Set("ShardIteratorType", json::Value::String(IteratorType(from.at)));
  if (from.at == StartAt::kAtSequence || from.at == StartAt::kAfterSequence) {
    request.Set("StartingSequenceNumber",
                json::Value::String(from.sequence_number));
  }
  ASSIGN_OR_RETURN(json::Value body,
                   kinesis_->Call("GetShardIterator", request));
  const json::Value* it = body.Find("ShardIterator");
  if (it == nullptr || !it->is_string()) {
    // A closed shard read to its end has no iterator left.
    shard.finished = true;
    return Status::Ok();
  }
  shard.iterator = it->text();
  shard.started = true;
  return Status::Ok();
}

bool Consumer::Ready(const Shard& shard) const {
  if (shard.finished) return false;
  // Invariant: a child is read only after its listed parents are finished.
  for (const std::string& p : shard.parents) {
    auto it = shards_.find(p);
    if (it != shards_.end() && !it->second.finished) return false;
  }
  return true;
}

Result<std::vector<ConsumedRecord>> Consumer::Poll(
    std::chrono::milliseconds max_wait) {
  const auto deadline = Clock::now() + max_wait;
  std::vector<ConsumedRecord> out;
  if (!listed_) RETURN_IF_ERROR(ListShards());
  for (;;) {
    bool shard_ended = false;
    auto now = Clock::now();
    for (auto& [id, shard] : shards_) {
      if (!Ready(shard) || shard.next_read > now) continue;
      if (shard.iterator.empty()) {
        RETURN_IF_ERROR(GetIterator(id, shard));
        if (shard.finished) {
          shard_ended = true;
          continue;
        }
      }
      json::Value request = json::Value::Object();
      request.Set("ShardIterator", json::Value::String(shard.iterator));
      request.Set("Limit",
                  json::Value::Number(int64_t{options_.get_records_limit}));
      auto reply = kinesis_->Call("GetRecords", request);
      if (!reply.ok()) {
        switch (reply.status().code()) {
          case StatusCode::kResourceExhausted:
            shard.next_read = now + BackoffFor(++shard.throttled);
            continue;
          case StatusCode::kDeadlineExceeded:  // ExpiredIteratorException
            shard.iterator.clear();
            continue;
          default:
            return reply.status();
        }
      }
      shard.throttled = 0;
      size_t got = 0;
      if (const json::Value* records = reply->Find("Records");
          records && records->is_array()) {
        for (const json::Value& rec : records->items()) {
          ConsumedRecord r;
          r.shard_id = id;
          const json::Value* seq = rec.Find("SequenceNumber");
          const json::Value* data = rec.Find("Data");
          if (seq == nullptr || !seq->is_string() || data == nullptr ||
              !data->is_string()) {
            return Unavailable("GetRecords on " + id +
                               ": a record without sequence number or data");
          }
          r.sequence_number = seq->text();
          auto bytes = base64::Decode(data->text());
          if (!bytes) {
            return Unavailable("GetRecords on " + id + ": data not base64");
          }
          r.data = std::move(*bytes);
          if (const json::Value* k = rec.Find("PartitionKey");
              k && k->is_string()) {
            r.partition_key = k->text();
          }
          if (const json::Value* t = rec.Find("ApproximateArrivalTimestamp")) {
            if (auto secs = t->AsDouble()) {
              r.arrival_ms = static_cast<int64_t>(*secs * 1000);
            }
          }
          shard.last_sequence = r.sequence_number;
          out.push_back(std::move(r));
          ++got;
        }
      }
      const json::Value* next = reply->Find("NextShardIterator");
      if (next == nullptr || !next->is_string()) {
        shard.finished = true;  // closed and read to its end
        shard_ended = true;
        continue;
      }
      shard.iterator = next->text();
      const json::Value* behind = reply->Find("MillisBehindLatest");
      const bool caught_up =
          got == 0 || (behind && behind->AsInt64() && *behind->AsInt64() == 0 &&
                       got < static_cast<size_t>(options_.get_records_limit));
      if (caught_up) shard.next_read = now + options_.idle_interval;
    }
    if (shard_ended || Clock::now() >= relist_at_) {
      RETURN_IF_ERROR(ListShards());
      // Children of an ended shard may be readable at once.
      if (shard_ended && out.empty()) continue;
    }
    now = Clock::now();
    if (!out.empty() || now >= deadline) return out;
    auto wake = std::min(deadline, relist_at_);
    for (const auto& [id, shard] : shards_) {
      if (Ready(shard)) wake = std::min(wake, shard.next_read);
    }
    if (wake > now) std::this_thread::sleep_for(wake - now);
  }
}

std::map<std::string, ShardPosition> Consumer::Positions() const {
  std::map<std::string, ShardPosition> out;
  for (const auto& [id, shard] : shards_) {
    if (!shard.last_sequence.empty()) {
      out[id] = {StartAt::kAfterSequence, shard.last_sequence};
    }
  }
  return out;
}

std::vector<std::string> Consumer::FinishedShards() const {
  std::vector<std::string> out;
  for (const auto& [id, shard] : shards_) {
    if (shard.finished) out.push_back(id);
  }
  return out;
}

}  // namespace riffle::client
