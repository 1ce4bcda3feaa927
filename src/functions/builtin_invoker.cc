#include "functions/builtin_invoker.h"

#include <future>
#include <memory>

namespace riffle::functions {

BatchOutcome AvroToTableInvoker::Invoke(const std::string& event_json) {
  (void)event_json;
  return BatchOutcome{
      Unimplemented("riffle:avro-to-table takes records, not JSON events"), "",
      ""};
}

BatchOutcome AvroToTableInvoker::InvokeRecords(
    const std::vector<const SourceRecord*>& records) {
  std::vector<std::string_view> messages;
  std::vector<BuiltinRecord> named;
  messages.reserve(records.size());
  named.reserve(records.size());
  for (const SourceRecord* r : records) {
    messages.push_back(r->data);
    named.push_back(BuiltinRecord{r->data, r->sequence_number});
  }
  auto promise = std::make_shared<std::promise<std::vector<Status>>>();
  std::future<std::vector<Status>> done = promise->get_future();
  engine_.Process(table_, messages, [promise](std::vector<Status> statuses) {
    promise->set_value(std::move(statuses));
  });
  std::vector<Status> statuses = done.get();
  BuiltinOutcome o = SummarizeBuiltin(named, statuses, report_item_failures_);
  return BatchOutcome{Status::Ok(), std::move(o.payload),
                      std::move(o.function_error)};
}

}  // namespace riffle::functions
