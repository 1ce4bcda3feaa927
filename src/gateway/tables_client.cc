#include "gateway/tables_client.h"

#include <utility>

namespace riffle::gateway {

void LocalTablesClient::DescribeKey(
    const std::string& table, const std::string& index,
    std::function<void(Result<tables::KeySchema>)> done) {
  auto t = tables_.DescribeTable(table);
  if (!t.ok()) return done(t.status());
  if (index.empty()) return done(t->spec.key);
  const tables::IndexSpec* i = t->FindIndex(index);
  if (!i) return done(NotFound("no index " + index + " on table " + table));
  done(i->key);
}

void LocalTablesClient::GetItem(
    const std::string& table, tables::Item key,
    std::function<void(Result<std::optional<tables::Item>>)> done) {
  done(tables_.GetItem(table, key, std::nullopt));
}

void LocalTablesClient::Query(
    tables::QueryRequest request,
    std::function<void(Result<tables::ReadResult>)> done) {
  if (!blocking_) return done(tables_.Query(request));
  blocking_->Post([this, request = std::move(request),
                   done = std::move(done)]() { done(tables_.Query(request)); });
}

}  // namespace riffle::gateway
