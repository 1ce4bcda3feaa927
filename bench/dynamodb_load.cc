// dynamodb_load: a load generator for any endpoint that speaks the DynamoDB
// API (awsJson1.0), used to drive riffle and dynalite with the same items,
// and any HTTP server (nginx) for the machine's floor.
//
// As kinesis_load: every request is built before the clock starts, HTTP/1.1
// keep-alive connections over plain sockets, one epoll thread drives them
// all, every response is checked (HTTP 200 and the field a client needs),
// and failures are counted, never reported as throughput.
//
// Modes (--op):
//   setup   creates --table (pk S, sk N; PAY_PER_REQUEST), then loads
//           --items items "g-<i>"/0 for GetItem and --partitions partitions
//           "q-<j>" of 100 items each for Query, with BatchWriteItem.
//   put     PutItem of a ~100-byte item, cycling over 4096 keys.
//   get     GetItem of the "g-<i>" items (each must be found).
//   query   Query of one "q-<j>" partition, Limit 100 (100 items back).
//   static  GET / (the nginx floor).
// Read-API modes, against riffle's http port (--endpoint) with the routes of
// bench/read_api_stack.yaml over the same items (bench/read_api_bench.sh):
//   read-get    GET /items/g-<i>/0: the GetItem route (the item must come
//               back as plain JSON).
//   read-query  GET /partitions/q-<j>?limit=100: a Query route page (100
//               items).
//   health      GET /health (the HTTP floor of riffle's own server).
// Prints one JSON object on stdout.

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http_connection.h"

namespace riffle::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string op = "get";
  std::string table = "bench";
  int connections = 16;
  double duration_s = 10;
  double warmup_s = 1;
  int items = 10000;
  int partitions = 100;
};

[[noreturn]] void Usage(const char* message) {
  std::fprintf(stderr,
               "dynamodb_load: %s\n"
               "usage: dynamodb_load --endpoint http://127.0.0.1:PORT "
               "--op setup|put|get|query|static|read-get|read-query|health\n"
               "  [--table NAME] [--connections N] [--duration S] "
               "[--warmup S] [--items N] [--partitions N]\n",
               message);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + arg).c_str());
    std::string value = argv[++i];
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
    } else if (arg == "--table") {
      o.table = value;
    } else if (arg == "--connections") {
      o.connections = std::atoi(value.c_str());
    } else if (arg == "--duration") {
      o.duration_s = std::atof(value.c_str());
    } else if (arg == "--warmup") {
      o.warmup_s = std::atof(value.c_str());
    } else if (arg == "--items") {
      o.items = std::atoi(value.c_str());
    } else if (arg == "--partitions") {
      o.partitions = std::atoi(value.c_str());
    } else {
      Usage(("unknown flag " + arg).c_str());
    }
  }
  if (o.port <= 0) Usage("--endpoint is required");
  if (o.connections < 1) Usage("--connections must be positive");
  return o;
}

std::string BuildRequest(const Options& o, std::string_view op,
                         std::string_view body) {
  std::string r;
  r.reserve(body.size() + 512);
  r.append("POST / HTTP/1.1\r\nHost: ");
  r.append(o.host).append(":").append(std::to_string(o.port));
  r.append(
      "\r\nContent-Type: application/x-amz-json-1.0\r\n"
      "X-Amz-Target: DynamoDB_20120810.");
  r.append(op);
  r.append(
      "\r\nX-Amz-Date: 20260101T000000Z\r\n"
      "Authorization: AWS4-HMAC-SHA256 "
      "Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=00\r\n"
      "Content-Length: ");
  r.append(std::to_string(body.size()));
  r.append("\r\n\r\n");
  r.append(body);
  return r;
}

// A plain GET, as curl sends it.
std::string Get(const Options& o, std::string_view target) {
  std::string r = "GET ";
  r.append(target);
  r.append(" HTTP/1.1\r\nHost: ");
  r.append(o.host).append(":").append(std::to_string(o.port));
  r.append("\r\nUser-Agent: dynamodb_load\r\nAccept: */*\r\n\r\n");
  return r;
}

// Occurrences of `needle` in `haystack`.
int Count(std::string_view haystack, std::string_view needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// ~100 bytes of attributes besides the key.
std::string ItemJson(std::string_view pk, int sk) {
  return "{\"pk\":{\"S\":\"" + std::string(pk) + "\"},\"sk\":{\"N\":\"" +
         std::to_string(sk) +
         "\"},\"name\":{\"S\":\"benchmark item payload text\"},"
         "\"count\":{\"N\":\"12345\"},\"flag\":{\"BOOL\":true},"
         "\"tags\":{\"SS\":[\"a\",\"b\",\"c\"]}}";
}

std::vector<std::string> BuildRequests(const Options& o) {
  std::vector<std::string> out;
  const std::string t = "{\"TableName\":\"" + o.table + "\",";
  if (o.op == "put") {
    for (int i = 0; i < 4096; ++i) {
      out.push_back(BuildRequest(
          o, "PutItem",
          t + "\"Item\":" + ItemJson("p-" + std::to_string(i), 0) + "}"));
    }
  } else if (o.op == "get") {
    for (int i = 0; i < std::min(o.items, 8192); ++i) {
      out.push_back(BuildRequest(o, "GetItem",
                                 t + "\"Key\":{\"pk\":{\"S\":\"g-" +
                                     std::to_string(i) +
                                     "\"},\"sk\":{\"N\":\"0\"}}}"));
    }
  } else if (o.op == "query") {
    for (int j = 0; j < o.partitions; ++j) {
      out.push_back(
          BuildRequest(o, "Query",
                       t +
                           "\"KeyConditionExpression\":\"pk = :p\","
                           "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"q-" +
                           std::to_string(j) + "\"}},\"Limit\":100}"));
    }
  } else if (o.op == "static") {
    out.push_back("GET / HTTP/1.1\r\nHost: " + o.host + "\r\n\r\n");
  } else if (o.op == "read-get") {
    for (int i = 0; i < std::min(o.items, 8192); ++i) {
      out.push_back(Get(o, "/items/g-" + std::to_string(i) + "/0"));
    }
  } else if (o.op == "read-query") {
    for (int j = 0; j < o.partitions; ++j) {
      out.push_back(
          Get(o, "/partitions/q-" + std::to_string(j) + "?limit=100"));
    }
  } else if (o.op == "health") {
    out.push_back(Get(o, "/health"));
  } else {
    Usage("unknown --op");
  }
  return out;
}

bool Good(const Options& o, std::string_view body) {
  if (o.op == "get") return body.find("\"Item\"") != std::string_view::npos;
  if (o.op == "query")
    return body.find("\"Count\":100") != std::string_view::npos;
  if (o.op == "read-get")
    return body.find("\"pk\":\"g-") != std::string_view::npos;
  if (o.op == "read-query") return Count(body, "\"pk\":") == 100;
  return true;
}

// Synchronous call for setup; exits on failure.
std::string Call(HttpConnection& c, const Options& o, std::string_view op,
                 const std::string& body, bool allow_error = false) {
  std::string req = BuildRequest(o, op, body);
  std::string error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!c.connected() && !c.Connect(&error)) break;
    if (c.RoundTrip(req, 60'000, &error)) {
      if (c.status() != 200 && !allow_error) {
        std::fprintf(stderr, "%.*s: HTTP %d %.*s\n", int(op.size()), op.data(),
                     c.status(), int(c.body().size()), c.body().data());
        std::exit(1);
      }
      return std::string(c.body());
    }
    c.Close();
  }
  std::fprintf(stderr, "%.*s failed: %s\n", int(op.size()), op.data(),
               error.c_str());
  std::exit(1);
}

int Setup(const Options& o) {
  HttpConnection c(o.host, o.port);
  Call(c, o, "CreateTable",
       "{\"TableName\":\"" + o.table +
           "\",\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
           "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\","
           "\"AttributeType\":\"N\"}],\"KeySchema\":[{\"AttributeName\":"
           "\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\","
           "\"KeyType\":\"RANGE\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}",
       /*allow_error=*/true);
  for (int i = 0; i < 200; ++i) {
    std::string d =
        Call(c, o, "DescribeTable", "{\"TableName\":\"" + o.table + "\"}");
    if (d.find("\"ACTIVE\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<std::string> items;
  for (int i = 0; i < o.items; ++i)
    items.push_back(ItemJson("g-" + std::to_string(i), 0));
  for (int j = 0; j < o.partitions; ++j) {
    for (int k = 0; k < 100; ++k)
      items.push_back(ItemJson("q-" + std::to_string(j), k));
  }
  for (size_t i = 0; i < items.size(); i += 25) {
    std::string body = "{\"RequestItems\":{\"" + o.table + "\":[";
    for (size_t k = i; k < std::min(items.size(), i + 25); ++k) {
      if (k > i) body += ",";
      body += "{\"PutRequest\":{\"Item\":" + items[k] + "}}";
    }
    body += "]}}";
    std::string r = Call(c, o, "BatchWriteItem", body);
    if (r.find("\"UnprocessedItems\":{}") == std::string::npos) {
      std::fprintf(stderr, "unprocessed items: %s\n", r.c_str());
      return 1;
    }
  }
  std::printf("{\"op\":\"setup\",\"items\":%zu}\n", items.size());
  return 0;
}

struct Slot {
  explicit Slot(const Options& o) : conn(o.host, o.port) {}
  HttpConnection conn;
  size_t next = 0;
  Clock::time_point sent_at;
};

int Run(const Options& o) {
  std::vector<std::string> requests = BuildRequests(o);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::unique_ptr<Slot>> slots;
  int64_t ok = 0, errors = 0;
  std::string sample;
  std::vector<uint32_t> latencies;
  latencies.reserve(1 << 20);
  Clock::time_point start = Clock::now();
  auto at = [&](double s) {
    return start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(s));
  };
  Clock::time_point measure_start = at(o.warmup_s);
  Clock::time_point measure_end = at(o.warmup_s + o.duration_s);
  auto issue = [&](Slot* s) {
    s->sent_at = Clock::now();
    s->conn.StartRequest(requests[s->next++ % requests.size()]);
    epoll_event ev{};
    ev.events = EPOLLIN | (s->conn.wants_write() ? EPOLLOUT : 0u);
    ev.data.ptr = s;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, s->conn.fd(), &ev);
  };
  for (int i = 0; i < o.connections; ++i) {
    auto s = std::make_unique<Slot>(o);
    s->next = static_cast<size_t>(i) * 7919;
    std::string error;
    if (!s->conn.Connect(&error)) {
      std::fprintf(stderr, "connect: %s\n", error.c_str());
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = s.get();
    ::epoll_ctl(ep, EPOLL_CTL_ADD, s->conn.fd(), &ev);
    issue(s.get());
    slots.push_back(std::move(s));
  }
  std::vector<epoll_event> events(64);
  for (;;) {
    int n = ::epoll_wait(ep, events.data(), 64, 50);
    Clock::time_point now = Clock::now();
    if (now >= measure_end) break;
    for (int i = 0; i < n; ++i) {
      Slot* s = static_cast<Slot*>(events[i].data.ptr);
      if ((events[i].events & EPOLLOUT) && s->conn.wants_write()) {
        s->conn.OnWritable();
        if (!s->conn.wants_write()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = s;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, s->conn.fd(), &ev);
        }
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      auto r = s->conn.OnReadable();
      if (r == HttpConnection::ReadResult::kNeedMore) continue;
      Clock::time_point done = Clock::now();
      bool counted = done >= measure_start;
      bool good = r == HttpConnection::ReadResult::kComplete &&
                  s->conn.status() == 200 && Good(o, s->conn.body());
      if (counted) {
        if (good) {
          ++ok;
          latencies.push_back(static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(done -
                                                                    s->sent_at)
                  .count()));
        } else {
          ++errors;
          if (sample.empty() && r == HttpConnection::ReadResult::kComplete)
            sample = std::string(s->conn.body().substr(0, 200));
        }
      }
      if (r == HttpConnection::ReadResult::kError || s->conn.server_closes()) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, s->conn.fd(), nullptr);
        std::string error;
        if (!s->conn.Connect(&error)) return 1;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = s;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, s->conn.fd(), &ev);
      }
      issue(s);
    }
  }
  ::close(ep);
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) -> uint32_t {
    if (latencies.empty()) return 0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(p * latencies.size()))];
  };
  for (char& c : sample) {
    if (c == '"' || c == '\\') c = '\'';
  }
  std::printf(
      "{\"op\":\"%s\",\"connections\":%d,\"seconds\":%.1f,\"requests\":%lld,"
      "\"per_second\":%.0f,\"p50_us\":%u,\"p99_us\":%u,\"errors\":%lld,"
      "\"error_sample\":\"%s\"}\n",
      o.op.c_str(), o.connections, o.duration_s, static_cast<long long>(ok),
      static_cast<double>(ok) / o.duration_s, pct(0.5), pct(0.99),
      static_cast<long long>(errors), sample.c_str());
  return errors > 0 ? 1 : 0;
}

}  // namespace
}  // namespace riffle::bench

int main(int argc, char** argv) {
  auto o = riffle::bench::ParseOptions(argc, argv);
  if (o.op == "setup") return riffle::bench::Setup(o);
  return riffle::bench::Run(o);
}
