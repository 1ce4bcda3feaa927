#!/usr/bin/env bash
# Interleaved A/B(/C...) runs of bench/pipeline_bench.sh: round after round,
# each build in turn, so that the load of a shared machine falls on all of
# them alike. Before each run it waits (up to 5 min) for the 1-minute load
# average to drop below MAX_LOAD, and prints `uptime` with the run.
# Usage: [MODES="latency throughput"] [ROUNDS=3] [MAX_LOAD=4]
#        bench/pipeline_ab.sh BUILD_DIR... (each with riffle and bench/pipeline_load)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}; MAX_LOAD=${MAX_LOAD:-4}
export MODES=${MODES:-latency throughput}
for round in $(seq "$ROUNDS"); do
  for build in "$@"; do
    for _ in $(seq 30); do
      load=$(cut -d' ' -f1 /proc/loadavg)
      awk "BEGIN{exit !($load < $MAX_LOAD)}" && break
      sleep 10
    done
    echo "== round $round $build $(uptime)"
    "$HERE/pipeline_bench.sh" "$build" 10 1 2>&1 | grep '^{'
  done
done
echo "== end $(uptime)"
