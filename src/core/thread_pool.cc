#include "core/thread_pool.h"

#include <exception>

#include "core/logging.h"

namespace riffle {

ThreadPool::ThreadPool(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Post(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(work));
  }
  cv_.notify_one();
}

void ThreadPool::Run() {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    // The one catch-all for posted work: an exception must not end the
    // process. Handlers that posted themselves here still answer: their
    // responders reply 500 when dropped unanswered.
    try {
      work();
    } catch (const std::exception& e) {
      RLOG_ERROR("unexpected exception in posted work: {}", e.what());
    } catch (...) {
      RLOG_ERROR("unexpected exception in posted work");
    }
  }
}

}  // namespace riffle
