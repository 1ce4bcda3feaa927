#include "functions/local_clients.h"

#include <atomic>
#include <mutex>

#include "avro/framing.h"
#include "registry/service.h"
#include "tables/service.h"

namespace riffle::functions {

Result<std::shared_ptr<const avro::Schema>>
LocalSchemaClient::GetAvroSchemaById(int id) {
  Result<std::shared_ptr<const registry::StoredSchema>> stored =
      registry_.GetSchemaById(id);
  if (!stored.ok()) {
    // The registry's own codes (40403) mean "no such id" to a reader.
    return NotFound("schema " + std::to_string(id) +
                    " not found in the registry: " + stored.status().message());
  }
  if ((*stored)->type != registry::SchemaType::kAvro || !(*stored)->avro)
    return FailedPrecondition("schema " + std::to_string(id) +
                              " is not an Avro schema");
  return (*stored)->avro;
}

Result<std::shared_ptr<const avro::Schema>>
LocalSchemaClient::GetAvroSchemaByGlueId(
    const std::array<uint8_t, 16>& schema_version_id) {
  return NotFound("Glue schema version " +
                  avro::UuidToString(schema_version_id) +
                  " is not known to riffle's registry (it has Confluent ids "
                  "only)");
}

Result<TableKey> LocalTablesClient::DescribeKey(const std::string& table) {
  ASSIGN_OR_RETURN(tables::TableDescription d, tables_.DescribeTable(table));
  TableKey key;
  key.hash = d.spec.key.hash.name;
  if (d.spec.key.range) key.range = d.spec.key.range->name;
  return key;
}

void LocalTablesClient::PutItems(const std::string& table,
                                 std::vector<tables::Item> items,
                                 PutCallback done) {
  if (items.empty()) return done({});
  struct State {
    std::vector<Status> statuses;
    std::atomic<size_t> left{0};
    PutCallback done;
  };
  auto state = std::make_shared<State>();
  state->statuses.resize(items.size());
  state->left.store(items.size());
  state->done = std::move(done);
  for (size_t i = 0; i < items.size(); ++i) {
    tables_.PutItem(
        table, std::move(items[i]), {},
        [state, i](Result<tables::WriteResult> r) {
          // Each slot is written by one callback only; the
          // acq_rel decrement publishes it to the last one.
          state->statuses[i] = r.status();
          if (state->left.fetch_sub(1, std::memory_order_acq_rel) == 1)
            state->done(std::move(state->statuses));
        });
  }
}

}  // namespace riffle::functions
