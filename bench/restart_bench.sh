#!/usr/bin/env bash
# How long riffle takes to stop and to come back on a data directory with
# large active segments (docs/benchmarks.md, "Restarts"): loads a fresh
# 4-shard stream with PutRecords for SECONDS_ seconds, then times
#   - the clean shutdown right after the load (SIGTERM to exit),
#   - ROUNDS clean restarts, from exec to ready (endpoints.json written),
#   - after loading as much again and kill -9, the restart (recovery: the
#     scan after each log's synced mark, the journal's replay).
# Each BIN runs in turn on its own fresh data directory.
# Usage: [SECONDS_=3] [ROUNDS=3] [SERVER_ARGS="--durability relaxed"]
#        bench/restart_bench.sh BIN... (a riffle binary or a build directory)
set -uo pipefail
SECONDS_=${SECONDS_:-3}; ROUNDS=${ROUNDS:-3}; SERVER_ARGS=${SERVER_ARGS:-}
cd "$(dirname "$0")/.."
LOAD=${LOAD:-build/bench/kinesis_load}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Starts BIN on DIR in the background and waits until it is ready; sets pid
# and ready_ms (from exec to ready). Not in a subshell: pid must stay ours.
start() {
  local bin=$1 dir=$2 t0
  rm -f "$dir/endpoints.json"
  t0=$(now_ms)
  # shellcheck disable=SC2086
  "$bin" server --data-dir "$dir" --aws-port 0 --registry-port 0 \
    --http-port 0 $SERVER_ARGS >>"$dir.log" 2>&1 &
  pid=$!
  for _ in $(seq 6000); do [ -s "$dir/endpoints.json" ] && break; sleep 0.002; done
  ready_ms=$(( $(now_ms) - t0 ))
}

# Stops the server with SIGTERM; sets stop_ms, until it exited.
stop() {
  local t0
  t0=$(now_ms)
  kill "$pid"
  wait "$pid" 2>/dev/null
  stop_ms=$(( $(now_ms) - t0 ))
}

for target in "$@"; do
  bin=$target
  [ -d "$bin" ] && bin="$bin/riffle"
  dir=$(mktemp -d)
  start "$bin" "$dir"
  aws=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['aws'])" "$dir/endpoints.json")
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$aws" kinesis create-stream --stream-name restart \
    --shard-count 4 >/dev/null
  sleep 0.3
  load() {
    "$LOAD" --endpoint "$aws" --op put-records --records-per-request 500 \
      --connections 8 --record-size 100 --stream restart \
      --duration "$SECONDS_" --warmup 0 >/dev/null
  }
  load
  stop  # right after the load: what a clean close writes out
  shutdown=$stop_ms
  clean=""
  for _ in $(seq "$ROUNDS"); do
    start "$bin" "$dir"
    clean="$clean $ready_ms"
    stop
  done
  start "$bin" "$dir"
  aws=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['aws'])" "$dir/endpoints.json")
  load
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  size=$(du -sh "$dir" | cut -f1)
  start "$bin" "$dir"
  after_kill=$ready_ms
  stop
  echo "$target ($size): clean shutdown right after the load ${shutdown} ms;" \
    "ready after a clean stop${clean} ms; ready after a second load and" \
    "kill -9 ${after_kill} ms"
  rm -rf "$dir" "$dir.log"
done
