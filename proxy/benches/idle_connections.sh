#!/usr/bin/env bash
# Memory per connection: the proxy's resident memory with N connections
# held open on loopback, below max_connections, measured twice: N silent
# connections (accepted, not a byte sent), then N kept-alive connections
# that each had one request answered. Prints KiB per connection.
#
#   bash proxy/benches/idle_connections.sh          # N=10000
#   N=2000 bash proxy/benches/idle_connections.sh
#
# Target (issue "the sidecar survives the internet"): at most 16 KiB each.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-10000}
target_dir=${CARGO_TARGET_DIR:-target}
# Each process (the proxy, the client) holds N descriptors and a few more.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 512)) ]; then
  echo "needs at least $((N + 512)) open files (ulimit -Hn is $(ulimit -Hn))" >&2; exit 1
fi

cargo build -q --release -p invalid-scope-proxy --bin invalid-scope-proxy --example bench_upstream
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port); port=$(free_port); admin=$(free_port)
"$target_dir/release/examples/bench_upstream" "127.0.0.1:$up" & pids+=($!)
cat > "$work/proxy.toml" <<TOML
listen = "127.0.0.1:$port"
upstream = "http://127.0.0.1:$up"
known_scopes = ["read"]
[admin]
listen = "127.0.0.1:$admin"
[limits]
max_connections = $((N + 100))
header_timeout = 600
TOML
"$target_dir/release/invalid-scope-proxy" --config "$work/proxy.toml" > "$work/proxy.log" & pids+=($!)
proxy=${pids[1]}

python3 - "$port" "$admin" "$proxy" "$N" <<'PY'
import socket, sys, time, urllib.request
port, admin, pid, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def gauge():
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
    for line in text.splitlines():
        if line.startswith("invalid_scope_proxy_open_connections "):
            return float(line.split()[1])
    return 0.0

for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError:
        time.sleep(0.1)
time.sleep(0.5)
# Warm: one request, so what every connection shares is already there.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); s.recv(65536); s.close()
time.sleep(0.5)

def held(send_one):
    before = rss_kib()
    sockets = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        if send_one:
            s.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(65536)
        sockets.append(s)
    deadline = time.time() + 30
    while gauge() < n and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    after = rss_kib()
    open_now = gauge()
    for s in sockets:
        s.close()
    time.sleep(1)
    return before, after, open_now

for name, send_one in [("silent", False), ("kept alive after one request", True)]:
    before, after, open_now = held(send_one)
    print(f"{name}: {int(open_now)} open, RSS {before} -> {after} KiB, "
          f"{(after - before) / n:.1f} KiB per connection")
    time.sleep(2)
PY
