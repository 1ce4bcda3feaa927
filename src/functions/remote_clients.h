// Remote implementations of the functions' client interfaces, over the
// public protocols (src/client: SigV4-signed Kinesis and DynamoDB JSON
// APIs, Confluent REST): what `riffle worker` runs on, against a riffle
// server, AWS, or any compatible endpoint. The in-process ones are
// local_clients.h and local_streams.h.
//
// Every call blocks on its HTTP exchange; the interfaces' callers run them
// on mapping threads, never on network threads.
#pragma once

#include <memory>
#include <string>

#include "client/aws_clients.h"
#include "client/registry_client.h"
#include "functions/clients.h"
#include "functions/shard_processor.h"

namespace riffle::functions {

// Reads one stream through the Kinesis API (ListShards, GetShardIterator,
// GetRecords). Borrows `kinesis`, which must outlive it. Thread-safe.
//
// No Watch: a remote stream cannot signal appends, so an idle shard is read
// again after the mapping's poll interval (`riffle worker --poll-ms`,
// 250 ms by default): that interval bounds the added latency of the first
// record after a quiet spell, while a busy shard reads back to back. AWS
// allows 5 GetRecords per second per shard, shared by every consumer.
class RemoteRecordSource : public RecordSource {
 public:
  RemoteRecordSource(client::AwsJsonClient& kinesis, std::string stream_name)
      : kinesis_(kinesis), stream_(std::move(stream_name)) {}
  Result<std::vector<ShardInfo>> ListShards() override;
  Result<std::string> GetIterator(const std::string& shard_id,
                                  IteratorStart start,
                                  const std::string& sequence_number,
                                  int64_t timestamp_ms) override;
  Result<ReadResult> Read(const std::string& iterator, int limit) override;

 private:
  client::AwsJsonClient& kinesis_;
  const std::string stream_;
};

// Puts failure records on a stream with PutRecord. Borrows `kinesis`.
// Thread-safe.
class RemoteFailureDestination : public FailureDestination {
 public:
  RemoteFailureDestination(client::AwsJsonClient& kinesis,
                           std::string stream_name)
      : kinesis_(kinesis), stream_(std::move(stream_name)) {}
  Status Send(const std::string& failure_record_json) override;

 private:
  client::AwsJsonClient& kinesis_;
  const std::string stream_;
};

// Tables through the DynamoDB API. Borrows `dynamodb`. Thread-safe.
// PutItems sends BatchWriteItem requests of up to 25 items, re-sending
// UnprocessedItems with backoff; it completes before it returns (on the
// calling thread), which the interface allows for a caller that waits.
class RemoteTablesClient : public TablesClient {
 public:
  explicit RemoteTablesClient(client::AwsJsonClient& dynamodb)
      : dynamodb_(dynamodb) {}
  Result<TableKey> DescribeKey(const std::string& table) override;
  void PutItems(const std::string& table, std::vector<tables::Item> items,
                PutCallback done) override;
  Status CreateTableIfMissing(const std::string& table,
                              const std::string& hash_key) override;
  Result<std::optional<tables::Item>> GetItem(const std::string& table,
                                              const tables::Item& key) override;
  Result<std::vector<tables::Item>> ScanAll(const std::string& table) override;
  Status PutItem(const std::string& table, tables::Item item,
                 const Expressions& expressions) override;
  Status UpdateItem(const std::string& table, tables::Item key,
                    const Expressions& expressions) override;

 private:
  client::AwsJsonClient& dynamodb_;
};

// Writer schemas from a Confluent registry. Borrows `registry` (which
// caches by id). Thread-safe.
class RemoteSchemaClient : public SchemaClient {
 public:
  explicit RemoteSchemaClient(client::RegistryClient& registry)
      : registry_(registry) {}
  Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaById(
      int id) override;
  // A Confluent registry has no Glue schema version ids: NotFound.
  Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaByGlueId(
      const std::array<uint8_t, 16>& schema_version_id) override;

 private:
  client::RegistryClient& registry_;
};

}  // namespace riffle::functions
