// Load generator for the case-study pipeline: Avro payments put on a Kinesis
// stream, stored in a DynamoDB table by an event-source mapping with
// riffle:avro-to-table (bench/pipeline_bench.sh sets that up). Not a test:
// never part of `make test`.
//
//   latency     PutRecord at --rate records/s (open loop, paced over
//               --connections); for every acknowledged record, the time from
//               the acknowledgement until a BatchGetItem (ConsistentRead)
//               first finds its item. Prints p50/p90/p99/max.
//   throughput  PutRecords of --batch records as fast as the server takes
//               them for --seconds, spread evenly over --shards by
//               ExplicitHashKey; then one marker per shard, and the time
//               until every marker is readable: the records stored per
//               second end to end.
//
// Output: one JSON object. Requests are signed with a fixed header (riffle
// does not check signatures on loopback).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "avro/codec.h"
#include "avro/framing.h"
#include "avro/json_codec.h"
#include "avro/schema.h"
#include "core/base64.h"
#include "http_connection.h"

namespace riffle::bench {
namespace {

constexpr char kSchema[] = R"({"type": "record", "name": "Payment",
  "namespace": "com.example.payments", "fields": [
    {"name": "payment_id", "type": "string"},
    {"name": "account", "type": "string"},
    {"name": "amount_cents", "type": "long"},
    {"name": "currency", "type": {"type": "enum", "name": "Currency",
                                  "symbols": ["EUR", "USD", "GBP"]}},
    {"name": "fee", "type": "double"},
    {"name": "memo", "type": ["null", "string"], "default": null},
    {"name": "created_at", "type": {"type": "long",
                                    "logicalType": "timestamp-millis"}}]})";

struct Options {
  std::string mode = "latency";
  std::string host = "127.0.0.1";
  int port = 0;
  std::string stream;
  std::string table;
  int schema_id = 1;
  double rate = 1000;
  double seconds = 10;
  double warmup = 1;  // latency: seconds sent first and not measured
  int connections = 8;
  int batch = 500;
  int shards = 4;
  std::string tag = "run";
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(
      stderr,
      "pipeline_load: %s\n"
      "usage: pipeline_load --mode latency|throughput --endpoint "
      "http://127.0.0.1:PORT --stream S --table T --schema-id N\n"
      "       [--rate R] [--seconds S] [--warmup S] [--connections C]\n"
      "       [--batch B]\n"
      "       [--shards N] [--tag T]\n",
      why);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--mode") {
      o.mode = next();
    } else if (a == "--endpoint") {
      std::string e = next();
      if (e.rfind("http://", 0) == 0) e = e.substr(7);
      size_t colon = e.rfind(':');
      if (colon == std::string::npos) Usage("--endpoint needs a port");
      o.host = e.substr(0, colon);
      o.port = std::atoi(e.c_str() + colon + 1);
    } else if (a == "--stream") {
      o.stream = next();
    } else if (a == "--table") {
      o.table = next();
    } else if (a == "--schema-id") {
      o.schema_id = std::atoi(next().c_str());
    } else if (a == "--rate") {
      o.rate = std::atof(next().c_str());
    } else if (a == "--seconds") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "--warmup") {
      o.warmup = std::atof(next().c_str());
    } else if (a == "--connections") {
      o.connections = std::atoi(next().c_str());
    } else if (a == "--batch") {
      o.batch = std::atoi(next().c_str());
    } else if (a == "--shards") {
      o.shards = std::atoi(next().c_str());
    } else if (a == "--tag") {
      o.tag = next();
    } else {
      Usage(("unknown flag " + a).c_str());
    }
  }
  if (o.port <= 0 || o.stream.empty() || o.table.empty())
    Usage("--endpoint, --stream and --table are required");
  return o;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Request(const Options& o, bool kinesis, std::string_view op,
                    std::string_view body) {
  std::string r;
  r.reserve(body.size() + 512);
  r.append("POST / HTTP/1.1\r\nHost: ");
  r.append(o.host).append(":").append(std::to_string(o.port));
  r.append(kinesis ? "\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     "X-Amz-Target: Kinesis_20131202."
                   : "\r\nContent-Type: application/x-amz-json-1.0\r\n"
                     "X-Amz-Target: DynamoDB_20120810.");
  r.append(op);
  r.append(
      "\r\nX-Amz-Date: 20260101T000000Z\r\n"
      "Authorization: AWS4-HMAC-SHA256 "
      "Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=00\r\n"
      "Content-Length: ");
  r.append(std::to_string(body.size()));
  r.append("\r\n\r\n");
  r.append(body);
  return r;
}

std::string PaymentId(const Options& o, uint64_t i) {
  return "pay-" + o.tag + "-" + std::to_string(i);
}

// The Confluent-framed Avro payment `i`, base64 (Kinesis' Data).
std::string PaymentData(const Options& o, const avro::Schema& schema,
                        uint64_t i) {
  std::string json = "{\"payment_id\":\"" + PaymentId(o, i) +
                     "\",\"account\":\"acct-" + std::to_string(i % 97) +
                     "\",\"amount_cents\":" + std::to_string(1000 + i) +
                     ",\"currency\":\"EUR\",\"fee\":0.25,\"memo\":\"bench " +
                     std::to_string(i) + "\",\"created_at\":1700000000000}";
  std::string out;
  avro::AppendConfluentHeader(static_cast<uint32_t>(o.schema_id), &out);
  Status s = avro::JsonToBinary(schema, json, avro::JsonFormat::kPlain, &out);
  if (!s.ok()) Usage(s.ToString().c_str());
  return base64::Encode(out);
}

// Acknowledged records not yet seen in the table: id index -> ack time.
struct Pending {
  std::mutex mu;
  std::map<uint64_t, int64_t> acked;
  std::vector<int64_t> latencies_ns;
  std::atomic<uint64_t> put_errors{0};
};

// Looks for the items of up to 100 pending ids with one BatchGetItem;
// records the latency of those found. Returns how many were found.
size_t CheckOnce(const Options& o, HttpConnection& conn, Pending& pending) {
  std::vector<uint64_t> ids;
  {
    std::lock_guard l(pending.mu);
    for (auto& [id, t] : pending.acked) {
      ids.push_back(id);
      if (ids.size() == 100) break;
    }
  }
  if (ids.empty()) return 0;
  std::string body = "{\"RequestItems\":{\"" + o.table + "\":{\"Keys\":[";
  for (size_t k = 0; k < ids.size(); ++k) {
    if (k) body += ",";
    body += "{\"payment_id\":{\"S\":\"" + PaymentId(o, ids[k]) + "\"}}";
  }
  body +=
      "],\"ConsistentRead\":true,\"ProjectionExpression\":\"payment_id\"}}}";
  std::string req = Request(o, false, "BatchGetItem", body);
  std::string error;
  if (!conn.RoundTrip(req, 10000, &error) || conn.status() != 200) {
    std::fprintf(stderr, "BatchGetItem failed: %s %d\n", error.c_str(),
                 conn.status());
    conn.Connect(&error);
    return 0;
  }
  int64_t now = NowNs();
  std::string_view reply = conn.body();
  const std::string needle = "\"S\":\"pay-" + o.tag + "-";
  size_t found = 0;
  std::lock_guard l(pending.mu);
  for (size_t pos = reply.find(needle); pos != std::string_view::npos;
       pos = reply.find(needle, pos + 1)) {
    uint64_t id =
        std::strtoull(reply.data() + pos + needle.size(), nullptr, 10);
    auto it = pending.acked.find(id);
    if (it == pending.acked.end()) continue;
    pending.latencies_ns.push_back(std::max<int64_t>(0, now - it->second));
    pending.acked.erase(it);
    ++found;
  }
  return found;
}

double Percentile(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]) / 1e6;
}

int RunLatency(const Options& o, const avro::Schema& schema) {
  // The first --warmup seconds are sent but not measured (connections,
  // caches and the mapping's first batches settle).
  const uint64_t warm = static_cast<uint64_t>(o.rate * o.warmup);
  const uint64_t total = warm + static_cast<uint64_t>(o.rate * o.seconds);
  // Requests built up front, so that the senders only send.
  std::vector<std::string> requests(total);
  for (uint64_t i = 0; i < total; ++i)
    requests[i] =
        Request(o, true, "PutRecord",
                "{\"StreamName\":\"" + o.stream + "\",\"PartitionKey\":\"" +
                    PaymentId(o, i) + "\",\"Data\":\"" +
                    PaymentData(o, schema, i) + "\"}");
  Pending pending;
  std::atomic<bool> sending{true};
  std::atomic<uint64_t> behind{0};  // sends that started late by > 1 ms
  const int64_t start = NowNs() + 50'000'000;
  const double interval_ns = 1e9 / o.rate;
  std::vector<std::thread> senders;
  for (int c = 0; c < o.connections; ++c) {
    senders.emplace_back([&, c] {
      HttpConnection conn(o.host, o.port);
      std::string error;
      if (!conn.Connect(&error)) {
        std::fprintf(stderr, "connect: %s\n", error.c_str());
        std::exit(1);
      }
      for (uint64_t i = static_cast<uint64_t>(c); i < total;
           i += static_cast<uint64_t>(o.connections)) {
        int64_t due = start + static_cast<int64_t>(interval_ns * double(i));
        int64_t now = NowNs();
        if (now < due)
          std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        else if (now - due > 1'000'000)
          behind.fetch_add(1, std::memory_order_relaxed);
        if (!conn.RoundTrip(requests[i], 10000, &error) ||
            conn.status() != 200) {
          pending.put_errors.fetch_add(1);
          conn.Connect(&error);
          continue;
        }
        if (i < warm) continue;
        int64_t acked = NowNs();
        std::lock_guard l(pending.mu);
        pending.acked[i] = acked;
      }
    });
  }
  std::thread checker([&] {
    HttpConnection conn(o.host, o.port);
    std::string error;
    if (!conn.Connect(&error)) std::exit(1);
    int64_t give_up = 0;
    while (true) {
      size_t found = CheckOnce(o, conn, pending);
      if (!sending.load()) {
        std::lock_guard l(pending.mu);
        if (pending.acked.empty()) break;
        if (give_up == 0) give_up = NowNs() + 30'000'000'000;
        if (NowNs() > give_up) break;
      }
      if (found == 0)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  for (auto& t : senders) t.join();
  int64_t sent_ns = NowNs() - start;
  sending = false;
  checker.join();
  std::vector<int64_t>& lat = pending.latencies_ns;
  size_t seen = lat.size();
  double p50 = Percentile(lat, 0.50), p90 = Percentile(lat, 0.90),
         p99 = Percentile(lat, 0.99), max = Percentile(lat, 1.0);
  std::printf(
      "{\"mode\":\"latency\",\"target_rate\":%.0f,\"achieved_rate\":%.0f,"
      "\"records\":%llu,\"stored\":%zu,\"never_seen\":%zu,\"put_errors\":%llu,"
      "\"late_sends\":%llu,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,"
      "\"max_ms\":%.2f}\n",
      o.rate, double(total) / (double(sent_ns) / 1e9),
      static_cast<unsigned long long>(total - warm), seen, pending.acked.size(),
      static_cast<unsigned long long>(pending.put_errors.load()),
      static_cast<unsigned long long>(behind.load()), p50, p90, p99, max);
  return pending.acked.empty() && pending.put_errors == 0 ? 0 : 1;
}

// A hash key inside shard `s` of `n` uniform shards (AWS splits the 128-bit
// space evenly): the first key of its range plus one.
std::string HashKeyOfShard(int s, int n) {
  // 2^128 / n * s + 1, in decimal, by long division on a little big-int.
  std::vector<uint32_t> v = {0, 0, 0, 0, 1};  // 2^128, base 2^32, MSW first
  uint64_t rem = 0;
  for (uint32_t& d : v) {
    uint64_t cur = (rem << 32) | d;
    d = static_cast<uint32_t>(cur / static_cast<uint64_t>(n));
    rem = cur % static_cast<uint64_t>(n);
  }
  // times s, plus 1
  uint64_t carry = 1;
  for (auto it = v.rbegin(); it != v.rend(); ++it) {
    uint64_t cur = uint64_t{*it} * static_cast<uint64_t>(s) + carry;
    *it = static_cast<uint32_t>(cur);
    carry = cur >> 32;
  }
  std::string out;
  while (std::any_of(v.begin(), v.end(), [](uint32_t d) { return d != 0; })) {
    uint64_t r = 0;
    for (uint32_t& d : v) {
      uint64_t cur = (r << 32) | d;
      d = static_cast<uint32_t>(cur / 10);
      r = cur % 10;
    }
    out.push_back(static_cast<char>('0' + r));
  }
  if (out.empty()) out = "0";
  std::reverse(out.begin(), out.end());
  return out;
}

int RunThroughput(const Options& o, const avro::Schema& schema) {
  std::vector<std::string> hash_keys;
  for (int s = 0; s < o.shards; ++s)
    hash_keys.push_back(HashKeyOfShard(s, o.shards));
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> put{0}, errors{0};
  const int64_t start = NowNs();
  const int64_t stop = start + static_cast<int64_t>(o.seconds * 1e9);
  std::vector<std::thread> senders;
  for (int c = 0; c < o.connections; ++c) {
    senders.emplace_back([&] {
      HttpConnection conn(o.host, o.port);
      std::string error;
      if (!conn.Connect(&error)) std::exit(1);
      while (NowNs() < stop) {
        uint64_t first = next.fetch_add(static_cast<uint64_t>(o.batch));
        std::string body = "{\"StreamName\":\"" + o.stream + "\",\"Records\":[";
        for (int k = 0; k < o.batch; ++k) {
          uint64_t i = first + static_cast<uint64_t>(k);
          if (k) body += ",";
          body += "{\"PartitionKey\":\"p\",\"ExplicitHashKey\":\"" +
                  hash_keys[i % hash_keys.size()] + "\",\"Data\":\"" +
                  PaymentData(o, schema, i) + "\"}";
        }
        body += "]}";
        std::string req = Request(o, true, "PutRecords", body);
        if (!conn.RoundTrip(req, 30000, &error) || conn.status() != 200 ||
            conn.body().find("\"FailedRecordCount\":0") ==
                std::string_view::npos) {
          errors.fetch_add(1);
          conn.Connect(&error);
          continue;
        }
        put.fetch_add(static_cast<uint64_t>(o.batch));
      }
    });
  }
  for (auto& t : senders) t.join();
  const int64_t put_done = NowNs();
  // One marker per shard, after everything else in it: once the mapping
  // stored the markers, it stored every record before them.
  Pending pending;
  HttpConnection conn(o.host, o.port);
  std::string error;
  if (!conn.Connect(&error)) return 1;
  const uint64_t marker_base = 1ull << 40;
  for (int s = 0; s < o.shards; ++s) {
    uint64_t id = marker_base + static_cast<uint64_t>(s);
    std::string req =
        Request(o, true, "PutRecord",
                "{\"StreamName\":\"" + o.stream +
                    "\",\"PartitionKey\":\"m\",\"ExplicitHashKey\":\"" +
                    hash_keys[static_cast<size_t>(s)] + "\",\"Data\":\"" +
                    PaymentData(o, schema, id) + "\"}");
    if (!conn.RoundTrip(req, 10000, &error) || conn.status() != 200) return 1;
    pending.acked[id] = NowNs();
  }
  int64_t give_up = NowNs() + 300'000'000'000;
  while (NowNs() < give_up) {
    CheckOnce(o, conn, pending);
    if (pending.acked.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const int64_t stored = NowNs();
  double put_s = double(put_done - start) / 1e9;
  double total_s = double(stored - start) / 1e9;
  std::printf(
      "{\"mode\":\"throughput\",\"shards\":%d,\"batch\":%d,\"connections\":%d,"
      "\"records\":%llu,\"put_errors\":%llu,\"put_seconds\":%.2f,"
      "\"put_rate\":%.0f,\"stored_seconds\":%.2f,\"stored_rate\":%.0f,"
      "\"drained\":%s}\n",
      o.shards, o.batch, o.connections,
      static_cast<unsigned long long>(put.load()),
      static_cast<unsigned long long>(errors.load()), put_s,
      double(put.load()) / put_s, total_s, double(put.load()) / total_s,
      pending.acked.empty() ? "true" : "false");
  return pending.acked.empty() ? 0 : 1;
}

}  // namespace
}  // namespace riffle::bench

int main(int argc, char** argv) {
  using namespace riffle::bench;
  Options o = ParseOptions(argc, argv);
  auto schema = riffle::avro::Schema::Parse(kSchema);
  if (!schema.ok()) Usage(schema.status().ToString().c_str());
  if (o.mode == "latency") return RunLatency(o, **schema);
  if (o.mode == "throughput") return RunThroughput(o, **schema);
  Usage("--mode must be latency or throughput");
}
