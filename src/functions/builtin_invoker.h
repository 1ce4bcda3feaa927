// riffle:avro-to-table as a BatchInvoker of its own, without
// functions::Service: what `riffle worker` runs, where the function is a
// definition from a stack file rather than a stored function.
#pragma once

#include <string>
#include <vector>

#include "functions/avro_to_table.h"
#include "functions/shard_processor.h"

namespace riffle::functions {

// Stores each batch in `table` through `engine` and answers as the
// built-in function does through the service (SummarizeBuiltin): with
// `report_item_failures` a partial-failure reply, else a function error
// when any record failed. Borrows `engine`, which must outlive it.
// Thread-safe (every shard of a mapping calls it).
class AvroToTableInvoker : public BatchInvoker {
 public:
  AvroToTableInvoker(AvroToTable& engine, std::string table,
                     bool report_item_failures)
      : engine_(engine),
        table_(std::move(table)),
        report_item_failures_(report_item_failures) {}

  // Only records are taken (AcceptsRecords): a JSON event is refused.
  BatchOutcome Invoke(const std::string& event_json) override;
  bool AcceptsRecords() override { return true; }
  // Blocks until every write of the batch is durable or failed.
  BatchOutcome InvokeRecords(
      const std::vector<const SourceRecord*>& records) override;

 private:
  AvroToTable& engine_;
  const std::string table_;
  const bool report_item_failures_;
};

}  // namespace riffle::functions
