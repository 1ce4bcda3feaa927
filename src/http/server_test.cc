#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "http/aws_json.h"
#include "http/test_util.h"

namespace riffle::http {
namespace {

using test::H1Client;
using test::H2Client;
using test::TestServer;

// Answers "METHOD path?query|body" with the x-test header echoed.
void Echo(Request req, Responder respond) {
  Response r;
  r.body = req.method + " " + req.path + "?" + req.query + "|" + req.body;
  if (const std::string* h = req.FindHeader("x-test")) {
    r.SetHeader("x-echo", *h);
  }
  r.SetHeader("x-major", std::to_string(req.http_major));
  respond(std::move(r));
}

TEST(Http1, KeepAliveRequests) {
  TestServer ts(Echo);
  H1Client c(ts.port());
  for (int i = 0; i < 3; ++i) {
    auto r =
        c.Request("POST /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Test: v" +
                  std::to_string(i) + "\r\nContent-Length: 5\r\n\r\nhello");
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "POST /a b?x=1|hello");
    EXPECT_EQ(r.headers["x-echo"], "v" + std::to_string(i));
    EXPECT_EQ(r.headers["content-length"], "19");
    EXPECT_EQ(r.headers.count("connection"), 0u);
  }
  auto r = c.Request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.PeerClosed());
}

TEST(Http1, PipelinedRequestsAnswerInOrder) {
  std::atomic<int> n{0};
  TestServer ts([&](Request req, Responder respond) {
    // The first answers last: order must still hold.
    int i = n++;
    std::thread([i, req = std::move(req), respond]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 50 : 0));
      Echo(std::move(req), respond);
    }).detach();
  });
  H1Client c(ts.port());
  c.Send(
      "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"
      "GET /3 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Read().body, "GET /1?|");
  EXPECT_EQ(c.Read().body, "POST /2?|ab");
  EXPECT_EQ(c.Read().body, "GET /3?|");
}

TEST(Http1, SlowHandlerDoesNotStallOthers) {
  std::mutex mu;
  std::vector<Responder> parked;
  TestServer ts([&](Request req, Responder respond) {
    if (req.path == "/slow") {
      std::lock_guard lock(mu);
      parked.push_back(std::move(respond));
      return;
    }
    Echo(std::move(req), std::move(respond));
  });
  std::vector<std::unique_ptr<H1Client>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<H1Client>(ts.port()));
    slow.back()->Send("GET /slow HTTP/1.1\r\n\r\n");
  }
  H1Client fast(ts.port());
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(fast.Request("GET /fast HTTP/1.1\r\n\r\n").status, 200);
  }
  for (int i = 0; i < 100 && ts.server().in_flight() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ts.server().in_flight(), 4u);
  // Answer from another thread, later.
  std::thread answer([&] {
    std::lock_guard lock(mu);
    for (auto& r : parked) {
      Response resp;
      resp.body = "late";
      r(resp);
    }
  });
  answer.join();
  for (auto& c : slow) EXPECT_EQ(c->Read().body, "late");
  EXPECT_EQ(ts.server().in_flight(), 0u);
}

TEST(Http1, BodyTooLargeByContentLength) {
  std::atomic<int> calls{0};
  ServerOptions o;
  o.max_body_bytes = 1000;
  TestServer ts(
      [&](Request req, Responder respond) {
        ++calls;
        Echo(std::move(req), std::move(respond));
      },
      o);
  H1Client c(ts.port());
  // Only the header is sent: the answer must not wait for the body.
  auto r = c.Request("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.PeerClosed());
  EXPECT_EQ(calls.load(), 0);
  // At the limit it is fine.
  H1Client ok(ts.port());
  r = ok.Request("POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" +
                 std::string(1000, 'x'));
  EXPECT_EQ(r.status, 200);
}

// A server whose protocol has its own 413 (the read API: API Gateway's
// JSON) answers it on both protocols, still before reading the body.
TEST(Http1, BodyTooLargeWithTheProtocolsOwnReply) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  o.body_too_large = JsonResponse(413, R"({"message":"too big"})");
  TestServer ts(Echo, o);
  H1Client c(ts.port());
  auto r = c.Request("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"message":"too big"})");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_TRUE(c.PeerClosed());

  H2Client h2(ts.port());
  int32_t by_length = h2.Submit("POST", "/", std::string(1001, 'a'));
  int32_t by_data = h2.Submit("POST", "/", std::string(5000, 'a'), {}, false);
  ASSERT_TRUE(h2.Run());
  EXPECT_EQ(h2.responses[by_length].status, 413);
  EXPECT_EQ(h2.responses[by_length].body, R"({"message":"too big"})");
  EXPECT_EQ(h2.responses[by_data].body, R"({"message":"too big"})");
}

TEST(Http1, BodyTooLargeChunked) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  TestServer ts(Echo, o);
  H1Client c(ts.port());
  auto r = c.Request(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1f4\r\n" +
      std::string(500, 'a') + "\r\n1f5\r\n");
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c.PeerClosed());

  H1Client ok(ts.port());
  r = ok.Request(
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /c?|abcde");
}

TEST(Http1, HeadersTooLarge) {
  ServerOptions o;
  o.max_header_bytes = 4096;
  TestServer ts(Echo, o);
  H1Client c(ts.port());
  auto r = c.Request("GET / HTTP/1.1\r\nX-Big: " + std::string(5000, 'b') +
                     "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_TRUE(c.PeerClosed());
  // Even when the header never ends.
  H1Client c2(ts.port());
  r = c2.Request("GET / HTTP/1.1\r\nX-Big: " + std::string(8000, 'b'));
  EXPECT_EQ(r.status, 431);
}

TEST(Http1, MalformedRequestsGet400AndClose) {
  TestServer ts(Echo);
  for (std::string bad : {
           std::string("\x00\x01\x02garbage\r\n\r\n", 14),
           std::string("GET / HTTP/9.9\r\n\r\n"),
           std::string("GET /%zz HTTP/1.1\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 1\r\n"
                       "Content-Length: 2\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "zz\r\n"),
       }) {
    H1Client c(ts.port());
    auto r = c.Request(bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_TRUE(c.PeerClosed()) << bad;
  }
}

// RFC 9112 6.1 and 6.3: a body whose length cannot be known for certain is
// the seed of request smuggling (a proxy in front frames it one way, we
// another), so only "chunked" as the final and single chunked coding is
// accepted; the rest is 400 (501 for a coding we cannot decode) and close.
TEST(Http1, TransferEncodingOtherThanFinalChunkedIsRefused) {
  TestServer ts(Echo);
  const std::string next = "GET /next HTTP/1.1\r\n\r\n";
  for (const auto& [te, status] : std::vector<std::pair<std::string, int>>{
           {"gzip", 400},
           {"identity", 400},
           {"xchunked", 400},
           {"chunked, gzip", 400},
           {"chunked, chunked", 400},
           {"chunked\r\nTransfer-Encoding: chunked", 400},
           {"gzip, chunked", 501},
           {"gzip\r\nTransfer-Encoding: chunked", 501},
       }) {
    for (bool with_length : {false, true}) {
      H1Client c(ts.port());
      auto r = c.Request("POST /p HTTP/1.1\r\nTransfer-Encoding: " + te +
                         (with_length ? "\r\nContent-Length: 2" : "") +
                         "\r\n\r\n2\r\nab\r\n0\r\n\r\n" + next);
      // Content-Length beside chunked is a 400 of its own (RFC 9112 6.3).
      EXPECT_EQ(r.status, with_length ? 400 : status)
          << te << " " << with_length;
      EXPECT_EQ(r.headers["connection"], "close") << te;
      EXPECT_TRUE(c.PeerClosed()) << te;
    }
  }
  {
    H1Client c(ts.port());
    auto r = c.Request(
        "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nab\r\n0\r\n\r\n");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(c.PeerClosed());
  }
  // The ordinary forms still work, with any case and spacing.
  H1Client c(ts.port());
  auto r = c.Request(
      "POST /p HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n"
      "2\r\nab\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "POST /p?|ab");
  EXPECT_EQ(c.Request(next).status, 200);
}

TEST(Http1, RandomInputNeverCrashesOrHangs) {
  ServerOptions o;
  o.request_timeout_seconds = 1;
  TestServer ts(Echo, o);
  std::mt19937 rng(7);
  const std::string seeds[] = {
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      std::string(test::H2Client::kPrefaceForTests),
  };
  for (int i = 0; i < 150; ++i) {
    std::string s = seeds[i % 4];
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      s[rng() % s.size()] = static_cast<char>(rng());
    }
    if (rng() % 3 == 0) s.resize(rng() % s.size());
    H1Client c(ts.port());
    c.Send(s);
    c.transport().ShutdownWrite();
    EXPECT_TRUE(c.PeerClosed(5000)) << i;
  }
  H1Client c(ts.port());
  EXPECT_EQ(c.Request("GET /alive HTTP/1.1\r\n\r\n").status, 200);
}

TEST(Http1, ExpectContinueAndHead) {
  TestServer ts(Echo);
  H1Client c(ts.port());
  c.Send(
      "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 100);
  c.Send("xyz");
  EXPECT_EQ(c.Read().body, "POST /e?|xyz");
  c.set_skip_body(true);
  r = c.Request("HEAD /h HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "9");
  c.set_skip_body(false);
  EXPECT_EQ(c.Request("GET /after HTTP/1.1\r\n\r\n").body, "GET /after?|");
}

TEST(Http1, HandlerFailuresBecome500) {
  TestServer ts([](Request req, Responder respond) {
    if (req.path == "/throw") throw std::runtime_error("boom");
    if (req.path == "/drop") return;  // Responder dropped unanswered
    respond(Response{});
    respond(Response{});  // a second answer is ignored
  });
  H1Client c(ts.port());
  EXPECT_EQ(c.Request("GET /throw HTTP/1.1\r\n\r\n").status, 500);
  EXPECT_EQ(c.Request("GET /drop HTTP/1.1\r\n\r\n").status, 500);
  EXPECT_EQ(c.Request("GET /twice HTTP/1.1\r\n\r\n").status, 200);
  EXPECT_EQ(c.Request("GET /twice HTTP/1.1\r\n\r\n").status, 200);
  EXPECT_EQ(ts.server().in_flight(), 0u);
}

TEST(Http1, IdleAndSlowClientsAreCut) {
  ServerOptions o;
  o.idle_timeout_seconds = 1;
  o.request_timeout_seconds = 1;
  TestServer ts(Echo, o);
  H1Client idle(ts.port());
  EXPECT_EQ(idle.Request("GET / HTTP/1.1\r\n\r\n").status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.PeerClosed(5000));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));

  H1Client slow(ts.port());
  slow.Send("GET / HTTP/1.1\r\nX-Slow: ");
  EXPECT_TRUE(slow.PeerClosed(5000));
}

TEST(Http1, StopAcceptingFinishesInFlight) {
  std::mutex mu;
  std::vector<Responder> parked;
  auto ts = std::make_unique<TestServer>([&](Request, Responder respond) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(respond));
  });
  H1Client busy(ts->port());
  busy.Send("GET / HTTP/1.1\r\n\r\n");
  H1Client idle(ts->port());
  while (ts->server().in_flight() < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ts->server().StopAccepting();
  EXPECT_TRUE(idle.PeerClosed());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_LT(test::Connect(ts->port()), 0);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(parked.size(), 1u);
    Response r;
    r.body = "done";
    parked[0](r);
  }
  auto r = busy.Read();
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(busy.PeerClosed());
}

TEST(Http1, CloseAllClosesEverything) {
  std::vector<Responder> parked;
  std::mutex mu;
  TestServer ts([&](Request, Responder respond) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(respond));
  });
  H1Client a(ts.port()), b(ts.port());
  a.Send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(b.Request("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").status,
            400);
  H1Client c(ts.port());
  while (ts.server().in_flight() < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ts.server().CloseAll();
  EXPECT_TRUE(a.PeerClosed());
  EXPECT_TRUE(c.PeerClosed());
  // A late answer to a closed connection goes nowhere, harmlessly.
  std::lock_guard lock(mu);
  for (auto& r : parked) r(Response{});
}

// ------------------------------------------------------------------ HTTP/2

TEST(Http2, PriorKnowledgeRequests) {
  TestServer ts(Echo);
  H2Client c(ts.port());
  int32_t get = c.Submit("GET", "/g%41?q=1", "", {{"x-test", "t"}});
  int32_t post = c.Submit("POST", "/p", "body!");
  ASSERT_TRUE(c.Run());
  EXPECT_EQ(c.responses[get].status, 200);
  EXPECT_EQ(c.responses[get].body, "GET /gA?q=1|");
  EXPECT_EQ(c.responses[get].headers["x-echo"], "t");
  EXPECT_EQ(c.responses[get].headers["x-major"], "2");
  EXPECT_EQ(c.responses[get].headers["content-length"], "12");
  EXPECT_EQ(c.responses[post].body, "POST /p?|body!");
}

TEST(Http2, LargeBodiesSpanFramesAndWindows) {
  TestServer ts([](Request req, Responder respond) {
    Response r;
    r.body = req.body;  // echo back: exercises both directions' windows
    respond(std::move(r));
  });
  // A small client window makes the server respect flow control too.
  H2Client c(ts.port(), "", /*window=*/16384);
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>(i);
  int32_t a = c.Submit("POST", "/a", big);
  int32_t b = c.Submit("POST", "/b", big.substr(0, 100000), {}, false);
  ASSERT_TRUE(c.Run(20000));
  EXPECT_EQ(c.responses[a].status, 200);
  EXPECT_TRUE(c.responses[a].body == big);
  EXPECT_TRUE(c.responses[b].body == big.substr(0, 100000));
}

TEST(Http2, ConcurrentStreamsAnsweredOutOfOrder) {
  std::mutex mu;
  std::vector<std::pair<std::string, Responder>> parked;
  constexpr int kStreams = 20;
  TestServer ts([&](Request req, Responder respond) {
    std::lock_guard lock(mu);
    parked.emplace_back(req.path, std::move(respond));
    if (parked.size() == kStreams) {
      std::thread([p = std::move(parked)]() mutable {
        for (auto it = p.rbegin(); it != p.rend(); ++it) {
          Response r;
          r.body = it->first;
          it->second(std::move(r));
        }
      }).detach();
    }
  });
  H2Client c(ts.port());
  std::map<int32_t, std::string> ids;
  for (int i = 0; i < kStreams; ++i) {
    std::string path = "/s" + std::to_string(i);
    ids[c.Submit("POST", path, "x")] = path;
  }
  ASSERT_TRUE(c.Run());
  for (auto& [id, path] : ids) EXPECT_EQ(c.responses[id].body, path);
}

TEST(Http2, Limits) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  o.max_header_bytes = 4096;
  std::atomic<int> calls{0};
  TestServer ts(
      [&](Request req, Responder respond) {
        ++calls;
        Echo(std::move(req), std::move(respond));
      },
      o);
  H2Client c(ts.port());
  int32_t by_length = c.Submit("POST", "/", std::string(1001, 'a'));
  int32_t by_data = c.Submit("POST", "/", std::string(5000, 'a'), {}, false);
  int32_t big_header =
      c.Submit("GET", "/", "", {{"x-big", std::string(5000, 'h')}});
  int32_t fine = c.Submit("POST", "/ok", std::string(1000, 'a'));
  ASSERT_TRUE(c.Run());
  EXPECT_EQ(c.responses[by_length].status, 413);
  EXPECT_EQ(c.responses[by_data].status, 413);
  EXPECT_EQ(c.responses[big_header].status, 431);
  EXPECT_EQ(c.responses[fine].status, 200);
  EXPECT_EQ(calls.load(), 1);
  // The connection survives its streams' errors.
  int32_t again = c.Submit("GET", "/again");
  ASSERT_TRUE(c.Run());
  EXPECT_EQ(c.responses[again].status, 200);
}

// Raw HTTP/2 frames, for what a well-behaved client library never sends.
std::string H2Frame(uint8_t type, uint8_t flags, uint32_t stream,
                    std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    f.push_back(static_cast<char>((stream >> shift) & 0x7f));
  }
  f.append(payload);
  return f;
}

// HTTP/1's request timeout bounds a request that never completes; HTTP/2
// must too, per stream: otherwise PINGs (or a DATA byte now and then) keep
// a half-sent upload, and its buffered body, alive for ever.
TEST(Http2, IncompleteRequestsAreResetAfterTheRequestTimeout) {
  ServerOptions o;
  o.request_timeout_seconds = 1;
  o.idle_timeout_seconds = 3;
  TestServer ts(Echo, o);
  test::Transport t(ts.port());
  // HPACK: :method POST, :scheme http, :path /, :authority x (literal).
  const std::string post("\x83\x86\x84\x41\x01x", 6);
  const std::string get("\x82\x86\x84\x41\x01x", 6);
  ASSERT_TRUE(t.Send(std::string(H2Client::kPrefaceForTests) +
                     H2Frame(4, 0, 0, "") + H2Frame(1, 4, 1, post) +
                     H2Frame(0, 0, 1, "some of the body")));
  std::string in;
  bool reset = false;
  bool answered = false;
  auto start = std::chrono::steady_clock::now();
  while (!answered &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(6)) {
    // A PING every 200 ms: the connection is never idle.
    ASSERT_TRUE(t.Send(H2Frame(6, 0, 0, "12345678")));
    char buf[4096];
    ssize_t n = t.Recv(buf, sizeof(buf), 200);
    if (n == 0) break;
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    while (in.size() >= 9) {
      size_t len = (static_cast<uint8_t>(in[0]) << 16) |
                   (static_cast<uint8_t>(in[1]) << 8) |
                   static_cast<uint8_t>(in[2]);
      if (in.size() < 9 + len) break;
      uint8_t type = static_cast<uint8_t>(in[3]);
      uint32_t stream = static_cast<uint8_t>(in[8]);
      if (type == 3 && stream == 1 && !reset) {
        reset = true;
        EXPECT_GE(std::chrono::steady_clock::now() - start,
                  std::chrono::milliseconds(900));
        // The connection itself lives on.
        ASSERT_TRUE(t.Send(H2Frame(1, 5, 3, get)));
      }
      if (type == 1 && stream == 3) answered = true;
      in.erase(0, 9 + len);
    }
  }
  EXPECT_TRUE(reset);
  EXPECT_TRUE(answered);
}

TEST(Http2, GarbageAfterPrefaceClosesConnection) {
  TestServer ts(Echo);
  H1Client c(ts.port());
  c.Send(std::string(H2Client::kPrefaceForTests) + std::string(100, '\xff'));
  EXPECT_TRUE(c.PeerClosed());
  H2Client ok(ts.port());
  int32_t id = ok.Submit("GET", "/");
  ASSERT_TRUE(ok.Run());
  EXPECT_EQ(ok.responses[id].status, 200);
}

TEST(Http2, StopAcceptingSendsGoawayAndFinishesStreams) {
  std::mutex mu;
  std::vector<Responder> parked;
  TestServer ts([&](Request, Responder respond) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(respond));
  });
  H2Client c(ts.port());
  int32_t id = c.Submit("GET", "/");
  c.Run(300);  // sends the request; the answer is parked
  while (ts.server().in_flight() < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ts.server().StopAccepting();
  std::thread answer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mu);
    Response r;
    r.body = "finished";
    parked[0](r);
  });
  ASSERT_TRUE(c.Run());
  answer.join();
  EXPECT_EQ(c.goaway_last_stream, id);
  EXPECT_EQ(c.responses[id].body, "finished");
  EXPECT_TRUE(c.WaitClosed());
}

// ------------------------------------------------------------------- TLS

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("riffle_http_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 1 -subj /CN=localhost -keyout " +
        (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() +
        " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static ServerOptions Options() {
    ServerOptions o;
    o.tls =
        TlsOptions{(dir_ / "cert.pem").string(), (dir_ / "key.pem").string()};
    return o;
  }
  static std::filesystem::path dir_;
};
std::filesystem::path TlsTest::dir_;

TEST_F(TlsTest, AlpnSelectsHttp2) {
  TestServer ts(Echo, Options());
  EXPECT_EQ(ts.server().url().substr(0, 8), "https://");
  H2Client c(ts.port(), "h2");
  ASSERT_TRUE(c.transport().ok());
  EXPECT_EQ(c.transport().alpn(), "h2");
  int32_t a = c.Submit("POST", "/tls", "secret");
  int32_t b = c.Submit("GET", "/two");
  ASSERT_TRUE(c.Run());
  EXPECT_EQ(c.responses[a].body, "POST /tls?|secret");
  EXPECT_EQ(c.responses[b].headers["x-major"], "2");
}

TEST_F(TlsTest, AlpnSelectsHttp1) {
  TestServer ts(Echo, Options());
  H1Client c(ts.port(), "http/1.1");
  ASSERT_TRUE(c.transport().ok());
  EXPECT_EQ(c.transport().alpn(), "http/1.1");
  for (int i = 0; i < 3; ++i) {
    auto r = c.Request("POST /t HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
    EXPECT_EQ(r.body, "POST /t?|hi");
  }
}

TEST_F(TlsTest, PlaintextOnTlsPortIsRejected) {
  TestServer ts(Echo, Options());
  H1Client c(ts.port());
  c.Send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(c.PeerClosed());
}

// --------------------------------------------------- real-client checks

bool HaveCommand(const char* check) { return std::system(check) == 0; }

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

TEST(RealClients, CurlHttp2PriorKnowledge) {
  if (!HaveCommand("curl -V 2>/dev/null | grep -q HTTP2")) {
    GTEST_SKIP() << "curl without HTTP/2";
  }
  TestServer ts(Echo);
  std::string url = "http://127.0.0.1:" + std::to_string(ts.port());
  // One request per run: curl 7.88 fails to reuse an h2c connection for a
  // second URL (exit 16), against node's http2 server as well.
  EXPECT_EQ(RunCommand("curl -s --http2-prior-knowledge -w ' %{http_version}' "
                       "-d hello " +
                       url + "/c1"),
            "POST /c1?|hello 2");
  EXPECT_EQ(
      RunCommand("curl -s --http2-prior-knowledge -w ' %{http_version}' " +
                 url + "/c2?x"),
      "GET /c2?x| 2");
}

TEST(RealClients, NodeHttp2WithBody) {
  if (!HaveCommand("node -e 'require(\"http2\")' 2>/dev/null")) {
    GTEST_SKIP() << "no node";
  }
  TestServer ts(Echo);
  // What the AWS SDK for JavaScript v3's default HTTP/2 handler does: one
  // session, POSTs with bodies written in pieces, concurrent streams.
  std::string script = R"JS(
const http2 = require('http2');
const s = http2.connect('http://127.0.0.1:PORT');
let left = 5; const out = [];
for (let i = 0; i < 5; i++) {
  const req = s.request({':method': 'POST', ':path': '/n' + i,
                         'content-type': 'application/x-amz-json-1.1',
                         'x-amz-target': 'Kinesis_20131202.PutRecord'});
  let body = '';
  req.setEncoding('utf8');
  req.on('response', (h) => { if (h[':status'] !== 200) process.exit(2); });
  req.on('data', (d) => body += d);
  req.on('end', () => { out[i] = body; if (--left === 0) {
    console.log(out.join(',')); s.close(); } });
  req.write('{"Data":"');
  req.write('x'.repeat(70000));
  req.end('"}');
}
)JS";
  script.replace(script.find("PORT"), 4, std::to_string(ts.port()));
  std::string path = ::testing::TempDir() + "riffle_h2_client.js";
  std::ofstream(path) << script;
  std::string out = RunCommand("node " + path);
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    if (i) expected += ",";
    expected += "POST /n" + std::to_string(i) + "?|{\"Data\":\"" +
                std::string(70000, 'x') + "\"}";
  }
  EXPECT_EQ(out, expected + "\n");
}

}  // namespace
}  // namespace riffle::http

namespace riffle::http {
namespace {

// For manual checks and load tests: serves Echo (or a fixed PutRecord-like
// reply with RIFFLE_HTTP_FIXED=1) on RIFFLE_HTTP_PORT for
// RIFFLE_HTTP_SECONDS. Run with --gtest_also_run_disabled_tests.
TEST(Manual, DISABLED_Serve) {
  ServerOptions o;
  const char* port = std::getenv("RIFFLE_HTTP_PORT");
  o.port = static_cast<uint16_t>(port ? std::atoi(port) : 18080);
  const char* secs = std::getenv("RIFFLE_HTTP_SECONDS");
  bool fixed = std::getenv("RIFFLE_HTTP_FIXED") != nullptr;
  // RIFFLE_HTTP_KINESIS=1: a Kinesis-like AwsJsonRouter (PutRecord
  // succeeds, DescribeStream fails with ResourceNotFoundException), for
  // checks with the real AWS SDK.
  AwsJsonRouter router;
  AwsJsonService kinesis;
  kinesis.target_prefix = "Kinesis_20131202";
  kinesis.content_type = "application/x-amz-json-1.1";
  kinesis.metrics_service = "kinesis";
  kinesis.operations["PutRecord"] = [](AwsJsonCall call, AwsJsonReply reply) {
    const json::Value* data = call.body.Find("Data");
    reply.Ok(std::string(R"({"SequenceNumber":")") +
             std::to_string(data ? data->text().size() : 0) +
             R"(","ShardId":"shardId-000000000000"})");
  };
  kinesis.operations["DescribeStream"] = [](AwsJsonCall, AwsJsonReply reply) {
    reply.Error({"ResourceNotFoundException",
                 "Stream s under account 000000000000 not found.", 400});
  };
  router.AddService(std::move(kinesis));
  Handler kinesis_handler =
      std::getenv("RIFFLE_HTTP_KINESIS") ? router.AsHandler() : nullptr;
  IoPool pool(2);
  pool.Start();
  Server server(pool, o, [fixed, kinesis_handler](Request req, Responder respond) {
    if (kinesis_handler) return kinesis_handler(std::move(req), respond);
    if (!fixed) return Echo(std::move(req), std::move(respond));
    Response r;
    r.SetHeader("content-type", "application/x-amz-json-1.1");
    r.body =
        R"({"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"})";
    respond(std::move(r));
  });
  ASSERT_TRUE(server.Listen().ok());
  std::printf("listening on %d\n", server.port());
  std::fflush(stdout);
  std::this_thread::sleep_for(
      std::chrono::seconds(secs ? std::atoi(secs) : 30));
}

}  // namespace
}  // namespace riffle::http
