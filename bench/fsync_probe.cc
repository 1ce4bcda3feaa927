// fsync_probe: what a durable append costs on a file system, by how the file
// is written and by how many flushes are in flight at once. It answers, for
// docs/benchmarks.md ("Streams"), two questions about the log's group commit:
// is a flush that carries no metadata (the write lands inside a region that
// is already allocated and written) cheaper than one that grows the file, and
// do flushes of the same file that overlap cost more than one?
//
// Usage: fsync_probe DIR [seconds-per-variant] [rounds] [record-bytes]
//
// A variant is a write mode, a number of files and a number of writers per
// file. Each writer appends `record-bytes` records to its file (at a position
// taken from a shared counter) and makes each durable before the next, as a
// client waiting for its acknowledgement would. Rounds interleave the
// variants so that every variant sees the same background load; the table
// gives, per variant, the median over rounds of durable appends per second
// and of the per-round p50/p99 latency of one write + sync.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class Mode {
  kAppend,          // pwrite past the end + fdatasync: size and extents change
  kFallocated,      // into a fallocate'd (unwritten-extent) region + fdatasync
  kPrezeroed,       // into zeros written and synced ahead + fdatasync
  kPrezeroedDsync,  // as kPrezeroed, with pwritev2(RWF_DSYNC) instead
};

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kAppend:
      return "append (grows the file) + fdatasync";
    case Mode::kFallocated:
      return "into fallocate'd region + fdatasync";
    case Mode::kPrezeroed:
      return "overwrite pre-zeroed region + fdatasync";
    case Mode::kPrezeroedDsync:
      return "overwrite pre-zeroed region, pwritev2 RWF_DSYNC";
  }
  return "?";
}

struct Variant {
  Mode mode;
  int files;
  int writers_per_file;
};

void Die(const char* what) {
  std::fprintf(stderr, "fsync_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

constexpr uint64_t kRegion = 64 << 20;  // room for any run

// Appends `record` until `end`, one durable write at a time.
void Write(int fd, Mode mode, const std::string& record,
           std::atomic<uint64_t>* next_position, std::latch* start,
           double seconds, std::vector<double>* latencies_us) {
  // Every writer starts its timed window together, after the preparation.
  start->arrive_and_wait();
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    uint64_t position = next_position->fetch_add(record.size());
    if (Clock::now() >= end || position + record.size() >= kRegion) break;
    auto t0 = Clock::now();
    if (mode == Mode::kPrezeroedDsync) {
      iovec iov{const_cast<char*>(record.data()), record.size()};
      if (::pwritev2(fd, &iov, 1, static_cast<off_t>(position), RWF_DSYNC) !=
          static_cast<ssize_t>(record.size())) {
        Die("pwritev2");
      }
    } else {
      if (::pwrite(fd, record.data(), record.size(),
                   static_cast<off_t>(position)) !=
          static_cast<ssize_t>(record.size())) {
        Die("pwrite");
      }
      if (::fdatasync(fd) != 0) Die("fdatasync");
    }
    latencies_us->push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
}

int PrepareFile(const std::string& path, Mode mode) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("open");
  if (mode == Mode::kFallocated) {
    if (::fallocate(fd, 0, 0, kRegion) != 0) Die("fallocate");
    if (::fsync(fd) != 0) Die("fsync");
  } else if (mode == Mode::kPrezeroed || mode == Mode::kPrezeroedDsync) {
    std::string zeros(1 << 20, '\0');
    for (uint64_t pos = 0; pos < kRegion; pos += zeros.size()) {
      if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(pos)) !=
          static_cast<ssize_t>(zeros.size())) {
        Die("pwrite zeros");
      }
    }
    if (::fsync(fd) != 0) Die("fsync");
  }
  return fd;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  return v[i];
}

struct RoundResult {
  double rate = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

RoundResult RunVariant(const std::string& dir, const Variant& v, double seconds,
                       size_t record_bytes) {
  std::vector<int> fds;
  for (int f = 0; f < v.files; ++f) {
    fds.push_back(
        PrepareFile(dir + "/fsync-probe-" + std::to_string(f), v.mode));
  }
  int writers = v.files * v.writers_per_file;
  std::vector<std::atomic<uint64_t>> positions(v.files);
  std::vector<std::vector<double>> latencies(writers);
  std::latch start(writers);
  std::string record(record_bytes, 'x');
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    int f = w % v.files;
    threads.emplace_back([&, w, f] {
      Write(fds[f], v.mode, record, &positions[f], &start, seconds,
            &latencies[w]);
    });
  }
  for (auto& t : threads) t.join();
  for (int f = 0; f < v.files; ++f) {
    ::close(fds[f]);
    ::unlink((dir + "/fsync-probe-" + std::to_string(f)).c_str());
  }
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return RoundResult{static_cast<double>(all.size()) / seconds,
                     Percentile(all, 0.5) / 1000, Percentile(all, 0.99) / 1000};
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: fsync_probe DIR [seconds-per-variant] [rounds] "
                 "[record-bytes]\n");
    return 2;
  }
  std::string dir = argv[1];
  double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  size_t record_bytes = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 160;
  std::vector<Variant> variants;
  for (Mode m : {Mode::kAppend, Mode::kFallocated, Mode::kPrezeroed,
                 Mode::kPrezeroedDsync}) {
    variants.push_back({m, 1, 1});
    variants.push_back({m, 4, 1});
  }
  variants.push_back({Mode::kAppend, 1, 4});
  variants.push_back({Mode::kAppend, 4, 4});
  variants.push_back({Mode::kPrezeroed, 1, 4});
  variants.push_back({Mode::kPrezeroed, 4, 4});
  std::vector<std::vector<RoundResult>> results(variants.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < variants.size(); ++i) {
      results[i].push_back(RunVariant(dir, variants[i], seconds, record_bytes));
    }
  }
  std::printf(
      "| write | files | writers per file | durable appends/s | p50 ms | p99 "
      "ms |\n|---|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < variants.size(); ++i) {
    std::vector<double> rate, p50, p99;
    for (const RoundResult& r : results[i]) {
      rate.push_back(r.rate);
      p50.push_back(r.p50_ms);
      p99.push_back(r.p99_ms);
    }
    std::printf("| %s | %d | %d | %.0f | %.3f | %.3f |\n",
                ModeName(variants[i].mode), variants[i].files,
                variants[i].writers_per_file, Median(rate), Median(p50),
                Median(p99));
  }
  return 0;
}
