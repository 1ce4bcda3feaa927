#include "functions/local_clients.h"

#include <atomic>
#include <future>
#include <mutex>

#include "avro/framing.h"
#include "registry/service.h"
#include "tables/expressions.h"
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

Status LocalTablesClient::CreateTableIfMissing(const std::string& table,
                                               const std::string& hash_key) {
  tables::TableSpec spec;
  spec.name = table;
  spec.key.hash = tables::KeyElement{hash_key, tables::AttributeType::kS};
  spec.attributes.push_back(spec.key.hash);
  spec.billing_mode = "PAY_PER_REQUEST";
  Result<tables::TableDescription> r = tables_.CreateTable(spec);
  if (r.ok() || r.status().code() == StatusCode::kAlreadyExists)
    return Status::Ok();
  return r.status();
}

Status LocalTablesClient::DeleteTableIfExists(const std::string& table) {
  Result<tables::TableDescription> r = tables_.DeleteTable(table);
  if (r.ok() || r.status().code() == StatusCode::kNotFound) return Status::Ok();
  return r.status();
}

Result<std::optional<tables::Item>> LocalTablesClient::GetItem(
    const std::string& table, const tables::Item& key) {
  return tables_.GetItem(table, key, std::nullopt);
}

Result<std::vector<tables::Item>> LocalTablesClient::ScanAll(
    const std::string& table) {
  std::vector<tables::Item> out;
  tables::ScanRequest request;
  request.table = table;
  while (true) {
    ASSIGN_OR_RETURN(tables::ReadResult page, tables_.Scan(request));
    for (auto& item : page.items) out.push_back(std::move(item));
    if (!page.last_evaluated_key) break;
    request.exclusive_start_key = std::move(page.last_evaluated_key);
  }
  return out;
}

namespace {

// Parses the condition of `e` (if any) into `write`.
Status ParseWrite(const TablesClient::Expressions& e,
                  tables::ExpressionAttributes& attributes,
                  tables::ConditionalWrite* write) {
  if (e.condition.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(
      tables::Condition c,
      tables::ParseCondition(e.condition, tables::ConditionUse::kCondition,
                             attributes));
  write->condition = std::move(c);
  return Status::Ok();
}

Status Wait(const std::function<void(tables::Service::WriteCallback)>& call) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> done = promise->get_future();
  call([promise](Result<tables::WriteResult> r) {
    promise->set_value(r.status());
  });
  return done.get();
}

}  // namespace

Status LocalTablesClient::PutItem(const std::string& table, tables::Item item,
                                  const Expressions& expressions) {
  tables::ExpressionAttributes attributes(expressions.names,
                                          expressions.values);
  tables::ConditionalWrite write;
  RETURN_IF_ERROR(ParseWrite(expressions, attributes, &write));
  return Wait([&](tables::Service::WriteCallback done) {
    tables_.PutItem(table, std::move(item), std::move(write), std::move(done));
  });
}

Status LocalTablesClient::UpdateItem(const std::string& table, tables::Item key,
                                     const Expressions& expressions) {
  tables::ExpressionAttributes attributes(expressions.names,
                                          expressions.values);
  ASSIGN_OR_RETURN(tables::UpdateExpression update,
                   tables::ParseUpdate(expressions.update, attributes));
  tables::ConditionalWrite write;
  RETURN_IF_ERROR(ParseWrite(expressions, attributes, &write));
  return Wait([&](tables::Service::WriteCallback done) {
    tables_.UpdateItem(table, std::move(key), std::move(update),
                       std::move(write), std::move(done));
  });
}

}  // namespace riffle::functions
