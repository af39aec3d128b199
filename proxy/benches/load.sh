#!/usr/bin/env bash
# The proxy's cost, in one run on loopback, under the same bounded load
# (wrk from Debian's packages: fixed connections, fixed duration, the
# request mix of mix.lua, one request in ten rejected):
#
#   direct     the upstream itself (examples/bench_upstream.rs)
#   nginx      Debian's nginx as a plain proxy_pass (keep-alive upstream)
#   proxy-off  invalid-scope-proxy with [observe] enabled = false
#   proxy-on   invalid-scope-proxy as shipped (bodies observed)
#
# Targets run in turn, ROUNDS times, and each figure is the median of its
# rounds, so a burst of noise on this shared machine hits one round of
# every target rather than all rounds of one. Besides throughput and p99
# it reads each target's CPU time from /proc (user + system, nginx's
# workers included) and divides by the requests served: on a 2-core machine
# shared by wrk, the upstream and the hop, CPU per request is the steadier
# figure. Prints a Markdown table (medians of the rounds).
#
#   bash proxy/benches/load.sh                 # ROUNDS=5 DURATION=10 CONNECTIONS=32
#   ROUNDS=3 DURATION=5 bash proxy/benches/load.sh
#
# Needs wrk and nginx (apt-get install wrk nginx-light).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
target_dir=${CARGO_TARGET_DIR:-target}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "needs $tool: apt-get install wrk nginx-light" >&2; exit 1; }
done

cargo build -q --release -p invalid-scope-proxy --bin invalid-scope-proxy --example bench_upstream
proxy_bin="$target_dir/release/invalid-scope-proxy"
upstream_bin="$target_dir/release/examples/bench_upstream"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; exit 1
}

up=$(free_port)
"$upstream_bin" "127.0.0.1:$up" & pids+=($!)

ngx=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  upstream authorization_server { server 127.0.0.1:$up; keepalive 64; }
  server {
    listen 127.0.0.1:$ngx;
    location / {
      proxy_pass http://authorization_server;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;
    }
  }
}
NGINX
nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" & pids+=($!)

# Sets $port; not in a subshell, so that its pid reaches the cleanup.
start_proxy() { # name enabled
  local admin
  port=$(free_port); admin=$(free_port)
  cat > "$work/$1.toml" <<TOML
listen = "127.0.0.1:$port"
upstream = "http://127.0.0.1:$up"
known_scopes = ["read", "write", "admin"]
[grantable]
default = ["read", "write"]
[observe]
enabled = $2
[admin]
listen = "127.0.0.1:$admin"
TOML
  "$proxy_bin" --config "$work/$1.toml" > "$work/$1.log" & pids+=($!)
}
start_proxy proxy-off false; off=$port
start_proxy proxy-on true; on=$port
for port in "$up" "$ngx" "$off" "$on"; do wait_port "$port"; done

names=(direct nginx proxy-off proxy-on)
declare -A port_of=([direct]=$up [nginx]=$ngx [proxy-off]=$off [proxy-on]=$on)
# The processes whose CPU time each target spends (nginx: its workers).
declare -A pids_of=([direct]=${pids[0]} [nginx]="${pids[1]} $(pgrep -P "${pids[1]}" | tr '\n' ' ')" \
  [proxy-off]=${pids[2]} [proxy-on]=${pids[3]})
ticks() { # user + system clock ticks of these pids
  local total=0 pid
  for pid in $1; do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

# "1.23ms" / "850.00us" / "1.02s" in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
    else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
    else print v }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "# wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency -s proxy/benches/mix.lua, $ROUNDS rounds, $(nproc) cores" >&2
for round in $(seq "$ROUNDS"); do
  for name in "${names[@]}"; do
    before=$(ticks "${pids_of[$name]}")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s proxy/benches/mix.lua "http://127.0.0.1:${port_of[$name]}")
    after=$(ticks "${pids_of[$name]}")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errors=$(awk '/Socket errors|Non-2xx/ { print }' <<<"$out")
    [ -z "$errors" ] || { echo "$name round $round: $errors" >&2; exit 1; }
    echo "$rps" >> "$work/$name.rps"; echo "$p99" >> "$work/$name.p99"; echo "$cpu" >> "$work/$name.cpu"
    printf '  round %s %-9s %10.0f req/s  p99 %6.2f ms  %6.2f CPU µs/request\n' "$round" "$name" "$rps" "$p99" "$cpu" >&2
  done
done

declare -A rps p99 cpu
for name in "${names[@]}"; do
  rps[$name]=$(median < "$work/$name.rps")
  p99[$name]=$(median < "$work/$name.p99")
  cpu[$name]=$(median < "$work/$name.cpu")
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
echo
echo "| target | req/s | p99 ms | CPU µs/request | req/s ÷ nginx | p99 ÷ nginx | CPU ÷ nginx |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for name in "${names[@]}"; do
  printf '| %s | %.0f | %.2f | %.2f | %s | %s | %s |\n' "$name" "${rps[$name]}" "${p99[$name]}" "${cpu[$name]}" \
    "$(ratio "${rps[$name]}" "${rps[nginx]}")" "$(ratio "${p99[$name]}" "${p99[nginx]}")" \
    "$(ratio "${cpu[$name]}" "${cpu[nginx]}")"
done
echo
for name in proxy-off proxy-on; do
  echo "targets, $name against nginx: CPU per request ≤ 1.25 × nginx's: $(ratio "${cpu[$name]}" "${cpu[nginx]}");" \
    "p99 ≤ nginx's: $(ratio "${p99[$name]}" "${p99[nginx]}")"
done
echo "observer cost: proxy-on ÷ proxy-off throughput = $(ratio "${rps[proxy-on]}" "${rps[proxy-off]}") (target ≥ 0.97);" \
  "CPU per request = $(ratio "${cpu[proxy-on]}" "${cpu[proxy-off]}")"
echo "rejections reported by proxy-on: $(grep -c '"oauth.authorize.invalid_scope"' "$work/proxy-on.log" || true) lines (rate limit 100/s, burst 100; the rest counted as suppressed)"
