// `riffle tail` (record_commands.h).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/cli_http_client.h"
#include "app/cli_registry.h"
#include "app/record_commands.h"
#include "avro/codec.h"
#include "avro/framing.h"
#include "core/base64.h"
#include "json/json.h"

namespace riffle::app {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// One shard as the tail sees it.
struct TailShard {
  std::vector<std::string> parents;
  bool open = true;  // no ending sequence number when listed
  std::string iterator;
  std::string last_sequence;  // to resume after an expired iterator
  bool started = false;
  bool finished = false;     // read to its end (closed) or skipped
  bool from_latest = false;  // open when the tail started with --from latest
};

// Sleeps up to `ms`, waking early on Ctrl-C.
void Nap(int ms) {
  for (int i = 0; i < ms / 10 && !g_stop.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ErrorType(const http::ClientResponse& r) {
  if (auto j = json::Parse(r.body); j.ok() && j->is_object()) {
    if (const json::Value* t = j->Find("__type"); t && t->is_string()) {
      std::string type = t->text();
      if (size_t hash = type.rfind('#'); hash != std::string::npos) {
        type.erase(0, hash + 1);
      }
      return type;
    }
  }
  return "HTTP " + std::to_string(r.status);
}

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
  auto endpoint = http::ParseUrl(endpoint_);
  if (!endpoint.ok()) return fail(endpoint.status().message());
  auto registry_url = http::ParseUrl(registry_);
  if (!registry_url.ok()) return fail(registry_url.status().message());
  CliRegistryClient registry(*registry_url);
  AwsJsonClient kinesis(*endpoint, "kinesis", "Kinesis_20131202", "1.1");
  const avro::JsonFormat format =
      format_ == "json" ? avro::JsonFormat::kPlain : avro::JsonFormat::kAvro;

  // Ctrl-C ends the tail cleanly (stdout flushed, exit 0). No SA_RESTART:
  // a blocking read returns at once.
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::map<std::string, TailShard> shards;  // by id: ids sort by creation
  bool first_listing = true;
  // Adds shards the stream has gained (every shard on the first call).
  auto list = [&]() -> Status {
    std::string token;
    do {
      std::string request = "{";
      if (token.empty()) {
        request.append("\"StreamName\":");
        json::AppendQuoted(stream_, &request);
      } else {
        request.append("\"NextToken\":");
        json::AppendQuoted(token, &request);
      }
      request.push_back('}');
      ASSIGN_OR_RETURN(http::ClientResponse r,
                       kinesis.Call("ListShards", request));
      if (r.status != 200) {
        return Unavailable("ListShards on " + stream_ + ": " + ErrorType(r) +
                           " " + r.body);
      }
      ASSIGN_OR_RETURN(json::Value body, json::Parse(r.body));
      token.clear();
      if (const json::Value* t = body.Find("NextToken"); t && t->is_string()) {
        token = t->text();
      }
      const json::Value* list = body.Find("Shards");
      if (list == nullptr || !list->is_array()) break;
      for (const json::Value& s : list->items()) {
        const json::Value* id = s.Find("ShardId");
        if (id == nullptr || !id->is_string()) continue;
        if (shards.count(id->text())) continue;
        TailShard shard;
        for (const char* p : {"ParentShardId", "AdjacentParentShardId"}) {
          if (const json::Value* v = s.Find(p); v && v->is_string()) {
            shard.parents.push_back(v->text());
          }
        }
        const json::Value* range = s.Find("SequenceNumberRange");
        const json::Value* end =
            range ? range->Find("EndingSequenceNumber") : nullptr;
        shard.open = end == nullptr || end->is_null();
        // --from latest: what is already closed is history, skipped.
        if (first_listing && from_ == "latest") {
          shard.finished = !shard.open;
          shard.from_latest = shard.open;
        }
        shards.emplace(id->text(), std::move(shard));
      }
    } while (!token.empty());
    first_listing = false;
    return Status::Ok();
  };
  if (Status s = list(); !s.ok()) return fail(s.message());

  auto get_iterator = [&](const std::string& id, TailShard& shard,
                          bool latest) -> Status {
    std::string request = "{\"StreamName\":";
    json::AppendQuoted(stream_, &request);
    request.append(",\"ShardId\":");
    json::AppendQuoted(id, &request);
    if (!shard.last_sequence.empty()) {
      request.append(
          ",\"ShardIteratorType\":\"AFTER_SEQUENCE_NUMBER\","
          "\"StartingSequenceNumber\":");
      json::AppendQuoted(shard.last_sequence, &request);
    } else {
      request.append(",\"ShardIteratorType\":");
      request.append(latest ? "\"LATEST\"" : "\"TRIM_HORIZON\"");
    }
    request.push_back('}');
    ASSIGN_OR_RETURN(http::ClientResponse r,
                     kinesis.Call("GetShardIterator", request));
    if (r.status != 200) {
      return Unavailable("GetShardIterator on " + id + ": " + ErrorType(r));
    }
    ASSIGN_OR_RETURN(json::Value body, json::Parse(r.body));
    const json::Value* it = body.Find("ShardIterator");
    if (it == nullptr || !it->is_string()) {
      return Unavailable("GetShardIterator on " + id + ": no iterator");
    }
    shard.iterator = it->text();
    shard.started = true;
    return Status::Ok();
  };

  std::map<uint32_t, std::shared_ptr<const avro::Decoder>> decoders;
  int64_t printed = 0;
  std::string out;
  auto relist_at = Clock::now() + std::chrono::seconds(2);
  while (!g_stop.load() && (max_ == 0 || printed < max_)) {
    bool got_records = false;
    bool shard_closed = false;
    for (auto& [id, shard] : shards) {
      if (g_stop.load() || (max_ != 0 && printed >= max_)) break;
      if (shard.finished) continue;
      if (!shard.started) {
        // Parents before children: a child starts once every parent that
        // is still listed has been read to its end.
        bool ready = true;
        for (const std::string& p : shard.parents) {
          auto it = shards.find(p);
          if (it != shards.end() && !it->second.finished) ready = false;
        }
        if (!ready) continue;
        // Shards created after the tail started are read from their start.
        if (Status s = get_iterator(id, shard, shard.from_latest); !s.ok()) {
          return fail(s.message());
        }
      }
      std::string request = "{\"ShardIterator\":";
      json::AppendQuoted(shard.iterator, &request);
      request.append(",\"Limit\":1000}");
      auto r = kinesis.Call("GetRecords", request);
      if (!r.ok()) {
        if (g_stop.load()) break;
        return fail(r.status().message());
      }
      if (r->status != 200) {
        const std::string type = ErrorType(*r);
        if (type == "ExpiredIteratorException") {
          shard.started = false;
          continue;
        }
        if (r->status >= 500 ||
            type == "ProvisionedThroughputExceededException") {
          Nap(200);
          continue;
        }
        return fail("GetRecords on " + id + ": " + type + " " + r->body);
      }
      auto body = json::Parse(r->body);
      if (!body.ok()) return fail("GetRecords on " + id + ": bad reply");
      out.clear();
      if (const json::Value* records = body->Find("Records");
          records && records->is_array()) {
        for (const json::Value& rec : records->items()) {
          if (max_ != 0 && printed >= max_) break;
          const json::Value* seq = rec.Find("SequenceNumber");
          if (seq && seq->is_string()) shard.last_sequence = seq->text();
          got_records = true;
          const json::Value* data = rec.Find("Data");
          auto bytes = data && data->is_string() ? base64::Decode(data->text())
                                                 : std::nullopt;
          auto framed =
              bytes
                  ? avro::ParseConfluent(*bytes)
                  : Result<avro::ConfluentMessage>(InvalidArgument("no data"));
          Status s = framed.status();
          if (s.ok()) {
            auto d = decoders.find(framed->schema_id);
            if (d == decoders.end()) {
              auto schema = registry.ById(framed->schema_id);
              // An unknown id is this record's problem; an unreachable
              // registry is everyone's.
              if (!schema.ok() &&
                  schema.status().code() != StatusCode::kNotFound) {
                return fail(schema.status().message());
              }
              if (schema.ok()) {
                auto decoder = avro::Decoder::Create(*schema);
                if (!decoder.ok()) return fail(decoder.status().message());
                d = decoders.emplace(framed->schema_id, *decoder).first;
              } else {
                s = schema.status();
              }
            }
            if (d != decoders.end()) {
              const size_t mark = out.size();
              s = d->second->DecodeJsonExact(framed->payload, format, &out);
              if (s.ok()) {
                out.push_back('\n');
                ++printed;
              } else {
                out.resize(mark);
              }
            }
          }
          if (!s.ok()) {
            // Not ours to judge: the stream may carry other data too.
            std::fprintf(stderr,
                         "riffle tail: shard %s record %s: cannot decode: "
                         "%s\n",
                         id.c_str(), shard.last_sequence.c_str(),
                         s.message().c_str());
          }
        }
      }
      if (!out.empty()) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
      }
      const json::Value* next = body->Find("NextShardIterator");
      if (next == nullptr || !next->is_string()) {
        shard.finished = true;  // closed and read to its end
        shard_closed = true;
      } else {
        shard.iterator = next->text();
      }
    }
    if (shard_closed || Clock::now() >= relist_at) {
      // New shards appear when the stream is resharded.
      if (Status s = list(); !s.ok()) return fail(s.message());
      relist_at = Clock::now() + std::chrono::seconds(2);
    }
    if (!got_records && !shard_closed) Nap(250);
  }
  return 0;
}

}  // namespace riffle::app
