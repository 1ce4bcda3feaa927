// In-process implementations of the client interfaces of clients.h: direct
// calls into this riffle's registry::Service and tables::Service.
#pragma once

#include "functions/clients.h"

namespace riffle::registry {
class Service;
}
namespace riffle::tables {
class Service;
}

namespace riffle::functions {

// Borrows the registry, which must outlive it. Thread-safe; never blocks
// (the registry answers reads from memory).
class LocalSchemaClient : public SchemaClient {
 public:
  explicit LocalSchemaClient(registry::Service& registry)
      : registry_(registry) {}
  Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaById(
      int id) override;
  // riffle's registry has integer ids only (Confluent's model), so a Glue
  // schema version id is never found here.
  Result<std::shared_ptr<const avro::Schema>> GetAvroSchemaByGlueId(
      const std::array<uint8_t, 16>& schema_version_id) override;

 private:
  registry::Service& registry_;
};

// Borrows the tables service, which must outlive it (and every callback of
// PutItems, which run on the store's commit thread). Thread-safe.
class LocalTablesClient : public TablesClient {
 public:
  explicit LocalTablesClient(tables::Service& tables) : tables_(tables) {}
  Result<TableKey> DescribeKey(const std::string& table) override;
  // One PutItem per item, issued together so that the store commits them
  // in one group (one sync).
  void PutItems(const std::string& table, std::vector<tables::Item> items,
                PutCallback done) override;
  // CreateTable is a durable metadata write: these block.
  Status CreateTableIfMissing(const std::string& table,
                              const std::string& hash_key) override;
  Status DeleteTableIfExists(const std::string& table) override;
  Result<std::optional<tables::Item>> GetItem(const std::string& table,
                                              const tables::Item& key) override;
  Result<std::vector<tables::Item>> ScanAll(const std::string& table) override;
  Status PutItem(const std::string& table, tables::Item item,
                 const Expressions& expressions) override;
  Status UpdateItem(const std::string& table, tables::Item key,
                    const Expressions& expressions) override;

 private:
  tables::Service& tables_;
};

}  // namespace riffle::functions
