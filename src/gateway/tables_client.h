// The tables client interface through which the gateway reads (DESIGN.md:
// the gateway sees tables only through client interfaces), and its
// in-process implementation over tables::Service. A remote implementation
// (HTTP to any DynamoDB endpoint) plugs in here for a scaled-out read tier.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "tables/service.h"

namespace riffle::gateway {

// Read-only DynamoDB-style access. Thread-safe. Every call completes
// through its callback exactly once, from any thread (possibly before the
// call returns); none blocks the calling thread, so the gateway can call
// from a network thread.
//
// Status codes: NotFound for a missing table or index, InvalidArgument for
// a request the table rejects (e.g. a key of the wrong type), Unavailable
// when the backend cannot be reached (retry).
class TablesClient {
 public:
  virtual ~TablesClient() = default;

  // The key schema of `table`, or of its index `index` when not empty.
  virtual void DescribeKey(
      const std::string& table, const std::string& index,
      std::function<void(Result<tables::KeySchema>)> done) = 0;
  // The item with primary key `key`; an empty optional when absent.
  virtual void GetItem(
      const std::string& table, tables::Item key,
      std::function<void(Result<std::optional<tables::Item>>)> done) = 0;
  // One page of a Query.
  virtual void Query(tables::QueryRequest request,
                     std::function<void(Result<tables::ReadResult>)> done) = 0;
};

// Borrows `tables` and `blocking`, which must outlive it and every call in
// flight. Thread-safe. DescribeKey and GetItem run on the calling thread: a
// point read comes from the memtable or block cache in the common case, as
// the DynamoDB adapter serves GetItem on network threads. Query may walk
// many blocks (a page of up to 1 MB), so it runs on `blocking` when given,
// as the DynamoDB adapter's Query does (DESIGN.md: no disk waits on network
// threads); without a pool it runs inline (tests).
class LocalTablesClient : public TablesClient {
 public:
  explicit LocalTablesClient(tables::Service& tables,
                             ThreadPool* blocking = nullptr)
      : tables_(tables), blocking_(blocking) {}

  void DescribeKey(
      const std::string& table, const std::string& index,
      std::function<void(Result<tables::KeySchema>)> done) override;
  void GetItem(
      const std::string& table, tables::Item key,
      std::function<void(Result<std::optional<tables::Item>>)> done) override;
  void Query(tables::QueryRequest request,
             std::function<void(Result<tables::ReadResult>)> done) override;

 private:
  tables::Service& tables_;
  ThreadPool* const blocking_;
};

}  // namespace riffle::gateway
