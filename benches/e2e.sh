#!/usr/bin/env bash
# End to end: the stand-in authorization server on 127.0.0.1, bare and
# observed, each loaded by wrk (Debian's package) for a fixed time, for
# pass-through traffic and for a mix with one request in ten rejected.
# Prints both throughputs and their ratio. Binds only 127.0.0.1, bounded in
# time, stops everything it started.
#
# Bare and observed runs alternate, round after round, so a slow spell of
# the shared machine hits both alike; the figure reported is the median of
# the per-round ratios (observed / bare of the same round), beside the
# median throughputs.
#
#   bash benches/e2e.sh            # 5 s per run, 9 rounds
#   E2E_DURATION=10 E2E_ROUNDS=3 bash benches/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${E2E_DURATION:-5}
rounds=${E2E_ROUNDS:-9}
port=${E2E_PORT:-18080}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --example e2e_server -q
server=${CARGO_TARGET_DIR:-target}/release/examples/e2e_server

mix=$(mktemp --suffix=.lua)
trap 'rm -f "$mix"; kill $(jobs -p) 2>/dev/null || true' EXIT
cat > "$mix" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  if counter % 10 == 0 then
    return wrk.format("GET", "/authorize?client_id=e2e&scope=openid+admin&state=s")
  end
  return wrk.format("GET", "/authorize?client_id=e2e&scope=openid+email&state=s")
end
LUA

# One run: requests per second of $1 (bare|observed) under traffic $2 (pass|mix).
run() {
  E2E_PORT=$port E2E_SECONDS=$((duration + 5)) taskset -c 0 "$server" "$1" &
  local pid=$!
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  local script=()
  [ "$2" = mix ] && script=(-s "$mix")
  local rps
  rps=$(taskset -c 1 wrk -t1 -c32 -d"${duration}s" "${script[@]}" \
    "http://127.0.0.1:$port/authorize?client_id=e2e&scope=openid+email&state=s" \
    | awk '/Requests\/sec/ {print $2}')
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$rps"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for traffic in pass mix; do
  bare=(); observed=(); ratios=()
  for round in $(seq "$rounds"); do
    # Alternate which goes first, so neither always runs on a warmer machine.
    if (( round % 2 )); then
      b=$(run bare "$traffic"); o=$(run observed "$traffic")
    else
      o=$(run observed "$traffic"); b=$(run bare "$traffic")
    fi
    bare+=("$b"); observed+=("$o")
    ratios+=("$(awk -v o="$o" -v b="$b" 'BEGIN { printf "%.3f", o / b }')")
  done
  printf '%-5s median bare %8.0f req/s   median observed %8.0f req/s   median ratio %s   (ratios by round: %s)\n' \
    "$traffic" "$(median "${bare[@]}")" "$(median "${observed[@]}")" "$(median "${ratios[@]}")" "${ratios[*]}"
done
