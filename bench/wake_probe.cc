// wake_probe: what handing work to another thread costs on this machine,
// when both threads share one CPU and when they sit on two. It answers, for
// docs/benchmarks.md ("Why strict PutRecord stops near 40k/s here"), how
// much of a durable PutRecord's round trip is thread wake-ups: a request
// crosses threads four times (client -> I/O thread -> log writer -> I/O
// thread -> client) and the writer sleeps twice per flush.
//
// Usage: wake_probe [round-trips]
//
// Two threads ping-pong one byte over a pair of pipes, each blocking in
// read() until the other writes: every round trip is two wake-ups of a
// sleeping thread. Pinned to one CPU, a wake-up is a context switch; on two
// CPUs, the sleeping CPU must be woken too (an inter-processor interrupt,
// which a virtual machine without halt polling pays dearly for).
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

// Pins the calling thread to `cpu`; -1 lets it run on every CPU again.
void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  for (long i = 0; i < cpus; ++i) {
    if (cpu < 0 || i == cpu) CPU_SET(i, &set);
  }
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// The mean round trip, in microseconds, of `n` ping-pongs between a thread
// on `cpu_a` and one on `cpu_b`; a negative figure when a pipe failed.
double RoundTripMicros(int cpu_a, int cpu_b, int n) {
  int ping[2], pong[2];
  if (::pipe(ping) != 0 || ::pipe(pong) != 0) return -1;
  Pin(-1);  // the echo thread starts with this thread's CPU set
  std::atomic<bool> ok{true};
  std::thread echo([&] {
    Pin(cpu_b);
    char c;
    for (int i = 0; i < n; ++i) {
      if (::read(ping[0], &c, 1) != 1 || ::write(pong[1], &c, 1) != 1) {
        ok = false;
        return;
      }
    }
  });
  Pin(cpu_a);
  char c = 1;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n && ok; ++i) {
    if (::write(ping[1], &c, 1) != 1 || ::read(pong[0], &c, 1) != 1) {
      ok = false;
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  if (!ok) ::close(ping[1]);  // lets a waiting echo thread end
  echo.join();
  for (int fd : {ping[0], ping[1], pong[0], pong[1]}) ::close(fd);
  if (!ok) return -1;
  return std::chrono::duration<double, std::micro>(elapsed).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  if (n < 1) {
    std::fprintf(stderr, "usage: wake_probe [round-trips]\n");
    return 2;
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  struct Case {
    const char* name;
    int a, b;
  };
  const Case cases[] = {
      {"same CPU (0 and 0)", 0, 0},
      {"two CPUs (0 and 1)", 0, 1},
      {"left to the scheduler", -1, -1},
  };
  std::printf(
      "| threads | round trip us | per wake-up us |\n|---|---:|---:|\n");
  for (const Case& c : cases) {
    if (c.b >= cpus) continue;
    double us = RoundTripMicros(c.a, c.b, n);
    if (us < 0) {
      std::fprintf(stderr, "wake_probe: pipe failed\n");
      return 1;
    }
    std::printf("| %s | %.1f | %.1f |\n", c.name, us, us / 2);
  }
  return 0;
}
