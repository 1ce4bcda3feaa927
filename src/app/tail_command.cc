// `riffle tail` (record_commands.h), over src/client: the Consumer follows
// every shard (parents before children), the AvroDeserializer decodes
// through the registry.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "app/record_commands.h"
#include "client/avro_serde.h"
#include "client/aws_clients.h"
#include "client/consumer.h"
#include "client/registry_client.h"

namespace riffle::app {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

}  // namespace

TailCommand::TailCommand(CLI::App* app) {
  cmd_ = app->add_subcommand(
      "tail",
      "Print a stream's records as JSON lines, decoded with the registry");
  cmd_->add_option("--endpoint", endpoint_, "Kinesis API URL")
      ->capture_default_str();
  cmd_->add_option("--registry", registry_, "Schema registry URL")
      ->capture_default_str();
  cmd_->add_option("--stream", stream_, "Stream name")->required();
  cmd_->add_option("--from", from_, "Where to start in open shards")
      ->capture_default_str()
      ->check(CLI::IsMember({"trim-horizon", "latest"}));
  cmd_->add_option("--format", format_,
                   "json: riffle's plain projection; avro-json: the Avro "
                   "JSON encoding")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "avro-json"}));
  cmd_->add_option("--max", max_, "Exit after this many records (0: never)")
      ->check(CLI::NonNegativeNumber);
}

bool TailCommand::parsed() const { return cmd_->parsed(); }

int TailCommand::Run() {
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "riffle tail: %s\n", message.c_str());
    return 1;
  };
  auto endpoint = client::ParseAwsEndpoint(endpoint_);
  if (!endpoint.ok()) return fail(endpoint.status().message());
  auto registry_url = http::ParseUrl(registry_);
  if (!registry_url.ok()) return fail(registry_url.status().message());
  client::RegistryClient registry(*registry_url);
  client::AvroDeserializer deserializer(&registry);
  auto kinesis = client::NewKinesisClient(*endpoint);
  const avro::JsonFormat format =
      format_ == "json" ? avro::JsonFormat::kPlain : avro::JsonFormat::kAvro;

  // Ctrl-C ends the tail cleanly (stdout flushed, exit 0). No SA_RESTART:
  // a blocking read returns at once.
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  client::ConsumerOptions options;
  options.stream = stream_;
  options.start = from_ == "latest" ? client::StartAt::kLatest
                                    : client::StartAt::kTrimHorizon;
  client::Consumer consumer(kinesis.get(), options);
  int64_t printed = 0;
  std::string out;
  while (!g_stop.load() && (max_ == 0 || printed < max_)) {
    auto records = consumer.Poll(std::chrono::milliseconds(250));
    if (!records.ok()) {
      if (g_stop.load()) break;
      return fail(records.status().message());
    }
    out.clear();
    for (const client::ConsumedRecord& r : *records) {
      if (max_ != 0 && printed >= max_) break;
      Status s = deserializer.DecodeJson(r.data, format, &out);
      if (s.code() == StatusCode::kUnavailable) {
        // An unreachable registry is everyone's problem, not this record's.
        return fail(s.message());
      }
      if (!s.ok()) {
        // Not ours to judge: the stream may carry other data too.
        std::fprintf(
            stderr, "riffle tail: shard %s record %s: cannot decode: %s\n",
            r.shard_id.c_str(), r.sequence_number.c_str(), s.message().c_str());
        continue;
      }
      out.push_back('\n');
      ++printed;
    }
    if (!out.empty()) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace riffle::app
