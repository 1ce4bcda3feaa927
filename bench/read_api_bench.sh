#!/usr/bin/env bash
# The read API against the DynamoDB API beneath it (docs/benchmarks.md,
# "Read API"): one riffle (strict durability) started with
# bench/read_api_stack.yaml, the items of `dynamodb_load --op setup`, then,
# interleaved in each run with the same load generator and connections:
#   health      GET /health on the http port (riffle's HTTP floor)
#   read-get    GET /items/g-<i>/0           (read API, GetItem route)
#   get         DynamoDB GetItem of the same items
#   read-query  GET /partitions/q-<j>?limit=100 (read API, Query route)
#   query       DynamoDB Query of the same partitions, Limit 100
# and prints the medians of the runs as a Markdown table.
# Usage: bench/read_api_bench.sh BUILD_DIR [DURATION_S] [RUNS] [CONNECTIONS]
set -euo pipefail
BUILD=${1:?build dir}; DUR=${2:-5}; RUNS=${3:-3}; CONNS=${4:-16}
REPO=$(cd "$(dirname "$0")/.." && pwd)
L=$BUILD/bench/dynamodb_load
W=$(mktemp -d /tmp/riffle-read-api-bench.XXXXXX)
"$BUILD/riffle" server --data-dir "$W/data" --aws-port 0 --registry-port 0 --http-port 0 \
  --stack "$REPO/bench/read_api_stack.yaml" > "$W/riffle.log" 2>&1 & RIFFLE=$!
trap 'kill $RIFFLE 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 200); do [ -s "$W/data/endpoints.json" ] && break; sleep 0.05; done
endpoint() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$W/data/endpoints.json" "$1"; }
AWS=$(endpoint aws); HTTP=$(endpoint http)
"$L" --endpoint "$AWS" --op setup >/dev/null
echo "# $(uptime)" >&2
for run in $(seq "$RUNS"); do
  for op in health read-get get read-query query; do
    case $op in get|query) E=$AWS ;; *) E=$HTTP ;; esac
    "$L" --endpoint "$E" --op "$op" --connections "$CONNS" --duration "$DUR" | tee -a "$W/results.jsonl" >&2 || true
  done
  echo "# run $run done: $(uptime)" >&2
done
/usr/bin/python3 - "$W/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
names = {"health": "`/health` (HTTP floor)", "read-get": "read API: GET by key",
         "get": "DynamoDB GetItem (same items)", "read-query": "read API: Query page (100 items)",
         "query": "DynamoDB Query (same partitions, Limit 100)"}
print("| request | requests/s | p50 | p99 | runs (requests/s) |")
print("|---|---|---|---|---|")
med = {}
for op, name in names.items():
    rs = [r for r in rows if r["op"] == op]
    if not rs:
        continue
    m = {k: statistics.median(r[k] for r in rs) for k in ("per_second", "p50_us", "p99_us")}
    med[op] = m
    errors = sum(r["errors"] for r in rs)
    runs = " / ".join(f"{r['per_second']:,.0f}" for r in rs)
    print(f"| {name} | {m['per_second']:,.0f} | {m['p50_us']:.0f} µs | {m['p99_us']:.0f} µs | {runs}"
          f"{f' ({errors} errors)' if errors else ''} |")
for a, b in (("read-get", "get"), ("read-query", "query")):
    if a in med and b in med:
        print(f"\n{a} ÷ {b}: {med[a]['per_second'] / med[b]['per_second']:.2f} (requests/s), "
              f"p50 {med[a]['p50_us'] - med[b]['p50_us']:+.0f} µs")
PY
