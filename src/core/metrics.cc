#include "core/metrics.h"

#include <fmt/format.h>

namespace riffle::metrics {
namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string RenderLabels(const Labels& labels, const char* extra_name = nullptr,
                         const std::string& extra_value = "") {
  if (labels.empty() && !extra_name) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabel(v) + "\"";
  }
  if (extra_name) {
    if (!first) out += ",";
    out += std::string(extra_name) + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

}  // namespace

void Histogram::Observe(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(seconds * 1e9),
                       std::memory_order_relaxed);
}

Counter& Registry::GetCounter(const std::string& name, const Labels& labels,
                              const std::string& help) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  if (f.help.empty()) f.help = help;
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const Labels& labels,
                                  const std::string& help) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.type = "histogram";
  if (f.help.empty()) f.help = help;
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

Gauge& Registry::GetGauge(const std::string& name, const Labels& labels,
                          const std::string& help) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.type = "gauge";
  if (f.help.empty()) f.help = help;
  auto& slot = f.gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

std::string Registry::RenderText() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += fmt::format("# HELP {} {}\n", name, f.help);
    out += fmt::format("# TYPE {} {}\n", name, f.type);
    for (const auto& [labels, c] : f.counters) {
      out += fmt::format("{}{} {}\n", name, RenderLabels(labels), c->value());
    }
    for (const auto& [labels, g] : f.gauges) {
      out += fmt::format("{}{} {}\n", name, RenderLabels(labels), g->value());
    }
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < Histogram::kBuckets.size(); ++i) {
        cumulative += h->buckets_[i].load(std::memory_order_relaxed);
        out +=
            fmt::format("{}_bucket{} {}\n", name,
                        RenderLabels(labels, "le",
                                     fmt::format("{}", Histogram::kBuckets[i])),
                        cumulative);
      }
      uint64_t count = h->count_.load(std::memory_order_relaxed);
      out += fmt::format("{}_bucket{} {}\n", name,
                         RenderLabels(labels, "le", "+Inf"), count);
      out += fmt::format(
          "{}_sum{} {}\n", name, RenderLabels(labels),
          static_cast<double>(h->sum_nanos_.load(std::memory_order_relaxed)) /
              1e9);
      out += fmt::format("{}_count{} {}\n", name, RenderLabels(labels), count);
    }
  }
  return out;
}

Registry& Global() {
  static Registry* registry = new Registry();
  return *registry;
}

}  // namespace riffle::metrics
