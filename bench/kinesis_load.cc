// kinesis_load: a load generator for any endpoint that speaks the Kinesis
// Data Streams API (awsJson1.1), used by bench/run to drive riffle and
// kinesalite with the same records.
//
// It is written to cost the server's machine little CPU: every request
// (headers included) is built once before the clock starts, connections are
// HTTP/1.1 keep-alive over plain sockets, and one epoll thread drives all of
// them by default. Every response is checked (HTTP 200, FailedRecordCount 0,
// the fields a reader needs); failures are counted and never reported as
// throughput.
//
// Modes (--op):
//   put-records  PutRecords of --records-per-request records of --record-size
//                bytes each, from --connections connections.
//   put-record   PutRecord of one --record-size record per request.
//   read         every shard of --stream from TRIM_HORIZON with
//   GetShardIterator
//                then GetRecords (--limit) until the shard is caught up.
// put-* run for --warmup + --duration seconds (only the last --duration
// seconds are measured) or, with --requests N, until N requests are done.
//
// Prints one JSON object on stdout with the measured figures.

#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/base64.h"
#include "http_connection.h"
#include "simdjson.h"

namespace riffle::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRoundTripTimeoutMs = 120'000;
constexpr size_t kMaxErrorSamples = 3;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string op = "put-records";
  std::string stream = "bench";
  int connections = 8;
  int threads = 1;
  double duration_s = 10;
  double warmup_s = 1;
  int64_t requests = 0;  // > 0: count mode.
  int records_per_request = 500;
  int record_size = 100;
  int distinct = 0;  // Distinct prebuilt requests; 0 picks a default.
  uint64_t seed = 1;
  int limit = 10000;
  int64_t expect = -1;  // read: the record count the stream must hold.
};

[[noreturn]] void Usage(const char* message) {
  std::fprintf(stderr,
               "kinesis_load: %s\n"
               "usage: kinesis_load --endpoint http://127.0.0.1:PORT "
               "--op put-records|put-record|read [--stream NAME]\n"
               "  [--connections N] [--threads N] [--duration S] [--warmup S]"
               " [--requests N]\n"
               "  [--records-per-request N] [--record-size BYTES] "
               "[--distinct N] [--seed N]\n"
               "  [--limit N] [--expect N]\n",
               message);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      Usage(("missing value for " + arg).c_str());
    }
    if (arg == "--endpoint") {
      std::string_view v = value;
      if (v.starts_with("http://")) v.remove_prefix(7);
      while (!v.empty() && v.back() == '/') v.remove_suffix(1);
      size_t colon = v.rfind(':');
      if (colon == std::string_view::npos) Usage("endpoint needs a port");
      o.host = std::string(v.substr(0, colon));
      o.port = std::atoi(std::string(v.substr(colon + 1)).c_str());
    } else if (arg == "--op") {
      o.op = value;
    } else if (arg == "--stream") {
      o.stream = value;
    } else if (arg == "--connections") {
      o.connections = std::atoi(value.c_str());
    } else if (arg == "--threads") {
      o.threads = std::atoi(value.c_str());
    } else if (arg == "--duration") {
      o.duration_s = std::atof(value.c_str());
    } else if (arg == "--warmup") {
      o.warmup_s = std::atof(value.c_str());
    } else if (arg == "--requests") {
      o.requests = std::atoll(value.c_str());
    } else if (arg == "--records-per-request") {
      o.records_per_request = std::atoi(value.c_str());
    } else if (arg == "--record-size") {
      o.record_size = std::atoi(value.c_str());
    } else if (arg == "--distinct") {
      o.distinct = std::atoi(value.c_str());
    } else if (arg == "--seed") {
      o.seed = std::strtoull(value.c_str(), nullptr, 10);
    } else if (arg == "--limit") {
      o.limit = std::atoi(value.c_str());
    } else if (arg == "--expect") {
      o.expect = std::atoll(value.c_str());
    } else {
      Usage(("unknown flag " + arg).c_str());
    }
  }
  if (o.port <= 0) Usage("--endpoint is required");
  if (o.op != "put-records" && o.op != "put-record" && o.op != "read") {
    Usage("--op must be put-records, put-record or read");
  }
  if (o.connections < 1 || o.threads < 1 || o.record_size < 1 ||
      o.records_per_request < 1) {
    Usage("counts must be positive");
  }
  o.threads = std::min(o.threads, o.connections);
  if (o.op == "put-record") o.records_per_request = 1;
  if (o.distinct <= 0) o.distinct = o.op == "put-record" ? 4096 : 64;
  return o;
}

// splitmix64: the same seed gives the same records on every server.
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Record `index`: `size` pseudo-random bytes and partition key "pk-<index>".
void AppendRecordFields(const Options& o, uint64_t index, std::string* out) {
  uint64_t state = o.seed * 0x100000001b3ULL ^ index;
  std::string data(static_cast<size_t>(o.record_size), '\0');
  for (size_t i = 0; i < data.size(); i += 8) {
    uint64_t r = SplitMix64(&state);
    std::memcpy(&data[i], &r, std::min<size_t>(8, data.size() - i));
  }
  out->append("\"Data\":\"");
  base64::EncodeAppend(data, out);
  out->append("\",\"PartitionKey\":\"pk-");
  out->append(std::to_string(index));
  out->append("\"");
}

std::string BuildRequest(const Options& o, std::string_view op,
                         std::string_view body) {
  std::string r;
  r.reserve(body.size() + 512);
  r.append("POST / HTTP/1.1\r\nHost: ");
  r.append(o.host).append(":").append(std::to_string(o.port));
  r.append(
      "\r\nContent-Type: application/x-amz-json-1.1\r\n"
      "X-Amz-Target: Kinesis_20131202.");
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

std::vector<std::string> BuildPutRequests(const Options& o) {
  std::vector<std::string> requests;
  requests.reserve(static_cast<size_t>(o.distinct));
  for (int r = 0; r < o.distinct; ++r) {
    std::string body = "{\"StreamName\":\"" + o.stream + "\",";
    if (o.op == "put-record") {
      AppendRecordFields(o, static_cast<uint64_t>(r), &body);
      body.append("}");
      requests.push_back(BuildRequest(o, "PutRecord", body));
    } else {
      body.append("\"Records\":[");
      for (int i = 0; i < o.records_per_request; ++i) {
        if (i > 0) body.append(",");
        body.append("{");
        AppendRecordFields(
            o, static_cast<uint64_t>(r) * o.records_per_request + i, &body);
        body.append("}");
      }
      body.append("]}");
      requests.push_back(BuildRequest(o, "PutRecords", body));
    }
  }
  return requests;
}

struct Stats {
  int64_t requests = 0;  // Successful requests.
  int64_t records = 0;   // Records acknowledged.
  int64_t bytes = 0;     // Record payload bytes acknowledged (not base64).
  int64_t http_errors = 0;
  int64_t failed_records = 0;
  int64_t bad_responses = 0;  // 200 without the fields a client needs.
  int64_t connection_errors = 0;
  std::vector<uint32_t> latencies_us;
  std::vector<std::string> error_samples;

  void Merge(const Stats& s) {
    requests += s.requests;
    records += s.records;
    bytes += s.bytes;
    http_errors += s.http_errors;
    failed_records += s.failed_records;
    bad_responses += s.bad_responses;
    connection_errors += s.connection_errors;
    latencies_us.insert(latencies_us.end(), s.latencies_us.begin(),
                        s.latencies_us.end());
    for (const auto& e : s.error_samples) {
      if (error_samples.size() < kMaxErrorSamples) error_samples.push_back(e);
    }
  }
  int64_t errors() const {
    return http_errors + failed_records + bad_responses + connection_errors;
  }
  void SampleError(std::string text) {
    if (error_samples.size() < kMaxErrorSamples) {
      error_samples.push_back(std::move(text));
    }
  }
};

// Reads the integer after "key": in a small JSON body without parsing the
// whole document (the PutRecords reply is 500 entries long; the count comes
// first or last depending on the server).
std::optional<int64_t> FindIntField(std::string_view body,
                                    std::string_view quoted_key) {
  size_t pos = body.find(quoted_key);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += quoted_key.size();
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == ':')) ++pos;
  if (pos >= body.size() || body[pos] < '0' || body[pos] > '9') {
    return std::nullopt;
  }
  int64_t v = 0;
  while (pos < body.size() && body[pos] >= '0' && body[pos] <= '9') {
    v = v * 10 + (body[pos++] - '0');
  }
  return v;
}

// Shared by the put workers; immutable while they run except `remaining`.
struct PutRun {
  const Options* options;
  const std::vector<std::string>* requests;
  bool count_mode;
  Clock::time_point measure_start;
  Clock::time_point measure_end;
  std::atomic<int64_t> remaining{0};
};

struct Slot {
  explicit Slot(const Options& o) : conn(o.host, o.port) {}
  HttpConnection conn;
  size_t next_request = 0;
  size_t stride = 1;
  Clock::time_point sent_at;
  bool watching_out = false;
  bool busy = false;
};

// Drives `count` connections from one epoll loop until the run ends.
void RunPutWorker(PutRun* run, int first, int count, Stats* stats) {
  const Options& o = *run->options;
  const auto& requests = *run->requests;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::unique_ptr<Slot>> slots;
  bool batch = o.op == "put-records";

  auto watch = [&](Slot* s, int op) {
    epoll_event ev{};
    ev.events = EPOLLIN | (s->conn.wants_write() ? EPOLLOUT : 0u);
    ev.data.ptr = s;
    s->watching_out = s->conn.wants_write();
    ::epoll_ctl(ep, op, s->conn.fd(), &ev);
  };
  int active = 0;
  // Sends the slot's next request; returns false when the run wants no more.
  auto issue = [&](Slot* s) -> bool {
    if (run->count_mode && run->remaining.fetch_sub(1) <= 0) {
      s->busy = false;
      return false;
    }
    for (;;) {
      const std::string& req = requests[s->next_request % requests.size()];
      s->next_request += s->stride;
      s->sent_at = Clock::now();
      s->busy = true;
      if (s->conn.StartRequest(req)) break;
      ++stats->connection_errors;
      std::string error;
      if (!s->conn.Connect(&error)) {
        stats->SampleError("reconnect: " + error);
        s->busy = false;
        return false;
      }
      watch(s, EPOLL_CTL_ADD);
    }
    if (s->conn.wants_write() != s->watching_out) watch(s, EPOLL_CTL_MOD);
    return true;
  };

  for (int i = 0; i < count; ++i) {
    auto s = std::make_unique<Slot>(o);
    s->next_request = static_cast<size_t>(first + i);
    s->stride = static_cast<size_t>(o.connections);
    std::string error;
    if (!s->conn.Connect(&error)) {
      ++stats->connection_errors;
      stats->SampleError("connect: " + error);
      continue;
    }
    watch(s.get(), EPOLL_CTL_ADD);
    slots.push_back(std::move(s));
  }
  for (auto& s : slots) {
    if (issue(s.get())) ++active;
  }

  std::vector<epoll_event> events(64);
  while (active > 0) {
    int n =
        ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 50);
    Clock::time_point now = Clock::now();
    if (!run->count_mode && now >= run->measure_end) break;
    for (int i = 0; i < n; ++i) {
      Slot* s = static_cast<Slot*>(events[i].data.ptr);
      if (!s->busy) continue;
      if ((events[i].events & EPOLLOUT) && s->conn.wants_write()) {
        if (!s->conn.OnWritable()) {
          events[i].events |= EPOLLERR;
        } else if (!s->conn.wants_write()) {
          watch(s, EPOLL_CTL_MOD);
        }
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      HttpConnection::ReadResult r = s->conn.OnReadable();
      if (r == HttpConnection::ReadResult::kNeedMore) continue;
      bool reconnect = true;
      if (r == HttpConnection::ReadResult::kError) {
        ++stats->connection_errors;
        stats->SampleError("connection closed or bad HTTP response");
      } else {
        Clock::time_point done = Clock::now();
        bool counted = run->count_mode || done >= run->measure_start;
        reconnect = s->conn.server_closes();
        std::string_view body = s->conn.body();
        if (s->conn.status() != 200) {
          if (counted) ++stats->http_errors;
          stats->SampleError("HTTP " + std::to_string(s->conn.status()) + ": " +
                             std::string(body.substr(0, 300)));
        } else {
          int64_t failed = 0;
          bool good;
          if (batch) {
            auto f = FindIntField(body, "\"FailedRecordCount\"");
            good = f.has_value();
            failed = f.value_or(0);
          } else {
            good = body.find("\"SequenceNumber\"") != std::string_view::npos;
          }
          if (counted) {
            if (!good) {
              ++stats->bad_responses;
              stats->SampleError("bad reply: " +
                                 std::string(body.substr(0, 300)));
            } else if (failed > 0) {
              stats->failed_records += failed;
              stats->SampleError("failed records: " +
                                 std::string(body.substr(0, 300)));
            }
            if (good) {
              ++stats->requests;
              int64_t ok = o.records_per_request - failed;
              stats->records += ok;
              stats->bytes += ok * o.record_size;
              stats->latencies_us.push_back(static_cast<uint32_t>(
                  std::chrono::duration_cast<std::chrono::microseconds>(
                      done - s->sent_at)
                      .count()));
            }
          }
        }
      }
      if (reconnect) {
        std::string error;
        if (!s->conn.Connect(&error)) {
          stats->SampleError("reconnect: " + error);
          s->busy = false;
          --active;
          continue;
        }
        watch(s, EPOLL_CTL_ADD);
      }
      if (!issue(s)) --active;
    }
  }
  ::close(ep);
}

double CpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Result {
  Stats stats;
  double seconds = 0;
  double client_cpu_s = 0;
  int64_t shards = 0;
};

Result RunPut(const Options& o) {
  std::vector<std::string> requests = BuildPutRequests(o);
  PutRun run;
  run.options = &o;
  run.requests = &requests;
  run.count_mode = o.requests > 0;
  run.remaining = o.requests;
  Clock::time_point start = Clock::now();
  run.measure_start =
      run.count_mode ? start
                     : start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(o.warmup_s));
  run.measure_end =
      run.measure_start + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(o.duration_s));

  std::vector<Stats> per_thread(static_cast<size_t>(o.threads));
  std::vector<std::thread> threads;
  int next = 0;
  for (int t = 0; t < o.threads; ++t) {
    int count = o.connections / o.threads + (t < o.connections % o.threads);
    threads.emplace_back(RunPutWorker, &run, next, count, &per_thread[t]);
    next += count;
  }
  double cpu0 = 0;
  if (!run.count_mode) {
    std::this_thread::sleep_until(run.measure_start);
    cpu0 = CpuSeconds();
  } else {
    cpu0 = CpuSeconds();
  }
  for (auto& t : threads) t.join();
  Result result;
  Clock::time_point end = Clock::now();
  result.client_cpu_s = CpuSeconds() - cpu0;
  result.seconds = std::chrono::duration<double>(
                       (run.count_mode ? end : std::min(end, run.measure_end)) -
                       run.measure_start)
                       .count();
  for (const auto& s : per_thread) result.stats.Merge(s);
  return result;
}

// --- read ------------------------------------------------------------------

struct ShardRead {
  std::string shard_id;
  Stats stats;
  std::string error;
};

void ReadShard(const Options& o, ShardRead* shard) {
  HttpConnection conn(o.host, o.port);
  std::string error;
  // The DOM parser picks the best SIMD kernel at run time (On Demand would be
  // limited to what this file was compiled for).
  simdjson::dom::parser parser;
  std::string body = "{\"StreamName\":\"" + o.stream + "\",\"ShardId\":\"" +
                     shard->shard_id +
                     "\",\"ShardIteratorType\":\"TRIM_HORIZON\"}";
  if (!conn.RoundTrip(BuildRequest(o, "GetShardIterator", body),
                      kRoundTripTimeoutMs, &error)) {
    shard->error = "GetShardIterator: " + error;
    return;
  }
  std::string iterator;
  {
    std::string_view it;
    if (conn.status() != 200 ||
        parser.parse(conn.body().data(), conn.body().size())["ShardIterator"]
            .get_string()
            .get(it)) {
      shard->error = "GetShardIterator: HTTP " + std::to_string(conn.status()) +
                     " " + std::string(conn.body().substr(0, 300));
      return;
    }
    iterator = it;
  }
  Stats& stats = shard->stats;
  for (;;) {
    std::string request =
        BuildRequest(o, "GetRecords",
                     "{\"ShardIterator\":\"" + iterator +
                         "\",\"Limit\":" + std::to_string(o.limit) + "}");
    Clock::time_point sent = Clock::now();
    if (!conn.RoundTrip(request, kRoundTripTimeoutMs, &error)) {
      ++stats.connection_errors;
      shard->error = "GetRecords: " + error;
      return;
    }
    Clock::time_point done = Clock::now();
    if (conn.status() != 200) {
      ++stats.http_errors;
      shard->error = "GetRecords: HTTP " + std::to_string(conn.status()) + " " +
                     std::string(conn.body().substr(0, 300));
      return;
    }
    int64_t records = 0, bytes = 0, behind = -1;
    bool has_next = false;
    std::string next;
    simdjson::dom::object obj;
    bool bad = parser.parse(conn.body().data(), conn.body().size())
                   .get_object()
                   .get(obj) != simdjson::SUCCESS;
    simdjson::dom::array array;
    if (!bad) bad = obj["Records"].get_array().get(array) != simdjson::SUCCESS;
    if (!bad) {
      for (simdjson::dom::element record : array) {
        std::string_view data;
        if (record["Data"].get_string().get(data)) {
          bad = true;
          break;
        }
        ++records;
        bytes += static_cast<int64_t>(base64::DecodedSize(data));
      }
      std::string_view it;
      if (!obj["NextShardIterator"].get_string().get(it)) {
        has_next = true;
        next = it;
      }
      if (obj["MillisBehindLatest"].get_int64().get(behind)) behind = -1;
    }
    if (bad) {
      ++stats.bad_responses;
      shard->error =
          "GetRecords: bad reply " + std::string(conn.body().substr(0, 300));
      return;
    }
    if (records == 0 && behind <= 0) break;  // Caught up (or shard closed).
    ++stats.requests;
    stats.records += records;
    stats.bytes += bytes;
    stats.latencies_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(done - sent)
            .count()));
    if (!has_next) break;
    iterator = std::move(next);
  }
}

Result RunRead(const Options& o) {
  Result result;
  HttpConnection conn(o.host, o.port);
  std::string error;
  if (!conn.RoundTrip(BuildRequest(o, "DescribeStream",
                                   "{\"StreamName\":\"" + o.stream + "\"}"),
                      kRoundTripTimeoutMs, &error) ||
      conn.status() != 200) {
    std::fprintf(stderr, "kinesis_load: DescribeStream failed: %s %.300s\n",
                 error.c_str(), std::string(conn.body()).c_str());
    std::exit(1);
  }
  std::vector<ShardRead> shards;
  {
    simdjson::dom::parser parser;
    simdjson::dom::array array;
    if (parser
            .parse(conn.body().data(),
                   conn.body().size())["StreamDescription"]["Shards"]
            .get_array()
            .get(array)) {
      std::fprintf(stderr, "kinesis_load: no Shards in DescribeStream\n");
      std::exit(1);
    }
    for (simdjson::dom::element shard : array) {
      std::string_view id;
      if (shard["ShardId"].get_string().get(id)) {
        std::fprintf(stderr, "kinesis_load: shard without ShardId\n");
        std::exit(1);
      }
      shards.push_back(ShardRead{std::string(id), {}, {}});
    }
  }
  conn.Close();
  result.shards = static_cast<int64_t>(shards.size());
  Clock::time_point start = Clock::now();
  double cpu0 = CpuSeconds();
  std::vector<std::thread> threads;
  for (auto& shard : shards) threads.emplace_back(ReadShard, o, &shard);
  for (auto& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.client_cpu_s = CpuSeconds() - cpu0;
  for (auto& shard : shards) {
    if (!shard.error.empty()) shard.stats.SampleError(shard.error);
    result.stats.Merge(shard.stats);
  }
  if (o.expect >= 0 && result.stats.records != o.expect) {
    ++result.stats.bad_responses;
    result.stats.SampleError("read " + std::to_string(result.stats.records) +
                             " records, expected " + std::to_string(o.expect));
  }
  return result;
}

double Percentile(std::vector<uint32_t>* sorted, double p) {
  if (sorted->empty()) return 0;
  size_t i =
      std::min(sorted->size() - 1,
               static_cast<size_t>(p * static_cast<double>(sorted->size())));
  return (*sorted)[i] / 1000.0;
}

std::string JsonEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void PrintResult(const Options& o, Result* r) {
  Stats& s = r->stats;
  std::sort(s.latencies_us.begin(), s.latencies_us.end());
  double secs = r->seconds > 0 ? r->seconds : 1e-9;
  std::string samples = "[";
  for (size_t i = 0; i < s.error_samples.size(); ++i) {
    if (i > 0) samples += ",";
    samples.push_back('"');
    samples.append(JsonEscape(s.error_samples[i]));
    samples.push_back('"');
  }
  samples += "]";
  std::printf(
      "{\"op\":\"%s\",\"connections\":%d,\"shards\":%lld,"
      "\"seconds\":%.3f,\"requests\":%lld,\"records\":%lld,\"bytes\":%lld,"
      "\"requests_per_s\":%.1f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"errors\":%lld,\"http_errors\":%lld,\"failed_records\":%lld,"
      "\"bad_responses\":%lld,\"connection_errors\":%lld,"
      "\"client_cpu_s\":%.3f,\"error_samples\":%s}\n",
      o.op.c_str(),
      o.op == "read" ? static_cast<int>(r->shards) : o.connections,
      static_cast<long long>(r->shards), r->seconds,
      static_cast<long long>(s.requests), static_cast<long long>(s.records),
      static_cast<long long>(s.bytes), s.requests / secs, s.records / secs,
      s.bytes / secs / 1e6, Percentile(&s.latencies_us, 0.50),
      Percentile(&s.latencies_us, 0.99),
      s.latencies_us.empty() ? 0.0 : s.latencies_us.back() / 1000.0,
      static_cast<long long>(s.errors()), static_cast<long long>(s.http_errors),
      static_cast<long long>(s.failed_records),
      static_cast<long long>(s.bad_responses),
      static_cast<long long>(s.connection_errors), r->client_cpu_s,
      samples.c_str());
}

}  // namespace

int Main(int argc, char** argv) {
  Options o = ParseOptions(argc, argv);
  Result r = o.op == "read" ? RunRead(o) : RunPut(o);
  PrintResult(o, &r);
  return r.stats.errors() == 0 ? 0 : 1;
}

}  // namespace riffle::bench

int main(int argc, char** argv) { return riffle::bench::Main(argc, argv); }
