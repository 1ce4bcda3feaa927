// A small Prometheus-style metrics registry: counters, gauges and histograms
// keyed by name and label values, rendered in the Prometheus text format
// (0.0.4).
//
// Thread-safe. Lookups that create a series take a mutex; callers on a hot
// path keep the returned reference (series are never destroyed while the
// registry lives) and update it with relaxed atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace riffle::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (an iterator age, a queue length). Set
// replaces it, Add moves it.
class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Latency histogram with fixed buckets in seconds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   5.0};

  void Observe(double seconds);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  std::array<std::atomic<uint64_t>, kBuckets.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};
};

class Registry {
 public:
  // Returns the series for `name` with `labels`, creating it on first use.
  // `help` is recorded on first use of the name.
  Counter& GetCounter(const std::string& name, const Labels& labels,
                      const std::string& help = "");
  Histogram& GetHistogram(const std::string& name, const Labels& labels,
                          const std::string& help = "");
  Gauge& GetGauge(const std::string& name, const Labels& labels,
                  const std::string& help = "");

  // The whole registry in the Prometheus text exposition format.
  std::string RenderText() const;

 private:
  struct Family {
    std::string help;
    // A name holds one kind of series: "counter", "gauge" or "histogram".
    const char* type = "counter";
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// The process-wide registry that /metrics serves.
Registry& Global();

}  // namespace riffle::metrics
