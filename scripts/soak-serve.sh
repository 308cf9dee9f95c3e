#!/usr/bin/env bash
# Soak test of `fastopen serve` (not run in CI): a steady load of TFO
# exchanges, slow clients that hold connections, metrics scrapes and a key
# file rewritten every few seconds, for DURATION. Every INTERVAL it prints
# the server's RSS, open descriptors and goroutines; they should stay
# flat. Runs in a network namespace of its own; needs root.
#
#   sudo bash scripts/soak-serve.sh [DURATION_S=180] [INTERVAL_S=10]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-180}
interval=${2:-10}
[ "$(id -u)" -eq 0 ] || { echo "needs root (creates a network namespace)" >&2; exit 1; }

work=$(mktemp -d)
ns="fo-soak-$$"
bin="$work/fastopen"
pids=()
cleanup() {
  for p in "${pids[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM
go build -o "$bin" ./cmd/fastopen
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fastopen=3
in_ns() { ip netns exec "$ns" "$@"; }

"$bin" key new > "$work/tfo.key"; chmod 600 "$work/tfo.key"
ip netns exec "$ns" "$bin" serve --addr 127.0.0.1:8000 --metrics 127.0.0.1:9100 --key-file "$work/tfo.key" \
  --idle-timeout 5s 2>"$work/serve.log" &
serve=$!; pids+=("$serve")
for _ in $(seq 100); do in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1:9100' 2>/dev/null && break; sleep 0.1; done

# Load: two clients sending back to back (each exchange rides in the SYN
# once the cookie is cached), one sending 4 KiB (beyond the echo's 2048 B:
# reset connections), idle connections that the idle timeout closes.
for _ in 1 2; do
  ip netns exec "$ns" bash -c "while :; do '$bin' send 127.0.0.1:8000 --count 5000 --json >/dev/null 2>&1 || true; done" &
  pids+=($!)
done
head -c 4096 /dev/urandom > "$work/big"
ip netns exec "$ns" bash -c "while :; do '$bin' send 127.0.0.1:8000 --data-file '$work/big' --count 200 >/dev/null 2>&1 || true; done" &
pids+=($!)
ip netns exec "$ns" bash -c "while :; do for i in \$(seq 20); do exec {fd}<>/dev/tcp/127.0.0.1:8000; done; sleep 7; done" 2>/dev/null &
pids+=($!)
bash -c "while :; do '$bin' key new > '$work/k.new' && chmod 600 '$work/k.new' && mv '$work/k.new' '$work/tfo.key'; sleep 3; done" &
pids+=($!)

scrape() { in_ns curl -s --max-time 2 http://127.0.0.1:9100/metrics; }
printf '%8s %10s %6s %11s %12s %10s\n' ELAPSED_S RSS_KIB FDS GOROUTINES CONNECTIONS KEY_LOADS
start=$(date +%s)
while :; do
  now=$(date +%s); el=$((now - start))
  m=$(scrape || true)
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$serve/status)
  fds=$(ls /proc/$serve/fd | wc -l)
  gor=$(awk '/^go_goroutines / {print $2}' <<<"$m")
  conns=$(awk '/^fastopen_server_connections_total/ {s += $2} END {printf "%d", s}' <<<"$m")
  keys=$(awk '/^fastopen_key_loads_total\{result="ok"\}/ {print $2}' <<<"$m")
  printf '%8d %10s %6s %11s %12s %10s\n' "$el" "$rss" "$fds" "$gor" "$conns" "$keys"
  [ "$el" -ge "$duration" ] && break
  sleep "$interval"
done
