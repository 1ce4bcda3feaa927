#!/usr/bin/env bash
# Side-by-side DynamoDB figures (docs/benchmarks.md, "Tables (DynamoDB)"):
# riffle (strict durability), dynalite (in memory) and an nginx static reply
# as the HTTP floor, driven by the same load generator, interleaved, 3 runs.
# Usage: bench/dynamodb_bench.sh BUILD_DIR [DURATION_S] [RUNS]
set -euo pipefail
BUILD=${1:?build dir}; DUR=${2:-5}; RUNS=${3:-3}
REPO=$(cd "$(dirname "$0")/.." && pwd)
L=$BUILD/bench/dynamodb_load
W=$(mktemp -d /tmp/riffle-ddb-bench.XXXXXX)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); DP=$(free_port); NP=$(free_port)
mkdir -p "$W/nginx"
cat > "$W/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $W/nginx/pid; error_log $W/nginx/error.log;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $W/nginx/b; proxy_temp_path $W/nginx/p; fastcgi_temp_path $W/nginx/f;
  uwsgi_temp_path $W/nginx/u; scgi_temp_path $W/nginx/s;
  server { listen 127.0.0.1:$NP;
    location / { default_type application/json; return 200 '{"Item":{"pk":{"S":"g-1"}}}'; } } }
CONF
/usr/sbin/nginx -c "$W/nginx/nginx.conf" & NGINX=$!
"$BUILD/riffle" server --data-dir "$W/riffle" --aws-port "$RP" --registry-port 0 --http-port 0 \
  > "$W/riffle.log" 2>&1 & RIFFLE=$!
(cd "$REPO" && exec npx dynalite --port "$DP" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0) \
  > "$W/dynalite.log" 2>&1 & DYNALITE=$!
trap 'kill $NGINX $RIFFLE $DYNALITE 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
sleep 3
"$L" --endpoint "http://127.0.0.1:$RP" --op setup >/dev/null
"$L" --endpoint "http://127.0.0.1:$DP" --op setup >/dev/null
for run in $(seq "$RUNS"); do
  for c in 1 16; do
    "$L" --endpoint "http://127.0.0.1:$NP" --op static --connections "$c" --duration "$DUR" | sed "s/^/nginx   /"
    for op in get query put; do
      "$L" --endpoint "http://127.0.0.1:$RP" --op "$op" --connections "$c" --duration "$DUR" | sed "s/^/riffle  /"
      "$L" --endpoint "http://127.0.0.1:$DP" --op "$op" --connections "$c" --duration "$DUR" | sed "s/^/dynalite/"
    done
  done
done
