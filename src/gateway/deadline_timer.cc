#include "gateway/deadline_timer.h"

#include <utility>

namespace riffle::gateway {

DeadlineTimer::DeadlineTimer() : thread_([this] { Run(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

DeadlineTimer::Ticket DeadlineTimer::At(Clock::time_point when,
                                        std::function<void()> fn) {
  Ticket ticket{when, 0};
  bool earliest;
  {
    std::lock_guard l(mu_);
    ticket.id = ++next_id_;
    auto it = due_.emplace(std::pair{when, ticket.id}, std::move(fn)).first;
    earliest = it == due_.begin();
  }
  if (earliest) cv_.notify_all();
  return ticket;
}

void DeadlineTimer::Cancel(const Ticket& ticket) {
  std::function<void()> dropped;  // destroyed outside the lock
  std::lock_guard l(mu_);
  auto it = due_.find({ticket.when, ticket.id});
  if (it == due_.end()) return;
  dropped = std::move(it->second);
  due_.erase(it);
}

void DeadlineTimer::Run() {
  std::unique_lock l(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(l);
      continue;
    }
    auto first = due_.begin();
    // A copy: wait_until reads its deadline again after waking, by which
    // time a Cancel may have erased the entry that held it.
    const Clock::time_point deadline = first->first.first;
    if (Clock::now() < deadline) {
      cv_.wait_until(l, deadline);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    due_.erase(first);
    // Run and destroyed outside the lock: `fn` may schedule or cancel.
    l.unlock();
    fn();
    fn = nullptr;
    l.lock();
  }
}

}  // namespace riffle::gateway
