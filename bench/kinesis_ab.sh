#!/usr/bin/env bash
# Interleaved A/B(/C...) runs of one kinesis_load scenario against riffle
# builds: round after round, each build in turn, so that the load of a shared
# machine falls on all of them alike. Each run starts `riffle server` (strict
# unless SERVER_ARGS says otherwise) on a fresh data directory, creates a
# stream of SHARDS shards with the aws CLI, runs kinesis_load, and prints one
# line: the load average, the records/s and latency, and the appends each log
# flush made durable (riffle_log_appends_total / riffle_log_flushes_total).
# Usage: [ROUNDS=4] [SHARDS=4] [SECONDS_=4] [OP=put-record] [CONNECTIONS=16]
#        [LOAD_ARGS="--records-per-request 500"] [SERVER_ARGS="--durability relaxed"]
#        bench/kinesis_ab.sh BIN_OR_BUILD_DIR...
# A build directory needs riffle and bench/kinesis_load; a plain riffle
# binary uses the kinesis_load of the first build directory given, or
# build/bench/kinesis_load.
set -uo pipefail
ROUNDS=${ROUNDS:-4}; SHARDS=${SHARDS:-4}; SECONDS_=${SECONDS_:-4}
OP=${OP:-put-record}; CONNECTIONS=${CONNECTIONS:-16}
LOAD_ARGS=${LOAD_ARGS:-}; SERVER_ARGS=${SERVER_ARGS:-}
LOAD=""
for target in "$@"; do
  if [ -d "$target" ] && [ -x "$target/bench/kinesis_load" ]; then
    LOAD="$target/bench/kinesis_load"; break
  fi
done
LOAD=${LOAD:-build/bench/kinesis_load}

counters() {  # appends and flushes so far, from /metrics
  curl -s "$1/metrics" | awk '/^riffle_log_appends_total/ {a=$2}
    /^riffle_log_flushes_total/ {f=$2} END {print a+0, f+0}'
}

run_one() {
  local bin=$1 dir pid aws http before after
  [ -d "$bin" ] && bin="$bin/riffle"
  dir=$(mktemp -d)
  # shellcheck disable=SC2086
  "$bin" server --data-dir "$dir" --aws-port 0 --registry-port 0 \
    --http-port 0 $SERVER_ARGS >"$dir.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -s "$dir/endpoints.json" ] && break; sleep 0.05; done
  aws=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['aws'])" "$dir/endpoints.json")
  http=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['http'])" "$dir/endpoints.json")
  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws --endpoint-url "$aws" kinesis create-stream --stream-name ab \
    --shard-count "$SHARDS" >/dev/null
  sleep 0.3
  before=$(counters "$http")
  # shellcheck disable=SC2086
  result=$("$LOAD" --endpoint "$aws" --op "$OP" --connections "$CONNECTIONS" \
    --record-size 100 --stream ab --duration "$SECONDS_" --warmup 1 $LOAD_ARGS)
  after=$(counters "$http")
  kill "$pid"; wait "$pid" 2>/dev/null
  rm -rf "$dir" "$dir.log"
  python3 - "$result" "$before" "$after" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
a0, f0 = map(float, sys.argv[2].split()); a1, f1 = map(float, sys.argv[3].split())
per = (a1 - a0) / (f1 - f0) if f1 > f0 else 0
print(f"records/s {r['records_per_s']:.0f} p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
      f"errors {r['errors']} appends/flush {per:.1f}")
PY
}

for round in $(seq "$ROUNDS"); do
  for target in "$@"; do
    echo "round $round $target load $(cut -d' ' -f1 /proc/loadavg): $(run_one "$target")"
  done
done
