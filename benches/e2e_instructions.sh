#!/usr/bin/env bash
# End to end, counted in instructions: the stand-in authorization server
# (examples/e2e_server.rs, the same binary benches/e2e.sh loads with wrk)
# under callgrind, bare and observed, serving a fixed number of keep-alive
# requests from a small Python client on 127.0.0.1. Instructions per request
# are the difference between a long and a short run divided by the extra
# requests, so start-up and connection set-up cancel out. Unlike throughput
# on this shared machine, the counts repeat exactly; their ratio
# (bare / observed) is the throughput ratio the server would reach at equal
# instructions per cycle.
#
#   bash benches/e2e_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

port=${E2E_PORT:-18181}
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --example e2e_server -q
server=${CARGO_TARGET_DIR:-target}/release/examples/e2e_server

client=$(mktemp --suffix=.py)
trap 'rm -f "$client"; kill $(jobs -p) 2>/dev/null || true' EXIT
cat > "$client" <<'PY'
import http.client, sys
port, requests, traffic = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for n in range(1, requests + 1):
    # One request in ten asks for a scope the client may not have.
    scope = "openid+admin" if traffic == "mix" and n % 10 == 0 else "openid+email"
    connection.request("GET", f"/authorize?client_id=e2e&scope={scope}&state=s")
    connection.getresponse().read()
PY

# Instructions the server spent in a run of $3 requests of $2 traffic, in $1 mode.
count() {
  local log
  log=$(mktemp)
  E2E_PORT=$port E2E_SECONDS=120 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$server" "$1" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  python3 "$client" "$port" "$3" "$2"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
  rm -f "$log"
}

small=2000
large=12000
for traffic in pass mix; do
  for mode in bare observed; do
    per_request=$(( ($(count "$mode" "$traffic" $large) - $(count "$mode" "$traffic" $small)) / (large - small) ))
    printf -v "$mode" '%s' "$per_request"
  done
  printf '%-5s bare %6d   observed %6d instructions/request   ratio bare/observed %s\n' \
    "$traffic" "$bare" "$observed" "$(awk -v b="$bare" -v o="$observed" 'BEGIN { printf "%.4f", b / o }')"
done
