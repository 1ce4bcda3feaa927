// `riffle produce` (record_commands.h), over src/client: the registry
// client and Avro serializer encode, the Producer batches, retries and
// keeps each key's order.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "app/record_commands.h"
#include "client/avro_serde.h"
#include "client/aws_clients.h"
#include "client/producer.h"
#include "client/registry_client.h"
#include "json/json.h"

namespace riffle::app {
namespace {

using Clock = std::chrono::steady_clock;

// Redraws the progress line (stderr is a terminal).
void ShowProgress(uint64_t put, Clock::time_point start, bool final) {
  const double secs =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr, "\r%llu records put, %.0f records/s   %s",
               static_cast<unsigned long long>(put),
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
  auto endpoint = client::ParseAwsEndpoint(endpoint_);
  if (!endpoint.ok()) return fail(endpoint.status().message());
  auto registry_url = http::ParseUrl(registry_);
  if (!registry_url.ok()) return fail(registry_url.status().message());

  client::RegistryClient registry(*registry_url);
  std::string schema_text;
  if (!schema_file_.empty()) {
    std::ifstream in(schema_file_);
    if (!in) return fail("cannot read " + schema_file_);
    schema_text.assign(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }
  auto serializer =
      client::AvroSerializer::Create(registry, subject_, schema_text);
  if (!serializer.ok()) {
    if (schema_text.empty() &&
        serializer.status().code() == StatusCode::kNotFound) {
      return fail("subject " + subject_ +
                  " has no schema; register one with --schema FILE (" +
                  serializer.status().message() + ")");
    }
    return fail(serializer.status().message());
  }
  const uint32_t schema_id = (*serializer)->schema_id();

  auto kinesis = client::NewKinesisClient(*endpoint);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto start = Clock::now();
  auto last_progress = start;
  client::ProducerOptions options;
  options.stream = stream_;
  options.max_batch_records = static_cast<size_t>(batch_size_);
  uint64_t put = 0;
  if (tty) {
    options.on_delivered = [&](const client::Delivery&) {
      ++put;
      if (Clock::now() - last_progress > std::chrono::milliseconds(200)) {
        last_progress = Clock::now();
        ShowProgress(put, start, false);
      }
    };
  }
  client::Producer producer(kinesis.get(), options);

  // Reads, encodes and puts line by line; reading stops at the first
  // record that does not match the schema, and the records before it are
  // still put, so the stream holds a prefix of the input.
  std::string bad_line;
  std::string line;
  size_t line_no = 0;
  Status status;
  while (status.ok() && std::getline(std::cin, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string data;
    Status s = (*serializer)->SerializeJson(line, &data);
    if (!s.ok()) {
      bad_line = "line " + std::to_string(line_no) +
                 ": does not match the schema of " + subject_ + " (id " +
                 std::to_string(schema_id) + "): " + s.message();
      break;
    }
    std::string key;
    if (partition_key_field_.empty()) {
      key = std::to_string(line_no);
    } else {
      auto j = json::Parse(line);
      const json::Value* v =
          j.ok() && j->is_object() ? j->Find(partition_key_field_) : nullptr;
      if (v != nullptr && (v->is_string() || v->is_number())) key = v->text();
      if (key.empty() || key.size() > 256) {
        bad_line = "line " + std::to_string(line_no) + ": field " +
                   partition_key_field_ +
                   " must be a string or number of 1 to 256 characters "
                   "(it is the partition key)";
        break;
      }
    }
    status = producer.Put(std::move(key), std::move(data), line_no);
  }
  if (status.ok()) status = producer.Flush();
  if (tty) ShowProgress(producer.delivered(), start, true);
  if (!status.ok()) {
    // The producer names records by their tag: the line number.
    return fail("PutRecords on " + stream_ + ": " + status.message());
  }
  const double secs =
      std::chrono::duration<double>(Clock::now() - start).count();
  std::fprintf(stderr,
               "put %llu records on stream %s (subject %s, schema id %u) in "
               "%.2f s, %llu re-sent after throttling or failures\n",
               static_cast<unsigned long long>(producer.delivered()),
               stream_.c_str(), subject_.c_str(), schema_id, secs,
               static_cast<unsigned long long>(producer.retried()));
  if (!bad_line.empty()) return fail(bad_line);
  return 0;
}

}  // namespace riffle::app
