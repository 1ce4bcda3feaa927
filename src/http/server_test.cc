#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

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

}  // namespace
}  // namespace riffle::http
