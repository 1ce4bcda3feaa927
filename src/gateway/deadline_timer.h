// Runs callbacks at deadlines on one thread of its own: how the gateway
// answers a request whose function is slower than the route allows without
// a network thread waiting. Thread-safe. The destructor stops the thread;
// callbacks not yet due are dropped without running.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace riffle::gateway {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;

  DeadlineTimer();
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Names one scheduled callback, for Cancel.
  struct Ticket {
    Clock::time_point when;
    uint64_t id = 0;
  };

  // Runs `fn` on the timer's thread at `when` (at once if past). `fn` must
  // not block: later deadlines wait for it.
  Ticket At(Clock::time_point when, std::function<void()> fn);
  // Drops the callback of `ticket` unless it has run or is running; its
  // captures are released now rather than at the deadline.
  void Cancel(const Ticket& ticket);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> due_;
  uint64_t next_id_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace riffle::gateway
