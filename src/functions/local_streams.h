// In-process implementations of the stream interfaces of shard_processor.h
// (RecordSource, FailureDestination): direct calls into this riffle's
// streams::Service. remote_clients.h has the HTTP ones (any Kinesis
// endpoint), for `riffle worker`.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "functions/shard_processor.h"

namespace riffle::streams {
class Service;
}

namespace riffle::functions {

// Reads one stream of the in-process streams service. Thread-safe.
class StreamsRecordSource : public RecordSource {
 public:
  StreamsRecordSource(streams::Service& streams, std::string stream_name)
      : streams_(streams), stream_(std::move(stream_name)) {}
  ~StreamsRecordSource() override;
  Result<std::vector<ShardInfo>> ListShards() override;
  Result<std::string> GetIterator(const std::string& shard_id,
                                  IteratorStart start,
                                  const std::string& sequence_number,
                                  int64_t timestamp_ms) override;
  Result<ReadResult> Read(const std::string& iterator, int limit) override;
  // Through the streams service's append listeners.
  void Watch(std::function<void(const std::string&)> on_append) override;

 private:
  streams::Service& streams_;
  const std::string stream_;
  std::mutex watch_mu_;       // serializes Watch calls
  uint64_t watch_token_ = 0;  // 0: not watching
};

// Puts failure records on a stream, waiting until they are durable.
// Thread-safe.
class StreamFailureDestination : public FailureDestination {
 public:
  StreamFailureDestination(streams::Service& streams, std::string stream_name)
      : streams_(streams), stream_(std::move(stream_name)) {}
  Status Send(const std::string& failure_record_json) override;

 private:
  streams::Service& streams_;
  const std::string stream_;
};

}  // namespace riffle::functions
