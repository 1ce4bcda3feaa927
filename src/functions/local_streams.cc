#include "functions/local_streams.h"

#include <future>
#include <memory>

#include "streams/service.h"

namespace riffle::functions {

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

}  // namespace riffle::functions
