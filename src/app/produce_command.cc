// `riffle produce` (record_commands.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>

#include "app/cli_http_client.h"
#include "app/cli_registry.h"
#include "app/record_commands.h"
#include "avro/framing.h"
#include "avro/json_codec.h"
#include "core/base64.h"
#include "json/json.h"

namespace riffle::app {
namespace {

using Clock = std::chrono::steady_clock;

// Kinesis limits on one PutRecords call.
constexpr size_t kMaxBatchRecords = 500;
constexpr size_t kMaxBatchBytes = 5 << 20;
// Records read ahead of the stream: enough to fill batches while some keys
// wait for a retry, bounded so a huge input is streamed, not loaded.
constexpr size_t kReadAhead = 20'000;
// A record failing this many times in a row (throttling that never ends, a
// server-side fault) stops the command rather than retrying forever.
constexpr int kMaxAttempts = 30;
constexpr int kMaxCallFailures = 10;

struct PendingRecord {
  std::string data;  // framed Avro
  std::string key;   // partition key
  size_t line = 0;
  int attempts = 0;
  bool done = false;
};

// Sleeps for attempt `n` (1-based): 50 ms doubling to 2 s, with jitter so
// that several producers throttled together do not retry in step.
void Backoff(int n) {
  static std::mt19937 rng{std::random_device{}()};
  const int base = std::min(2000, 50 << std::min(n - 1, 6));
  std::uniform_int_distribution<int> jitter(base / 2, base);
  std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
}

// True for errors that a later retry can cure (AWS's throttling and
// server-side faults).
bool Retryable(int status, std::string_view type) {
  return status >= 500 ||
         type.find("ProvisionedThroughputExceeded") != std::string::npos ||
         type.find("Throttling") != std::string::npos ||
         type.find("LimitExceeded") != std::string::npos ||
         type.find("KMSThrottling") != std::string::npos;
}

// "__type" and "message" of an AWS JSON error body.
std::string AwsError(const http::ClientResponse& r, std::string* type) {
  std::string message = r.body;
  if (auto j = json::Parse(r.body); j.ok() && j->is_object()) {
    if (const json::Value* t = j->Find("__type"); t && t->is_string()) {
      *type = t->text();
      if (size_t hash = type->rfind('#'); hash != std::string::npos) {
        type->erase(0, hash + 1);
      }
    }
    for (const char* name : {"message", "Message"}) {
      if (const json::Value* m = j->Find(name); m && m->is_string()) {
        message = m->text();
      }
    }
  }
  return "HTTP " + std::to_string(r.status) + " " + *type + ": " + message;
}

// Redraws the progress line (stderr is a terminal).
void ShowProgress(size_t put, Clock::time_point start, bool final) {
  const double secs =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "\r%zu records put, %.0f records/s   %s", put,
               secs > 0 ? static_cast<double>(put) / secs : 0.0,
               final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace

ProduceCommand::ProduceCommand(CLI::App* app) {
  cmd_ = app->add_subcommand(
      "produce",
      "Encode JSON lines from stdin as Avro and put them on a stream");
  cmd_->add_option("--endpoint", endpoint_, "Kinesis API URL")
      ->capture_default_str();
  cmd_->add_option("--registry", registry_, "Schema registry URL")
      ->capture_default_str();
  cmd_->add_option("--stream", stream_, "Stream name")->required();
  cmd_->add_option("--subject", subject_, "Registry subject of the schema")
      ->required();
  cmd_->add_option("--schema", schema_file_,
                   "Register this .avsc under the subject first");
  cmd_->add_option("--partition-key-field", partition_key_field_,
                   "Top-level field whose value is the partition key "
                   "(default: the line number)");
  cmd_->add_option("--batch-size", batch_size_, "Records per PutRecords")
      ->capture_default_str()
      ->check(CLI::Range(1, 500));
}

bool ProduceCommand::parsed() const { return cmd_->parsed(); }

int ProduceCommand::Run() {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "riffle produce: %s\n", message.c_str());
    return 1;
  };
  auto endpoint = http::ParseUrl(endpoint_);
  if (!endpoint.ok()) return fail(endpoint.status().message());
  auto registry_url = http::ParseUrl(registry_);
  if (!registry_url.ok()) return fail(registry_url.status().message());

  CliRegistryClient registry(*registry_url);
  Result<RegisteredSchema> schema = NotFound("");
  if (!schema_file_.empty()) {
    std::ifstream in(schema_file_);
    if (!in) return fail("cannot read " + schema_file_);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    schema = registry.Register(subject_, text);
  } else {
    schema = registry.Latest(subject_);
    if (!schema.ok() && schema.status().code() == StatusCode::kNotFound) {
      return fail("subject " + subject_ +
                  " has no schema; register one with --schema FILE (" +
                  schema.status().message() + ")");
    }
  }
  if (!schema.ok()) return fail(schema.status().message());

  AwsJsonClient kinesis(*endpoint, "kinesis", "Kinesis_20131202", "1.1");
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto start = Clock::now();
  auto last_progress = start;

  std::deque<PendingRecord> pending;
  size_t line_no = 0;
  bool eof = false;
  std::string bad_line;  // the error of the first bad record, when any
  size_t put = 0;
  int call_failures = 0;
  std::string line;
  std::string request;

  // Reads and encodes lines until the read-ahead is full, the input ends or
  // a record does not match the schema (reading stops there: the records
  // before it are still put, so the stream holds a prefix of the input).
  auto read_more = [&] {
    while (!eof && bad_line.empty() && pending.size() < kReadAhead) {
      if (!std::getline(std::cin, line)) {
        eof = true;
        break;
      }
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      PendingRecord r;
      r.line = line_no;
      avro::AppendConfluentHeader(schema->id, &r.data);
      Status s = avro::JsonToBinary(*schema->schema, line,
                                    avro::JsonFormat::kPlain, &r.data);
      if (!s.ok()) {
        bad_line = "line " + std::to_string(line_no) +
                   ": does not match the schema of " + subject_ + " (id " +
                   std::to_string(schema->id) + "): " + s.message();
        break;
      }
      if (partition_key_field_.empty()) {
        r.key = std::to_string(line_no);
      } else {
        auto j = json::Parse(line);
        const json::Value* v =
            j.ok() && j->is_object() ? j->Find(partition_key_field_) : nullptr;
        if (v != nullptr && (v->is_string() || v->is_number())) {
          r.key = v->text();
        }
        if (r.key.empty() || r.key.size() > 256) {
          bad_line = "line " + std::to_string(line_no) + ": field " +
                     partition_key_field_ +
                     " must be a string or number of 1 to 256 characters "
                     "(it is the partition key)";
          break;
        }
      }
      pending.push_back(std::move(r));
    }
  };

  for (;;) {
    read_more();
    if (pending.empty()) break;
    // Invariant: at most one record per partition key is in flight, and it
    // is the oldest unsent record of its key. A record that fails is
    // retried before any later record of its key is sent, so each key's
    // records reach the stream in input order (PutRecords may fail some
    // records of a call and store the others).
    std::vector<PendingRecord*> batch;
    std::unordered_set<std::string_view> keys;
    size_t bytes = 0;
    for (PendingRecord& r : pending) {
      if (batch.size() >= static_cast<size_t>(batch_size_) ||
          batch.size() >= kMaxBatchRecords) {
        break;
      }
      if (!keys.insert(r.key).second) continue;
      const size_t size = r.data.size() + r.key.size();
      if (!batch.empty() && bytes + size > kMaxBatchBytes) break;
      bytes += size;
      batch.push_back(&r);
    }
    request = "{\"StreamName\":";
    json::AppendQuoted(stream_, &request);
    request.append(",\"Records\":[");
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i > 0) request.push_back(',');
      request.append("{\"Data\":\"");
      base64::EncodeAppend(batch[i]->data, &request);
      request.append("\",\"PartitionKey\":");
      json::AppendQuoted(batch[i]->key, &request);
      request.push_back('}');
    }
    request.append("]}");

    auto response = kinesis.Call("PutRecords", request);
    std::string type;
    if (!response.ok() || response->status != 200) {
      const std::string why = response.ok() ? AwsError(*response, &type)
                                            : response.status().message();
      if (response.ok() && !Retryable(response->status, type)) {
        return fail("PutRecords on " + stream_ + ": " + why);
      }
      if (++call_failures > kMaxCallFailures) {
        return fail("PutRecords on " + stream_ + " keeps failing: " + why);
      }
      Backoff(call_failures);
      continue;
    }
    call_failures = 0;
    auto body = json::Parse(response->body);
    const json::Value* records =
        body.ok() && body->is_object() ? body->Find("Records") : nullptr;
    if (records == nullptr || !records->is_array() ||
        records->items().size() != batch.size()) {
      return fail("PutRecords on " + stream_ + ": unexpected reply");
    }
    int worst = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      const json::Value* code = records->items()[i].Find("ErrorCode");
      if (code == nullptr || code->is_null()) {
        batch[i]->done = true;
        ++put;
        continue;
      }
      PendingRecord& r = *batch[i];
      worst = std::max(worst, ++r.attempts);
      if (r.attempts >= kMaxAttempts) {
        const json::Value* m = records->items()[i].Find("ErrorMessage");
        return fail("line " + std::to_string(r.line) + ": put failed " +
                    std::to_string(r.attempts) + " times: " + code->text() +
                    (m && m->is_string() ? ": " + m->text() : ""));
      }
    }
    std::erase_if(pending, [](const PendingRecord& r) { return r.done; });
    if (worst > 0) Backoff(worst);
    if (tty && Clock::now() - last_progress > std::chrono::milliseconds(200)) {
      last_progress = Clock::now();
      ShowProgress(put, start, false);
    }
  }
  if (tty) ShowProgress(put, start, true);
  const double secs =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr,
               "put %zu records on stream %s (subject %s, schema id %u) in "
               "%.2f s\n",
               put, stream_.c_str(), subject_.c_str(), schema->id, secs);
  if (!bad_line.empty()) return fail(bad_line);
  return 0;
}

}  // namespace riffle::app
