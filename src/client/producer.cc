#include "client/producer.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "client/aws_error.h"
#include "core/base64.h"
#include "json/json.h"

namespace riffle::client {
namespace {

constexpr size_t kMaxKeyLength = 256;
constexpr size_t kMaxRecordBytes = 1u << 20;

bool Retryable(StatusCode code) {
  return code == StatusCode::kResourceExhausted ||
         code == StatusCode::kUnavailable;
}

}  // namespace

Producer::Producer(AwsJsonClient* kinesis, ProducerOptions options)
    : kinesis_(kinesis), options_(std::move(options)) {}

void Producer::Backoff(int attempt) {
  // Full range doubling from the initial backoff to the cap, with jitter
  // (half to all of it) so that producers throttled together do not retry
  // in step.
  const int64_t cap = options_.max_backoff.count();
  int64_t base = options_.initial_backoff.count();
  for (int i = 1; i < attempt && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng_)));
}

Status Producer::Put(std::string partition_key, std::string data,
                     uint64_t tag) {
  if (!failed_.ok()) return failed_;
  if (partition_key.empty() || partition_key.size() > kMaxKeyLength) {
    return InvalidArgument("record " + std::to_string(tag) +
                           ": the partition key must have 1 to 256 "
                           "characters");
  }
  if (data.size() + partition_key.size() > kMaxRecordBytes) {
    return InvalidArgument("record " + std::to_string(tag) +
                           ": data and partition key exceed 1 MiB");
  }
  auto [it, inserted] = by_key_.try_emplace(std::move(partition_key));
  Record r;
  r.order = next_order_++;
  r.tag = tag;
  r.data = std::move(data);
  if (it->second.empty()) ready_.emplace(r.order, &it->first);
  it->second.push_back(std::move(r));
  ++buffered_;
  while (ready_.size() >= options_.max_batch_records ||
         buffered_ >= options_.max_buffered_records) {
    RETURN_IF_ERROR(SendBatch());
  }
  return Status::Ok();
}

Status Producer::Flush() {
  if (!failed_.ok()) return failed_;
  while (buffered_ > 0) RETURN_IF_ERROR(SendBatch());
  return Status::Ok();
}

Status Producer::SendBatch() {
  struct Entry {
    uint64_t order;
    const std::string* key;
  };
  std::vector<Entry> batch;
  std::string request = "{\"StreamName\":";
  json::AppendQuoted(options_.stream, &request);
  request.append(",\"Records\":[");
  size_t bytes = 0;
  for (const auto& [order, key] : ready_) {
    if (batch.size() >= options_.max_batch_records) break;
    const Record& r = by_key_.at(*key).front();
    const size_t size = r.data.size() + key->size();
    if (!batch.empty() && bytes + size > options_.max_batch_bytes) break;
    bytes += size;
    if (!batch.empty()) request.push_back(',');
    request.append("{\"Data\":\"");
    base64::EncodeAppend(r.data, &request);
    request.append("\",\"PartitionKey\":");
    json::AppendQuoted(*key, &request);
    request.push_back('}');
    batch.push_back({order, key});
  }
  request.append("]}");
  if (batch.empty()) return Status::Ok();

  auto fail = [&](Status s) {
    failed_ = std::move(s);
    return failed_;
  };
  auto reply = kinesis_->CallText("PutRecords", request);
  if (!reply.ok()) {
    const Status& s = reply.status();
    if (!Retryable(s.code())) {
      return fail(Status(
          s.code(), "PutRecords on " + options_.stream + ": " + s.message()));
    }
    if (++call_failures_ >= options_.max_call_failures) {
      return fail(Status(s.code(), "PutRecords on " + options_.stream +
                                       " failed " +
                                       std::to_string(call_failures_) +
                                       " times in a row: " + s.message()));
    }
    Backoff(call_failures_);
    return Status::Ok();
  }
  call_failures_ = 0;
  auto body = json::Parse(*reply);
  const json::Value* records =
      body.ok() && body->is_object() ? body->Find("Records") : nullptr;
  if (records == nullptr || !records->is_array() ||
      records->items().size() != batch.size()) {
    return fail(Unavailable("PutRecords on " + options_.stream +
                            ": a reply without one result per record"));
  }
  int worst = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const json::Value& result = records->items()[i];
    const auto entry = by_key_.find(*batch[i].key);
    const std::string& key = entry->first;
    KeyQueue& queue = entry->second;
    Record& r = queue.front();
    const json::Value* code = result.Find("ErrorCode");
    if (code != nullptr && !code->is_null()) {
      ++retried_;
      worst = std::max(worst, ++r.attempts);
      if (r.attempts >= options_.max_attempts) {
        const json::Value* m = result.Find("ErrorMessage");
        const std::string type = code->is_string() ? code->text() : "";
        Status s = StatusFromAwsError(
            400, type, m && m->is_string() ? m->text() : std::string());
        return fail(Status(
            Retryable(s.code()) ? s.code() : StatusCode::kUnavailable,
            "record " + std::to_string(r.tag) + " (partition key " + key +
                "): not stored after " + std::to_string(r.attempts) +
                " attempts: " + s.message()));
      }
      continue;
    }
    if (options_.on_delivered) {
      Delivery d;
      d.tag = r.tag;
      d.partition_key = key;
      if (const json::Value* v = result.Find("ShardId"); v && v->is_string()) {
        d.shard_id = v->text();
      }
      if (const json::Value* v = result.Find("SequenceNumber");
          v && v->is_string()) {
        d.sequence_number = v->text();
      }
      options_.on_delivered(d);
    }
    ++delivered_;
    --buffered_;
    ready_.erase({batch[i].order, batch[i].key});
    queue.pop_front();
    if (queue.empty()) {
      by_key_.erase(entry);
    } else {
      ready_.emplace(queue.front().order, &key);
    }
  }
  if (worst > 0) Backoff(worst);
  return Status::Ok();
}

}  // namespace riffle::client
